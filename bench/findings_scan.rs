//! Measurement harness for `python_install_findings` (not a CI test).
//!
//! Reads archive paths (one per line) from stdin and, for each, runs the
//! table exactly as `SELECT * FROM python_install_findings WHERE path = ?`
//! would (host root `/`), timing it. Prints one JSON line per archive:
//! `{"path", "ms", "max_severity", "flagged", "rules"}` where `flagged` means
//! a high or critical row and `rules` lists the ids of high/critical rows.
//!
//! usage: find DIR -type f | cargo run --release --example findings_scan

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

fn main() {
    let table = PythonInstallFindings::new(Arc::new(Host::new("/")));
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
