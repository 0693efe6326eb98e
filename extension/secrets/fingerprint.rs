//! The keyed fingerprint of a secret: HMAC-SHA256 under a key nobody else
//! holds, first 16 hex characters. The same secret in an environment and in a
//! file has one fingerprint; without the key nothing lets anyone confirm a
//! guessed value.
//!
//! The key, in order of preference:
//! 1. `--fingerprint-key FILE`: one key a fleet manager distributes, so one
//!    leaked secret has one fingerprint on every host ([`KeyScope::Fleet`]);
//! 2. `<state_dir>/fingerprint.key`, created once (32 random bytes as hex,
//!    mode 0600, directory 0700) and reused ([`KeyScope::Host`]); never
//!    inside the examined `--root`, which is evidence;
//! 3. when neither can be had (not root, read-only disk, state dir inside the
//!    root), a random key for this process only ([`KeyScope::Run`]): the
//!    fingerprints then compare only within one run, and the log says why.

use std::fs::{DirBuilder, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Name of the per-host key file in the state directory.
pub const KEY_FILE: &str = "fingerprint.key";

/// Shortest key accepted from a file, in bytes.
const MIN_KEY_LEN: usize = 16;
/// Longest key file read.
const MAX_KEY_LEN: u64 = 4096;

/// Why a key could not be read or created. Never carries key material.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// An I/O error on the key file or the state directory.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The key file is too short, too long or not a regular file.
    #[error("{path}: {reason}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The state directory lies inside the examined root.
    #[error("state directory {0} is inside the examined --root; squatch writes nothing there")]
    InsideRoot(PathBuf),
}

/// How far a fingerprint can be compared (the `fingerprint_scope` column).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyScope {
    /// A key shared across a fleet (`--fingerprint-key`).
    Fleet,
    /// This host's key in the state directory.
    Host,
    /// A random key for this process only.
    Run,
}

impl KeyScope {
    /// The column's word.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyScope::Fleet => "fleet",
            KeyScope::Host => "host",
            KeyScope::Run => "run",
        }
    }
}

/// A fingerprint key and where it came from.
pub struct FingerprintKey {
    key: Vec<u8>,
    scope: KeyScope,
    /// Why the key is per run only, when it is.
    fallback_reason: Option<String>,
}

// Never print key material.
impl std::fmt::Debug for FingerprintKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FingerprintKey")
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

impl FingerprintKey {
    /// The key for this process: the fleet key file when given, else the
    /// host key under `state_dir` (created when missing), else a per-run
    /// random key. `examined_root` is the `--root`: a state directory inside
    /// it is refused. Never fails; a fallback is logged once and reported by
    /// [`FingerprintKey::fallback_reason`].
    pub fn load(fleet_key: Option<&Path>, state_dir: &Path, examined_root: &Path) -> Self {
        let attempt = match fleet_key {
            Some(path) => read_key(path).map(|k| (k, KeyScope::Fleet)),
            None => host_key(state_dir, examined_root).map(|k| (k, KeyScope::Host)),
        };
        match attempt {
            Ok((key, scope)) => FingerprintKey {
                key,
                scope,
                fallback_reason: None,
            },
            Err(e) => {
                let reason = format!(
                    "fingerprint key unavailable ({e}); using a per-run key: fingerprints compare only within this run"
                );
                log::warn!("secret_exposure: {reason}");
                FingerprintKey::ephemeral(Some(reason))
            }
        }
    }

    /// A random key for this process only.
    pub fn ephemeral(reason: Option<String>) -> Self {
        FingerprintKey {
            key: random_bytes(32).to_vec(),
            scope: KeyScope::Run,
            fallback_reason: reason,
        }
    }

    /// How far this key's fingerprints compare.
    pub fn scope(&self) -> KeyScope {
        self.scope
    }

    /// Why the key is per run, when it fell back to one.
    pub fn fallback_reason(&self) -> Option<&str> {
        self.fallback_reason.as_deref()
    }

    /// The fingerprint of a secret: HMAC-SHA256 under the key, first 16 hex.
    pub fn fingerprint(&self, secret: &[u8]) -> String {
        // HMAC takes a key of any length.
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.key)
            .unwrap_or_else(|_| unreachable!("HMAC accepts every key length"));
        mac.update(secret);
        let out = mac.finalize().into_bytes();
        crate::hex::encode(&out[..8])
    }
}

/// Reads a key file: a regular file of 16 to 4096 bytes; surrounding
/// whitespace is not part of the key (a hex key with a newline works).
fn read_key(path: &Path) -> Result<Vec<u8>, KeyError> {
    let io = |source| KeyError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut f = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(path)
        .map_err(io)?;
    let md = f.metadata().map_err(io)?;
    if !md.is_file() {
        return Err(KeyError::Invalid {
            path: path.to_path_buf(),
            reason: "not a regular file",
        });
    }
    if md.mode() & 0o077 != 0 {
        log::warn!(
            "secret_exposure: fingerprint key {} is readable or writable by group or others (mode {:o}); make it 0600",
            path.display(),
            md.mode() & 0o7777
        );
    }
    let mut buf = Vec::new();
    Read::by_ref(&mut f)
        .take(MAX_KEY_LEN + 1)
        .read_to_end(&mut buf)
        .map_err(io)?;
    if buf.len() as u64 > MAX_KEY_LEN {
        return Err(KeyError::Invalid {
            path: path.to_path_buf(),
            reason: "key file over 4096 bytes",
        });
    }
    let trimmed = buf.trim_ascii();
    if trimmed.len() < MIN_KEY_LEN {
        return Err(KeyError::Invalid {
            path: path.to_path_buf(),
            reason: "key shorter than 16 bytes",
        });
    }
    Ok(trimmed.to_vec())
}

/// The host key under `state_dir`, created once when missing.
fn host_key(state_dir: &Path, examined_root: &Path) -> Result<Vec<u8>, KeyError> {
    if inside(state_dir, examined_root) {
        return Err(KeyError::InsideRoot(state_dir.to_path_buf()));
    }
    let path = state_dir.join(KEY_FILE);
    match read_key(&path) {
        Ok(k) => return Ok(k),
        Err(KeyError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(state_dir)
        .map_err(|source| KeyError::Io {
            path: state_dir.to_path_buf(),
            source,
        })?;
    let hex = crate::hex::encode(&random_bytes(32));
    // Write a temp file, then link it into place: a concurrent squatch either
    // wins the link or reads the complete key of the one that did.
    let tmp = state_dir.join(format!(".{KEY_FILE}.{}", std::process::id()));
    let io = |p: &Path| {
        let p = p.to_path_buf();
        move |source| KeyError::Io { path: p, source }
    };
    {
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(&tmp)
            .map_err(io(&tmp))?;
        f.write_all(format!("{hex}\n").as_bytes())
            .and_then(|_| f.sync_all())
            .map_err(io(&tmp))?;
    }
    let linked = std::fs::hard_link(&tmp, &path);
    let _ = std::fs::remove_file(&tmp);
    match linked {
        Ok(()) => {
            log::info!(
                "secret_exposure: created fingerprint key {}",
                path.display()
            );
            Ok(hex.into_bytes())
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => read_key(&path),
        Err(source) => Err(KeyError::Io { path, source }),
    }
}

/// True when `path` is `root` or below it, compared after resolving both on
/// the real disk (as far as they exist). A root of `/` contains nothing here:
/// on a live host the state directory is meant to be on it.
fn inside(path: &Path, root: &Path) -> bool {
    let canon = |p: &Path| -> PathBuf {
        // Resolve the longest existing ancestor, then append the rest.
        let mut existing = p.to_path_buf();
        let mut rest = Vec::new();
        loop {
            if let Ok(c) = existing.canonicalize() {
                let mut out = c;
                for r in rest.iter().rev() {
                    out.push(r);
                }
                return out;
            }
            match (
                existing.file_name().map(|n| n.to_os_string()),
                existing.parent(),
            ) {
                (Some(name), Some(parent)) => {
                    rest.push(name);
                    existing = parent.to_path_buf();
                }
                _ => return p.to_path_buf(),
            }
        }
    };
    let root = canon(root);
    if root == Path::new("/") {
        return false;
    }
    canon(path).starts_with(&root)
}

/// `n` bytes from the kernel's random source; should that fail, a mix of
/// time, pid and addresses through SHA-256 (a per-run key stays unguessable
/// enough for fingerprints that are never persisted).
fn random_bytes(n: usize) -> [u8; 32] {
    debug_assert!(n <= 32);
    let mut out = [0u8; 32];
    let ok = std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut out))
        .is_ok();
    if !ok {
        use sha2::Digest;
        let mut h = Sha256::new();
        h.update(format!(
            "{:?}{}{:p}",
            std::time::SystemTime::now(),
            std::process::id(),
            &out
        ));
        out.copy_from_slice(&h.finalize());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn host_key_is_created_once_with_tight_modes() {
        let state = tempfile::tempdir().unwrap();
        let root = tempfile::tempdir().unwrap();
        let dir = state.path().join("squatch");
        let k1 = FingerprintKey::load(None, &dir, root.path());
        assert_eq!(k1.scope(), KeyScope::Host);
        let md = std::fs::metadata(dir.join(KEY_FILE)).unwrap();
        assert_eq!(md.permissions().mode() & 0o777, 0o600);
        assert_eq!(
            std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777,
            0o700
        );
        let k2 = FingerprintKey::load(None, &dir, root.path());
        assert_eq!(k1.fingerprint(b"x"), k2.fingerprint(b"x"));
        assert_eq!(k1.fingerprint(b"x").len(), 16);
        assert_ne!(k1.fingerprint(b"x"), k1.fingerprint(b"y"));
        // Nothing else was left in the state directory.
        let names: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
        assert_eq!(names.len(), 1);
    }

    #[test]
    fn fleet_key_gives_the_same_fingerprint_on_two_hosts() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        let root = tempfile::tempdir().unwrap();
        let fleet = a.path().join("fleet.key");
        std::fs::write(&fleet, "0123456789abcdef0123456789abcdef\n").unwrap();
        let ka = FingerprintKey::load(Some(&fleet), &a.path().join("s"), root.path());
        let kb = FingerprintKey::load(Some(&fleet), &b.path().join("s"), root.path());
        assert_eq!(ka.scope(), KeyScope::Fleet);
        assert_eq!(ka.fingerprint(b"same"), kb.fingerprint(b"same"));
        // And a host key differs from it.
        let kh = FingerprintKey::load(None, &a.path().join("s"), root.path());
        assert_ne!(kh.fingerprint(b"same"), ka.fingerprint(b"same"));
        // HMAC, not a plain hash: the fingerprint is not SHA-256's prefix.
        use sha2::Digest;
        let plain = crate::hex::encode(&Sha256::digest(b"same")[..8]);
        assert_ne!(ka.fingerprint(b"same"), plain);
    }

    #[test]
    fn state_dir_inside_the_root_falls_back_to_a_run_key() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("var/lib/squatch");
        let k = FingerprintKey::load(None, &dir, root.path());
        assert_eq!(k.scope(), KeyScope::Run);
        assert!(k.fallback_reason().unwrap().contains("inside the examined"));
        assert!(!dir.exists(), "nothing may be written inside the root");
    }

    #[test]
    fn uncreatable_state_dir_falls_back_to_a_run_key() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tempfile::tempdir().unwrap();
        // A regular file where a directory should be: creation fails even as
        // root (a read-only disk or an unprivileged user fail the same way).
        std::fs::write(tmp.path().join("file"), b"x").unwrap();
        let k = FingerprintKey::load(None, &tmp.path().join("file/squatch"), root.path());
        assert_eq!(k.scope(), KeyScope::Run);
        let reason = k.fallback_reason().unwrap();
        assert!(reason.contains("per-run"), "{reason}");
        // Two run keys differ.
        let k2 = FingerprintKey::load(None, &tmp.path().join("file/squatch"), root.path());
        assert_ne!(k.fingerprint(b"v"), k2.fingerprint(b"v"));
    }

    #[test]
    fn short_or_missing_fleet_keys_fall_back() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("short"), "abc\n").unwrap();
        let k = FingerprintKey::load(Some(&tmp.path().join("short")), tmp.path(), Path::new("/"));
        assert_eq!(k.scope(), KeyScope::Run);
        assert!(k.fallback_reason().unwrap().contains("shorter"));
        let k = FingerprintKey::load(Some(&tmp.path().join("none")), tmp.path(), Path::new("/"));
        assert_eq!(k.scope(), KeyScope::Run);
        assert!(format!("{k:?}").contains("Run"));
    }

    #[test]
    fn live_root_contains_no_state_dir() {
        assert!(!inside(Path::new("/var/lib/squatch"), Path::new("/")));
        let root = tempfile::tempdir().unwrap();
        assert!(inside(&root.path().join("a/b"), root.path()));
        assert!(!inside(Path::new("/var/lib/squatch"), root.path()));
    }
}
