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
//! cached by (path, device, inode, size, mtime), so verifying an unchanged
//! host again costs one `lstat` per file.

use std::borrow::Borrow;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use base64::Engine;
use md5::Md5;
use sha2::{Digest, Sha256, Sha384, Sha512};

use super::distribution::Distribution;
use super::record::{environment_root, read_record, resolve_entry, RecordSource};
use crate::cache::{Cache, FileKey};
use crate::host::{Host, HostError, StatId, DEFAULT_READ_CAP};

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
    Ok(hex(&d))
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// The overall verdict on a distribution's files (`record_status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// Content differs from the reference.
    Modified,
    /// Listed but gone.
    Missing,
    /// Present in the package's directories but listed nowhere.
    Unrecorded,
}

/// The result of verifying one distribution.
#[derive(Debug, Clone, PartialEq, Eq)]
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

struct Reference {
    kind: RecordReference,
    dpkg_package: Option<String>,
    files: Vec<RefFile>,
    error: Option<String>,
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
    digests: Cache<(StatId, HashAlgo), Box<[u8]>>,
    dpkg: Mutex<Option<(Option<FileKey>, Arc<DpkgIndex>)>>,
}

impl Default for Verifier {
    fn default() -> Self {
        Verifier::new()
    }
}

impl Verifier {
    /// A verifier with an empty cache (up to a million file digests).
    pub fn new() -> Self {
        Verifier {
            digests: Cache::new(1_000_000),
            dpkg: Mutex::new(None),
        }
    }

    /// Number of cached digests (for tests and benchmarks).
    pub fn cached_digests(&self) -> usize {
        self.digests.len()
    }

    fn dpkg_index(&self, host: &Host) -> Arc<DpkgIndex> {
        let dir = Path::new("/var/lib/dpkg/info");
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
        let dists: Vec<&Distribution> = dists.iter().map(Borrow::borrow).collect();
        let needs_dpkg = dists.iter().any(|d| d.installer.is_none());

        let dpkg = if needs_dpkg {
            Some(self.dpkg_index(host))
        } else {
            None
        };
        let refs: Vec<Reference> = dists
            .iter()
            .map(|d| reference_for(host, d, dpkg.as_deref()))
            .collect();
        let union: HashSet<&Path> = refs
            .iter()
            .flat_map(|r| r.files.iter().map(|f| f.path.as_path()))
            .chain(dists.iter().map(|d| d.metadata_path.as_path()))
            .collect();
        let mut run = Run {
            host,
            verifier: self,
            buf: vec![0u8; HASH_BUF],
            dirs: HashMap::new(),
        };
        dists
            .iter()
            .zip(&refs)
            .enumerate()
            .map(|(i, (d, r))| {
                if !wanted.get(i).copied().unwrap_or(false) {
                    return None;
                }
                Some(run.verify_one(d, r, &union))
            })
            .collect()
    }
}

fn reference_for(host: &Host, dist: &Distribution, dpkg: Option<&DpkgIndex>) -> Reference {
    let root = environment_root(&dist.site_packages);
    if let Some(pkg) = dpkg.and_then(|i| i.owner(&dist.metadata_path)) {
        let path = PathBuf::from(format!("/var/lib/dpkg/info/{pkg}.md5sums"));
        return match host.read_to_string(&path, DEFAULT_READ_CAP) {
            Ok(text) => {
                let files = text
                    .lines()
                    .filter_map(|l| {
                        let (sum, p) = l.split_once(char::is_whitespace)?;
                        let p = p.trim_start();
                        if p.is_empty() {
                            return None;
                        }
                        let path = resolve_entry(Path::new("/"), p);
                        let digest = unhex(sum.trim());
                        Some(RefFile {
                            outside: !path.starts_with(&root),
                            bad_hash: digest.is_none(),
                            expected: digest.map(|d| (HashAlgo::Md5, d)),
                            size: None,
                            path,
                        })
                    })
                    .collect();
                Reference {
                    kind: RecordReference::Dpkg,
                    dpkg_package: Some(pkg.to_string()),
                    files,
                    error: None,
                }
            }
            Err(e) => Reference {
                kind: RecordReference::None,
                dpkg_package: Some(pkg.to_string()),
                files: Vec::new(),
                error: Some(format!(
                    "owned by dpkg package {pkg} but its md5sums cannot be read: {e}"
                )),
            },
        };
    }
    let debian_built = dist.installer.is_none()
        && dist
            .site_packages
            .file_name()
            .is_some_and(|n| n == "dist-packages")
        && dist.site_packages.starts_with("/usr/lib");
    if debian_built {
        return Reference {
            kind: RecordReference::None,
            dpkg_package: None,
            files: Vec::new(),
            error: Some("Debian-built distribution (no INSTALLER) not found in the dpkg database; its RECORD comes from the build tree and is not trusted".into()),
        };
    }
    match read_record(host, dist) {
        Ok(Some((source, entries))) => {
            let files = entries
                .into_iter()
                .map(|e| {
                    let (expected, bad_hash) = match &e.hash {
                        None => (None, false),
                        Some((algo, digest)) => {
                            match (HashAlgo::from_record_name(algo), decode_b64(digest)) {
                                (Some(a), Some(d)) => (Some((a, d)), false),
                                _ => (None, true),
                            }
                        }
                    };
                    RefFile {
                        path: e.path,
                        expected,
                        bad_hash,
                        size: e.size,
                        outside: e.outside_environment,
                    }
                })
                .collect();
            Reference {
                kind: match source {
                    RecordSource::Record => RecordReference::Record,
                    RecordSource::InstalledFiles => RecordReference::InstalledFiles,
                },
                dpkg_package: None,
                files,
                error: None,
            }
        }
        Ok(None) => Reference {
            kind: RecordReference::None,
            dpkg_package: None,
            files: Vec::new(),
            error: None,
        },
        Err(e) => Reference {
            kind: RecordReference::None,
            dpkg_package: None,
            files: Vec::new(),
            error: Some(format!("cannot read the file list: {e}")),
        },
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
        self.dirs.insert(dir.to_path_buf(), r.clone());
        Ok(r)
    }

    fn check(&mut self, f: &RefFile) -> Check {
        let (Some(parent), Some(name)) = (f.path.parent(), f.path.file_name()) else {
            return Check::Unreadable;
        };
        let dir = match self.resolved_dir(parent) {
            Ok(d) => d,
            Err(e) if e.is_not_found() => return Check::Missing,
            Err(_) => return Check::Unreadable,
        };
        let md = match self.host.child_metadata(&dir, name) {
            Ok(md) => md,
            Err(e) if e.is_not_found() => return Check::Missing,
            Err(_) => return Check::Unreadable,
        };
        let Some((algo, expected)) = &f.expected else {
            return if f.bad_hash {
                Check::Unreadable
            } else {
                Check::Same
            };
        };
        if !md.is_file() {
            // A directory, FIFO or device where a file was installed.
            return Check::Differs;
        }
        if f.size.is_some_and(|s| s != md.len()) {
            return Check::Differs;
        }
        // Keyed by the file's identity alone (device, inode, size, times):
        // hardlinked copies share a digest, as they share content.
        let key = (StatId::from_metadata(&md), *algo);
        let digest: Box<[u8]> = match self.verifier.digests.get(&key) {
            Some(d) => d,
            None => {
                let (file, md2) = match self.host.open_child(&dir, name) {
                    Ok(x) => x,
                    Err(e) if e.is_not_found() => return Check::Missing,
                    Err(HostError::NotRegular { .. }) => return Check::Differs,
                    Err(_) => return Check::Unreadable,
                };
                let Ok(d) = digest_reader(file, *algo, &mut self.buf) else {
                    return Check::Unreadable;
                };
                let d: Box<[u8]> = d.into_boxed_slice();
                self.verifier
                    .digests
                    .insert((StatId::from_metadata(&md2), *algo), d.clone());
                d
            }
        };
        if *digest == **expected {
            Check::Same
        } else {
            Check::Differs
        }
    }

    fn verify_one(
        &mut self,
        dist: &Distribution,
        r: &Reference,
        union: &HashSet<&Path>,
    ) -> Verification {
        let mut v = Verification::new(r.kind);
        v.dpkg_package = r.dpkg_package.clone();
        v.error = r.error.clone();
        if r.kind == RecordReference::None {
            v.finish(false);
            return v;
        }
        let mut has_hashes = false;
        for f in &r.files {
            if f.outside {
                v.files_outside_environment += 1;
                continue;
            }
            has_hashes |= f.expected.is_some();
            match self.check(f) {
                Check::Same => {
                    if f.expected.is_some() {
                        v.files_checked += 1;
                    }
                }
                Check::Differs => {
                    v.files_checked += 1;
                    v.files_modified += 1;
                    v.note(&f.path, Change::Modified);
                }
                Check::Missing => {
                    v.files_missing += 1;
                    v.note(&f.path, Change::Missing);
                }
                Check::Unreadable => v.files_unverifiable += 1,
            }
        }
        // Unrecorded files: walk the top-level package directories this
        // distribution installed into.
        let site = &dist.site_packages;
        let own: BTreeSet<PathBuf> = r
            .files
            .iter()
            .filter_map(|f| {
                let rel = f.path.strip_prefix(site).ok()?;
                let mut comps = rel.components();
                let first = comps.next()?.as_os_str();
                comps.next()?; // a file directly in the site dir has no own directory
                let n = first.to_string_lossy();
                let skip = n.ends_with(".dist-info")
                    || n.ends_with(".egg-info")
                    || n.ends_with(".data")
                    || n == "__pycache__";
                (!skip).then(|| site.join(first))
            })
            .collect();
        let mut budget = WALK_MAX_ENTRIES;
        for dir in &own {
            walk_unrecorded(self.host, dir, union, &mut v, WALK_MAX_DEPTH, &mut budget);
        }
        if budget == 0 {
            let msg = "unrecorded-file walk stopped at its entry limit";
            v.error = Some(match v.error.take() {
                Some(e) => format!("{e}; {msg}"),
                None => msg.to_string(),
            });
        }
        if v.files_outside_environment > 0 {
            let msg = format!(
                "{} listed path(s) resolve outside the environment and were not checked",
                v.files_outside_environment
            );
            v.error = Some(match v.error.take() {
                Some(e) => format!("{e}; {msg}"),
                None => msg,
            });
        }
        v.finish(has_hashes);
        v
    }
}

fn walk_unrecorded(
    host: &Host,
    dir: &Path,
    union: &HashSet<&Path>,
    v: &mut Verification,
    depth: usize,
    budget: &mut usize,
) {
    if *budget == 0 {
        return;
    }
    let Ok(entries) = host.read_dir(dir) else {
        return;
    };
    for e in entries {
        if *budget == 0 {
            return;
        }
        *budget -= 1;
        let name = e.name_lossy();
        if e.file_type.is_dir() {
            if name != "__pycache__" && depth > 0 {
                walk_unrecorded(host, &e.path, union, v, depth - 1, budget);
            }
            continue;
        }
        if name.ends_with(".pyc") || name.ends_with(".pyo") {
            continue;
        }
        if !union.contains(e.path.as_path()) {
            v.files_unrecorded += 1;
            v.note(&e.path, Change::Unrecorded);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip_and_known_digests() {
        let mut buf = vec![0u8; 7];
        let d = digest_reader(&b"abc"[..], HashAlgo::Sha256, &mut buf).unwrap();
        assert_eq!(
            hex(&d),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let d = digest_reader(&b"abc"[..], HashAlgo::Md5, &mut buf).unwrap();
        assert_eq!(hex(&d), "900150983cd24fb0d6963f7d28e17f72");
        assert_eq!(unhex("00ff10"), Some(vec![0, 255, 16]));
        assert_eq!(unhex("0g"), None);
        assert_eq!(unhex("abc"), None);
        assert_eq!(decode_b64("AP8Q"), Some(vec![0, 255, 16]));
        assert_eq!(decode_b64("AP8Q=="), Some(vec![0, 255, 16]));
    }
}
