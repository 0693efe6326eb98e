//! Which package installed a file and what digest it installed it with:
//! dpkg's `/var/lib/dpkg/info/*.list` and `*.md5sums` and the `Conffiles:`
//! of `/var/lib/dpkg/status`, then the rpm database ([`super::rpm`]).
//!
//! Only paths a caller cares about are kept (a host has hundreds of
//! thousands of packaged files), and the index is rebuilt only when the
//! package databases change.

use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::host::Host;

/// Largest dpkg database file read (`status` of a big desktop is ~5 MB).
const DB_READ_CAP: u64 = 256 * 1024 * 1024;

/// A digest a package database holds for a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileDigest {
    /// MD5, lowercase hex (dpkg; old rpm).
    Md5(String),
    /// SHA-256, lowercase hex (rpm).
    Sha256(String),
    /// An algorithm squatch does not compute (SHA-1, SHA-512, ...).
    Other,
}

/// What a package database says about one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    /// Package name.
    pub package: String,
    /// Digest it installed the file with, when the database has one.
    pub digest: Option<FileDigest>,
    /// True for a configuration file (dpkg conffile, rpm `%config`), which
    /// administrators are expected to edit.
    pub conffile: bool,
}

/// Files owned by packages (only those kept), and package versions.
#[derive(Debug, Default)]
pub struct PackageIndex {
    owners: HashMap<PathBuf, Owner>,
    versions: HashMap<String, String>,
    /// Which databases were read (`dpkg`, `rpm`), for logs.
    pub sources: Vec<&'static str>,
    /// Problems reading a database (the scan goes on without it).
    pub problems: Vec<String>,
}

/// The same path on the other side of a merged `/usr` (`/lib/x` and
/// `/usr/lib/x`), which dpkg may have recorded either way.
pub fn usrmerge_alias(path: &Path) -> Option<PathBuf> {
    for top in ["bin", "sbin", "lib", "lib32", "lib64", "libx32"] {
        let short = Path::new("/").join(top);
        if let Ok(rest) = path.strip_prefix(&short) {
            return Some(Path::new("/usr").join(top).join(rest));
        }
        let long = Path::new("/usr").join(top);
        if let Ok(rest) = path.strip_prefix(&long) {
            return Some(short.join(rest));
        }
    }
    None
}

impl PackageIndex {
    /// The owner of `path` (or of its merged-`/usr` twin).
    pub fn owner(&self, path: &Path) -> Option<&Owner> {
        self.owners
            .get(path)
            .or_else(|| usrmerge_alias(path).and_then(|a| self.owners.get(&a)))
    }

    /// The installed version of a package.
    pub fn version(&self, package: &str) -> Option<&str> {
        self.versions.get(package).map(String::as_str)
    }

    /// Adds an owned file (the first owner wins, as dpkg's diversions aside
    /// a path has one owner).
    pub fn add(&mut self, path: PathBuf, owner: Owner) {
        match self.owners.get_mut(&path) {
            Some(o) if o.digest.is_none() && o.package == owner.package => {
                o.digest = owner.digest;
                o.conffile |= owner.conffile;
            }
            Some(_) => {}
            None => {
                self.owners.insert(path, owner);
            }
        }
    }

    /// Records a package's version.
    pub fn set_version(&mut self, package: &str, version: &str) {
        self.versions
            .insert(package.to_string(), version.to_string());
    }

    /// Number of files kept.
    pub fn len(&self) -> usize {
        self.owners.len()
    }

    /// True when no file is kept.
    pub fn is_empty(&self) -> bool {
        self.owners.is_empty()
    }

    /// Reads dpkg's and rpm's databases under the host, keeping the files
    /// for which `keep` is true.
    pub fn load(host: &Host, keep: &dyn PathFilter) -> PackageIndex {
        let mut idx = PackageIndex::default();
        load_dpkg(host, keep, &mut idx);
        super::rpm::load(host, keep, &mut idx);
        idx
    }
}

/// Parses dpkg's `status`: installed packages' versions and conffile md5s.
pub fn parse_status(text: &str, keep: &dyn PathFilter, idx: &mut PackageIndex) {
    for stanza in text.split("\n\n") {
        let mut package = None;
        let mut version = None;
        let mut installed = false;
        let mut conffiles = Vec::new();
        let mut in_conffiles = false;
        for line in stanza.lines() {
            if let Some(rest) = line.strip_prefix(' ') {
                if in_conffiles {
                    let mut w = rest.split_whitespace();
                    if let (Some(p), Some(m)) = (w.next(), w.next()) {
                        let obsolete = w.next() == Some("obsolete");
                        if !obsolete {
                            conffiles.push((p.to_string(), m.to_string()));
                        }
                    }
                }
                continue;
            }
            in_conffiles = false;
            let Some((k, v)) = line.split_once(':') else {
                continue;
            };
            let v = v.trim();
            match k {
                "Package" => package = Some(v.to_string()),
                "Version" => version = Some(v.to_string()),
                "Status" => installed = v.ends_with(" installed"),
                "Conffiles" => in_conffiles = true,
                _ => {}
            }
        }
        let (Some(package), true) = (package, installed) else {
            continue;
        };
        if let Some(v) = &version {
            idx.set_version(&package, v);
        }
        for (p, m) in conffiles {
            let path = PathBuf::from(&p);
            if keep.keep(&path) {
                let digest = (m.len() == 32 && m.bytes().all(|b| b.is_ascii_hexdigit()))
                    .then(|| FileDigest::Md5(m.to_ascii_lowercase()));
                idx.add(
                    path,
                    Owner {
                        package: package.clone(),
                        digest,
                        conffile: true,
                    },
                );
            }
        }
    }
}

fn load_dpkg(host: &Host, keep: &dyn PathFilter, idx: &mut PackageIndex) {
    let info = Path::new("/var/lib/dpkg/info");
    let entries = match host.read_dir(info) {
        Ok(e) => e,
        Err(e) => {
            if !e.is_not_found() {
                idx.problems.push(e.to_string());
            }
            return;
        }
    };
    idx.sources.push("dpkg");
    match host.read_to_string(Path::new("/var/lib/dpkg/status"), DB_READ_CAP) {
        Ok(text) => parse_status(&text, keep, idx),
        Err(e) if e.is_not_found() => {}
        Err(e) => idx.problems.push(e.to_string()),
    }
    let mut owning: Vec<String> = Vec::new();
    for e in entries.iter() {
        let name = e.name_lossy();
        let Some(stem) = name.strip_suffix(".list") else {
            continue;
        };
        let Ok(text) = host.read_to_string(&e.path, DB_READ_CAP) else {
            continue;
        };
        if !keep.text_may_match(&text) {
            continue;
        }
        let package = stem.split(':').next().unwrap_or(stem).to_string();
        let mut any = false;
        for line in text.lines() {
            let p = Path::new(line);
            if keep.keep(p) {
                any = true;
                idx.add(
                    p.to_path_buf(),
                    Owner {
                        package: package.clone(),
                        digest: None,
                        conffile: false,
                    },
                );
            }
        }
        if any {
            owning.push(stem.to_string());
        }
    }
    for stem in owning {
        let sums = info.join(format!("{stem}.md5sums"));
        let Ok(text) = host.read_to_string(&sums, DB_READ_CAP) else {
            continue;
        };
        let package = stem.split(':').next().unwrap_or(&stem).to_string();
        for line in text.lines() {
            let Some((md5, rel)) = line.split_once("  ") else {
                continue;
            };
            let path = Path::new("/").join(rel.trim_end());
            if keep.keep(&path) {
                idx.add(
                    path,
                    Owner {
                        package: package.clone(),
                        digest: Some(FileDigest::Md5(md5.trim().to_ascii_lowercase())),
                        conffile: false,
                    },
                );
            }
        }
    }
}

/// Which packaged paths an index keeps.
pub trait PathFilter {
    /// True when a whole database file (a dpkg `.list`) may name a kept
    /// path; `false` skips it without looking at its lines.
    fn text_may_match(&self, _text: &str) -> bool {
        true
    }
    /// True when `path` is kept.
    fn keep(&self, path: &Path) -> bool;
}

impl<F: Fn(&Path) -> bool> PathFilter for F {
    fn keep(&self, path: &Path) -> bool {
        self(path)
    }
}

/// What identifies one state of the package databases.
type DbKey = Vec<(u64, u64, i64, i64)>;

fn db_key(host: &Host) -> DbKey {
    [
        "/var/lib/dpkg/status",
        "/var/lib/dpkg/info",
        "/var/lib/rpm/rpmdb.sqlite",
        "/usr/lib/sysimage/rpm/rpmdb.sqlite",
    ]
    .iter()
    .map(|p| match host.metadata(Path::new(p)) {
        Ok(m) => (m.ino(), m.size(), m.mtime(), m.mtime_nsec()),
        Err(_) => (0, 0, 0, 0),
    })
    .collect()
}

/// The package index of one host, rebuilt when a database changes.
#[derive(Debug, Default)]
pub struct PackageCache {
    slot: Mutex<Option<(DbKey, Arc<PackageIndex>)>>,
}

impl PackageCache {
    /// The index for `host`, from the cache when the databases are unchanged.
    pub fn get(&self, host: &Host, keep: &dyn PathFilter) -> Arc<PackageIndex> {
        let key = db_key(host);
        if let Ok(slot) = self.slot.lock() {
            if let Some((k, idx)) = slot.as_ref() {
                if *k == key {
                    return idx.clone();
                }
            }
        }
        let idx = Arc::new(PackageIndex::load(host, keep));
        for p in &idx.problems {
            log::info!("gpu_driver_config: package database: {p}");
        }
        if let Ok(mut slot) = self.slot.lock() {
            *slot = Some((key, idx.clone()));
        }
        idx
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_conffiles_and_versions() {
        let text = "Package: nvidia-kernel-common\nStatus: install ok installed\nVersion: 20151021+13\nConffiles:\n /etc/modprobe.d/nvidia-kernel-common.conf 0123456789abcdef0123456789abcdef\n /etc/old.conf 0123456789abcdef0123456789abcdef obsolete\nDescription: x\n\nPackage: gone\nStatus: deinstall ok config-files\nVersion: 1\n";
        let mut idx = PackageIndex::default();
        parse_status(text, &|_: &Path| true, &mut idx);
        assert_eq!(idx.version("nvidia-kernel-common"), Some("20151021+13"));
        assert_eq!(idx.version("gone"), None);
        let o = idx
            .owner(Path::new("/etc/modprobe.d/nvidia-kernel-common.conf"))
            .unwrap();
        assert_eq!(o.package, "nvidia-kernel-common");
        assert!(matches!(o.digest, Some(FileDigest::Md5(_))));
        assert!(idx.owner(Path::new("/etc/old.conf")).is_none());
    }

    #[test]
    fn usrmerge() {
        assert_eq!(
            usrmerge_alias(Path::new("/lib/modprobe.d/a.conf")).unwrap(),
            Path::new("/usr/lib/modprobe.d/a.conf")
        );
        assert_eq!(
            usrmerge_alias(Path::new("/usr/lib/x")).unwrap(),
            Path::new("/lib/x")
        );
        assert!(usrmerge_alias(Path::new("/etc/x")).is_none());
    }
}
