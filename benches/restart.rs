//! Benchmark: what a new process costs with the persistent cache
//! (`<state_dir>/cache/`) against the same process without it
//! (`--no-cache`, every file scanned and hashed again), on the synthetic
//! host of `provenance.rs` (50 venvs x 200 distributions), in one run; and
//! the peak RSS of `SELECT *` over every registered table.
//!
//! Run: `cargo bench --bench restart`. Knobs (env): `BENCH_VENVS` (50),
//! `BENCH_DISTS` (200), `BENCH_DIR` (keep the synthetic host there),
//! `BENCH_REPEAT` (5), `BENCH_SQUATCH` (time another squatch binary, e.g.
//! main's, with this same harness: a before/after in one session).
//!
//! Page cache warm for every figure (the query runs once before timing).
//! Each figure is the median wall time of `BENCH_REPEAT` fresh processes:
//! - first: a fresh state directory each time (scan everything, write the
//!   cache), the cost of the first query after install;
//! - no-cache: `--no-cache` (what every restart cost before);
//! - second: the state directory the first run left (what a restart, a
//!   second `squatch query` or `hunt` costs now).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

#[path = "synthetic.rs"]
#[allow(dead_code)]
mod synthetic;
use synthetic::*;

/// The squatch binary timed: `BENCH_SQUATCH`, else the one cargo built.
fn squatch_bin() -> PathBuf {
    std::env::var_os("BENCH_SQUATCH")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_squatch")))
}

fn squatch(root: &Path, state: &Path, extra: &[&str], sql: &str) -> (Duration, Vec<u8>, i64) {
    let (wall, out, rss, _) = squatch_cpu(root, state, extra, sql);
    (wall, out, rss)
}

/// [`squatch`], also giving the child's CPU time (user + system).
fn squatch_cpu(
    root: &Path,
    state: &Path,
    extra: &[&str],
    sql: &str,
) -> (Duration, Vec<u8>, i64, Duration) {
    let mut cmd = Command::new(squatch_bin());
    cmd.arg("--root")
        .arg(root)
        .arg("--state-dir")
        .arg(state)
        .args(extra)
        .args(["query", "--csv", sql]);
    let (wall, out, _err, rss, cpu) = run_child_cpu(&mut cmd);
    (wall, out, rss, cpu)
}

fn main() {
    let env_num = |k: &str, d: usize| {
        std::env::var(k)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(d)
    };
    let venvs = env_num("BENCH_VENVS", 50);
    let dists = env_num("BENCH_DISTS", 200);
    let repeat = env_num("BENCH_REPEAT", 5).max(1);
    let _tmp;
    let root: PathBuf = match std::env::var("BENCH_DIR") {
        Ok(d) => {
            std::fs::create_dir_all(&d).unwrap();
            PathBuf::from(d)
        }
        Err(_) => {
            _tmp = tempfile::tempdir().unwrap();
            _tmp.path().to_path_buf()
        }
    };
    let (_pairs, files, total) = build(&root, venvs, dists);
    println!(
        "synthetic host: {venvs} venvs x {dists} distributions ({} files, {:.1} MB) at {}",
        files.len(),
        total as f64 / 1e6,
        root.display()
    );
    let states = tempfile::tempdir().unwrap();

    // Memory first, while this process is small (a child's ru_maxrss starts
    // from its parent's RSS at spawn).
    println!("squatch: {}", squatch_bin().display());
    let listing = Command::new(squatch_bin())
        .args(["tables", "--json"])
        .output()
        .unwrap();
    let tables: Vec<serde_json::Value> = serde_json::from_slice(&listing.stdout).unwrap();
    let mut all_sql = String::new();
    let mut worst = 0i64;
    for t in &tables {
        let name = t["name"].as_str().unwrap();
        // A table with a required column gets one value for it.
        let required: Vec<&str> = t["columns"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["required"].as_bool() == Some(true))
            .map(|c| c["name"].as_str().unwrap())
            .collect();
        let filter = required
            .iter()
            .map(|c| format!("{c} = 'torch'"))
            .collect::<Vec<_>>()
            .join(" AND ");
        let sql = if filter.is_empty() {
            format!("SELECT * FROM {name};")
        } else {
            format!("SELECT * FROM {name} WHERE {filter};")
        };
        let (_, out, rss) = squatch(&root, states.path(), &["--no-cache"], &sql);
        worst = worst.max(rss);
        println!(
            "memory: {sql:<70} peak RSS {:6.1} MB, {} output lines",
            rss as f64 / 1024.0,
            out.split(|b| *b == b'\n').count().saturating_sub(2)
        );
        all_sql.push_str(&sql);
    }
    let (_, _, rss) = squatch(&root, states.path(), &["--no-cache"], &all_sql);
    println!(
        "memory: every table's SELECT * in one process: peak RSS {:.1} MB (largest single table {:.1} MB)",
        rss as f64 / 1024.0,
        worst as f64 / 1024.0
    );
    let persisted = states.path().join("rss");
    squatch(&root, &persisted, &[], &all_sql);
    let (_, _, rss) = squatch(&root, &persisted, &[], &all_sql);
    println!(
        "memory: the same with the persistent cache loaded: peak RSS {:.1} MB",
        rss as f64 / 1024.0
    );

    for (label, sql) in [
        (
            "findings",
            "SELECT count(*) FROM python_install_findings",
        ),
        (
            "provenance+RECORD",
            "SELECT name, record_status, files_modified, files_missing, files_unrecorded FROM python_package_provenance",
        ),
    ] {
        // Warm the page cache and check the answers agree.
        let (_, reference, _) = squatch(&root, states.path(), &["--no-cache"], sql);
        let mut first = Vec::new();
        let mut second = Vec::new();
        let mut none = Vec::new();
        let (mut first_cpu, mut second_cpu, mut none_cpu) = (Vec::new(), Vec::new(), Vec::new());
        let mut cache_bytes = 0;
        let mut per_file = String::new();
        let mut ratios = Vec::new();
        for i in 0..repeat {
            let state = states.path().join(format!("{label}-{i}"));
            let (t, out, _, c) = squatch_cpu(&root, &state, &[], sql);
            assert_eq!(out, reference, "{label}: first run differs");
            first.push(t);
            first_cpu.push(c);
            let (t, out, _, c) = squatch_cpu(&root, &state, &[], sql);
            assert_eq!(out, reference, "{label}: second run differs");
            second.push(t);
            ratios.push(100.0 * c.as_secs_f64() / first_cpu[i].as_secs_f64());
            second_cpu.push(c);
            let (t, _, _, c) = squatch_cpu(&root, &state, &["--no-cache"], sql);
            none.push(t);
            none_cpu.push(c);
            let mut files: Vec<(String, u64)> = std::fs::read_dir(state.join("cache"))
                .unwrap()
                .map(|e| {
                    let e = e.unwrap();
                    let name = e.file_name().to_string_lossy().into_owned();
                    // `<root hash>.<kind>.json`: the kind, `scans` for none.
                    let kind = match name.split('.').collect::<Vec<_>>().as_slice() {
                        [_, k, "json"] => k.to_string(),
                        _ => "scans".to_string(),
                    };
                    (kind, e.metadata().unwrap().len())
                })
                .collect();
            files.sort();
            cache_bytes = files.iter().map(|(_, n)| n).sum::<u64>();
            per_file = files
                .iter()
                .map(|(k, n)| format!("{k} {:.1} MB", *n as f64 / 1e6))
                .collect::<Vec<_>>()
                .join(", ");
        }
        let (fc, sc, nc) = (median(first_cpu), median(second_cpu), median(none_cpu));
        println!(
            "restart {label:<18}: CPU (user+sys) first {:8.1} ms   --no-cache {:8.1} ms   second (cache) {:8.1} ms = {:.1}% of first",
            ms(fc),
            ms(nc),
            ms(sc),
            100.0 * sc.as_secs_f64() / fc.as_secs_f64()
        );
        let lo = ratios.iter().cloned().fold(f64::INFINITY, f64::min);
        let hi = ratios.iter().cloned().fold(0.0, f64::max);
        println!(
            "restart {label:<18}: CPU second/first of each pair {lo:.1}% .. {hi:.1}% ({repeat} pairs); cache files: {per_file}"
        );
        let (f, s, n) = (median(first), median(second), median(none));
        println!(
            "restart {label:<18}: first {:8.1} ms   --no-cache {:8.1} ms   second (cache) {:8.1} ms = {:.1}% of first, {:.1}% of --no-cache; cache file {:.1} MB",
            ms(f),
            ms(n),
            ms(s),
            100.0 * s.as_secs_f64() / f.as_secs_f64(),
            100.0 * s.as_secs_f64() / n.as_secs_f64(),
            cache_bytes as f64 / 1e6
        );
    }
}
