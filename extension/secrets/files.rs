//! Credential files: which to look at, and who besides their owner can read
//! them.
//!
//! In every home from `<root>/etc/passwd` (and `/root`, and `/home/*`): AWS
//! credentials, config, SSO and CLI caches; Hugging Face tokens (and
//! `$HF_HOME`/`$HF_TOKEN_PATH`/`$XDG_CACHE_HOME` named by any process's
//! environment); `.netrc`; Kaggle; gcloud credentials; Docker `auths`;
//! `.pypirc`; `.git-credentials`; `gh`'s `hosts.yml`; GitHub Actions and
//! GitLab runner credentials. `.env` files beside the Python environments
//! found on the host. Files named by `GOOGLE_APPLICATION_CREDENTIALS`.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::detectors::Detectors;
use super::environ::{match_dotenv, FollowKind, Followed};
use super::fingerprint::FingerprintKey;
use super::formats::{parse, FileKind, FileSecret};
use super::{wipe, Exposure, Source};
use crate::host::Host;

/// Largest credential file read.
pub const FILE_CAP: u64 = 1024 * 1024;

/// Files below each home, relative to it.
const HOME_FILES: &[&str] = &[
    ".aws/credentials",
    ".aws/config",
    ".cache/huggingface/token",
    ".cache/huggingface/stored_tokens",
    ".huggingface/token",
    ".netrc",
    ".kaggle/kaggle.json",
    ".kaggle/access_token",
    ".config/gcloud/application_default_credentials.json",
    ".docker/config.json",
    ".pypirc",
    ".git-credentials",
    ".config/git/credentials",
    ".config/gh/hosts.yml",
    ".gitlab-runner/config.toml",
    "actions-runner/.credentials",
    "actions-runner/.credentials_rsaparams",
    ".env",
];

/// Directories below each home whose `*.json` files are credentials.
const HOME_JSON_DIRS: &[&str] = &[".aws/sso/cache", ".aws/cli/cache"];

/// System-wide runner credentials.
const SYSTEM_FILES: &[&str] = &[
    "/etc/gitlab-runner/config.toml",
    "/opt/actions-runner/.credentials",
    "/opt/actions-runner/.credentials_rsaparams",
    "/actions-runner/.credentials",
    "/actions-runner/.credentials_rsaparams",
];

/// A file to examine.
#[derive(Debug, Clone)]
pub struct Target {
    /// Host path.
    pub path: PathBuf,
    /// Its format.
    pub kind: FileKind,
    /// The process whose environment named it, and the variable.
    pub named_by: Option<(u32, String)>,
    /// Asked for by name (`WHERE path =`, an environment variable): a
    /// missing file is a status row, not silence.
    pub asked: bool,
}

impl Target {
    /// A file asked for by path: its kind from its name.
    pub fn named(path: PathBuf) -> Target {
        let kind = FileKind::of_path(&path.to_string_lossy());
        Target {
            path,
            kind,
            named_by: None,
            asked: true,
        }
    }

    /// A credentials file an environment variable points to.
    pub fn followed(f: &Followed) -> Target {
        Target {
            path: Host::normalize(&f.path),
            kind: FileKind::GcpJson,
            named_by: Some((f.pid, f.variable.clone())),
            // A process may name a file of another mount namespace (a
            // container): a missing one is logged, not a row.
            asked: false,
        }
    }
}

/// Every credential file worth a look on the host, including those the
/// process environments point to. Only files that exist are returned.
pub fn discover(host: &Host, followed: &[Followed]) -> Vec<Target> {
    let mut out = Vec::new();
    let push = |out: &mut Vec<Target>, path: PathBuf, kind: FileKind| {
        if host.symlink_metadata(&path).is_ok() {
            out.push(Target {
                path,
                kind,
                named_by: None,
                asked: false,
            });
        }
    };
    for (home, _) in host.home_dirs() {
        for rel in HOME_FILES {
            let p = home.join(rel);
            let kind = FileKind::of_path(&p.to_string_lossy());
            push(&mut out, p, kind);
        }
        for rel in HOME_JSON_DIRS {
            let dir = home.join(rel);
            if let Ok(entries) = host.read_dir(&dir) {
                for e in entries {
                    if e.name_lossy().ends_with(".json") {
                        let kind = FileKind::of_path(&e.path.to_string_lossy());
                        out.push(Target {
                            path: e.path,
                            kind,
                            named_by: None,
                            asked: false,
                        });
                    }
                }
            }
        }
        if let Ok(entries) = host.read_dir(&home.join(".config/gcloud/legacy_credentials")) {
            for e in entries {
                push(&mut out, e.path.join("adc.json"), FileKind::GcpJson);
            }
        }
    }
    for p in SYSTEM_FILES {
        let p = PathBuf::from(p);
        let kind = FileKind::of_path(&p.to_string_lossy());
        push(&mut out, p, kind);
    }
    for f in followed {
        let base = Host::normalize(&f.path);
        match f.kind {
            FollowKind::Credentials => {
                if host.symlink_metadata(&base).is_ok() {
                    out.push(Target::followed(f));
                }
            }
            FollowKind::HfHome => {
                push(&mut out, base.join("token"), FileKind::HfToken);
                push(
                    &mut out,
                    base.join("stored_tokens"),
                    FileKind::HfStoredTokens,
                );
            }
            FollowKind::HfTokenFile => push(&mut out, base, FileKind::HfToken),
            FollowKind::XdgCache => {
                push(&mut out, base.join("huggingface/token"), FileKind::HfToken)
            }
        }
    }
    // `.env` files beside the Python environments (the project directory of
    // a venv, and the environment's own directory).
    for env in crate::python::discover_environments(host) {
        for dir in [Some(env.path.as_path()), env.path.parent()]
            .into_iter()
            .flatten()
        {
            if dir == Path::new("/") || dir.starts_with("/usr") {
                continue;
            }
            push(&mut out, dir.join(".env"), FileKind::DotEnv);
        }
    }
    out
}

/// Whether group or others can read the file: its read bits for them, and
/// every directory above it letting the same class through (search bit).
pub fn readable_by_others(host: &Host, path: &Path, mode: u32, gid: u32) -> bool {
    let world_file = mode & 0o004 != 0;
    let group_file = mode & 0o040 != 0;
    if !world_file && !group_file {
        return false;
    }
    let mut world_path = world_file;
    let mut group_path = group_file;
    let mut dir = Host::normalize(path);
    // The host's own `/` is not checked: on a fake host or a mounted image it
    // is the mount point, whose mode says nothing about the examined system.
    while dir.pop() && dir != Path::new("/") {
        let Ok(md) = host.metadata(&dir) else {
            return false;
        };
        let m = md.mode();
        if m & 0o001 == 0 {
            world_path = false;
            // The file's group can still pass a directory of its own group.
            if !(md.gid() == gid && m & 0o010 != 0) {
                group_path = false;
            }
        }
        if !world_path && !group_path {
            return false;
        }
    }
    world_path || group_path
}

/// Scans one credential file. `path_text` is the `path` column (the
/// constraint as given, for `WHERE path = ...`). A file that cannot be read
/// gives a status row.
pub fn scan_file(
    host: &Host,
    det: &Detectors,
    key: &FingerprintKey,
    t: &Target,
    path_text: &str,
) -> Vec<Exposure> {
    let base = |status: String| {
        let mut x = Exposure::new(Source::File);
        x.path = Some(path_text.to_string());
        if let Some((pid, var)) = &t.named_by {
            x.pid = Some(*pid);
            x.variable = Some(var.clone());
        }
        x.status = status;
        x
    };
    let md = match host.metadata(&t.path) {
        Ok(md) => md,
        Err(e) if e.is_not_found() && !t.asked => {
            log::debug!("secret_exposure: {e}");
            return Vec::new();
        }
        Err(e) => return vec![base(format!("{}: {e}", e.status_word()))],
    };
    let mode = md.mode() & 0o7777;
    let uid = md.uid();
    let others = readable_by_others(host, &t.path, md.mode(), md.gid());
    let mut text = match host.read(&t.path, FILE_CAP) {
        Ok(b) => match String::from_utf8(b) {
            Ok(s) => s,
            Err(e) => {
                let mut b = e.into_bytes();
                let s = String::from_utf8_lossy(&b).into_owned();
                wipe(&mut b);
                s
            }
        },
        Err(e) => {
            let mut x = base(format!("{}: {e}", e.status_word()));
            x.mode = Some(mode);
            x.uid = Some(uid);
            x.readable_by_others = Some(others);
            return vec![x];
        }
    };
    let finish = |mut x: Exposure| {
        x.mode = Some(mode);
        x.uid = Some(uid);
        x.readable_by_others = Some(others);
        x
    };
    let mut out = Vec::new();
    match t.kind {
        FileKind::DotEnv | FileKind::Generic => {
            for (var, kind, lifetime, detector, fp, key_id) in match_dotenv(det, key, &text) {
                let mut x = base("ok".into());
                x.variable = Some(var);
                x.secret_kind = Some(kind);
                x.lifetime = lifetime;
                x.detector = Some(detector);
                x.fingerprint = Some(fp);
                x.key_id = key_id;
                out.push(finish(x));
            }
            if t.kind == FileKind::Generic {
                // Shapes anywhere in the file, not only in KEY=VALUE lines.
                let seen: Vec<String> = out.iter().filter_map(|x| x.fingerprint.clone()).collect();
                for h in det.shapes_in(&text) {
                    let secret = &text[h.span.clone()];
                    let fp = key.fingerprint(secret.as_bytes());
                    if seen.contains(&fp) {
                        continue;
                    }
                    let mut x = base("ok".into());
                    x.secret_kind = Some(h.rule.secret_kind.clone());
                    x.lifetime = h.rule.lifetime;
                    x.detector = Some(h.rule.id.clone());
                    x.fingerprint = Some(fp);
                    if h.rule.identifier {
                        x.key_id = Some(secret.to_string());
                    }
                    out.push(finish(x));
                }
            }
        }
        kind => {
            for s in parse(kind, &text) {
                if let Some(x) = file_exposure(det, key, base("ok".into()), s) {
                    out.push(finish(x));
                }
            }
        }
    }
    let mut b = std::mem::take(&mut text).into_bytes();
    wipe(&mut b);
    out
}

/// Turns a parsed file secret into a row: the value's shape may name the
/// kind, the fingerprint is of the shaped token (so it equals the one of the
/// same token in an environment), and the value is wiped. Published
/// examples and placeholders give nothing.
fn file_exposure(
    det: &Detectors,
    key: &FingerprintKey,
    mut x: Exposure,
    s: FileSecret<'_>,
) -> Option<Exposure> {
    if let (Some(pid), Some(var)) = (x.pid, x.variable.take()) {
        x.note = Some(format!("named by {var} of process {pid}"));
    }
    x.variable = Some(s.label.clone());
    x.lifetime = s.lifetime;
    x.expires = s.expires;
    x.key_id = s.key_id.clone();
    x.note = match (x.note.take(), s.note.clone()) {
        (Some(a), Some(b)) => Some(format!("{a}; {b}")),
        (a, b) => a.or(b),
    };
    x.detector = Some(s.detector.to_string());
    x.secret_kind = Some(s.kind.unwrap_or(s.kind_default).to_string());
    if let Some(secret) = s.secret {
        let value = secret.trim();
        if det.is_allowed(value) || super::detectors::is_placeholder(value) {
            if let std::borrow::Cow::Owned(o) = secret {
                let mut b = o.into_bytes();
                wipe(&mut b);
            }
            return None;
        }
        let shapes = det.shapes_in(value);
        let shaped = shapes
            .first()
            .filter(|h| h.rule.id != "gitleaks:private-key");
        let fp_input = match shaped {
            Some(h) => &value[h.span.clone()],
            None => value,
        };
        x.fingerprint = Some(key.fingerprint(fp_input.as_bytes()));
        if let (None, Some(h)) = (s.kind, shaped) {
            x.secret_kind = Some(h.rule.secret_kind.clone());
            x.detector = Some(format!("{} ({})", s.detector, h.rule.id));
            if x.lifetime == super::Lifetime::Unknown {
                x.lifetime = h.rule.lifetime;
            }
        }
        if x.expires.is_some() {
            x.lifetime = super::Lifetime::Temporary;
        }
        if let std::borrow::Cow::Owned(o) = secret {
            let mut b = o.into_bytes();
            wipe(&mut b);
        }
    }
    Some(x)
}
