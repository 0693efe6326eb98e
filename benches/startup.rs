//! Process start-up: `squatch query` on one name, start to exit, the way a
//! scheduled query, a CI step or a responder runs it: a fresh process each
//! time. Beside it in the same run, the floor of any SQL command-line tool:
//! the `sqlite3` shell answering `SELECT 1` on an in-memory database.
//!
//! `cargo bench --bench startup`
//!
//! Each command runs `STARTUP_RUNS` times (default 20, hyperfine-style, one
//! warm-up run first); the figures are the median and the best wall time and
//! the median CPU time (user + system, from `RUSAGE_CHILDREN`), which is
//! the steadier one on a shared machine. The load average is printed with
//! them.
//!
//! Queries:
//! - `SELECT * FROM python_typosquat_scores WHERE name='x'` with `--root`
//!   an empty directory: start-up, the SQL engine and one score.
//! - the same with the default root (`/`): `SELECT *` reads `installed`,
//!   `environments` and `verdict`, so this one also looks for the name in
//!   every Python environment of this machine.
//! - `SELECT score, target FROM python_typosquat_scores WHERE name='x'` on
//!   `/`: only the score columns, no host scan.
//!
//! Both use a temporary `--state-dir`, so no cache of another run is read.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn cpu_children() -> Duration {
    // SAFETY: getrusage writes into the zeroed struct we pass.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut u) };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(u.ru_utime) + tv(u.ru_stime)
}

fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

/// Median and best wall time, median CPU time of `runs` runs of `cmd` (after
/// one warm-up run), and whether every run exited 0.
fn time(runs: usize, mut cmd: impl FnMut() -> Command) -> (Duration, Duration, Duration, bool) {
    let mut ok = cmd()
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    let mut wall = Vec::with_capacity(runs);
    let mut cpu = Vec::with_capacity(runs);
    for _ in 0..runs {
        let c = cpu_children();
        let t = Instant::now();
        let status = cmd().stdout(Stdio::null()).stderr(Stdio::null()).status();
        wall.push(t.elapsed());
        cpu.push(cpu_children().saturating_sub(c));
        ok &= status.is_ok_and(|s| s.success());
    }
    wall.sort();
    cpu.sort();
    (wall[runs / 2], wall[0], cpu[runs / 2], ok)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn report(label: &str, (median, best, cpu, ok): (Duration, Duration, Duration, bool)) {
    println!(
        "  {label:<58} median {:>7.1} ms  best {:>7.1} ms  CPU median {:>7.1} ms{}",
        ms(median),
        ms(best),
        ms(cpu),
        if ok { "" } else { "  (a run failed)" }
    );
}

fn main() {
    let runs: usize = std::env::var("STARTUP_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20)
        .max(1);
    let tmp = tempfile::tempdir().expect("temp dir");
    let empty = tmp.path().join("empty-root");
    let state = tmp.path().join("state");
    std::fs::create_dir_all(&empty).expect("empty root");
    let exe = env!("CARGO_BIN_EXE_squatch");
    let squatch = |root: &Path, sql: &str| {
        let (root, state, sql) = (root.to_path_buf(), state.clone(), sql.to_string());
        move || {
            let mut c = Command::new(exe);
            c.arg("--root")
                .arg(&root)
                .arg("--state-dir")
                .arg(&state)
                .args(["query", &sql]);
            c
        }
    };
    println!(
        "startup bench: {runs} runs each (median), load average before: {}",
        load()
    );
    let star = "SELECT * FROM python_typosquat_scores WHERE name='x'";
    report(
        "squatch query SELECT * ... WHERE name='x' (empty --root)",
        time(runs, squatch(&empty, star)),
    );
    report(
        "squatch query SELECT * ... WHERE name='x' (--root /)",
        time(runs, squatch(Path::new("/"), star)),
    );
    report(
        "squatch query SELECT score, target ... (--root /)",
        time(
            runs,
            squatch(
                Path::new("/"),
                "SELECT score, target FROM python_typosquat_scores WHERE name='x'",
            ),
        ),
    );
    let peer = time(runs, || {
        let mut c = Command::new("sqlite3");
        c.args([":memory:", "SELECT 1"]);
        c
    });
    if peer.3 {
        report("peer: sqlite3 :memory: 'SELECT 1'", peer);
    } else {
        println!("  peer: sqlite3 unavailable");
    }
    println!("  load average after: {}", load());
}
