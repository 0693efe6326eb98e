//! The drill's manifest: what `plant` wrote (host paths with their SHA-256),
//! the directories it created, and where the watcher looks. `watch`,
//! `report` and `clean` find it from the same `--scratch` / `--env` as
//! `plant`.
//!
//! For a scratch target it lives in the scratch directory squatch created
//! (`<scratch>/squatch-drill.json`); for `--env` it lives under the state
//! directory (`<state_dir>/drill/<key>/manifest.json`, the key a digest of
//! the root and the environment path), so that nothing but the planted
//! files ever goes inside an environment. The watch result sits beside it
//! (`watch.json`).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::DrillError;

/// One planted file.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PlantedFile {
    /// Host path.
    pub path: String,
    /// Lowercase hex SHA-256 of what was written.
    pub sha256: String,
    /// Size in bytes.
    pub size: u64,
    /// What it is.
    pub role: String,
}

/// What a drill planted, and where.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    /// The drill marker.
    pub marker: String,
    /// The canary's distribution name.
    pub name: String,
    /// The canary's version.
    pub version: String,
    /// The DNS canary, when one was given.
    pub dns_canary: Option<String>,
    /// `scratch` or `env`.
    pub target: String,
    /// The environment (host path) holding the canary.
    pub environment: String,
    /// The environment's kind as squatch saw it at plant time.
    pub environment_kind: String,
    /// Its site directory.
    pub site: String,
    /// The `.pth` file.
    pub pth: String,
    /// The sdist tree.
    pub sdist: String,
    /// The requirements file.
    pub requirements: String,
    /// The `.dist-info` directory.
    pub dist_info: String,
    /// When it was planted, Unix milliseconds.
    pub planted_at_ms: u64,
    /// The examined root it was planted under.
    pub root: String,
    /// Files written, in order.
    pub files: Vec<PlantedFile>,
    /// Directories created (host paths), parents first.
    pub dirs_created: Vec<String>,
}

/// Lowercase hex SHA-256 (the findings tables' own digest).
pub use crate::findings::sha256_hex;

/// Where a drill keeps its manifest and watch result (real paths).
#[derive(Debug, Clone)]
pub struct Store {
    /// The manifest file.
    pub manifest: PathBuf,
    /// The watch result file.
    pub watch: PathBuf,
    /// True when the files live inside the scratch directory.
    pub in_scratch: bool,
}

impl Store {
    /// For a scratch directory (its real path).
    pub fn scratch(real_scratch: &Path) -> Store {
        Store {
            manifest: real_scratch.join("squatch-drill.json"),
            watch: real_scratch.join("squatch-drill-watch.json"),
            in_scratch: true,
        }
    }

    /// For an environment: under `<state_dir>/drill/<key>/`.
    pub fn env(state_dir: &Path, root: &Path, env: &Path) -> Store {
        let key = sha256_hex(format!("{}\0{}", root.display(), env.display()).as_bytes());
        let dir = state_dir.join("drill").join(&key[..16]);
        Store {
            manifest: dir.join("manifest.json"),
            watch: dir.join("watch.json"),
            in_scratch: false,
        }
    }

    /// Reads the manifest.
    pub fn load(&self) -> Result<Manifest, DrillError> {
        let text = std::fs::read_to_string(&self.manifest).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                DrillError::NoDrill(self.manifest.clone())
            } else {
                DrillError::io(&self.manifest, e)
            }
        })?;
        serde_json::from_str(&text).map_err(|e| DrillError::Corrupt {
            path: self.manifest.clone(),
            message: e.to_string(),
        })
    }

    /// Writes a JSON value to one of the store's files (private: 0600).
    pub fn write_json<T: Serialize>(&self, path: &Path, value: &T) -> Result<(), DrillError> {
        if let Some(parent) = path.parent() {
            use std::os::unix::fs::DirBuilderExt;
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(parent)
                .map_err(|e| DrillError::io(parent, e))?;
        }
        let text = serde_json::to_string_pretty(value).map_err(|e| DrillError::Corrupt {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        let tmp = path.with_extension("json.tmp");
        {
            use std::io::Write;
            use std::os::unix::fs::OpenOptionsExt;
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(&tmp)
                .map_err(|e| DrillError::io(&tmp, e))?;
            f.write_all(text.as_bytes())
                .map_err(|e| DrillError::io(&tmp, e))?;
        }
        std::fs::rename(&tmp, path).map_err(|e| DrillError::io(path, e))
    }

    /// Removes the store's files (and the state directory's drill folder for
    /// an environment, when empty).
    pub fn remove(&self) {
        let _ = std::fs::remove_file(&self.watch);
        let _ = std::fs::remove_file(&self.manifest);
        if !self.in_scratch {
            if let Some(dir) = self.manifest.parent() {
                let _ = std::fs::remove_dir(dir);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_store_is_under_the_state_dir_and_keyed() {
        let a = Store::env(Path::new("/s"), Path::new("/"), Path::new("/e1"));
        let b = Store::env(Path::new("/s"), Path::new("/"), Path::new("/e2"));
        assert!(a.manifest.starts_with("/s/drill"));
        assert_ne!(a.manifest, b.manifest);
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
