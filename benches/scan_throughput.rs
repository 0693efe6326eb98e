//! Benchmark: the installed-code scan of `python_install_findings` against
//! ripgrep (`rg -c -F -i -f LITERALS`, LITERALS = the rules' own literal
//! set) over the same file list, page cache warm, in one run.
//!
//! Targets: the synthetic host of `provenance.rs` (50 venvs x 200
//! distributions; `BENCH_DIR` keeps it) and a real environment of this
//! machine (`BENCH_REAL_ENV`, default `/root/.pyenv/versions/3.11.7`;
//! skipped when absent). The file list is exactly the files squatch
//! scanned (`Scanner::scanned_paths`).
//!
//! Figures (median of `BENCH_REPEAT`, default 3):
//! - squatch table: a fresh `Scanner` running the whole installed-code scan
//!   (environment sites, RECORD indexes, every file read, scanned and
//!   SHA-256 hashed), one thread (`Scanner::with_threads(1)`), against
//!   rg -j1;
//! - squatch table, its default threads (`Scanner::threads`: the CPUs, at
//!   most `MAX_SCAN_THREADS`; the site directories shared among them),
//!   against rg's default threads;
//! - squatch files: only the per-file part (read, scan, SHA-256) over the
//!   list, one thread;
//! - rg -j1 and rg (its default threads) over the same list;
//! - the literal pass alone over the same files in memory: the
//!   aho-corasick crate's overlapping iterator against
//!   `findings::literals::overlapping` on the same DFA (best of the runs).
//!
//! Run: `cargo bench --bench scan_throughput` (needs `rg` on PATH).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use squatch::findings::scan::{scan_source, MAX_SCAN_BYTES};
use squatch::findings::site::scan_environments;
use squatch::findings::target::Scanner;
use squatch::findings::{Role, RuleSet};
use squatch::host::Host;
use squatch::python::{discover_environments, environment_at};

#[path = "synthetic.rs"]
#[allow(dead_code)]
mod synthetic;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// CPU time (user + system) used so far by this process (`RUSAGE_SELF`) or
/// by its reaped children (`RUSAGE_CHILDREN`).
fn cpu(who: libc::c_int) -> Duration {
    // SAFETY: an all-zero rusage is a valid value for getrusage to fill.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `ru` points to a live, writable rusage.
    unsafe { libc::getrusage(who, &mut ru) };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

fn rg(literals: &Path, list: &Path, threads: Option<usize>) -> (Duration, usize) {
    let mut cmd = Command::new("sh");
    let j = threads.map(|j| format!("-j{j}")).unwrap_or_default();
    cmd.arg("-c").arg(format!(
        "xargs -0 -s 1000000 rg {j} -c -F -i --no-messages -f '{}' < '{}'",
        literals.display(),
        list.display()
    ));
    let t = Instant::now();
    let out = cmd.stderr(Stdio::null()).output().expect("run rg");
    let d = t.elapsed();
    (
        d,
        out.stdout
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .count(),
    )
}

fn bench(
    label: &str,
    host: &Host,
    envs: &[squatch::python::Environment],
    literals: &Path,
    repeat: usize,
) {
    // Warm up: page cache, and the file list squatch scans.
    let warm = Scanner::new(RuleSet::builtin()).recording_paths();
    let findings = scan_environments(host, &warm, envs).findings.len();
    let files: Vec<PathBuf> = warm
        .scanned_paths()
        .into_iter()
        .map(|p| host.root().join(p.strip_prefix("/").unwrap_or(&p)))
        .collect();
    let bytes: u64 = files
        .iter()
        .filter_map(|f| std::fs::metadata(f).ok())
        .map(|m| m.len())
        .sum();
    let dir = tempfile::tempdir().unwrap();
    let list = dir.path().join("files");
    let mut f = std::fs::File::create(&list).unwrap();
    for p in &files {
        f.write_all(p.as_os_str().as_encoded_bytes()).unwrap();
        f.write_all(b"\0").unwrap();
    }
    drop(f);
    let rules = RuleSet::builtin();
    let mut table = Vec::new();
    let mut table_n = Vec::new();
    let mut table_n_cpu = Vec::new();
    let threads = Scanner::new(rules).threads;
    let mut per_file = Vec::new();
    let mut rg1 = Vec::new();
    let mut rgn = Vec::new();
    let mut rg_files = 0;
    let (mut table_cpu, mut per_file_cpu, mut rg1_cpu) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..repeat {
        let c = cpu(libc::RUSAGE_SELF);
        let t = Instant::now();
        let s = Scanner::new(rules).with_threads(1);
        std::hint::black_box(scan_environments(host, &s, envs));
        table.push(t.elapsed());
        table_cpu.push(cpu(libc::RUSAGE_SELF) - c);

        let c = cpu(libc::RUSAGE_SELF);
        let t = Instant::now();
        let s = Scanner::new(rules);
        std::hint::black_box(scan_environments(host, &s, envs));
        table_n.push(t.elapsed());
        table_n_cpu.push(cpu(libc::RUSAGE_SELF) - c);

        let c = cpu(libc::RUSAGE_SELF);
        let t = Instant::now();
        for p in &files {
            if let Ok(b) = std::fs::read(p) {
                let scan = scan_source(rules, &b, Role::Module);
                std::hint::black_box((scan, squatch::findings::sha256_hex(&b)));
            }
        }
        per_file.push(t.elapsed());
        per_file_cpu.push(cpu(libc::RUSAGE_SELF) - c);

        let c = cpu(libc::RUSAGE_CHILDREN);
        let (d, n) = rg(literals, &list, Some(1));
        rg1_cpu.push(cpu(libc::RUSAGE_CHILDREN) - c);
        rg1.push(d);
        rg_files = n;
        rgn.push(rg(literals, &list, None).0);
    }
    let mb = bytes as f64 / 1e6;
    let (t, p, r1, rn) = (median(table), median(per_file), median(rg1), median(rgn));
    println!(
        "{label}: {} files, {mb:.1} MB, {findings} findings; rg matched in {rg_files} files",
        files.len()
    );
    println!(
        "  squatch table scan (1 thread) {:8.1} ms {:7.1} MB/s | squatch read+scan+sha256 per file (1 thread) {:8.1} ms {:7.1} MB/s",
        ms(t),
        mb / t.as_secs_f64(),
        ms(p),
        mb / p.as_secs_f64()
    );
    println!(
        "  rg -j1 -c -F -i -f LITERALS {:8.1} ms {:7.1} MB/s | rg (default threads) {:8.1} ms | table/rg-j1 = {:.2}x, files/rg-j1 = {:.2}x",
        ms(r1),
        mb / r1.as_secs_f64(),
        ms(rn),
        t.as_secs_f64() / r1.as_secs_f64(),
        p.as_secs_f64() / r1.as_secs_f64()
    );
    let (tn, tnc) = (median(table_n), median(table_n_cpu));
    println!(
        "  squatch table scan ({threads} threads) {:8.1} ms (CPU {:8.1} ms) | rg (default threads) {:8.1} ms | table/rg = {:.2}x",
        ms(tn),
        ms(tnc),
        ms(rn),
        tn.as_secs_f64() / rn.as_secs_f64()
    );
    // The literal pass alone, over the same files in memory: the crate's
    // overlapping iterator against squatch's four-stretch walk of the same
    // DFA (`findings::literals`), best of `repeat`, the match counts beside.
    let texts: Vec<Vec<u8>> = files.iter().filter_map(|p| std::fs::read(p).ok()).collect();
    let crate_ac = aho_corasick::AhoCorasickBuilder::new()
        .ascii_case_insensitive(true)
        .match_kind(aho_corasick::MatchKind::Standard)
        .kind(Some(aho_corasick::AhoCorasickKind::DFA))
        .build(rules.automaton_patterns())
        .unwrap();
    let (mut crate_best, mut walk_best) = (Duration::MAX, Duration::MAX);
    let (mut crate_n, mut walk_n) = (0, 0);
    let mut found = Vec::new();
    for _ in 0..repeat {
        let t = Instant::now();
        crate_n = texts
            .iter()
            .map(|b| {
                crate_ac
                    .find_overlapping_iter(&b[..b.len().min(MAX_SCAN_BYTES)])
                    .count()
            })
            .sum();
        crate_best = crate_best.min(t.elapsed());
        let t = Instant::now();
        walk_n = 0;
        for b in &texts {
            found.clear();
            squatch::findings::literals::overlapping(
                rules.automaton(),
                &b[..b.len().min(MAX_SCAN_BYTES)],
                &mut found,
            );
            walk_n += found.len();
        }
        walk_best = walk_best.min(t.elapsed());
    }
    println!(
        "  literal pass alone: crate overlapping iterator {:8.1} ms ({crate_n} matches) | four-stretch walk {:8.1} ms ({walk_n} matches) | {:.2}x faster",
        ms(crate_best),
        ms(walk_best),
        crate_best.as_secs_f64() / walk_best.as_secs_f64()
    );
    let (tc, pc, rc) = (median(table_cpu), median(per_file_cpu), median(rg1_cpu));
    println!(
        "  CPU (user+sys): squatch table {:8.1} ms | squatch per file {:8.1} ms | rg -j1 {:8.1} ms | table/rg-j1 = {:.2}x",
        ms(tc),
        ms(pc),
        ms(rc),
        tc.as_secs_f64() / rc.as_secs_f64()
    );
}

fn main() {
    let env_num = |k: &str, d: usize| {
        std::env::var(k)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(d)
    };
    let repeat = env_num("BENCH_REPEAT", 3).max(1);
    let dir = tempfile::tempdir().unwrap();
    let literals = dir.path().join("LITERALS");
    std::fs::write(
        &literals,
        RuleSet::builtin().literal_patterns().join("\n") + "\n",
    )
    .unwrap();
    // BENCH_LITERALS_OUT: also keep the literal set there (to run rg by
    // hand against a `squatch query` of the same host).
    if let Ok(keep) = std::env::var("BENCH_LITERALS_OUT") {
        std::fs::copy(&literals, keep).unwrap();
    }
    println!(
        "{} literals written to {}",
        RuleSet::builtin().literal_patterns().len(),
        literals.display()
    );

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
    let venvs = env_num("BENCH_VENVS", 50);
    let dists = env_num("BENCH_DISTS", 200);
    synthetic::build(&root, venvs, dists);
    let host = Host::new(&root);
    let envs = discover_environments(&host);
    bench(
        &format!("synthetic host ({venvs} venvs x {dists} distributions)"),
        &host,
        &envs,
        &literals,
        repeat,
    );

    let real = std::env::var("BENCH_REAL_ENV")
        .unwrap_or_else(|_| "/root/.pyenv/versions/3.11.7".to_string());
    let host = Host::new("/");
    match environment_at(&host, Path::new(&real)) {
        Some(env) => bench(
            &format!("real environment {real}"),
            &host,
            &[env],
            &literals,
            repeat,
        ),
        None => println!("real environment {real}: not found, skipped"),
    }
}
