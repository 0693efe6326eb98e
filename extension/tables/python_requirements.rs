//! `python_requirements`: one row per dependency declared in a requirements
//! file, `pyproject.toml`, `setup.cfg` or lock file.
//!
//! Scope (osquery re-applies constraints to returned rows, so each mode's
//! rows satisfy its own constraint):
//! - `WHERE path = FILE`: exactly that file (its `-r`/`-c` includes are
//!   checked for cycles and missing files, but their rows belong to their own
//!   paths and are not returned). A directory given as `path` returns one
//!   row whose `status` says to use `directory`.
//! - `WHERE directory = DIR`: every dependency file under DIR (depth
//!   [`DIRECTORY_DEPTH`]) and the files they include; every row carries
//!   `directory = DIR`.
//! - no constraint: the default scope of [`crate::requirements::scope`]
//!   (project directories of the venvs found, CI checkouts, homes, `/opt`,
//!   `/srv`, each to a small depth).
//!
//! The typosquat columns cost a lookup per distinct name and the
//! `installed_version` column a listing of the venv beside the file; both
//! are computed only when the query reads them.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::host::Host;
use crate::python::{discover_environments, distributions_core, environment_at, DistributionCache};
use crate::requirements::{
    default_scope, find_dependency_files, scan_file, scan_files, Dependency, Format, Scan,
    ScopeOptions,
};
use crate::table::{Column, QueryContext, Row, Stage, Table, TableError};
use crate::typosquat::{Assessment, Index};

/// Levels below a `WHERE directory = ...` root that are searched.
pub const DIRECTORY_DEPTH: usize = 8;

const COLUMNS: &[Column] = &[
    Column::text("path", "File that declares the dependency; WHERE path = FILE reads exactly that file").index(),
    Column::integer("line", "1-based line of the declaration (first line of a continued line); 0 when unknown"),
    Column::text("format", "requirements.txt, requirements.in, pyproject.toml, setup.cfg, pylock.toml, uv.lock, poetry.lock, Pipfile.lock or pdm.lock"),
    Column::text("name", "Project name as written"),
    Column::text("normalized_name", "PEP 503 normalised name"),
    Column::text("specifier", "Version specifier as written (==1.2.3, >=2,<3, a Poetry ^1.2), empty for none"),
    Column::text("markers", "PEP 508 environment markers"),
    Column::text("extras", "Extras requested, comma separated"),
    Column::text("group", "Optional-dependency extra, dependency group, Poetry group or lock section; empty for main"),
    Column::integer("pinned", "1 when exactly one version: ==X (no wildcard), ===X, a lock entry, an archive URL or a VCS commit id"),
    Column::integer("hashed", "1 when at least one hash is given (--hash, the lock's hashes, #sha256=)"),
    Column::text("source", "index, url, vcs, path or editable"),
    Column::text("url", "Direct URL or path of a non-index dependency (credentials stripped)"),
    Column::text("index_url", "Index it is fetched from when the file says (credentials stripped; source:NAME for a named source)"),
    Column::integer("is_direct", "1 when declared by the project, 0 when only locked"),
    Column::text("version", "Locked version of a lock entry"),
    Column::double("typosquat_score", "0..1 typosquat score of the name (python_typosquat_scores)"),
    Column::text("typosquat_target", "Popular package the name imitates"),
    Column::integer("known_malicious", "1 when the name is in the OpenSSF malicious-packages data set"),
    Column::text("installed_version", "Version installed in a venv beside the file (.venv, venv, env in its directory or the one above)"),
    Column::text("error", "Why this line or file could not be read"),
    Column::text("status", "ok, or why squatch could not look at the file"),
    Column::text("directory", "Constraint: read every dependency file under this directory").additional().hidden(),
];

/// The `python_requirements` table.
pub struct PythonRequirements {
    host: Arc<Host>,
    dists: Arc<DistributionCache>,
}

impl PythonRequirements {
    /// The table for `host`.
    pub fn new(host: Arc<Host>) -> Self {
        Self::with_cache(host, Arc::default())
    }

    /// The table for a host, sharing a distribution cache with other tables.
    pub fn with_cache(host: Arc<Host>, dists: Arc<DistributionCache>) -> Self {
        PythonRequirements { host, dists }
    }
}

/// Rows for a scan: typosquat and installed-version columns when used.
pub(crate) struct RowMaker<'a> {
    host: &'a Host,
    dists: &'a DistributionCache,
    typosquat: bool,
    installed: bool,
    scores: HashMap<String, Assessment>,
    envs: HashMap<PathBuf, Option<HashMap<String, String>>>,
    /// The columns the query reads (`None`: all).
    used: Option<Vec<&'static str>>,
}

impl<'a> RowMaker<'a> {
    fn new(host: &'a Host, dists: &'a DistributionCache, ctx: &QueryContext) -> Self {
        RowMaker {
            host,
            dists,
            typosquat: ctx.any_used(&["typosquat_score", "typosquat_target", "known_malicious"]),
            installed: ctx.is_used("installed_version"),
            scores: HashMap::new(),
            envs: HashMap::new(),
            used: if COLUMNS.iter().all(|c| ctx.is_used(c.name)) {
                None
            } else {
                Some(
                    COLUMNS
                        .iter()
                        .map(|c| c.name)
                        .filter(|c| ctx.is_used(c))
                        .collect(),
                )
            },
        }
    }

    /// Installed versions (normalised name -> version) of the venv beside
    /// `dir`, cached per directory.
    fn beside(&mut self, dir: &Path) -> Option<&HashMap<String, String>> {
        if !self.envs.contains_key(dir) {
            let mut found = None;
            'outer: for base in [Some(dir), dir.parent()].into_iter().flatten() {
                for name in [".venv", "venv", "env"] {
                    if let Some(env) = environment_at(self.host, &base.join(name)) {
                        let mut map = HashMap::new();
                        for site in &env.site_packages {
                            for d in distributions_core(self.host, site, self.dists) {
                                map.entry(d.normalized_name.clone())
                                    .or_insert_with(|| d.version.clone());
                            }
                        }
                        found = Some(map);
                        break 'outer;
                    }
                }
            }
            self.envs.insert(dir.to_path_buf(), found);
        }
        self.envs.get(dir).and_then(Option::as_ref)
    }

    /// True when the query reads `column`.
    fn wants(&self, column: &str) -> bool {
        match &self.used {
            None => true,
            Some(u) => u.contains(&column),
        }
    }

    /// The row of one dependency; its strings are moved, not copied, and
    /// columns the query does not read are left out.
    fn row(&mut self, d: Dependency) -> Row {
        let mut row = Row::new();
        let status = if d.file_failed {
            format!("unreadable: {}", d.error.as_deref().unwrap_or(""))
        } else {
            "ok".to_string()
        };
        let typosquat = self.typosquat && !d.normalized_name.is_empty();
        let installed = self.installed && !d.normalized_name.is_empty();
        let score_name = if typosquat {
            d.name.clone()
        } else {
            String::new()
        };
        let dir = if installed {
            d.path.parent().unwrap_or(Path::new("/")).to_path_buf()
        } else {
            PathBuf::new()
        };
        let texts: [(&'static str, String); 13] = [
            ("path", d.path.to_string_lossy().into_owned()),
            ("format", d.format.as_str().to_string()),
            ("name", d.name),
            ("normalized_name", d.normalized_name.clone()),
            ("specifier", d.specifier),
            ("markers", d.markers),
            ("extras", d.extras),
            ("group", d.group),
            ("source", d.source.as_str().to_string()),
            ("url", d.url),
            ("index_url", d.index_url),
            ("version", d.version),
            ("status", status),
        ];
        for (column, value) in texts {
            if self.wants(column) {
                row.set(column, value);
            }
        }
        if self.wants("line") {
            row.int("line", d.line as i64);
        }
        for (column, value) in [
            ("pinned", d.pinned),
            ("hashed", d.hashed),
            ("is_direct", d.is_direct),
        ] {
            if self.wants(column) {
                row.bool(column, value);
            }
        }
        if self.wants("error") {
            row.opt("error", d.error);
        }
        if typosquat {
            let a = self
                .scores
                .entry(d.normalized_name.clone())
                .or_insert_with(|| Index::embedded().assess(&score_name));
            row.double("typosquat_score", a.score)
                .opt("typosquat_target", a.target.clone())
                .bool("known_malicious", a.known_malicious.is_some());
        }
        if installed {
            if let Some(v) = self.beside(&dir).and_then(|m| m.get(&d.normalized_name)) {
                row.set("installed_version", v.clone());
            }
        }
        row
    }
}

fn status_row(path: &str, status: String) -> Row {
    let mut row = Row::new();
    row.set("path", path).set("status", status);
    row
}

/// Every dependency file of the default scope (shared with
/// python_package_indexes).
pub(crate) fn default_files(host: &Host) -> crate::requirements::scope::Found {
    default_files_with(host, &discover_environments(host))
}

/// [`default_files`] for environments already discovered.
pub(crate) fn default_files_with(
    host: &Host,
    envs: &[crate::python::Environment],
) -> crate::requirements::scope::Found {
    let roots = default_scope(host, envs);
    find_dependency_files(host, &roots, &ScopeOptions::default())
}

/// The files under one directory.
pub(crate) fn directory_files(host: &Host, dir: &Path) -> crate::requirements::scope::Found {
    find_dependency_files(
        host,
        &[(Host::normalize(dir), DIRECTORY_DEPTH)],
        &ScopeOptions::default(),
    )
}

impl Table for PythonRequirements {
    fn name(&self) -> &'static str {
        "python_requirements"
    }

    fn description(&self) -> &'static str {
        "Dependencies declared in requirements files, pyproject.toml, setup.cfg and lock files (pylock.toml, uv.lock, poetry.lock, Pipfile.lock, pdm.lock): pins, hashes, sources, typosquat scores"
    }

    fn stage(&self) -> Stage {
        Stage::Evaluation
    }

    fn columns(&self) -> &'static [Column] {
        COLUMNS
    }

    fn generate(&self, ctx: &QueryContext) -> Result<Vec<Row>, TableError> {
        let host = &*self.host;
        let mut maker = RowMaker::new(host, &self.dists, ctx);
        let mut rows = Vec::new();
        if let Some(paths) = ctx.equals("path") {
            for p in paths {
                let path = Host::normalize(Path::new(&p));
                if host.is_dir(&path) {
                    rows.push(status_row(
                        &p,
                        format!("is a directory: use WHERE directory = '{p}'"),
                    ));
                    continue;
                }
                let scan = scan_file(host, &path, Format::for_explicit_file(&path));
                for d in scan.dependencies.into_iter().filter(|d| d.path == path) {
                    let mut row = maker.row(d);
                    row.set("path", p.clone());
                    rows.push(row);
                }
            }
            return Ok(rows);
        }
        let scopes: Vec<(Option<String>, crate::requirements::scope::Found)> =
            match ctx.equals("directory") {
                Some(dirs) => dirs
                    .into_iter()
                    .map(|d| {
                        let found = directory_files(host, Path::new(&d));
                        (Some(d), found)
                    })
                    .collect(),
                None => vec![(None, default_files(host))],
            };
        for (dir, found) in scopes {
            if let Some(d) = &dir {
                if !host.is_dir(Path::new(d)) {
                    let mut row = status_row(d, format!("not a directory: {d}"));
                    row.set("directory", d.clone());
                    rows.push(row);
                    continue;
                }
            }
            let scan: Scan = scan_files(host, &found.files);
            let mut push = |mut row: Row| {
                if let Some(d) = &dir {
                    row.set("directory", d.clone());
                }
                rows.push(row);
            };
            for d in scan.dependencies {
                push(maker.row(d));
            }
            for e in &found.errors {
                push(status_row("", format!("unreadable: {e}")));
            }
            if found.truncated {
                push(status_row(
                    "",
                    "incomplete: the search for dependency files stopped at its entry budget"
                        .to_string(),
                ));
            }
        }
        Ok(rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::Operator;

    fn fixture() -> (tempfile::TempDir, PythonRequirements) {
        let dir = tempfile::tempdir().unwrap();
        let r = dir.path();
        let w = |p: &str, t: &str| {
            let f = r.join(p);
            std::fs::create_dir_all(f.parent().unwrap()).unwrap();
            std::fs::write(f, t).unwrap();
        };
        w(
            "srv/app/requirements.txt",
            "torch==2.3.1 --hash=sha256:aa\ntorch-utilites\n-r base.txt\n",
        );
        w("srv/app/base.txt", "numpy==1.26.4\n");
        w("srv/app/pyproject.toml", "[project\n");
        w(
            "srv/app/.venv/pyvenv.cfg",
            "home = /usr/bin\nversion = 3.12.1\n",
        );
        w(
            "srv/app/.venv/lib/python3.12/site-packages/torch_utilites-0.1.0.dist-info/METADATA",
            "Name: torch-utilites\nVersion: 0.1.0\n",
        );
        let t = PythonRequirements::new(Arc::new(Host::new(r)));
        (dir, t)
    }

    #[test]
    fn path_constraint_reads_exactly_that_file() {
        let (_d, t) = fixture();
        let ctx = QueryContext::all().with("path", Operator::Equals, "/srv/app/requirements.txt");
        let rows = t.generate(&ctx).unwrap();
        assert_eq!(rows.len(), 2, "{rows:?}");
        assert!(rows
            .iter()
            .all(|r| r.get("path") == Some("/srv/app/requirements.txt")));
        let typo = &rows[1];
        assert_eq!(typo.get("name"), Some("torch-utilites"));
        assert_eq!(typo.get("pinned"), Some("0"));
        assert_eq!(typo.get("typosquat_target"), Some("torch"));
        let score: f64 = typo.get("typosquat_score").unwrap().parse().unwrap();
        assert!(score >= crate::typosquat::DEFAULT_THRESHOLD, "{score}");
        assert_eq!(typo.get("installed_version"), Some("0.1.0"));
        assert_eq!(rows[0].get("hashed"), Some("1"));
    }

    #[test]
    fn directory_constraint_follows_includes_and_reports_malformed_files() {
        let (_d, t) = fixture();
        let ctx = QueryContext::all().with("directory", Operator::Equals, "/srv/app");
        let rows = t.generate(&ctx).unwrap();
        assert!(rows.iter().all(|r| r.get("directory") == Some("/srv/app")));
        assert!(rows
            .iter()
            .any(|r| r.get("path") == Some("/srv/app/base.txt") && r.get("name") == Some("numpy")));
        let bad = rows
            .iter()
            .find(|r| r.get("path") == Some("/srv/app/pyproject.toml"))
            .unwrap();
        assert!(bad.get("error").unwrap().contains("line 1"), "{bad:?}");
        assert!(bad.get("status").unwrap().starts_with("unreadable"));
        let dir_as_path = t
            .generate(&QueryContext::all().with("path", Operator::Equals, "/srv/app"))
            .unwrap();
        assert_eq!(dir_as_path.len(), 1);
        assert_eq!(dir_as_path[0].get("path"), Some("/srv/app"));
    }

    #[test]
    fn default_scope_finds_the_venvs_project() {
        let (_d, t) = fixture();
        let rows = t
            .generate(&QueryContext::all().using(&["path", "name"]))
            .unwrap();
        assert!(rows.iter().any(|r| r.get("name") == Some("torch-utilites")));
        assert!(rows.iter().all(|r| r.get("typosquat_score").is_none()));
    }
}
