//! The host being examined: a filesystem root and safe, bounded reads below it.
//!
//! Every scanner reads the machine through a [`Host`]. Its root is `/` on a live
//! system, a mounted disk image during offline forensics (`--root /mnt/image`),
//! or a temp dir that a test lays out as a fake host. Paths handed to and
//! returned by a `Host` are *host paths*: absolute paths as the examined
//! machine sees them (`/usr/lib/python3/dist-packages`), never the real path
//! under the root, so rows read the same on a live host and on its image.
//!
//! The rules every read follows:
//! - symlinks are resolved one component at a time *inside* the root: an
//!   absolute target is re-rooted and `..` stops at the root, so a link can
//!   never lead a scan out of the examined filesystem;
//! - a symlink loop ends after [`MAX_SYMLINK_HOPS`] hops with an error;
//! - only regular files are read: a FIFO, socket or device is refused before
//!   it is opened for reading (and files are opened `O_NONBLOCK`), so a scan
//!   never blocks;
//! - every read is capped in size, so a 4 GB file costs at most the cap.

use std::ffi::OsStr;
use std::fs::{File, Metadata};
use std::io::{self, Read};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Component, Path, PathBuf};

/// How many symlinks a single path resolution may follow before it is treated
/// as a loop (Linux's own limit is 40).
pub const MAX_SYMLINK_HOPS: usize = 40;

/// Default cap for reading a metadata-sized file (METADATA, RECORD, configs).
pub const DEFAULT_READ_CAP: u64 = 16 * 1024 * 1024;

/// An error reading the host. Every variant carries the host path it concerns
/// so that a row or a log line can say which file was the problem.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    /// An I/O error from the operating system (permission denied, not found, ...).
    #[error("{path}: {source}")]
    Io {
        /// Host path of the file.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// Resolving the path followed more than [`MAX_SYMLINK_HOPS`] symlinks.
    #[error("{path}: too many levels of symbolic links (loop?)")]
    SymlinkLoop {
        /// Host path being resolved.
        path: PathBuf,
    },
    /// The path is not a regular file (FIFO, socket, device or directory).
    #[error("{path}: not a regular file ({kind}); refusing to read it")]
    NotRegular {
        /// Host path of the file.
        path: PathBuf,
        /// What it is instead.
        kind: &'static str,
    },
    /// The file is larger than the caller's cap.
    #[error("{path}: file is {size} bytes, over the {cap}-byte read limit")]
    TooLarge {
        /// Host path of the file.
        path: PathBuf,
        /// Its size.
        size: u64,
        /// The cap that was exceeded.
        cap: u64,
    },
}

impl HostError {
    /// True when the error is "no such file or directory".
    pub fn is_not_found(&self) -> bool {
        matches!(self, HostError::Io { source, .. } if source.kind() == io::ErrorKind::NotFound)
    }

    /// True when the error is a permission problem.
    pub fn is_permission_denied(&self) -> bool {
        matches!(self, HostError::Io { source, .. } if source.kind() == io::ErrorKind::PermissionDenied)
    }

    /// A short status word for a row's `status`/`error` column.
    pub fn status_word(&self) -> &'static str {
        match self {
            HostError::Io { source, .. } => match source.kind() {
                io::ErrorKind::NotFound => "not_found",
                io::ErrorKind::PermissionDenied => "permission_denied",
                _ => "io_error",
            },
            HostError::SymlinkLoop { .. } => "symlink_loop",
            HostError::NotRegular { .. } => "not_regular",
            HostError::TooLarge { .. } => "too_large",
        }
    }
}

/// A user account from the host's `/etc/passwd`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// Login name.
    pub name: String,
    /// Numeric user id.
    pub uid: u32,
    /// Primary group id.
    pub gid: u32,
    /// Home directory, as a host path.
    pub home: PathBuf,
}

/// One entry of a directory listing, without following symlinks.
#[derive(Debug, Clone)]
pub struct DirEntry {
    /// Host path of the entry.
    pub path: PathBuf,
    /// File name (may be non-UTF-8).
    pub name: std::ffi::OsString,
    /// The entry's own type (a symlink is reported as a symlink).
    pub file_type: std::fs::FileType,
}

impl DirEntry {
    /// The file name as UTF-8, lossily converted.
    pub fn name_lossy(&self) -> String {
        self.name.to_string_lossy().into_owned()
    }
}

/// A filesystem root to examine and the safe ways to read below it.
#[derive(Debug, Clone)]
pub struct Host {
    root: PathBuf,
}

impl Default for Host {
    fn default() -> Self {
        Host::new("/")
    }
}

impl Host {
    /// A host rooted at `root` (`/` for the live system).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Host { root: root.into() }
    }

    /// The real directory that stands for the host's `/`.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// True when this host is the live system (root `/`), where `/proc` and
    /// user ids describe running processes of this machine.
    pub fn is_live(&self) -> bool {
        self.root == Path::new("/")
    }

    /// Normalises a host path lexically: makes it absolute, drops `.`, and
    /// resolves `..` without ever climbing above `/`.
    pub fn normalize(path: &Path) -> PathBuf {
        let mut out = PathBuf::from("/");
        for comp in path.components() {
            match comp {
                Component::RootDir | Component::Prefix(_) | Component::CurDir => {}
                Component::ParentDir => {
                    out.pop();
                }
                Component::Normal(c) => out.push(c),
            }
        }
        out
    }

    /// The real path under the root for a host path, *without* resolving
    /// symlinks. Use [`Host::resolve`] before opening anything.
    pub fn real_path(&self, host_path: &Path) -> PathBuf {
        // The usual case, a path already normal (every path this module
        // hands out is): no component walk, one allocation.
        if let Some(rel) = normal_relative(host_path) {
            return if rel.is_empty() {
                self.root.clone()
            } else {
                self.root.join(OsStr::from_bytes(rel))
            };
        }
        let norm = Self::normalize(host_path);
        let rel = norm.strip_prefix("/").unwrap_or(&norm);
        if rel.as_os_str().is_empty() {
            self.root.clone()
        } else {
            self.root.join(rel)
        }
    }

    /// Resolves every symlink in `host_path` inside the root and returns the
    /// resulting host path. A missing component ends resolution early (the
    /// rest is appended as is), so the caller's open reports "not found".
    pub fn resolve(&self, host_path: &Path) -> Result<PathBuf, HostError> {
        let mut hops = 0usize;
        // Work list of components still to walk, front first.
        let mut pending: Vec<std::ffi::OsString> = Self::normalize(host_path)
            .components()
            .filter_map(|c| match c {
                Component::Normal(s) => Some(s.to_os_string()),
                _ => None,
            })
            .rev()
            .collect();
        let mut current = PathBuf::from("/");
        // The real path of `current`, kept beside it (no re-rooting and
        // normalising of the whole prefix at every component).
        let mut real = self.root.clone();
        while let Some(comp) = pending.pop() {
            if comp == OsStr::new("..") {
                current.pop();
                real = self.real_path(&current);
                continue;
            }
            if comp == OsStr::new(".") {
                continue;
            }
            current.push(&comp);
            real.push(&comp);
            match std::fs::symlink_metadata(&real) {
                Ok(md) if md.file_type().is_symlink() => {
                    hops += 1;
                    if hops > MAX_SYMLINK_HOPS {
                        return Err(HostError::SymlinkLoop {
                            path: host_path.to_path_buf(),
                        });
                    }
                    let target = std::fs::read_link(&real).map_err(|source| HostError::Io {
                        path: current.clone(),
                        source,
                    })?;
                    // The link's directory is where a relative target starts.
                    current.pop();
                    real = self.real_path(&current);
                    if target.is_absolute() {
                        current = PathBuf::from("/");
                        real = self.root.clone();
                    }
                    let parts: Vec<_> = target
                        .components()
                        .filter_map(|c| match c {
                            Component::Normal(s) => Some(s.to_os_string()),
                            Component::ParentDir => Some("..".into()),
                            _ => None,
                        })
                        .collect();
                    for p in parts.into_iter().rev() {
                        pending.push(p);
                    }
                }
                Ok(_) => {}
                Err(_) => {
                    // Not there (or unreadable parent): stop resolving; the
                    // caller's open gives the precise error.
                    while let Some(rest) = pending.pop() {
                        current.push(rest);
                    }
                    return Ok(Self::normalize(&current));
                }
            }
        }
        Ok(current)
    }

    /// `stat` of a host path with symlinks resolved inside the root.
    pub fn metadata(&self, host_path: &Path) -> Result<Metadata, HostError> {
        let resolved = self.resolve(host_path)?;
        std::fs::metadata(self.real_path(&resolved)).map_err(|source| HostError::Io {
            path: host_path.to_path_buf(),
            source,
        })
    }

    /// `lstat` of a host path: the entry itself, not what a final symlink
    /// points to (parent directories are still resolved inside the root).
    pub fn symlink_metadata(&self, host_path: &Path) -> Result<Metadata, HostError> {
        let norm = Self::normalize(host_path);
        let parent = norm.parent().unwrap_or(Path::new("/"));
        let parent = self.resolve(parent)?;
        let real = match norm.file_name() {
            Some(name) => self.real_path(&parent.join(name)),
            None => self.real_path(&parent),
        };
        std::fs::symlink_metadata(real).map_err(|source| HostError::Io {
            path: host_path.to_path_buf(),
            source,
        })
    }

    /// `stat` of `name` inside `resolved_dir`, a directory path already
    /// returned by [`Host::resolve`]. One `lstat` when the entry is not a
    /// symlink (the common case, and what makes re-checking thousands of files
    /// of one directory cheap); a symlink goes through [`Host::metadata`].
    pub fn child_metadata(&self, resolved_dir: &Path, name: &OsStr) -> Result<Metadata, HostError> {
        let host_path = resolved_dir.join(name);
        match std::fs::symlink_metadata(self.real_path(&host_path)) {
            Ok(md) if md.file_type().is_symlink() => self.metadata(&host_path),
            Ok(md) => Ok(md),
            Err(source) => Err(HostError::Io {
                path: host_path,
                source,
            }),
        }
    }

    /// `lstat` of `name` inside `resolved_dir`, a directory path already
    /// returned by [`Host::resolve`]: the entry itself, a symlink reported as
    /// a symlink and never followed. One syscall; for callers that walk many
    /// entries of directories they resolved once.
    pub fn child_symlink_metadata(
        &self,
        resolved_dir: &Path,
        name: &OsStr,
    ) -> Result<Metadata, HostError> {
        let host_path = resolved_dir.join(name);
        std::fs::symlink_metadata(self.real_path(&host_path)).map_err(|source| HostError::Io {
            path: host_path,
            source,
        })
    }

    /// Opens the regular file `name` inside `resolved_dir` (a path returned
    /// by [`Host::resolve`]) without resolving the directory again; a symlink
    /// goes through [`Host::open_file`]. Same guarantees as `open_file`.
    pub fn open_child(
        &self,
        resolved_dir: &Path,
        name: &OsStr,
    ) -> Result<(File, Metadata), HostError> {
        self.open_child_known(resolved_dir, name, None)
    }

    /// [`Host::open_child`] when the caller has just `stat`ed the entry
    /// (`known`): that check is not repeated (the open is still
    /// `O_NOFOLLOW | O_NONBLOCK`, a symlink met there takes the fully checked
    /// way, and the opened file's `fstat` must show a regular file).
    pub fn open_child_known(
        &self,
        resolved_dir: &Path,
        name: &OsStr,
        known: Option<&Metadata>,
    ) -> Result<(File, Metadata), HostError> {
        let host_path = resolved_dir.join(name);
        let real = self.real_path(&host_path);
        let io_err = |source| HostError::Io {
            path: host_path.clone(),
            source,
        };
        let pre = match known {
            Some(md) => md.clone(),
            None => std::fs::symlink_metadata(&real).map_err(io_err)?,
        };
        if pre.file_type().is_symlink() {
            return self.open_file(&host_path);
        }
        check_regular(&host_path, &pre)?;
        let file = match std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(&real)
        {
            Ok(f) => f,
            // A symlink now (or `known` described what a link leads to):
            // the fully checked way.
            Err(e) if e.raw_os_error() == Some(libc::ELOOP) => return self.open_file(&host_path),
            Err(e) => return Err(io_err(e)),
        };
        let md = file.metadata().map_err(io_err)?;
        check_regular(&host_path, &md)?;
        Ok((file, md))
    }

    /// Opens a directory of the host (resolved inside the root) and holds it
    /// open, so that many entries below it can be `stat`ed cheaply with
    /// [`HostDir::stat_id`] instead of walking the whole path every time.
    pub fn open_dir(&self, host_path: &Path) -> Result<HostDir, HostError> {
        let resolved = self.resolve(host_path)?;
        // O_PATH: only search permission is needed (as for `stat`), and the
        // fd serves `fstatat`, `openat2` and `fstat` alike.
        let file = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_PATH | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(self.real_path(&resolved))
            .map_err(|source| HostError::Io {
                path: host_path.to_path_buf(),
                source,
            })?;
        Ok(HostDir {
            file,
            path: resolved,
        })
    }

    /// Opens the regular file `rel` below an open directory (see
    /// [`Host::open_dir`]) with the guarantees of [`Host::open_file`], but
    /// without walking the whole path again: the entry is `lstat`ed first
    /// (a FIFO or device is refused unopened), then opened with `openat2`
    /// `RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS`, so nothing on the way can be a
    /// symlink. Where a symlink is met, or `openat2` is unavailable, it falls
    /// back to [`Host::open_file`] on the full path, which resolves links
    /// inside the root.
    pub fn open_file_at(&self, dir: &HostDir, rel: &Path) -> Result<(File, Metadata), HostError> {
        self.open_file_at_known(dir, rel, None)
    }

    /// [`Host::open_file_at`] when the caller has just taken `rel`'s
    /// [`StatId`] with [`HostDir::stat_id`]: the `lstat` is not repeated.
    pub fn open_file_at_known(
        &self,
        dir: &HostDir,
        rel: &Path,
        known: Option<StatId>,
    ) -> Result<(File, Metadata), HostError> {
        // The host path is made only where it is used: the fully checked
        // way, an error, or a file that is not regular.
        let host_path = || dir.path.join(rel);
        let stat = match known {
            Some(id) => Ok(id),
            None => dir.stat_id(rel),
        };
        let id = match stat {
            Ok(id) => id,
            Err(e) => {
                // `fstatat` follows intermediate symlinks on the real disk, so
                // "not found" may be wrong when one is on the way: then the
                // safe path decides.
                let mut prefix = PathBuf::new();
                let comps: Vec<_> = rel.components().collect();
                for c in &comps[..comps.len().saturating_sub(1)] {
                    prefix.push(c);
                    match dir.stat_id(&prefix) {
                        Ok(p) if p.mode & libc::S_IFMT == libc::S_IFDIR => {}
                        _ => return self.open_file(&host_path()),
                    }
                }
                return Err(e);
            }
        };
        match id.mode & libc::S_IFMT {
            libc::S_IFREG => {}
            libc::S_IFLNK => return self.open_file(&host_path()),
            _ => {
                // Let the safe path produce the precise `NotRegular` error.
                return self.open_file(&host_path());
            }
        }
        // A symlink met on the way, or no openat2: the safe path decides.
        let Some(file) = dir.open_beneath(rel, libc::O_RDONLY)? else {
            return self.open_file(&host_path());
        };
        let md = file.metadata().map_err(|source| HostError::Io {
            path: host_path(),
            source,
        })?;
        if !md.is_file() {
            check_regular(&host_path(), &md)?;
        }
        Ok((file, md))
    }

    /// True when the host path exists (after resolving symlinks in the root).
    pub fn exists(&self, host_path: &Path) -> bool {
        self.metadata(host_path).is_ok()
    }

    /// True when the host path is a directory.
    pub fn is_dir(&self, host_path: &Path) -> bool {
        self.metadata(host_path)
            .map(|m| m.is_dir())
            .unwrap_or(false)
    }

    /// True when the host path is a regular file.
    pub fn is_file(&self, host_path: &Path) -> bool {
        self.metadata(host_path)
            .map(|m| m.is_file())
            .unwrap_or(false)
    }

    /// Opens a regular file for reading, refusing anything else without
    /// blocking (`O_NONBLOCK` so that even a FIFO swapped in after the check
    /// cannot hang the open). Returns the file and its metadata.
    pub fn open_file(&self, host_path: &Path) -> Result<(File, Metadata), HostError> {
        let resolved = self.resolve(host_path)?;
        let real = self.real_path(&resolved);
        let io_err = |source| HostError::Io {
            path: host_path.to_path_buf(),
            source,
        };
        let pre = std::fs::symlink_metadata(&real).map_err(io_err)?;
        check_regular(host_path, &pre)?;
        let file = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(&real)
            .map_err(io_err)?;
        let md = file.metadata().map_err(io_err)?;
        check_regular(host_path, &md)?;
        Ok((file, md))
    }

    /// Reads a whole regular file, failing with [`HostError::TooLarge`] when it
    /// is bigger than `cap` bytes.
    pub fn read(&self, host_path: &Path, cap: u64) -> Result<Vec<u8>, HostError> {
        let (file, md) = self.open_file(host_path)?;
        if md.len() > cap {
            return Err(HostError::TooLarge {
                path: host_path.to_path_buf(),
                size: md.len(),
                cap,
            });
        }
        let mut buf = Vec::with_capacity(md.len() as usize);
        // `take` guards against a file that grows while it is read.
        file.take(cap + 1)
            .read_to_end(&mut buf)
            .map_err(|source| HostError::Io {
                path: host_path.to_path_buf(),
                source,
            })?;
        if buf.len() as u64 > cap {
            return Err(HostError::TooLarge {
                path: host_path.to_path_buf(),
                size: buf.len() as u64,
                cap,
            });
        }
        Ok(buf)
    }

    /// Reads at most `cap` bytes from the start of a regular file; a larger
    /// file is truncated rather than refused. The flag says whether it was.
    pub fn read_prefix(&self, host_path: &Path, cap: u64) -> Result<(Vec<u8>, bool), HostError> {
        let (file, md) = self.open_file(host_path)?;
        let mut buf = Vec::with_capacity(md.len().min(cap) as usize);
        file.take(cap)
            .read_to_end(&mut buf)
            .map_err(|source| HostError::Io {
                path: host_path.to_path_buf(),
                source,
            })?;
        Ok((buf, md.len() > cap))
    }

    /// Reads a text file (lossy UTF-8) of at most `cap` bytes.
    pub fn read_to_string(&self, host_path: &Path, cap: u64) -> Result<String, HostError> {
        let bytes = self.read(host_path, cap)?;
        Ok(match String::from_utf8(bytes) {
            Ok(s) => s,
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        })
    }

    /// Lists a directory without following the entries' symlinks. The
    /// directory itself is resolved inside the root. Entries are sorted by
    /// name so that output is stable.
    pub fn read_dir(&self, host_path: &Path) -> Result<Vec<DirEntry>, HostError> {
        let resolved = self.resolve(host_path)?;
        self.list_real(host_path, &resolved)
    }

    /// Lists the resolved directory `resolved`, naming entries below `host_path`.
    fn list_real(&self, host_path: &Path, resolved: &Path) -> Result<Vec<DirEntry>, HostError> {
        let real = self.real_path(resolved);
        let io_err = |source| HostError::Io {
            path: host_path.to_path_buf(),
            source,
        };
        let mut out = Vec::new();
        let base = Self::normalize(host_path);
        for entry in std::fs::read_dir(&real).map_err(io_err)? {
            let entry = match entry {
                Ok(e) => e,
                Err(e) => {
                    log::debug!("{}: skipping unreadable entry: {e}", host_path.display());
                    continue;
                }
            };
            let file_type = match entry.file_type() {
                Ok(t) => t,
                Err(e) => {
                    log::debug!("{}: skipping entry: {e}", host_path.display());
                    continue;
                }
            };
            let name = entry.file_name();
            out.push(DirEntry {
                path: base.join(&name),
                name,
                file_type,
            });
        }
        out.sort_by(|a, b| a.name.as_bytes().cmp(b.name.as_bytes()));
        Ok(out)
    }

    /// Lists the directory `dir` whose parent the caller has already resolved
    /// to `resolved_parent` (with [`Host::resolve`] or by listing it): the
    /// child is `lstat`ed once and listed directly when it is a real
    /// directory, so a walk costs the same per directory at any depth instead
    /// of re-walking the path from the root. A symlinked child takes the
    /// fully checked way ([`Host::read_dir`]). Entries are named below `dir`.
    pub fn read_child_dir(
        &self,
        dir: &Path,
        resolved_parent: &Path,
    ) -> Result<Vec<DirEntry>, HostError> {
        let Some(name) = dir.file_name() else {
            return self.read_dir(dir);
        };
        let resolved = resolved_parent.join(name);
        match std::fs::symlink_metadata(self.real_path(&resolved)) {
            Ok(md) if md.is_dir() => self.list_real(dir, &resolved),
            Ok(md) if md.file_type().is_symlink() => self.read_dir(dir),
            Ok(_) => Err(HostError::Io {
                path: dir.to_path_buf(),
                source: io::Error::from_raw_os_error(libc::ENOTDIR),
            }),
            Err(source) => Err(HostError::Io {
                path: dir.to_path_buf(),
                source,
            }),
        }
    }

    /// Whether a directory of the host can be listed (opened for reading,
    /// nothing read): tells an unreadable home or site directory from an
    /// empty one.
    pub fn can_list(&self, host_path: &Path) -> Result<(), HostError> {
        let resolved = self.resolve(host_path)?;
        std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(self.real_path(&resolved))
            .map(drop)
            .map_err(|source| HostError::Io {
                path: host_path.to_path_buf(),
                source,
            })
    }

    /// The accounts in the host's `/etc/passwd`. A missing or unreadable file
    /// gives an empty list (logged at debug): a disk image may have none.
    pub fn users(&self) -> Vec<User> {
        match self.read_to_string(Path::new("/etc/passwd"), DEFAULT_READ_CAP) {
            Ok(text) => parse_passwd(&text),
            Err(e) => {
                log::debug!("cannot read users: {e}");
                Vec::new()
            }
        }
    }

    /// Distinct home directories of the host's users that exist, plus `/root`.
    /// Accounts whose home is `/`, `/nonexistent` or a system directory are
    /// skipped: scanning them would walk the whole disk.
    pub fn home_dirs(&self) -> Vec<(PathBuf, Option<u32>)> {
        let mut seen = std::collections::BTreeSet::new();
        let mut out = Vec::new();
        let skip = [
            "/", "/bin", "/sbin", "/usr", "/dev", "/proc", "/sys", "/var", "/etc",
        ];
        for user in self.users() {
            let home = Self::normalize(&user.home);
            if skip.iter().any(|s| home == Path::new(s)) || home.starts_with("/nonexistent") {
                continue;
            }
            if seen.insert(home.clone()) && self.is_dir(&home) {
                out.push((home, Some(user.uid)));
            }
        }
        let root_home = PathBuf::from("/root");
        if seen.insert(root_home.clone()) && self.is_dir(&root_home) {
            out.push((root_home, Some(0)));
        }
        // Homes under /home that have no passwd entry (common on images
        // whose accounts come from LDAP): still worth a look.
        if let Ok(entries) = self.read_dir(Path::new("/home")) {
            for e in entries {
                if e.file_type.is_dir() && seen.insert(e.path.clone()) {
                    let uid = self.symlink_metadata(&e.path).ok().map(|m| m.uid());
                    out.push((e.path, uid));
                }
            }
        }
        out
    }
}

/// What identifies one version of a file: `lstat`'s device, inode, size,
/// modification and change times. A cache keyed on it is invalidated by any
/// write, truncation, rename over, or `touch` (the change time cannot be set
/// back from user space).
/// `StatId::default()` (all zero) stands for "absent" in identity lists.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct StatId {
    /// Device number.
    pub dev: u64,
    /// Inode number.
    pub ino: u64,
    /// Size in bytes.
    pub size: u64,
    /// Modification time, nanoseconds since the epoch.
    pub mtime_ns: i128,
    /// Inode change time, nanoseconds since the epoch.
    pub ctime_ns: i128,
    /// File type and permission bits (`st_mode`).
    pub mode: u32,
}

/// A directory of the host held open (see [`Host::open_dir`]).
#[derive(Debug)]
pub struct HostDir {
    file: File,
    path: PathBuf,
}

impl StatId {
    /// The identity of what `md` describes.
    pub fn from_metadata(md: &Metadata) -> StatId {
        StatId {
            dev: md.dev(),
            ino: md.ino(),
            size: md.size(),
            mtime_ns: md.mtime() as i128 * 1_000_000_000 + md.mtime_nsec() as i128,
            ctime_ns: md.ctime() as i128 * 1_000_000_000 + md.ctime_nsec() as i128,
            mode: md.mode(),
        }
    }
}

impl HostDir {
    /// The [`StatId`] of the directory itself.
    pub fn stat_self(&self) -> Result<StatId, HostError> {
        self.file
            .metadata()
            .map(|md| StatId::from_metadata(&md))
            .map_err(|source| HostError::Io {
                path: self.path.clone(),
                source,
            })
    }

    /// The directory's resolved host path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The [`StatId`] of `rel` below this directory, without following a
    /// final symlink. `rel` must be relative and free of `..` (anything else
    /// is refused). Intermediate components are walked by the kernel, so use
    /// this only for entries the caller has just listed as real directories;
    /// it returns identity for cache keys and never reads content.
    pub fn stat_id(&self, rel: &Path) -> Result<StatId, HostError> {
        use std::os::fd::AsRawFd;
        // The host path is only for an error: a restart revalidates ~100,000
        // identities through here, so the success path builds none.
        let bad = rel.as_os_str().is_empty()
            || rel.components().any(|c| !matches!(c, Component::Normal(_)));
        if bad {
            return Err(HostError::Io {
                path: self.path.join(rel),
                source: io::Error::new(io::ErrorKind::InvalidInput, "not a plain relative path"),
            });
        }
        let c = std::ffi::CString::new(rel.as_os_str().as_bytes()).map_err(|_| HostError::Io {
            path: self.path.join(rel),
            source: io::Error::new(io::ErrorKind::InvalidInput, "NUL in path"),
        })?;
        // SAFETY: an all-zero `stat` is a valid value for fstatat to fill.
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        // SAFETY: the fd is open for the life of `self`, `c` is NUL-terminated
        // and `st` points to a live, writable `stat`.
        let r = unsafe {
            libc::fstatat(
                self.file.as_raw_fd(),
                c.as_ptr(),
                &mut st,
                libc::AT_SYMLINK_NOFOLLOW,
            )
        };
        if r != 0 {
            return Err(HostError::Io {
                source: io::Error::last_os_error(),
                path: self.path.join(rel),
            });
        }
        Ok(StatId {
            dev: st.st_dev as u64,
            ino: st.st_ino as u64,
            size: st.st_size as u64,
            mtime_ns: st.st_mtime as i128 * 1_000_000_000 + st.st_mtime_nsec as i128,
            ctime_ns: st.st_ctime as i128 * 1_000_000_000 + st.st_ctime_nsec as i128,
            mode: st.st_mode as u32,
        })
    }
}

/// Reads an open file whose `fstat` gave `md`: exactly that many bytes, at
/// most `cap` (no extra read to find the end: a file that grows meanwhile is
/// cut at its size then, one that shrinks ends early). The flag: the file
/// was longer than `cap`.
pub fn read_known_size(file: File, md: &Metadata, cap: u64) -> io::Result<(Vec<u8>, bool)> {
    use std::os::fd::AsRawFd;
    let want = md.len().min(cap) as usize;
    // Read straight into the buffer's spare capacity: no zeroing of bytes
    // about to be overwritten (every installed file goes through here).
    let mut buf: Vec<u8> = Vec::with_capacity(want);
    while buf.len() < want {
        let have = buf.len();
        let spare = &mut buf.spare_capacity_mut()[..want - have];
        // SAFETY: the fd is open for the life of `file`, and `spare` is
        // writable memory of the given length owned by `buf`.
        let n = retry_interrupted(|| unsafe {
            libc::read(
                file.as_raw_fd(),
                spare.as_mut_ptr().cast::<libc::c_void>(),
                spare.len(),
            ) as i64
        })?;
        if n == 0 {
            break;
        }
        // SAFETY: the kernel wrote `n` (at most `spare.len()`) bytes at the
        // start of the spare capacity.
        unsafe { buf.set_len(have + n) };
    }
    Ok((buf, md.len() > cap))
}

/// Makes the raw system call `call` (a count, or -1 with `errno` set) again
/// while a signal interrupts it: the count, or the error it failed with.
fn retry_interrupted(mut call: impl FnMut() -> i64) -> io::Result<usize> {
    loop {
        let n = call();
        if n >= 0 {
            return Ok(n as usize);
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// What a listed entry is, as `getdents` says (an `lstat` where the file
/// system does not): a symlink is a symlink, never followed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryType {
    /// A directory.
    Dir,
    /// A regular file.
    File,
    /// A symbolic link.
    Symlink,
    /// A FIFO, socket or device.
    Other,
}

/// One entry of a directory listed by [`HostDir::list_beneath`].
#[derive(Debug, Clone)]
pub struct RawEntry {
    /// File name (may be non-UTF-8).
    pub name: std::ffi::OsString,
    /// The entry's own type.
    pub kind: EntryType,
}

impl EntryType {
    fn from_mode(mode: u32) -> EntryType {
        match mode & libc::S_IFMT {
            libc::S_IFDIR => EntryType::Dir,
            libc::S_IFREG => EntryType::File,
            libc::S_IFLNK => EntryType::Symlink,
            _ => EntryType::Other,
        }
    }
}

impl HostDir {
    /// Opens `rel` (a plain relative path; empty for this directory itself)
    /// below this directory with `openat2` `RESOLVE_BENEATH |
    /// RESOLVE_NO_SYMLINKS`: nothing on the way, nor `rel` itself, may be a
    /// symlink. `Ok(None)` where one is met, or where `openat2` is not
    /// available: the caller then takes the fully checked way.
    fn open_beneath(&self, rel: &Path, flags: libc::c_int) -> Result<Option<File>, HostError> {
        use std::os::fd::{AsRawFd, FromRawFd};
        // The host path is made only for an error.
        let host_path = || self.path.join(rel);
        let plain = rel.components().all(|c| matches!(c, Component::Normal(_)));
        if !plain {
            return Err(HostError::Io {
                path: host_path(),
                source: io::Error::new(io::ErrorKind::InvalidInput, "not a plain relative path"),
            });
        }
        let bytes = rel.as_os_str().as_bytes();
        let c =
            std::ffi::CString::new(if bytes.is_empty() { b"." } else { bytes }).map_err(|_| {
                HostError::Io {
                    path: host_path(),
                    source: io::Error::new(io::ErrorKind::InvalidInput, "NUL in path"),
                }
            })?;
        // SAFETY: `open_how` is plain data; all-zero is valid before the
        // fields are set.
        let mut how: libc::open_how = unsafe { std::mem::zeroed() };
        how.flags = (flags | libc::O_NONBLOCK | libc::O_NOFOLLOW | libc::O_CLOEXEC) as u64;
        how.resolve =
            libc::RESOLVE_BENEATH | libc::RESOLVE_NO_SYMLINKS | libc::RESOLVE_NO_MAGICLINKS;
        // SAFETY: the directory fd lives as long as `self`, `c` is
        // NUL-terminated and `how` is a valid `open_how` of the given size.
        let fd = unsafe {
            libc::syscall(
                libc::SYS_openat2,
                self.file.as_raw_fd(),
                c.as_ptr(),
                &how as *const libc::open_how,
                std::mem::size_of::<libc::open_how>(),
            )
        };
        if fd < 0 {
            let err = io::Error::last_os_error();
            return match err.raw_os_error() {
                Some(
                    libc::ENOSYS
                    | libc::EPERM
                    | libc::EINVAL
                    | libc::E2BIG
                    | libc::ELOOP
                    | libc::EXDEV
                    | libc::EAGAIN
                    // `O_DIRECTORY | O_NOFOLLOW` on a symlink, or a
                    // component that is not a directory: the checked way
                    // tells which.
                    | libc::ENOTDIR,
                ) => Ok(None),
                _ => Err(HostError::Io {
                    path: host_path(),
                    source: err,
                }),
            };
        }
        // SAFETY: `fd` was just returned by openat2 and is owned by nobody else.
        Ok(Some(unsafe { File::from_raw_fd(fd as i32) }))
    }

    /// Opens the file `rel` below this directory for reading, relative to the
    /// open directory (no walk of the whole path, no `lstat` first): one
    /// `openat2` (`O_NONBLOCK`, so a FIFO cannot block it) and one `fstat`.
    /// `Ok(None)` when a symlink is on the way or `rel` is not a regular file
    /// (then [`Host::open_file`]'s fully checked way gives the answer).
    /// Meant for entries a listing has just shown to be regular files: the
    /// open itself does not refuse a device node.
    pub fn open_regular_beneath(&self, rel: &Path) -> Result<Option<(File, Metadata)>, HostError> {
        let Some(file) = self.open_beneath(rel, libc::O_RDONLY)? else {
            return Ok(None);
        };
        let md = file.metadata().map_err(|source| HostError::Io {
            path: self.path.join(rel),
            source,
        })?;
        Ok(md.is_file().then_some((file, md)))
    }

    /// Lists the directory `rel` below this one (empty: this one), relative
    /// to the open directory: `openat2` as in [`HostDir::open_regular_beneath`],
    /// then `getdents64` on it. Entries sorted by name, `.` and `..` left
    /// out, types not followed. `Ok(None)` when a symlink is on the way (the
    /// caller lists the fully checked way, [`Host::read_dir`]).
    pub fn list_beneath(&self, rel: &Path) -> Result<Option<Vec<RawEntry>>, HostError> {
        use std::os::fd::AsRawFd;
        let Some(dir) = self.open_beneath(rel, libc::O_RDONLY | libc::O_DIRECTORY)? else {
            return Ok(None);
        };
        let io_err = |source| HostError::Io {
            path: self.path.join(rel),
            source,
        };
        let fd = dir.as_raw_fd();
        let mut out = Vec::new();
        // One buffer per thread for every listing (a site scan lists a
        // directory per distribution): not allocated and zeroed each time.
        thread_local! {
            static BUF: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
        }
        BUF.with(|b| {
            let mut buf = b.borrow_mut();
            if buf.len() < 32 * 1024 {
                buf.resize(32 * 1024, 0);
            }
            self.getdents_into(fd, &mut buf, &mut out)
        })
        .map_err(io_err)?;
        out.sort_by(|a, b| a.name.as_bytes().cmp(b.name.as_bytes()));
        Ok(Some(out))
    }

    /// Reads every entry of the open directory `fd` with `getdents64`
    /// through `buf` into `out` (`.` and `..` left out, types not followed).
    fn getdents_into(
        &self,
        fd: std::os::fd::RawFd,
        buf: &mut [u8],
        out: &mut Vec<RawEntry>,
    ) -> io::Result<()> {
        loop {
            // SAFETY: `fd` is an open directory and `buf` a live, writable
            // buffer of the given length.
            let n = retry_interrupted(|| unsafe {
                libc::syscall(libc::SYS_getdents64, fd, buf.as_mut_ptr(), buf.len())
            })?;
            if n == 0 {
                return Ok(());
            }
            // linux_dirent64: d_ino u64, d_off i64, d_reclen u16, d_type u8,
            // then the NUL-terminated name.
            let mut off = 0;
            while off + 19 <= n {
                let reclen = u16::from_ne_bytes([buf[off + 16], buf[off + 17]]) as usize;
                if reclen < 19 || off + reclen > n {
                    break;
                }
                let d_type = buf[off + 18];
                let raw = &buf[off + 19..off + reclen];
                let name = &raw[..memchr::memchr(0, raw).unwrap_or(raw.len())];
                off += reclen;
                if name.is_empty() || name == b"." || name == b".." {
                    continue;
                }
                let kind = match d_type {
                    libc::DT_DIR => EntryType::Dir,
                    libc::DT_REG => EntryType::File,
                    libc::DT_LNK => EntryType::Symlink,
                    libc::DT_UNKNOWN => {
                        let Ok(c) = std::ffi::CString::new(name) else {
                            continue;
                        };
                        // SAFETY: an all-zero `stat` is a valid value for
                        // fstatat to fill.
                        let mut st: libc::stat = unsafe { std::mem::zeroed() };
                        // SAFETY: `fd` is open, `c` NUL-terminated, `st` writable.
                        let r = unsafe {
                            libc::fstatat(fd, c.as_ptr(), &mut st, libc::AT_SYMLINK_NOFOLLOW)
                        };
                        if r != 0 {
                            continue; // as `read_dir` skips an entry it cannot type
                        }
                        EntryType::from_mode(st.st_mode as u32)
                    }
                    _ => EntryType::Other,
                };
                out.push(RawEntry {
                    name: std::ffi::OsString::from_vec(name.to_vec()),
                    kind,
                });
            }
        }
    }
}

/// The bytes of `p` after its leading `/` when `p` is already what
/// [`Host::normalize`] gives (absolute, every component a plain name).
fn normal_relative(p: &Path) -> Option<&[u8]> {
    let rest = p.as_os_str().as_bytes().strip_prefix(b"/")?;
    let plain = rest.is_empty()
        || rest
            .split(|c| *c == b'/')
            .all(|c| !c.is_empty() && c != b"." && c != b"..");
    plain.then_some(rest)
}

fn check_regular(host_path: &Path, md: &Metadata) -> Result<(), HostError> {
    use std::os::unix::fs::FileTypeExt;
    let ft = md.file_type();
    let kind = if ft.is_file() {
        return Ok(());
    } else if ft.is_dir() {
        "directory"
    } else if ft.is_fifo() {
        "fifo"
    } else if ft.is_socket() {
        "socket"
    } else if ft.is_block_device() {
        "block device"
    } else if ft.is_char_device() {
        "character device"
    } else if ft.is_symlink() {
        "symlink"
    } else {
        "unknown"
    };
    Err(HostError::NotRegular {
        path: host_path.to_path_buf(),
        kind,
    })
}

/// Parses `/etc/passwd` text; malformed lines are skipped.
pub fn parse_passwd(text: &str) -> Vec<User> {
    text.lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .filter_map(|line| {
            let f: Vec<&str> = line.split(':').collect();
            if f.len() < 7 {
                return None;
            }
            Some(User {
                name: f[0].to_string(),
                uid: f[2].parse().ok()?,
                gid: f[3].parse().ok()?,
                home: PathBuf::from(f[5]),
            })
        })
        .collect()
}

/// Writes bytes as column text, reversibly: valid UTF-8 is kept as is
/// except that a backslash becomes `\\`; every byte that is not part of
/// valid UTF-8 becomes `\xNN` (two lowercase hex digits). Used for paths
/// ([`path_to_column`]) and for text SQLite hands over that is not UTF-8.
pub fn bytes_to_column(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            if c == '\\' {
                out.push_str("\\\\");
            } else {
                out.push(c);
            }
        }
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out
}

/// The bytes [`bytes_to_column`] wrote `s` from. Lenient with hand-typed
/// text: `\\` is one backslash, `\xNN` (hex digits in either case) one byte, and a
/// backslash followed by anything else is kept literally.
pub fn bytes_from_column(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    let hexval = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    while i < b.len() {
        if b[i] == b'\\' {
            match b.get(i + 1) {
                Some(b'\\') => {
                    out.push(b'\\');
                    i += 2;
                    continue;
                }
                Some(b'x') => {
                    if let (Some(h), Some(l)) = (
                        b.get(i + 2).copied().and_then(hexval),
                        b.get(i + 3).copied().and_then(hexval),
                    ) {
                        out.push(h << 4 | l);
                        i += 4;
                        continue;
                    }
                }
                _ => {}
            }
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

/// A host path as a row's column value, reversibly (see
/// [`path_from_column`]): a UTF-8 path prints as itself (a backslash doubled),
/// and each byte of a non-UTF-8 name that is not valid UTF-8 prints as
/// `\xNN`, so `/srv/caf\xe9` stands for the Latin-1 name `café`. The
/// value can be given back in `WHERE path = ...` to look at the same file.
pub fn path_to_column(p: &Path) -> String {
    bytes_to_column(p.as_os_str().as_bytes())
}

/// The path a [`path_to_column`] value stands for: `\\` is a backslash,
/// `\xNN` the byte `NN`; anything else is taken as written.
pub fn path_from_column(s: &str) -> PathBuf {
    PathBuf::from(std::ffi::OsString::from_vec(bytes_from_column(s)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn host() -> (tempfile::TempDir, Host) {
        let dir = tempfile::tempdir().unwrap();
        let host = Host::new(dir.path());
        (dir, host)
    }

    #[test]
    fn absolute_symlink_is_rerooted() {
        let (dir, host) = host();
        std::fs::create_dir_all(dir.path().join("etc")).unwrap();
        std::fs::write(dir.path().join("etc/real"), b"inside").unwrap();
        symlink("/etc/real", dir.path().join("link")).unwrap();
        assert_eq!(host.read(Path::new("/link"), 100).unwrap(), b"inside");
    }

    #[test]
    fn dotdot_symlink_cannot_escape_root() {
        let (dir, host) = host();
        symlink("../../../../../../etc/passwd", dir.path().join("escape")).unwrap();
        let err = host.read(Path::new("/escape"), 100).unwrap_err();
        // Resolves to <root>/etc/passwd, which does not exist in the fake root.
        assert!(err.is_not_found(), "{err}");
    }

    #[test]
    fn symlink_loop_is_an_error_not_a_hang() {
        let (dir, host) = host();
        symlink("b", dir.path().join("a")).unwrap();
        symlink("a", dir.path().join("b")).unwrap();
        let err = host.read(Path::new("/a"), 100).unwrap_err();
        assert!(matches!(err, HostError::SymlinkLoop { .. }), "{err}");
        assert_eq!(err.status_word(), "symlink_loop");
    }

    #[test]
    fn fifo_is_refused_without_blocking() {
        let (dir, host) = host();
        let fifo = dir.path().join("fifo");
        let c = std::ffi::CString::new(fifo.as_os_str().as_bytes()).unwrap();
        // SAFETY: c is a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
        let err = host.read(Path::new("/fifo"), 100).unwrap_err();
        assert!(matches!(err, HostError::NotRegular { kind: "fifo", .. }));
    }

    #[test]
    fn read_cap_is_enforced() {
        let (dir, host) = host();
        std::fs::write(dir.path().join("big"), vec![b'x'; 1000]).unwrap();
        assert!(matches!(
            host.read(Path::new("/big"), 999),
            Err(HostError::TooLarge { size: 1000, .. })
        ));
        let (prefix, truncated) = host.read_prefix(Path::new("/big"), 10).unwrap();
        assert_eq!(prefix.len(), 10);
        assert!(truncated);
    }

    #[test]
    fn passwd_parsing_skips_junk() {
        let users = parse_passwd(
            "root:x:0:0:root:/root:/bin/bash\n# comment\nbad line\nalice:x:1000:1000::/home/alice:/bin/sh\n",
        );
        assert_eq!(users.len(), 2);
        assert_eq!(users[1].uid, 1000);
        assert_eq!(users[1].home, PathBuf::from("/home/alice"));
    }

    #[test]
    fn open_dir_stat_id_and_open_file_at_stay_in_the_root() {
        let (dir, host) = host();
        std::fs::create_dir_all(dir.path().join("site/pkg.dist-info")).unwrap();
        std::fs::write(dir.path().join("site/pkg.dist-info/METADATA"), b"Name: p\n").unwrap();
        std::fs::create_dir_all(dir.path().join("etc")).unwrap();
        std::fs::write(dir.path().join("etc/inside"), b"inside").unwrap();
        // An absolute link must be re-rooted, not followed on the real disk.
        symlink(
            "/etc/inside",
            dir.path().join("site/pkg.dist-info/INSTALLER"),
        )
        .unwrap();
        symlink("/etc", dir.path().join("site/linkdir")).unwrap();
        let d = host.open_dir(Path::new("/site")).unwrap();
        let id = d.stat_id(Path::new("pkg.dist-info/METADATA")).unwrap();
        assert_eq!(id.size, 8);
        assert_eq!(d.stat_self().unwrap().mode & libc::S_IFMT, libc::S_IFDIR);
        assert!(d.stat_id(Path::new("../etc/inside")).is_err());
        assert!(d.stat_id(Path::new("/etc/inside")).is_err());
        let (mut f, _) = host
            .open_file_at(&d, Path::new("pkg.dist-info/METADATA"))
            .unwrap();
        let mut s = String::new();
        f.read_to_string(&mut s).unwrap();
        assert_eq!(s, "Name: p\n");
        let (mut f, _) = host
            .open_file_at(&d, Path::new("pkg.dist-info/INSTALLER"))
            .unwrap();
        let mut s = String::new();
        f.read_to_string(&mut s).unwrap();
        assert_eq!(s, "inside");
        let (mut f, _) = host.open_file_at(&d, Path::new("linkdir/inside")).unwrap();
        let mut s = String::new();
        f.read_to_string(&mut s).unwrap();
        assert_eq!(s, "inside");
        assert!(host.open_file_at(&d, Path::new("pkg.dist-info")).is_err());
        assert!(host
            .open_file_at(&d, Path::new("nope"))
            .unwrap_err()
            .is_not_found());
    }

    #[test]
    fn list_and_open_beneath_never_follow_a_link_nor_block() {
        let (dir, host) = host();
        let site = dir.path().join("site");
        std::fs::create_dir_all(site.join("pkg/sub")).unwrap();
        std::fs::write(site.join("pkg/b.py"), b"x = 1\n").unwrap();
        std::fs::write(site.join("pkg/a.py"), b"").unwrap();
        symlink("/etc", site.join("pkg/link")).unwrap();
        symlink("/etc", site.join("linkdir")).unwrap();
        let fifo = std::ffi::CString::new(site.join("pkg/fifo.py").as_os_str().as_bytes()).unwrap();
        // SAFETY: `fifo` is a NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o644) }, 0);
        let d = host.open_dir(Path::new("/site")).unwrap();
        let listed = d.list_beneath(Path::new("pkg")).unwrap().unwrap();
        let view: Vec<(String, EntryType)> = listed
            .iter()
            .map(|e| (e.name.to_string_lossy().into_owned(), e.kind))
            .collect();
        assert_eq!(
            view,
            vec![
                ("a.py".to_string(), EntryType::File),
                ("b.py".to_string(), EntryType::File),
                ("fifo.py".to_string(), EntryType::Other),
                ("link".to_string(), EntryType::Symlink),
                ("sub".to_string(), EntryType::Dir),
            ]
        );
        assert!(d
            .list_beneath(Path::new("pkg/sub"))
            .unwrap()
            .unwrap()
            .is_empty());
        assert_eq!(d.list_beneath(Path::new("")).unwrap().unwrap().len(), 2);
        // A symlink on the way, or as the entry: not followed, the caller
        // takes the checked way.
        assert!(d.list_beneath(Path::new("linkdir")).unwrap().is_none());
        assert!(d.list_beneath(Path::new("pkg/link")).unwrap().is_none());
        assert!(d.list_beneath(Path::new("pkg/a.py")).unwrap().is_none());
        assert!(d
            .open_regular_beneath(Path::new("pkg/link"))
            .unwrap()
            .is_none());
        assert!(d
            .open_regular_beneath(Path::new("linkdir/passwd"))
            .unwrap()
            .is_none());
        // A FIFO is opened without blocking and refused; a directory refused.
        assert!(d
            .open_regular_beneath(Path::new("pkg/fifo.py"))
            .unwrap()
            .is_none());
        assert!(d
            .open_regular_beneath(Path::new("pkg/sub"))
            .unwrap()
            .is_none());
        let (_, md) = d
            .open_regular_beneath(Path::new("pkg/b.py"))
            .unwrap()
            .unwrap();
        assert_eq!(md.len(), 6);
        assert!(d
            .open_regular_beneath(Path::new("pkg/nope.py"))
            .unwrap_err()
            .is_not_found());
        assert!(d.list_beneath(Path::new("../site")).is_err());
        assert!(d
            .list_beneath(Path::new("nope"))
            .unwrap_err()
            .is_not_found());
    }

    #[test]
    fn normalize_never_climbs_above_root() {
        assert_eq!(
            Host::normalize(Path::new("/a/../../..//b/./c")),
            Path::new("/b/c")
        );
        assert_eq!(Host::normalize(Path::new("rel/x")), Path::new("/rel/x"));
    }

    #[test]
    fn column_encoding_round_trips_and_keeps_utf8() {
        use std::os::unix::ffi::OsStrExt;
        assert_eq!(path_to_column(Path::new("/usr/lib/café")), "/usr/lib/café");
        let raw = Path::new(OsStr::from_bytes(b"/srv/caf\xe9/a\\xe9"));
        let col = path_to_column(raw);
        assert_eq!(col, "/srv/caf\\xe9/a\\\\xe9");
        assert_eq!(path_from_column(&col), raw);
        assert_eq!(path_from_column("/a\\q\\x4"), Path::new("/a\\q\\x4"));
        assert_eq!(
            path_from_column("/a\\xFF").as_os_str().as_bytes(),
            b"/a\xff"
        );
    }
}
