//! Installed distributions in a site directory: `.dist-info` (PEP 376/627),
//! `.egg-info` (directory or single PKG-INFO file), `.egg` directories, and
//! legacy editable installs (`.egg-link`).
//!
//! Only the top level of a site directory is looked at: a `.dist-info` inside
//! a package (pip's `_vendor/*.dist-info`) is not an installed distribution.

use std::path::{Path, PathBuf};

use super::direct_url::{DirectUrl, SourceKind};
use super::metadata::{Metadata, METADATA_READ_CAP};
use super::name::normalize_name;
use crate::cache::Cache;
use crate::host::{Host, HostDir, HostError, StatId};
use crate::persist::{DistMemo, Ident, PersistentCache, SeenIds};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeSet, HashMap};
use std::ffi::OsStr;
use std::ffi::OsString;
use std::sync::{Arc, Mutex, OnceLock};

/// Cap for small marker files (INSTALLER, top_level.txt, .egg-link).
const SMALL_FILE_CAP: u64 = 64 * 1024;

/// The on-disk format of a distribution's metadata.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DistFormat {
    /// A `.dist-info` directory (wheel installs, PEP 376).
    DistInfo,
    /// An `.egg-info` directory or file, an `.egg` directory's `EGG-INFO`, or
    /// the `.egg-info` a legacy `.egg-link` points at.
    EggInfo,
}

impl DistFormat {
    /// `dist-info` or `egg-info`.
    pub fn as_str(self) -> &'static str {
        match self {
            DistFormat::DistInfo => "dist-info",
            DistFormat::EggInfo => "egg-info",
        }
    }
}

/// One installed distribution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Distribution {
    /// The project name (from METADATA, else from the directory name).
    pub name: String,
    /// PEP 503 normalised name.
    pub normalized_name: String,
    /// The version (from METADATA, else from the directory name; may be empty).
    pub version: String,
    /// The site directory it is installed in (host path).
    pub site_packages: PathBuf,
    /// The `.dist-info`/`.egg-info` directory, or the PKG-INFO-style
    /// `.egg-info` file (host path).
    pub metadata_path: PathBuf,
    /// Which metadata format.
    pub format: DistFormat,
    /// Parsed core metadata.
    pub metadata: Metadata,
    /// The first line of `INSTALLER` (`pip`, `uv`, `conda`, ...), trimmed.
    pub installer: Option<String>,
    /// Why `INSTALLER` exists but could not be read (a FIFO, a directory,
    /// no permission): then the distribution is not taken for Debian-built.
    pub installer_error: Option<String>,
    /// Where the metadata directory's symlink points (host path, resolved
    /// inside the root), when the site holds a link rather than the
    /// directory itself. Python follows such links, and so does squatch.
    pub link_target: Option<PathBuf>,
    /// `REQUESTED` exists: the user asked for it, it was not pulled in as a
    /// dependency.
    pub requested: bool,
    /// `direct_url.json` (credentials stripped), or the target of a legacy
    /// `.egg-link` as an editable `file://` URL.
    pub direct_url: Option<DirectUrl>,
    /// What was wrong with the metadata, if anything (the row still appears).
    pub error: Option<String>,
}

impl Distribution {
    /// Where the files came from: the direct URL's kind, else `index` when an
    /// installer recorded itself, else `unknown`.
    pub fn source_kind(&self) -> SourceKind {
        match (&self.direct_url, &self.installer) {
            (Some(d), _) => d.source_kind,
            (None, Some(_)) => SourceKind::Index,
            (None, None) => SourceKind::Unknown,
        }
    }

    /// The file holding core metadata (`METADATA` or `PKG-INFO`).
    pub fn metadata_file(&self) -> PathBuf {
        match self.format {
            DistFormat::DistInfo => self.metadata_path.join("METADATA"),
            DistFormat::EggInfo => {
                if self
                    .metadata_path
                    .extension()
                    .is_some_and(|e| e == "egg-info")
                    || self.metadata_path.ends_with("EGG-INFO")
                {
                    self.metadata_path.join("PKG-INFO")
                } else {
                    self.metadata_path.clone()
                }
            }
        }
    }
}

/// The distributions installed at the top level of `site_packages`, in name
/// order of their metadata directories. Unreadable or corrupt metadata gives
/// a distribution with `error` set, never a missing one.
pub fn distributions(host: &Host, site_packages: &Path) -> Vec<Distribution> {
    scan(host, &Host::normalize(site_packages))
        .into_iter()
        .map(Arc::unwrap_or_clone)
        .collect()
}

/// The kind of a site-directory entry that may hold a distribution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum EntryKind {
    /// `*.dist-info` directory.
    DistInfo,
    /// `*.egg-info` directory.
    EggInfoDir,
    /// `*.egg-info` file (PKG-INFO itself).
    EggInfoFile,
    /// `*.egg` directory or `*.egg-link` file: rare, never cached.
    Other,
    /// A symlink to a metadata directory or file (followed inside the root,
    /// as Python follows it): rare, never cached.
    Link(DistFormat),
}

/// Whether a listed entry is (or, for a symlink, leads inside the root to)
/// a directory or a regular file.
fn entry_type(host: &Host, e: &crate::host::DirEntry) -> (bool, bool) {
    if e.file_type.is_symlink() {
        match host.metadata(&e.path) {
            Ok(md) => (md.is_dir(), md.is_file()),
            Err(err) => {
                log::info!("{err}: dangling or looping link in a site directory");
                (false, false)
            }
        }
    } else {
        (e.file_type.is_dir(), e.file_type.is_file())
    }
}

/// Loads a distribution whose metadata entry in `site` is a symlink: read
/// through the link (resolved inside the root), its target recorded.
fn load_link(host: &Host, site: &Path, name: &OsStr, format: DistFormat) -> Distribution {
    let path = site.join(name);
    let target = host.resolve(&path).ok();
    let is_dir = host.is_dir(&path);
    let base = is_dir.then(|| MetaDir::Path(path.clone()));
    let mut d = load(
        host,
        site,
        path,
        format,
        &name.to_string_lossy(),
        base,
        true,
    );
    d.link_target = target;
    d
}

fn entry_kind(name: &str, is_dir: bool, is_file: bool) -> Option<EntryKind> {
    if name.ends_with(".dist-info") && is_dir {
        Some(EntryKind::DistInfo)
    } else if name.ends_with(".egg-info") && is_dir {
        Some(EntryKind::EggInfoDir)
    } else if name.ends_with(".egg-info") && is_file {
        Some(EntryKind::EggInfoFile)
    } else if (name.ends_with(".egg") && is_dir) || (name.ends_with(".egg-link") && is_file) {
        Some(EntryKind::Other)
    } else {
        None
    }
}

/// One distribution as a [`DistMemo`] keeps it between processes: what
/// [`Distribution`] holds, less what the site directory gives (its path,
/// the metadata path's directory part; never a link). Written as JSON
/// arrays (compact: a host has tens of thousands of distributions).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredDist(
    /// The entry's name in the site directory.
    String,
    /// Its kind: 0 `.dist-info` directory, 1 `.egg-info` directory, 2
    /// `.egg-info` file.
    u8,
    /// name, normalized_name, version.
    (String, String, String),
    /// Core metadata (see [`StoredMetadata`]).
    StoredMetadata,
    /// installer, installer_error, requested.
    (Option<String>, Option<String>, bool),
    /// direct_url.json (see [`StoredDirectUrl`]).
    Option<StoredDirectUrl>,
    /// error.
    Option<String>,
);

/// [`Metadata`]'s fields in declaration order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredMetadata([Option<String>; 12], Vec<String>, Vec<String>, bool);

/// [`DirectUrl`]'s fields in declaration order (the source kind as its
/// column word).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredDirectUrl(String, String, [Option<String>; 5]);

impl StoredMetadata {
    fn of(m: &Metadata) -> StoredMetadata {
        // Every field named: a field added to Metadata fails to compile here
        // until the memo keeps it too.
        let Metadata {
            metadata_version,
            name,
            version,
            summary,
            author,
            author_email,
            maintainer,
            maintainer_email,
            home_page,
            download_url,
            license,
            requires_python,
            requires_dist,
            project_urls,
            truncated,
        } = m.clone();
        StoredMetadata(
            [
                metadata_version,
                name,
                version,
                summary,
                author,
                author_email,
                maintainer,
                maintainer_email,
                home_page,
                download_url,
                license,
                requires_python,
            ],
            requires_dist,
            project_urls,
            truncated,
        )
    }

    fn to_metadata(&self) -> Metadata {
        let StoredMetadata(f, requires_dist, project_urls, truncated) = self.clone();
        let [metadata_version, name, version, summary, author, author_email, maintainer, maintainer_email, home_page, download_url, license, requires_python] =
            f;
        Metadata {
            metadata_version,
            name,
            version,
            summary,
            author,
            author_email,
            maintainer,
            maintainer_email,
            home_page,
            download_url,
            license,
            requires_python,
            requires_dist,
            project_urls,
            truncated,
        }
    }
}

impl StoredDirectUrl {
    fn of(d: &DirectUrl) -> StoredDirectUrl {
        let DirectUrl {
            url,
            source_kind,
            vcs,
            commit_id,
            requested_revision,
            archive_hash,
            subdirectory,
        } = d.clone();
        StoredDirectUrl(
            url,
            source_kind.as_str().to_string(),
            [
                vcs,
                commit_id,
                requested_revision,
                archive_hash,
                subdirectory,
            ],
        )
    }

    fn to_direct_url(&self) -> Option<DirectUrl> {
        let StoredDirectUrl(url, kind, f) = self.clone();
        let source_kind = [
            SourceKind::Index,
            SourceKind::Archive,
            SourceKind::Vcs,
            SourceKind::Directory,
            SourceKind::Editable,
            SourceKind::Unknown,
        ]
        .into_iter()
        .find(|k| k.as_str() == kind)?;
        let [vcs, commit_id, requested_revision, archive_hash, subdirectory] = f;
        Some(DirectUrl {
            url,
            source_kind,
            vcs,
            commit_id,
            requested_revision,
            archive_hash,
            subdirectory,
        })
    }
}

impl StoredDist {
    /// `d`, read from the entry `entry` of kind `kind` of its site
    /// directory, as a memo keeps it; `None` for what a memo does not keep
    /// (a link, an `.egg` or `.egg-link`, a name that is not UTF-8).
    fn of(entry: &OsStr, kind: EntryKind, d: &Distribution) -> Option<StoredDist> {
        let k = match kind {
            EntryKind::DistInfo => 0,
            EntryKind::EggInfoDir => 1,
            EntryKind::EggInfoFile => 2,
            EntryKind::Other | EntryKind::Link(_) => return None,
        };
        if d.link_target.is_some() {
            return None;
        }
        Some(StoredDist(
            entry.to_str()?.to_string(),
            k,
            (d.name.clone(), d.normalized_name.clone(), d.version.clone()),
            StoredMetadata::of(&d.metadata),
            (d.installer.clone(), d.installer_error.clone(), d.requested),
            d.direct_url.as_ref().map(StoredDirectUrl::of),
            d.error.clone(),
        ))
    }

    /// The entry's kind.
    fn kind(&self) -> Option<EntryKind> {
        match self.1 {
            0 => Some(EntryKind::DistInfo),
            1 => Some(EntryKind::EggInfoDir),
            2 => Some(EntryKind::EggInfoFile),
            _ => None,
        }
    }

    /// The distribution it stands for, in the site directory `site`.
    fn to_distribution(&self, site: &Path) -> Option<Distribution> {
        let format = match self.kind()? {
            EntryKind::DistInfo => DistFormat::DistInfo,
            _ => DistFormat::EggInfo,
        };
        let (name, normalized_name, version) = self.2.clone();
        let (installer, installer_error, requested) = self.4.clone();
        let direct_url = match &self.5 {
            Some(u) => Some(u.to_direct_url()?),
            None => None,
        };
        Some(Distribution {
            name,
            normalized_name,
            version,
            site_packages: site.to_path_buf(),
            metadata_path: site.join(&self.0),
            format,
            metadata: self.3.to_metadata(),
            installer,
            installer_error,
            link_target: None,
            requested,
            direct_url,
            error: self.6.clone(),
        })
    }
}

/// Parsed distributions and site listings kept across queries.
///
/// A site directory's listing is reused while the directory's own `stat`
/// (inode, size, mtime, ctime) is unchanged: installing, upgrading or
/// removing a distribution creates, renames or removes entries in it, which
/// changes it. A distribution is reused while its METADATA's `stat` is
/// unchanged (any write to it changes mtime/ctime). So an unchanged site
/// costs one `fstat` and one relative `lstat` per distribution to list
/// again. INSTALLER, REQUESTED and direct_url.json are re-read with
/// METADATA: installers write all of them together.
///
/// With a persistent cache, a site's distributions are also kept between
/// processes ([`DistMemo`]), valid while the site directory, each metadata
/// directory and each file read from it keep their identities (device,
/// inode, size, mtime, ctime, mode): a new process then `stat`s them and
/// opens nothing.
#[derive(Debug)]
pub struct DistributionCache {
    listings: Cache<StatId, Arc<Listing>>,
    /// Per site directory (by device and inode, so that installing one
    /// distribution does not invalidate its neighbours), per entry name: the METADATA
    /// identity the entry was read at, the distribution, and whether it is
    /// complete (INSTALLER, REQUESTED and direct_url.json read) or core
    /// metadata only.
    dists: Mutex<HashMap<(u64, u64), HashMap<OsString, DistEntry>>>,
    /// Distributions kept between processes (see [`crate::persist`]).
    persist: OnceLock<Arc<PersistentCache>>,
}

/// A site directory's listing: its distribution entries, and whether a
/// [`DistMemo`] can rest on it.
#[derive(Debug)]
struct Listing {
    entries: Vec<Listed>,
    /// No entry is a link, an `.egg` or an `.egg-link`, nor a symlink whose
    /// name a distribution could have (a dangling one may come to lead to
    /// one without the site directory changing), and every name is UTF-8.
    memo_ok: bool,
}

/// One cached distribution: the identity its METADATA had when read, the
/// distribution, and whether it is complete.
type DistEntry = (StatId, Arc<Distribution>, bool);

/// Upper bound on cached distributions; past it the cache starts afresh.
const DIST_CACHE_CAP: usize = 200_000;

/// One entry of a cached site listing.
#[derive(Debug)]
struct Listed {
    name: OsString,
    kind: EntryKind,
    /// `name/METADATA` or `name/PKG-INFO` for a directory, else `name`.
    meta_rel: PathBuf,
    /// The distribution last read for this entry, so that a repeated
    /// listing finds it without hashing its name (the by-name map below
    /// still serves a changed listing).
    last: Mutex<Option<DistEntry>>,
}

impl Default for DistributionCache {
    fn default() -> Self {
        DistributionCache::new()
    }
}

impl DistributionCache {
    /// A cache holding up to 200,000 distributions and 20,000 site listings.
    pub fn new() -> Self {
        DistributionCache {
            listings: Cache::new(20_000),
            dists: Mutex::new(HashMap::new()),
            persist: OnceLock::new(),
        }
    }

    /// Also keeps each site's distributions between processes in `cache`
    /// (see [`crate::persist`]); `None` (`--no-cache`) changes nothing. The
    /// first cache given stays.
    pub fn set_persistent_cache(&self, cache: Option<Arc<PersistentCache>>) {
        if let Some(c) = cache {
            let _ = self.persist.set(c);
        }
    }

    /// Number of cached distributions.
    pub fn len(&self) -> usize {
        self.dists
            .lock()
            .map(|m| m.values().map(HashMap::len).sum())
            .unwrap_or(0)
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn get(&self, site: &StatId, name: &OsStr) -> Option<DistEntry> {
        self.dists
            .lock()
            .ok()?
            .get(&(site.dev, site.ino))?
            .get(name)
            .cloned()
    }

    fn insert(&self, site: StatId, name: &OsStr, entry: DistEntry) {
        if let Ok(mut map) = self.dists.lock() {
            if map.values().map(HashMap::len).sum::<usize>() >= DIST_CACHE_CAP {
                map.clear();
            }
            map.entry((site.dev, site.ino))
                .or_default()
                .insert(name.to_os_string(), entry);
        }
    }
}

/// [`distributions`], reusing `cache` for every distribution whose metadata
/// has not changed since it was last read. Same result, same order.
pub fn distributions_cached(
    host: &Host,
    site_packages: &Path,
    cache: &DistributionCache,
) -> Vec<Distribution> {
    distributions_shared(host, site_packages, cache)
        .into_iter()
        .map(Arc::unwrap_or_clone)
        .collect()
}

/// [`distributions_cached`] without copying what the cache holds.
pub fn distributions_shared(
    host: &Host,
    site_packages: &Path,
    cache: &DistributionCache,
) -> Vec<Arc<Distribution>> {
    listed(host, site_packages, cache, true).0
}

/// [`distributions_shared`], and, when they came from a persistent
/// [`DistMemo`] just checked, the identities that check `stat`ed (for
/// [`Verifier::verify_site_seen`](super::verify::Verifier::verify_site_seen),
/// so that the same query does not `stat` them twice).
pub fn distributions_seen(
    host: &Host,
    site_packages: &Path,
    cache: &DistributionCache,
) -> (Vec<Arc<Distribution>>, Option<SeenIds>) {
    listed(host, site_packages, cache, true)
}

/// Like [`distributions_shared`], but only core metadata (METADATA or
/// PKG-INFO) is guaranteed: `installer`, `requested`, `direct_url` and their
/// errors may be unset. For queries that need names and versions only, it
/// reads a third of the files on a cold cache.
pub fn distributions_core(
    host: &Host,
    site_packages: &Path,
    cache: &DistributionCache,
) -> Vec<Arc<Distribution>> {
    listed(host, site_packages, cache, false).0
}

/// A name a distribution's metadata entry may have.
fn dist_like(name: &str) -> bool {
    [".dist-info", ".egg-info", ".egg", ".egg-link"]
        .iter()
        .any(|s| name.ends_with(s))
}

fn listed(
    host: &Host,
    site_packages: &Path,
    cache: &DistributionCache,
    full: bool,
) -> (Vec<Arc<Distribution>>, Option<SeenIds>) {
    let site = Host::normalize(site_packages);
    let Some((dir, site_id)) = host
        .open_dir(&site)
        .ok()
        .and_then(|d| d.stat_self().ok().map(|id| (d, id)))
    else {
        return (scan(host, &site), None);
    };
    let persist = cache.persist.get();
    let started = crate::persist::now_ns();
    let mut reread = false;
    let listing = match cache.listings.get(&site_id) {
        Some(l) => l,
        None => {
            if let Some(hit) = persist.and_then(|p| from_memo(&site, &dir, site_id, p, cache)) {
                return hit;
            }
            reread = true;
            let Ok(entries) = host.read_dir(&site) else {
                return (Vec::new(), None);
            };
            let memo_ok = entries.iter().all(|e| {
                let name = e.name.to_str();
                name.is_some() && !(e.file_type.is_symlink() && name.is_some_and(dist_like))
            });
            let l: Vec<Listed> = entries
                .into_iter()
                .filter_map(|e| {
                    let (is_dir, is_file) = entry_type(host, &e);
                    let kind = entry_kind(&e.name_lossy(), is_dir, is_file)?;
                    let kind = if e.file_type.is_symlink() {
                        EntryKind::Link(match kind {
                            EntryKind::DistInfo => DistFormat::DistInfo,
                            _ => DistFormat::EggInfo,
                        })
                    } else {
                        kind
                    };
                    let meta_rel = match kind {
                        EntryKind::DistInfo => Path::new(&e.name).join("METADATA"),
                        EntryKind::EggInfoDir => Path::new(&e.name).join("PKG-INFO"),
                        _ => PathBuf::from(&e.name),
                    };
                    Some(Listed {
                        name: e.name,
                        kind,
                        meta_rel,
                        last: Mutex::new(None),
                    })
                })
                .collect();
            let memo_ok = memo_ok
                && l.iter().all(|e| {
                    matches!(
                        e.kind,
                        EntryKind::DistInfo | EntryKind::EggInfoDir | EntryKind::EggInfoFile
                    )
                });
            let l = Arc::new(Listing {
                entries: l,
                memo_ok,
            });
            cache.listings.insert(site_id, l.clone());
            l
        }
    };
    let mut out = Vec::with_capacity(listing.entries.len());
    for entry in listing.entries.iter() {
        let name = entry.name.as_os_str();
        let is_dir = matches!(entry.kind, EntryKind::DistInfo | EntryKind::EggInfoDir);
        if entry.kind == EntryKind::Other {
            let path = site.join(name);
            out.extend(single_entry(host, &site, &path, &name.to_string_lossy()).map(Arc::new));
            continue;
        }
        if let EntryKind::Link(format) = entry.kind {
            out.push(Arc::new(load_link(host, &site, name, format)));
            continue;
        }
        // The METADATA's identity, else (no METADATA) the directory's.
        let meta_id = dir.stat_id(&entry.meta_rel).ok();
        let id = meta_id.or_else(|| dir.stat_id(Path::new(name)).ok());
        if let Some(id) = id {
            let last = entry.last.lock().ok().and_then(|l| l.clone());
            if let Some((seen, d, complete)) = last.or_else(|| cache.get(&site_id, name)) {
                if seen == id && (complete || !full) {
                    out.push(d);
                    continue;
                }
            }
        }
        let format = match entry.kind {
            EntryKind::DistInfo => DistFormat::DistInfo,
            _ => DistFormat::EggInfo,
        };
        // The METADATA just `stat`ed is opened without a second `lstat`.
        let known = meta_id
            .filter(|_| is_dir)
            .and_then(|id| Some((entry.meta_rel.file_name()?, id)));
        let base = is_dir.then_some(MetaDir::At(&dir, name, known));
        let lossy = name.to_string_lossy();
        reread = true;
        let Some(id) = id else {
            // Gone since it was listed: load reports the error.
            out.push(Arc::new(load(
                host,
                &site,
                site.join(name),
                format,
                &lossy,
                base,
                true,
            )));
            continue;
        };
        let d = Arc::new(load(
            host,
            &site,
            site.join(name),
            format,
            &lossy,
            base,
            full,
        ));
        cache.insert(site_id, name, (id, d.clone(), full));
        if let Ok(mut last) = entry.last.lock() {
            *last = Some((id, d.clone(), full));
        }
        out.push(d);
    }
    if let Some(p) = persist.filter(|_| full && reread) {
        p.put_dist_memo(&site, memo_of(&dir, site_id, &listing, &out, started));
    }
    (out, None)
}

/// The paths below the site directory a distribution of kind `kind` in the
/// entry `name` is read from (besides the entry itself).
fn memo_files(kind: EntryKind) -> &'static [&'static str] {
    match kind {
        EntryKind::DistInfo => &["METADATA", "INSTALLER", "direct_url.json"],
        EntryKind::EggInfoDir => &["PKG-INFO", "INSTALLER", "direct_url.json"],
        _ => &[],
    }
}

/// What a later process needs to reuse `dists`, just read from `listing`
/// of the open site directory `dir` (identity `site_id` when listed), or
/// `None` when it cannot rest on identities alone: a link or an `.egg` in
/// the site, a symlink among the paths, anything changed less than a second
/// before `started`, or the site changed since it was listed.
///
/// It rests on the site directory (a distribution added or removed), each
/// metadata directory (REQUESTED, INSTALLER or direct_url.json appearing or
/// leaving changes it) and each file read from it (any write changes its
/// ctime, even with its mtime put back).
fn memo_of(
    dir: &HostDir,
    site_id: StatId,
    listing: &Listing,
    dists: &[Arc<Distribution>],
    started: i128,
) -> Option<DistMemo> {
    if !listing.memo_ok
        || dists.len() != listing.entries.len()
        || site_id.ctime_ns >= started - crate::persist::MEMO_SLACK_NS
        || dir.stat_self().ok()? != site_id
    {
        return None;
    }
    let is_link = |id: &StatId| id.mode & libc::S_IFMT == libc::S_IFLNK;
    let mut rel: BTreeSet<String> = BTreeSet::new();
    let mut stored = Vec::with_capacity(dists.len());
    for (e, d) in listing.entries.iter().zip(dists) {
        let name = e.name.to_str().filter(|n| !n.contains('\n'))?;
        stored.push(StoredDist::of(&e.name, e.kind, d)?);
        rel.insert(name.to_string());
        for f in memo_files(e.kind) {
            let r = format!("{name}/{f}");
            match dir.stat_id(Path::new(&r)) {
                Ok(id) if is_link(&id) => return None,
                Ok(_) => {
                    rel.insert(r);
                }
                Err(err) if err.is_not_found() => {}
                Err(_) => return None,
            }
        }
    }
    let rel: Vec<String> = rel.into_iter().collect();
    let digest = crate::persist::deps_digest(dir, rel.iter().map(String::as_str), Some(started))?;
    Some(DistMemo {
        site: Ident::from_stat_id(&site_id),
        rel: rel.join("\n"),
        digest,
        dists: stored,
    })
}

/// The distributions of the open site directory `dir` (identity `site_id`)
/// from its persistent memo, when every identity it rests on is unchanged;
/// they then fill `cache` as if read (listing and distributions). With the
/// identities the check `stat`ed.
fn from_memo(
    site: &Path,
    dir: &HostDir,
    site_id: StatId,
    p: &PersistentCache,
    cache: &DistributionCache,
) -> Option<(Vec<Arc<Distribution>>, Option<SeenIds>)> {
    let m = p.dist_memo(site)?;
    if m.site != Ident::from_stat_id(&site_id) {
        return None;
    }
    let mut seen: Vec<(String, StatId)> = Vec::new();
    let digest = crate::persist::identities_digest(
        m.rel.split('\n').filter(|r| !r.is_empty()),
        None,
        |rel| {
            let id = dir
                .stat_id(Path::new(rel))
                .ok()
                .filter(|id| id.mode & libc::S_IFMT != libc::S_IFLNK)?;
            seen.push((rel.to_string(), id));
            Some(id)
        },
    )?;
    if digest != m.digest {
        return None;
    }
    let seen = SeenIds {
        site: site.to_path_buf(),
        ids: seen,
    };
    let mut out = Vec::with_capacity(m.dists.len());
    let mut entries = Vec::with_capacity(m.dists.len());
    let mut ids = Vec::with_capacity(m.dists.len());
    for sd in &m.dists {
        let kind = sd.kind()?;
        let d = Arc::new(sd.to_distribution(site)?);
        let name = OsString::from(&sd.0);
        let meta_rel = match memo_files(kind).first() {
            Some(f) => Path::new(&name).join(f),
            None => PathBuf::from(&name),
        };
        // As `listed` keys it: the METADATA's identity, else the entry's.
        let id = meta_rel
            .to_str()
            .and_then(|r| seen.get(r))
            .or_else(|| seen.get(&sd.0))?;
        ids.push(id);
        entries.push(Listed {
            name,
            kind,
            meta_rel,
            last: Mutex::new(Some((id, d.clone(), true))),
        });
        out.push(d);
    }
    for ((e, d), id) in entries.iter().zip(&out).zip(ids) {
        cache.insert(site_id, &e.name, (id, d.clone(), true));
    }
    cache.listings.insert(
        site_id,
        Arc::new(Listing {
            entries,
            memo_ok: true,
        }),
    );
    p.dist_hit();
    Some((out, Some(seen)))
}

fn scan(host: &Host, site: &Path) -> Vec<Arc<Distribution>> {
    let Ok(entries) = host.read_dir(site) else {
        return Vec::new();
    };
    let dir = host.open_dir(site).ok();
    let mut out = Vec::new();
    for e in entries {
        let name = e.name_lossy();
        let (is_dir, is_file) = entry_type(host, &e);
        let Some(kind) = entry_kind(&name, is_dir, is_file) else {
            continue;
        };
        if e.file_type.is_symlink() && kind != EntryKind::Other {
            let format = match kind {
                EntryKind::DistInfo => DistFormat::DistInfo,
                _ => DistFormat::EggInfo,
            };
            out.push(Arc::new(load_link(host, site, &e.name, format)));
            continue;
        }
        let format = match kind {
            EntryKind::Other => {
                out.extend(single_entry(host, site, &e.path, &name).map(Arc::new));
                continue;
            }
            EntryKind::DistInfo => DistFormat::DistInfo,
            EntryKind::EggInfoDir | EntryKind::EggInfoFile | EntryKind::Link(_) => {
                DistFormat::EggInfo
            }
        };
        // The entry is a real directory (read_dir does not follow links).
        let base = match (&dir, kind) {
            (Some(d), EntryKind::DistInfo | EntryKind::EggInfoDir) => {
                Some(MetaDir::At(d, &e.name, None))
            }
            _ => None,
        };
        out.push(Arc::new(load(
            host,
            site,
            e.path.clone(),
            format,
            &name,
            base,
            true,
        )));
    }
    out
}

fn single_entry(host: &Host, site: &Path, path: &Path, name: &str) -> Option<Distribution> {
    if name.ends_with(".egg-link") {
        return Some(load_egg_link(host, site, path, name));
    }
    let info = path.join("EGG-INFO");
    host.is_dir(&info)
        .then(|| load(host, site, info, DistFormat::EggInfo, name, None, true))
}

/// Reads one distribution given its metadata directory (or file).
pub fn load_distribution(host: &Host, site: &Path, metadata_path: &Path) -> Option<Distribution> {
    let name = metadata_path.file_name()?.to_string_lossy().into_owned();
    let format = if name.ends_with(".dist-info") {
        DistFormat::DistInfo
    } else {
        DistFormat::EggInfo
    };
    Some(load(
        host,
        site,
        metadata_path.to_path_buf(),
        format,
        &name,
        None,
        true,
    ))
}

/// Where a metadata directory's files are read from.
enum MetaDir<'a> {
    /// `name/<file>` below an open site directory (cheap: no path walk),
    /// with the [`StatId`] of one of its files when the caller has just
    /// taken it (that `lstat` is then not repeated before the open).
    At(&'a HostDir, &'a OsStr, Option<(&'a OsStr, StatId)>),
    /// A host path, resolved inside the root on every read.
    Path(PathBuf),
}

impl MetaDir<'_> {
    fn open(
        &self,
        host: &Host,
        file: &str,
    ) -> Result<(std::fs::File, std::fs::Metadata), HostError> {
        match self {
            MetaDir::At(dir, name, known) => {
                let known = known.filter(|(f, _)| *f == file).map(|(_, id)| id);
                host.open_file_at_known(dir, &Path::new(name).join(file), known)
            }
            MetaDir::Path(p) => host.open_file(&p.join(file)),
        }
    }

    fn exists(&self, host: &Host, file: &str) -> bool {
        match self {
            MetaDir::At(dir, name, _) => dir.stat_id(&Path::new(name).join(file)).is_ok(),
            MetaDir::Path(p) => host.symlink_metadata(&p.join(file)).is_ok(),
        }
    }

    /// Reads `file`: the whole file (or [`HostError::TooLarge`]) when
    /// `prefix` is false, at most `cap` bytes and a truncation flag when true.
    fn read(
        &self,
        host: &Host,
        file: &str,
        cap: u64,
        prefix: bool,
    ) -> Result<(Vec<u8>, bool), HostError> {
        let (f, md) = self.open(host, file)?;
        read_open(f, &md, cap, prefix, || match self {
            MetaDir::At(dir, name, _) => dir.path().join(name).join(file),
            MetaDir::Path(p) => p.join(file),
        })
    }
}

/// Reads an open file of known size: exactly the size `fstat` gave (capped),
/// with no extra read to find EOF. A file that grows meanwhile is cut at
/// that size; one that shrinks ends early.
fn read_open(
    file: std::fs::File,
    md: &std::fs::Metadata,
    cap: u64,
    prefix: bool,
    path: impl Fn() -> PathBuf,
) -> Result<(Vec<u8>, bool), HostError> {
    if !prefix && md.len() > cap {
        return Err(HostError::TooLarge {
            path: path(),
            size: md.len(),
            cap,
        });
    }
    crate::host::read_known_size(file, md, cap).map_err(|source| HostError::Io {
        path: path(),
        source,
    })
}

/// Loads one distribution. `base` says how to reach the metadata
/// directory's files when the caller holds its site directory open.
fn load(
    host: &Host,
    site: &Path,
    metadata_path: PathBuf,
    format: DistFormat,
    dir_name: &str,
    base: Option<MetaDir>,
    full: bool,
) -> Distribution {
    let (fallback_name, fallback_version) = split_dir_name(dir_name);
    let mut dist = Distribution {
        name: fallback_name.clone(),
        normalized_name: normalize_name(&fallback_name),
        version: fallback_version,
        site_packages: site.to_path_buf(),
        metadata_path,
        format,
        metadata: Metadata::default(),
        installer: None,
        installer_error: None,
        link_target: None,
        requested: false,
        direct_url: None,
        error: None,
    };
    let mut errors: Vec<String> = Vec::new();
    let dir = match base {
        Some(b) => Some(b),
        None if format == DistFormat::DistInfo || host.is_dir(&dist.metadata_path) => {
            Some(MetaDir::Path(dist.metadata_path.clone()))
        }
        None => None,
    };
    let md_file = dist.metadata_file();
    let md_read = match (&dir, md_file.file_name()) {
        (Some(d), Some(name)) if md_file.parent() == Some(dist.metadata_path.as_path()) => {
            d.read(host, &name.to_string_lossy(), METADATA_READ_CAP, true)
        }
        _ => host.read_prefix(&md_file, METADATA_READ_CAP),
    };
    match md_read {
        Ok((bytes, truncated)) => {
            let md = Metadata::parse(&bytes, truncated);
            if md.truncated {
                errors.push(format!(
                    "{}: metadata headers longer than {METADATA_READ_CAP} bytes; truncated",
                    md_file.display()
                ));
            }
            match (&md.name, &md.version) {
                (Some(n), Some(v)) => {
                    dist.name = n.clone();
                    dist.normalized_name = normalize_name(n);
                    dist.version = v.clone();
                }
                _ => errors.push(format!("{}: no Name/Version header", md_file.display())),
            }
            dist.metadata = md;
        }
        Err(e) => errors.push(e.to_string()),
    }
    if let Some(dir) = dir.as_ref().filter(|_| full) {
        match dir.read(host, "INSTALLER", SMALL_FILE_CAP, true) {
            Ok((bytes, _)) => {
                let text = String::from_utf8_lossy(&bytes);
                let first = text.lines().next().unwrap_or("").trim();
                if !first.is_empty() {
                    dist.installer = Some(first.to_string());
                }
            }
            Err(e) if e.is_not_found() => {}
            Err(e) => {
                // A FIFO or unreadable INSTALLER is not "no INSTALLER": the
                // distribution must not pass for Debian-built.
                log::warn!("{e}");
                dist.installer_error = Some(e.to_string());
                errors.push(format!("unreadable INSTALLER: {e}"));
            }
        }
        dist.requested = dir.exists(host, "REQUESTED");
        match dir.read(host, "direct_url.json", SMALL_FILE_CAP * 16, false) {
            Ok((bytes, _)) => match DirectUrl::parse(&bytes) {
                Ok(d) => dist.direct_url = Some(d),
                Err(e) => errors.push(format!(
                    "{}: {e}",
                    dist.metadata_path.join("direct_url.json").display()
                )),
            },
            Err(e) if e.is_not_found() => {}
            Err(e) => errors.push(e.to_string()),
        }
    }
    if !errors.is_empty() {
        dist.error = Some(errors.join("; "));
    }
    dist
}

/// A legacy `setup.py develop` install: `<name>.egg-link` holds the project
/// directory, where `<name>.egg-info` lives.
fn load_egg_link(host: &Host, site: &Path, link: &Path, file_name: &str) -> Distribution {
    let stem = file_name.trim_end_matches(".egg-link");
    let broken = |why: String| Distribution {
        name: stem.to_string(),
        normalized_name: normalize_name(stem),
        version: String::new(),
        site_packages: site.to_path_buf(),
        metadata_path: link.to_path_buf(),
        format: DistFormat::EggInfo,
        metadata: Metadata::default(),
        installer: None,
        installer_error: None,
        link_target: None,
        requested: false,
        direct_url: None,
        error: Some(why),
    };
    let text = match host.read_to_string(link, SMALL_FILE_CAP) {
        Ok(t) => t,
        Err(e) => return broken(e.to_string()),
    };
    let target = text.lines().next().unwrap_or("").trim();
    if target.is_empty() {
        return broken(format!("{}: empty .egg-link", link.display()));
    }
    let project = Host::normalize(&site.join(target));
    let norm = normalize_name(stem);
    let info = host.read_dir(&project).ok().and_then(|es| {
        es.into_iter()
            .find(|e| {
                let n = e.name_lossy();
                n.ends_with(".egg-info") && normalize_name(split_dir_name(&n).0.as_str()) == norm
            })
            .map(|e| e.path)
    });
    let url = DirectUrl {
        url: format!("file://{}", project.display()),
        source_kind: SourceKind::Editable,
        vcs: None,
        commit_id: None,
        requested_revision: None,
        archive_hash: None,
        subdirectory: None,
    };
    let mut dist = match info {
        Some(info) => {
            let n = info
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            load(host, site, info, DistFormat::EggInfo, &n, None, true)
        }
        None => broken(format!(
            "{}: no .egg-info found in {}",
            link.display(),
            project.display()
        )),
    };
    dist.direct_url = Some(url);
    dist
}

/// `("foo_bar", "1.0")` from `foo_bar-1.0.dist-info`, `foo-1.0-py3.8.egg-info`
/// or `foo-1.0-py3.8.egg`: the name and version when METADATA gives none.
pub fn split_dir_name(dir_name: &str) -> (String, String) {
    let stem = dir_name
        .trim_end_matches(".dist-info")
        .trim_end_matches(".egg-info")
        .trim_end_matches(".egg")
        .trim_end_matches(".egg-link");
    let mut parts = stem.splitn(3, '-');
    let name = parts.next().unwrap_or("").to_string();
    let version = parts.next().unwrap_or("").to_string();
    (name, version)
}

/// Reads `file` of a distribution's metadata directory as text (lossy
/// UTF-8, at most `cap` bytes or [`HostError::TooLarge`]): relative to the
/// open site directory when the metadata directory is a real entry of it,
/// else through its full host path.
fn read_meta_text(
    host: &Host,
    dist: &Distribution,
    site_dir: Option<&HostDir>,
    file: &str,
    cap: u64,
) -> Result<String, HostError> {
    let rel = site_dir
        .filter(|d| d.path() == dist.site_packages && dist.link_target.is_none())
        .and_then(|d| {
            let rel = super::record::below(&dist.site_packages, &dist.metadata_path)?;
            (rel.components().count() == 1).then_some((d, rel))
        });
    let bytes = match rel {
        Some((d, rel)) => {
            let (f, md) = host.open_file_at(d, &rel.join(file))?;
            read_open(f, &md, cap, false, || dist.metadata_path.join(file))?.0
        }
        None => host.read(&dist.metadata_path.join(file), cap)?,
    };
    Ok(match String::from_utf8(bytes) {
        Ok(s) => s,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    })
}

/// The entry points a distribution declares (`entry_points.txt`, INI):
/// `(group, name, value)`, e.g. `("console_scripts", "torch-utils",
/// "torch_utils.cli:main")`.
pub fn entry_points(host: &Host, dist: &Distribution) -> Vec<(String, String, String)> {
    entry_points_at(host, dist, None)
}

/// [`entry_points`], reading below `site_dir` (the distribution's site
/// directory held open) when given.
pub fn entry_points_at(
    host: &Host,
    dist: &Distribution,
    site_dir: Option<&HostDir>,
) -> Vec<(String, String, String)> {
    match read_meta_text(host, dist, site_dir, "entry_points.txt", ENTRY_POINTS_CAP) {
        Ok(text) => parse_entry_points(&text),
        Err(_) => Vec::new(),
    }
}

/// Cap for `entry_points.txt`.
pub const ENTRY_POINTS_CAP: u64 = 4 << 20;

/// Cap for `top_level.txt`.
pub const TOP_LEVEL_CAP: u64 = SMALL_FILE_CAP;

/// The `(group, name, value)` entries of an `entry_points.txt` (INI: `[group]`
/// headers, `name = value` lines, `#`/`;` comments; a line before any group
/// is ignored).
pub fn parse_entry_points(text: &str) -> Vec<(String, String, String)> {
    let mut group = String::new();
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(g) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            group = g.trim().to_string();
            continue;
        }
        if let Some((name, value)) = line.split_once('=') {
            if !group.is_empty() {
                out.push((
                    group.clone(),
                    name.trim().to_string(),
                    value.trim().to_string(),
                ));
            }
        }
    }
    out
}

/// The top-level import names a distribution provides: `top_level.txt` when
/// it has one, else derived from RECORD (the first path component of every
/// file under the site directory, `.py`/extension suffixes removed).
pub fn top_level_names(host: &Host, dist: &Distribution) -> Vec<String> {
    if let Some(names) = top_level_txt(host, dist, None) {
        return names;
    }
    let present: std::collections::HashSet<OsString> = host
        .read_dir(&dist.site_packages)
        .map(|es| es.into_iter().map(|e| e.name).collect())
        .unwrap_or_default();
    top_level_names_from_record(host, dist, &present)
}

/// [`top_level_names`] when the caller already holds the names in the
/// distribution's site directory.
pub fn top_level_names_in(
    host: &Host,
    dist: &Distribution,
    present: &std::collections::HashSet<OsString>,
) -> Vec<String> {
    top_level_names_at(host, dist, present, None)
}

/// [`top_level_names_in`], reading below `site_dir` (the distribution's
/// site directory held open) when given.
pub fn top_level_names_at(
    host: &Host,
    dist: &Distribution,
    present: &std::collections::HashSet<OsString>,
    site_dir: Option<&HostDir>,
) -> Vec<String> {
    top_level_txt(host, dist, site_dir)
        .unwrap_or_else(|| top_level_names_from_record_at(host, dist, present, site_dir))
}

/// The names `top_level.txt` lists, when it lists any.
fn top_level_txt(
    host: &Host,
    dist: &Distribution,
    site_dir: Option<&HostDir>,
) -> Option<Vec<String>> {
    let text = read_meta_text(host, dist, site_dir, "top_level.txt", TOP_LEVEL_CAP).ok()?;
    parse_top_level(&text)
}

/// The names a `top_level.txt` lists (the first path component of each
/// non-empty line, `\\` read as `/`; repeats next to each other dropped),
/// `None` when it lists none.
pub fn parse_top_level(text: &str) -> Option<Vec<String>> {
    let mut names: Vec<String> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| {
            l.replace('\\', "/")
                .split('/')
                .next()
                .unwrap_or("")
                .to_string()
        })
        .filter(|l| !l.is_empty())
        .collect();
    names.dedup();
    (!names.is_empty()).then_some(names)
}

/// The top-level names RECORD gives (see [`top_level_names`]), keeping only
/// names that `present` (the site directory's entry names) holds: nothing
/// else can be imported, so a padded RECORD costs time, not memory.
pub fn top_level_names_from_record(
    host: &Host,
    dist: &Distribution,
    present: &std::collections::HashSet<OsString>,
) -> Vec<String> {
    top_level_names_from_record_at(host, dist, present, None)
}

fn top_level_names_from_record_at(
    host: &Host,
    dist: &Distribution,
    present: &std::collections::HashSet<OsString>,
    site_dir: Option<&HostDir>,
) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    let mut seen: std::collections::HashSet<String> = std::collections::HashSet::new();
    let site = &dist.site_packages;
    let _ = super::record::for_each_record_entry(host, dist, site_dir, &mut |entry| {
        let Some(rel) = super::record::below(site, &entry.path) else {
            return;
        };
        let Some(first_os) = rel.components().next().map(|c| c.as_os_str()) else {
            return;
        };
        let Some(name) = record_top_name(rel) else {
            return;
        };
        if seen.contains(&name) || !present.contains(first_os) {
            return;
        }
        seen.insert(name.clone());
        names.push(name);
    });
    names
}

/// The import name a RECORD entry gives when the distribution has no
/// `top_level.txt`: `rel` is the entry below the site directory; a module
/// file's stem (`.py`, extension modules), a directory's name; `None` for
/// what is not importable (`.pth`, metadata and `.data` directories,
/// `__pycache__`, other files).
pub fn record_top_name(rel: &Path) -> Option<String> {
    let mut comps = rel.components();
    let first = comps.next()?.as_os_str().to_string_lossy();
    if comps.next().is_none() {
        if first.ends_with(".pth") {
            return None;
        }
        match first.split_once('.') {
            Some((stem, ext)) if ext == "py" || ext.ends_with("so") || ext.ends_with("pyd") => {
                Some(stem.to_string())
            }
            _ => None,
        }
    } else {
        let skip = first.ends_with(".dist-info")
            || first.ends_with(".egg-info")
            || first.ends_with(".data")
            || first == "__pycache__";
        (!skip).then(|| first.into_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fallback_names_come_from_the_directory() {
        assert_eq!(
            split_dir_name("foo_bar-1.0.dist-info"),
            ("foo_bar".into(), "1.0".into())
        );
        assert_eq!(
            split_dir_name("weird.dist-info"),
            ("weird".into(), "".into())
        );
    }

    #[test]
    fn top_level_and_entry_points_parse() {
        assert_eq!(
            parse_top_level("a\n\n  b/c \nb\\x\nb\n"),
            Some(vec!["a".to_string(), "b".to_string()])
        );
        assert_eq!(parse_top_level(" \n/\n"), None);
        let eps = parse_entry_points(
            "x = y\n[console_scripts]\n# c\nls = evil.cli:main\n; c\n[gui_scripts]\ng=m:f\n",
        );
        assert_eq!(
            eps,
            vec![
                (
                    "console_scripts".into(),
                    "ls".into(),
                    "evil.cli:main".into()
                ),
                ("gui_scripts".into(), "g".into(), "m:f".into()),
            ]
        );
    }

    #[test]
    fn record_top_names() {
        let t = |s: &str| record_top_name(Path::new(s));
        assert_eq!(t("six.py"), Some("six".into()));
        assert_eq!(t("_x.cpython-311-x86_64-linux-gnu.so"), Some("_x".into()));
        assert_eq!(t("pkg/__init__.py"), Some("pkg".into()));
        assert_eq!(t("a.pth"), None);
        assert_eq!(t("README"), None);
        assert_eq!(t("pkg-1.0.dist-info/RECORD"), None);
        assert_eq!(t("__pycache__/x.pyc"), None);
        assert_eq!(t("pkg-1.0.data/scripts/x"), None);
    }

    #[test]
    fn a_stored_distribution_gives_back_every_field() {
        let site = Path::new("/venv/lib/python3.12/site-packages");
        let metadata = Metadata {
            metadata_version: Some("2.1".into()),
            name: Some("Foo".into()),
            version: Some("1.0".into()),
            summary: Some("s".into()),
            author: Some("a".into()),
            author_email: Some("ae".into()),
            maintainer: Some("m".into()),
            maintainer_email: Some("me".into()),
            home_page: Some("https://h.invalid".into()),
            download_url: Some("https://d.invalid".into()),
            license: Some("MIT".into()),
            requires_python: Some(">=3.8".into()),
            requires_dist: vec!["bar>=1".into(), "baz".into()],
            project_urls: vec!["Source, https://s.invalid".into()],
            truncated: true,
        };
        for (kind, entry, format) in [
            (
                EntryKind::DistInfo,
                "Foo-1.0.dist-info",
                DistFormat::DistInfo,
            ),
            (
                EntryKind::EggInfoDir,
                "Foo-1.0-py3.12.egg-info",
                DistFormat::EggInfo,
            ),
            (
                EntryKind::EggInfoFile,
                "Foo-1.0.egg-info",
                DistFormat::EggInfo,
            ),
        ] {
            let d = Distribution {
                name: "Foo".into(),
                normalized_name: "foo".into(),
                version: "1.0".into(),
                site_packages: site.to_path_buf(),
                metadata_path: site.join(entry),
                format,
                metadata: metadata.clone(),
                installer: Some("pip".into()),
                installer_error: Some("e".into()),
                link_target: None,
                requested: true,
                direct_url: Some(DirectUrl {
                    url: "git+https://g.invalid/foo".into(),
                    source_kind: SourceKind::Vcs,
                    vcs: Some("git".into()),
                    commit_id: Some("abc".into()),
                    requested_revision: Some("main".into()),
                    archive_hash: Some("sha256=00".into()),
                    subdirectory: Some("sub".into()),
                }),
                error: Some("x".into()),
            };
            let stored = StoredDist::of(OsStr::new(entry), kind, &d).unwrap();
            let json = serde_json::to_string(&stored).unwrap();
            let back: StoredDist = serde_json::from_str(&json).unwrap();
            assert_eq!(back.to_distribution(site).as_ref(), Some(&d));
            let mut plain = d.clone();
            plain.direct_url = None;
            plain.installer = None;
            plain.metadata = Metadata::default();
            let stored = StoredDist::of(OsStr::new(entry), kind, &plain).unwrap();
            assert_eq!(stored.to_distribution(site), Some(plain));
        }
        // Links and .egg entries are never kept.
        let mut linked = Distribution {
            link_target: Some(PathBuf::from("/elsewhere")),
            ..Distribution {
                name: "Foo".into(),
                normalized_name: "foo".into(),
                version: "1.0".into(),
                site_packages: site.to_path_buf(),
                metadata_path: site.join("Foo-1.0.dist-info"),
                format: DistFormat::DistInfo,
                metadata: Metadata::default(),
                installer: None,
                installer_error: None,
                link_target: None,
                requested: false,
                direct_url: None,
                error: None,
            }
        };
        assert!(StoredDist::of(
            OsStr::new("Foo-1.0.dist-info"),
            EntryKind::DistInfo,
            &linked
        )
        .is_none());
        linked.link_target = None;
        assert!(StoredDist::of(OsStr::new("Foo-1.0.egg"), EntryKind::Other, &linked).is_none());
        assert!(StoredDist::of(
            OsStr::new("Foo-1.0.dist-info"),
            EntryKind::DistInfo,
            &linked
        )
        .is_some());
    }

    #[test]
    fn dir_name_fallbacks() {
        assert_eq!(
            split_dir_name("foo_bar-1.0.dist-info"),
            ("foo_bar".into(), "1.0".into())
        );
        assert_eq!(
            split_dir_name("foo-1.0-py3.8.egg-info"),
            ("foo".into(), "1.0".into())
        );
        assert_eq!(
            split_dir_name("weird.dist-info"),
            ("weird".into(), "".into())
        );
    }
}
