//! A per-process cache of work derived from files, keyed by what changes when
//! a file changes: (host path, device, inode, size, mtime and ctime in
//! nanoseconds). The change time is in the key because an attacker who edits
//! a file in place can put its size and mtime back (`touch -r`, `os.utime`)
//! but not its ctime: the kernel sets it on every write and every `utime`.
//!
//! Scheduled queries run the same scans every few minutes; with this cache a
//! repeated query over an unchanged host re-reads nothing but `stat` data.
//! Entries are bounded in number; when full, the cache is cleared (cheap, and
//! a full cache means the host changed a lot anyway).

use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::fs::Metadata;
use std::hash::{BuildHasher, Hash, Hasher};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// What identifies one version of one file.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FileKey {
    /// Host path.
    pub path: PathBuf,
    /// Device number.
    pub dev: u64,
    /// Inode number.
    pub ino: u64,
    /// Size in bytes.
    pub size: u64,
    /// Modification time, nanoseconds since the epoch.
    pub mtime_ns: i128,
    /// Inode change time, nanoseconds since the epoch (cannot be set back
    /// from user space).
    pub ctime_ns: i128,
}

impl FileKey {
    /// The key for `path` as described by `md` (from `stat`, not `lstat`).
    pub fn new(path: &Path, md: &Metadata) -> Self {
        FileKey {
            path: path.to_path_buf(),
            dev: md.dev(),
            ino: md.ino(),
            size: md.size(),
            mtime_ns: md.mtime() as i128 * 1_000_000_000 + md.mtime_nsec() as i128,
            ctime_ns: md.ctime() as i128 * 1_000_000_000 + md.ctime_nsec() as i128,
        }
    }
}

/// A bounded, thread-safe map from a key (usually a [`FileKey`]) to a value
/// computed from the file.
///
/// `S` hashes the keys: std's keyed SipHash by default, [`PreHashed`] for
/// keys that are keyed hashes already.
#[derive(Debug)]
pub struct Cache<K, V, S = RandomState> {
    map: Mutex<HashMap<K, V, S>>,
    capacity: usize,
}

impl<K: Eq + Hash + Clone, V: Clone, S: BuildHasher + Default> Cache<K, V, S> {
    /// A cache holding at most `capacity` entries.
    pub fn new(capacity: usize) -> Self {
        Cache {
            map: Mutex::new(HashMap::default()),
            capacity,
        }
    }

    /// The cached value for `key`, if any.
    pub fn get(&self, key: &K) -> Option<V> {
        self.map.lock().ok()?.get(key).cloned()
    }

    /// Stores a value.
    pub fn insert(&self, key: K, value: V) {
        if let Ok(mut map) = self.map.lock() {
            if map.len() >= self.capacity {
                map.clear();
            }
            map.insert(key, value);
        }
    }

    /// The cached value for `key`, or computes, stores and returns it.
    pub fn get_or_insert_with(&self, key: K, f: impl FnOnce() -> V) -> V {
        if let Some(v) = self.get(&key) {
            return v;
        }
        let v = f();
        self.insert(key, v.clone());
        v
    }

    /// Every key held (for tests and benchmarks).
    pub fn keys(&self) -> Vec<K> {
        self.map
            .lock()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// Number of entries (for tests and benchmarks).
    pub fn len(&self) -> usize {
        self.map.lock().map(|m| m.len()).unwrap_or(0)
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Hashing for keys that are already the output of a keyed hash (a `u128`
/// from two keyed SipHashes of a file's version, say): the key's own bits,
/// folded to 64, instead of hashing it a second time on every lookup and
/// every growth of the map. An attacker cannot aim collisions at it without
/// the key of the first hash. Meant for `u128` and `u64` keys; anything
/// else is mixed byte by byte (FNV-1a).
#[derive(Debug, Clone, Copy, Default)]
pub struct PreHashed;

impl BuildHasher for PreHashed {
    type Hasher = PreHashedHasher;
    fn build_hasher(&self) -> PreHashedHasher {
        PreHashedHasher(0xcbf2_9ce4_8422_2325)
    }
}

/// The [`Hasher`] of [`PreHashed`].
#[derive(Debug, Clone, Copy)]
pub struct PreHashedHasher(u64);

impl Hasher for PreHashedHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 ^= v;
    }
    fn write_u128(&mut self, v: u128) {
        self.0 ^= v as u64 ^ (v >> 64) as u64;
    }
}

/// Gives the heap's free pages back to the system (glibc's `malloc_trim`;
/// nothing elsewhere). A long-lived process (the extension under osquery's
/// watchdog, which reads its resident size) calls it before each table
/// call: what the previous query freed (its rows, its working set) stops
/// counting against it, and the next query starts from what the caches
/// hold. It costs a walk of the allocator's free lists, a few milliseconds,
/// so it runs at most once a second (a join calls a table once per outer
/// row).
pub fn trim_heap() {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::OnceLock;
    static START: OnceLock<std::time::Instant> = OnceLock::new();
    static LAST_MS: AtomicU64 = AtomicU64::new(0);
    let now = START
        .get_or_init(std::time::Instant::now)
        .elapsed()
        .as_millis() as u64
        + 1000;
    let last = LAST_MS.load(Ordering::Relaxed);
    if now.saturating_sub(last) < 1000
        || LAST_MS
            .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_err()
    {
        return;
    }
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim has no preconditions; it only releases free memory.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn key_changes_with_content_size_and_recompute_happens() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        std::fs::write(&p, b"one").unwrap();
        let k1 = FileKey::new(Path::new("/f"), &std::fs::metadata(&p).unwrap());
        std::fs::write(&p, b"three").unwrap();
        let k2 = FileKey::new(Path::new("/f"), &std::fs::metadata(&p).unwrap());
        assert_ne!(k1, k2);
        let cache: Cache<FileKey, u32> = Cache::new(10);
        assert_eq!(cache.get_or_insert_with(k1.clone(), || 1), 1);
        assert_eq!(cache.get_or_insert_with(k1, || 99), 1);
        assert_eq!(cache.get_or_insert_with(k2, || 2), 2);
    }

    #[test]
    fn key_changes_when_mtime_is_put_back() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        std::fs::write(&p, b"clean").unwrap();
        let md0 = std::fs::metadata(&p).unwrap();
        let k1 = FileKey::new(Path::new("/f"), &md0);
        std::thread::sleep(std::time::Duration::from_millis(20));
        // Same size, same inode, mtime restored: only ctime tells.
        std::fs::OpenOptions::new()
            .write(true)
            .open(&p)
            .unwrap()
            .write_all(b"dirty")
            .unwrap();
        let f = std::fs::File::options().write(true).open(&p).unwrap();
        f.set_modified(md0.modified().unwrap()).unwrap();
        drop(f);
        let k2 = FileKey::new(Path::new("/f"), &std::fs::metadata(&p).unwrap());
        assert_eq!(
            (k1.ino, k1.size, k1.mtime_ns),
            (k2.ino, k2.size, k2.mtime_ns)
        );
        assert_ne!(k1, k2, "ctime must tell the edited file apart");
    }

    #[test]
    fn capacity_bounds_memory() {
        let cache: Cache<u32, u32> = Cache::new(3);
        for i in 0..10 {
            cache.insert(i, i);
        }
        assert!(cache.len() <= 3);
    }
}
