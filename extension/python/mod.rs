//! The Python scanner: environments, installed distributions, and whether
//! their files are still what was installed.
//!
//! Pure and osquery-free: everything is read through [`Host`](crate::host::Host)
//! and returned as plain data; `tables/python_*.rs` turn it into rows.
//!
//! - [`environment`]: finding environments (system, venv, conda, user site,
//!   pipx, uv tool, pyenv, poetry, pipenv, virtualenvwrapper);
//! - [`distribution`]: `.dist-info`/`.egg-info` at the top level of a site dir;
//! - [`metadata`]: core metadata (RFC 822 headers);
//! - [`direct_url`]: PEP 610 `direct_url.json`, credentials stripped;
//! - [`record`]: RECORD / `installed-files.txt`;
//! - [`verify`]: hashing the recorded files (RECORD or dpkg md5sums).

pub mod direct_url;
pub mod distribution;
pub mod environment;
pub mod metadata;
pub mod name;
pub mod record;
pub mod verify;

pub use direct_url::{strip_credentials, DirectUrl, SourceKind};
pub use distribution::{
    distributions, distributions_cached, distributions_core, distributions_seen,
    distributions_shared, entry_points, top_level_names, DistFormat, Distribution,
    DistributionCache,
};
pub use environment::{
    discover_environments, discover_environments_report, discover_environments_with,
    environment_at, CoverageGap, Discovery, DiscoveryOptions, Environment, EnvironmentKind,
};
pub use metadata::Metadata;
pub use name::normalize_name;
pub use record::{record_entries, RecordEntry};
pub use verify::{sha256_hex, RecordReference, RecordStatus, Verification, Verifier};
