//! The persistent cache: per-file scan results and RECORD digests kept
//! between processes under the state directory, so that a new `squatch
//! query`, `hunt` or an osqueryd restart does not pay the whole scan again.
//!
//! - Where: `<state_dir>/cache/<16 hex of SHA-256 of the root>.json`, one file
//!   per examined root, the directory 0700 and the file 0600. Never inside
//!   `--root` (a state directory below an examined root other than `/` turns
//!   the cache off).
//! - Keys: host path plus the file's identity (device, inode, size, mtime and
//!   ctime in nanoseconds). The change time cannot be set back from user
//!   space, so a file edited in place with its mtime restored misses.
//! - Versioned: the file records the binary's version and a hash of the
//!   rules it was scanned with; any difference, any parse error, an
//!   unreadable or oversized file throws the whole cache away.
//! - Bounded: at most [`MAX_ENTRIES`] entries of each kind (entries used by
//!   this process are kept first), [`MAX_FILE_BYTES`] per file and
//!   [`MAX_ROOTS`] files (the least recently written go first).
//! - Lazy: read on first use; written with [`PersistentCache::save`]
//!   (temp file + rename) when something changed.
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

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::findings::target::ScannedFile;
use crate::findings::Role;
use crate::host::StatId;

/// Format of the cache file; bump when its layout changes.
const FORMAT: u32 = 1;

/// Most entries of each kind (scans, digests) kept on disk.
pub const MAX_ENTRIES: usize = 400_000;

/// Most cache files (examined roots) kept in `<state_dir>/cache/`; saving
/// removes the least recently written beyond it, so that disk use stays
/// bounded however many images are examined.
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

/// The whole cache file.
#[derive(Debug, Serialize, Deserialize)]
struct OnDisk {
    format: u32,
    version: String,
    rules: String,
    scans: Vec<ScanEntry>,
    digests: Vec<DigestEntry>,
}

/// A value and whether this process used it (used ones survive trimming).
type Slot<V> = (Ident, V, bool);

#[derive(Debug, Default)]
struct State {
    loaded: bool,
    dirty: bool,
    scans: HashMap<(PathBuf, Role), Slot<Arc<ScannedFile>>>,
    digests: HashMap<(PathBuf, String), Slot<Box<[u8]>>>,
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
    /// Times the cache file was written.
    pub saves: u64,
}

/// The persistent cache of one examined root (see the module docs).
#[derive(Debug)]
pub struct PersistentCache {
    file: PathBuf,
    rules: String,
    state: Mutex<State>,
    loaded: AtomicU64,
    hits: AtomicU64,
    misses: AtomicU64,
    saves: AtomicU64,
}

/// SHA-256 of the built-in rules, first 16 hex: part of the cache version.
fn rules_hash() -> String {
    let d = Sha256::digest(crate::findings::rules::BUILTIN_RULES.as_bytes());
    d.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

fn to_hex(b: &[u8]) -> String {
    b.iter().map(|b| format!("{b:02x}")).collect()
}

fn from_hex(s: &str) -> Option<Box<[u8]>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
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
        let name: String = Sha256::digest(root_id.as_os_str().as_encoded_bytes())
            .iter()
            .take(8)
            .map(|b| format!("{b:02x}"))
            .collect();
        Some(Arc::new(PersistentCache {
            file: state_dir.join("cache").join(format!("{name}.json")),
            rules: rules_hash(),
            state: Mutex::new(State::default()),
            loaded: AtomicU64::new(0),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            saves: AtomicU64::new(0),
        }))
    }

    /// The cache file's path.
    pub fn file(&self) -> &Path {
        &self.file
    }

    /// This process's counters.
    pub fn stats(&self) -> CacheStats {
        CacheStats {
            loaded: self.loaded.load(Ordering::Relaxed),
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            saves: self.saves.load(Ordering::Relaxed),
        }
    }

    fn with_state<T>(&self, f: impl FnOnce(&mut State) -> T) -> Option<T> {
        let mut st = self.state.lock().ok()?;
        if !st.loaded {
            st.loaded = true;
            self.load(&mut st);
        }
        Some(f(&mut st))
    }

    fn load(&self, st: &mut State) {
        let discard = |why: &str| {
            log::debug!(
                "persistent cache {}: {why}; starting empty",
                self.file.display()
            );
        };
        let file = match std::fs::File::open(&self.file) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return,
            Err(e) => return discard(&format!("unreadable ({e})")),
        };
        // A cache someone else could have written would let them hide a
        // file from every scan: only one this user owns and alone can write
        // (file and directory) is trusted.
        // SAFETY: geteuid has no preconditions.
        let me = unsafe { libc::geteuid() };
        let private = |md: &Metadata| md.uid() == me && md.mode() & 0o022 == 0;
        let dir_ok = self
            .file
            .parent()
            .and_then(|d| std::fs::metadata(d).ok())
            .is_some_and(|md| private(&md));
        match file.metadata() {
            Ok(md) if !md.is_file() => return discard("not a regular file"),
            Ok(md) if !private(&md) || !dir_ok => {
                return discard("writable by another user or not ours")
            }
            Ok(md) if md.len() > MAX_FILE_BYTES => return discard("too large"),
            Err(e) => return discard(&format!("unreadable ({e})")),
            _ => {}
        }
        let reader = std::io::BufReader::new(std::io::Read::take(file, MAX_FILE_BYTES));
        let disk: OnDisk = match serde_json::from_reader(reader) {
            Ok(d) => d,
            Err(e) => return discard(&format!("corrupt ({e})")),
        };
        if disk.format != FORMAT
            || disk.version != env!("CARGO_PKG_VERSION")
            || disk.rules != self.rules
        {
            return discard("from another version of squatch or its rules");
        }
        let n = (disk.scans.len() + disk.digests.len()) as u64;
        for ScanEntry(path, role, id, sha256, scan) in disk.scans {
            let value = Arc::new(ScannedFile { sha256, scan });
            st.scans
                .insert((PathBuf::from(path), role), (id, value, false));
        }
        for DigestEntry(path, algo, id, hex) in disk.digests {
            if let Some(d) = from_hex(&hex) {
                st.digests
                    .insert((PathBuf::from(path), algo), (id, d, false));
            }
        }
        self.loaded.store(n, Ordering::Relaxed);
        log::debug!(
            "persistent cache {}: {n} entries loaded",
            self.file.display()
        );
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
            .with_state(|st| match st.scans.get_mut(&(path.to_path_buf(), role)) {
                Some((i, v, used)) if *i == id => {
                    *used = true;
                    Some(v.clone())
                }
                _ => None,
            })
            .flatten();
        self.count(hit.is_some());
        hit
    }

    /// Remembers a scan of `path` at identity `id`.
    pub fn put_scan(&self, path: &Path, role: Role, id: Ident, value: Arc<ScannedFile>) {
        self.with_state(|st| {
            st.scans
                .insert((path.to_path_buf(), role), (id, value, true));
            st.dirty = true;
        });
    }

    /// The `algo` digest of `path` when the file still has identity `id`.
    pub fn digest(&self, path: &Path, algo: &str, id: Ident) -> Option<Box<[u8]>> {
        let hit = self
            .with_state(
                |st| match st.digests.get_mut(&(path.to_path_buf(), algo.to_string())) {
                    Some((i, v, used)) if *i == id => {
                        *used = true;
                        Some(v.clone())
                    }
                    _ => None,
                },
            )
            .flatten();
        self.count(hit.is_some());
        hit
    }

    /// Remembers the `algo` digest of `path` at identity `id`.
    pub fn put_digest(&self, path: &Path, algo: &str, id: Ident, digest: &[u8]) {
        self.with_state(|st| {
            st.digests.insert(
                (path.to_path_buf(), algo.to_string()),
                (id, digest.into(), true),
            );
            st.dirty = true;
        });
    }

    /// Writes the cache if this process changed it: temp file in the same
    /// directory, then rename. Failures are logged at debug level and
    /// otherwise ignored (a read-only state directory means no cache).
    pub fn save(&self) {
        let Ok(mut st) = self.state.lock() else {
            return;
        };
        if st.dirty {
            match self.write(&st) {
                Ok(()) => {
                    st.dirty = false;
                    self.saves.fetch_add(1, Ordering::Relaxed);
                }
                Err(e) => log::debug!(
                    "persistent cache not written to {}: {e}",
                    self.file.display()
                ),
            }
        }
        let s = self.stats();
        log::debug!(
            "persistent cache: {} loaded, {} hits, {} misses",
            s.loaded,
            s.hits,
            s.misses
        );
    }

    fn write(&self, st: &State) -> std::io::Result<()> {
        fn keep<K, V>(m: &HashMap<K, Slot<V>>) -> Vec<(&K, &Slot<V>)> {
            let mut v: Vec<_> = m.iter().collect();
            if v.len() > MAX_ENTRIES {
                // Entries this process used first, then the rest.
                v.sort_by_key(|(_, (_, _, used))| !*used);
                v.truncate(MAX_ENTRIES);
            }
            v
        }
        // Only UTF-8 paths are written (a lossy name could stand for
        // another file); the others are simply scanned again.
        let scans = keep(&st.scans)
            .into_iter()
            .filter_map(|((p, role), (id, v, _))| {
                Some(ScanEntry(
                    p.to_str()?.to_string(),
                    *role,
                    *id,
                    v.sha256.clone(),
                    v.scan.clone(),
                ))
            })
            .collect();
        let digests = keep(&st.digests)
            .into_iter()
            .filter_map(|((p, algo), (id, d, _))| {
                Some(DigestEntry(
                    p.to_str()?.to_string(),
                    algo.clone(),
                    *id,
                    to_hex(d),
                ))
            })
            .collect();
        let disk = OnDisk {
            format: FORMAT,
            version: env!("CARGO_PKG_VERSION").to_string(),
            rules: self.rules.clone(),
            scans,
            digests,
        };
        let bytes = serde_json::to_vec(&disk).map_err(std::io::Error::other)?;
        if bytes.len() as u64 > MAX_FILE_BYTES {
            return Err(std::io::Error::other("cache larger than its bound"));
        }
        let dir = self.file.parent().unwrap_or(Path::new("."));
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)?;
        let tmp = dir.join(format!(
            ".{}.{}.tmp",
            self.file
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            std::process::id()
        ));
        let result = (|| {
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .custom_flags(libc::O_NOFOLLOW)
                .open(&tmp)?;
            f.write_all(&bytes)?;
            f.sync_all()?;
            std::fs::rename(&tmp, &self.file)
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(&tmp);
        } else {
            prune(dir, &self.file);
        }
        result
    }
}

/// Removes the oldest cache files of `dir` beyond [`MAX_ROOTS`] (never
/// `keep`, the one just written).
fn prune(dir: &Path, keep: &Path) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut files: Vec<(std::time::SystemTime, PathBuf)> = rd
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".json"))
        .filter_map(|e| {
            let md = e.metadata().ok()?;
            md.is_file().then_some(())?;
            Some((md.modified().ok()?, e.path()))
        })
        .collect();
    if files.len() <= MAX_ROOTS {
        return;
    }
    files.sort();
    let extra = files.len() - MAX_ROOTS;
    for (_, p) in files.into_iter().take(extra) {
        if p != keep {
            let _ = std::fs::remove_file(p);
        }
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
        assert_eq!(c.stats().saves, 1);
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
