//! Where a host exposes secrets: process environments and credential files,
//! with a keyed fingerprint of each secret in place of its value.
//!
//! - [`environ`]: `<root>/proc/<pid>/environ` (names and uids from `status`);
//! - [`files`]: which credential files to look at (homes from
//!   `<root>/etc/passwd` and `/root`, CI runners, `.env` beside Python
//!   environments) and who else can read them; [`formats`] parses each kind;
//! - [`detectors`]: the rules, as data (`detectors.toml`);
//! - [`fingerprint`]: the HMAC key and fingerprints;
//! - [`lifetime`]: long-lived, temporary or unknown, and expiry times;
//! - [`url`]: the one URL redactor every table uses.
//!
//! No secret value leaves this module: an [`Exposure`] holds what a row
//! shows (a fingerprint, an AWS key *id*), and every buffer that held a value
//! is overwritten with zeros once matched ([`wipe`]).

pub mod detectors;
pub mod environ;
pub mod files;
pub mod fingerprint;
pub mod formats;
pub mod lifetime;
pub mod url;

use std::path::PathBuf;

use crate::host::Host;

pub use detectors::Detectors;
pub use fingerprint::{FingerprintKey, KeyScope};
pub use lifetime::Lifetime;
pub use url::redact_url;

/// Where a secret was found (the `source` column).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// A process's environment.
    ProcessEnv,
    /// A file.
    File,
}

impl Source {
    /// The column's word.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::ProcessEnv => "process_env",
            Source::File => "file",
        }
    }
}

/// One secret found, or one place that could not be examined (`status` not
/// `ok`, no `secret_kind`). Holds no secret value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exposure {
    /// Process environment or file.
    pub source: Source,
    /// The process, for environment rows (and files a process's environment
    /// pointed to).
    pub pid: Option<u32>,
    /// The process's name (`/proc/<pid>/status` `Name`, else `comm`).
    pub process_name: Option<String>,
    /// The process's real uid, or the file's owner.
    pub uid: Option<u32>,
    /// `/proc/<pid>/environ` or the credential file (host path text).
    pub path: Option<String>,
    /// The variable, or where in the file (`[default] aws_secret_access_key`).
    pub variable: Option<String>,
    /// What the secret is (`aws_secret_access_key`, `huggingface_token`, ...).
    pub secret_kind: Option<String>,
    /// How long it stays usable.
    pub lifetime: Lifetime,
    /// HMAC-SHA256 of the value under the fingerprint key, 16 hex.
    pub fingerprint: Option<String>,
    /// File mode bits.
    pub mode: Option<u32>,
    /// Group or others can read the file.
    pub readable_by_others: Option<bool>,
    /// The process's command line with secret-looking arguments redacted.
    pub cmdline: Option<String>,
    /// When the credential expires (Unix seconds), where the format says.
    pub expires: Option<i64>,
    /// The AWS access key id (an identifier, not a secret).
    pub key_id: Option<String>,
    /// The rule that matched.
    pub detector: Option<String>,
    /// Anything else a responder needs (`credential_process`, a truncation).
    pub note: Option<String>,
    /// `ok`, or why the source could not be read.
    pub status: String,
}

impl Exposure {
    /// An empty exposure of a source, status `ok`.
    pub fn new(source: Source) -> Self {
        Exposure {
            source,
            pid: None,
            process_name: None,
            uid: None,
            path: None,
            variable: None,
            secret_kind: None,
            lifetime: Lifetime::Unknown,
            fingerprint: None,
            mode: None,
            readable_by_others: None,
            cmdline: None,
            expires: None,
            key_id: None,
            detector: None,
            note: None,
            status: "ok".to_string(),
        }
    }
}

/// What to scan.
#[derive(Debug, Clone, Default)]
pub struct Request {
    /// Only these processes (`WHERE pid = ...`).
    pub pids: Option<Vec<u32>>,
    /// Only these paths (`WHERE path = ...`), as given.
    pub paths: Option<Vec<String>>,
    /// Fill `cmdline` (costs a read per process with a finding).
    pub want_cmdline: bool,
    /// Only process environments (`WHERE source = 'process_env'`): the
    /// credential file walk is skipped.
    pub env_only: bool,
}

/// Everything one scan found.
#[derive(Debug, Default)]
pub struct Report {
    /// One per secret, plus status rows.
    pub exposures: Vec<Exposure>,
    /// Processes looked at.
    pub processes_scanned: usize,
    /// Files looked at.
    pub files_scanned: usize,
}

/// Scans a host: every process and credential file, or only the pids and
/// paths asked for.
pub fn scan(host: &Host, det: &Detectors, key: &FingerprintKey, req: &Request) -> Report {
    let mut report = Report::default();
    let mut followed: Vec<environ::Followed> = Vec::new();
    if req.pids.is_none() && req.paths.is_none() {
        let procs = environ::scan_all(host, det, key, req.want_cmdline);
        report.processes_scanned = procs.scanned;
        report.exposures.extend(procs.exposures);
        followed.extend(procs.followed);
        if req.env_only {
            return report;
        }
        let mut targets = files::discover(host, &followed);
        targets.sort_by(|a, b| a.path.cmp(&b.path));
        targets.dedup_by(|a, b| a.path == b.path);
        for t in &targets {
            report.files_scanned += 1;
            report.exposures.extend(files::scan_file(
                host,
                det,
                key,
                t,
                t.path.to_string_lossy().as_ref(),
            ));
        }
        return report;
    }
    for pid in req.pids.iter().flatten() {
        let r = environ::scan_one(host, det, key, *pid, req.want_cmdline, None);
        report.processes_scanned += 1;
        report.exposures.extend(r.exposures);
        for f in r.followed {
            if let environ::FollowKind::Credentials = f.kind {
                let t = files::Target::followed(&f);
                report.files_scanned += 1;
                report.exposures.extend(files::scan_file(
                    host,
                    det,
                    key,
                    &t,
                    t.path.to_string_lossy().as_ref(),
                ));
            }
        }
    }
    for p in req.paths.iter().flatten() {
        if let Some(pid) = environ::pid_of_environ_path(p) {
            let r = environ::scan_one(host, det, key, pid, req.want_cmdline, Some(p));
            report.processes_scanned += 1;
            report.exposures.extend(r.exposures);
            continue;
        }
        let t = files::Target::named(PathBuf::from(p));
        report.files_scanned += 1;
        report
            .exposures
            .extend(files::scan_file(host, det, key, &t, p));
    }
    report
}

/// Overwrites a buffer that held secret values with zeros before it is
/// dropped, so values do not linger in freed memory past matching.
pub fn wipe(buf: &mut [u8]) {
    buf.fill(0);
    std::hint::black_box(&buf);
}
