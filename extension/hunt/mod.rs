//! `squatch hunt`: every finding query of the packs that runs without
//! osquery, through the embedded SQL engine, as one report a responder reads
//! top to bottom (grouped by stage, most severe first), plus what the report
//! does not cover.
//!
//! The queries come from the pack source embedded in the binary
//! ([`crate::packs::Pack::embedded`]), so an installed `squatch` needs no
//! checkout. Exit status: 0 when nothing reaches `--min-severity`, 1 when
//! something does, 2 on an error (the report is still printed).

mod escape;
mod report;

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::sync::Arc;

use serde::Serialize;

use crate::findings::Severity;
use crate::host::Host;
use crate::packs::{Kind, Pack, PackQuery, STAGES};
use crate::sql::{Engine, QueryResult, SqlError};
use crate::table::{ColumnOptions, Stage, Table};

pub use escape::{escape_markdown_code, escape_text};

/// The report as text for a terminal (what `squatch hunt` prints).
pub fn render_text(report: &Report) -> String {
    report::text(report)
}

/// The report as Markdown (`squatch hunt --markdown`).
pub fn render_markdown(report: &Report) -> String {
    report::markdown(report)
}

/// An error that stops the hunt.
#[derive(Debug, thiserror::Error)]
pub enum HuntError {
    /// The embedded pack source is broken (a build from a bad checkout).
    #[error("{0}")]
    Pack(String),
    /// The SQL engine could not start or a supplied table could not be made.
    #[error("SQL engine: {0}")]
    Sql(#[from] SqlError),
    /// Writing the report failed.
    #[error("writing the report: {0}")]
    Output(#[from] std::io::Error),
}

/// Severity threshold, as the command line spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Level {
    /// Everything, context included.
    Info,
    /// Worth a look.
    Low,
    /// Suspicious on its own.
    Medium,
    /// Malicious-looking.
    High,
    /// Treat as compromise.
    Critical,
}

impl Level {
    fn severity(self) -> Severity {
        match self {
            Level::Info => Severity::Info,
            Level::Low => Severity::Low,
            Level::Medium => Severity::Medium,
            Level::High => Severity::High,
            Level::Critical => Severity::Critical,
        }
    }
}

/// `squatch hunt`'s options.
#[derive(Debug, Clone, clap::Args)]
pub struct HuntArgs {
    /// Print the report as one JSON document.
    #[arg(long, group = "hunt_fmt")]
    pub json: bool,
    /// Print the report as Markdown, to paste into an incident ticket.
    #[arg(long, group = "hunt_fmt")]
    pub markdown: bool,
    /// Report (and exit 1 on) findings at this severity or above.
    #[arg(long, value_enum, default_value_t = Level::Medium)]
    pub min_severity: Level,
}

/// One place a finding was seen.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Place {
    /// Host path of the file or directory.
    pub path: String,
    /// Environment it belongs to.
    pub environment: String,
    /// Package that owns or ships it (empty: unknown).
    pub package: String,
    /// Owner (user name, else uid), when the query says.
    pub owner: String,
}

/// One finding: rows of one query about the same file content (sha256), or
/// else the same package, or else the same path.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    /// Query name in the packs.
    pub query: String,
    /// The query's title.
    pub title: String,
    /// Stage the query serves.
    #[serde(serialize_with = "ser_stage")]
    pub stage: Stage,
    /// The most severe row's severity.
    #[serde(serialize_with = "ser_severity")]
    pub severity: Severity,
    /// Why it matters.
    pub why: String,
    /// What to do.
    pub what_to_do: String,
    /// Content digest shared by every place, when the query gives one.
    pub sha256: Option<String>,
    /// Distinct package names (empty when unknown).
    pub packages: Vec<String>,
    /// Every place, distinct, sorted.
    pub places: Vec<Place>,
    /// Distinct evidence lines, in the order seen.
    pub details: Vec<String>,
}

/// Something the report does not cover.
#[derive(Debug, Clone, Serialize)]
pub struct Gap {
    /// The table or query that says so.
    pub source: String,
    /// In words.
    pub what: String,
    /// Rows that said it.
    pub count: usize,
}

/// The whole report.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The examined root.
    pub root: String,
    /// The threshold.
    #[serde(serialize_with = "ser_severity")]
    pub min_severity: Severity,
    /// Names of the queries run.
    pub queries_run: Vec<String>,
    /// Findings at or above the threshold, by stage then severity.
    pub findings: Vec<Finding>,
    /// What the report does not cover.
    pub not_covered: Vec<Gap>,
    /// Queries that failed (the exit status is then 2).
    pub errors: Vec<String>,
}

fn ser_stage<S: serde::Serializer>(s: &Stage, ser: S) -> Result<S::Ok, S::Error> {
    ser.serialize_str(s.name())
}

fn ser_severity<S: serde::Serializer>(s: &Severity, ser: S) -> Result<S::Ok, S::Error> {
    ser.serialize_str(s.as_str())
}

/// Runs the hunt and prints the report; returns the exit status.
pub fn main(host: &Host, tables: &[Arc<dyn Table>], args: &HuntArgs) -> ExitCode {
    let progress = std::io::stderr().is_terminal();
    let result = Pack::embedded()
        .map_err(|e| HuntError::Pack(e.to_string()))
        .and_then(|pack| hunt(host, tables, pack, args.min_severity.severity(), progress));
    let report = match result {
        Ok(r) => r,
        Err(e) => {
            eprintln!("squatch: error: {e}");
            return ExitCode::from(2);
        }
    };
    let text = if args.json {
        report::json(&report)
    } else if args.markdown {
        report::markdown(&report)
    } else {
        report::text(&report)
    };
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_all(text.as_bytes()).and_then(|_| out.flush()) {
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            eprintln!("squatch: error: writing the report: {e}");
            return ExitCode::from(2);
        }
    }
    for e in &report.errors {
        eprintln!("squatch: error: {}", escape_text(e));
    }
    if !report.errors.is_empty() {
        ExitCode::from(2)
    } else if report.findings.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// Runs every finding and coverage query of `pack` that needs no osquery
/// table, and the status scan of every table, and builds the report.
pub fn hunt(
    host: &Host,
    tables: &[Arc<dyn Table>],
    pack: &Pack,
    min_severity: Severity,
    progress: bool,
) -> Result<Report, HuntError> {
    let engine = Engine::new(tables)?;
    supply_users(&engine, host)?;
    let runnable: Vec<&PackQuery> = pack
        .queries
        .iter()
        .filter(|q| q.kind != Kind::Inventory && q.runs_without_osquery())
        .collect();
    let status_tables: Vec<&Arc<dyn Table>> = tables
        .iter()
        .filter(|t| {
            t.columns().iter().any(|c| c.name == "status")
                && !t
                    .columns()
                    .iter()
                    .any(|c| c.options.contains(ColumnOptions::REQUIRED))
        })
        .collect();
    let steps = runnable.len() + status_tables.len();
    let mut report = Report {
        root: host.root().to_string_lossy().into_owned(),
        min_severity,
        queries_run: Vec::new(),
        findings: Vec::new(),
        not_covered: Vec::new(),
        errors: Vec::new(),
    };
    let mut step = 0;
    let mut tick = |what: &str| {
        step += 1;
        if progress {
            eprint!("\rsquatch hunt: {step}/{steps} {what}\x1b[K");
            let _ = std::io::stderr().flush();
        }
    };
    for q in &runnable {
        tick(&q.name);
        let result = match engine.query(q.sql()) {
            Ok(mut r) if !r.is_empty() => r.remove(0),
            Ok(_) => QueryResult::default(),
            Err(e) => {
                report.errors.push(format!("query {}: {e}", q.name));
                continue;
            }
        };
        report.queries_run.push(q.name.clone());
        match q.kind {
            Kind::Finding => report.findings.extend(group(q, &result, min_severity)),
            Kind::Coverage => report.not_covered.extend(coverage(q, &result)),
            Kind::Inventory => {}
        }
    }
    for t in status_tables {
        tick(t.name());
        let sql = format!(
            "SELECT status, COUNT(*) FROM {} WHERE status IS NOT NULL AND status NOT IN ('', 'ok') GROUP BY status ORDER BY status",
            t.name()
        );
        match engine.query(&sql) {
            Ok(results) => {
                for row in results.into_iter().flat_map(|r| r.rows) {
                    let what = row.first().cloned().flatten().unwrap_or_default();
                    let count = row
                        .get(1)
                        .cloned()
                        .flatten()
                        .and_then(|n| n.parse().ok())
                        .unwrap_or(1);
                    report.not_covered.push(Gap {
                        source: t.name().to_string(),
                        what,
                        count,
                    });
                }
            }
            Err(e) => report.errors.push(format!("status of {}: {e}", t.name())),
        }
    }
    if progress {
        eprint!("\r\x1b[K");
        let _ = std::io::stderr().flush();
    }
    let stage_index = |s: Stage| STAGES.iter().position(|x| *x == s).unwrap_or(0);
    report.findings.sort_by(|a, b| {
        stage_index(a.stage)
            .cmp(&stage_index(b.stage))
            .then(b.severity.cmp(&a.severity))
            .then(a.title.cmp(&b.title))
            .then(a.packages.cmp(&b.packages))
            .then(a.places.cmp(&b.places))
    });
    Ok(report)
}

/// The `users` table osquery would have, from the examined root's
/// `/etc/passwd` (so a query that names an owner runs without osquery, and
/// on a disk image names the image's users).
pub fn supply_users(engine: &Engine, host: &Host) -> Result<(), HuntError> {
    let conn = engine.connection();
    conn.execute_batch(
        "CREATE TEMP TABLE users (uid BIGINT, gid BIGINT, uid_signed BIGINT, gid_signed BIGINT, \
         username TEXT, description TEXT, directory TEXT, shell TEXT, uuid TEXT)",
    )
    .map_err(SqlError::from)?;
    let mut stmt = conn
        .prepare("INSERT INTO users (uid, gid, uid_signed, gid_signed, username, directory) VALUES (?1, ?2, ?1, ?2, ?3, ?4)")
        .map_err(SqlError::from)?;
    for u in host.users() {
        stmt.execute(rusqlite::params![
            u.uid,
            u.gid,
            u.name,
            u.home.to_string_lossy()
        ])
        .map_err(SqlError::from)?;
    }
    Ok(())
}

fn column<'a>(result: &QueryResult, row: &'a [Option<String>], name: &str) -> &'a str {
    result
        .columns
        .iter()
        .position(|c| c == name)
        .and_then(|i| row.get(i))
        .and_then(|v| v.as_deref())
        .unwrap_or("")
}

/// Groups a finding query's rows: same sha256, else same package, else same
/// path. Rows below `min_severity` are dropped.
fn group(q: &PackQuery, result: &QueryResult, min_severity: Severity) -> Vec<Finding> {
    let mut by_key: BTreeMap<String, Finding> = BTreeMap::new();
    let mut order: Vec<String> = Vec::new();
    for row in &result.rows {
        let get = |name: &str| column(result, row, name).to_string();
        let severity = Severity::parse(&get("severity")).unwrap_or(q.severity());
        if severity < min_severity {
            continue;
        }
        let sha = get("sha256");
        let package = get("package");
        let path = get("path");
        let key = if !sha.is_empty() {
            format!("sha256:{sha}")
        } else if !package.is_empty() {
            format!("package:{package}")
        } else {
            format!("path:{path}")
        };
        let owner = match (get("owner"), get("owner_uid")) {
            (name, _) if !name.is_empty() => name,
            (_, uid) if !uid.is_empty() => format!("uid {uid}"),
            _ => String::new(),
        };
        let f = by_key.entry(key.clone()).or_insert_with(|| {
            order.push(key.clone());
            Finding {
                query: q.name.clone(),
                title: q.title.clone(),
                stage: q.stage(),
                severity,
                why: q.description.clone(),
                what_to_do: q.resolution.clone(),
                sha256: (!sha.is_empty()).then(|| sha.clone()),
                packages: Vec::new(),
                places: Vec::new(),
                details: Vec::new(),
            }
        });
        f.severity = f.severity.max(severity);
        if !package.is_empty() && !f.packages.contains(&package) {
            f.packages.push(package.clone());
        }
        let place = Place {
            path,
            environment: get("environment"),
            package,
            owner,
        };
        if !f.places.contains(&place) {
            f.places.push(place);
        }
        let detail = get("detail");
        if !detail.is_empty() && !f.details.contains(&detail) {
            f.details.push(detail);
        }
    }
    order
        .into_iter()
        .filter_map(|k| by_key.remove(&k))
        .map(|mut f| {
            f.places.sort();
            f.packages.sort();
            f
        })
        .collect()
}

/// A coverage query's rows, one gap per distinct detail and place.
fn coverage(q: &PackQuery, result: &QueryResult) -> Vec<Gap> {
    let mut gaps: BTreeMap<String, usize> = BTreeMap::new();
    for row in &result.rows {
        let get = |name: &str| column(result, row, name).to_string();
        let mut parts: Vec<String> = Vec::new();
        for (label, value) in [("", get("package")), ("in ", get("environment"))] {
            if !value.is_empty() {
                parts.push(format!("{label}{value}"));
            }
        }
        if parts.is_empty() {
            parts.push(get("path"));
        }
        let what = format!("{}: {}", parts.join(" "), get("detail"));
        *gaps.entry(what).or_default() += 1;
    }
    gaps.into_iter()
        .map(|(what, count)| Gap {
            source: q.title.clone(),
            what,
            count,
        })
        .collect()
}
