//! The NVIDIA driver's loading path and the GPUs themselves.
//!
//! Two scanners, no osquery or SQLite types:
//! - [`scan::scan_driver_config`]: every file on the driver's loading path
//!   (dynamic linker, modprobe, Vulkan/EGL/OpenCL manifests, container
//!   toolkit, OCI hooks and CDI specs, udev rules and systemd units,
//!   environment files, kernel modules, GSP firmware, driver libraries), what
//!   package owns it and whether it still matches, and the rule hits
//!   ([`rules`], data in `rules.toml`) that say where an edit makes the driver
//!   load something of an attacker's;
//! - [`nvml`]: the GPUs and their processes through NVML, loaded only from an
//!   absolute path in the system library directories.

pub mod digest;
pub mod envfiles;
pub mod icd;
pub mod inventory;
pub mod ldso;
pub mod modprobe;
pub mod nvml;
pub mod packages;
pub mod procinfo;
pub mod rpm;
pub mod rules;
pub mod scan;
pub mod toolkit;
pub mod units;

use std::path::PathBuf;

pub use inventory::Category;
pub use scan::{scan_driver_config, ConfigEntry, ScanCaches, ScanOptions};

/// Largest configuration file the checks read (manifests, units, configs).
pub const CONFIG_READ_CAP: u64 = 1024 * 1024;

/// An error of the gpu scanners.
#[derive(Debug, thiserror::Error)]
pub enum GpuError {
    /// The rule file is malformed.
    #[error("gpu rules: {0}")]
    Rules(String),
    /// A file could not be read.
    #[error(transparent)]
    Host(#[from] crate::host::HostError),
    /// NVML could not be loaded or queried.
    #[error("NVML: {0}")]
    Nvml(String),
    /// The rpm database could not be read.
    #[error("{path}: rpm database: {message}")]
    Rpm {
        /// Host path of the database.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
}

/// One rule hit in one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    /// The rule's id in `rules.toml`.
    pub rule_id: &'static str,
    /// 1-based line of the file, where the hit is on one line.
    pub line: Option<usize>,
    /// What was found, in words (a path, a command, a variable name; never
    /// a value that could be a secret).
    pub detail: String,
}

impl Hit {
    /// A hit on a line.
    pub fn at(rule_id: &'static str, line: usize, detail: impl Into<String>) -> Hit {
        Hit {
            rule_id,
            line: Some(line),
            detail: detail.into(),
        }
    }

    /// A hit on the whole file.
    pub fn file(rule_id: &'static str, detail: impl Into<String>) -> Hit {
        Hit {
            rule_id,
            line: None,
            detail: detail.into(),
        }
    }
}

/// Shortens untrusted text for a `finding` column: one line, at most 160
/// characters.
pub(crate) fn clip(text: &str) -> String {
    let one: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let one = one.trim();
    if one.chars().count() > 160 {
        let mut s: String = one.chars().take(157).collect();
        s.push_str("...");
        s
    } else {
        one.to_string()
    }
}
