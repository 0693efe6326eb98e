//! What `squatch tables`, the shell's `.tables`/`.schema` and the error hints
//! say about a table: its stage, the columns that narrow its scan, an example
//! query and its columns, laid out with widths computed from the names (a
//! column name of any length stays aligned).
//!
//! Everything here is read from the [`Table`] trait, so a new table is
//! described as soon as it is registered; a table may give its own example
//! queries with [`Table::examples`].

use std::fmt::Write as _;
use std::sync::Arc;

use crate::table::{Column, ColumnOptions, ColumnType, Table};

/// An error from describing tables.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// No squatch table has that name; the text says what the name may be
    /// instead (see [`crate::hints::unknown_table`]).
    #[error("{0}")]
    UnknownTable(String),
}

/// True when a query must constrain `column` with `=` or `IN`.
pub fn is_required(column: &Column) -> bool {
    column.options.contains(ColumnOptions::REQUIRED)
}

/// True when constraining `column` narrows the scan (osquery's INDEX or
/// ADDITIONAL option), without being required.
pub fn narrows(column: &Column) -> bool {
    !is_required(column)
        && (column.options.contains(ColumnOptions::INDEX)
            || column.options.contains(ColumnOptions::ADDITIONAL))
}

/// The table of that name, if squatch has one.
pub fn find<'a>(tables: &'a [Arc<dyn Table>], name: &str) -> Option<&'a Arc<dyn Table>> {
    tables.iter().find(|t| t.name().eq_ignore_ascii_case(name))
}

/// Every table, sorted by name.
pub fn sorted(tables: &[Arc<dyn Table>]) -> Vec<&Arc<dyn Table>> {
    let mut v: Vec<&Arc<dyn Table>> = tables.iter().collect();
    v.sort_by_key(|t| t.name());
    v
}

/// A value to put in an example `WHERE column = ...`: a plausible one for the
/// columns squatch's tables share, a placeholder for the rest.
fn sample_value(column: &Column) -> String {
    let text = match column.name {
        "target" => "torch",
        "name" | "normalized_name" | "package" => "requests",
        "environment" | "site_packages" | "path" => "/home/alice/project/.venv",
        "pid" => return "1".into(),
        "uid" | "owner_uid" => return "1000".into(),
        "index" => return "0".into(),
        _ => match column.kind {
            ColumnType::Text => "...",
            _ => return "0".into(),
        },
    };
    format!("'{text}'")
}

/// SQLite's keywords (<https://sqlite.org/lang_keywords.html>): a column of
/// that name (`nvidia_gpus.index`) must be quoted in SQL.
const SQL_KEYWORDS: &[&str] = &[
    "abort",
    "action",
    "add",
    "after",
    "all",
    "alter",
    "always",
    "analyze",
    "and",
    "as",
    "asc",
    "attach",
    "autoincrement",
    "before",
    "begin",
    "between",
    "by",
    "cascade",
    "case",
    "cast",
    "check",
    "collate",
    "column",
    "commit",
    "conflict",
    "constraint",
    "create",
    "cross",
    "current",
    "current_date",
    "current_time",
    "current_timestamp",
    "database",
    "default",
    "deferrable",
    "deferred",
    "delete",
    "desc",
    "detach",
    "distinct",
    "do",
    "drop",
    "each",
    "else",
    "end",
    "escape",
    "except",
    "exclude",
    "exclusive",
    "exists",
    "explain",
    "fail",
    "filter",
    "first",
    "following",
    "for",
    "foreign",
    "from",
    "full",
    "generated",
    "glob",
    "group",
    "groups",
    "having",
    "if",
    "ignore",
    "immediate",
    "in",
    "index",
    "indexed",
    "initially",
    "inner",
    "insert",
    "instead",
    "intersect",
    "into",
    "is",
    "isnull",
    "join",
    "key",
    "last",
    "left",
    "like",
    "limit",
    "match",
    "materialized",
    "natural",
    "no",
    "not",
    "nothing",
    "notnull",
    "null",
    "nulls",
    "of",
    "offset",
    "on",
    "or",
    "order",
    "others",
    "outer",
    "over",
    "partition",
    "plan",
    "pragma",
    "preceding",
    "primary",
    "query",
    "raise",
    "range",
    "recursive",
    "references",
    "regexp",
    "reindex",
    "release",
    "rename",
    "replace",
    "restrict",
    "returning",
    "right",
    "rollback",
    "row",
    "rows",
    "savepoint",
    "select",
    "set",
    "table",
    "temp",
    "temporary",
    "then",
    "ties",
    "to",
    "transaction",
    "trigger",
    "unbounded",
    "union",
    "unique",
    "update",
    "using",
    "vacuum",
    "values",
    "view",
    "virtual",
    "when",
    "where",
    "window",
    "with",
    "without",
];

/// A column name as SQL must spell it: double-quoted when it is a keyword.
pub fn ident(name: &str) -> String {
    if SQL_KEYWORDS.contains(&name.to_ascii_lowercase().as_str()) {
        format!("\"{name}\"")
    } else {
        name.to_string()
    }
}

/// The example queries for a table: its own ([`Table::examples`]) when it
/// gives some, else made from its schema. The first one always runs as
/// written: it gives every required column.
pub fn examples(table: &dyn Table) -> Vec<String> {
    let own = table.examples();
    if !own.is_empty() {
        return own.iter().map(|s| s.to_string()).collect();
    }
    let name = table.name();
    let required: Vec<&Column> = table.columns().iter().filter(|c| is_required(c)).collect();
    if !required.is_empty() {
        let conds: Vec<String> = required
            .iter()
            .map(|c| format!("{} = {}", ident(c.name), sample_value(c)))
            .collect();
        return vec![format!(
            "SELECT * FROM {name} WHERE {};",
            conds.join(" AND ")
        )];
    }
    let mut out = vec![format!("SELECT * FROM {name};")];
    if let Some(c) = table.columns().iter().find(|c| narrows(c)) {
        out.push(format!(
            "SELECT * FROM {name} WHERE {} = {};",
            ident(c.name),
            sample_value(c)
        ));
    }
    out
}

/// The CREATE TABLE statement the engine registers for a table (hidden
/// columns marked HIDDEN), as osqueryi's `.schema` prints it.
pub fn schema_sql(table: &dyn Table) -> String {
    let cols: Vec<String> = table
        .columns()
        .iter()
        .map(|c| {
            let hidden = if c.options.contains(ColumnOptions::HIDDEN) {
                " HIDDEN"
            } else {
                ""
            };
            format!("`{}` {}{hidden}", c.name, c.kind.sql_name())
        })
        .collect();
    format!("CREATE TABLE {}({});", table.name(), cols.join(", "))
}

fn flags(c: &Column) -> String {
    let mut flags = Vec::new();
    if is_required(c) {
        flags.push("required");
    }
    if narrows(c) {
        flags.push("index");
    }
    if c.options.contains(ColumnOptions::HIDDEN) {
        flags.push("hidden");
    }
    flags.join(",")
}

/// The columns of a table, one a line, every field aligned to the widest
/// value of its field.
fn column_lines(table: &dyn Table, indent: &str, header: bool) -> String {
    let mut rows: Vec<[String; 4]> = Vec::new();
    if header {
        rows.push([
            "column".into(),
            "type".into(),
            "flags".into(),
            "description".into(),
        ]);
    }
    for c in table.columns() {
        rows.push([
            c.name.to_string(),
            c.kind.sql_name().to_string(),
            flags(c),
            c.description.to_string(),
        ]);
    }
    let mut widths = [0usize; 3];
    for r in &rows {
        for (w, v) in widths.iter_mut().zip(r.iter()) {
            *w = (*w).max(v.chars().count());
        }
    }
    let mut out = String::new();
    for r in &rows {
        let mut line = indent.to_string();
        for (i, w) in widths.iter().enumerate() {
            let _ = write!(line, "{:<w$}  ", r[i]);
        }
        line.push_str(&r[3]);
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// What narrows a table's scan, in words.
pub fn narrowing_text(table: &dyn Table) -> String {
    let mut parts = Vec::new();
    for c in table.columns() {
        if is_required(c) {
            parts.push(format!(
                "{} (required: every query gives WHERE {} = ... or IN (...))",
                c.name, c.name
            ));
        } else if narrows(c) {
            parts.push(format!(
                "{} (WHERE {} = ... scans only that)",
                c.name, c.name
            ));
        }
    }
    if parts.is_empty() {
        "nothing: every query reads the whole host".to_string()
    } else {
        parts.join("; ")
    }
}

/// `squatch tables NAME`: one table in full.
pub fn describe_one(table: &dyn Table) -> String {
    let labels = ["stage", "one row per", "narrowed by", "example"];
    let width = labels.iter().map(|l| l.len()).max().unwrap_or(0) + 1;
    let mut out = format!("{}\n", table.name());
    let mut field = |label: &str, value: &str| {
        let _ = writeln!(out, "  {:<width$} {value}", format!("{label}:"));
    };
    field("stage", table.stage().name());
    field("one row per", table.description());
    field("narrowed by", &narrowing_text(table));
    for ex in examples(table) {
        field("example", &ex);
    }
    out.push('\n');
    out.push_str(&column_lines(table, "  ", true));
    out
}

/// `squatch tables`: every table with its columns.
pub fn describe_all(tables: &[Arc<dyn Table>]) -> String {
    let mut out = String::new();
    for t in sorted(tables) {
        let _ = writeln!(
            out,
            "{} ({}): {}",
            t.name(),
            t.stage().name(),
            t.description()
        );
        out.push_str(&column_lines(t.as_ref(), "  ", false));
        out.push('\n');
    }
    out
}

/// One table as JSON: name, description, stage, examples and columns with
/// their flags.
pub fn to_json(t: &dyn Table) -> serde_json::Value {
    serde_json::json!({
        "name": t.name(),
        "description": t.description(),
        "stage": t.stage().name(),
        "examples": examples(t),
        "columns": t.columns().iter().map(|c| serde_json::json!({
            "name": c.name,
            "type": c.kind.sql_name(),
            "required": is_required(c),
            "index": c.options.contains(ColumnOptions::INDEX) || c.options.contains(ColumnOptions::ADDITIONAL),
            "hidden": c.options.contains(ColumnOptions::HIDDEN),
            "description": c.description,
        })).collect::<Vec<_>>(),
    })
}

/// `squatch tables [NAME] [--json]`: every table, or the one named (an
/// unknown name is an error that says what the name may be instead). JSON
/// is always an array, of one table when a name is given.
pub fn describe(
    tables: &[Arc<dyn Table>],
    name: Option<&str>,
    json: bool,
) -> Result<String, CatalogError> {
    let chosen: Vec<&Arc<dyn Table>> = match name {
        Some(n) => vec![find(tables, n).ok_or_else(|| {
            let names: Vec<&str> = tables.iter().map(|t| t.name()).collect();
            CatalogError::UnknownTable(crate::hints::unknown_table(n, &names))
        })?],
        None => sorted(tables),
    };
    if json {
        let v: Vec<serde_json::Value> = chosen.iter().map(|t| to_json(t.as_ref())).collect();
        return Ok(serde_json::to_string_pretty(&v).unwrap_or_default() + "\n");
    }
    Ok(match name {
        Some(_) => chosen
            .iter()
            .map(|t| describe_one(t.as_ref()))
            .collect::<String>(),
        None => describe_all(tables),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::{QueryContext, Row, Stage, TableError};

    struct Wide;
    const WIDE: &[Column] = &[
        Column::text("target", "required column").required(),
        Column::text("a_column_name_well_over_twenty_four_chars", "long name").index(),
        Column::integer("n", "short").hidden(),
    ];
    impl Table for Wide {
        fn name(&self) -> &'static str {
            "wide"
        }
        fn description(&self) -> &'static str {
            "a test table"
        }
        fn stage(&self) -> Stage {
            Stage::Limit
        }
        fn columns(&self) -> &'static [Column] {
            WIDE
        }
        fn generate(&self, _: &QueryContext) -> Result<Vec<Row>, TableError> {
            Ok(Vec::new())
        }
    }

    /// The byte offset (in chars) where the description starts on each
    /// column line.
    fn description_starts(text: &str) -> Vec<usize> {
        text.lines()
            .filter_map(|l| {
                ["required column", "long name", "short", "description"]
                    .iter()
                    .find_map(|d| l.find(d).map(|i| l[..i].chars().count()))
            })
            .collect()
    }

    #[test]
    fn long_column_names_stay_aligned() {
        let tables: Vec<Arc<dyn Table>> = vec![Arc::new(Wide)];
        for text in [describe_all(&tables), describe_one(&Wide)] {
            let starts = description_starts(&text);
            assert!(starts.len() >= 3, "{text}");
            assert!(starts.windows(2).all(|w| w[0] == w[1]), "{text}");
        }
    }

    #[test]
    fn one_table_says_stage_constraints_and_an_example() {
        let text = describe_one(&Wide);
        assert!(text.contains("stage:       Limit"), "{text}");
        assert!(text.contains("target (required"), "{text}");
        assert!(text.contains("a_column_name_well_over_twenty_four_chars (WHERE"));
        assert!(text.contains("SELECT * FROM wide WHERE target = 'torch';"));
        assert!(text.contains("required") && text.contains("index") && text.contains("hidden"));
    }

    #[test]
    fn schema_marks_hidden_columns() {
        assert_eq!(
            schema_sql(&Wide),
            "CREATE TABLE wide(`target` TEXT, `a_column_name_well_over_twenty_four_chars` TEXT, `n` INTEGER HIDDEN);"
        );
    }

    #[test]
    fn unknown_name_is_an_error_with_a_hint() {
        let tables: Vec<Arc<dyn Table>> = vec![Arc::new(Wide)];
        let err = describe(&tables, Some("wid"), false).unwrap_err();
        assert!(err.to_string().contains("did you mean wide?"), "{err}");
        let one = describe(&tables, Some("WIDE"), true).unwrap();
        let v: serde_json::Value = serde_json::from_str(&one).unwrap();
        assert_eq!(v.as_array().unwrap().len(), 1);
        assert_eq!(
            v[0]["examples"][0],
            "SELECT * FROM wide WHERE target = 'torch';"
        );
    }
}
