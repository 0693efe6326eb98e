//! One file per table: the schema at the top, `generate` below, tests beside it.
//!
//! To add a table, copy the shape of a neighbour, then add it to [`registry`].

pub mod python_environments;
pub mod python_install_findings;
pub mod python_package_provenance;
pub mod python_typosquat_scores;
pub mod python_typosquat_variants;

use std::sync::Arc;

use crate::host::Host;
use crate::table::Table;

/// Every squatch table, for a host. Both adapters (osquery and embedded SQL)
/// serve exactly this list.
pub fn registry(host: Arc<Host>) -> Vec<Arc<dyn Table>> {
    let _ = &host;
    let tables: Vec<Arc<dyn Table>> = vec![
        // registry entries: one line per table, kept in alphabetical order
        Arc::new(python_environments::PythonEnvironments::new(host.clone())),
        Arc::new(python_install_findings::PythonInstallFindings::new(
            host.clone(),
        )),
        Arc::new(python_package_provenance::PythonPackageProvenance::new(
            host.clone(),
        )),
        Arc::new(python_typosquat_scores::PythonTyposquatScores::new(
            host.clone(),
        )),
        Arc::new(python_typosquat_variants::PythonTyposquatVariants::new(
            host.clone(),
        )),
    ];
    tables
}
