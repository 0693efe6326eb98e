//! Settings that reach the tables from the command line: where squatch keeps
//! its own state, which fingerprint key to use, where NVML lives.
//!
//! The examined root (`--root`) is evidence and never written to; everything
//! squatch keeps lives under [`Settings::state_dir`].

use std::path::PathBuf;

/// The default state directory on a real host.
pub const DEFAULT_STATE_DIR: &str = "/var/lib/squatch";

/// Options shared by every table of one process.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Where squatch keeps what it must remember between runs (the
    /// fingerprint key, caches): `--state-dir`, default `/var/lib/squatch`.
    /// A real path of the machine squatch runs on, never inside `--root`.
    pub state_dir: PathBuf,
    /// A fingerprint key file that a fleet manager distributes
    /// (`--fingerprint-key`), so that one secret has one fingerprint on every
    /// host. `None`: a per-host key under `state_dir`.
    pub fingerprint_key: Option<PathBuf>,
    /// An NVML library to load instead of the one in the system library
    /// directories (`--nvml-lib`, `SQUATCH_NVML_LIB`); for tests and odd
    /// driver layouts.
    pub nvml_lib: Option<PathBuf>,
    /// Keep file scans and digests between processes under
    /// `<state_dir>/cache/` (see [`crate::persist`]). On in the command line
    /// unless `--no-cache`; off by default in the library.
    pub persistent_cache: bool,
    /// Most threads `python_install_findings` uses to scan site directories
    /// at once (`--scan-threads`). `None`: the CPUs, at most
    /// [`crate::findings::target::MAX_SCAN_THREADS`]. Extension mode passes
    /// 1 unless told otherwise: a scheduled query on a fleet host should not
    /// take every core, and osquery's watchdog counts the extension's CPU
    /// share, not its total.
    pub scan_threads: Option<usize>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            state_dir: PathBuf::from(DEFAULT_STATE_DIR),
            fingerprint_key: None,
            nvml_lib: None,
            persistent_cache: false,
            scan_threads: None,
        }
    }
}
