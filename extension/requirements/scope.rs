//! Which dependency files a scan reads when a query names none.
//!
//! The default scope, each root walked to a small depth (documented in
//! README's table notes):
//! - the project directory of every venv found (the venv's parent), depth
//!   [`PROJECT_DEPTH`];
//! - CI checkouts ([`CI_ROOTS`]: GitHub Actions, GitLab, Jenkins, Bitbucket,
//!   generic `/workspace`), depth [`CI_DEPTH`];
//! - every home, `/opt` and `/srv`, depth [`HOME_DEPTH`].
//!
//! The walk never enters [`SKIP_DIRS`], hidden directories, or a directory
//! that is itself an environment (`pyvenv.cfg`, `conda-meta`), and stops at
//! [`ScopeOptions::max_entries`] entries.

use std::path::{Path, PathBuf};

use super::Format;
use crate::host::Host;
use crate::python::{Environment, EnvironmentKind};

/// Levels below a venv's project directory.
pub const PROJECT_DEPTH: usize = 2;
/// Levels below a CI checkout root.
pub const CI_DEPTH: usize = 4;
/// Levels below a home, `/opt` or `/srv`.
pub const HOME_DEPTH: usize = 3;

/// Where CI systems check code out.
pub const CI_ROOTS: &[&str] = &[
    "/home/runner/work",
    "/github/workspace",
    "/__w",
    "/builds",
    "/var/lib/jenkins/workspace",
    "/opt/atlassian/pipelines/agent/build",
    "/workspace",
];

/// Directory names never entered.
pub const SKIP_DIRS: &[&str] = &[
    "node_modules",
    "site-packages",
    "dist-packages",
    "__pycache__",
    "venv",
    "env",
    "build",
    "dist",
    "proc",
    "sys",
];

/// Limits of the walk.
#[derive(Debug, Clone)]
pub struct ScopeOptions {
    /// Most directory entries looked at in all.
    pub max_entries: usize,
}

impl Default for ScopeOptions {
    fn default() -> Self {
        ScopeOptions {
            max_entries: 200_000,
        }
    }
}

/// The roots of the default scope with their depths.
pub fn default_scope(host: &Host, envs: &[Environment]) -> Vec<(PathBuf, usize)> {
    let mut roots = Vec::new();
    for env in envs {
        if matches!(
            env.kind,
            EnvironmentKind::System | EnvironmentKind::User | EnvironmentKind::Pyenv
        ) {
            continue;
        }
        if let Some(parent) = env.path.parent() {
            if parent != Path::new("/") {
                roots.push((parent.to_path_buf(), PROJECT_DEPTH));
            }
        }
    }
    for ci in CI_ROOTS {
        roots.push((PathBuf::from(ci), CI_DEPTH));
    }
    for (home, _) in host.home_dirs() {
        roots.push((home, HOME_DEPTH));
    }
    roots.push(("/opt".into(), HOME_DEPTH));
    roots.push(("/srv".into(), HOME_DEPTH));
    roots
}

/// What a walk found.
#[derive(Debug, Clone, Default)]
pub struct Found {
    /// Dependency files and their formats, sorted, each once.
    pub files: Vec<(PathBuf, Format)>,
    /// Project-level index configuration files (`uv.toml`, `pip.conf`).
    pub configs: Vec<PathBuf>,
    /// The walk stopped at its entry budget.
    pub truncated: bool,
    /// Directories that could not be listed (first few), with the reason.
    pub errors: Vec<String>,
}

/// Walks `roots` (host paths, each with its depth) for dependency files.
pub fn find_dependency_files(
    host: &Host,
    roots: &[(PathBuf, usize)],
    opts: &ScopeOptions,
) -> Found {
    let mut found = Found::default();
    let mut budget = opts.max_entries;
    let mut seen_dirs = std::collections::HashSet::new();
    for (root, depth) in roots {
        if !host.is_dir(root) {
            continue;
        }
        walk(host, root, *depth, &mut budget, &mut found, &mut seen_dirs);
    }
    found.files.sort();
    found.files.dedup();
    found.configs.sort();
    found.configs.dedup();
    found
}

fn walk(
    host: &Host,
    dir: &Path,
    depth: usize,
    budget: &mut usize,
    found: &mut Found,
    seen: &mut std::collections::HashSet<PathBuf>,
) {
    if !seen.insert(dir.to_path_buf()) {
        return;
    }
    let entries = match host.read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            if !e.is_not_found() && found.errors.len() < 8 {
                found.errors.push(e.to_string());
            }
            return;
        }
    };
    if entries
        .iter()
        .any(|e| e.name == "pyvenv.cfg" || e.name == "conda-meta")
    {
        return;
    }
    let in_req_dir = dir.file_name().is_some_and(|n| n == "requirements");
    let mut subdirs = Vec::new();
    for e in entries {
        if *budget == 0 {
            found.truncated = true;
            return;
        }
        *budget -= 1;
        let name = e.name_lossy();
        if e.file_type.is_dir() {
            if !name.starts_with('.') && !SKIP_DIRS.contains(&name.as_str()) {
                subdirs.push(e.path);
            }
            continue;
        }
        if !(e.file_type.is_file() || e.file_type.is_symlink()) {
            continue;
        }
        if let Some(f) = Format::from_file_name(&name, in_req_dir) {
            found.files.push((e.path, f));
        } else if name == "uv.toml" || name == "pip.conf" {
            found.configs.push(e.path);
        }
    }
    if depth == 0 {
        return;
    }
    for d in subdirs {
        walk(host, &d, depth - 1, budget, found, seen);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walks_to_its_depth_and_skips_venvs() {
        let dir = tempfile::tempdir().unwrap();
        let r = dir.path();
        let w = |p: &str| {
            let f = r.join(p);
            std::fs::create_dir_all(f.parent().unwrap()).unwrap();
            std::fs::write(f, "x\n").unwrap();
        };
        w("home/a/proj/requirements.txt");
        w("home/a/proj/requirements/dev.txt");
        w("home/a/proj/.venv/pyvenv.cfg");
        w("home/a/proj/.venv/requirements.txt");
        w("home/a/proj/venv2/pyvenv.cfg");
        w("home/a/proj/venv2/requirements.txt");
        w("home/a/proj/uv.toml");
        w("home/a/x/y/z/w/requirements.txt");
        w("home/a/proj/MANIFEST.in");
        let host = Host::new(r);
        let found = find_dependency_files(
            &host,
            &[(PathBuf::from("/home/a"), HOME_DEPTH)],
            &ScopeOptions::default(),
        );
        let names: Vec<String> = found
            .files
            .iter()
            .map(|(p, _)| p.to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            names,
            vec![
                "/home/a/proj/requirements/dev.txt",
                "/home/a/proj/requirements.txt"
            ]
        );
        assert_eq!(found.configs, vec![PathBuf::from("/home/a/proj/uv.toml")]);
    }
}
