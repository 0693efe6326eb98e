//! `python_environments`: one row per Python environment found on the host.

use std::sync::Arc;

use crate::host::{path_from_column, path_to_column, Host};
use crate::python::{
    discover_environments_report, distributions_core, environment_at, CoverageGap,
    DiscoveryOptions, DistributionCache, Environment,
};
use crate::table::{Column, QueryContext, Row, Stage, Table, TableError};

const COLUMNS: &[Column] = &[
    Column::text("path", "Environment: venv root, conda/pyenv prefix, or the site directory of a system or user site").index(),
    Column::text("kind", "system, venv, conda, user, pipx, uv_tool, pyenv, poetry, pipenv or virtualenvwrapper"),
    Column::text("python_version", "Python version (X.Y or X.Y.Z) from pyvenv.cfg, conda-meta or the pythonX.Y directory"),
    Column::text("site_packages", "Primary site directory"),
    Column::text("all_site_packages", "Every site directory of the environment, ':'-separated"),
    Column::integer("owner_uid", "Owner of the environment's directory"),
    Column::integer("package_count", "Installed distributions (dist-info, egg-info, egg, egg-link) in its site directories"),
    Column::integer("include_system_site_packages", "1 when pyvenv.cfg makes the system's site directories importable too"),
    Column::text("status", "ok, or in words what squatch could not look at (unreadable home, lib or site directory, FIFO pyvenv.cfg, walk limit); a place it could not look into at all is a row of kind 'unknown'"),
];

/// The `python_environments` table.
pub struct PythonEnvironments {
    host: Arc<Host>,
    dists: Arc<DistributionCache>,
}

impl PythonEnvironments {
    /// The table for a host, with its own distribution cache.
    pub fn new(host: Arc<Host>) -> Self {
        Self::with_cache(host, Arc::default())
    }

    /// The table for a host, sharing a distribution cache with other tables.
    pub fn with_cache(host: Arc<Host>, dists: Arc<DistributionCache>) -> Self {
        PythonEnvironments { host, dists }
    }
}

/// The environments a query asks for: those named by `WHERE path = ...`, or all.
pub(crate) fn wanted_environments(
    host: &Host,
    constraint: Option<Vec<String>>,
) -> Vec<Environment> {
    wanted_environments_and_gaps(host, constraint).0
}

/// [`wanted_environments`], with the places that could not be looked into
/// (for a `WHERE path = ...` path: itself, when it cannot be listed).
pub(crate) fn wanted_environments_and_gaps(
    host: &Host,
    constraint: Option<Vec<String>>,
) -> (Vec<Environment>, Vec<CoverageGap>) {
    match constraint {
        Some(paths) => {
            let mut envs = Vec::new();
            let mut gaps = Vec::new();
            for p in &paths {
                let path = path_from_column(p);
                match environment_at(host, &path) {
                    Some(env) => envs.push(env),
                    None => {
                        if let Err(e) = host.can_list(&path) {
                            if !e.is_not_found() {
                                log::warn!("{e}: not examined");
                                gaps.push(CoverageGap {
                                    path: Host::normalize(&path),
                                    reason: format!("unreadable: {e}"),
                                });
                            }
                        }
                    }
                }
            }
            (envs, gaps)
        }
        None => {
            let d = discover_environments_report(host, &DiscoveryOptions::default());
            (d.environments, d.gaps)
        }
    }
}

impl Table for PythonEnvironments {
    fn name(&self) -> &'static str {
        "python_environments"
    }

    fn description(&self) -> &'static str {
        "Python environments on the host: system and user site directories, venvs, conda, pyenv, pipx, uv tools, poetry, pipenv, virtualenvwrapper."
    }

    fn stage(&self) -> Stage {
        Stage::Reconnaissance
    }

    fn columns(&self) -> &'static [Column] {
        COLUMNS
    }

    fn generate(&self, ctx: &QueryContext) -> Result<Vec<Row>, TableError> {
        let constraint = ctx.equals("path");
        let (envs, gaps) = wanted_environments_and_gaps(&self.host, constraint.clone());
        let count = ctx.is_used("package_count");
        let status = ctx.is_used("status");
        let mut rows: Vec<Row> = envs
            .into_iter()
            .map(|env| {
                let mut row = Row::new();
                row.set("path", path_to_column(&env.path))
                    .set("kind", env.kind.as_str())
                    .opt("python_version", env.python_version.clone())
                    .opt(
                        "site_packages",
                        env.site_packages.first().map(|p| path_to_column(p)),
                    )
                    .set("all_site_packages", super::join_paths(&env.site_packages))
                    .opt("owner_uid", env.owner_uid.map(|u| u.to_string()))
                    .bool(
                        "include_system_site_packages",
                        env.include_system_site_packages,
                    );
                let mut problems: Vec<String> = env.status.iter().cloned().collect();
                if count || status {
                    // An unreadable site directory is not an empty one.
                    for s in &env.site_packages {
                        if let Err(e) = self.host.can_list(s) {
                            log::warn!("{e}: packages not listed");
                            problems.push(format!("unreadable site directory: {e}"));
                        }
                    }
                }
                if count {
                    let n: usize = env
                        .site_packages
                        .iter()
                        .map(|s| distributions_core(&self.host, s, &self.dists).len())
                        .sum();
                    row.int("package_count", n as i64);
                }
                row.set(
                    "status",
                    if problems.is_empty() {
                        "ok".to_string()
                    } else {
                        problems.join("; ")
                    },
                );
                row
            })
            .collect();
        for g in gaps {
            let mut row = Row::new();
            row.set("path", path_to_column(&g.path))
                .set("kind", "unknown")
                .set("status", g.reason);
            rows.push(row);
        }
        // `WHERE path = X` must see X verbatim in the rows it keeps.
        if let Some(list) = constraint {
            for row in &mut rows {
                if let Some(p) = row.get("path").map(str::to_string) {
                    if let Some(given) = list
                        .iter()
                        .find(|g| path_to_column(&Host::normalize(&path_from_column(g))) == p)
                    {
                        row.set("path", given.clone());
                    }
                }
            }
        }
        Ok(rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_has_the_contract_columns() {
        let names: Vec<&str> = COLUMNS.iter().map(|c| c.name).collect();
        for c in [
            "path",
            "kind",
            "python_version",
            "site_packages",
            "owner_uid",
            "package_count",
        ] {
            assert!(names.contains(&c), "{c}");
        }
    }

    #[test]
    fn path_constraint_scans_only_that_environment() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for v in ["a", "b"] {
            let site = root.join(format!("opt/{v}/lib/python3.12/site-packages"));
            std::fs::create_dir_all(site.join("x-1.0.dist-info")).unwrap();
            std::fs::write(
                site.join("x-1.0.dist-info/METADATA"),
                "Name: x\nVersion: 1.0\n",
            )
            .unwrap();
            std::fs::write(
                root.join(format!("opt/{v}/pyvenv.cfg")),
                "version = 3.12.1\n",
            )
            .unwrap();
        }
        let t = PythonEnvironments::new(Arc::new(Host::new(root)));
        let all = t.generate(&QueryContext::all()).unwrap();
        assert_eq!(all.len(), 2);
        let one = t
            .generate(&QueryContext::all().with("path", crate::table::Operator::Equals, "/opt/b"))
            .unwrap();
        assert_eq!(one.len(), 1);
        assert_eq!(one[0].get("path"), Some("/opt/b"));
        assert_eq!(one[0].get("kind"), Some("venv"));
        assert_eq!(one[0].get("python_version"), Some("3.12.1"));
        assert_eq!(one[0].get("package_count"), Some("1"));
        assert_eq!(
            one[0].get("site_packages"),
            Some("/opt/b/lib/python3.12/site-packages")
        );
        let unused = t.generate(&QueryContext::all().using(&["path"])).unwrap();
        assert_eq!(unused[0].get("package_count"), None);
    }
}
