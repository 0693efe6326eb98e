//! File digests for `gpu_driver_config`: SHA-256 for the `sha256` column and
//! MD5 where a package database recorded one, computed in one read and
//! cached by (path, device, inode, size, mtime), so a scheduled query over
//! an unchanged driver costs `stat` calls only.

use std::io::Read;
use std::path::Path;

use md5::Md5;
use sha2::{Digest, Sha256};

use crate::cache::{Cache, FileKey};
use crate::host::{Host, HostError};

/// Largest file hashed (a driver library is well under this).
pub const HASH_CAP: u64 = 4 * 1024 * 1024 * 1024;

/// Digests of one file version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Digests {
    /// SHA-256, lowercase hex.
    pub sha256: String,
    /// MD5, lowercase hex, when it was asked for.
    pub md5: Option<String>,
}

/// Hashes a file of the host (symlinks resolved inside the root).
pub fn hash_file(
    host: &Host,
    path: &Path,
    want_md5: bool,
) -> Result<(Digests, FileKey), HostError> {
    let (mut file, md) = host.open_file(path)?;
    if md.len() > HASH_CAP {
        return Err(HostError::TooLarge {
            path: path.to_path_buf(),
            size: md.len(),
            cap: HASH_CAP,
        });
    }
    let key = FileKey::new(path, &md);
    let mut sha = Sha256::new();
    let mut md5 = want_md5.then(Md5::new);
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf).map_err(|source| HostError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        if n == 0 {
            break;
        }
        sha.update(&buf[..n]);
        if let Some(m) = md5.as_mut() {
            m.update(&buf[..n]);
        }
    }
    Ok((
        Digests {
            sha256: crate::hex::encode(&sha.finalize()),
            md5: md5.map(|m| crate::hex::encode(&m.finalize())),
        },
        key,
    ))
}

/// A cache of digests by file version.
#[derive(Debug)]
pub struct DigestCache {
    cache: Cache<FileKey, Digests>,
}

impl Default for DigestCache {
    fn default() -> Self {
        DigestCache {
            cache: Cache::new(50_000),
        }
    }
}

impl DigestCache {
    /// The digests of `path` whose current `stat` is `md`: from the cache
    /// when that version was hashed before (with MD5 when asked).
    pub fn get(
        &self,
        host: &Host,
        path: &Path,
        md: &std::fs::Metadata,
        want_md5: bool,
    ) -> Result<Digests, HostError> {
        let key = FileKey::new(path, md);
        if let Some(d) = self.cache.get(&key) {
            if d.md5.is_some() || !want_md5 {
                return Ok(d);
            }
        }
        let (d, actual) = hash_file(host, path, want_md5)?;
        // Stored under the version actually read (it may have changed since
        // the caller's stat).
        self.cache.insert(actual, d.clone());
        Ok(d)
    }

    /// Number of cached versions.
    pub fn len(&self) -> usize {
        self.cache.len()
    }

    /// True when nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.cache.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_digests_and_cache_invalidation() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("f"), b"abc").unwrap();
        let host = Host::new(dir.path());
        let c = DigestCache::default();
        let md = host.metadata(Path::new("/f")).unwrap();
        let d = c.get(&host, Path::new("/f"), &md, true).unwrap();
        assert_eq!(
            d.sha256,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(d.md5.as_deref(), Some("900150983cd24fb0d6963f7d28e17f72"));
        assert_eq!(c.len(), 1);
        std::fs::write(dir.path().join("f"), b"abcd").unwrap();
        let md = host.metadata(Path::new("/f")).unwrap();
        let d2 = c.get(&host, Path::new("/f"), &md, false).unwrap();
        assert_ne!(d2.sha256, d.sha256);
    }
}
