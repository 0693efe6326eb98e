//! A fake host for integration tests: a temp dir laid out like a machine's
//! filesystem, with builders for Python environments and distributions.
//!
//! Every path a method takes or returns is a *host path* (`/home/alice/...`),
//! as [`squatch::host::Host`] sees it; [`FakeHost::real`] maps one to the real
//! file under the temp dir when a test must touch it directly.
//!
//! ```ignore
//! mod common;
//! use common::FakeHost;
//!
//! let fh = FakeHost::new();
//! fh.passwd(&[("alice", 1000, "/home/alice")]);
//! let site = fh.venv("/home/alice/proj/.venv", "3.12", false);
//! let d = fh
//!     .dist(&site, "torch-utilites", "0.1.0")
//!     .file("torch_utilites/__init__.py", b"import os\n")
//!     .file("../../../bin/torch-utils", b"#!/bin/sh\n")
//!     .entry_points("[console_scripts]\ntorch-utils = torch_utilites:main\n")
//!     .installer("pip")
//!     .requested()
//!     .write();
//! fh.modify(&d.file("torch_utilites/__init__.py"), b"import evil\n");
//! fh.add_unrecorded(&site.join("torch_utilites/extra.py"), b"x = 1\n");
//! let host = fh.host();
//! ```
//!
//! Besides distributions, `write`/`symlink`/`mkdir` lay out anything else a
//! scanner test needs: `.pth` files and `sitecustomize.py` (see
//! [`FakeHost::pth`]), `setup.py` in an sdist tree, config files under `/etc`,
//! dpkg's database ([`FakeHost::dpkg`]).
#![allow(dead_code)]

pub mod deps;
pub mod gpu;
pub mod hostile;
pub mod recon;
pub mod typosquat;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use base64::Engine;
use sha2::{Digest, Sha256};
use squatch::host::Host;
use tempfile::TempDir;

/// The `squatch` binary under test, keeping its state (fingerprint key,
/// persistent cache) under the test build's own temp directory: a test run
/// never writes the real `/var/lib/squatch`. A test that passes
/// `--state-dir` itself still wins (a flag beats the environment).
pub fn squatch_command() -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_squatch"));
    cmd.env(
        "SQUATCH_STATE_DIR",
        concat!(env!("CARGO_TARGET_TMPDIR"), "/squatch-state"),
    );
    cmd
}

/// Runs `squatch --root ROOT [EXTRA...] query --json SQL` with a fresh
/// state directory of its own (so runs never share a cache) and returns the
/// rows. Fails the test, with squatch's stderr, when squatch exits non-zero
/// or its output is not a JSON array.
pub fn query_json(root: &Path, extra: &[&str], sql: &str) -> Vec<serde_json::Value> {
    let state = tempfile::tempdir().expect("state dir");
    let out = squatch_command()
        .arg("--root")
        .arg(root)
        .arg("--state-dir")
        .arg(state.path())
        .args(extra)
        .args(["query", "--json", sql])
        .output()
        .expect("run squatch");
    assert!(
        out.status.success(),
        "squatch query failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    match serde_json::from_slice(&out.stdout).expect("JSON output") {
        serde_json::Value::Array(rows) => rows,
        other => panic!("not an array: {other}"),
    }
}

/// A temp dir standing for a host's `/`. Removed when dropped.
pub struct FakeHost {
    dir: TempDir,
}

impl Default for FakeHost {
    fn default() -> Self {
        Self::new()
    }
}

/// RECORD's hash of some bytes: `sha256=<urlsafe base64, no padding>`.
pub fn record_hash(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    format!(
        "sha256={}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest)
    )
}

/// Lowercase hex MD5 of some bytes, as dpkg's `md5sums` holds it.
pub fn md5_hex(bytes: &[u8]) -> String {
    use md5::Digest as _;
    let d = md5::Md5::digest(bytes);
    d.iter().map(|b| format!("{b:02x}")).collect()
}

/// Lexically joins a RECORD-style relative path to a base host path.
pub fn join(base: &Path, rel: &str) -> PathBuf {
    Host::normalize(&base.join(rel))
}

impl FakeHost {
    /// An empty fake host.
    pub fn new() -> Self {
        FakeHost {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    /// The real directory standing for `/`.
    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    /// A [`Host`] rooted at the fake host.
    pub fn host(&self) -> Host {
        Host::new(self.dir.path())
    }

    /// The real path of a host path (no symlink resolution).
    pub fn real(&self, host_path: &Path) -> PathBuf {
        let norm = Host::normalize(host_path);
        self.dir
            .path()
            .join(norm.strip_prefix("/").unwrap_or(&norm))
    }

    /// Creates a directory (and its parents).
    pub fn mkdir(&self, host_path: impl AsRef<Path>) -> PathBuf {
        let p = Host::normalize(host_path.as_ref());
        std::fs::create_dir_all(self.real(&p)).expect("mkdir");
        p
    }

    /// Writes a file (creating parents) and returns its host path.
    pub fn write(&self, host_path: impl AsRef<Path>, bytes: impl AsRef<[u8]>) -> PathBuf {
        let p = Host::normalize(host_path.as_ref());
        let real = self.real(&p);
        if let Some(parent) = real.parent() {
            std::fs::create_dir_all(parent).expect("mkdir parent");
        }
        std::fs::write(&real, bytes).expect("write");
        p
    }

    /// Creates a symlink at `link` (host path) whose target is `target`,
    /// written verbatim (absolute or relative).
    pub fn symlink(&self, target: impl AsRef<Path>, link: impl AsRef<Path>) {
        let real = self.real(link.as_ref());
        if let Some(parent) = real.parent() {
            std::fs::create_dir_all(parent).expect("mkdir parent");
        }
        std::os::unix::fs::symlink(target.as_ref(), real).expect("symlink");
    }

    /// Sets a file's or directory's permission bits.
    pub fn chmod(&self, host_path: impl AsRef<Path>, mode: u32) {
        std::fs::set_permissions(
            self.real(host_path.as_ref()),
            std::fs::Permissions::from_mode(mode),
        )
        .expect("chmod");
    }

    /// Sets a file's modification time (Unix seconds).
    pub fn set_mtime(&self, host_path: impl AsRef<Path>, secs: i64) {
        let f = std::fs::File::options()
            .write(true)
            .open(self.real(host_path.as_ref()))
            .or_else(|_| std::fs::File::open(self.real(host_path.as_ref())))
            .expect("open for mtime");
        let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs as u64);
        f.set_modified(t).expect("set mtime");
    }

    /// Writes `/etc/passwd` with these `(name, uid, home)` accounts and
    /// creates their homes.
    pub fn passwd(&self, users: &[(&str, u32, &str)]) {
        let mut text = String::new();
        for (name, uid, home) in users {
            text.push_str(&format!("{name}:x:{uid}:{uid}::{home}:/bin/bash\n"));
            self.mkdir(home);
        }
        self.write("/etc/passwd", text);
    }

    /// A venv at `root` (`pyvenv.cfg`, `bin/python`, `lib/pythonX.Y/site-packages`)
    /// for `python_version` (`"3.12"` or `"3.12.3"`). Returns its site dir.
    pub fn venv(
        &self,
        root: impl AsRef<Path>,
        python_version: &str,
        include_system: bool,
    ) -> PathBuf {
        let root = Host::normalize(root.as_ref());
        self.write(
            root.join("pyvenv.cfg"),
            format!(
                "home = /usr/bin\ninclude-system-site-packages = {include_system}\nversion = {python_version}\n"
            ),
        );
        self.write(root.join("bin/python"), b"#!fake-interpreter\n");
        self.mkdir(root.join(format!("lib/python{}/site-packages", short(python_version))))
    }

    /// A conda prefix (`conda-meta/python-<ver>-0.json`) with its site dir.
    pub fn conda(&self, prefix: impl AsRef<Path>, python_version: &str) -> PathBuf {
        let prefix = Host::normalize(prefix.as_ref());
        self.write(
            prefix.join(format!("conda-meta/python-{python_version}-h0_0.json")),
            b"{}",
        );
        self.write(prefix.join("conda-meta/history"), b"");
        self.mkdir(prefix.join(format!("lib/python{}/site-packages", short(python_version))))
    }

    /// A system site directory (e.g. `/usr/lib/python3/dist-packages`).
    pub fn system_site(&self, path: impl AsRef<Path>) -> PathBuf {
        self.mkdir(path)
    }

    /// A user site directory `~/.local/lib/pythonX.Y/site-packages`.
    pub fn user_site(&self, home: impl AsRef<Path>, python_version: &str) -> PathBuf {
        self.mkdir(home.as_ref().join(format!(
            ".local/lib/python{}/site-packages",
            short(python_version)
        )))
    }

    /// A `.pth` file in a site directory (use `sitecustomize.py` the same way
    /// through [`FakeHost::write`]).
    pub fn pth(&self, site: &Path, name: &str, content: &str) -> PathBuf {
        self.write(site.join(name), content)
    }

    /// Starts a distribution in `site`; finish with [`DistBuilder::write`].
    pub fn dist<'a>(&'a self, site: &Path, name: &str, version: &str) -> DistBuilder<'a> {
        DistBuilder {
            fh: self,
            site: Host::normalize(site),
            name: name.to_string(),
            version: version.to_string(),
            files: Vec::new(),
            fields: Vec::new(),
            metadata_raw: None,
            installer: None,
            requested: false,
            direct_url: None,
            entry_points: None,
            top_level: None,
            extra_meta: Vec::new(),
            egg_info: false,
            record: true,
            no_metadata: false,
            dir_name: None,
        }
    }

    /// Overwrites a file with new content (tamper).
    pub fn modify(&self, host_path: &Path, bytes: impl AsRef<[u8]>) {
        std::fs::write(self.real(host_path), bytes).expect("modify");
    }

    /// Removes a file (tamper).
    pub fn remove(&self, host_path: &Path) {
        std::fs::remove_file(self.real(host_path)).expect("remove");
    }

    /// Adds a file that no RECORD lists (tamper).
    pub fn add_unrecorded(&self, host_path: &Path, bytes: impl AsRef<[u8]>) -> PathBuf {
        self.write(host_path, bytes)
    }

    /// Registers a dpkg package owning `files` (host paths): writes
    /// `/var/lib/dpkg/info/<pkg>.list` (with the parent directories, as dpkg
    /// does) and `<pkg>.md5sums` hashed from the files' *current* content.
    pub fn dpkg(&self, package: &str, files: &[PathBuf]) {
        let mut list = std::collections::BTreeSet::new();
        let mut sums = String::new();
        for f in files {
            let mut p = f.as_path();
            while let Some(parent) = p.parent() {
                if parent == Path::new("/") {
                    break;
                }
                list.insert(parent.to_path_buf());
                p = parent;
            }
            list.insert(f.clone());
            if let Ok(bytes) = std::fs::read(self.real(f)) {
                let rel = f.strip_prefix("/").unwrap_or(f);
                sums.push_str(&format!("{}  {}\n", md5_hex(&bytes), rel.display()));
            }
        }
        let list: String = list.iter().map(|p| format!("{}\n", p.display())).collect();
        self.write(format!("/var/lib/dpkg/info/{package}.list"), list);
        self.write(format!("/var/lib/dpkg/info/{package}.md5sums"), sums);
    }
}

fn short(version: &str) -> String {
    version.split('.').take(2).collect::<Vec<_>>().join(".")
}

/// Builds one installed distribution with a correct RECORD.
pub struct DistBuilder<'a> {
    fh: &'a FakeHost,
    site: PathBuf,
    name: String,
    version: String,
    files: Vec<(String, Vec<u8>)>,
    fields: Vec<(String, String)>,
    metadata_raw: Option<Vec<u8>>,
    installer: Option<Vec<u8>>,
    requested: bool,
    direct_url: Option<String>,
    entry_points: Option<String>,
    top_level: Option<String>,
    extra_meta: Vec<(String, Vec<u8>)>,
    egg_info: bool,
    record: bool,
    no_metadata: bool,
    dir_name: Option<String>,
}

impl DistBuilder<'_> {
    /// A file of the distribution, relative to the site dir (may climb with
    /// `..`, e.g. `../../../bin/tool`, or be absolute).
    pub fn file(mut self, rel: &str, bytes: impl AsRef<[u8]>) -> Self {
        self.files.push((rel.to_string(), bytes.as_ref().to_vec()));
        self
    }

    /// A METADATA header (`Summary`, `Author`, `Home-page`, ...).
    pub fn field(mut self, key: &str, value: &str) -> Self {
        self.fields.push((key.to_string(), value.to_string()));
        self
    }

    /// Replaces the whole METADATA (PKG-INFO for egg-info) with these bytes.
    pub fn metadata_raw(mut self, bytes: impl AsRef<[u8]>) -> Self {
        self.metadata_raw = Some(bytes.as_ref().to_vec());
        self
    }

    /// Writes no METADATA at all.
    pub fn no_metadata(mut self) -> Self {
        self.no_metadata = true;
        self
    }

    /// `INSTALLER` with this name and a trailing newline.
    pub fn installer(mut self, name: &str) -> Self {
        self.installer = Some(format!("{name}\n").into_bytes());
        self
    }

    /// `INSTALLER` with exactly these bytes (uv writes `uv` with no newline).
    pub fn installer_raw(mut self, bytes: &[u8]) -> Self {
        self.installer = Some(bytes.to_vec());
        self
    }

    /// Writes `REQUESTED`.
    pub fn requested(mut self) -> Self {
        self.requested = true;
        self
    }

    /// Writes `direct_url.json` with this JSON text.
    pub fn direct_url(mut self, json: &str) -> Self {
        self.direct_url = Some(json.to_string());
        self
    }

    /// Writes `entry_points.txt` with this INI text.
    pub fn entry_points(mut self, ini: &str) -> Self {
        self.entry_points = Some(ini.to_string());
        self
    }

    /// Writes `top_level.txt` with these names.
    pub fn top_level(mut self, names: &[&str]) -> Self {
        self.top_level = Some(names.iter().map(|n| format!("{n}\n")).collect());
        self
    }

    /// Any other file inside the metadata directory.
    pub fn meta_file(mut self, name: &str, bytes: impl AsRef<[u8]>) -> Self {
        self.extra_meta
            .push((name.to_string(), bytes.as_ref().to_vec()));
        self
    }

    /// Lays out an `.egg-info` directory (PKG-INFO, `installed-files.txt`
    /// relative to it, no hashes) instead of a `.dist-info`.
    pub fn egg_info(mut self) -> Self {
        self.egg_info = true;
        self
    }

    /// Writes no RECORD (nor `installed-files.txt`).
    pub fn no_record(mut self) -> Self {
        self.record = false;
        self
    }

    /// Overrides the metadata directory's name.
    pub fn dir_name(mut self, name: &str) -> Self {
        self.dir_name = Some(name.to_string());
        self
    }

    /// Writes everything and returns where it went.
    pub fn write(self) -> WrittenDist {
        let fh = self.fh;
        let stem = format!("{}-{}", self.name.replace('-', "_"), self.version);
        let dir_name = self.dir_name.clone().unwrap_or_else(|| {
            if self.egg_info {
                format!("{stem}-py3.12.egg-info")
            } else {
                format!("{stem}.dist-info")
            }
        });
        let meta_dir = self.site.join(&dir_name);
        fh.mkdir(&meta_dir);
        let mut written: Vec<(PathBuf, String, Vec<u8>)> = Vec::new();
        for (rel, bytes) in &self.files {
            let p = fh.write(join(&self.site, rel), bytes);
            written.push((p, rel.clone(), bytes.clone()));
        }
        let no_metadata = self.no_metadata;
        let mut meta: Vec<(String, Vec<u8>)> = Vec::new();
        if !no_metadata {
            let body = self.metadata_raw.clone().unwrap_or_else(|| {
                let mut s = format!(
                    "Metadata-Version: 2.1\nName: {}\nVersion: {}\n",
                    self.name, self.version
                );
                for (k, v) in &self.fields {
                    s.push_str(&format!("{k}: {v}\n"));
                }
                s.push_str("\nLong description.\n");
                s.into_bytes()
            });
            meta.push((
                if self.egg_info {
                    "PKG-INFO"
                } else {
                    "METADATA"
                }
                .to_string(),
                body,
            ));
        }
        if !self.egg_info {
            meta.push((
                "WHEEL".into(),
                b"Wheel-Version: 1.0\nRoot-Is-Purelib: true\n".to_vec(),
            ));
        }
        if let Some(i) = &self.installer {
            meta.push(("INSTALLER".into(), i.clone()));
        }
        if self.requested {
            meta.push(("REQUESTED".into(), Vec::new()));
        }
        if let Some(d) = &self.direct_url {
            meta.push(("direct_url.json".into(), d.clone().into_bytes()));
        }
        if let Some(e) = &self.entry_points {
            meta.push(("entry_points.txt".into(), e.clone().into_bytes()));
        }
        if let Some(t) = &self.top_level {
            meta.push(("top_level.txt".into(), t.clone().into_bytes()));
        }
        for (n, b) in &self.extra_meta {
            meta.push((n.clone(), b.clone()));
        }
        for (n, b) in &meta {
            let p = fh.write(meta_dir.join(n), b);
            written.push((p, format!("{dir_name}/{n}"), b.clone()));
        }
        if self.record {
            if self.egg_info {
                let mut text = String::new();
                for (p, _, _) in &written {
                    text.push_str(&relative_from(&meta_dir, p));
                    text.push('\n');
                }
                fh.write(meta_dir.join("installed-files.txt"), text);
            } else {
                let mut text = String::new();
                for (_, rel, bytes) in &written {
                    text.push_str(&format!(
                        "{},{},{}\n",
                        csv_quote(rel),
                        record_hash(bytes),
                        bytes.len()
                    ));
                }
                text.push_str(&format!("{dir_name}/RECORD,,\n"));
                fh.write(meta_dir.join("RECORD"), text);
            }
        }
        WrittenDist {
            site: self.site,
            metadata_path: meta_dir,
            files: written.into_iter().map(|(p, _, _)| p).collect(),
        }
    }
}

fn csv_quote(s: &str) -> String {
    if s.contains([',', '"']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// `../foo/bar.py` style path of `target` relative to the directory `from`.
fn relative_from(from: &Path, target: &Path) -> String {
    let f: Vec<_> = from.components().collect();
    let t: Vec<_> = target.components().collect();
    let common = f.iter().zip(&t).take_while(|(a, b)| a == b).count();
    let mut parts: Vec<String> = vec!["..".into(); f.len() - common];
    parts.extend(
        t[common..]
            .iter()
            .map(|c| c.as_os_str().to_string_lossy().into_owned()),
    );
    parts.join("/")
}

/// What [`DistBuilder::write`] laid out.
#[derive(Debug, Clone)]
pub struct WrittenDist {
    /// The site directory.
    pub site: PathBuf,
    /// The `.dist-info`/`.egg-info` directory.
    pub metadata_path: PathBuf,
    /// Every file written (package files first, then metadata files), as host paths.
    pub files: Vec<PathBuf>,
}

impl WrittenDist {
    /// The host path of a package file given relative to the site dir.
    pub fn file(&self, rel: &str) -> PathBuf {
        join(&self.site, rel)
    }

    /// The host path of a file in the metadata directory.
    pub fn meta(&self, name: &str) -> PathBuf {
        self.metadata_path.join(name)
    }
}

/// Runs `f` with the permissions of an unprivileged user (uid 65534) for
/// filesystem checks, so that `chmod 000` means something even when the tests
/// run as root. Linux's `setfsuid` is per thread and drops the DAC-override
/// capabilities while the fs uid is not 0; it is restored afterwards.
pub fn as_unprivileged<T>(fh: &FakeHost, f: impl FnOnce() -> T) -> T {
    // SAFETY: geteuid/setfsuid have no memory-safety preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    if !root {
        return f();
    }
    // The temp dir is 0700 by default: let the unprivileged uid walk it.
    std::fs::set_permissions(fh.root(), std::fs::Permissions::from_mode(0o755))
        .expect("chmod root");
    unsafe { libc::setfsuid(65534) };
    let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    unsafe { libc::setfsuid(0) };
    match out {
        Ok(v) => v,
        Err(p) => std::panic::resume_unwind(p),
    }
}

/// Rows of a table as maps, for assertions.
pub fn generate(
    table: &dyn squatch::table::Table,
    ctx: &squatch::table::QueryContext,
) -> Vec<std::collections::BTreeMap<String, String>> {
    table
        .generate(ctx)
        .expect("generate")
        .into_iter()
        .map(|r| {
            r.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        })
        .collect()
}
pub mod fake_osquery;
pub mod packs;
pub mod secrets;
