//! osquery adapter: every [`Table`] served to osqueryd/osqueryi as an
//! extension table plugin.
//!
//! The table-plugin side (column routes, the `columns`/`generate` actions)
//! is osquery-rust-ng's: each squatch table is wrapped as its
//! [`ReadOnlyTable`] and dispatched through its [`Plugin`]. The lifecycle
//! around it is ours ([`server`]), because osquery-rust-ng 2.0's `Server`
//! cannot: wait for a socket that appears late, register with our own
//! version, notice a refused registration, or carry an error message in
//! the response status (it puts it in a row, where osquery ignores it).
//!
//! [`ReadOnlyTable`]: osquery_rust_ng::plugin::ReadOnlyTable
//! [`Plugin`]: osquery_rust_ng::plugin::Plugin

#[allow(missing_docs, clippy::all, clippy::pedantic, unused_qualifications)]
#[rustfmt::skip]
pub mod extension_api;
pub mod server;

use std::collections::BTreeMap;
use std::sync::Arc;

use osquery_rust_ng::plugin::{ColumnDef, ColumnOptions, ColumnType as OqType, ReadOnlyTable};
use osquery_rust_ng::{ExtensionPluginRequest, ExtensionResponse, ExtensionStatus};

use crate::table::{check_required, ColumnType, QueryContext, Table};

/// One squatch table as an osquery-rust-ng read-only table.
pub struct TableAdapter {
    table: Arc<dyn Table>,
}

impl TableAdapter {
    /// Wraps a table.
    pub fn new(table: Arc<dyn Table>) -> Self {
        TableAdapter { table }
    }

    /// Runs the table for an osquery `generate` request and returns the rows
    /// or an error message meant for `status.message`.
    pub fn run(
        &self,
        request: &BTreeMap<String, String>,
    ) -> Result<Vec<BTreeMap<String, String>>, String> {
        let ctx_json = request.get("context").map(String::as_str).unwrap_or("");
        let ctx = QueryContext::from_osquery_json(ctx_json)
            .map_err(|e| format!("table {}: {e}", self.table.name()))?;
        check_required(self.table.as_ref(), &ctx).map_err(|e| e.to_string())?;
        crate::cache::trim_heap();
        let rows = self
            .table
            .generate(&ctx)
            .map_err(|e| format!("{}: {e}", self.table.name()))?;
        let columns = self.table.columns();
        Ok(rows
            .into_iter()
            .map(|row| {
                // osquery expects every column; a missing one is "". Each
                // row is dropped as soon as it is copied: a large answer is
                // held about once.
                columns
                    .iter()
                    .map(|c| {
                        (
                            c.name.to_string(),
                            row.get(c.name).unwrap_or("").to_string(),
                        )
                    })
                    .collect()
            })
            .collect())
    }
}

impl ReadOnlyTable for TableAdapter {
    fn name(&self) -> String {
        self.table.name().to_string()
    }

    fn columns(&self) -> Vec<ColumnDef> {
        self.table
            .columns()
            .iter()
            .map(|c| {
                let kind = match c.kind {
                    ColumnType::Text => OqType::Text,
                    ColumnType::Integer => OqType::Integer,
                    ColumnType::BigInt => OqType::BigInt,
                    ColumnType::Double => OqType::Double,
                };
                ColumnDef::new(c.name, kind, ColumnOptions::from_bits_truncate(c.options.0))
            })
            .collect()
    }

    fn generate(&self, req: ExtensionPluginRequest) -> ExtensionResponse {
        match self.run(&req) {
            Ok(rows) => {
                ExtensionResponse::new(ExtensionStatus::new(0, Some("OK".to_string()), None), rows)
            }
            Err(message) => {
                log::warn!("{message}");
                ExtensionResponse::new(ExtensionStatus::new(1, Some(message), None), Vec::new())
            }
        }
    }

    fn shutdown(&self) {
        log::debug!("table {} shutting down", self.table.name());
    }
}
