//! Are a distribution's files still what was installed?
//!
//! The reference is the distribution's RECORD (urlsafe-base64 SHA-256 per
//! file), or, for a distribution that Debian's packaging installed, dpkg's
//! `/var/lib/dpkg/info/<pkg>.md5sums`: Debian's dist-info directories carry
//! a RECORD from the build tree (stale hashes, `.so` files stripped after),
//! so RECORD would cry wolf there. Every file the reference lists is hashed
//! and compared; every file in the distribution's own package directories
//! that no distribution of the site lists is *unrecorded*.
//!
//! Hashing streams each file through one reused buffer, and digests are
//! cached by (device, inode, size, mtime, ctime): in the persistent cache
//! when there is one, else in memory as keyed 128-bit hashes. Whole verdicts are
//! memoised too, per distribution, with the identities they rest on (the
//! site's reference files, the listed files, the walked directories), so
//! verifying an unchanged host again costs one `lstat` per file and
//! directory: no RECORD is read, nothing is hashed, no directory listed.
//! With a persistent cache, a whole site's verifications are also kept
//! between processes ([`crate::persist::VerifyMemo`]) with the identities
//! they rest on, and a later process revalidates them the same way.

use std::borrow::Borrow;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::hash::{BuildHasher, Hash, RandomState};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use base64::Engine;
use md5::Md5;
use sha2::{Digest, Sha256, Sha384, Sha512};

use super::distribution::{DistFormat, Distribution};
use super::record::{
    environment_root, for_each_line, for_each_record_entry, resolve_entry, RecordSource,
    MAX_RECORD_LINE,
};
use crate::cache::{Cache, FileKey};
use crate::host::{Host, HostDir, HostError, StatId, DEFAULT_READ_CAP};

/// Size of the buffer files are streamed through while hashing.
const HASH_BUF: usize = 256 * 1024;
/// How many changed paths a [`Verification`] keeps as examples.
const SAMPLE_CAP: usize = 32;
/// Bounds of the walk that looks for unrecorded files in one directory.
const WALK_MAX_DEPTH: usize = 32;
const WALK_MAX_ENTRIES: usize = 200_000;

/// A digest algorithm a reference may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HashAlgo {
    /// SHA-256 (what RECORD uses in practice).
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512.
    Sha512,
    /// MD5 (what dpkg records).
    Md5,
}

impl HashAlgo {
    /// The algorithm's name (`sha256`, ..., `md5`).
    pub fn name(self) -> &'static str {
        match self {
            HashAlgo::Sha256 => "sha256",
            HashAlgo::Sha384 => "sha384",
            HashAlgo::Sha512 => "sha512",
            HashAlgo::Md5 => "md5",
        }
    }

    /// The algorithm named in a RECORD hash field (`sha256`, ...).
    pub fn from_record_name(name: &str) -> Option<HashAlgo> {
        match name {
            "sha256" => Some(HashAlgo::Sha256),
            "sha384" => Some(HashAlgo::Sha384),
            "sha512" => Some(HashAlgo::Sha512),
            _ => None,
        }
    }
}

enum Hasher {
    Sha256(Sha256),
    Sha384(Sha384),
    Sha512(Sha512),
    Md5(Md5),
}

impl Hasher {
    fn new(algo: HashAlgo) -> Hasher {
        match algo {
            HashAlgo::Sha256 => Hasher::Sha256(Sha256::new()),
            HashAlgo::Sha384 => Hasher::Sha384(Sha384::new()),
            HashAlgo::Sha512 => Hasher::Sha512(Sha512::new()),
            HashAlgo::Md5 => Hasher::Md5(Md5::new()),
        }
    }
    fn update(&mut self, data: &[u8]) {
        match self {
            Hasher::Sha256(h) => h.update(data),
            Hasher::Sha384(h) => h.update(data),
            Hasher::Sha512(h) => h.update(data),
            Hasher::Md5(h) => h.update(data),
        }
    }
    fn finish(self) -> Vec<u8> {
        match self {
            Hasher::Sha256(h) => h.finalize().to_vec(),
            Hasher::Sha384(h) => h.finalize().to_vec(),
            Hasher::Sha512(h) => h.finalize().to_vec(),
            Hasher::Md5(h) => h.finalize().to_vec(),
        }
    }
}

/// Streams a file (already open) through `algo` using `buf`.
pub fn digest_reader(mut r: impl Read, algo: HashAlgo, buf: &mut [u8]) -> std::io::Result<Vec<u8>> {
    let mut h = Hasher::new(algo);
    loop {
        match r.read(buf) {
            Ok(0) => break,
            Ok(n) => h.update(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(h.finish())
}

/// SHA-256 of a host file, streamed (no size cap), as lowercase hex.
pub fn sha256_hex(host: &Host, path: &Path) -> Result<String, HostError> {
    let (file, _) = host.open_file(path)?;
    let mut buf = vec![0u8; HASH_BUF];
    let d = digest_reader(file, HashAlgo::Sha256, &mut buf).map_err(|source| HostError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(crate::hex::encode(&d))
}

/// The overall verdict on a distribution's files (`record_status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum RecordStatus {
    /// Every listed file exists with its recorded hash, nothing unrecorded.
    Ok,
    /// At least one file's content differs from its recorded hash.
    Modified,
    /// At least one listed file is gone (and none is modified).
    Missing,
    /// Everything listed is intact, but the package directories hold files
    /// no RECORD lists.
    Unrecorded,
    /// No usable reference (no RECORD, Debian-built without dpkg data, paths
    /// only), or some files could not be read.
    Unverified,
}

impl RecordStatus {
    /// The word used in the `record_status` column.
    pub fn as_str(self) -> &'static str {
        match self {
            RecordStatus::Ok => "ok",
            RecordStatus::Modified => "modified",
            RecordStatus::Missing => "missing",
            RecordStatus::Unrecorded => "unrecorded",
            RecordStatus::Unverified => "unverified",
        }
    }
}

/// What the files were checked against (`record_reference`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum RecordReference {
    /// The dist-info's RECORD.
    Record,
    /// An egg-info's `installed-files.txt` (existence only).
    InstalledFiles,
    /// dpkg's md5sums of the Debian package that owns the distribution.
    Dpkg,
    /// Nothing usable.
    None,
}

impl RecordReference {
    /// The word used in the `record_reference` column.
    pub fn as_str(self) -> &'static str {
        match self {
            RecordReference::Record => "record",
            RecordReference::InstalledFiles => "installed_files",
            RecordReference::Dpkg => "dpkg",
            RecordReference::None => "none",
        }
    }
}

/// How a changed file was changed, for [`Verification::changed`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Change {
    /// Content differs from the reference.
    Modified,
    /// Listed but gone.
    Missing,
    /// Present in the package's directories but listed nowhere.
    Unrecorded,
}

/// The result of verifying one distribution.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Verification {
    /// The verdict.
    pub status: RecordStatus,
    /// What was used as the reference.
    pub reference: RecordReference,
    /// The dpkg package, when the reference is dpkg.
    pub dpkg_package: Option<String>,
    /// Files whose digest was compared.
    pub files_checked: u64,
    /// Files whose content differs.
    pub files_modified: u64,
    /// Listed files that are gone.
    pub files_missing: u64,
    /// Files in the package's directories that nothing lists.
    pub files_unrecorded: u64,
    /// Listed paths that resolve outside the environment (not checked).
    pub files_outside_environment: u64,
    /// Listed files that could not be read or whose hash is unusable.
    pub files_unverifiable: u64,
    /// Up to 32 changed paths, as examples for an analyst.
    pub changed: Vec<(PathBuf, Change)>,
    /// What went wrong, if anything.
    pub error: Option<String>,
}

impl Verification {
    fn new(reference: RecordReference) -> Self {
        Verification {
            status: RecordStatus::Unverified,
            reference,
            dpkg_package: None,
            files_checked: 0,
            files_modified: 0,
            files_missing: 0,
            files_unrecorded: 0,
            files_outside_environment: 0,
            files_unverifiable: 0,
            changed: Vec::new(),
            error: None,
        }
    }

    fn note(&mut self, path: &Path, change: Change) {
        if self.changed.len() < SAMPLE_CAP {
            self.changed.push((path.to_path_buf(), change));
        }
    }

    fn finish(&mut self, has_hashes: bool) {
        self.status = if self.reference == RecordReference::None {
            RecordStatus::Unverified
        } else if self.files_modified > 0 {
            RecordStatus::Modified
        } else if self.files_missing > 0 {
            RecordStatus::Missing
        } else if self.files_unrecorded > 0 {
            RecordStatus::Unrecorded
        } else if self.files_unverifiable > 0 || !has_hashes {
            RecordStatus::Unverified
        } else {
            RecordStatus::Ok
        };
    }
}

/// One file a reference lists.
#[derive(Debug, Clone)]
struct RefFile {
    path: PathBuf,
    expected: Option<(HashAlgo, Vec<u8>)>,
    /// A hash was given but cannot be used (unknown algorithm, bad base64).
    bad_hash: bool,
    size: Option<u64>,
    outside: bool,
}

/// Which dpkg package owns which dist-info/egg-info directory.
#[derive(Debug, Default)]
pub struct DpkgIndex {
    owners: HashMap<PathBuf, String>,
}

impl DpkgIndex {
    /// Reads every `/var/lib/dpkg/info/*.list`, keeping the lines that name a
    /// `.dist-info`/`.egg-info`. An image without dpkg gives an empty index.
    pub fn load(host: &Host) -> DpkgIndex {
        let mut owners = HashMap::new();
        let dir = Path::new("/var/lib/dpkg/info");
        let Ok(entries) = host.read_dir(dir) else {
            return DpkgIndex { owners };
        };
        for e in entries {
            let name = e.name_lossy();
            let Some(stem) = name.strip_suffix(".list") else {
                continue;
            };
            let Ok(text) = host.read_to_string(&e.path, DEFAULT_READ_CAP) else {
                continue;
            };
            for line in text.lines() {
                let line = line.trim_end();
                if line.ends_with(".dist-info") || line.ends_with(".egg-info") {
                    owners.insert(Host::normalize(Path::new(line)), stem.to_string());
                }
            }
        }
        DpkgIndex { owners }
    }

    /// The package (`name` or `name:arch`, as in the file names) owning `path`.
    pub fn owner(&self, path: &Path) -> Option<&str> {
        self.owners.get(path).map(String::as_str)
    }
}

/// Verifies distributions, caching digests and the dpkg index across calls.
/// A table keeps one for its lifetime so repeated queries are cheap.
#[derive(Debug)]
pub struct Verifier {
    /// Digests of files by identity, without a persistent cache: both kept
    /// as 128-bit keyed hashes (of the identity and algorithm, and of the
    /// digest), 32 bytes an entry, which is all a comparison with the
    /// expected digest needs.
    digests: Cache<u128, u128, crate::cache::PreHashed>,
    /// Files found below a package directory, valid while every directory
    /// walked keeps its identity (adding or removing an entry changes a
    /// directory's mtime and ctime).
    walks: Cache<PathBuf, Arc<Walk>>,
    dpkg: Mutex<Option<(Option<FileKey>, Arc<DpkgIndex>)>>,
    /// Whole verifications per site directory, reused while every identity
    /// they rest on is unchanged (see [`SiteMemo`]).
    sites: Mutex<HashMap<PathBuf, SiteMemo>>,
    /// How many verifications were reused whole (for tests and benchmarks).
    reused: AtomicU64,
    /// The two keys of the memo's 128-bit identity hashes.
    keys: (RandomState, RandomState),
    /// Digests kept between processes (see [`crate::persist`]).
    persist: Option<Arc<crate::persist::PersistentCache>>,
}

/// Most file digests kept in memory without a persistent cache (32 bytes
/// each: 16 MB at most).
pub const DIGEST_CAP: usize = 500_000;

/// Most directories one verification pass remembers as resolved or real.
const RUN_CACHE_CAP: usize = 50_000;

/// dpkg's database of installed packages' file lists and md5sums.
const DPKG_INFO: &str = "/var/lib/dpkg/info";

/// Upper bound on memoised verifications; past it the memo starts afresh.
const MEMO_CAP: usize = 200_000;

/// What a reference depends on for one distribution of a site: its
/// METADATA directory, whether it has INSTALLER (which tells Debian-built
/// ones), its dpkg owner and the identity of the reference file (RECORD,
/// `installed-files.txt` or dpkg's md5sums; `None` when absent).
#[derive(Debug, Hash)]
struct RefId<'a> {
    metadata_path: &'a Path,
    has_installer: bool,
    dpkg_owner: Option<&'a str>,
    reference: Option<StatId>,
}

/// Verifications of one site directory and the state they were made in.
///
/// The references of every distribution of the site (hence the union of
/// listed files that decides what is unrecorded) are unchanged while each
/// reference file keeps its identity and the list of distributions, their
/// INSTALLER presence and the dpkg index are the same: that is the
/// fingerprint. Given it, one distribution's verdict depends only on the
/// identities of its listed files and of the directories walked for
/// unrecorded files, which [`Verified`] keeps and a repeated query checks
/// with one `lstat` each: no parsing, no hashing, no directory listing.
///
/// To stay small (a host has hundreds of thousands of files), identities
/// are kept as 128-bit keyed hashes (two SipHash keys drawn at random per
/// process, so no one can aim a collision at them) and paths as one
/// NUL-separated string per distribution.
#[derive(Debug)]
struct SiteMemo {
    /// Keyed hash of the site's [`RefId`]s, in listing order.
    fingerprint: u128,
    dpkg: Option<Arc<DpkgIndex>>,
    /// By position in the site's listing (fixed by the fingerprint).
    dists: Vec<Option<Arc<Verified>>>,
}

/// One distribution's verification and the identities it rests on.
#[derive(Debug)]
struct Verified {
    /// Every listed file checked, relative to the site directory when
    /// below it (else absolute), NUL-separated (no path holds a NUL).
    paths: std::ffi::OsString,
    /// Keyed hash of each file's identity (of `None` when missing).
    ids: Box<[u128]>,
    /// The walks that looked for unrecorded files.
    walks: Box<[Arc<Walk>]>,
    result: Verification,
}

/// What a walk of one package directory found.
#[derive(Debug)]
struct Walk {
    /// Every directory walked, relative to the site dir, with its identity.
    dirs: Vec<(PathBuf, StatId)>,
    /// Every file (or symlink) found that is not byte-compiled, relative
    /// to the site directory (absolute when not below it), NUL-separated:
    /// a host's walks name every installed file, so they are kept compact.
    files: std::ffi::OsString,
    /// Where the walk could not look (too deep, unreadable), in words.
    problems: Vec<String>,
}

impl Default for Verifier {
    fn default() -> Self {
        Verifier::new()
    }
}

impl Verifier {
    /// A verifier with an empty cache (up to [`DIGEST_CAP`] file digests).
    pub fn new() -> Self {
        Verifier {
            digests: Cache::new(DIGEST_CAP),
            walks: Cache::new(200_000),
            dpkg: Mutex::new(None),
            sites: Mutex::new(HashMap::new()),
            reused: AtomicU64::new(0),
            keys: (RandomState::new(), RandomState::new()),
            persist: None,
        }
    }

    /// Also keeps file digests in `cache`, between processes.
    pub fn with_persistent_cache(
        mut self,
        cache: Option<Arc<crate::persist::PersistentCache>>,
    ) -> Self {
        self.persist = cache;
        self
    }

    /// A 128-bit keyed hash of `x`, for the memo's identities.
    fn id_hash(&self, x: &impl Hash) -> u128 {
        (u128::from(self.keys.0.hash_one(x)) << 64) | u128::from(self.keys.1.hash_one(x))
    }

    /// The keyed hash a digest is compared by (see [`Verifier::digests`]).
    fn digest_hash(&self, digest: &[u8]) -> u128 {
        self.id_hash(&digest)
    }

    /// How many verifications were reused whole because nothing they rest
    /// on changed (for tests and benchmarks).
    pub fn reused_verifications(&self) -> u64 {
        self.reused.load(Ordering::Relaxed)
    }

    /// Number of cached digests (for tests and benchmarks).
    pub fn cached_digests(&self) -> usize {
        self.digests.len()
    }

    fn dpkg_index(&self, host: &Host) -> Arc<DpkgIndex> {
        let dir = Path::new(DPKG_INFO);
        let key = host.metadata(dir).ok().map(|md| FileKey::new(dir, &md));
        if let Ok(mut slot) = self.dpkg.lock() {
            if let Some((k, idx)) = slot.as_ref() {
                if *k == key {
                    return idx.clone();
                }
            }
            let idx = Arc::new(DpkgIndex::load(host));
            *slot = Some((key, idx.clone()));
            idx
        } else {
            Arc::new(DpkgIndex::load(host))
        }
    }

    /// Verifies one distribution. Its site's other distributions are read
    /// too, so that a file another distribution owns is not unrecorded.
    pub fn verify(&self, host: &Host, dist: &Distribution) -> Verification {
        let mut all = super::distribution::distributions(host, &dist.site_packages);
        let idx = all
            .iter()
            .position(|d| d.metadata_path == dist.metadata_path);
        let wanted_idx = match idx {
            Some(i) => i,
            None => {
                all.push(dist.clone());
                all.len() - 1
            }
        };
        let mut wanted = vec![false; all.len()];
        wanted[wanted_idx] = true;
        self.verify_site(host, &all, &wanted)
            .swap_remove(wanted_idx)
            .unwrap_or_else(|| Verification::new(RecordReference::None))
    }

    /// Verifies the distributions of one site directory whose `wanted` flag
    /// is set (`dists` are all of the site's distributions, as
    /// [`distributions`](super::distribution::distributions) gives them).
    pub fn verify_site<D: Borrow<Distribution>>(
        &self,
        host: &Host,
        dists: &[D],
        wanted: &[bool],
    ) -> Vec<Option<Verification>> {
        self.verify_site_seen(host, dists, wanted, None)
    }

    /// [`Verifier::verify_site`], taking the identities `seen` that the
    /// same query just `stat`ed below the site directory (checking the
    /// site's distribution memo) instead of `stat`ing them again while
    /// checking the site's verification memo.
    pub fn verify_site_seen<D: Borrow<Distribution>>(
        &self,
        host: &Host,
        dists: &[D],
        wanted: &[bool],
        seen: Option<&crate::persist::SeenIds>,
    ) -> Vec<Option<Verification>> {
        let dists: Vec<&Distribution> = dists.iter().map(Borrow::borrow).collect();
        let needs_dpkg = dists.iter().any(|d| d.installer.is_none());

        let site_dir = dists
            .first()
            .and_then(|d| host.open_dir(&d.site_packages).ok());
        let site = dists
            .first()
            .map(|d| d.site_packages.clone())
            .unwrap_or_default();
        let mut run = Run {
            host,
            verifier: self,
            buf: vec![0u8; HASH_BUF],
            dirs: HashMap::new(),
            site: site.clone(),
            site_dir,
            real_dirs: HashMap::new(),
            trace: None,
        };
        // A whole site verified by an earlier process, every identity it
        // rests on unchanged (dpkg's index is not even loaded then).
        let persist = self.persist.as_ref().filter(|_| run.site_dir.is_some());
        let all_wanted = (0..dists.len()).all(|i| wanted.get(i).copied().unwrap_or(false));
        let mut persist_stale = false;
        if let Some(p) = persist {
            if let Some(m) = p.verify_memo(&site) {
                let seen = seen.filter(|s| s.site == site);
                if persisted_holds(&mut run, &m, &dists, seen) {
                    p.verify_hit();
                    let mut out = vec![None; dists.len()];
                    for (i, (_, v)) in m.dists.iter().enumerate() {
                        if wanted.get(i).copied().unwrap_or(false) {
                            self.reused.fetch_add(1, Ordering::Relaxed);
                            out[i] = Some(v.clone());
                        }
                    }
                    return out;
                }
            }
            persist_stale = true;
        }
        let started = crate::persist::now_ns();
        let dpkg = if needs_dpkg {
            Some(self.dpkg_index(host))
        } else {
            None
        };
        // Identities first, contents after: a reference rewritten between
        // the two is read anew next time.
        let fingerprint = {
            let ids: Vec<RefId> = dists
                .iter()
                .map(|d| ref_id(host, d, dpkg.as_deref(), run.site_dir.as_ref()))
                .collect();
            self.id_hash(&ids)
        };
        let mut out: Vec<Option<Verification>> = vec![None; dists.len()];
        let mut todo: Vec<usize> = Vec::new();
        let memo: Vec<(usize, Arc<Verified>)> = {
            let sites = self.sites.lock().ok();
            let m = sites.as_ref().and_then(|s| s.get(&site)).filter(|m| {
                m.fingerprint == fingerprint
                    && match (&m.dpkg, &dpkg) {
                        (None, None) => true,
                        (Some(a), Some(b)) => Arc::ptr_eq(a, b),
                        _ => false,
                    }
            });
            (0..dists.len())
                .filter(|i| wanted.get(*i).copied().unwrap_or(false))
                .filter_map(|i| {
                    let v = m.and_then(|m| m.dists.get(i).cloned().flatten());
                    if v.is_none() {
                        todo.push(i);
                    }
                    v.map(|v| (i, v))
                })
                .collect()
        };
        for (i, v) in memo {
            if run.still_valid(&v) {
                self.reused.fetch_add(1, Ordering::Relaxed);
                out[i] = Some(v.result.clone());
            } else {
                todo.push(i);
            }
        }
        if todo.is_empty() {
            if persist_stale && all_wanted {
                self.keep_persistent(&mut run, &dists, dpkg.as_deref(), started);
            }
            return out;
        }
        todo.sort_unstable();
        // Every reference is streamed once (never held whole: a RECORD can
        // be padded to any length). The files the site's references list are
        // kept only as keyed 128-bit hashes, and only those below a name the
        // site directory really holds (nothing else can be walked), so
        // memory follows what is on disk, not what a RECORD claims.
        let site_names: HashSet<std::ffi::OsString> = host
            .read_dir(&site)
            .map(|es| es.into_iter().map(|e| e.name).collect())
            .unwrap_or_default();
        let mut union: HashSet<u128> = HashSet::new();
        let mut pending: Vec<(usize, Pending)> = Vec::new();
        for (i, d) in dists.iter().enumerate() {
            union.insert(self.id_hash(&d.metadata_path));
            let wanted_now = todo.binary_search(&i).is_ok();
            let mut p = Pending::default();
            if wanted_now {
                run.trace = Some(Some(Trace::default()));
            }
            let head = {
                let site_dir = run.site_dir.take();
                let mut listed = |f: RefFile| {
                    if let Some(rel) = below(&site, &f.path) {
                        let mut comps = rel.components();
                        let first = comps.next().map(|c| c.as_os_str());
                        if first.is_some_and(|n| site_names.contains(n)) && comps.next().is_some() {
                            union.insert(self.id_hash(&f.path));
                        }
                    }
                    if wanted_now {
                        run.account(&mut p, &f, &site_names);
                    }
                };
                let head = each_ref_file(host, d, dpkg.as_deref(), site_dir.as_ref(), &mut |f| {
                    listed(f)
                });
                run.site_dir = site_dir;
                head
            };
            if wanted_now {
                p.head = Some(head);
                p.trace = run.trace.take().flatten();
                pending.push((i, p));
            }
        }
        let mut fresh = Vec::new();
        for (i, p) in pending {
            let (v, verified) = run.finish_pending(dists[i], p, &union);
            if let Some(verified) = verified {
                fresh.push((i, Arc::new(verified)));
            }
            out[i] = Some(v);
        }
        if let Ok(mut sites) = self.sites.lock() {
            let total: usize = sites.values().map(|m| m.dists.len()).sum();
            if total + dists.len() > MEMO_CAP {
                sites.clear();
            }
            let m = sites.entry(site).or_insert_with(|| SiteMemo {
                fingerprint: 0,
                dpkg: None,
                dists: Vec::new(),
            });
            let same = m.fingerprint == fingerprint
                && match (&m.dpkg, &dpkg) {
                    (None, None) => true,
                    (Some(a), Some(b)) => Arc::ptr_eq(a, b),
                    _ => false,
                };
            if !same || m.dists.len() != dists.len() {
                m.fingerprint = fingerprint;
                m.dpkg = dpkg.clone();
                m.dists = vec![None; dists.len()];
            }
            for (i, v) in fresh {
                m.dists[i] = Some(v);
            }
        }
        if persist_stale && all_wanted {
            self.keep_persistent(&mut run, &dists, dpkg.as_deref(), started);
        }
        out
    }

    /// Keeps the site's verifications (all of them in the in-process memo,
    /// just checked or made) in the persistent cache for a later process,
    /// or forgets the stale memo there when they cannot be revalidated by
    /// `stat` alone (see [`persisted_memo`]).
    fn keep_persistent(
        &self,
        run: &mut Run,
        dists: &[&Distribution],
        dpkg: Option<&DpkgIndex>,
        started: i128,
    ) {
        let Some(p) = &self.persist else {
            return;
        };
        let verified: Option<Vec<Arc<Verified>>> = self
            .sites
            .lock()
            .ok()
            .and_then(|s| s.get(&run.site)?.dists.iter().cloned().collect());
        let memo = verified.and_then(|vs| persisted_memo(run, dists, &vs, dpkg, started));
        p.put_verify_memo(&run.site, memo);
    }
}

/// What a later process needs to reuse the verifications `vs` of the site's
/// distributions `dists` (in listing order), or `None` when they cannot be
/// revalidated by `stat` alone: a symlinked metadata directory or one not
/// directly in the site, a symlink among the paths `stat`ed relative to the
/// site, a listed file that cannot be identified, a path with a newline or
/// not UTF-8, or anything changed less than a second before `started`.
///
/// It rests on the site directory (its listing), each metadata directory
/// and its RECORD, `installed-files.txt` and INSTALLER (each reference, and
/// what tells a Debian-built distribution), every directory walked for
/// unrecorded files (an entry added, removed or renamed changes it), every
/// listed file as the verification found it (any write changes its ctime,
/// even with size and mtime put back) and, when `dpkg`'s index was used,
/// its directory (any package installed or removed changes it) and each
/// owner's md5sums.
fn persisted_memo(
    run: &mut Run,
    dists: &[&Distribution],
    vs: &[Arc<Verified>],
    dpkg: Option<&DpkgIndex>,
    started: i128,
) -> Option<crate::persist::VerifyMemo> {
    use std::os::unix::ffi::OsStrExt;
    if vs.len() != dists.len() {
        return None;
    }
    let sd = run.site_dir.as_ref()?;
    let site_id = sd.stat_self().ok()?;
    if site_id.ctime_ns >= started - crate::persist::MEMO_SLACK_NS {
        return None;
    }
    let plain = |s: &str| !s.is_empty() && !s.contains('\n');
    let mut rel: BTreeSet<String> = BTreeSet::new();
    let mut files: Vec<String> = Vec::new();
    let mut listed: Vec<&str> = Vec::new();
    if dpkg.is_some() {
        files.push(DPKG_INFO.to_string());
    }
    let mut out = Vec::with_capacity(dists.len());
    for (d, v) in dists.iter().zip(vs) {
        if d.link_target.is_some() {
            return None;
        }
        if let Some(owner) = dpkg.and_then(|i| i.owner(&d.metadata_path)) {
            let p = reference_path(d, Some(owner));
            files.push(p.to_str().filter(|p| plain(p))?.to_string());
        }
        let meta = below(&run.site, &d.metadata_path)?.to_str()?;
        if !plain(meta) || meta.contains('/') {
            return None;
        }
        let meta_id = sd.stat_id(Path::new(meta)).ok()?;
        if meta_id.mode & libc::S_IFMT == libc::S_IFLNK {
            return None;
        }
        rel.insert(meta.to_string());
        if meta_id.mode & libc::S_IFMT == libc::S_IFDIR {
            for f in ["RECORD", "installed-files.txt", "INSTALLER"] {
                let r = format!("{meta}/{f}");
                match sd.stat_id(Path::new(&r)) {
                    Ok(id) if id.mode & libc::S_IFMT == libc::S_IFLNK => return None,
                    Ok(_) => {
                        rel.insert(r);
                    }
                    Err(e) if e.is_not_found() => {}
                    Err(_) => return None,
                }
            }
        }
        for w in v.walks.iter() {
            for (p, _) in &w.dirs {
                let p = p.to_str().filter(|p| plain(p))?;
                rel.insert(p.to_string());
            }
        }
        let paths = v.paths.as_bytes();
        for f in paths.split(|b| *b == 0).filter(|_| !paths.is_empty()) {
            let f = std::str::from_utf8(f).ok().filter(|f| plain(f))?;
            listed.push(f);
        }
        if v.result.changed.iter().any(|(p, _)| p.to_str().is_none()) {
            return None;
        }
        out.push((d.metadata_path.to_str()?.to_string(), v.result.clone()));
    }
    // A listed file below directories that are themselves checked (walked
    // or metadata directories, real ones) is `stat`ed relative to the site
    // like them, in byte order after them; the others (outside the site,
    // missing, symlinks, below an unwalked directory) as the verification
    // found them.
    let sd = run.site_dir.as_ref()?;
    for f in listed {
        let dirs_checked = !f.starts_with('/')
            && f.match_indices('/').all(|(i, _)| rel.contains(&f[..i]))
            && f.contains('/');
        let plain_file = dirs_checked
            && sd
                .stat_id(Path::new(f))
                .is_ok_and(|id| id.mode & libc::S_IFMT != libc::S_IFLNK);
        if plain_file {
            rel.insert(f.to_string());
        } else {
            files.push(f.to_string());
        }
    }
    let rel: Vec<String> = rel.into_iter().collect();
    let digest = persisted_digest(run, &rel, &files, Some(started), None)?;
    Some(crate::persist::VerifyMemo {
        site: crate::persist::Ident::from_stat_id(&site_id),
        rel: rel.join("\n"),
        files: files.join("\n"),
        digest,
        dists: out,
    })
}

/// The digest of the identities a [`crate::persist::VerifyMemo`] rests on:
/// `rel` `stat`ed relative to the site directory (a symlink: `None`), then
/// `files` identified as a verification does (a missing one as all zeros).
/// A path of `rel` that `seen` holds (in the same byte order) takes the
/// identity found there, just `stat`ed the same way.
fn persisted_digest<'a>(
    run: &mut Run,
    rel: &'a [impl AsRef<str>],
    files: &'a [impl AsRef<str>],
    before: Option<i128>,
    seen: Option<&crate::persist::SeenIds>,
) -> Option<String> {
    let n_rel = rel.len();
    let mut k = 0usize;
    let seen: &[(String, StatId)] = seen.map(|s| s.ids.as_slice()).unwrap_or(&[]);
    let mut cursor = 0usize;
    let deps = rel
        .iter()
        .map(AsRef::as_ref)
        .chain(files.iter().map(AsRef::as_ref));
    crate::persist::identities_digest(deps, before, |p| {
        let i = k;
        k += 1;
        if i < n_rel {
            // Both lists are in byte order: one pass over `seen`.
            while cursor < seen.len() && seen[cursor].0.as_str() < p {
                cursor += 1;
            }
            if let Some((_, id)) = seen.get(cursor).filter(|(s, _)| s == p) {
                return Some(*id);
            }
            return run
                .site_dir
                .as_ref()?
                .stat_id(Path::new(p))
                .ok()
                .filter(|id| id.mode & libc::S_IFMT != libc::S_IFLNK);
        }
        let path = if p.starts_with('/') {
            PathBuf::from(p)
        } else {
            run.site.join(p)
        };
        match run.identify(&path) {
            Ok((id, _)) => Some(id),
            Err(Check::Missing) => Some(StatId::default()),
            Err(_) => None,
        }
    })
}

/// True when `m`, a site's verifications kept by an earlier process, is
/// for the same distributions as `dists` and every identity it rests on
/// is unchanged.
fn persisted_holds(
    run: &mut Run,
    m: &crate::persist::VerifyMemo,
    dists: &[&Distribution],
    seen: Option<&crate::persist::SeenIds>,
) -> bool {
    let same_dists = m.dists.len() == dists.len()
        && m.dists
            .iter()
            .zip(dists)
            .all(|((p, _), d)| Path::new(p) == d.metadata_path);
    let same_site = run.site_dir.as_ref().is_some_and(|sd| {
        sd.stat_self()
            .is_ok_and(|id| crate::persist::Ident::from_stat_id(&id) == m.site)
    });
    if !(same_dists && same_site) {
        return false;
    }
    fn split(s: &str) -> Vec<&str> {
        s.split('\n').filter(|x| !x.is_empty()).collect()
    }
    let (rel, files) = (split(&m.rel), split(&m.files));
    persisted_digest(run, &rel, &files, None, seen).is_some_and(|d| d == m.digest)
}

/// The host path `dist`'s reference is read from.
fn reference_path(dist: &Distribution, dpkg_owner: Option<&str>) -> PathBuf {
    match (dpkg_owner, dist.format) {
        (Some(pkg), _) => PathBuf::from(format!("/var/lib/dpkg/info/{pkg}.md5sums")),
        (None, DistFormat::DistInfo) => dist.metadata_path.join("RECORD"),
        (None, DistFormat::EggInfo) => dist.metadata_path.join("installed-files.txt"),
    }
}

/// The identity of what `dist`'s reference is read from (see [`RefId`]).
fn ref_id<'a>(
    host: &Host,
    dist: &'a Distribution,
    dpkg: Option<&'a DpkgIndex>,
    site_dir: Option<&HostDir>,
) -> RefId<'a> {
    let owner = dpkg.and_then(|i| i.owner(&dist.metadata_path));
    let stat_abs = |p: &Path| {
        host.symlink_metadata(p)
            .ok()
            .map(|m| StatId::from_metadata(&m))
    };
    let reference = match (owner, dist.format) {
        (Some(pkg), _) => stat_abs(&PathBuf::from(format!("/var/lib/dpkg/info/{pkg}.md5sums"))),
        (None, DistFormat::DistInfo) => {
            let rel = below(&dist.site_packages, &dist.metadata_path)
                .filter(|r| r.components().count() == 1);
            // A symlinked metadata directory is never stat'ed relative to
            // the site fd (the kernel would follow it outside the root).
            match (site_dir, rel.filter(|_| dist.link_target.is_none())) {
                (Some(d), Some(rel)) => d.stat_id(&rel.join("RECORD")).ok(),
                _ => stat_abs(&dist.metadata_path.join("RECORD")),
            }
        }
        (None, DistFormat::EggInfo) => stat_abs(&dist.metadata_path.join("installed-files.txt")),
    };
    // A symlinked reference is read through the link: identify the target.
    let reference = match reference {
        Some(id) if id.mode & libc::S_IFMT == libc::S_IFLNK => host
            .metadata(&reference_path(dist, owner))
            .ok()
            .map(|m| StatId::from_metadata(&m)),
        other => other,
    };
    RefId {
        metadata_path: &dist.metadata_path,
        has_installer: dist.installer.is_some(),
        dpkg_owner: owner,
        reference,
    }
}

/// What a reference is, once its files have been streamed.
#[derive(Debug)]
struct RefHead {
    kind: RecordReference,
    dpkg_package: Option<String>,
    error: Option<String>,
    /// Lines of the list too long to be a path (skipped, unverifiable).
    overlong: u64,
}

impl RefHead {
    fn none(dpkg_package: Option<String>, error: Option<String>) -> RefHead {
        RefHead {
            kind: RecordReference::None,
            dpkg_package,
            error,
            overlong: 0,
        }
    }
}

/// Streams the files `dist`'s reference lists to `f`, one at a time (the
/// list is never held whole), and says what the reference was.
fn each_ref_file(
    host: &Host,
    dist: &Distribution,
    dpkg: Option<&DpkgIndex>,
    site_dir: Option<&HostDir>,
    f: &mut dyn FnMut(RefFile),
) -> RefHead {
    let root = environment_root(&dist.site_packages);
    if let Some(pkg) = dpkg.and_then(|i| i.owner(&dist.metadata_path)) {
        let path = PathBuf::from(format!("/var/lib/dpkg/info/{pkg}.md5sums"));
        let streamed = host.open_file(&path).and_then(|(file, _)| {
            for_each_line(file, &path, &mut |l| {
                let Some((sum, p)) = l.split_once(char::is_whitespace) else {
                    return;
                };
                let p = p.trim_start();
                if p.is_empty() {
                    return;
                }
                let path = resolve_entry(Path::new("/"), p);
                let digest = crate::hex::decode(sum.trim());
                f(RefFile {
                    outside: !path.starts_with(&root),
                    bad_hash: digest.is_none(),
                    expected: digest.map(|d| (HashAlgo::Md5, d)),
                    size: None,
                    path,
                });
            })
        });
        return match streamed {
            Ok(stats) => RefHead {
                kind: RecordReference::Dpkg,
                dpkg_package: Some(pkg.to_string()),
                error: None,
                overlong: stats.overlong,
            },
            Err(e) => RefHead::none(
                Some(pkg.to_string()),
                Some(format!(
                    "owned by dpkg package {pkg} but its md5sums cannot be read: {e}"
                )),
            ),
        };
    }
    let debian_built = dist.installer.is_none()
        && dist.installer_error.is_none()
        && dist
            .site_packages
            .file_name()
            .is_some_and(|n| n == "dist-packages")
        && dist.site_packages.starts_with("/usr/lib");
    if debian_built {
        return RefHead::none(None, Some("Debian-built distribution (no INSTALLER) not found in the dpkg database; its RECORD comes from the build tree and is not trusted".into()));
    }
    let streamed = for_each_record_entry(host, dist, site_dir, &mut |e| {
        let (expected, bad_hash) = match &e.hash {
            None => (None, false),
            Some((algo, digest)) => match (HashAlgo::from_record_name(algo), decode_b64(digest)) {
                (Some(a), Some(d)) => (Some((a, d)), false),
                _ => (None, true),
            },
        };
        f(RefFile {
            path: e.path,
            expected,
            bad_hash,
            size: e.size,
            outside: e.outside_environment,
        });
    });
    match streamed {
        Ok(Some((source, stats))) => RefHead {
            kind: match source {
                RecordSource::Record => RecordReference::Record,
                RecordSource::InstalledFiles => RecordReference::InstalledFiles,
            },
            dpkg_package: None,
            error: None,
            overlong: stats.overlong,
        },
        Ok(None) => RefHead::none(None, None),
        Err(e) => {
            log::warn!("{e}: distribution {} not verified", dist.name);
            RefHead::none(None, Some(format!("cannot read the file list: {e}")))
        }
    }
}

fn decode_b64(s: &str) -> Option<Vec<u8>> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s.trim().trim_end_matches('='))
        .ok()
}

/// State of one verification pass: the reused buffer and resolved dirs.
struct Run<'a> {
    host: &'a Host,
    verifier: &'a Verifier,
    buf: Vec<u8>,
    dirs: HashMap<PathBuf, PathBuf>,
    /// The site directory, held open for short relative `stat`s.
    site: PathBuf,
    site_dir: Option<HostDir>,
    /// Directories below the site (relative) known to be real directories
    /// all the way down, so a relative `stat` below them follows no link.
    real_dirs: HashMap<PathBuf, bool>,
    /// While verifying one distribution: each listed file's identity, or
    /// `None` once something was seen that cannot be revalidated by `stat`.
    trace: Option<Option<Trace>>,
}

enum Check {
    Same,
    Differs,
    Missing,
    Unreadable,
}

impl Run<'_> {
    fn resolved_dir(&mut self, dir: &Path) -> Result<PathBuf, HostError> {
        if let Some(r) = self.dirs.get(dir) {
            return Ok(r.clone());
        }
        let r = self.host.resolve(dir)?;
        // Bounded: a RECORD naming a million directories must not make the
        // memo of resolutions grow with it.
        if self.dirs.len() >= RUN_CACHE_CAP {
            self.dirs.clear();
        }
        self.dirs.insert(dir.to_path_buf(), r.clone());
        Ok(r)
    }

    /// True when every component of `rel` (relative to the site) is a real
    /// directory, checked with relative `lstat`s and remembered.
    fn is_real_dir(&mut self, rel: &Path) -> bool {
        if rel.as_os_str().is_empty() {
            return true;
        }
        if let Some(b) = self.real_dirs.get(rel) {
            return *b;
        }
        let parent_ok = match rel.parent() {
            Some(p) if !p.as_os_str().is_empty() => self.is_real_dir(p),
            _ => true,
        };
        let ok = parent_ok
            && self.site_dir.as_ref().is_some_and(|d| {
                d.stat_id(rel)
                    .is_ok_and(|id| id.mode & libc::S_IFMT == libc::S_IFDIR)
            });
        if self.real_dirs.len() >= RUN_CACHE_CAP {
            self.real_dirs.clear();
        }
        self.real_dirs.insert(rel.to_path_buf(), ok);
        ok
    }

    /// The identity of a listed file and whether it was found on the fast
    /// path (a relative `lstat` below the open site directory).
    fn identify(&mut self, path: &Path) -> Result<(StatId, Option<PathBuf>), Check> {
        if let Some(rel) = below(&self.site, path).map(Path::to_path_buf) {
            let parent = rel.parent().unwrap_or(Path::new(""));
            if self.site_dir.is_some() && !rel.as_os_str().is_empty() && self.is_real_dir(parent) {
                if let Some(d) = &self.site_dir {
                    match d.stat_id(&rel) {
                        // A symlink is followed inside the root by the slow path.
                        Ok(id) if id.mode & libc::S_IFMT != libc::S_IFLNK => {
                            return Ok((id, Some(rel)))
                        }
                        Ok(_) => {}
                        Err(e) if e.is_not_found() => return Err(Check::Missing),
                        Err(_) => return Err(Check::Unreadable),
                    }
                }
            }
        }
        let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else {
            return Err(Check::Unreadable);
        };
        let dir = match self.resolved_dir(parent) {
            Ok(d) => d,
            Err(e) if e.is_not_found() => return Err(Check::Missing),
            Err(_) => return Err(Check::Unreadable),
        };
        match self.host.child_metadata(&dir, name) {
            Ok(md) => Ok((StatId::from_metadata(&md), None)),
            Err(e) if e.is_not_found() => Err(Check::Missing),
            Err(_) => Err(Check::Unreadable),
        }
    }

    fn check(&mut self, f: &RefFile) -> Check {
        let identified = self.identify(&f.path);
        if let Some(trace) = &mut self.trace {
            let id = match &identified {
                Ok((id, _)) => Some(Some(*id)),
                Err(Check::Missing) => Some(None),
                _ => None,
            };
            match (id, trace.as_mut()) {
                (Some(id), Some(t)) if t.ids.len() < MEMO_MAX_FILES => {
                    if !t.ids.is_empty() {
                        t.paths.push("\0");
                    }
                    t.paths.push(below(&self.site, &f.path).unwrap_or(&f.path));
                    t.ids.push(self.verifier.id_hash(&id));
                }
                _ => *trace = None,
            }
        }
        let (id, rel) = match identified {
            Ok(x) => x,
            Err(c) => return c,
        };
        let Some((algo, expected)) = &f.expected else {
            return if f.bad_hash {
                Check::Unreadable
            } else {
                Check::Same
            };
        };
        if id.mode & libc::S_IFMT != libc::S_IFREG {
            // A directory, FIFO or device where a file was installed.
            return Check::Differs;
        }
        if f.size.is_some_and(|s| s != id.size) {
            return Check::Differs;
        }
        // Keyed by the file's identity alone (device, inode, size, times):
        // hardlinked copies share a digest, as they share content. With a
        // persistent cache, that is the one cache (it holds every digest
        // this process computes); without, a compact in-process one.
        let algo_name = algo.name();
        let verifier = self.verifier;
        let cached = match &verifier.persist {
            Some(p) => p.digest(&f.path, algo_name, crate::persist::Ident::from_stat_id(&id)),
            None => {
                if let Some(h) = verifier.digests.get(&verifier.id_hash(&(id, *algo))) {
                    return if h == verifier.digest_hash(expected) {
                        Check::Same
                    } else {
                        Check::Differs
                    };
                }
                None
            }
        };
        let digest: Box<[u8]> = match cached {
            Some(d) => d,
            None => {
                let opened = match (&rel, &self.site_dir) {
                    (Some(rel), Some(d)) => self.host.open_file_at_known(d, rel, Some(id)),
                    _ => self.host.open_file(&f.path),
                };
                let (file, md2) = match opened {
                    Ok(x) => x,
                    Err(e) if e.is_not_found() => return Check::Missing,
                    Err(HostError::NotRegular { .. }) => return Check::Differs,
                    Err(_) => return Check::Unreadable,
                };
                // Exactly the size `fstat` gave: no extra read to find EOF (a
                // file growing meanwhile is being modified, and hashes so).
                let Ok(d) = digest_reader(file.take(md2.len()), *algo, &mut self.buf) else {
                    return Check::Unreadable;
                };
                let d: Box<[u8]> = d.into_boxed_slice();
                let id2 = StatId::from_metadata(&md2);
                match &verifier.persist {
                    Some(p) => p.put_digest(
                        &f.path,
                        algo_name,
                        crate::persist::Ident::from_stat_id(&id2),
                        &d,
                    ),
                    None => verifier
                        .digests
                        .insert(verifier.id_hash(&(id2, *algo)), verifier.digest_hash(&d)),
                }
                d
            }
        };
        if *digest == **expected {
            Check::Same
        } else {
            Check::Differs
        }
    }

    /// The files below a package directory, from the cache when no
    /// directory in it changed.
    fn walk(&mut self, dir: &Path, budget: &mut usize) -> (Arc<Walk>, bool) {
        if let Some(w) = self.verifier.walks.get(&dir.to_path_buf()) {
            let unchanged = self.site_dir.as_ref().is_some_and(|sd| {
                w.dirs
                    .iter()
                    .all(|(rel, id)| sd.stat_id(rel).is_ok_and(|now| now == *id))
            });
            if unchanged {
                return (w, true);
            }
        }
        let mut walk = Walk {
            dirs: Vec::new(),
            files: std::ffi::OsString::new(),
            problems: Vec::new(),
        };
        let before = *budget;
        walk_dir(self, dir, None, &mut walk, WALK_MAX_DEPTH, budget);
        let complete = *budget > 0 || before == 0;
        let cacheable = complete && walk.dirs.iter().all(|(_, id)| id.ino != 0);
        walk.dirs.shrink_to_fit();
        walk.files.shrink_to_fit();
        let walk = Arc::new(walk);
        let cacheable = cacheable && self.site_dir.is_some();
        if cacheable {
            self.verifier.walks.insert(dir.to_path_buf(), walk.clone());
        }
        (walk, cacheable)
    }

    /// True when every identity `v` rests on is unchanged: each walked
    /// directory (an entry added, removed or renamed changes it) and each
    /// listed file (any write or replacement changes it), found the same
    /// way as when it was verified.
    fn still_valid(&mut self, v: &Verified) -> bool {
        let Some(sd) = &self.site_dir else {
            return false;
        };
        let walks_same = v.walks.iter().all(|w| {
            w.dirs
                .iter()
                .all(|(rel, id)| sd.stat_id(rel).is_ok_and(|now| now == *id))
        });
        if !walks_same {
            return false;
        }
        // The walked directories were found by listing (which does not
        // follow links) and are unchanged: they are real directories, so
        // the fast path need not `lstat` them again.
        for w in &v.walks {
            if w.dirs
                .iter()
                .all(|(_, id)| id.mode & libc::S_IFMT == libc::S_IFDIR)
            {
                for (rel, _) in &w.dirs {
                    self.real_dirs.entry(rel.clone()).or_insert(true);
                }
            }
        }
        use std::os::unix::ffi::OsStrExt;
        let paths = v.paths.as_bytes();
        let mut names = paths
            .split(|b| *b == 0)
            .filter(|p| !paths.is_empty() || !p.is_empty());
        let mut ids = v.ids.iter();
        loop {
            let (name, id) = match (names.next(), ids.next()) {
                (None, None) => return true,
                (Some(n), Some(id)) => (n, *id),
                _ => return false,
            };
            let name = Path::new(std::ffi::OsStr::from_bytes(name));
            let path = if name.is_absolute() {
                name.to_path_buf()
            } else {
                self.site.join(name)
            };
            let now = match self.identify(&path) {
                Ok((now, _)) => Some(now),
                Err(Check::Missing) => None,
                Err(_) => return false,
            };
            if self.verifier.id_hash(&now) != id {
                return false;
            }
        }
    }

    /// Counts one listed file of a distribution being verified: checks it,
    /// and notes the package directory it installs into.
    fn account(&mut self, p: &mut Pending, f: &RefFile, site_names: &HashSet<std::ffi::OsString>) {
        if f.outside {
            p.v.files_outside_environment += 1;
            return;
        }
        p.has_hashes |= f.expected.is_some();
        match self.check(f) {
            Check::Same => {
                if f.expected.is_some() {
                    p.v.files_checked += 1;
                }
            }
            Check::Differs => {
                p.v.files_checked += 1;
                p.v.files_modified += 1;
                p.v.note(&f.path, Change::Modified);
            }
            Check::Missing => {
                p.v.files_missing += 1;
                p.v.note(&f.path, Change::Missing);
            }
            Check::Unreadable => p.v.files_unverifiable += 1,
        }
        // Its top-level package directory, to walk for unrecorded files;
        // only one that exists is kept (the site's own listing bounds it).
        let Some(rel) = below(&self.site, &f.path) else {
            return;
        };
        let mut comps = rel.components();
        let Some(first) = comps.next().map(|c| c.as_os_str()) else {
            return;
        };
        if comps.next().is_none() {
            return; // a file directly in the site dir has no own directory
        }
        let n = first.to_string_lossy();
        let skip = n.ends_with(".dist-info")
            || n.ends_with(".egg-info")
            || n.ends_with(".data")
            || n == "__pycache__";
        // Only a name the site holds can be walked; each is checked once.
        if skip || p.own.contains(first) || !site_names.contains(first) {
            return;
        }
        if self.host.is_dir(&self.site.join(first)) {
            p.own.insert(first.to_os_string());
        }
    }

    /// Completes a distribution's verification once its reference has been
    /// streamed and `union` (keyed hashes of every file the site's
    /// references list) is complete: the unrecorded-file walk, the verdict,
    /// and what a repeated query needs to reuse it (`None` when something
    /// cannot be revalidated by `stat` alone).
    fn finish_pending(
        &mut self,
        dist: &Distribution,
        p: Pending,
        union: &HashSet<u128>,
    ) -> (Verification, Option<Verified>) {
        let Pending {
            mut v,
            has_hashes,
            own,
            trace,
            head,
        } = p;
        let head = head.unwrap_or_else(|| RefHead::none(None, None));
        v.reference = head.kind;
        v.dpkg_package = head.dpkg_package;
        let mut errors: Vec<String> = head.error.into_iter().collect();
        if head.overlong > 0 {
            v.files_unverifiable += head.overlong;
            errors.push(format!(
                "{} line(s) of the file list longer than {MAX_RECORD_LINE} bytes were skipped",
                head.overlong
            ));
        }
        if v.reference == RecordReference::None {
            // No reference at all (nothing went wrong reading one): the
            // verdict rests only on what the fingerprint holds (no RECORD
            // or file list in the metadata directory).
            let clean = errors.is_empty();
            v.error = (!clean).then(|| errors.join("; "));
            v.finish(false);
            let verified = clean.then(|| Verified {
                paths: std::ffi::OsString::new(),
                ids: Box::new([]),
                walks: Box::new([]),
                result: v.clone(),
            });
            return (v, verified);
        }
        let mut walks = Some(Vec::new());
        let mut budget = WALK_MAX_ENTRIES;
        let site = dist.site_packages.clone();
        for name in &own {
            let dir = site.join(name);
            let (walk, cacheable) = self.walk(&dir, &mut budget);
            match (cacheable, walks.as_mut()) {
                (true, Some(ws)) => ws.push(walk.clone()),
                _ => walks = None,
            }
            errors.extend(walk.problems.iter().cloned());
            for f in walk.files(&site) {
                if !union.contains(&self.verifier.id_hash(&f.as_path())) {
                    v.files_unrecorded += 1;
                    v.note(&f, Change::Unrecorded);
                }
            }
        }
        if budget == 0 {
            walks = None;
            let msg = "walk_limit: unrecorded-file walk stopped at its entry limit".to_string();
            log::warn!("{}: {msg}", dist.metadata_path.display());
            errors.push(msg);
        }
        if v.files_outside_environment > 0 {
            errors.push(format!(
                "{} listed path(s) resolve outside the environment and were not checked",
                v.files_outside_environment
            ));
        }
        v.error = (!errors.is_empty()).then(|| errors.join("; "));
        v.finish(has_hashes);
        let verified = match (trace, walks) {
            (Some(t), Some(walks)) if v.files_unverifiable == 0 => Some(Verified {
                paths: t.paths,
                ids: t.ids.into_boxed_slice(),
                walks: walks.into_boxed_slice(),
                result: v.clone(),
            }),
            _ => None,
        };
        (v, verified)
    }
}

/// A distribution being verified while the site's references stream by.
#[derive(Debug)]
struct Pending {
    v: Verification,
    has_hashes: bool,
    /// Names (in the site directory) of its package directories.
    own: BTreeSet<std::ffi::OsString>,
    /// What a repeated query needs to revalidate it, if kept.
    trace: Option<Trace>,
    head: Option<RefHead>,
}

impl Default for Pending {
    fn default() -> Self {
        Pending {
            v: Verification::new(RecordReference::None),
            has_hashes: false,
            own: BTreeSet::new(),
            trace: None,
            head: None,
        }
    }
}

/// Most listed files whose identities a memoised verification keeps; a
/// distribution listing more is verified afresh each time (its memo would
/// grow with an attacker's RECORD).
const MEMO_MAX_FILES: usize = 100_000;

/// The identities a verification rests on, built while checking: paths
/// NUL-separated (relative to the site when below it) and keyed hashes.
#[derive(Debug, Default)]
struct Trace {
    paths: std::ffi::OsString,
    ids: Vec<u128>,
}

/// `path` relative to `base` when it lies below it, by a byte comparison
/// (both are normalised host paths), which is much cheaper than
/// [`Path::strip_prefix`]'s component walk.
fn below<'a>(base: &Path, path: &'a Path) -> Option<&'a Path> {
    use std::os::unix::ffi::OsStrExt;
    let b = base.as_os_str().as_bytes();
    let p = path.as_os_str().as_bytes();
    let rest = p.strip_prefix(b)?;
    let rest = if b.ends_with(b"/") {
        rest
    } else {
        rest.strip_prefix(b"/")?
    };
    Some(Path::new(std::ffi::OsStr::from_bytes(rest)))
}

/// Lists `dir` recursively (not following symlinks, skipping
/// `__pycache__` and byte-compiled files) into `walk`, recording each
/// directory's identity (`ino` 0 when it could not be taken).
fn walk_dir(
    run: &Run,
    dir: &Path,
    resolved_parent: Option<&Path>,
    walk: &mut Walk,
    depth: usize,
    budget: &mut usize,
) {
    if *budget == 0 {
        return;
    }
    let rel = below(&run.site, dir).unwrap_or(dir).to_path_buf();
    let id = run
        .site_dir
        .as_ref()
        .and_then(|sd| sd.stat_id(&rel).ok())
        .unwrap_or_default();
    walk.dirs.push((rel, id));
    // Each directory is listed relative to its parent's resolution: a deep
    // tree costs the same per directory at every level.
    let resolved = match resolved_parent {
        Some(p) => dir.file_name().map(|n| p.join(n)),
        None => run.host.resolve(dir).ok(),
    };
    let listing = match resolved_parent {
        Some(p) => run.host.read_child_dir(dir, p),
        None => run.host.read_dir(dir),
    };
    let entries = match listing {
        Ok(e) => e,
        Err(e) if e.is_not_found() => return,
        Err(e) => {
            log::warn!("{e}: not searched for unrecorded files");
            walk.problems.push(format!("unreadable: {e}"));
            return;
        }
    };
    for e in entries {
        if *budget == 0 {
            return;
        }
        *budget -= 1;
        let name = e.name_lossy();
        if e.file_type.is_dir() {
            if name == "__pycache__" {
                continue;
            }
            if depth == 0 {
                let msg = format!(
                    "too_deep: {} is nested more than {WALK_MAX_DEPTH} levels deep; not searched for unrecorded files",
                    e.path.display()
                );
                log::warn!("{msg}");
                walk.problems.push(msg);
                continue;
            }
            walk_dir(run, &e.path, resolved.as_deref(), walk, depth - 1, budget);
            continue;
        }
        if name.ends_with(".pyc") || name.ends_with(".pyo") {
            continue;
        }
        let f = below(&run.site, &e.path).unwrap_or(&e.path);
        if !walk.files.is_empty() {
            walk.files.push("\0");
        }
        walk.files.push(f);
    }
}

impl Walk {
    /// The files found, as host paths (`site`: the site directory walked).
    fn files<'a>(&'a self, site: &'a Path) -> impl Iterator<Item = PathBuf> + 'a {
        use std::os::unix::ffi::OsStrExt;
        let bytes = self.files.as_bytes();
        bytes
            .split(|b| *b == 0)
            .filter(move |_| !bytes.is_empty())
            .map(move |name| {
                let name = Path::new(std::ffi::OsStr::from_bytes(name));
                if name.is_absolute() {
                    name.to_path_buf()
                } else {
                    site.join(name)
                }
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn below_is_a_component_prefix() {
        let b = Path::new("/a/site");
        assert_eq!(below(b, Path::new("/a/site/x/y")), Some(Path::new("x/y")));
        assert_eq!(below(b, Path::new("/a/site")), None);
        assert_eq!(below(b, Path::new("/a/sitex/y")), None);
        assert_eq!(
            below(Path::new("/"), Path::new("/etc")),
            Some(Path::new("etc"))
        );
    }

    #[test]
    fn known_digests_and_base64() {
        let mut buf = vec![0u8; 7];
        let d = digest_reader(&b"abc"[..], HashAlgo::Sha256, &mut buf).unwrap();
        assert_eq!(
            crate::hex::encode(&d),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let d = digest_reader(&b"abc"[..], HashAlgo::Md5, &mut buf).unwrap();
        assert_eq!(crate::hex::encode(&d), "900150983cd24fb0d6963f7d28e17f72");
        assert_eq!(decode_b64("AP8Q"), Some(vec![0, 255, 16]));
        assert_eq!(decode_b64("AP8Q=="), Some(vec![0, 255, 16]));
    }
}
