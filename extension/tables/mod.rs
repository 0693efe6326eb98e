//! One file per table: the schema at the top, `generate` below, tests beside it.
//!
//! To add a table, copy the shape of a neighbour, then add it to [`registry`].

pub mod gpu_driver_config;
pub mod nvidia_gpu_processes;
pub mod nvidia_gpus;
pub mod python_environments;
pub mod python_install_findings;
pub mod python_package_indexes;
pub mod python_package_provenance;
pub mod python_requirements;
pub mod python_typosquat_scores;
pub mod python_typosquat_variants;
pub mod secret_exposure;

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
    // One listing of each site directory's distributions, shared by every
    // table that reads them, so a query joining them parses METADATA once.
    let dists = Arc::new(DistributionCache::new());
    // One NVML for both GPU tables, so a join initialises it once.
    let nvml = Arc::new(nvidia_gpus::NvmlReader::new(
        host.clone(),
        settings.nvml_lib.clone(),
    ));
    // Scans and digests kept between processes, unless --no-cache.
    let persist = settings
        .persistent_cache
        .then(|| crate::persist::open_shared(&settings.state_dir, host.root()))
        .flatten();
    vec![
        // one line per table, kept in alphabetical order
        Arc::new(gpu_driver_config::GpuDriverConfig::new(host.clone())),
        Arc::new(nvidia_gpu_processes::NvidiaGpuProcesses::new(
            host.clone(),
            nvml.clone(),
        )),
        Arc::new(nvidia_gpus::NvidiaGpus::new(nvml)),
        Arc::new(python_environments::PythonEnvironments::with_cache(
            host.clone(),
            dists.clone(),
        )),
        Arc::new(
            python_install_findings::PythonInstallFindings::new(host.clone())
                .with_persistent_cache(persist.clone())
                .with_distribution_cache(dists.clone())
                .with_scan_threads(settings.scan_threads),
        ),
        Arc::new(python_package_indexes::PythonPackageIndexes::new(
            host.clone(),
        )),
        Arc::new(
            python_package_provenance::PythonPackageProvenance::with_cache(
                host.clone(),
                dists.clone(),
            )
            .with_persistent_cache(persist),
        ),
        Arc::new(python_requirements::PythonRequirements::with_cache(
            host.clone(),
            dists.clone(),
        )),
        Arc::new(python_typosquat_scores::PythonTyposquatScores::with_cache(
            host.clone(),
            dists.clone(),
        )),
        Arc::new(
            python_typosquat_variants::PythonTyposquatVariants::with_cache(host.clone(), dists),
        ),
        Arc::new(secret_exposure::SecretExposure::new(host, settings)),
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
