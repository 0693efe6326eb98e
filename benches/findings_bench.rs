//! Benchmark (not a CI test): the one-pass scanner against a named peer in
//! the same run. The peer is the approach DESIGN.md rules out: one regex per
//! rule (an alternation of the rule's trigger literals, case-insensitive),
//! tried on every line. The peer only *finds candidate lines*; squatch's time
//! includes the whole scan (rule logic, detectors, co-occurrence, evidence).
//!
//! Input: every `.py` file under `FINDINGS_BENCH_DIR` (default: this
//! machine's Python standard library), read into memory first.
//!
//! usage: cargo bench --bench findings [-- DIR]

use std::path::{Path, PathBuf};
use std::time::Instant;

use squatch::findings::{scan_source, Role, RuleSet};

fn collect(dir: &Path, out: &mut Vec<PathBuf>, depth: usize) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        let Ok(ft) = e.file_type() else { continue };
        if ft.is_dir() && depth < 12 {
            collect(&p, out, depth + 1);
        } else if ft.is_file() && p.extension().is_some_and(|x| x == "py") {
            out.push(p);
        }
    }
}

fn default_dir() -> PathBuf {
    for cand in [
        "/usr/lib/python3.11",
        "/usr/lib/python3.12",
        "/usr/lib/python3",
    ] {
        if Path::new(cand).is_dir() {
            return PathBuf::from(cand);
        }
    }
    PathBuf::from("/usr/lib")
}

fn main() {
    let dir = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("FINDINGS_BENCH_DIR").map(PathBuf::from))
        .unwrap_or_else(default_dir);
    let mut paths = Vec::new();
    collect(&dir, &mut paths, 0);
    let files: Vec<Vec<u8>> = paths.iter().filter_map(|p| std::fs::read(p).ok()).collect();
    let bytes: usize = files.iter().map(Vec::len).sum();
    if files.is_empty() {
        println!("no .py files under {}", dir.display());
        return;
    }
    let rules = RuleSet::builtin();

    // Peer: one case-insensitive regex per rule, every line.
    let peer: Vec<regex::Regex> = rules
        .rules
        .iter()
        .filter(|r| r.detector.is_none())
        .map(|r| {
            let alts: Vec<String> = r
                .trigger_literals(rules)
                .iter()
                .map(|l| regex::escape(l))
                .collect();
            regex::Regex::new(&format!("(?i){}", alts.join("|"))).expect("peer regex")
        })
        .collect();

    let mut best_squatch = f64::MAX;
    let mut best_peer = f64::MAX;
    let mut findings = 0usize;
    let mut candidates = 0usize;
    for _ in 0..3 {
        let t = Instant::now();
        findings = files
            .iter()
            .map(|f| scan_source(rules, f, Role::Module).findings.len())
            .sum();
        best_squatch = best_squatch.min(t.elapsed().as_secs_f64());

        let t = Instant::now();
        candidates = 0;
        for f in &files {
            let text = String::from_utf8_lossy(f);
            for line in text.lines() {
                for re in &peer {
                    if re.is_match(line) {
                        candidates += 1;
                    }
                }
            }
        }
        best_peer = best_peer.min(t.elapsed().as_secs_f64());
    }
    let mb = bytes as f64 / 1e6;
    println!(
        "{} files, {:.1} MB from {}\nsquatch one-pass scan (full rule logic): {:.3}s = {:.0} MB/s ({} findings)\npeer: regex per rule per line (candidates only): {:.3}s = {:.0} MB/s ({} line hits)\nratio: {:.1}x",
        files.len(),
        mb,
        dir.display(),
        best_squatch,
        mb / best_squatch,
        findings,
        best_peer,
        mb / best_peer,
        candidates,
        best_peer / best_squatch
    );
}
