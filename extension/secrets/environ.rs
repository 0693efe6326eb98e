//! Process environments: `<root>/proc/<pid>/environ`, matched entry by entry
//! against the detectors, with the process's name and uid from
//! `/proc/<pid>/status` (or `comm`) and a redacted `cmdline`.
//!
//! Processes that cannot be read (other users' without root, kernel threads,
//! processes that exit mid-scan) are counted and logged, never an error: a
//! full scan gives one status row per reason and count, `WHERE pid = N` a
//! status row for that process.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use super::detectors::Detectors;
use super::fingerprint::FingerprintKey;
use super::lifetime::{aws_pair, Lifetime};
use super::url::{redact_url, REDACTED};
use super::{wipe, Exposure, Source};
use crate::host::{Host, HostDir, HostError};

/// Largest environment read (Linux allows a few MiB with a big stack limit);
/// the rest of a larger one is not scanned and the rows say so.
pub const ENVIRON_CAP: u64 = 4 * 1024 * 1024;
/// Largest `status` / `cmdline` read.
const SMALL_CAP: u64 = 256 * 1024;

/// A path a process's environment points to.
#[derive(Debug, Clone)]
pub struct Followed {
    /// The host path (a path, never a secret).
    pub path: PathBuf,
    /// What it is.
    pub kind: FollowKind,
    /// The process that named it.
    pub pid: u32,
    /// The variable that named it.
    pub variable: String,
}

/// What a followed path is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FollowKind {
    /// A credentials file to report (`GOOGLE_APPLICATION_CREDENTIALS`).
    Credentials,
    /// A Hugging Face home (`HF_HOME`): its `token` and `stored_tokens`.
    HfHome,
    /// A Hugging Face token file (`HF_TOKEN_PATH`).
    HfTokenFile,
    /// An XDG cache home: its `huggingface/token`.
    XdgCache,
}

/// The result of scanning processes.
#[derive(Debug, Default)]
pub struct ProcScan {
    /// Rows.
    pub exposures: Vec<Exposure>,
    /// Paths the environments point to.
    pub followed: Vec<Followed>,
    /// Processes whose environment was read.
    pub scanned: usize,
}

/// The pid of a `/proc/<pid>/environ` path, if `path` is one.
pub fn pid_of_environ_path(path: &str) -> Option<u32> {
    let rest = path.strip_prefix("/proc/")?.strip_suffix("/environ")?;
    if rest.is_empty() || !rest.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    rest.parse().ok()
}

/// The pids under `<root>/proc`, ascending.
pub fn list_pids(host: &Host) -> Result<Vec<u32>, HostError> {
    let mut pids: Vec<u32> = host
        .read_dir(Path::new("/proc"))?
        .into_iter()
        .filter_map(|e| {
            let n = e.name.to_str()?;
            if n.bytes().all(|b| b.is_ascii_digit()) {
                n.parse().ok()
            } else {
                None
            }
        })
        .collect();
    pids.sort_unstable();
    Ok(pids)
}

/// Scans every process. Unreadable ones are counted per reason.
pub fn scan_all(
    host: &Host,
    det: &Detectors,
    key: &FingerprintKey,
    want_cmdline: bool,
) -> ProcScan {
    let mut out = ProcScan::default();
    let pids = match list_pids(host) {
        Ok(p) => p,
        Err(e) if e.is_not_found() => {
            log::debug!("secret_exposure: no /proc under the root");
            return out;
        }
        Err(e) => {
            let mut x = Exposure::new(Source::ProcessEnv);
            x.path = Some("/proc".into());
            x.status = format!("{}: {e}", e.status_word());
            out.exposures.push(x);
            return out;
        }
    };
    let dir = host.open_dir(Path::new("/proc")).ok();
    let mut failures: BTreeMap<&'static str, usize> = BTreeMap::new();
    for pid in pids {
        let r = scan_pid(host, dir.as_ref(), det, key, pid, want_cmdline, None);
        match r {
            Ok(mut s) => {
                out.scanned += 1;
                out.exposures.append(&mut s.exposures);
                out.followed.append(&mut s.followed);
            }
            Err(e) if exited(&e) => {
                log::debug!("secret_exposure: process {pid} exited during the scan");
            }
            Err(e) => {
                log::debug!("secret_exposure: {e}");
                *failures.entry(e.status_word()).or_default() += 1;
            }
        }
    }
    for (word, n) in failures {
        log::info!("secret_exposure: {n} process environments not examined ({word})");
        let mut x = Exposure::new(Source::ProcessEnv);
        x.path = Some("/proc".into());
        x.status = format!(
            "{word}: {n} process environment{} not examined{}",
            if n == 1 { "" } else { "s" },
            // SAFETY: geteuid has no preconditions and cannot fail.
            if word == "permission_denied" && unsafe { libc::geteuid() } != 0 {
                " (other users' processes: run as root to see them)"
            } else {
                ""
            }
        );
        out.exposures.push(x);
    }
    out
}

/// Scans one process; a failure becomes a status row for it. `path_text` is
/// the `path` constraint as given, when the process was asked for by path.
pub fn scan_one(
    host: &Host,
    det: &Detectors,
    key: &FingerprintKey,
    pid: u32,
    want_cmdline: bool,
    path_text: Option<&str>,
) -> ProcScan {
    let dir = host.open_dir(Path::new("/proc")).ok();
    match scan_pid(host, dir.as_ref(), det, key, pid, want_cmdline, path_text) {
        Ok(mut s) => {
            s.scanned = 1;
            s
        }
        Err(e) => {
            log::debug!("secret_exposure: {e}");
            let mut x = Exposure::new(Source::ProcessEnv);
            x.pid = Some(pid);
            x.path = Some(
                path_text
                    .map(str::to_string)
                    .unwrap_or_else(|| format!("/proc/{pid}/environ")),
            );
            x.status = if exited(&e) {
                "not_found: no such process".to_string()
            } else {
                format!("{}: {e}", e.status_word())
            };
            ProcScan {
                exposures: vec![x],
                ..ProcScan::default()
            }
        }
    }
}

/// The process is gone: its `/proc` entry vanished (ENOENT) or it exited
/// between open and read (ESRCH).
fn exited(e: &HostError) -> bool {
    e.is_not_found()
        || matches!(e, HostError::Io { source, .. } if source.raw_os_error() == Some(libc::ESRCH))
}

/// Reads at most `cap` bytes of `<pid>/<name>` below `/proc`.
fn read_proc(
    host: &Host,
    dir: Option<&HostDir>,
    pid: u32,
    name: &str,
    cap: u64,
) -> Result<(Vec<u8>, bool), HostError> {
    let rel = PathBuf::from(format!("{pid}/{name}"));
    let full = Path::new("/proc").join(&rel);
    let (file, _) = match dir {
        Some(d) => host.open_file_at(d, &rel)?,
        None => host.open_file(&full)?,
    };
    // /proc reports size 0: start with room for a typical environment so
    // the read takes one call and an end-of-file probe.
    let mut buf = Vec::with_capacity(16 * 1024);
    file.take(cap + 1)
        .read_to_end(&mut buf)
        .map_err(|source| HostError::Io { path: full, source })?;
    let truncated = buf.len() as u64 > cap;
    if truncated {
        buf.truncate(cap as usize);
    }
    Ok((buf, truncated))
}

/// The entries of an environ block: `NAME=value` separated by NUL. Entries
/// without `=` or with an empty name are skipped.
pub fn entries(block: &[u8]) -> impl Iterator<Item = (&[u8], &[u8])> {
    block.split(|&b| b == 0).filter_map(|e| {
        let eq = e.iter().position(|&b| b == b'=')?;
        if eq == 0 {
            return None;
        }
        Some((&e[..eq], &e[eq + 1..]))
    })
}

/// A finding in an environment block, before process details are added.
struct EnvHit {
    variable: String,
    secret_kind: String,
    lifetime: Lifetime,
    detector: String,
    fingerprint: String,
    key_id: Option<String>,
    expires: Option<i64>,
}

/// Matches an environment block (or `.env` text converted to one): every
/// secret as an [`EnvHit`], AWS pairs resolved, and the paths it points to.
fn match_block(
    det: &Detectors,
    key: &FingerprintKey,
    block: &[u8],
) -> (Vec<EnvHit>, Vec<(FollowKind, String, String)>) {
    let mut hits = Vec::new();
    let mut follows = Vec::new();
    let mut aws_key_id: Option<String> = None;
    let mut session = false;
    for (name, value) in entries(block) {
        let value: Cow<str> = match std::str::from_utf8(value) {
            Ok(v) => Cow::Borrowed(v),
            Err(_) => String::from_utf8_lossy(value),
        };
        let name = String::from_utf8_lossy(name);
        match name.as_ref() {
            "HF_HOME" => follows.push((FollowKind::HfHome, name.to_string(), value.to_string())),
            "HF_TOKEN_PATH" => {
                follows.push((FollowKind::HfTokenFile, name.to_string(), value.to_string()))
            }
            "XDG_CACHE_HOME" => {
                follows.push((FollowKind::XdgCache, name.to_string(), value.to_string()))
            }
            "AWS_SESSION_TOKEN" | "AWS_SECURITY_TOKEN" if !value.trim().is_empty() => {
                session = true
            }
            _ => {}
        }
        let found = det.match_entry(&name, &value);
        if found.is_empty() {
            if let Cow::Owned(s) = value {
                wipe_string(s);
            }
            continue;
        }
        let variable = safe_name(det, &name);
        for h in found {
            let secret = &value[h.span.clone()];
            if h.follow_path {
                follows.push((
                    FollowKind::Credentials,
                    variable.clone(),
                    secret.to_string(),
                ));
                continue;
            }
            let key_id = (h.identifier
                && secret.len() == 20
                && secret.bytes().all(|b| b.is_ascii_alphanumeric()))
            .then(|| secret.to_string());
            if h.secret_kind == "aws_access_key_id" && key_id.is_some() && aws_key_id.is_none() {
                aws_key_id = key_id.clone();
            }
            hits.push(EnvHit {
                variable: variable.clone(),
                secret_kind: h.secret_kind.to_string(),
                lifetime: h.lifetime,
                detector: h.detector.to_string(),
                fingerprint: key.fingerprint(secret.as_bytes()),
                key_id,
                expires: (h.secret_kind == "jwt")
                    .then(|| super::lifetime::jwt_expiry(secret))
                    .flatten(),
            });
        }
        if let Cow::Owned(s) = value {
            wipe_string(s);
        }
    }
    for h in &mut hits {
        match h.secret_kind.as_str() {
            "aws_secret_access_key" => {
                h.key_id = aws_key_id.clone();
                h.lifetime = aws_pair(aws_key_id.as_deref(), session);
            }
            "aws_access_key_id" if session => h.lifetime = Lifetime::Temporary,
            _ => {}
        }
    }
    (hits, follows)
}

/// A variable name fit for a row: one that itself holds a secret shape is
/// replaced (names are attacker-chosen too).
fn safe_name(det: &Detectors, name: &str) -> String {
    if det.shapes_in(name).is_empty() {
        name.to_string()
    } else {
        REDACTED.to_string()
    }
}

fn wipe_string(s: String) {
    let mut b = s.into_bytes();
    wipe(&mut b);
}

/// The `.env`-style `KEY=VALUE` lines of a text as an environ block
/// (`export` prefixes and comments dropped). The caller wipes the result.
pub fn dotenv_block(text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    for line in text.lines() {
        let l = line.trim_start();
        if l.starts_with('#') || l.is_empty() {
            continue;
        }
        let l = l.strip_prefix("export ").unwrap_or(l).trim_start();
        let Some((k, v)) = l.split_once('=') else {
            continue;
        };
        let k = k.trim();
        if k.is_empty() || k.contains(char::is_whitespace) {
            continue;
        }
        out.extend_from_slice(k.as_bytes());
        out.push(b'=');
        out.extend_from_slice(v.trim().as_bytes());
        out.push(0);
    }
    out
}

/// The secrets in `.env`-style text, as (variable, kind, lifetime,
/// detector, fingerprint, key id) for the file scanner.
pub fn match_dotenv(
    det: &Detectors,
    key: &FingerprintKey,
    text: &str,
) -> Vec<(String, String, Lifetime, String, String, Option<String>)> {
    let mut block = dotenv_block(text);
    let (hits, _) = match_block(det, key, &block);
    wipe(&mut block);
    hits.into_iter()
        .map(|h| {
            (
                h.variable,
                h.secret_kind,
                h.lifetime,
                h.detector,
                h.fingerprint,
                h.key_id,
            )
        })
        .collect()
}

/// Scans one process's environment.
#[allow(clippy::too_many_arguments)]
fn scan_pid(
    host: &Host,
    dir: Option<&HostDir>,
    det: &Detectors,
    key: &FingerprintKey,
    pid: u32,
    want_cmdline: bool,
    path_text: Option<&str>,
) -> Result<ProcScan, HostError> {
    let (mut block, truncated) = read_proc(host, dir, pid, "environ", ENVIRON_CAP)?;
    let (hits, follows) = match_block(det, key, &block);
    wipe(&mut block);
    drop(block);
    if truncated {
        log::warn!(
            "secret_exposure: /proc/{pid}/environ is over {ENVIRON_CAP} bytes; only the first {ENVIRON_CAP} were scanned"
        );
    }
    let mut out = ProcScan {
        scanned: 1,
        ..ProcScan::default()
    };
    out.followed = follows
        .into_iter()
        .map(|(kind, variable, path)| Followed {
            path: PathBuf::from(path),
            kind,
            pid,
            variable,
        })
        .filter(|f| f.path.is_absolute())
        .collect();
    if hits.is_empty() {
        return Ok(out);
    }
    let (name, uid) = process_identity(host, dir, pid);
    let cmdline = if want_cmdline {
        read_proc(host, dir, pid, "cmdline", SMALL_CAP)
            .ok()
            .map(|(mut b, _)| {
                let s = redact_cmdline(det, &b);
                wipe(&mut b);
                s
            })
    } else {
        None
    };
    let path = path_text
        .map(str::to_string)
        .unwrap_or_else(|| format!("/proc/{pid}/environ"));
    for h in hits {
        let mut x = Exposure::new(Source::ProcessEnv);
        x.pid = Some(pid);
        x.process_name = name.clone();
        x.uid = uid;
        x.path = Some(path.clone());
        x.variable = Some(h.variable);
        x.secret_kind = Some(h.secret_kind);
        x.lifetime = h.lifetime;
        x.fingerprint = Some(h.fingerprint);
        x.key_id = h.key_id;
        x.expires = h.expires;
        x.detector = Some(h.detector);
        x.cmdline = cmdline.clone();
        if truncated {
            x.note = Some(format!(
                "environment over {ENVIRON_CAP} bytes: the rest was not scanned"
            ));
        }
        out.exposures.push(x);
    }
    Ok(out)
}

/// The process's name and real uid from `status` (name from `comm` when
/// `status` cannot be read).
fn process_identity(host: &Host, dir: Option<&HostDir>, pid: u32) -> (Option<String>, Option<u32>) {
    let mut name = None;
    let mut uid = None;
    if let Ok((b, _)) = read_proc(host, dir, pid, "status", SMALL_CAP) {
        let text = String::from_utf8_lossy(&b);
        for line in text.lines() {
            if let Some(v) = line.strip_prefix("Name:") {
                name = Some(v.trim().to_string());
            } else if let Some(v) = line.strip_prefix("Uid:") {
                uid = v.split_whitespace().next().and_then(|u| u.parse().ok());
            }
            if name.is_some() && uid.is_some() {
                break;
            }
        }
    }
    if name.is_none() {
        if let Ok((b, _)) = read_proc(host, dir, pid, "comm", 4096) {
            let n = String::from_utf8_lossy(&b)
                .trim_end_matches('\n')
                .to_string();
            if !n.is_empty() {
                name = Some(n);
            }
        }
    }
    (name, uid)
}

/// Flags whose next argument (or `=value`) is a secret.
const SECRET_FLAG_WORDS: &[&str] = &[
    "token", "password", "passwd", "secret", "apikey", "api-key", "api_key", "auth",
];

fn is_secret_flag(flag: &str) -> bool {
    let f = flag.trim_start_matches('-').to_ascii_lowercase();
    flag.starts_with("--") && SECRET_FLAG_WORDS.iter().any(|w| f.contains(w))
}

/// A command line (NUL-separated `cmdline` bytes) fit for a row: secret
/// shapes, `--token VALUE` / `--password=VALUE` values, `NAME=value`
/// assignments the detectors flag and URL credentials replaced.
pub fn redact_cmdline(det: &Detectors, raw: &[u8]) -> String {
    let raw = raw.strip_suffix(&[0]).unwrap_or(raw);
    let mut out: Vec<String> = Vec::new();
    let mut redact_next = false;
    for arg in raw.split(|&b| b == 0) {
        let arg = String::from_utf8_lossy(arg);
        if redact_next {
            redact_next = false;
            out.push(REDACTED.to_string());
            continue;
        }
        let mut a = arg.to_string();
        if a.starts_with("--") {
            match a.split_once('=') {
                Some((flag, _)) if is_secret_flag(flag) => a = format!("{flag}={REDACTED}"),
                None if is_secret_flag(&a) => redact_next = true,
                _ => {}
            }
        } else if let Some((n, v)) = a.split_once('=') {
            if !n.is_empty()
                && n.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
                && !det.match_entry(n, v).is_empty()
            {
                a = format!("{n}={REDACTED}");
            }
        }
        if a.contains("://") {
            a = a
                .split(char::is_whitespace)
                .map(|w| {
                    if w.contains("://") {
                        redact_url(w)
                    } else {
                        w.to_string()
                    }
                })
                .collect::<Vec<_>>()
                .join(" ");
        }
        let hits = det.shapes_in(&a);
        if !hits.is_empty() {
            let mut s = String::with_capacity(a.len());
            let mut last = 0;
            for h in hits {
                s.push_str(&a[last..h.span.start]);
                s.push_str(REDACTED);
                last = h.span.end;
            }
            s.push_str(&a[last..]);
            a = s;
        }
        out.push(a);
    }
    out.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> FingerprintKey {
        FingerprintKey::ephemeral(None)
    }

    fn akia() -> String {
        format!("AKIA{}", "FAKEFAKEFAKE2345")
    }

    #[test]
    fn entries_skip_junk() {
        let block = b"A=1\0=x\0noequals\0B=\0C=a=b\0";
        let e: Vec<_> = entries(block).collect();
        assert_eq!(
            e,
            vec![
                (&b"A"[..], &b"1"[..]),
                (&b"B"[..], &b""[..]),
                (&b"C"[..], &b"a=b"[..])
            ]
        );
    }

    #[test]
    fn aws_pair_in_one_environment() {
        let d = Detectors::builtin();
        let k = key();
        let block = format!(
            "AWS_ACCESS_KEY_ID={}\0AWS_SECRET_ACCESS_KEY={}\0AWS_REGION=us-east-1\0",
            akia(),
            "Fake/Secret+Key0123456789abcdefghijklmn"
        );
        let (hits, _) = match_block(d, &k, block.as_bytes());
        assert_eq!(
            hits.len(),
            2,
            "{:?}",
            hits.iter().map(|h| &h.variable).collect::<Vec<_>>()
        );
        let secret = hits
            .iter()
            .find(|h| h.secret_kind == "aws_secret_access_key")
            .unwrap();
        assert_eq!(secret.key_id.as_deref(), Some(akia().as_str()));
        assert_eq!(secret.lifetime, Lifetime::LongLived);
        let with_session = format!("{block}AWS_SESSION_TOKEN=FakeSessionToken0123456789\0");
        let (hits, _) = match_block(d, &k, with_session.as_bytes());
        assert!(hits
            .iter()
            .filter(|h| h.secret_kind.starts_with("aws_"))
            .all(|h| h.lifetime == Lifetime::Temporary));
    }

    #[test]
    fn one_secret_one_fingerprint_wherever_it_is() {
        let d = Detectors::builtin();
        let k = key();
        let tok = format!("hf_{}", "Fake".repeat(8) + "Zz");
        let (a, _) = match_block(d, &k, format!("HF_TOKEN={tok}\0").as_bytes());
        let (b, _) = match_block(d, &k, format!("OTHER=x {tok} y\0").as_bytes());
        assert_eq!(a[0].fingerprint, b[0].fingerprint);
        assert_eq!(a[0].fingerprint, k.fingerprint(tok.as_bytes()));
    }

    #[test]
    fn follows_paths_without_reporting_them_as_secrets() {
        let d = Detectors::builtin();
        let (hits, follows) = match_block(
            d,
            &key(),
            b"GOOGLE_APPLICATION_CREDENTIALS=/home/a/sa.json\0HF_HOME=/data/hf\0",
        );
        assert!(hits.is_empty());
        assert_eq!(follows.len(), 2);
        assert_eq!(follows[0].0, FollowKind::Credentials);
        assert_eq!(follows[0].2, "/home/a/sa.json");
    }

    #[test]
    fn cmdline_is_redacted() {
        let d = Detectors::builtin();
        let tok = format!("ghp_{}", "Fake0".repeat(7) + "X");
        let raw = format!(
            "python\0-m\0pip\0install\0--index-url\0https://u:{}@idx.invalid/simple\0--token\0opaque123\0--password=opaque456\0HF_TOKEN=whatever99\0{tok}\0",
            "FakePass123"
        );
        let s = redact_cmdline(d, raw.as_bytes());
        assert_eq!(
            s,
            "python -m pip install --index-url https://idx.invalid/simple --token REDACTED --password=REDACTED HF_TOKEN=REDACTED REDACTED"
        );
        assert!(!s.contains("opaque"));
    }

    #[test]
    fn a_jwt_says_when_it_expires() {
        use base64::Engine;
        let enc = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
        let tok = format!(
            "{}.{}.{}",
            enc(r#"{"alg":"RS256","typ":"JWT"}"#),
            enc(r#"{"exp":1714564800,"iss":"https://token.actions.example.invalid"}"#),
            "FakeSignature0123456789"
        );
        let (hits, _) = match_block(
            Detectors::builtin(),
            &key(),
            format!("ACTIONS_ID_TOKEN_REQUEST_TOKEN={tok}\0").as_bytes(),
        );
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].secret_kind, "jwt");
        assert_eq!(hits[0].expires, Some(1_714_564_800));
    }

    #[test]
    fn environ_paths() {
        assert_eq!(pid_of_environ_path("/proc/42/environ"), Some(42));
        assert_eq!(pid_of_environ_path("/proc/self/environ"), None);
        assert_eq!(pid_of_environ_path("/proc//environ"), None);
        assert_eq!(pid_of_environ_path("/home/a/.env"), None);
    }

    #[test]
    fn dotenv_lines() {
        let b = dotenv_block("# c\nexport A=1\n B = x \nnot a line\nC D=1\n=v\n");
        assert_eq!(b, b"A=1\0B=x\0");
    }
}
