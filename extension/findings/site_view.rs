//! What the whole-host findings scan needs of a site directory's
//! distributions, read lightly: a distribution with no finding gives no row,
//! so its name and version (METADATA) are read only when a row or a rule's
//! decision needs them, and INSTALLER, REQUESTED and direct_url.json (which
//! no finding uses) are never read.
//!
//! A site whose distributions are all real `.dist-info` directories (the
//! usual pip, uv or conda site) is read here: one listing of the site, then
//! per distribution its `top_level.txt`, `entry_points.txt` and RECORD,
//! each `lstat`ed relative to the site held open and opened with `openat2`
//! beneath it (no symlink followed, no FIFO or device opened, bounded
//! reads). Anything else among its entries (egg-info, eggs, `.egg-link`, a
//! symlinked metadata directory) makes the caller read the whole site the
//! full way ([`crate::python::distributions`]), so that every odd case keeps
//! the one reading it has always had.
//!
//! Everything read here gives what the full reading gives for the same
//! files: the name and normalised name of [`Distribution`], the names of
//! `top_level_names`, the entry points of `entry_points`.

use std::borrow::Cow;
use std::ffi::OsStr;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use crate::host::{read_known_size, EntryType, Host, HostDir, HostError, RawEntry};
use crate::python::distribution::split_dir_name;
use crate::python::metadata::{Metadata, METADATA_READ_CAP};
use crate::python::{normalize_name, DistFormat, Distribution};

/// A RECORD up to this size is read in one `read`; a larger one is
/// streamed line by line in bounded memory.
pub(crate) const RECORD_WHOLE_CAP: u64 = 1 << 20;

/// One distribution of a site, as the findings scan holds it.
#[derive(Debug)]
pub(crate) enum SiteDist {
    /// A real `.dist-info` directory of the site, read lightly.
    Light(LightDist),
    /// Read the full way (the site holds an odd entry).
    Full(Arc<Distribution>),
}

/// A `.dist-info` directory read lightly: its name, and its project name
/// once some row or rule needed it (kept small: a host has tens of
/// thousands, held for as long as the site index).
#[derive(Debug)]
pub(crate) struct LightDist {
    /// Its name in the site directory.
    entry: Box<OsStr>,
    /// Name (METADATA's, else the directory's) and its normalised form.
    names: OnceLock<Box<(String, String)>>,
}

impl SiteDist {
    /// The metadata directory (or file); `site` is the site directory the
    /// distribution was listed in.
    pub(crate) fn metadata_path(&self, site: &Path) -> Cow<'_, Path> {
        match self {
            SiteDist::Light(l) => Cow::Owned(Host::normalize(site).join(&*l.entry)),
            SiteDist::Full(d) => Cow::Borrowed(&d.metadata_path),
        }
    }

    /// Which metadata format.
    pub(crate) fn format(&self) -> DistFormat {
        match self {
            SiteDist::Light(_) => DistFormat::DistInfo,
            SiteDist::Full(d) => d.format,
        }
    }

    /// The lightly read distribution's entry name in the site.
    pub(crate) fn light_entry(&self) -> Option<&OsStr> {
        match self {
            SiteDist::Light(l) => Some(&l.entry),
            SiteDist::Full(_) => None,
        }
    }

    /// The project name, as [`Distribution::name`] (METADATA read on first
    /// use, below `dir`, the site directory held open, when given; `dir` is
    /// `None` only where the site could not be opened, and then no
    /// distribution is read lightly).
    pub(crate) fn name(&self, host: &Host, dir: Option<&HostDir>) -> &str {
        match self {
            SiteDist::Light(l) => &l.names(host, dir).0,
            SiteDist::Full(d) => &d.name,
        }
    }

    /// True when the name was read (always, read the full way): a lightly
    /// read distribution whose name no row or rule asked for never opened
    /// its METADATA, so nothing found depends on it.
    pub(crate) fn name_read(&self) -> bool {
        match self {
            SiteDist::Light(l) => l.names.get().is_some(),
            SiteDist::Full(_) => true,
        }
    }

    /// The PEP 503 normalised name, as [`Distribution::normalized_name`].
    pub(crate) fn normalized_name(&self, host: &Host, dir: Option<&HostDir>) -> &str {
        match self {
            SiteDist::Light(l) => &l.names(host, dir).1,
            SiteDist::Full(d) => &d.normalized_name,
        }
    }
}

impl LightDist {
    fn names(&self, host: &Host, dir: Option<&HostDir>) -> &(String, String) {
        self.names
            .get_or_init(|| Box::new(read_names(host, dir, &self.entry)))
    }
}

/// The name and normalised name of the `.dist-info` directory `entry` of
/// the site: METADATA's `Name` when it gives both `Name` and `Version`,
/// else the directory name's, exactly as the full reading decides.
fn read_names(host: &Host, dir: Option<&HostDir>, entry: &OsStr) -> (String, String) {
    // Only a read error's text would name the file: none is kept.
    let read = dir.map(|d| {
        host.open_file_at(d, &Path::new(entry).join("METADATA"))
            .and_then(|(f, md)| {
                read_known_size(f, &md, METADATA_READ_CAP).map_err(|source| HostError::Io {
                    path: d.path().join(entry).join("METADATA"),
                    source,
                })
            })
    });
    if let Some(Ok((bytes, truncated))) = read {
        let md = Metadata::parse(&bytes, truncated);
        if let (Some(n), Some(_)) = (md.name, md.version) {
            let norm = normalize_name(&n);
            return (n, norm);
        }
    }
    let (name, _) = split_dir_name(&entry.to_string_lossy());
    let norm = normalize_name(&name);
    (name, norm)
}

/// The distributions of a site from its listing `entries` (sorted by name,
/// as [`crate::python::distributions`] orders them), read lightly; `None`
/// when some entry needs the full reading (egg-info, an egg, an
/// `.egg-link`, a symlinked `.dist-info`).
pub(crate) fn light_distributions(entries: &[RawEntry]) -> Option<Vec<SiteDist>> {
    use std::os::unix::ffi::OsStrExt;
    let mut out = Vec::new();
    for e in entries {
        let b = e.name.as_bytes();
        if b.ends_with(b".dist-info") {
            match e.kind {
                EntryType::Dir => out.push(SiteDist::Light(LightDist {
                    entry: e.name.clone().into_boxed_os_str(),
                    names: OnceLock::new(),
                })),
                // Python follows a symlinked one: so does the full reading.
                EntryType::Symlink => return None,
                // Not a distribution (as the full reading skips it).
                EntryType::File | EntryType::Other => {}
            }
        } else if b.ends_with(b".egg-info") || b.ends_with(b".egg") || b.ends_with(b".egg-link") {
            return None;
        }
    }
    Some(out)
}

/// Opens the file `rel` below the open site directory `dir` (`rel`'s first
/// component a real directory its listing showed): `Ok(None)` when it does
/// not exist, else what [`Host::open_file_at`] gives (a symlink resolved
/// inside the root, anything not a regular file refused unopened), with
/// the `lstat` taken once.
pub(crate) fn open_meta_file(
    host: &Host,
    dir: &HostDir,
    rel: &Path,
) -> Result<Option<(std::fs::File, std::fs::Metadata)>, HostError> {
    match dir.stat_id(rel) {
        Ok(id) => host.open_file_at_known(dir, rel, Some(id)).map(Some),
        // The directory above is real (listed as such): "not found" is so.
        Err(e) if e.is_not_found() => Ok(None),
        Err(_) => host.open_file_at(dir, rel).map(Some),
    }
}

/// Reads the whole small text file `file` of the `.dist-info` directory
/// `entry` (lossy UTF-8), `None` when it is absent, unreadable, not a
/// regular file or over `cap` bytes: what the full reading takes for "no
/// such file" for `top_level.txt` and `entry_points.txt`.
pub(crate) fn read_meta_text(
    host: &Host,
    dir: &HostDir,
    entry: &OsStr,
    file: &str,
    cap: u64,
) -> Option<String> {
    let (f, md) = open_meta_file(host, dir, &Path::new(entry).join(file)).ok()??;
    if md.len() > cap {
        return None;
    }
    let (bytes, _) = read_known_size(f, &md, cap).ok()?;
    Some(match String::from_utf8(bytes) {
        Ok(s) => s,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn odd_entries_make_the_site_read_the_full_way() {
        let e = |n: &str, kind| RawEntry {
            name: n.into(),
            kind,
        };
        let site = Path::new("/s");
        let got = light_distributions(&[
            e("a-1.dist-info", EntryType::Dir),
            e("b-1.dist-info", EntryType::File),
            e("pkg", EntryType::Dir),
        ])
        .unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].metadata_path(site), Path::new("/s/a-1.dist-info"));
        for odd in [
            e("a-1.dist-info", EntryType::Symlink),
            e("b-1.egg-info", EntryType::Dir),
            e("b-1.egg-info", EntryType::File),
            e("c.egg", EntryType::Dir),
            e("d.egg-link", EntryType::File),
        ] {
            assert!(light_distributions(&[odd]).is_none());
        }
    }
}
