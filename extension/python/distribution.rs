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
use crate::cache::{Cache, FileKey};
use crate::host::Host;

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
    let site = Host::normalize(site_packages);
    let Ok(entries) = host.read_dir(&site) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for e in entries {
        let name = e.name_lossy();
        let is_dir = e.file_type.is_dir();
        let is_file = e.file_type.is_file();
        if name.ends_with(".dist-info") && is_dir {
            out.push(load(host, &site, e.path, DistFormat::DistInfo, &name));
        } else if name.ends_with(".egg-info") && (is_dir || is_file) {
            out.push(load(host, &site, e.path, DistFormat::EggInfo, &name));
        } else if (name.ends_with(".egg") && is_dir) || (name.ends_with(".egg-link") && is_file) {
            out.extend(single_entry(host, &site, &e.path, &name));
        }
    }
    out
}

/// What identifies one version of a distribution's metadata: its metadata
/// directory (or file) and its METADATA/PKG-INFO file.
type DistKey = (FileKey, Option<FileKey>);

/// Parsed distributions kept across queries, keyed by the `stat` of the
/// metadata directory and of its METADATA file, so an unchanged site costs
/// one `lstat` per distribution to list again. Installing, upgrading or
/// removing a distribution (which creates or removes files in its
/// directory) or editing METADATA invalidates its entry.
#[derive(Debug)]
pub struct DistributionCache {
    cache: Cache<DistKey, Distribution>,
}

impl Default for DistributionCache {
    fn default() -> Self {
        DistributionCache::new()
    }
}

impl DistributionCache {
    /// A cache holding up to 200,000 distributions.
    pub fn new() -> Self {
        DistributionCache {
            cache: Cache::new(200_000),
        }
    }

    /// Number of cached distributions.
    pub fn len(&self) -> usize {
        self.cache.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.cache.is_empty()
    }
}

/// [`distributions`], reusing `cache` for every distribution whose metadata
/// has not changed since it was last read. Same result, same order.
pub fn distributions_cached(
    host: &Host,
    site_packages: &Path,
    cache: &DistributionCache,
) -> Vec<Distribution> {
    let site = Host::normalize(site_packages);
    let Ok(resolved) = host.resolve(&site) else {
        return distributions(host, &site);
    };
    let Ok(entries) = host.read_dir(&site) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for e in entries {
        let name = e.name_lossy();
        let (format, meta_rel): (DistFormat, Option<&str>) =
            if name.ends_with(".dist-info") && e.file_type.is_dir() {
                (DistFormat::DistInfo, Some("METADATA"))
            } else if name.ends_with(".egg-info") && e.file_type.is_dir() {
                (DistFormat::EggInfo, Some("PKG-INFO"))
            } else if name.ends_with(".egg-info") && e.file_type.is_file() {
                (DistFormat::EggInfo, None)
            } else if (name.ends_with(".egg") && e.file_type.is_dir())
                || (name.ends_with(".egg-link") && e.file_type.is_file())
            {
                // Rare layouts: read them every time.
                out.extend(single_entry(host, &site, &e.path, &name));
                continue;
            } else {
                continue;
            };
        let Ok(dir_md) = host.child_metadata(&resolved, &e.name) else {
            out.push(load(host, &site, e.path, format, &name));
            continue;
        };
        let meta_md = meta_rel.and_then(|m| {
            host.child_metadata(&resolved.join(&e.name), std::ffi::OsStr::new(m))
                .ok()
        });
        let key = (
            FileKey::new(&e.path, &dir_md),
            meta_md.map(|md| FileKey::new(&e.path.join(meta_rel.unwrap_or("")), &md)),
        );
        let dist = cache
            .cache
            .get_or_insert_with(key, || load(host, &site, e.path.clone(), format, &name));
        out.push(dist);
    }
    out
}

fn single_entry(host: &Host, site: &Path, path: &Path, name: &str) -> Option<Distribution> {
    if name.ends_with(".egg-link") {
        return Some(load_egg_link(host, site, path, name));
    }
    let info = path.join("EGG-INFO");
    host.is_dir(&info)
        .then(|| load(host, site, info, DistFormat::EggInfo, name))
}

/// Reads one distribution given its metadata directory (or file).
pub fn load_distribution(host: &Host, site: &Path, metadata_path: &Path) -> Option<Distribution> {
    let name = metadata_path.file_name()?.to_string_lossy().into_owned();
    let format = if name.ends_with(".dist-info") {
        DistFormat::DistInfo
    } else {
        DistFormat::EggInfo
    };
    Some(load(host, site, metadata_path.to_path_buf(), format, &name))
}

fn load(
    host: &Host,
    site: &Path,
    metadata_path: PathBuf,
    format: DistFormat,
    dir_name: &str,
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
        requested: false,
        direct_url: None,
        error: None,
    };
    let mut errors: Vec<String> = Vec::new();
    let md_file = dist.metadata_file();
    match host.read_prefix(&md_file, METADATA_READ_CAP) {
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
    if format == DistFormat::DistInfo || host.is_dir(&dist.metadata_path) {
        let dir = &dist.metadata_path;
        if let Ok(text) = host.read_to_string(&dir.join("INSTALLER"), SMALL_FILE_CAP) {
            let first = text.lines().next().unwrap_or("").trim();
            if !first.is_empty() {
                dist.installer = Some(first.to_string());
            }
        }
        dist.requested = host.symlink_metadata(&dir.join("REQUESTED")).is_ok();
        match host.read(&dir.join("direct_url.json"), SMALL_FILE_CAP * 16) {
            Ok(bytes) => match DirectUrl::parse(&bytes) {
                Ok(d) => dist.direct_url = Some(d),
                Err(e) => errors.push(format!("{}: {e}", dir.join("direct_url.json").display())),
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
            load(host, site, info, DistFormat::EggInfo, &n)
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
/// or `foo-1.0-py3.8.egg`.
fn split_dir_name(dir_name: &str) -> (String, String) {
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

/// The entry points a distribution declares (`entry_points.txt`, INI):
/// `(group, name, value)`, e.g. `("console_scripts", "torch-utils",
/// "torch_utils.cli:main")`.
pub fn entry_points(host: &Host, dist: &Distribution) -> Vec<(String, String, String)> {
    let Ok(text) = host.read_to_string(&dist.metadata_path.join("entry_points.txt"), 4 << 20)
    else {
        return Vec::new();
    };
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
    if let Ok(text) = host.read_to_string(&dist.metadata_path.join("top_level.txt"), SMALL_FILE_CAP)
    {
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
        if !names.is_empty() {
            return names;
        }
    }
    let mut names: Vec<String> = Vec::new();
    for entry in super::record::record_entries(host, dist) {
        let Ok(rel) = entry.path.strip_prefix(&dist.site_packages) else {
            continue;
        };
        let mut comps = rel.components();
        let Some(first) = comps.next() else { continue };
        let first = first.as_os_str().to_string_lossy();
        let is_file = comps.next().is_none();
        let name = if is_file {
            if first.ends_with(".pth") {
                continue;
            }
            match first.split_once('.') {
                Some((stem, ext)) if ext == "py" || ext.ends_with("so") || ext.ends_with("pyd") => {
                    stem.to_string()
                }
                _ => continue,
            }
        } else {
            if first.ends_with(".dist-info")
                || first.ends_with(".egg-info")
                || first.ends_with(".data")
                || first == "__pycache__"
            {
                continue;
            }
            first.into_owned()
        };
        if !names.contains(&name) {
            names.push(name);
        }
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

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
