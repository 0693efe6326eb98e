//! The persistent cache: per-file scan results, RECORD digests and whole
//! site-directory scans kept between processes under the state directory,
//! so that a new `squatch query`, `hunt` or an osqueryd restart does not pay
//! the whole scan again.
//!
//! - Where: `<state_dir>/cache/<16 hex of SHA-256 of the root>.json` (scans),
//!   `.digests.json`, `.sites.json`, `.verified.json` and `.dists.json`
//!   beside it, per examined root, the
//!   directory 0700 and the files 0600. Never inside `--root` (a state
//!   directory below an examined root other than `/` turns the cache off).
//! - Keys: host path plus the file's identity (device, inode, size, mtime and
//!   ctime in nanoseconds). The change time cannot be set back from user
//!   space, so a file edited in place with its mtime restored misses. A site
//!   memo ([`SiteMemo`]) is keyed by environment and site directory and
//!   holds the identities of every file and directory its result rests on;
//!   a [`VerifyMemo`] (a site's RECORD verifications) and a [`DistMemo`]
//!   (a site's parsed distributions) likewise.
//! - Versioned: each file records the binary's version and a hash of the
//!   rules it was scanned with; any difference, any parse error, an
//!   unreadable or oversized file throws that whole file away.
//! - Bounded: at most [`MAX_ENTRIES`] entries of each kind (entries used by
//!   this process are kept first), [`MAX_FILE_BYTES`] per file and
//!   [`MAX_ROOTS`] roots (the least recently written go first).
//! - Lazy: each kind is read on first use of that kind (a findings query
//!   whose sites are unchanged reads only the site memos); written with
//!   [`PersistentCache::save`] (temp file + rename) when something changed.
//! - Trusted only when private: a cache file or directory that another
//!   user owns or can write is ignored (it could hide a file from scans).
//! - Never an error: an unwritable state directory (squatch not run as
//!   root) means no persistent cache and one debug log line.

use std::collections::HashMap;
use std::fs::Metadata;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::findings::target::ScannedFile;
use crate::findings::{Finding, Role};
use crate::host::{HostDir, StatId};

/// Format of the cache files; bump when their layout changes.
const FORMAT: u32 = 2;

/// Most entries of each kind (scans, digests, site memos) kept on disk.
pub const MAX_ENTRIES: usize = 400_000;

/// Most examined roots whose cache files are kept in `<state_dir>/cache/`;
/// saving removes the least recently written beyond it, so that disk use
/// stays bounded however many images are examined.
pub const MAX_ROOTS: usize = 8;

/// Largest cache file read or written (bigger: thrown away / not written).
pub const MAX_FILE_BYTES: u64 = 96 << 20;

/// A file's identity as the persistent cache keys it: device, inode, size,
/// mtime and ctime (nanoseconds since the epoch).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Ident(pub u64, pub u64, pub u64, pub i64, pub i64);

impl Ident {
    /// The identity of what `md` describes.
    pub fn from_metadata(md: &Metadata) -> Ident {
        Ident(
            md.dev(),
            md.ino(),
            md.size(),
            md.mtime()
                .saturating_mul(1_000_000_000)
                .saturating_add(md.mtime_nsec()),
            md.ctime()
                .saturating_mul(1_000_000_000)
                .saturating_add(md.ctime_nsec()),
        )
    }

    /// The identity a [`StatId`] describes.
    pub fn from_stat_id(id: &StatId) -> Ident {
        let clamp = |t: i128| t.clamp(i64::MIN as i128, i64::MAX as i128) as i64;
        Ident(
            id.dev,
            id.ino,
            id.size,
            clamp(id.mtime_ns),
            clamp(id.ctime_ns),
        )
    }
}

/// One finding of a [`SiteMemo`]: path, member, package, file digest
/// (its environment is the memo's).
pub type MemoFinding = (String, String, Option<String>, Option<String>, Finding);

/// What one site directory's scan found, and the identities it rests on
/// (see `findings::site`): reused whole by a later process while every one
/// of them is unchanged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SiteMemo {
    /// Identity of the site directory itself (its listing).
    pub site: Ident,
    /// Every path the scan's result depends on, relative to the site
    /// directory, `\n`-separated, in byte order (so each directory comes
    /// before what lies below it).
    pub deps: String,
    /// SHA-256 (hex) of the identities of `deps`, in order.
    pub digest: String,
    /// Findings: path, member, package, file digest, finding.
    pub findings: Vec<MemoFinding>,
    /// Problems: path, member, message.
    pub problems: Vec<(String, String, String)>,
}

/// One site directory's RECORD verifications (see `python::verify`) and the
/// identities they rest on: reused whole by a later process while every one
/// of them is unchanged (checked with one `fstatat` each, no RECORD read).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifyMemo {
    /// Identity of the site directory itself (its listing).
    pub site: Ident,
    /// Paths below the site directory `stat`ed relative to it without
    /// following a link (metadata directories, their reference files, the
    /// directories walked for unrecorded files), `\n`-separated, each
    /// directory before what lies below it.
    pub rel: String,
    /// The files the references list, as the verification found them
    /// (relative to the site directory, or absolute host paths),
    /// `\n`-separated.
    pub files: String,
    /// SHA-256 (hex) of the identities of `rel` then `files`, in order.
    pub digest: String,
    /// Each distribution of the site, in listing order: its metadata
    /// directory and its verification.
    pub dists: Vec<(String, crate::python::verify::Verification)>,
}

/// One site directory's distributions as `python::distribution` read them
/// (metadata, INSTALLER, REQUESTED, direct_url.json) and the identities
/// they rest on: reused whole by a later process while every one of them is
/// unchanged (one `fstatat` each, no file opened).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DistMemo {
    /// Identity of the site directory itself (its listing: a distribution
    /// added or removed changes it).
    pub site: Ident,
    /// Paths below the site directory `stat`ed relative to it without
    /// following a link: each metadata directory (a file such as REQUESTED
    /// or direct_url.json appearing in it or leaving it changes it) and the
    /// files read from it (METADATA or PKG-INFO, INSTALLER,
    /// direct_url.json), `\n`-separated, in byte order (each directory
    /// before what lies below it).
    pub rel: String,
    /// SHA-256 (hex) of the identities of `rel`, in order.
    pub digest: String,
    /// The distributions, in listing order.
    pub dists: Vec<crate::python::distribution::StoredDist>,
}

/// Identities `stat`ed relative to one site directory while a [`DistMemo`]
/// was checked, in byte order of their paths: handed on to the check of
/// the same site's [`VerifyMemo`] in the same query, so that a path both
/// rest on is `stat`ed once.
#[derive(Debug, Clone, Default)]
pub struct SeenIds {
    /// The site directory (host path, as the distributions give it).
    pub site: PathBuf,
    /// Relative path and identity, in byte order of the paths.
    pub ids: Vec<(String, StatId)>,
}

impl SeenIds {
    /// The identity seen for `rel`, if any.
    pub fn get(&self, rel: &str) -> Option<StatId> {
        self.ids
            .binary_search_by(|(p, _)| p.as_str().cmp(rel))
            .ok()
            .map(|i| self.ids[i].1)
    }
}

/// A file changed less than this before a memo's work started may have
/// changed during it (timestamps come from a coarse clock): no memo rests
/// on it.
pub const MEMO_SLACK_NS: i128 = 1_000_000_000;

/// Now, in nanoseconds since the epoch (0 if the clock is before it).
pub fn now_ns() -> i128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as i128)
        .unwrap_or(0)
}

/// SHA-256 (hex) of the identities `stat` gives for `deps`, in order, with
/// the effective user (what it may read decides what a scan sees): what a
/// memo rests on. `None` as soon as `stat` gives `None` (a path the memo
/// cannot rest on), or, with `before`, for one changed less than
/// [`MEMO_SLACK_NS`] before that time.
pub fn identities_digest<'a>(
    deps: impl Iterator<Item = &'a str>,
    before: Option<i128>,
    mut stat: impl FnMut(&str) -> Option<StatId>,
) -> Option<String> {
    let mut h = Sha256::new();
    // The bytes are gathered and hashed 64 KiB at a time: the same digest
    // as hashing each field in turn, without a call per field (seven per
    // path, tens of thousands of paths on a restart).
    let mut buf: Vec<u8> = Vec::with_capacity(72 * 1024);
    // SAFETY: geteuid has no preconditions.
    buf.extend_from_slice(&unsafe { libc::geteuid() }.to_le_bytes());
    for rel in deps {
        let id = stat(rel)?;
        if before.is_some_and(|t| id.ctime_ns >= t - MEMO_SLACK_NS) {
            return None;
        }
        buf.extend_from_slice(rel.as_bytes());
        buf.push(0);
        for n in [id.dev, id.ino, id.size, u64::from(id.mode)] {
            buf.extend_from_slice(&n.to_le_bytes());
        }
        buf.extend_from_slice(&id.mtime_ns.to_le_bytes());
        buf.extend_from_slice(&id.ctime_ns.to_le_bytes());
        if buf.len() >= 64 * 1024 {
            h.update(&buf);
            buf.clear();
        }
    }
    h.update(&buf);
    Some(crate::hex::encode(&h.finalize()))
}

/// [`identities_digest`] of `deps`, paths below `dir` `stat`ed relative to
/// it. `None` when one is missing or a symlink (a memo never rests on a
/// link, and the check stops there: nothing below it is looked at).
pub fn deps_digest<'a>(
    dir: &HostDir,
    deps: impl Iterator<Item = &'a str>,
    before: Option<i128>,
) -> Option<String> {
    identities_digest(deps, before, |rel| {
        dir.stat_id(Path::new(rel))
            .ok()
            .filter(|id| id.mode & libc::S_IFMT != libc::S_IFLNK)
    })
}

/// One cached scan on disk: path, role, identity, result.
#[derive(Debug, Serialize, Deserialize)]
struct ScanEntry(
    String,
    Role,
    Ident,
    Option<String>,
    crate::findings::scan::FileScan,
);

/// One cached digest on disk: path, algorithm name, identity, hex digest.
#[derive(Debug, Serialize, Deserialize)]
struct DigestEntry(String, String, Ident, String);

/// One site memo on disk: environment, site directory, memo.
#[derive(Debug, Serialize, Deserialize)]
struct SiteEntry(String, String, SiteMemo);

/// One verification memo on disk: site directory, memo.
#[derive(Debug, Serialize, Deserialize)]
struct VerifyEntry(String, VerifyMemo);

/// One distribution memo on disk: site directory, memo.
#[derive(Debug, Serialize, Deserialize)]
struct DistEntry(String, DistMemo);

/// One cache file: a header that must match, then its entries.
#[derive(Debug, Serialize, Deserialize)]
struct OnDisk<T> {
    format: u32,
    version: String,
    rules: String,
    entries: Vec<T>,
}

/// The kinds of entries, one file each, loaded on first use of that kind
/// (a findings query never parses digests, provenance never scans).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Scans,
    Digests,
    Sites,
    Verified,
    Dists,
}

impl Kind {
    const ALL: [Kind; 5] = [
        Kind::Scans,
        Kind::Digests,
        Kind::Sites,
        Kind::Verified,
        Kind::Dists,
    ];

    /// File name suffix: `<root hash>.json`, `.digests.json`, `.sites.json`,
    /// `.verified.json`, `.dists.json`.
    fn suffix(self) -> &'static str {
        match self {
            Kind::Scans => ".json",
            Kind::Digests => ".digests.json",
            Kind::Sites => ".sites.json",
            Kind::Verified => ".verified.json",
            Kind::Dists => ".dists.json",
        }
    }
}

/// A value and whether this process used it (used ones survive trimming).
type Slot<V> = (Ident, V, bool);
type ScanSlot = Slot<Arc<ScannedFile>>;
type DigestSlot = Slot<Box<[u8]>>;

/// The value in `slots` under the key `is_key` picks, when it was kept at
/// identity `id`; marks it used (kept at the next save).
fn slot_get<K, V: Clone>(
    slots: &mut [(K, Slot<V>)],
    is_key: impl Fn(&K) -> bool,
    id: Ident,
) -> Option<V> {
    let (_, (i, v, used)) = slots.iter_mut().find(|(k, _)| is_key(k))?;
    if *i != id {
        return None;
    }
    *used = true;
    Some(v.clone())
}

/// Puts `slot` in `slots` under the key `is_key` picks, replacing what was
/// there, or under a new key made by `key`.
fn slot_put<K, V>(
    slots: &mut Vec<(K, Slot<V>)>,
    is_key: impl Fn(&K) -> bool,
    key: impl FnOnce() -> K,
    slot: Slot<V>,
) {
    match slots.iter_mut().find(|(k, _)| is_key(k)) {
        Some((_, s)) => *s = slot,
        None => slots.push((key(), slot)),
    }
}

#[derive(Debug, Default)]
struct State {
    loaded: [bool; 5],
    dirty: [bool; 5],
    /// By path, then by role (a path is scanned in one or two roles): looked
    /// up by `&Path`, no allocation per lookup.
    scans: HashMap<PathBuf, Vec<(Role, ScanSlot)>>,
    /// By path, then by algorithm.
    digests: HashMap<PathBuf, Vec<(String, DigestSlot)>>,
    /// By (environment, site directory).
    sites: HashMap<(String, String), (Arc<SiteMemo>, bool)>,
    /// By site directory.
    verified: HashMap<String, (Arc<VerifyMemo>, bool)>,
    /// By site directory.
    dists: HashMap<String, (Arc<DistMemo>, bool)>,
}

/// Counters of one process's use of the cache (for tests and benchmarks).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Entries read from disk.
    pub loaded: u64,
    /// Lookups answered.
    pub hits: u64,
    /// Lookups not answered (absent or stale).
    pub misses: u64,
    /// Times a cache file was written.
    pub saves: u64,
    /// Site directories whose whole scan was reused.
    pub site_hits: u64,
    /// Site directories whose whole RECORD verification was reused.
    pub verify_hits: u64,
    /// Site directories whose distributions were reused whole.
    pub dist_hits: u64,
}

/// The persistent cache of one examined root (see the module docs).
#[derive(Debug)]
pub struct PersistentCache {
    /// `<state_dir>/cache/<16 hex>`: each kind's file adds its suffix.
    stem: PathBuf,
    rules: String,
    state: Mutex<State>,
    loaded: AtomicU64,
    hits: AtomicU64,
    misses: AtomicU64,
    saves: AtomicU64,
    site_hits: AtomicU64,
    verify_hits: AtomicU64,
    dist_hits: AtomicU64,
}

/// SHA-256 of the built-in rules, first 16 hex: part of the cache version.
fn rules_hash() -> String {
    let d = Sha256::digest(crate::findings::rules::BUILTIN_RULES.as_bytes());
    crate::hex::encode(&d[..8])
}

/// True when `inner` is `outer` or below it (lexically, after making both
/// absolute and resolving what exists).
fn is_within(inner: &Path, outer: &Path) -> bool {
    let canon = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    // The state dir may not exist yet: resolve its nearest existing ancestor.
    let mut probe = inner.to_path_buf();
    let mut tail = Vec::new();
    while !probe.exists() {
        match (probe.parent(), probe.file_name()) {
            (Some(p), Some(n)) => {
                tail.push(n.to_os_string());
                probe = p.to_path_buf();
            }
            _ => break,
        }
    }
    let mut inner = canon(&probe);
    for n in tail.into_iter().rev() {
        inner.push(n);
    }
    inner.starts_with(canon(outer))
}

impl PersistentCache {
    /// The cache for the examined `root`, kept under `state_dir`; `None`
    /// (with a debug line saying why) when the state directory lies inside
    /// an examined root other than `/`. Nothing is read or created yet.
    pub fn open(state_dir: &Path, root: &Path) -> Option<Arc<PersistentCache>> {
        let is_live_root = std::fs::canonicalize(root).is_ok_and(|r| r == Path::new("/"));
        if !is_live_root && is_within(state_dir, root) {
            // Said once, when the process first tries to use the cache
            // (logging may not be set up yet).
            let why = format!(
                "persistent cache off: the state directory {} is inside the examined root {}",
                state_dir.display(),
                root.display()
            );
            let _ = OFF.lock().map(|mut o| o.push(why));
            return None;
        }
        let root_id = std::fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf());
        let name = crate::hex::encode(&Sha256::digest(root_id.as_os_str().as_encoded_bytes())[..8]);
        Some(Arc::new(PersistentCache {
            stem: state_dir.join("cache").join(name),
            rules: rules_hash(),
            state: Mutex::new(State::default()),
            loaded: AtomicU64::new(0),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            saves: AtomicU64::new(0),
            site_hits: AtomicU64::new(0),
            verify_hits: AtomicU64::new(0),
            dist_hits: AtomicU64::new(0),
        }))
    }

    fn path_of(&self, kind: Kind) -> PathBuf {
        let mut s = self.stem.clone().into_os_string();
        s.push(kind.suffix());
        PathBuf::from(s)
    }

    /// The path of the file of per-file scans (the other kinds sit beside
    /// it: `.digests.json`, `.sites.json`).
    pub fn file(&self) -> PathBuf {
        self.path_of(Kind::Scans)
    }

    /// The paths of every file this cache may write.
    pub fn files(&self) -> Vec<PathBuf> {
        Kind::ALL.iter().map(|k| self.path_of(*k)).collect()
    }

    /// This process's counters.
    pub fn stats(&self) -> CacheStats {
        CacheStats {
            loaded: self.loaded.load(Ordering::Relaxed),
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            saves: self.saves.load(Ordering::Relaxed),
            site_hits: self.site_hits.load(Ordering::Relaxed),
            verify_hits: self.verify_hits.load(Ordering::Relaxed),
            dist_hits: self.dist_hits.load(Ordering::Relaxed),
        }
    }

    fn with_state<T>(&self, kind: Kind, f: impl FnOnce(&mut State) -> T) -> Option<T> {
        let mut st = self.state.lock().ok()?;
        if !st.loaded[kind as usize] {
            st.loaded[kind as usize] = true;
            self.load(kind, &mut st);
        }
        Some(f(&mut st))
    }

    /// Reads one kind's file: `None` (and a debug line) when it is absent,
    /// untrusted, oversized, corrupt or from another version.
    fn read_file<T: DeserializeOwned>(&self, kind: Kind) -> Option<Vec<T>> {
        let path = self.path_of(kind);
        let discard = |why: &str| {
            log::debug!("persistent cache {}: {why}; starting empty", path.display());
        };
        let file = match std::fs::File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
            Err(e) => {
                discard(&format!("unreadable ({e})"));
                return None;
            }
        };
        // A cache someone else could have written would let them hide a
        // file from every scan: only one this user owns and alone can write
        // (file and directory) is trusted.
        // SAFETY: geteuid has no preconditions.
        let me = unsafe { libc::geteuid() };
        let private = |md: &Metadata| md.uid() == me && md.mode() & 0o022 == 0;
        let dir_ok = path
            .parent()
            .and_then(|d| std::fs::metadata(d).ok())
            .is_some_and(|md| private(&md));
        let why = match file.metadata() {
            Ok(md) if !md.is_file() => Some("not a regular file".to_string()),
            Ok(md) if !private(&md) || !dir_ok => {
                Some("writable by another user or not ours".to_string())
            }
            Ok(md) if md.len() > MAX_FILE_BYTES => Some("too large".to_string()),
            Err(e) => Some(format!("unreadable ({e})")),
            _ => None,
        };
        if let Some(why) = why {
            discard(&why);
            return None;
        }
        // Read whole, then parsed from the slice (much faster than from a
        // reader); the size was bounded above.
        let mut bytes = Vec::new();
        if let Err(e) =
            std::io::Read::read_to_end(&mut std::io::Read::take(file, MAX_FILE_BYTES), &mut bytes)
        {
            discard(&format!("unreadable ({e})"));
            return None;
        }
        let disk: OnDisk<T> = match serde_json::from_slice(&bytes) {
            Ok(d) => d,
            Err(e) => {
                discard(&format!("corrupt ({e})"));
                return None;
            }
        };
        if disk.format != FORMAT
            || disk.version != env!("CARGO_PKG_VERSION")
            || disk.rules != self.rules
        {
            discard("from another version of squatch or its rules");
            return None;
        }
        log::debug!(
            "persistent cache {}: {} entries loaded",
            path.display(),
            disk.entries.len()
        );
        self.loaded
            .fetch_add(disk.entries.len() as u64, Ordering::Relaxed);
        Some(disk.entries)
    }

    fn load(&self, kind: Kind, st: &mut State) {
        match kind {
            Kind::Scans => {
                for ScanEntry(path, role, id, sha256, scan) in
                    self.read_file(kind).unwrap_or_default()
                {
                    let value = Arc::new(ScannedFile { sha256, scan });
                    st.scans
                        .entry(PathBuf::from(path))
                        .or_default()
                        .push((role, (id, value, false)));
                }
            }
            Kind::Digests => {
                for DigestEntry(path, algo, id, hex) in self.read_file(kind).unwrap_or_default() {
                    if let Some(d) = crate::hex::decode(&hex).map(Vec::into_boxed_slice) {
                        st.digests
                            .entry(PathBuf::from(path))
                            .or_default()
                            .push((algo, (id, d, false)));
                    }
                }
            }
            Kind::Sites => {
                for SiteEntry(env, site, memo) in self.read_file(kind).unwrap_or_default() {
                    st.sites.insert((env, site), (Arc::new(memo), false));
                }
            }
            Kind::Verified => {
                for VerifyEntry(site, memo) in self.read_file(kind).unwrap_or_default() {
                    st.verified.insert(site, (Arc::new(memo), false));
                }
            }
            Kind::Dists => {
                for DistEntry(site, memo) in self.read_file(kind).unwrap_or_default() {
                    st.dists.insert(site, (Arc::new(memo), false));
                }
            }
        }
    }

    fn count(&self, hit: bool) {
        if hit {
            self.hits.fetch_add(1, Ordering::Relaxed);
        } else {
            self.misses.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The scan of `path` as `role` when the file still has identity `id`.
    pub fn scan(&self, path: &Path, role: Role, id: Ident) -> Option<Arc<ScannedFile>> {
        let hit = self
            .with_state(Kind::Scans, |st| {
                slot_get(st.scans.get_mut(path)?, |r| *r == role, id)
            })
            .flatten();
        self.count(hit.is_some());
        hit
    }

    /// Remembers a scan of `path` at identity `id`.
    pub fn put_scan(&self, path: &Path, role: Role, id: Ident, value: Arc<ScannedFile>) {
        self.with_state(Kind::Scans, |st| {
            let slots = st.scans.entry(path.to_path_buf()).or_default();
            slot_put(slots, |r| *r == role, || role, (id, value, true));
            st.dirty[Kind::Scans as usize] = true;
        });
    }

    /// The `algo` digest of `path` when the file still has identity `id`.
    pub fn digest(&self, path: &Path, algo: &str, id: Ident) -> Option<Box<[u8]>> {
        let hit = self
            .with_state(Kind::Digests, |st| {
                slot_get(st.digests.get_mut(path)?, |a| a == algo, id)
            })
            .flatten();
        self.count(hit.is_some());
        hit
    }

    /// Remembers the `algo` digest of `path` at identity `id`.
    pub fn put_digest(&self, path: &Path, algo: &str, id: Ident, digest: &[u8]) {
        self.with_state(Kind::Digests, |st| {
            let slots = st.digests.entry(path.to_path_buf()).or_default();
            slot_put(
                slots,
                |a| a == algo,
                || algo.to_string(),
                (id, digest.into(), true),
            );
            st.dirty[Kind::Digests as usize] = true;
        });
    }

    /// The memo of the site directory `site` scanned as part of `env`, if
    /// one was kept; the caller checks that it still holds
    /// ([`PersistentCache::site_hit`] once it does).
    pub fn site_memo(&self, env: &Path, site: &Path) -> Option<Arc<SiteMemo>> {
        let (env, site) = (env.to_str()?, site.to_str()?);
        let key = (env.to_string(), site.to_string());
        self.with_state(Kind::Sites, |st| take_memo(&mut st.sites, &key))
            .flatten()
    }

    /// Counts a site memo that was found still valid and reused.
    pub fn site_hit(&self) {
        self.site_hits.fetch_add(1, Ordering::Relaxed);
        self.hits.fetch_add(1, Ordering::Relaxed);
    }

    /// Remembers (or, with `None`, forgets) the memo of `site` scanned as
    /// part of `env`. Paths that are not UTF-8 are not kept.
    pub fn put_site_memo(&self, env: &Path, site: &Path, memo: Option<SiteMemo>) {
        let (Some(env), Some(site)) = (env.to_str(), site.to_str()) else {
            return;
        };
        let key = (env.to_string(), site.to_string());
        self.with_state(Kind::Sites, |st| {
            st.dirty[Kind::Sites as usize] |= put_memo(&mut st.sites, key, memo);
        });
    }

    /// The verification memo of the site directory `site`, if one was
    /// kept; the caller checks that it still holds
    /// ([`PersistentCache::verify_hit`] once it does).
    pub fn verify_memo(&self, site: &Path) -> Option<Arc<VerifyMemo>> {
        let site = site.to_str()?;
        self.with_state(Kind::Verified, |st| take_memo(&mut st.verified, site))
            .flatten()
    }

    /// Counts a verification memo that was found still valid and reused.
    pub fn verify_hit(&self) {
        self.verify_hits.fetch_add(1, Ordering::Relaxed);
        self.hits.fetch_add(1, Ordering::Relaxed);
    }

    /// Remembers (or, with `None`, forgets) the verification memo of
    /// `site`. Paths that are not UTF-8 are not kept.
    pub fn put_verify_memo(&self, site: &Path, memo: Option<VerifyMemo>) {
        let Some(site) = site.to_str() else {
            return;
        };
        self.with_state(Kind::Verified, |st| {
            st.dirty[Kind::Verified as usize] |= put_memo(&mut st.verified, site.to_string(), memo);
        });
    }

    /// The distribution memo of the site directory `site`, if one was
    /// kept; the caller checks that it still holds
    /// ([`PersistentCache::dist_hit`] once it does).
    pub fn dist_memo(&self, site: &Path) -> Option<Arc<DistMemo>> {
        let site = site.to_str()?;
        self.with_state(Kind::Dists, |st| take_memo(&mut st.dists, site))
            .flatten()
    }

    /// Counts a distribution memo that was found still valid and reused.
    pub fn dist_hit(&self) {
        self.dist_hits.fetch_add(1, Ordering::Relaxed);
        self.hits.fetch_add(1, Ordering::Relaxed);
    }

    /// Remembers (or, with `None`, forgets) the distribution memo of
    /// `site`. Paths that are not UTF-8 are not kept.
    pub fn put_dist_memo(&self, site: &Path, memo: Option<DistMemo>) {
        let Some(site) = site.to_str() else {
            return;
        };
        self.with_state(Kind::Dists, |st| {
            st.dirty[Kind::Dists as usize] |= put_memo(&mut st.dists, site.to_string(), memo);
        });
    }

    /// Writes the kinds this process changed: temp file in the same
    /// directory, then rename. Failures are logged at debug level and
    /// otherwise ignored (a read-only state directory means no cache).
    pub fn save(&self) {
        let Ok(mut st) = self.state.lock() else {
            return;
        };
        for kind in Kind::ALL {
            if !st.dirty[kind as usize] {
                continue;
            }
            match self.write(kind, &st) {
                Ok(()) => {
                    st.dirty[kind as usize] = false;
                    self.saves.fetch_add(1, Ordering::Relaxed);
                }
                Err(e) => log::debug!(
                    "persistent cache not written to {}: {e}",
                    self.path_of(kind).display()
                ),
            }
        }
        let s = self.stats();
        log::debug!(
            "persistent cache: {} loaded, {} hits, {} misses, {} sites reused, {} site verifications reused, {} site distribution lists reused",
            s.loaded,
            s.hits,
            s.misses,
            s.site_hits,
            s.verify_hits,
            s.dist_hits
        );
    }

    /// Streams one kind's file to `w`, entries borrowed from `st` (never
    /// copied nor built whole in memory): those this process used first,
    /// then the rest, at most [`MAX_ENTRIES`]. Only UTF-8 paths are written
    /// (a lossy name could stand for another file); the others are simply
    /// scanned again.
    fn encode(&self, kind: Kind, st: &State, w: impl Write) -> serde_json::Result<()> {
        fn stream<T: Serialize>(
            c: &PersistentCache,
            w: impl Write,
            entries: impl Iterator<Item = (bool, T)> + Clone,
        ) -> serde_json::Result<()> {
            let used = entries.clone().filter(|(u, _)| *u);
            let rest = entries.filter(|(u, _)| !*u);
            let all = used.chain(rest).map(|(_, t)| t).take(MAX_ENTRIES);
            let disk = OnDiskOut {
                format: FORMAT,
                version: env!("CARGO_PKG_VERSION"),
                rules: &c.rules,
                entries: Seq(std::cell::RefCell::new(Some(all))),
            };
            serde_json::to_writer(w, &disk)
        }
        match kind {
            Kind::Scans => stream(
                self,
                w,
                st.scans
                    .iter()
                    .flat_map(|(p, slots)| slots.iter().map(move |s| (p, s)))
                    .filter_map(|(p, (role, (id, v, used)))| {
                        Some((*used, ScanOut(p.to_str()?, *role, *id, &v.sha256, &v.scan)))
                    }),
            ),
            Kind::Digests => stream(
                self,
                w,
                st.digests
                    .iter()
                    .flat_map(|(p, slots)| slots.iter().map(move |s| (p, s)))
                    .filter_map(|(p, (algo, (id, d, used)))| {
                        Some((
                            *used,
                            DigestOut(p.to_str()?, algo, *id, crate::hex::encode(d)),
                        ))
                    }),
            ),
            Kind::Sites => stream(
                self,
                w,
                st.sites
                    .iter()
                    .map(|((e, s), (m, used))| (*used, SiteOut(e, s, m))),
            ),
            Kind::Verified => stream(
                self,
                w,
                st.verified
                    .iter()
                    .map(|(s, (m, used))| (*used, VerifyOut(s, m))),
            ),
            Kind::Dists => stream(
                self,
                w,
                st.dists.iter().map(|(s, (m, used))| (*used, DistOut(s, m))),
            ),
        }
    }

    /// Writes one kind's file: streamed into a temp file in the same
    /// directory (at most [`MAX_FILE_BYTES`]), then renamed over the old
    /// one, so a reader sees the old file or the new one, whole.
    fn write(&self, kind: Kind, st: &State) -> std::io::Result<()> {
        let file = self.path_of(kind);
        let dir = file.parent().unwrap_or(Path::new("."));
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)?;
        let tmp = dir.join(format!(
            ".{}.{}.tmp",
            file.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            std::process::id()
        ));
        let result = (|| {
            let f = std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .custom_flags(libc::O_NOFOLLOW)
                .open(&tmp)?;
            let mut w = Bounded {
                inner: std::io::BufWriter::with_capacity(256 << 10, f),
                left: MAX_FILE_BYTES,
            };
            self.encode(kind, st, &mut w)
                .map_err(std::io::Error::other)?;
            let f = w.inner.into_inner().map_err(|e| e.into_error())?;
            f.sync_all()?;
            std::fs::rename(&tmp, &file)
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(&tmp);
        } else {
            prune(dir, &file);
        }
        result
    }
}

/// A writer that fails once more than `left` bytes were written (a cache
/// file is bounded).
struct Bounded<W> {
    inner: W,
    left: u64,
}

impl<W: Write> Write for Bounded<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if buf.len() as u64 > self.left {
            return Err(std::io::Error::other("cache larger than its bound"));
        }
        let n = self.inner.write(buf)?;
        self.left -= n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// A cache file as written: the header of [`OnDisk`], then its entries
/// streamed from an iterator.
#[derive(Serialize)]
struct OnDiskOut<'a, E: Serialize> {
    format: u32,
    version: &'a str,
    rules: &'a str,
    entries: E,
}

/// Serialises the entries of an iterator as a sequence, once.
struct Seq<I>(std::cell::RefCell<Option<I>>);

impl<I> Serialize for Seq<I>
where
    I: Iterator,
    I::Item: Serialize,
{
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let it = self.0.borrow_mut().take();
        s.collect_seq(it.into_iter().flatten())
    }
}

/// [`ScanEntry`] as written, borrowed.
#[derive(Serialize)]
struct ScanOut<'a>(
    &'a str,
    Role,
    Ident,
    &'a Option<String>,
    &'a crate::findings::scan::FileScan,
);

/// [`DigestEntry`] as written, borrowed.
#[derive(Serialize)]
struct DigestOut<'a>(&'a str, &'a str, Ident, String);

/// [`SiteEntry`] as written, borrowed.
#[derive(Serialize)]
struct SiteOut<'a>(&'a str, &'a str, &'a SiteMemo);

/// [`VerifyEntry`] as written, borrowed.
#[derive(Serialize)]
struct VerifyOut<'a>(&'a str, &'a VerifyMemo);

/// [`DistEntry`] as written, borrowed.
#[derive(Serialize)]
struct DistOut<'a>(&'a str, &'a DistMemo);

/// Removes the cache files of the least recently written roots of `dir`
/// beyond [`MAX_ROOTS`] (never those of `keep`, the file just written). A
/// root's files share the name up to the first `.`.
fn prune(dir: &Path, keep: &Path) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let stem = |name: &str| name.split('.').next().unwrap_or("").to_string();
    let keep_stem = keep
        .file_name()
        .map(|n| stem(&n.to_string_lossy()))
        .unwrap_or_default();
    let mut roots: HashMap<String, (std::time::SystemTime, Vec<PathBuf>)> = HashMap::new();
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if !name.ends_with(".json") || name.starts_with('.') {
            continue;
        }
        let Ok(md) = e.metadata() else { continue };
        let Ok(t) = md.modified() else { continue };
        if !md.is_file() {
            continue;
        }
        let slot = roots
            .entry(stem(&name))
            .or_insert((std::time::UNIX_EPOCH, Vec::new()));
        slot.0 = slot.0.max(t);
        slot.1.push(e.path());
    }
    if roots.len() <= MAX_ROOTS {
        return;
    }
    let mut by_age: Vec<(std::time::SystemTime, String, Vec<PathBuf>)> =
        roots.into_iter().map(|(k, (t, f))| (t, k, f)).collect();
    by_age.sort();
    let extra = by_age.len() - MAX_ROOTS;
    for (_, k, files) in by_age.into_iter().take(extra) {
        if k != keep_stem {
            for p in files {
                let _ = std::fs::remove_file(p);
            }
        }
    }
}

/// The memo kept under `key` in one of [`State`]'s memo maps, marked used
/// (so that saving keeps it).
fn take_memo<K, Q, M>(map: &mut HashMap<K, (Arc<M>, bool)>, key: &Q) -> Option<Arc<M>>
where
    K: std::borrow::Borrow<Q> + std::hash::Hash + Eq,
    Q: std::hash::Hash + Eq + ?Sized,
{
    let (memo, used) = map.get_mut(key)?;
    *used = true;
    Some(memo.clone())
}

/// Keeps `memo` under `key` in one of [`State`]'s memo maps (or, with
/// `None`, forgets it); true when the map changed (its file needs writing).
fn put_memo<K: std::hash::Hash + Eq, M: PartialEq>(
    map: &mut HashMap<K, (Arc<M>, bool)>,
    key: K,
    memo: Option<M>,
) -> bool {
    match memo {
        Some(m) => {
            let same = map.get(&key).is_some_and(|(old, _)| **old == m);
            map.insert(key, (Arc::new(m), true));
            !same
        }
        None => map.remove(&key).is_some(),
    }
}

/// Why a cache was not opened, to be logged once logging is up.
static OFF: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Every cache opened through [`open_shared`] in this process.
static OPEN: Mutex<Vec<(PathBuf, Arc<PersistentCache>)>> = Mutex::new(Vec::new());

/// The process's one cache for (`state_dir`, `root`): opened on first call,
/// the same one after, so that every table of a process shares it and
/// [`save_all`] can write it at the end.
pub fn open_shared(state_dir: &Path, root: &Path) -> Option<Arc<PersistentCache>> {
    let key = state_dir.join(root.as_os_str());
    let mut open = OPEN.lock().ok()?;
    if let Some((_, c)) = open.iter().find(|(k, _)| *k == key) {
        return Some(c.clone());
    }
    let c = PersistentCache::open(state_dir, root)?;
    open.push((key, c.clone()));
    Some(c)
}

/// Writes every cache opened through [`open_shared`] that changed. Called
/// at the end of `squatch query`, `hunt`, the shell, and periodically in
/// extension mode.
pub fn save_all() {
    if let Ok(mut off) = OFF.lock() {
        for why in off.drain(..) {
            log::debug!("{why}");
        }
    }
    let open: Vec<Arc<PersistentCache>> = match OPEN.lock() {
        Ok(o) => o.iter().map(|(_, c)| c.clone()).collect(),
        Err(_) => return,
    };
    for c in open {
        c.save();
    }
}

/// Saves every open cache every `every` from a background thread (extension
/// mode, where the process runs for days).
pub fn spawn_periodic_save(every: std::time::Duration) {
    let _ = std::thread::Builder::new()
        .name("squatch-cache-save".into())
        .spawn(move || loop {
            std::thread::sleep(every);
            save_all();
        });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::findings::scan::FileScan;

    #[test]
    fn identities_digest_is_the_sha256_of_every_field_in_turn() {
        let paths: Vec<String> = (0..3000)
            .map(|i| format!("pkg{i}/mod_{i:0>40}.py"))
            .collect();
        let id = |i: usize| StatId {
            dev: 7,
            ino: i as u64,
            size: 3 * i as u64,
            mtime_ns: 1_700_000_000_000_000_000 + i as i128,
            ctime_ns: 1_700_000_000_000_000_001 + i as i128,
            mode: libc::S_IFREG | 0o644,
        };
        let got = identities_digest(paths.iter().map(String::as_str), None, |p| {
            Some(id(p[3..p.find('/').unwrap()].parse().unwrap()))
        })
        .unwrap();
        let mut h = Sha256::new();
        // SAFETY: geteuid has no preconditions.
        h.update(unsafe { libc::geteuid() }.to_le_bytes());
        for (i, p) in paths.iter().enumerate() {
            let id = id(i);
            h.update(p.as_bytes());
            h.update([0]);
            for n in [id.dev, id.ino, id.size, u64::from(id.mode)] {
                h.update(n.to_le_bytes());
            }
            h.update(id.mtime_ns.to_le_bytes());
            h.update(id.ctime_ns.to_le_bytes());
        }
        assert_eq!(got, crate::hex::encode(&h.finalize()));
        // One changed identity changes it; a path `stat` cannot rest on
        // gives none.
        let other = identities_digest(paths.iter().map(String::as_str), None, |p| {
            let i: usize = p[3..p.find('/').unwrap()].parse().unwrap();
            Some(StatId {
                ctime_ns: id(i).ctime_ns + i128::from(i == 2999),
                ..id(i)
            })
        });
        assert_ne!(other.as_deref(), Some(got.as_str()));
        assert_eq!(
            identities_digest(paths.iter().map(String::as_str), None, |_| None),
            None
        );
    }

    fn scanned(sha: &str) -> Arc<ScannedFile> {
        Arc::new(ScannedFile {
            sha256: Some(sha.to_string()),
            scan: FileScan::default(),
        })
    }

    #[test]
    fn round_trip_and_identity_must_match() {
        let state = tempfile::tempdir().unwrap();
        let root = tempfile::tempdir().unwrap();
        let id = Ident(1, 2, 3, 4, 5);
        let c = PersistentCache::open(state.path(), root.path()).unwrap();
        c.put_scan(Path::new("/a.py"), Role::Module, id, scanned("ab"));
        c.put_digest(Path::new("/a.py"), "sha256", id, &[0xab, 0xcd]);
        c.save();
        assert_eq!(c.stats().saves, 2, "one file per kind");
        let md = std::fs::metadata(c.file()).unwrap();
        assert_eq!(md.mode() & 0o777, 0o600);
        let dmd = std::fs::metadata(c.file().parent().unwrap()).unwrap();
        assert_eq!(dmd.mode() & 0o777, 0o700);

        let c2 = PersistentCache::open(state.path(), root.path()).unwrap();
        let hit = c2.scan(Path::new("/a.py"), Role::Module, id).unwrap();
        assert_eq!(hit.sha256.as_deref(), Some("ab"));
        assert_eq!(
            c2.digest(Path::new("/a.py"), "sha256", id).as_deref(),
            Some(&[0xab, 0xcd][..])
        );
        // Another ctime, another role, another path: misses.
        assert!(c2
            .scan(Path::new("/a.py"), Role::Module, Ident(1, 2, 3, 4, 6))
            .is_none());
        assert!(c2.scan(Path::new("/a.py"), Role::Import, id).is_none());
        assert!(c2.scan(Path::new("/b.py"), Role::Module, id).is_none());
        let s = c2.stats();
        assert_eq!((s.loaded, s.hits, s.misses), (2, 2, 3));
        // Nothing changed: nothing written.
        c2.save();
        assert_eq!(c2.stats().saves, 0);
    }

    #[test]
    fn site_memos_round_trip_in_their_own_file() {
        let state = tempfile::tempdir().unwrap();
        let root = tempfile::tempdir().unwrap();
        let memo = SiteMemo {
            site: Ident(1, 2, 3, 4, 5),
            deps: "a\na/b.py".into(),
            digest: "ab".into(),
            findings: Vec::new(),
            problems: vec![("/s/a".into(), String::new(), "unreadable".into())],
        };
        let (env, site) = (Path::new("/e"), Path::new("/e/s"));
        let c = PersistentCache::open(state.path(), root.path()).unwrap();
        assert!(c.site_memo(env, site).is_none());
        c.put_site_memo(env, site, Some(memo.clone()));
        c.save();
        assert_eq!(c.stats().saves, 1, "only the sites file");
        assert!(!c.file().exists());
        let c2 = PersistentCache::open(state.path(), root.path()).unwrap();
        assert_eq!(c2.site_memo(env, site).as_deref(), Some(&memo));
        assert!(c2.site_memo(Path::new("/other"), site).is_none());
        // The same memo again: nothing to write; forgetting it: written.
        c2.put_site_memo(env, site, Some(memo.clone()));
        c2.save();
        assert_eq!(c2.stats().saves, 0);
        c2.put_site_memo(env, site, None);
        c2.save();
        assert_eq!(c2.stats().saves, 1);
        let c3 = PersistentCache::open(state.path(), root.path()).unwrap();
        assert!(c3.site_memo(env, site).is_none());
        // A corrupt sites file is thrown away whole.
        c3.put_site_memo(env, site, Some(memo.clone()));
        c3.save();
        let sites = c3
            .files()
            .into_iter()
            .find(|f| f.to_string_lossy().ends_with(".sites.json"))
            .unwrap();
        assert!(sites.exists());
        let text = std::fs::read_to_string(&sites).unwrap();
        std::fs::write(&sites, &text[..text.len() - 3]).unwrap();
        let c4 = PersistentCache::open(state.path(), root.path()).unwrap();
        assert!(c4.site_memo(env, site).is_none());
        assert_eq!(c4.stats().loaded, 0);
    }

    #[test]
    fn verify_memos_round_trip_in_their_own_file() {
        use crate::python::verify::Verification;
        let state = tempfile::tempdir().unwrap();
        let root = tempfile::tempdir().unwrap();
        let site = Path::new("/venv/lib/python3.12/site-packages");
        let c = PersistentCache::open(state.path(), root.path()).unwrap();
        // A verification as a real one comes (read back from a first pass).
        let v: Verification = serde_json::from_str(
            r#"{"status":"Modified","reference":"Record","dpkg_package":null,"files_checked":2,
               "files_modified":1,"files_missing":0,"files_unrecorded":0,
               "files_outside_environment":0,"files_unverifiable":0,
               "changed":[["/venv/lib/python3.12/site-packages/a/x.py","Modified"]],"error":null}"#,
        )
        .unwrap();
        let memo = VerifyMemo {
            site: Ident(1, 2, 3, 4, 5),
            rel: "a-1.0.dist-info\na-1.0.dist-info/RECORD\na".into(),
            files: "a/x.py\na/y.py".into(),
            digest: "ab".repeat(32),
            dists: vec![(format!("{}/a-1.0.dist-info", site.display()), v)],
        };
        assert!(c.verify_memo(site).is_none());
        c.put_verify_memo(site, Some(memo.clone()));
        c.save();
        assert_eq!(c.stats().saves, 1, "only the verified file");
        let c2 = PersistentCache::open(state.path(), root.path()).unwrap();
        assert_eq!(c2.verify_memo(site).as_deref(), Some(&memo));
        assert!(c2.site_memo(Path::new("/venv"), site).is_none());
        c2.put_verify_memo(site, Some(memo.clone()));
        c2.save();
        assert_eq!(c2.stats().saves, 0, "unchanged: not written");
        c2.put_verify_memo(site, None);
        c2.save();
        let c3 = PersistentCache::open(state.path(), root.path()).unwrap();
        assert!(c3.verify_memo(site).is_none());
    }

    #[test]
    fn dist_memos_round_trip_in_their_own_file_and_a_corrupt_one_is_thrown_away() {
        let state = tempfile::tempdir().unwrap();
        let root = tempfile::tempdir().unwrap();
        let site = Path::new("/venv/lib/python3.12/site-packages");
        let stored: crate::python::distribution::StoredDist = serde_json::from_str(
            r#"["foo-1.0.dist-info",0,["foo","foo","1.0"],
               [["2.1","foo","1.0",null,null,null,null,null,null,null,null,null],[],[],false],
               ["pip",null,true],null,null]"#,
        )
        .unwrap();
        let memo = DistMemo {
            site: Ident(1, 2, 3, 4, 5),
            rel: "foo-1.0.dist-info\nfoo-1.0.dist-info/METADATA".into(),
            digest: "ab".repeat(32),
            dists: vec![stored],
        };
        let c = PersistentCache::open(state.path(), root.path()).unwrap();
        assert!(c.dist_memo(site).is_none());
        c.put_dist_memo(site, Some(memo.clone()));
        c.save();
        assert_eq!(c.stats().saves, 1, "only the dists file");
        let file = c.path_of(Kind::Dists);
        assert!(file.to_string_lossy().ends_with(".dists.json"));
        assert_eq!(std::fs::metadata(&file).unwrap().mode() & 0o777, 0o600);
        let c2 = PersistentCache::open(state.path(), root.path()).unwrap();
        assert_eq!(c2.dist_memo(site).as_deref(), Some(&memo));
        assert!(c2.verify_memo(site).is_none());
        c2.put_dist_memo(site, Some(memo.clone()));
        c2.save();
        assert_eq!(c2.stats().saves, 0, "unchanged: not written");
        // Corrupt: thrown away whole, nothing loaded.
        let text = std::fs::read_to_string(&file).unwrap();
        std::fs::write(&file, &text[..text.len() - 5]).unwrap();
        let c3 = PersistentCache::open(state.path(), root.path()).unwrap();
        assert!(c3.dist_memo(site).is_none());
        assert_eq!(c3.stats().loaded, 0);
        // Forgotten: gone from the file.
        c3.put_dist_memo(site, Some(memo.clone()));
        c3.save();
        let c4 = PersistentCache::open(state.path(), root.path()).unwrap();
        assert!(c4.dist_memo(site).is_some());
        c4.put_dist_memo(site, None);
        c4.save();
        let c5 = PersistentCache::open(state.path(), root.path()).unwrap();
        assert!(c5.dist_memo(site).is_none());
    }

    #[test]
    fn seen_ids_are_found_by_path() {
        let id = |n| StatId {
            ino: n,
            ..StatId::default()
        };
        let seen = SeenIds {
            site: PathBuf::from("/s"),
            ids: vec![
                ("a.dist-info".into(), id(1)),
                ("a.dist-info/METADATA".into(), id(2)),
                ("b.dist-info".into(), id(3)),
            ],
        };
        assert_eq!(seen.get("a.dist-info/METADATA"), Some(id(2)));
        assert_eq!(seen.get("b.dist-info"), Some(id(3)));
        assert_eq!(seen.get("a.dist-info/INSTALLER"), None);
    }

    #[test]
    fn a_file_over_the_bound_is_not_written_and_the_old_one_stays() {
        let state = tempfile::tempdir().unwrap();
        let root = tempfile::tempdir().unwrap();
        let c = PersistentCache::open(state.path(), root.path()).unwrap();
        let id = Ident(1, 2, 3, 4, 5);
        c.put_digest(Path::new("/a"), "sha256", id, &[1; 32]);
        c.save();
        let file = c.path_of(Kind::Digests);
        let old = std::fs::read(&file).unwrap();
        let mut w = Bounded {
            inner: Vec::new(),
            left: 100,
        };
        let st = c.state.lock().unwrap();
        assert!(
            c.encode(Kind::Digests, &st, &mut w).is_err(),
            "over 100 bytes"
        );
        assert!(c.encode(Kind::Digests, &st, Vec::new()).is_ok());
        drop(st);
        assert_eq!(std::fs::read(&file).unwrap(), old);
        // No temp file left behind.
        let names: Vec<_> = std::fs::read_dir(file.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 1, "{names:?}");
    }

    #[test]
    fn corrupt_or_foreign_versions_are_thrown_away() {
        let state = tempfile::tempdir().unwrap();
        let root = tempfile::tempdir().unwrap();
        let id = Ident(1, 2, 3, 4, 5);
        let c = PersistentCache::open(state.path(), root.path()).unwrap();
        c.put_scan(Path::new("/a.py"), Role::Module, id, scanned("ab"));
        c.save();
        let file = c.file().to_path_buf();
        let good = std::fs::read_to_string(&file).unwrap();

        for bad in [
            good.replace(env!("CARGO_PKG_VERSION"), "0.0.0-other"),
            good.replace(&rules_hash(), "0000000000000000"),
            good[..good.len() / 2].to_string(),
            "\u{0}\u{1}garbage".to_string(),
        ] {
            std::fs::write(&file, &bad).unwrap();
            let c = PersistentCache::open(state.path(), root.path()).unwrap();
            assert!(c.scan(Path::new("/a.py"), Role::Module, id).is_none());
            assert_eq!(c.stats().loaded, 0);
            // A new entry then replaces the whole file.
            c.put_scan(Path::new("/b.py"), Role::Module, id, scanned("cd"));
            c.save();
            let again = PersistentCache::open(state.path(), root.path()).unwrap();
            assert!(again.scan(Path::new("/b.py"), Role::Module, id).is_some());
            assert!(again.scan(Path::new("/a.py"), Role::Module, id).is_none());
        }
    }

    #[test]
    fn a_cache_others_can_write_is_not_trusted() {
        use std::os::unix::fs::PermissionsExt;
        let state = tempfile::tempdir().unwrap();
        let root = tempfile::tempdir().unwrap();
        let id = Ident(1, 2, 3, 4, 5);
        let c = PersistentCache::open(state.path(), root.path()).unwrap();
        c.put_scan(Path::new("/a.py"), Role::Module, id, scanned("ab"));
        c.save();
        let file = c.file().to_path_buf();
        let dir = file.parent().unwrap().to_path_buf();
        for (path, mode, back) in [(&file, 0o622, 0o600), (&dir, 0o777, 0o700)] {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
            let c = PersistentCache::open(state.path(), root.path()).unwrap();
            assert!(c.scan(Path::new("/a.py"), Role::Module, id).is_none());
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(back)).unwrap();
            let c = PersistentCache::open(state.path(), root.path()).unwrap();
            assert!(c.scan(Path::new("/a.py"), Role::Module, id).is_some());
        }
    }

    #[test]
    fn at_most_max_roots_cache_files_are_kept() {
        let state = tempfile::tempdir().unwrap();
        let roots: Vec<_> = (0..MAX_ROOTS + 3)
            .map(|_| tempfile::tempdir().unwrap())
            .collect();
        let mut last = PathBuf::new();
        for r in &roots {
            let c = PersistentCache::open(state.path(), r.path()).unwrap();
            c.put_scan(
                Path::new("/a.py"),
                Role::Module,
                Ident(1, 1, 1, 1, 1),
                scanned("ab"),
            );
            c.save();
            last = c.file().to_path_buf();
        }
        let n = std::fs::read_dir(state.path().join("cache"))
            .unwrap()
            .count();
        assert_eq!(n, MAX_ROOTS);
        assert!(last.exists());
    }

    #[test]
    fn unwritable_state_dir_is_no_error() {
        let root = tempfile::tempdir().unwrap();
        let c =
            PersistentCache::open(Path::new("/proc/squatch-no-such/state"), root.path()).unwrap();
        c.put_scan(
            Path::new("/a.py"),
            Role::Module,
            Ident(1, 1, 1, 1, 1),
            scanned("ab"),
        );
        c.save();
        assert_eq!(c.stats().saves, 0);
    }

    #[test]
    fn state_dir_inside_an_examined_root_turns_the_cache_off() {
        let root = tempfile::tempdir().unwrap();
        assert!(PersistentCache::open(&root.path().join("var/lib/squatch"), root.path()).is_none());
        let elsewhere = tempfile::tempdir().unwrap();
        assert!(PersistentCache::open(elsewhere.path(), root.path()).is_some());
        // On the live host the state dir is necessarily below `/`.
        assert!(PersistentCache::open(Path::new("/var/lib/squatch"), Path::new("/")).is_some());
    }
}
