//! Install-time, import-time and start-up behaviour of Python packages: what
//! a malicious package *does* (read credentials, send them out, download and
//! run code, hide behind exec/base64, persist, tamper with the NVIDIA driver,
//! mine).
//!
//! The scanner is pure: it takes bytes (a file of the host, a member of an
//! sdist or wheel read in memory) and a [`Role`] saying where that code runs,
//! and returns [`Finding`]s. Rules are data ([`rules::BUILTIN_RULES`], the
//! embedded `rules.toml`) compiled into one Aho-Corasick automaton: one pass
//! per file finds candidate lines, rule logic runs on those lines only.
//!
//! - [`scan`]: one file's text to findings (rules, detectors, co-occurrence).
//! - [`literals`]: the literal pass of a scan (the DFA walked four stretches
//!   at a time).
//! - [`pth`]: `.pth` start-up files and their known-benign shapes.
//! - [`archive`]: sdists and wheels (`.tar.gz`, `.zip`, `.whl`) in memory,
//!   with limits against zip bombs and path traversal.
//! - [`target`]: the on-demand mode (`WHERE path = ...`): a file, a source
//!   tree or an archive.
//! - [`site`]: every environment of a host: site-level `.pth`,
//!   sitecustomize, the code of every installed distribution, unrecorded
//!   files, shadowing console scripts and import names.
//! - [`site_view`]: what that scan reads of a site's distributions, lightly
//!   (METADATA only for a row).
//! - [`manifest`]: console scripts and `cmdclass` declared in `setup.cfg`,
//!   `pyproject.toml`, `setup.py` literals and a wheel's `entry_points.txt`.
//! - [`redact`]: evidence excerpts with secret values removed.
//! - [`lex`]: code versus prose (comments, docstrings, messages), scopes.

pub mod archive;
pub mod lex;
pub mod literals;
pub mod manifest;
pub mod pth;
pub mod redact;
pub mod rules;
pub mod scan;
pub mod site;
pub mod site_view;
pub mod target;

use std::path::PathBuf;

pub use rules::RuleSet;
pub use scan::{scan_source, scan_source_with_floor, FileScan};

/// How bad a finding is. Ordered: `Info < Low < Medium < High < Critical`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub enum Severity {
    /// Context only (what runs where).
    Info,
    /// Common in benign code; worth a look only with other signals.
    Low,
    /// Suspicious on its own.
    Medium,
    /// Malicious-looking; investigate.
    High,
    /// Credential theft, download-and-run, persistence: treat as compromise.
    Critical,
}

impl Severity {
    /// The word used in rows and in `rules.toml`.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    /// Parses a severity word.
    pub fn parse(s: &str) -> Option<Severity> {
        Some(match s {
            "info" => Severity::Info,
            "low" => Severity::Low,
            "medium" => Severity::Medium,
            "high" => Severity::High,
            "critical" => Severity::Critical,
            _ => return None,
        })
    }

    fn level(self) -> i32 {
        self as i32
    }

    /// The severity moved by `delta` levels, clamped to the scale.
    pub fn shift(self, delta: i32) -> Severity {
        match (self.level() + delta).clamp(0, 4) {
            0 => Severity::Info,
            1 => Severity::Low,
            2 => Severity::Medium,
            3 => Severity::High,
            _ => Severity::Critical,
        }
    }
}

/// What kind of behaviour a rule finds (the `category` column).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub enum Category {
    /// Reads credentials (env vars, credential files, browser stores).
    CredentialAccess,
    /// Sends data out (HTTP, sockets, DNS, webhooks).
    Exfiltration,
    /// Fetches code or binaries and runs them.
    DownloadExecute,
    /// Hides what it does (decode into exec, packers, blobs).
    Obfuscation,
    /// Spawns processes or shells.
    Process,
    /// Makes itself run again later (.pth, preload, cron, rc files).
    Persistence,
    /// Touches the NVIDIA driver's loading path or CUDA injection.
    GpuTampering,
    /// Cryptocurrency mining.
    CryptoMining,
    /// Code that runs at install time (cmdclass, in-tree build backend).
    InstallHook,
    /// Code that runs at interpreter start (`.pth`, sitecustomize).
    Startup,
    /// Installed files that their RECORD does not account for.
    Tampering,
    /// Console scripts or import names that take over someone else's.
    Shadowing,
    /// An archive that is malformed, a bomb, or escapes its root.
    Archive,
}

impl Category {
    /// The word used in rows and in `rules.toml`.
    pub fn as_str(self) -> &'static str {
        match self {
            Category::CredentialAccess => "credential_access",
            Category::Exfiltration => "exfiltration",
            Category::DownloadExecute => "download_execute",
            Category::Obfuscation => "obfuscation",
            Category::Process => "process",
            Category::Persistence => "persistence",
            Category::GpuTampering => "gpu_tampering",
            Category::CryptoMining => "crypto_mining",
            Category::InstallHook => "install_hook",
            Category::Startup => "startup",
            Category::Tampering => "tampering",
            Category::Shadowing => "shadowing",
            Category::Archive => "archive",
        }
    }

    /// Parses a category word.
    pub fn parse(s: &str) -> Option<Category> {
        Some(match s {
            "credential_access" => Category::CredentialAccess,
            "exfiltration" => Category::Exfiltration,
            "download_execute" => Category::DownloadExecute,
            "obfuscation" => Category::Obfuscation,
            "process" => Category::Process,
            "persistence" => Category::Persistence,
            "gpu_tampering" => Category::GpuTampering,
            "crypto_mining" => Category::CryptoMining,
            "install_hook" => Category::InstallHook,
            "startup" => Category::Startup,
            "tampering" => Category::Tampering,
            "shadowing" => Category::Shadowing,
            "archive" => Category::Archive,
            _ => return None,
        })
    }
}

/// Where a file's code runs, which decides how much a hit in it weighs.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub enum Role {
    /// `setup.py`: runs on `pip install` of an sdist.
    Install,
    /// A site-level `.pth` or sitecustomize/usercustomize: runs on every
    /// interpreter start.
    Startup,
    /// `__init__.py` / `__main__.py`: runs on import or `python -m`.
    Import,
    /// The module a console-script entry point runs.
    Entry,
    /// Build configuration (`pyproject.toml`, `setup.cfg`).
    Config,
    /// Any other module of a package.
    Module,
    /// Tests, docs, examples, vendored code: rarely run by an install.
    Peripheral,
}

impl Role {
    /// The word used in rows.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Install => "install",
            Role::Startup => "startup",
            Role::Import => "import",
            Role::Entry => "entry_point",
            Role::Config => "config",
            Role::Module => "module",
            Role::Peripheral => "peripheral",
        }
    }

    /// Parses a role word (as used in `rules.toml`).
    pub fn parse(s: &str) -> Option<Role> {
        Some(match s {
            "install" => Role::Install,
            "startup" => Role::Startup,
            "import" => Role::Import,
            "entry_point" => Role::Entry,
            "config" => Role::Config,
            "module" => Role::Module,
            "peripheral" => Role::Peripheral,
            _ => return None,
        })
    }

    /// How many severity levels a hit moves in a file of this role: code
    /// that runs at install/import/start counts fully, other modules one
    /// level less, tests/docs/vendored code two less. Co-occurrence hits in
    /// a *short* plain module count fully (a payload often sits in a small
    /// helper module; a 3,000-line SDK module that reads a token and makes
    /// requests is an SDK).
    pub fn severity_delta(self, combo: bool, short_file: bool) -> i32 {
        match self {
            Role::Install | Role::Startup | Role::Import | Role::Entry | Role::Config => 0,
            Role::Module if combo && short_file => 0,
            Role::Module => -1,
            Role::Peripheral => -2,
        }
    }

    /// The lowest severity worth a row in a file of this role: full roles
    /// report from `low`, other code from `medium` (a `requests.get` in a
    /// library module is not news).
    pub fn report_floor(self) -> Severity {
        match self {
            Role::Module | Role::Peripheral => Severity::Medium,
            _ => Severity::Low,
        }
    }

    /// The role of a file from its path inside a package, sdist or tree
    /// (`/`-separated, relative). `sdist_root` says whether the first
    /// component is the sdist's `name-version/` directory.
    pub fn for_relative_path(rel: &str) -> Role {
        let lower = rel.to_ascii_lowercase();
        let parts: Vec<&str> = lower.split('/').filter(|p| !p.is_empty()).collect();
        let Some(file) = parts.last() else {
            return Role::Module;
        };
        if *file == "setup.py" && parts.len() == 1 {
            return Role::Install;
        }
        if file.ends_with(".pth") || *file == "sitecustomize.py" || *file == "usercustomize.py" {
            return Role::Startup;
        }
        if *file == "pyproject.toml" || *file == "setup.cfg" {
            return Role::Config;
        }
        let peripheral = parts[..parts.len() - 1].iter().any(|d| {
            matches!(
                *d,
                "test"
                    | "tests"
                    | "testing"
                    | "docs"
                    | "doc"
                    | "examples"
                    | "example"
                    | "benchmarks"
                    | "bench"
                    | "_vendor"
                    | "vendor"
                    | "vendored"
                    | "_vendored"
                    | "third_party"
                    | "third-party"
                    | "thirdparty"
                    | "3rdparty"
                    | "extern"
                    | "_distutils"
                    | "samples"
                    | "scripts"
                    // Release tooling and build helpers outside the
                    // importable package.
                    | "tools"
                    | "build_helpers"
                    | "resources"
                    | ".github"
                    | "ci"
            )
        }) || file.starts_with("test_")
            || file.starts_with("bench_")
            || (parts.len() == 1 && file.starts_with("release") && file.ends_with(".py"))
            || file.ends_with("_test.py")
            || *file == "conftest.py";
        if peripheral {
            return Role::Peripheral;
        }
        if *file == "__init__.py" || *file == "__main__.py" {
            return Role::Import;
        }
        Role::Module
    }
}

/// One rule hit in one file.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Finding {
    /// Rule id (`cred-env-token`, `combo-credential-exfiltration`, ...).
    pub rule_id: String,
    /// Behaviour category.
    pub category: Category,
    /// Severity after weighing where the code runs.
    pub severity: Severity,
    /// 1-based line number, when the hit is on a line.
    pub line: Option<u64>,
    /// Short excerpt, secrets redacted.
    pub evidence: String,
    /// One line: the rule's rationale.
    pub description: String,
    /// Where the file's code runs.
    pub role: Role,
}

/// A finding tied to a file: what a table row is made of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located {
    /// Host path of the file, or of the archive/tree given as `path`.
    pub path: PathBuf,
    /// Member path inside an archive or tree (empty for a plain file).
    pub member: String,
    /// Environment (host path) the file belongs to, if any.
    pub environment: Option<PathBuf>,
    /// Distribution that owns the file (by RECORD) or ships it.
    pub package: Option<String>,
    /// SHA-256 of the file (or member) bytes, lowercase hex.
    pub file_sha256: Option<String>,
    /// The hit.
    pub finding: Finding,
}

/// Errors of the findings module.
#[derive(Debug, thiserror::Error)]
pub enum FindingsError {
    /// The rules file is invalid.
    #[error("invalid rules: {0}")]
    Rules(String),
    /// Reading from the host failed.
    #[error(transparent)]
    Host(#[from] crate::host::HostError),
    /// An archive could not be read, or broke a limit.
    #[error("{path}: {reason}")]
    Archive {
        /// Host path of the archive.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
}

/// Lowercase hex SHA-256 of bytes.
pub fn sha256_hex(bytes: &[u8]) -> String {
    crate::hex::encode(&sha256(bytes))
}

/// SHA-256 of `bytes` (raw).
pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    Sha256::digest(bytes).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_hex_is_the_digest_in_lowercase_hex() {
        let d = sha256(b"print(1)\n");
        let hex = sha256_hex(b"print(1)\n");
        assert_eq!(hex.len(), 64);
        assert!(crate::hex::is_encoding_of(&d, &hex));
        // sha256sum's answer for the same bytes.
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn roles_from_paths() {
        assert_eq!(Role::for_relative_path("setup.py"), Role::Install);
        assert_eq!(Role::for_relative_path("pkg/setup.py"), Role::Module);
        assert_eq!(Role::for_relative_path("pkg/__init__.py"), Role::Import);
        assert_eq!(
            Role::for_relative_path("pkg/tests/__init__.py"),
            Role::Peripheral
        );
        assert_eq!(
            Role::for_relative_path("pkg/_vendor/x.py"),
            Role::Peripheral
        );
        assert_eq!(Role::for_relative_path("evil_init.pth"), Role::Startup);
        assert_eq!(Role::for_relative_path("pyproject.toml"), Role::Config);
        assert_eq!(Role::for_relative_path("pkg/core.py"), Role::Module);
        assert_eq!(Role::for_relative_path("tools/upload.py"), Role::Peripheral);
        assert_eq!(
            Role::for_relative_path("build_helpers/fetch.py"),
            Role::Peripheral
        );
        assert_eq!(
            Role::for_relative_path("release_tools.py"),
            Role::Peripheral
        );
        assert_eq!(Role::for_relative_path("pkg/releases.py"), Role::Module);
    }

    #[test]
    fn severity_shift_clamps() {
        assert_eq!(Severity::High.shift(-1), Severity::Medium);
        assert_eq!(Severity::Info.shift(-2), Severity::Info);
        assert_eq!(Severity::Critical.shift(3), Severity::Critical);
        assert!(Severity::Low < Severity::Medium);
    }
}
