//! Measurement harness for `python_install_findings` (not a CI test).
//!
//! Reads archive paths (one per line) from stdin and, for each, runs the
//! table exactly as `SELECT * FROM python_install_findings WHERE path = ?`
//! would (host root `/`), timing it. Prints one JSON line per archive:
//! `{"path", "ms", "max_severity", "flagged", "rules"}` where `flagged` means
//! a high or critical row and `rules` lists the ids of high/critical rows.
//!
//! usage: find DIR -type f | cargo run --release --example findings_scan
//!
//! With `--host` it instead runs the default query (every environment of
//! this machine) twice, cold then warm, and prints one JSON line per
//! (environment, package) with its highest severity, then the timings.

use std::io::BufRead;
use std::sync::Arc;
use std::time::Instant;

use squatch::host::Host;
use squatch::table::{Operator, QueryContext, Table};
use squatch::tables::python_install_findings::PythonInstallFindings;

fn rank(s: &str) -> u8 {
    match s {
        "critical" => 4,
        "high" => 3,
        "medium" => 2,
        "low" => 1,
        _ => 0,
    }
}

fn host_mode(table: &PythonInstallFindings) {
    let start = Instant::now();
    let rows = table.generate(&QueryContext::all()).unwrap_or_default();
    let cold = start.elapsed().as_secs_f64();
    let loops: u32 = std::env::var("FINDINGS_WARM_LOOPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1)
        .max(1);
    let start = Instant::now();
    let mut again = Vec::new();
    for _ in 0..loops {
        again = table.generate(&QueryContext::all()).unwrap_or_default();
    }
    let warm = start.elapsed().as_secs_f64() / f64::from(loops);
    let mut per: std::collections::BTreeMap<(String, String), (u8, Vec<String>)> =
        Default::default();
    for r in &rows {
        let key = (
            r.get("environment").unwrap_or("").to_string(),
            r.get("package").unwrap_or("(none)").to_string(),
        );
        let sev = rank(r.get("severity").unwrap_or(""));
        let e = per.entry(key).or_default();
        e.0 = e.0.max(sev);
        if sev >= 3 {
            e.1.push(format!(
                "{} {}:{} {}",
                r.get("rule_id").unwrap_or(""),
                r.get("path").unwrap_or(""),
                r.get("line").unwrap_or(""),
                r.get("evidence").unwrap_or("")
            ));
        }
    }
    for ((env, pkg), (sev, why)) in &per {
        println!(
            "{}",
            serde_json::json!({"environment": env, "package": pkg, "max": sev, "flagged": *sev >= 3, "why": why})
        );
    }
    let host = Host::new("/");
    let t = Instant::now();
    let envs = squatch::python::discover_environments(&host);
    let discover_s = t.elapsed().as_secs_f64();
    let mut sites = std::collections::BTreeSet::new();
    let mut dists = 0usize;
    for e in &envs {
        for s in &e.site_packages {
            if sites.insert(s.clone()) {
                dists += squatch::python::distributions(&host, s).len();
            }
        }
    }
    println!(
        "{}",
        serde_json::json!({"discover_environments_s": discover_s, "environments": envs.len(), "site_dirs": sites.len(), "distributions": dists, "rows": rows.len(), "same_rows_warm": rows == again, "cold_s": cold, "warm_s": warm, "cached_files": table.scanner().cached_files()})
    );
}

fn main() {
    let table = PythonInstallFindings::new(Arc::new(Host::new("/")));
    if std::env::args().any(|a| a == "--host") {
        return host_mode(&table);
    }
    let verbose = std::env::var_os("FINDINGS_VERBOSE").is_some();
    let stdin = std::io::stdin();
    for line in stdin.lock().lines() {
        let Ok(path) = line else { break };
        let path = path.trim().to_string();
        if path.is_empty() {
            continue;
        }
        let abs = std::fs::canonicalize(&path)
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or(path.clone());
        let start = Instant::now();
        let rows = table
            .generate(&QueryContext::all().with("path", Operator::Equals, abs.clone()))
            .unwrap_or_default();
        let ms = start.elapsed().as_secs_f64() * 1000.0;
        let max = rows
            .iter()
            .filter_map(|r| r.get("severity"))
            .max_by_key(|s| rank(s))
            .unwrap_or("none")
            .to_string();
        let mut rules: Vec<String> = rows
            .iter()
            .filter(|r| rank(r.get("severity").unwrap_or("")) >= 3)
            .map(|r| r.get("rule_id").unwrap_or("").to_string())
            .collect();
        rules.sort();
        rules.dedup();
        let mut obj = serde_json::json!({
            "path": path,
            "ms": ms,
            "max_severity": max,
            "flagged": rank(&max) >= 3,
            "rules": rules,
        });
        if verbose {
            obj["rows"] = serde_json::json!(rows
                .iter()
                .filter(|r| rank(r.get("severity").unwrap_or("")) >= 2)
                .map(|r| format!(
                    "{} {} {} {}:{} {}",
                    r.get("severity").unwrap_or(""),
                    r.get("rule_id").unwrap_or(""),
                    r.get("role").unwrap_or(""),
                    r.get("member").unwrap_or(""),
                    r.get("line").unwrap_or(""),
                    r.get("evidence").unwrap_or("")
                ))
                .collect::<Vec<_>>());
        }
        println!("{obj}");
    }
}
