//! `squatch drill watch`: runs the packs' detection queries (the SQL
//! `squatch hunt` runs, from the embedded `packs/queries.toml`) round after
//! round until every expected detection of the planted canary fires, and
//! records when each did.
//!
//! Each round runs the queries host-wide first, as osquery schedules them.
//! What host-wide discovery misses is then asked directly, with the pack
//! query wrapped as `SELECT * FROM (<query>) WHERE environment = '<env>'`
//! (SQLite pushes the constraint down into the table, which then scans only
//! that environment), so the drill still measures the rest; the report
//! counts a detection that fired only that way as a gap. The sdist's
//! `setup.py` is read with `WHERE path = '<sdist>'` (a loose sdist is not in
//! any environment: it is what a pre-install scan sees), and the requirements
//! gate is `squatch check` on the planted requirements file.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::manifest::Manifest;
use super::{now_ms, real_path, DrillError};
use crate::host::Host;
use crate::packs::Pack;
use crate::python::normalize_name;
use crate::sql::{Engine, QueryResult};
use crate::table::Table;

/// How long and how often to watch.
#[derive(Debug, Clone)]
pub struct WatchOptions {
    /// Give up after this long.
    pub timeout: Duration,
    /// Pause between rounds.
    pub poll: Duration,
}

/// One expected detection and what happened to it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Detection {
    /// Stable id: typosquat_name, pth_finding, setup_py_finding,
    /// provenance_canary, requirements_gate.
    pub id: String,
    /// What should fire, in words.
    pub what: String,
    /// The pack queries (or `squatch check`) that can fire it.
    pub queries: Vec<String>,
    /// True once it fired.
    pub fired: bool,
    /// Seconds from planting to the round that saw it.
    pub seconds: Option<f64>,
    /// `host-wide`, `direct` (only with a constraint), `path` (a pre-install
    /// scan of the sdist) or `ci-gate`.
    pub scope: String,
    /// The query that fired it.
    pub query: String,
    /// The row's evidence (`detail`) or the gate's message.
    pub evidence: String,
}

/// What a watch saw.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WatchResult {
    /// When it started, Unix milliseconds.
    pub started_ms: u64,
    /// When it stopped.
    pub finished_ms: u64,
    /// Rounds of queries run.
    pub rounds: u32,
    /// True when host-wide discovery (`python_environments`) found the
    /// planted environment.
    pub environment_discovered: bool,
    /// Every expected detection.
    pub detections: Vec<Detection>,
    /// Queries that failed (distinct messages).
    pub errors: Vec<String>,
}

#[derive(Clone, Copy, PartialEq)]
enum Direct {
    Environment,
    SdistPath,
    Gate,
}

struct Expect {
    id: &'static str,
    what: String,
    queries: &'static [&'static str],
    direct: Direct,
}

fn expectations(m: &Manifest) -> Vec<Expect> {
    vec![
        Expect {
            id: "typosquat_name",
            what: format!("typosquat flag on the look-alike name {}", m.name),
            queries: &["typosquat_installed"],
            direct: Direct::Environment,
        },
        Expect {
            id: "pth_finding",
            what: format!(
                "finding on the .pth that runs at interpreter start ({})",
                m.pth
            ),
            queries: &["pth_executable", "install_findings_high"],
            direct: Direct::Environment,
        },
        Expect {
            id: "setup_py_finding",
            what: format!(
                "finding on the install hook in the sdist's setup.py ({})",
                m.sdist
            ),
            queries: &["install_findings_high"],
            direct: Direct::SdistPath,
        },
        Expect {
            id: "provenance_canary",
            what: format!(
                "the packs' canary query on the canary's provenance (marker {})",
                m.marker
            ),
            queries: &["drill_canary_planted"],
            direct: Direct::Environment,
        },
        Expect {
            id: "requirements_gate",
            what: format!(
                "squatch check (CI gate) on the requirements file naming {} ({})",
                m.name, m.requirements
            ),
            queries: &["squatch check"],
            direct: Direct::Gate,
        },
    ]
}

fn col<'a>(r: &'a QueryResult, row: &'a [Option<String>], name: &str) -> &'a str {
    r.columns
        .iter()
        .position(|c| c == name)
        .and_then(|i| row.get(i))
        .and_then(|v| v.as_deref())
        .unwrap_or("")
}

/// The first row of `r` that is evidence of `e`, as its `detail`.
fn matching(e: &Expect, m: &Manifest, r: &QueryResult) -> Option<String> {
    let canary = normalize_name(&m.name);
    r.rows.iter().find_map(|row| {
        let path = col(r, row, "path");
        let hit = match e.id {
            "typosquat_name" => normalize_name(col(r, row, "package")) == canary,
            "pth_finding" => path == m.pth,
            "setup_py_finding" => path == m.sdist || path.starts_with(&format!("{}/", m.sdist)),
            "provenance_canary" => {
                normalize_name(col(r, row, "package")) == canary
                    || col(r, row, "detail").contains(&m.marker)
            }
            _ => false,
        };
        hit.then(|| col(r, row, "detail").to_string())
    })
}

fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// Watches until every expected detection fired or the timeout passed;
/// `progress` gets one line per detection as it fires.
pub fn watch(
    host: &Host,
    tables: &[std::sync::Arc<dyn Table>],
    m: &Manifest,
    opts: &WatchOptions,
    progress: &mut dyn FnMut(String),
) -> Result<WatchResult, DrillError> {
    let pack = Pack::embedded().map_err(|e| DrillError::Usage(e.to_string()))?;
    let engine = Engine::new(tables)?;
    crate::hunt::supply_users(&engine, host).map_err(|e| DrillError::Usage(e.to_string()))?;
    let expects = expectations(m);
    let mut result = WatchResult {
        started_ms: now_ms(),
        finished_ms: 0,
        rounds: 0,
        environment_discovered: false,
        detections: expects
            .iter()
            .map(|e| Detection {
                id: e.id.to_string(),
                what: e.what.clone(),
                queries: e.queries.iter().map(|q| q.to_string()).collect(),
                fired: false,
                seconds: None,
                scope: String::new(),
                query: String::new(),
                evidence: String::new(),
            })
            .collect(),
        errors: Vec::new(),
    };
    let start = Instant::now();
    let error = |errors: &mut Vec<String>, msg: String| {
        if !errors.contains(&msg) {
            errors.push(msg);
        }
    };
    loop {
        result.rounds += 1;
        // Host-wide, as scheduled.
        let mut wanted: Vec<&str> = Vec::new();
        for (e, d) in expects.iter().zip(&result.detections) {
            if !d.fired && e.direct != Direct::Gate {
                for q in e.queries {
                    if !wanted.contains(q) {
                        wanted.push(q);
                    }
                }
            }
        }
        let mut host_wide: Vec<(&str, QueryResult)> = Vec::new();
        for name in wanted {
            let Some(q) = pack.queries.iter().find(|q| q.name == name) else {
                error(
                    &mut result.errors,
                    format!("query {name} is not in the packs"),
                );
                continue;
            };
            match engine.query(q.sql()) {
                Ok(mut r) if !r.is_empty() => host_wide.push((name, r.remove(0))),
                Ok(_) => {}
                Err(e) => error(&mut result.errors, format!("query {name}: {e}")),
            }
        }
        let seconds = |now: u64| now.saturating_sub(m.planted_at_ms) as f64 / 1000.0;
        for (e, d) in expects.iter().zip(result.detections.iter_mut()) {
            if d.fired {
                continue;
            }
            for (name, r) in &host_wide {
                if e.queries.contains(name) {
                    if let Some(detail) = matching(e, m, r) {
                        d.fired = true;
                        d.seconds = Some(seconds(now_ms()));
                        d.scope = "host-wide".into();
                        d.query = name.to_string();
                        d.evidence = detail;
                        progress(format!("{} fired host-wide ({name})", d.id));
                        break;
                    }
                }
            }
        }
        if !result.environment_discovered {
            match engine.query("SELECT path FROM python_environments") {
                Ok(rs) => {
                    result.environment_discovered = rs.iter().flat_map(|r| &r.rows).any(|row| {
                        row.first().cloned().flatten().as_deref() == Some(&m.environment)
                    });
                }
                Err(e) => error(&mut result.errors, format!("python_environments: {e}")),
            }
        }
        // Directly, for what host-wide discovery missed.
        let mut errs = std::mem::take(&mut result.errors);
        for (e, d) in expects.iter().zip(result.detections.iter_mut()) {
            if d.fired {
                continue;
            }
            if e.direct == Direct::Gate {
                if let Some(msg) = gate(host, m) {
                    d.fired = true;
                    d.seconds = Some(seconds(now_ms()));
                    d.scope = "ci-gate".into();
                    d.query = "squatch check".into();
                    d.evidence = msg;
                    progress(format!("{} fired (squatch check)", d.id));
                }
                continue;
            }
            let (column, value, scope) = match e.direct {
                Direct::SdistPath => ("path", &m.sdist, "path"),
                _ => ("environment", &m.environment, "direct"),
            };
            for name in e.queries {
                let Some(q) = pack.queries.iter().find(|q| q.name == *name) else {
                    continue;
                };
                let sql = format!(
                    "SELECT * FROM (\n{}\n) WHERE {column} = {}",
                    q.sql(),
                    quote(value)
                );
                match engine.query(&sql) {
                    Ok(rs) => {
                        if let Some(detail) = rs.first().and_then(|r| matching(e, m, r)) {
                            d.fired = true;
                            d.seconds = Some(seconds(now_ms()));
                            d.scope = scope.into();
                            d.query = name.to_string();
                            d.evidence = detail;
                            progress(format!("{} fired with WHERE {column} = ... ({name})", d.id));
                            break;
                        }
                    }
                    Err(err) => error(&mut errs, format!("query {name} ({column}): {err}")),
                }
            }
        }
        result.errors = errs;
        let all = result.detections.iter().all(|d| d.fired);
        if all || start.elapsed() + opts.poll > opts.timeout {
            break;
        }
        std::thread::sleep(opts.poll);
    }
    result.finished_ms = now_ms();
    Ok(result)
}

/// `squatch check` on the planted requirements file: the message of a
/// finding that names the canary.
fn gate(host: &Host, m: &Manifest) -> Option<String> {
    let real = real_path(host, std::path::Path::new(&m.requirements));
    // `check` reads real paths: never follow a link planted in our place.
    if !std::fs::symlink_metadata(&real).ok()?.file_type().is_file() {
        return None;
    }
    let opts = crate::check::CheckOptions {
        paths: vec![real],
        policy: None,
        format: crate::check::OutputFormat::Text,
        baseline: None,
    };
    let report = crate::check::check(&opts).ok()?;
    let canary = normalize_name(&m.name);
    report
        .findings
        .iter()
        .find(|f| normalize_name(&f.name) == canary)
        .map(|f| format!("{}: {}", f.rule, f.message))
}
