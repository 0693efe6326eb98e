//! `python_package_indexes`: one row per setting that decides where pip, uv,
//! poetry, pdm, pipenv or conda fetch packages from, with the risk in words.
//!
//! Scope (each mode's rows satisfy its own constraint, as osquery
//! re-applies it):
//! - `WHERE path = FILE`: that file (pip.conf, uv.toml, .condarc, pdm
//!   config, pyproject.toml, a requirements file, Pipfile.lock);
//! - `WHERE pid = N`: that process's environment (only the index variables
//!   are read, see [`crate::requirements::indexes::ENV_VARS`]);
//! - `WHERE directory = DIR`: the project files under DIR;
//! - no constraint: the global and per-user configuration files, each
//!   environment's `pip.conf` / `.condarc`, the project files of
//!   `python_requirements`' default scope, and every process environment.

use std::path::Path;
use std::sync::Arc;

use super::python_requirements::{default_files_with, directory_files};
use crate::host::Host;
use crate::python::discover_environments;
use crate::requirements::indexes::{self, config_files, parse_config, scan_processes};
use crate::requirements::scope::Found;
use crate::requirements::{scan_file, scan_files, Format, IndexSetting};
use crate::table::{Column, QueryContext, Row, Stage, Table, TableError};

const COLUMNS: &[Column] = &[
    Column::text("path", "File that holds the setting (empty for a process environment)").index(),
    Column::integer("pid", "Process whose environment holds it").index(),
    Column::text("process_name", "That process's name (/proc/PID/comm)"),
    Column::integer("line", "1-based line in the file; 0 for a process"),
    Column::text("tool", "pip, uv, poetry, pdm, pipenv or conda"),
    Column::text("setting", "The setting as the tool spells it (global.extra-index-url, PIP_INDEX_URL, tool.uv.index, channels)"),
    Column::text("role", "primary, extra, supplemental, explicit, trusted_host, find_links, no_index, channel or strategy"),
    Column::text("url", "Index URL, host or channel (credentials stripped)"),
    Column::integer("has_credentials", "1 when the URL carried credentials (removed from url)"),
    Column::integer("is_public_pypi", "1 when the URL is public PyPI"),
    Column::text("risk", "Why the setting is risky, in words; empty when it is not"),
    Column::text("error", "Why the file could not be parsed"),
    Column::text("status", "ok, or why squatch could not look at the file or process"),
    Column::text("directory", "Constraint: read the project files under this directory").additional().hidden(),
];

/// The `python_package_indexes` table.
pub struct PythonPackageIndexes {
    host: Arc<Host>,
}

impl PythonPackageIndexes {
    /// The table for `host`.
    pub fn new(host: Arc<Host>) -> Self {
        PythonPackageIndexes { host }
    }
}

fn role_name(r: indexes::Role) -> &'static str {
    use indexes::Role::*;
    match r {
        Primary => "primary",
        Extra => "extra",
        Supplemental => "supplemental",
        Explicit => "explicit",
        TrustedHost => "trusted_host",
        FindLinks => "find_links",
        NoIndex => "no_index",
        Channel => "channel",
        Strategy => "strategy",
    }
}

fn setting_row(s: &IndexSetting) -> Row {
    let mut row = Row::new();
    row.set(
        "path",
        s.path
            .as_ref()
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default(),
    )
    .opt("pid", s.pid.map(|p| p.to_string()))
    .set("process_name", s.process_name.clone())
    .int("line", s.line as i64)
    .set("tool", s.tool.as_str())
    .set("setting", s.setting.clone())
    .set("role", role_name(s.role))
    .set("url", s.url.clone())
    .bool("has_credentials", s.has_credentials)
    .bool("is_public_pypi", s.is_public_pypi)
    .set("risk", s.risk.clone())
    .set("status", "ok");
    row
}

fn error_row(path: &str, error: String) -> Row {
    let mut row = Row::new();
    row.set("path", path)
        .set("status", format!("unreadable: {error}"))
        .set("error", error);
    row
}

/// Settings of one file, whatever its kind.
fn file_settings(host: &Host, path: &Path) -> Result<Vec<IndexSetting>, String> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let dep_format = Format::from_file_name(&name, false).or_else(|| {
        (name.ends_with(".txt") || name.ends_with(".in")).then(|| Format::for_explicit_file(path))
    });
    match dep_format {
        Some(f) => {
            let scan = scan_file(host, path, f);
            if let Some(d) = scan
                .dependencies
                .iter()
                .find(|d| d.file_failed && d.path == path)
            {
                return Err(d.error.clone().unwrap_or_default());
            }
            Ok(scan
                .indexes
                .into_iter()
                .filter(|s| s.path.as_deref() == Some(path))
                .collect())
        }
        None => parse_config(host, path),
    }
}

/// Settings of the project files of a walk.
fn project_settings(host: &Host, found: &Found, rows: &mut Vec<Row>) -> Vec<IndexSetting> {
    let files: Vec<_> = found
        .files
        .iter()
        .filter(|(_, f)| {
            matches!(
                f,
                Format::RequirementsTxt
                    | Format::RequirementsIn
                    | Format::Pyproject
                    | Format::PipfileLock
            )
        })
        .cloned()
        .collect();
    let scan = scan_files(host, &files);
    let mut out = scan.indexes;
    for c in &found.configs {
        match parse_config(host, c) {
            Ok(s) => out.extend(s),
            Err(e) => rows.push(error_row(&c.to_string_lossy(), e)),
        }
    }
    out
}

impl Table for PythonPackageIndexes {
    fn name(&self) -> &'static str {
        "python_package_indexes"
    }

    fn description(&self) -> &'static str {
        "Settings that decide where pip, uv, poetry, pdm, pipenv and conda fetch packages from (config files, project files, process environments), with their dependency-confusion and TLS risks"
    }

    fn stage(&self) -> Stage {
        Stage::Fortify
    }

    fn columns(&self) -> &'static [Column] {
        COLUMNS
    }

    fn generate(&self, ctx: &QueryContext) -> Result<Vec<Row>, TableError> {
        let host = &*self.host;
        let mut rows = Vec::new();
        let mut settings: Vec<IndexSetting> = Vec::new();
        let paths = ctx.equals("path");
        let pids = ctx.equals("pid");
        let dirs = ctx.equals("directory");
        if paths.is_some() || pids.is_some() {
            for p in paths.into_iter().flatten() {
                let path = Host::normalize(Path::new(&p));
                match file_settings(host, &path) {
                    Ok(mut s) => {
                        indexes::assess(&mut s);
                        for x in &s {
                            let mut row = setting_row(x);
                            row.set("path", p.clone());
                            rows.push(row);
                        }
                    }
                    Err(e) => rows.push(error_row(&p, e)),
                }
            }
            if let Some(pids) = pids {
                let list: Vec<u32> = pids.iter().filter_map(|p| p.parse().ok()).collect();
                let scan = scan_processes(host, Some(&list));
                settings.extend(scan.settings);
                if let Some(e) = scan.first_error {
                    for p in &list {
                        let mut row = error_row("", e.clone());
                        row.int("pid", *p as i64);
                        rows.push(row);
                    }
                }
            }
        } else if let Some(dirs) = dirs {
            for d in dirs {
                let found = directory_files(host, Path::new(&d));
                let mut s = project_settings(host, &found, &mut rows);
                indexes::assess(&mut s);
                for x in &s {
                    let mut row = setting_row(x);
                    row.set("directory", d.clone());
                    rows.push(row);
                }
            }
            return Ok(rows);
        } else {
            let envs = discover_environments(host);
            for f in config_files(host, &envs) {
                match parse_config(host, &f) {
                    Ok(s) => settings.extend(s),
                    Err(e) => rows.push(error_row(&f.to_string_lossy(), e)),
                }
            }
            settings.extend(project_settings(
                host,
                &default_files_with(host, &envs),
                &mut rows,
            ));
            let procs = scan_processes(host, None);
            settings.extend(procs.settings);
            if procs.unreadable > 0 {
                let mut row = Row::new();
                row.set("path", "/proc").set(
                    "status",
                    format!(
                        "unreadable: the environment of {} processes (first: {})",
                        procs.unreadable,
                        procs.first_error.unwrap_or_default()
                    ),
                );
                rows.push(row);
            }
        }
        indexes::assess(&mut settings);
        rows.extend(settings.iter().map(setting_row));
        Ok(rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::Operator;

    #[test]
    fn default_scope_reads_configs_projects_and_processes() {
        let dir = tempfile::tempdir().unwrap();
        let r = dir.path();
        let w = |p: &str, t: &[u8]| {
            let f = r.join(p);
            std::fs::create_dir_all(f.parent().unwrap()).unwrap();
            std::fs::write(f, t).unwrap();
        };
        w("etc/passwd", b"alice:x:1000:1000::/home/alice:/bin/sh\n");
        w(
            "home/alice/.config/pip/pip.conf",
            b"[global]\nextra-index-url = https://pkgs.corp.example/simple\n",
        );
        w(
            "home/alice/proj/requirements.txt",
            b"--index-url http://mirror.example/simple\nx==1\n",
        );
        w(
            "proc/77/environ",
            b"HOME=/root\0PIP_INDEX_URL=https://u:s3cr3t@pkgs.corp.example/simple\0",
        );
        w("proc/77/comm", b"python3\n");
        let t = PythonPackageIndexes::new(Arc::new(Host::new(r)));
        let rows = t.generate(&QueryContext::all()).unwrap();
        let conf = rows
            .iter()
            .find(|r| r.get("path") == Some("/home/alice/.config/pip/pip.conf"))
            .unwrap();
        assert_eq!(conf.get("risk"), Some(indexes::RISK_MIX_PUBLIC));
        let req = rows
            .iter()
            .find(|r| r.get("path") == Some("/home/alice/proj/requirements.txt"))
            .unwrap();
        assert!(req.get("risk").unwrap().contains("plain http"));
        let env = rows.iter().find(|r| r.get("pid") == Some("77")).unwrap();
        assert_eq!(env.get("url"), Some("https://pkgs.corp.example/simple"));
        assert_eq!(env.get("has_credentials"), Some("1"));
        assert_eq!(env.get("process_name"), Some("python3"));
        assert!(!format!("{rows:?}").contains("s3cr3t"));
        let by_pid = t
            .generate(&QueryContext::all().with("pid", Operator::Equals, "77"))
            .unwrap();
        assert_eq!(by_pid.len(), 1);
        let by_path = t
            .generate(&QueryContext::all().with(
                "path",
                Operator::Equals,
                "/home/alice/proj/requirements.txt",
            ))
            .unwrap();
        assert_eq!(by_path.len(), 1);
        assert_eq!(by_path[0].get("line"), Some("1"));
    }
}
