//! Finding Python environments where people really have them.
//!
//! Discovery looks in the known places first (system and `/usr/local`
//! site-packages, every user's `~/.local/lib/python*/site-packages`, conda
//! installs and `~/.conda/environments.txt`, pyenv versions, pipx and uv tool
//! venvs, poetry and pipenv caches, virtualenvwrapper's `~/.virtualenvs`),
//! then walks homes, `/opt` and `/srv` for `pyvenv.cfg` with a depth limit, an
//! entry limit and a time budget, so it is never a full-disk walk. The walk
//! never follows a symlinked directory (so it cannot loop or leave the root)
//! and does not descend into an environment it found, nor into directories
//! that never hold one (`.git`, `node_modules`, `site-packages`, ...).

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::host::{Host, HostDir};

/// What kind of environment this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EnvironmentKind {
    /// A system or `/usr/local` site directory, of the distribution's or a
    /// hand-built interpreter.
    System,
    /// A virtual environment (`pyvenv.cfg`) found anywhere else.
    Venv,
    /// A conda/miniconda/anaconda/miniforge environment (`conda-meta/`).
    Conda,
    /// A user's site directory (`~/.local/lib/pythonX.Y/site-packages`).
    User,
    /// A pipx application venv.
    Pipx,
    /// A `uv tool` venv.
    UvTool,
    /// A pyenv-installed interpreter (`~/.pyenv/versions/X`).
    Pyenv,
    /// A poetry-managed venv (`~/.cache/pypoetry/virtualenvs`).
    Poetry,
    /// A pipenv-managed venv (`~/.local/share/virtualenvs`).
    Pipenv,
    /// A virtualenvwrapper venv (`~/.virtualenvs`).
    Virtualenvwrapper,
}

impl EnvironmentKind {
    /// The word used in the `kind` column.
    pub fn as_str(self) -> &'static str {
        match self {
            EnvironmentKind::System => "system",
            EnvironmentKind::Venv => "venv",
            EnvironmentKind::Conda => "conda",
            EnvironmentKind::User => "user",
            EnvironmentKind::Pipx => "pipx",
            EnvironmentKind::UvTool => "uv_tool",
            EnvironmentKind::Pyenv => "pyenv",
            EnvironmentKind::Poetry => "poetry",
            EnvironmentKind::Pipenv => "pipenv",
            EnvironmentKind::Virtualenvwrapper => "virtualenvwrapper",
        }
    }
}

impl std::fmt::Display for EnvironmentKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One Python environment on the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Environment {
    /// Host path that names the environment: the venv root, the conda or
    /// pyenv prefix, or the site directory itself for a system or user site.
    pub path: PathBuf,
    /// What kind of environment it is.
    pub kind: EnvironmentKind,
    /// `X.Y` or `X.Y.Z`, from `pyvenv.cfg`, conda-meta or the `pythonX.Y`
    /// directory name, when known.
    pub python_version: Option<String>,
    /// Its site directories (host paths), primary first. Only the
    /// environment's own: a venv with `include-system-site-packages` does not
    /// list the system's here (see `include_system_site_packages`).
    pub site_packages: Vec<PathBuf>,
    /// Owner of the environment's directory.
    pub owner_uid: Option<u32>,
    /// `include-system-site-packages = true` in `pyvenv.cfg`: the system's
    /// site directories are importable from this venv too.
    pub include_system_site_packages: bool,
    /// What squatch could not look at in this environment (an unreadable
    /// `lib` or site directory, a `pyvenv.cfg` that is a FIFO), in words;
    /// `None` when everything could be read.
    pub status: Option<String>,
}

/// A place environment discovery could not look into, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoverageGap {
    /// Host path of the place.
    pub path: PathBuf,
    /// Why, in words (`permission denied: ...`, `walk_limit: ...`).
    pub reason: String,
}

/// Every environment found, and every place the search could not look.
#[derive(Debug, Clone, Default)]
pub struct Discovery {
    /// The environments, as [`discover_environments`] gives them.
    pub environments: Vec<Environment>,
    /// Homes and directories that could not be listed, and walk limits hit.
    pub gaps: Vec<CoverageGap>,
}

/// Most coverage gaps one discovery reports (each is also logged).
const MAX_GAPS: usize = 1000;

/// Limits of the filesystem walk that finds venvs outside the known places.
#[derive(Debug, Clone)]
pub struct DiscoveryOptions {
    /// How many directory levels below a home, `/opt` or `/srv` to look.
    pub max_depth: usize,
    /// How many directory entries the walk may look at in all.
    pub max_entries: usize,
    /// Wall-clock budget for the walk.
    pub time_budget: Duration,
}

impl Default for DiscoveryOptions {
    fn default() -> Self {
        DiscoveryOptions {
            max_depth: 6,
            max_entries: 300_000,
            time_budget: Duration::from_secs(3),
        }
    }
}

/// Directory names the walk never enters: they never hold an environment
/// worth finding this way, and some are huge.
const SKIP_DIRS: &[&str] = &[
    ".git",
    ".hg",
    ".svn",
    "node_modules",
    "__pycache__",
    "site-packages",
    "dist-packages",
    ".cache",
    ".npm",
    ".cargo",
    ".rustup",
    ".m2",
    ".gradle",
    ".pyenv",
    "Trash",
    ".Trash",
    "proc",
    "sys",
];

/// Every environment on the host, deduplicated (by resolved path) and sorted
/// by path, using the default walk limits.
pub fn discover_environments(host: &Host) -> Vec<Environment> {
    discover_environments_with(host, &DiscoveryOptions::default())
}

/// [`discover_environments`] with explicit walk limits.
pub fn discover_environments_with(host: &Host, opts: &DiscoveryOptions) -> Vec<Environment> {
    discover_environments_report(host, opts).environments
}

/// [`discover_environments_with`], also saying where the search could not
/// look (each gap is logged at warn level too).
pub fn discover_environments_report(host: &Host, opts: &DiscoveryOptions) -> Discovery {
    let mut gaps: Vec<CoverageGap> = Vec::new();
    let mut candidates: Vec<PathBuf> = Vec::new();

    // System site directories.
    for prefix in [
        "/usr/lib",
        "/usr/lib64",
        "/usr/local/lib",
        "/usr/local/lib64",
    ] {
        for py in python_dirs(host, Path::new(prefix), true) {
            for site in ["site-packages", "dist-packages"] {
                candidates.push(py.join(site));
            }
        }
    }

    let homes = host.home_dirs();
    for (home, _) in &homes {
        if let Err(e) = host.can_list(home) {
            gap(&mut gaps, home, format!("unreadable home: {e}"));
            continue;
        }
        // User site.
        for py in python_dirs(host, &home.join(".local/lib"), false) {
            candidates.push(py.join("site-packages"));
        }
        // Tool-managed venv homes: each child is an environment.
        for parent in [
            ".local/pipx/venvs",
            ".local/share/pipx/venvs",
            ".local/share/uv/tools",
            ".cache/pypoetry/virtualenvs",
            ".local/share/virtualenvs",
            ".virtualenvs",
            ".pyenv/versions",
            ".conda/envs",
        ] {
            candidates.extend(child_dirs(host, &home.join(parent)));
        }
        // pyenv-virtualenv keeps venvs under versions/X/envs/Y.
        for v in child_dirs(host, &home.join(".pyenv/versions")) {
            candidates.extend(child_dirs(host, &v.join("envs")));
        }
        // conda's own list of environments it created.
        if let Ok(text) = host.read_to_string(&home.join(".conda/environments.txt"), 1 << 20) {
            for line in text.lines().map(str::trim).filter(|l| l.starts_with('/')) {
                candidates.push(PathBuf::from(line));
            }
        }
    }
    for parent in ["/opt/pipx/venvs", "/opt/conda/envs"] {
        candidates.extend(child_dirs(host, Path::new(parent)));
    }

    // The bounded walk.
    let mut walker = Walker {
        host,
        deadline: Instant::now() + opts.time_budget,
        entries_left: opts.max_entries,
        found: Vec::new(),
        exhausted: false,
        gaps: Vec::new(),
    };
    let mut roots: Vec<PathBuf> = homes.into_iter().map(|(h, _)| h).collect();
    roots.push("/opt".into());
    roots.push("/srv".into());
    for root in roots {
        walker.walk(&root, opts.max_depth);
    }
    if walker.exhausted {
        gap(
            &mut gaps,
            Path::new("/"),
            "walk_limit: python environment discovery stopped at its entry or time budget; some venvs may be missing".into(),
        );
    }
    for g in std::mem::take(&mut walker.gaps) {
        gap(&mut gaps, &g.path, g.reason);
    }
    candidates.extend(walker.found);

    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    for c in candidates {
        let Some((env, key)) = environment_at_keyed(host, &c) else {
            continue;
        };
        if seen.insert(key) {
            out.push(env);
        }
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    for env in &out {
        if let Some(st) = &env.status {
            log::warn!("{}: {st}", env.path.display());
        }
    }
    Discovery {
        environments: out,
        gaps,
    }
}

fn gap(gaps: &mut Vec<CoverageGap>, path: &Path, reason: String) {
    log::warn!("{}: {reason}", path.display());
    if gaps.len() < MAX_GAPS {
        gaps.push(CoverageGap {
            path: path.to_path_buf(),
            reason,
        });
    }
}

fn join_problems(problems: Vec<String>) -> Option<String> {
    (!problems.is_empty()).then(|| problems.join("; "))
}

/// The environment rooted at `path`, if there is one: a venv (`pyvenv.cfg`),
/// a conda prefix (`conda-meta/`), a pyenv version, or a site directory
/// (`.../site-packages`, `.../dist-packages`). Used for `WHERE environment =`
/// so that a query about one environment looks at nothing else.
pub fn environment_at(host: &Host, path: &Path) -> Option<Environment> {
    environment_at_keyed(host, path).map(|(env, _)| env)
}

/// The file type bits of `rel` below an open directory, following a final
/// symlink inside the root.
fn type_at(host: &Host, dir: &HostDir, rel: &str) -> Option<u32> {
    let id = dir.stat_id(Path::new(rel)).ok()?;
    if id.mode & libc::S_IFMT == libc::S_IFLNK {
        host.metadata(&dir.path().join(rel))
            .ok()
            .map(|m| m.mode() & libc::S_IFMT)
    } else {
        Some(id.mode & libc::S_IFMT)
    }
}

/// [`environment_at`], with the environment directory's (device, inode) for
/// deduplication.
fn environment_at_keyed(host: &Host, path: &Path) -> Option<(Environment, (u64, u64))> {
    let path = Host::normalize(path);
    // Opening it resolves it (inside the root) and proves it is a directory.
    let dir = host.open_dir(&path).ok()?;
    let me = dir.stat_self().ok()?;
    let key = (me.dev, me.ino);
    environment_in(host, path, &dir).map(|env| (env, key))
}

fn environment_in(host: &Host, path: PathBuf, dir: &HostDir) -> Option<Environment> {
    let owner_uid = host.symlink_metadata(&path).ok().map(|m| m.uid());
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();

    let mut problems: Vec<String> = Vec::new();
    // A `pyvenv.cfg` of any kind but a directory makes a venv (a FIFO in its
    // place must not hide one); what cannot be read is said.
    let cfg_type = type_at(host, dir, "pyvenv.cfg");
    if cfg_type.is_some_and(|t| t != libc::S_IFDIR) {
        let cfg = match read_small_at(host, dir, "pyvenv.cfg") {
            Ok(text) => text,
            Err(e) => {
                problems.push(format!("unreadable pyvenv.cfg: {e}"));
                String::new()
            }
        };
        let cfg = PyvenvCfg::parse(&cfg);
        let site_packages = prefix_site_packages(host, &path, &mut problems);
        let python_version = cfg
            .version
            .clone()
            .or_else(|| version_from_sites(&site_packages));
        return Some(Environment {
            kind: classify_venv(&path, &cfg),
            path,
            python_version,
            site_packages,
            owner_uid,
            include_system_site_packages: cfg.include_system_site_packages,
            status: join_problems(problems),
        });
    }
    if type_at(host, dir, "conda-meta") == Some(libc::S_IFDIR) {
        let site_packages = prefix_site_packages(host, &path, &mut problems);
        let python_version =
            conda_python_version(host, &path).or_else(|| version_from_sites(&site_packages));
        return Some(Environment {
            path,
            kind: EnvironmentKind::Conda,
            python_version,
            site_packages,
            owner_uid,
            include_system_site_packages: false,
            status: join_problems(problems),
        });
    }
    if path
        .parent()
        .map(|p| p.ends_with(".pyenv/versions"))
        .unwrap_or(false)
    {
        let site_packages = prefix_site_packages(host, &path, &mut problems);
        if site_packages.is_empty() {
            return None;
        }
        let python_version = if name.starts_with(|c: char| c.is_ascii_digit()) {
            Some(name.clone())
        } else {
            version_from_sites(&site_packages)
        };
        return Some(Environment {
            path,
            kind: EnvironmentKind::Pyenv,
            python_version,
            site_packages,
            owner_uid,
            include_system_site_packages: false,
            status: join_problems(problems),
        });
    }
    if name == "site-packages" || name == "dist-packages" {
        let is_user = path
            .parent()
            .and_then(Path::parent)
            .map(|lib| lib.ends_with(".local/lib"))
            .unwrap_or(false);
        let python_version =
            version_from_sites(std::slice::from_ref(&path)).or_else(|| system_python_version(host));
        return Some(Environment {
            kind: if is_user {
                EnvironmentKind::User
            } else {
                EnvironmentKind::System
            },
            site_packages: vec![path.clone()],
            path,
            python_version,
            owner_uid,
            include_system_site_packages: false,
            status: join_problems(problems),
        });
    }
    None
}

/// The keys of `pyvenv.cfg` that matter here.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct PyvenvCfg {
    /// `home`: the directory of the base interpreter.
    pub home: Option<String>,
    /// `version` or `version_info` (uv), trimmed to `X.Y.Z`.
    pub version: Option<String>,
    /// `include-system-site-packages`.
    pub include_system_site_packages: bool,
    /// `uv = ...`: the venv was made by uv.
    pub uv: bool,
}

impl PyvenvCfg {
    /// Parses `key = value` lines; unknown keys and junk are ignored.
    pub fn parse(text: &str) -> PyvenvCfg {
        let mut cfg = PyvenvCfg::default();
        for line in text.lines() {
            let Some((k, v)) = line.split_once('=') else {
                continue;
            };
            let (k, v) = (k.trim().to_ascii_lowercase(), v.trim());
            match k.as_str() {
                "home" => cfg.home = Some(v.to_string()),
                "version" | "version_info"
                    if cfg.version.is_none() && v.starts_with(|c: char| c.is_ascii_digit()) =>
                {
                    let parts: Vec<&str> = v.split('.').take(3).collect();
                    cfg.version = Some(parts.join("."));
                }
                "include-system-site-packages" => {
                    cfg.include_system_site_packages = v.eq_ignore_ascii_case("true")
                }
                "uv" => cfg.uv = true,
                _ => {}
            }
        }
        cfg
    }
}

fn classify_venv(path: &Path, cfg: &PyvenvCfg) -> EnvironmentKind {
    let s = path.to_string_lossy();
    let under = |marker: &str| s.contains(marker);
    if under("/pipx/venvs/") {
        EnvironmentKind::Pipx
    } else if under("/uv/tools/") {
        EnvironmentKind::UvTool
    } else if under("/pypoetry/virtualenvs/") {
        EnvironmentKind::Poetry
    } else if under("/.local/share/virtualenvs/") {
        EnvironmentKind::Pipenv
    } else if under("/.virtualenvs/") {
        EnvironmentKind::Virtualenvwrapper
    } else if under("/.pyenv/versions/") {
        EnvironmentKind::Pyenv
    } else {
        let _ = cfg;
        EnvironmentKind::Venv
    }
}

/// `lib/pythonX.Y/site-packages` (and `lib64`, and Windows' `Lib/site-packages`)
/// below a prefix, deduplicated by resolved path, sorted.
fn prefix_site_packages(host: &Host, prefix: &Path, problems: &mut Vec<String>) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for lib in ["lib", "lib64"] {
        let lib_dir = prefix.join(lib);
        if let Err(e) = host.can_list(&lib_dir) {
            if !e.is_not_found() {
                problems.push(format!("unreadable {lib}: {e}"));
            }
        }
        for py in python_dirs(host, &lib_dir, false) {
            let site = py.join("site-packages");
            // Identity, not path, deduplicates `lib64 -> lib`.
            match host.metadata(&site) {
                Ok(md) => {
                    if md.is_dir() && seen.insert((md.dev(), md.ino())) {
                        out.push(site);
                    }
                }
                Err(e) if e.is_not_found() => {}
                Err(e) => problems.push(format!("unreadable site directory: {e}")),
            }
        }
    }
    let win = prefix.join("Lib/site-packages");
    if host.is_dir(&win) {
        out.push(win);
    }
    out
}

/// Reads a small text file (at most 64 KiB) below an open directory.
fn read_small_at(host: &Host, dir: &HostDir, rel: &str) -> Result<String, crate::host::HostError> {
    use std::io::Read;
    let (file, _) = host.open_file_at(dir, Path::new(rel))?;
    let mut buf = Vec::new();
    file.take(64 * 1024)
        .read_to_end(&mut buf)
        .map_err(|source| crate::host::HostError::Io {
            path: dir.path().join(rel),
            source,
        })?;
    Ok(String::from_utf8_lossy(&buf).into_owned())
}

/// `pythonX.Y` directories in `lib` (and `python3` when `bare_python3`, for
/// Debian's `/usr/lib/python3/dist-packages`).
fn python_dirs(host: &Host, lib: &Path, bare_python3: bool) -> Vec<PathBuf> {
    let Ok(entries) = host.read_dir(lib) else {
        return Vec::new();
    };
    entries
        .into_iter()
        .filter(|e| {
            let n = e.name_lossy();
            let versioned = n
                .strip_prefix("python")
                .map(|v| v.contains('.') && v.starts_with(|c: char| c.is_ascii_digit()))
                .unwrap_or(false);
            (versioned || (bare_python3 && n == "python3")) && !e.file_type.is_file()
        })
        .map(|e| e.path)
        .collect()
}

fn child_dirs(host: &Host, dir: &Path) -> Vec<PathBuf> {
    host.read_dir(dir)
        .map(|es| {
            es.into_iter()
                .filter(|e| e.file_type.is_dir())
                .map(|e| e.path)
                .collect()
        })
        .unwrap_or_default()
}

/// `3.12` from `.../python3.12/site-packages`.
fn version_from_sites(sites: &[PathBuf]) -> Option<String> {
    sites.iter().find_map(|s| {
        let py = s.parent()?.file_name()?.to_str()?;
        let v = py.strip_prefix("python")?;
        (v.contains('.') && v.starts_with(|c: char| c.is_ascii_digit())).then(|| v.to_string())
    })
}

/// The version of `/usr/bin/python3`, from the name its symlink points at.
fn system_python_version(host: &Host) -> Option<String> {
    let resolved = host.resolve(Path::new("/usr/bin/python3")).ok()?;
    let name = resolved.file_name()?.to_str()?;
    let v = name.strip_prefix("python")?;
    (v.contains('.') && v.starts_with(|c: char| c.is_ascii_digit())).then(|| v.to_string())
}

/// The python version recorded in `conda-meta/python-X.Y.Z-<build>.json`.
fn conda_python_version(host: &Host, prefix: &Path) -> Option<String> {
    let entries = host.read_dir(&prefix.join("conda-meta")).ok()?;
    entries.iter().find_map(|e| {
        let n = e.name_lossy();
        let rest = n.strip_prefix("python-")?.strip_suffix(".json")?;
        let v = rest.split('-').next()?;
        v.starts_with(|c: char| c.is_ascii_digit())
            .then(|| v.to_string())
    })
}

struct Walker<'a> {
    host: &'a Host,
    deadline: Instant,
    entries_left: usize,
    found: Vec<PathBuf>,
    exhausted: bool,
    gaps: Vec<CoverageGap>,
}

impl Walker<'_> {
    fn walk(&mut self, dir: &Path, depth: usize) {
        if self.exhausted {
            return;
        }
        if Instant::now() > self.deadline {
            self.exhausted = true;
            return;
        }
        let entries = match self.host.read_dir(dir) {
            Ok(e) => e,
            Err(e) => {
                if !e.is_not_found() && self.gaps.len() < MAX_GAPS {
                    self.gaps.push(CoverageGap {
                        path: dir.to_path_buf(),
                        reason: format!("unreadable: {e}"),
                    });
                }
                return;
            }
        };
        if entries.len() > self.entries_left {
            self.exhausted = true;
            return;
        }
        self.entries_left -= entries.len();
        if entries
            .iter()
            .any(|e| e.name == "pyvenv.cfg" && !e.file_type.is_dir())
        {
            self.found.push(dir.to_path_buf());
            return;
        }
        let is_conda = entries
            .iter()
            .any(|e| e.name == "conda-meta" && e.file_type.is_dir());
        if is_conda {
            self.found.push(dir.to_path_buf());
        }
        if depth == 0 {
            return;
        }
        for e in &entries {
            // `is_dir` on the entry's own type: a symlinked directory is
            // never entered, so the walk cannot loop or leave the root.
            if !e.file_type.is_dir() {
                continue;
            }
            let name = e.name_lossy();
            if is_conda && name != "envs" {
                continue;
            }
            if SKIP_DIRS.contains(&name.as_str()) || is_python_lib_dir(&name) {
                continue;
            }
            self.walk(&e.path, depth - 1);
        }
    }
}

/// `python3.12`: an interpreter's library directory (the stdlib or a
/// prefix's), never the place of a venv and costly to walk.
fn is_python_lib_dir(name: &str) -> bool {
    name.strip_prefix("python")
        .map(|v| v.starts_with(|c: char| c.is_ascii_digit()))
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pyvenv_cfg_variants() {
        let c = PyvenvCfg::parse(
            "home = /usr/bin\ninclude-system-site-packages = True\nversion = 3.12.3\n",
        );
        assert!(c.include_system_site_packages);
        assert_eq!(c.version.as_deref(), Some("3.12.3"));
        let uv = PyvenvCfg::parse("home = /x\nimplementation = CPython\nuv = 0.4.0\nversion_info = 3.11.9.final.0\ninclude-system-site-packages = false\n");
        assert!(uv.uv);
        assert!(!uv.include_system_site_packages);
        assert_eq!(uv.version.as_deref(), Some("3.11.9"));
    }

    #[test]
    fn kinds_by_location() {
        let cfg = PyvenvCfg::default();
        let k = |p: &str| classify_venv(Path::new(p), &cfg);
        assert_eq!(
            k("/home/a/.local/share/pipx/venvs/black"),
            EnvironmentKind::Pipx
        );
        assert_eq!(
            k("/home/a/.local/share/uv/tools/ruff"),
            EnvironmentKind::UvTool
        );
        assert_eq!(
            k("/home/a/.cache/pypoetry/virtualenvs/p-x-py3.12"),
            EnvironmentKind::Poetry
        );
        assert_eq!(
            k("/home/a/.local/share/virtualenvs/p-abc"),
            EnvironmentKind::Pipenv
        );
        assert_eq!(
            k("/home/a/.virtualenvs/work"),
            EnvironmentKind::Virtualenvwrapper
        );
        assert_eq!(k("/home/a/src/proj/.venv"), EnvironmentKind::Venv);
    }
}
