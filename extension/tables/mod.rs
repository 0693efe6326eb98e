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
use crate::python::DistributionCache;
use crate::settings::Settings;
use crate::table::Table;

/// Every squatch table, for a host, with default [`Settings`].
pub fn registry(host: Arc<Host>) -> Vec<Arc<dyn Table>> {
    registry_with(host, &Settings::default())
}

/// Every squatch table, for a host and the process's settings. Both adapters
/// (osquery and embedded SQL) serve exactly this list.
pub fn registry_with(host: Arc<Host>, settings: &Settings) -> Vec<Arc<dyn Table>> {
    let _ = settings; // read by the tables that keep state or load libraries
                      // One listing of each site directory's distributions, shared by every
                      // table that reads them, so a query joining them parses METADATA once.
    let dists = Arc::new(DistributionCache::new());
    // Scans and digests kept between processes, unless --no-cache.
    let persist = settings
        .persistent_cache
        .then(|| crate::persist::open_shared(&settings.state_dir, host.root()))
        .flatten();
    vec![
        // one line per table, kept in alphabetical order
        Arc::new(python_environments::PythonEnvironments::with_cache(
            host.clone(),
            dists.clone(),
        )),
        Arc::new(
            python_install_findings::PythonInstallFindings::new(host.clone())
                .with_persistent_cache(persist.clone()),
        ),
        Arc::new(
            python_package_provenance::PythonPackageProvenance::with_cache(
                host.clone(),
                dists.clone(),
            )
            .with_persistent_cache(persist),
        ),
        Arc::new(python_typosquat_scores::PythonTyposquatScores::with_cache(
            host.clone(),
            dists.clone(),
        )),
        Arc::new(python_typosquat_variants::PythonTyposquatVariants::with_cache(host, dists)),
    ]
}

/// Several host paths in one column, `:`-separated like `PATH`.
pub(crate) fn join_paths(paths: &[std::path::PathBuf]) -> String {
    paths
        .iter()
        .map(|p| crate::host::path_to_column(p))
        .collect::<Vec<_>>()
        .join(":")
}
