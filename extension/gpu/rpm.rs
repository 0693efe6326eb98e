//! The rpm database, where it is SQLite (`rpmdb.sqlite`, Fedora 33+, RHEL 9+,
//! openSUSE): each package's header blob gives its name, version and every
//! file with its digest. Berkeley DB and ndb databases (older RHEL, SUSE)
//! are not read: their files get `package_digest_match` -1.
//!
//! The database is opened read-only and `immutable`, so SQLite writes no
//! journal or lock file inside the examined root.

use std::path::{Path, PathBuf};

use super::packages::{FileDigest, Owner, PackageIndex};
use super::GpuError;
use crate::host::Host;

const TAG_NAME: u32 = 1000;
const TAG_VERSION: u32 = 1001;
const TAG_RELEASE: u32 = 1002;
const TAG_FILEDIGESTS: u32 = 1035;
const TAG_FILEFLAGS: u32 = 1037;
/// `RPMFILE_CONFIG`: a `%config` file.
const RPMFILE_CONFIG: u32 = 1;
const TAG_DIRINDEXES: u32 = 1116;
const TAG_BASENAMES: u32 = 1117;
const TAG_DIRNAMES: u32 = 1118;
const TAG_FILEDIGESTALGO: u32 = 5011;

const TYPE_INT32: u32 = 4;
const TYPE_STRING: u32 = 6;
const TYPE_STRING_ARRAY: u32 = 8;
const TYPE_I18NSTRING: u32 = 9;

/// Where rpm keeps its SQLite database.
pub const RPMDB_PATHS: &[&str] = &[
    "/var/lib/rpm/rpmdb.sqlite",
    "/usr/lib/sysimage/rpm/rpmdb.sqlite",
];

/// What one header says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RpmHeader {
    /// Package name.
    pub name: String,
    /// `version-release`.
    pub version: String,
    /// Every file with its digest (hex; empty for directories and links).
    pub files: Vec<(PathBuf, String)>,
    /// Indexes (into `files`) of `%config` files.
    pub config: Vec<usize>,
    /// PGP hash algorithm of the digests (1 MD5, 8 SHA-256, ...).
    pub digest_algo: u32,
}

struct Entry {
    tag: u32,
    kind: u32,
    offset: usize,
    count: usize,
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    b.get(at..at + 4)
        .map(|s| u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
}

/// Parses an rpm header blob as rpmdb stores it (no magic: index count,
/// data length, index entries, data). Malformed blobs give `None`.
pub fn parse_header(blob: &[u8]) -> Option<RpmHeader> {
    let il = be32(blob, 0)? as usize;
    let dl = be32(blob, 4)? as usize;
    if il > 100_000 || dl > blob.len() {
        return None;
    }
    let data_start = 8usize.checked_add(il.checked_mul(16)?)?;
    let data = blob.get(data_start..data_start.checked_add(dl)?)?;
    let mut entries = Vec::with_capacity(il);
    for i in 0..il {
        let at = 8 + i * 16;
        entries.push(Entry {
            tag: be32(blob, at)?,
            kind: be32(blob, at + 4)?,
            offset: be32(blob, at + 8)? as usize,
            count: be32(blob, at + 12)? as usize,
        });
    }
    let find = |tag: u32| entries.iter().find(|e| e.tag == tag);
    let strings = |tag: u32| -> Option<Vec<String>> {
        let e = find(tag)?;
        if !matches!(e.kind, TYPE_STRING | TYPE_STRING_ARRAY | TYPE_I18NSTRING) {
            return None;
        }
        let mut out = Vec::with_capacity(e.count.min(100_000));
        let mut pos = e.offset;
        for _ in 0..e.count {
            let rest = data.get(pos..)?;
            let end = memchr::memchr(0, rest)?;
            out.push(String::from_utf8_lossy(&rest[..end]).into_owned());
            pos += end + 1;
        }
        Some(out)
    };
    let ints = |tag: u32| -> Option<Vec<u32>> {
        let e = find(tag)?;
        if e.kind != TYPE_INT32 {
            return None;
        }
        (0..e.count)
            .map(|i| be32(data, e.offset.checked_add(i.checked_mul(4)?)?))
            .collect()
    };
    let name = strings(TAG_NAME)?.into_iter().next()?;
    let version = strings(TAG_VERSION)
        .and_then(|v| v.into_iter().next())
        .unwrap_or_default();
    let release = strings(TAG_RELEASE)
        .and_then(|v| v.into_iter().next())
        .unwrap_or_default();
    let mut files = Vec::new();
    let mut config = Vec::new();
    if let (Some(bases), Some(dirs), Some(idx)) = (
        strings(TAG_BASENAMES),
        strings(TAG_DIRNAMES),
        ints(TAG_DIRINDEXES),
    ) {
        let digests = strings(TAG_FILEDIGESTS).unwrap_or_default();
        let flags = ints(TAG_FILEFLAGS).unwrap_or_default();
        for (i, base) in bases.iter().enumerate() {
            let Some(dir) = idx.get(i).and_then(|d| dirs.get(*d as usize)) else {
                continue;
            };
            let digest = digests.get(i).cloned().unwrap_or_default();
            if flags.get(i).is_some_and(|f| f & RPMFILE_CONFIG != 0) {
                config.push(files.len());
            }
            files.push((PathBuf::from(format!("{dir}{base}")), digest));
        }
    }
    let digest_algo = ints(TAG_FILEDIGESTALGO)
        .and_then(|v| v.first().copied())
        .unwrap_or(1);
    Some(RpmHeader {
        name,
        version: if release.is_empty() {
            version
        } else {
            format!("{version}-{release}")
        },
        files,
        config,
        digest_algo,
    })
}

fn uri_escape(path: &Path) -> String {
    let mut out = String::from("file:");
    for b in path.to_string_lossy().bytes() {
        match b {
            b'?' | b'#' | b'%' => out.push_str(&format!("%{b:02X}")),
            _ => out.push(b as char),
        }
    }
    out.push_str("?immutable=1");
    out
}

/// Reads every header of an rpmdb.sqlite (a host path).
pub fn read_headers(host: &Host, db: &Path) -> Result<Vec<RpmHeader>, GpuError> {
    use rusqlite::{Connection, OpenFlags};
    let err = |m: String| GpuError::Rpm {
        path: db.to_path_buf(),
        message: m,
    };
    // Resolve inside the root and make sure it is a regular file first.
    let (_, _) = host.open_file(db)?;
    let real = host.real_path(&host.resolve(db)?);
    let conn = Connection::open_with_flags(
        uri_escape(&real),
        OpenFlags::SQLITE_OPEN_READ_ONLY
            | OpenFlags::SQLITE_OPEN_URI
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| err(e.to_string()))?;
    let mut stmt = conn
        .prepare("SELECT blob FROM Packages")
        .map_err(|e| err(e.to_string()))?;
    let rows = stmt
        .query_map([], |r| r.get::<_, Vec<u8>>(0))
        .map_err(|e| err(e.to_string()))?;
    let mut out = Vec::new();
    for blob in rows {
        let blob = blob.map_err(|e| err(e.to_string()))?;
        if let Some(h) = parse_header(&blob) {
            out.push(h);
        }
    }
    Ok(out)
}

/// Adds the rpm database's files (those `keep` wants) to `idx`.
pub fn load(host: &Host, keep: &dyn super::packages::PathFilter, idx: &mut PackageIndex) {
    let Some(db) = RPMDB_PATHS.iter().map(Path::new).find(|p| host.is_file(p)) else {
        if host.exists(Path::new("/var/lib/rpm/Packages")) {
            log::info!(
                "gpu_driver_config: rpm database is Berkeley DB (/var/lib/rpm/Packages), not read: package_digest_match -1 for rpm files"
            );
        }
        return;
    };
    match read_headers(host, db) {
        Ok(headers) => {
            idx.sources.push("rpm");
            for h in headers {
                idx.set_version(&h.name, &h.version);
                for (i, (path, digest)) in h.files.into_iter().enumerate() {
                    if !keep.keep(&path) {
                        continue;
                    }
                    let digest = (!digest.is_empty()).then(|| match h.digest_algo {
                        1 => FileDigest::Md5(digest.to_ascii_lowercase()),
                        8 => FileDigest::Sha256(digest.to_ascii_lowercase()),
                        _ => FileDigest::Other,
                    });
                    idx.add(
                        path,
                        Owner {
                            package: h.name.clone(),
                            digest,
                            conffile: h.config.contains(&i),
                        },
                    );
                }
            }
        }
        Err(e) => idx.problems.push(e.to_string()),
    }
}

/// Builds a header blob (for tests and fixtures): name, version, release,
/// files as (dir with trailing `/`, base name, hex digest), SHA-256 digests.
pub fn build_header(
    name: &str,
    version: &str,
    release: &str,
    files: &[(&str, &str, &str)],
) -> Vec<u8> {
    let mut dirs: Vec<&str> = Vec::new();
    let mut idx = Vec::new();
    for (d, _, _) in files {
        let i = match dirs.iter().position(|x| x == d) {
            Some(i) => i,
            None => {
                dirs.push(d);
                dirs.len() - 1
            }
        };
        idx.push(i as u32);
    }
    let mut data: Vec<u8> = Vec::new();
    let mut index: Vec<(u32, u32, u32, u32)> = Vec::new();
    let mut put_strings = |tag: u32, kind: u32, items: &[&str], data: &mut Vec<u8>| {
        index.push((tag, kind, data.len() as u32, items.len() as u32));
        for s in items {
            data.extend_from_slice(s.as_bytes());
            data.push(0);
        }
    };
    put_strings(TAG_NAME, TYPE_STRING, &[name], &mut data);
    put_strings(TAG_VERSION, TYPE_STRING, &[version], &mut data);
    put_strings(TAG_RELEASE, TYPE_STRING, &[release], &mut data);
    let bases: Vec<&str> = files.iter().map(|f| f.1).collect();
    let digests: Vec<&str> = files.iter().map(|f| f.2).collect();
    put_strings(TAG_BASENAMES, TYPE_STRING_ARRAY, &bases, &mut data);
    put_strings(TAG_DIRNAMES, TYPE_STRING_ARRAY, &dirs, &mut data);
    put_strings(TAG_FILEDIGESTS, TYPE_STRING_ARRAY, &digests, &mut data);
    while !data.len().is_multiple_of(4) {
        data.push(0);
    }
    index.push((
        TAG_DIRINDEXES,
        TYPE_INT32,
        data.len() as u32,
        idx.len() as u32,
    ));
    for i in &idx {
        data.extend_from_slice(&i.to_be_bytes());
    }
    index.push((TAG_FILEDIGESTALGO, TYPE_INT32, data.len() as u32, 1));
    data.extend_from_slice(&8u32.to_be_bytes());
    let mut blob = Vec::new();
    blob.extend_from_slice(&(index.len() as u32).to_be_bytes());
    blob.extend_from_slice(&(data.len() as u32).to_be_bytes());
    for (t, k, o, c) in index {
        for v in [t, k, o, c] {
            blob.extend_from_slice(&v.to_be_bytes());
        }
    }
    blob.extend_from_slice(&data);
    blob
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trip_and_junk() {
        let blob = build_header(
            "nvidia-container-toolkit",
            "1.17.3",
            "1",
            &[
                ("/usr/bin/", "nvidia-ctk", "ab"),
                ("/etc/nvidia-container-runtime/", "config.toml", "cd"),
            ],
        );
        let h = parse_header(&blob).unwrap();
        assert_eq!(h.name, "nvidia-container-toolkit");
        assert_eq!(h.version, "1.17.3-1");
        assert_eq!(h.digest_algo, 8);
        assert_eq!(
            h.files[1],
            (
                PathBuf::from("/etc/nvidia-container-runtime/config.toml"),
                "cd".into()
            )
        );
        for cut in 0..blob.len() {
            let _ = parse_header(&blob[..cut]);
        }
        assert!(parse_header(&[0xff; 64]).is_none());
    }

    #[test]
    fn sqlite_database_is_read_without_writing_into_the_root() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("var/lib/rpm");
        std::fs::create_dir_all(&db).unwrap();
        {
            let c = rusqlite::Connection::open(db.join("rpmdb.sqlite")).unwrap();
            c.execute("CREATE TABLE Packages (hnum INTEGER PRIMARY KEY AUTOINCREMENT, blob BLOB NOT NULL)", [])
                .unwrap();
            let blob = build_header(
                "nvidia-container-toolkit-base",
                "1.16.1",
                "1",
                &[("/usr/bin/", "nvidia-ctk", "00ff")],
            );
            c.execute("INSERT INTO Packages (blob) VALUES (?1)", [blob])
                .unwrap();
        }
        let before: Vec<_> = std::fs::read_dir(&db)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        let host = Host::new(dir.path());
        let mut idx = PackageIndex::default();
        load(&host, &|_: &Path| true, &mut idx);
        assert_eq!(
            idx.version("nvidia-container-toolkit-base"),
            Some("1.16.1-1")
        );
        let o = idx.owner(Path::new("/usr/bin/nvidia-ctk")).unwrap();
        assert_eq!(o.digest, Some(FileDigest::Sha256("00ff".into())));
        let after: Vec<_> = std::fs::read_dir(&db)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(before, after);
    }
}
