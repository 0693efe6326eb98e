//! Dependency-file reading speed, side by side with Python's own parsers in
//! the same run.
//!
//! `cargo bench --bench requirements`
//!
//! 1. A generated monorepo: 500 requirements files (36 requirement lines
//!    each, a third hashed with pip-compile's continuation lines, markers
//!    and extras on some) and 50 uv.lock files (40 packages each): 20,000
//!    dependencies. squatch: `python_requirements` with
//!    `WHERE directory = <repo>` (walk, read, PEP 508 parse, rows; no
//!    typosquat columns), best of 5. Peer: Python's `packaging` (pip's
//!    PEP 508 parser) `Requirement(...)` on the same requirement strings,
//!    and `tomllib` on the same lock files, timed inside one interpreter
//!    (start-up and imports not counted).
//! 2. `squatch check` on one 200-line requirements file, the whole process
//!    (start-up included), median of 20 runs after a warm-up (wall and CPU
//!    time, best wall too); beside it, `python -c` that imports
//!    `packaging.requirements` and parses the same 200 lines (start-up
//!    included), timed the same way. The load average is printed around
//!    them.
//!
//! The peer runs with `$SQUATCH_BENCH_PYTHON` (default `python3` on PATH;
//! point it at a venv with `pip install packaging`); when it cannot be run
//! the peer figures say so.

use std::hint::black_box;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use squatch::host::Host;
use squatch::table::{Operator, QueryContext, Table};
use squatch::tables::python_requirements::PythonRequirements;

const REQ_FILES: usize = 500;
const LINES_PER_FILE: usize = 36;
const LOCK_FILES: usize = 50;
const PACKAGES_PER_LOCK: usize = 40;

fn hash(n: usize) -> String {
    format!("sha256:{n:064x}")
}

fn requirement(i: usize) -> String {
    match i % 6 {
        0 => format!("pkg-{i}=={}.{}.{}", i % 7, i % 13, i % 5),
        1 => format!("Pkg_{i}[extra]>={}.0,<{}", i % 9, i % 9 + 1),
        2 => format!("pkg-{i}=={}.0 ; python_version >= \"3.9\"", i % 4),
        3 => format!("pkg-{i}~={}.1", i % 3 + 1),
        4 => format!("pkg-{i}"),
        _ => format!(
            "pkg-{i}==1.{} ; sys_platform == \"linux\" and platform_machine == \"x86_64\"",
            i % 10
        ),
    }
}

/// Writes the requirements file body and returns the bare requirement
/// strings (what the peer parses).
fn req_file(seed: usize, lines: usize) -> (String, Vec<String>) {
    let mut text = String::from("# generated\n--index-url https://pypi.org/simple\n");
    let mut reqs = Vec::new();
    for k in 0..lines {
        let r = requirement(seed * 1000 + k);
        if k % 3 == 0 {
            text.push_str(&format!(
                "{r} \\\n    --hash={} \\\n    --hash={}\n",
                hash(k),
                hash(k + 1)
            ));
        } else {
            text.push_str(&format!("{r}\n"));
        }
        reqs.push(r);
    }
    (text, reqs)
}

fn lock_file(seed: usize) -> String {
    let mut t = String::from("version = 1\nrequires-python = \">=3.10\"\n");
    for k in 0..PACKAGES_PER_LOCK {
        t.push_str(&format!(
            "\n[[package]]\nname = \"lock-{seed}-{k}\"\nversion = \"1.{k}.0\"\nsource = {{ registry = \"https://pypi.org/simple\" }}\ndependencies = [{{ name = \"dep-{k}\" }}]\nsdist = {{ url = \"https://files.pythonhosted.org/p/lock-{k}.tar.gz\", hash = \"{}\", size = 1234 }}\nwheels = [{{ url = \"https://files.pythonhosted.org/p/lock-{k}-py3-none-any.whl\", hash = \"{}\", size = 99 }}]\n",
            hash(k),
            hash(k + 7)
        ));
    }
    t
}

/// CPU time (user + system) of this process (`RUSAGE_SELF`) or of its
/// waited-for children (`RUSAGE_CHILDREN`). On a shared, loaded machine the
/// CPU time is the steadier figure; both are printed.
fn cpu(who: libc::c_int) -> Duration {
    // SAFETY: getrusage writes into the zeroed struct we pass.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(who, &mut u) };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(u.ru_utime) + tv(u.ru_stime)
}

/// Best wall time and best CPU time of `runs` runs.
fn best_of<T>(runs: usize, who: libc::c_int, mut f: impl FnMut() -> T) -> (Duration, Duration, T) {
    let mut best = Duration::MAX;
    let mut best_cpu = Duration::MAX;
    let mut last = None;
    for _ in 0..runs {
        let c = cpu(who);
        let t = Instant::now();
        let r = f();
        best = best.min(t.elapsed());
        best_cpu = best_cpu.min(cpu(who).saturating_sub(c));
        last = Some(r);
    }
    (best, best_cpu, last.expect("runs > 0"))
}

/// Runs of `squatch check` (and of its peer) for the median.
const CHECK_RUNS: usize = 20;

/// Median wall time, best wall time and median CPU time (of waited-for
/// children) of `runs` runs, after one warm-up run.
fn median_of<T>(runs: usize, mut f: impl FnMut() -> T) -> (Duration, Duration, Duration, T) {
    let mut last = f();
    let mut wall = Vec::with_capacity(runs);
    let mut cpus = Vec::with_capacity(runs);
    for _ in 0..runs {
        let c = cpu(libc::RUSAGE_CHILDREN);
        let t = Instant::now();
        last = f();
        wall.push(t.elapsed());
        cpus.push(cpu(libc::RUSAGE_CHILDREN).saturating_sub(c));
    }
    wall.sort();
    cpus.sort();
    (wall[runs / 2], wall[0], cpus[runs / 2], last)
}

fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn python() -> PathBuf {
    std::env::var_os("SQUATCH_BENCH_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("python3"))
}

const PEER_MONOREPO: &str = r#"
import sys, time, tomllib
from packaging.requirements import Requirement
reqs = open(sys.argv[1]).read().splitlines()
locks = [open(p, "rb").read() for p in sys.argv[2:]]
best_r = best_t = cpu_r = cpu_t = 1e9
for _ in range(5):
    t, c = time.perf_counter(), time.process_time()
    n = sum(1 for r in reqs if Requirement(r))
    best_r, cpu_r = min(best_r, time.perf_counter() - t), min(cpu_r, time.process_time() - c)
    t, c = time.perf_counter(), time.process_time()
    m = sum(len(tomllib.loads(b.decode())["package"]) for b in locks)
    best_t, cpu_t = min(best_t, time.perf_counter() - t), min(cpu_t, time.process_time() - c)
print(f"{best_r*1000:.1f} {best_t*1000:.1f} {n} {m} {cpu_r*1000:.1f} {cpu_t*1000:.1f}")
"#;

fn main() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let root = tmp.path();
    let repo = root.join("repo");
    let mut all_reqs = Vec::new();
    let mut locks = Vec::new();
    for i in 0..REQ_FILES {
        let dir = repo.join(format!("svc{:03}/app{i}", i % 40));
        std::fs::create_dir_all(&dir).unwrap();
        let (text, reqs) = req_file(i, LINES_PER_FILE);
        std::fs::write(dir.join("requirements.txt"), text).unwrap();
        all_reqs.extend(reqs);
    }
    for i in 0..LOCK_FILES {
        let dir = repo.join(format!("lib{i:02}"));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("uv.lock");
        std::fs::write(&p, lock_file(i)).unwrap();
        locks.push(p);
    }
    let total = all_reqs.len() + LOCK_FILES * PACKAGES_PER_LOCK;

    // 1. python_requirements over the monorepo.
    let table = PythonRequirements::new(Arc::new(Host::new(root)));
    let ctx = QueryContext::all()
        .with("directory", Operator::Equals, "/repo")
        .using(&["path", "line", "name", "specifier", "pinned", "hashed"]);
    let (t_table, c_table, rows) = best_of(5, libc::RUSAGE_SELF, || {
        black_box(table.generate(&ctx).expect("generate"))
    });
    assert_eq!(rows.len(), total, "every dependency is a row");
    let errors = rows.iter().filter(|r| r.get("error").is_some()).count();
    assert_eq!(errors, 0);
    println!(
        "python_requirements, {REQ_FILES} requirements files + {LOCK_FILES} uv.lock ({total} dependencies): squatch {:.1} ms wall, {:.1} ms CPU (best of 5; target < 300 ms)",
        ms(t_table),
        ms(c_table)
    );
    let lines_file = root.join("lines.txt");
    std::fs::write(&lines_file, all_reqs.join("\n")).unwrap();
    let mut peer = Command::new(python());
    peer.arg("-c")
        .arg(PEER_MONOREPO)
        .arg(&lines_file)
        .args(&locks);
    match peer.output() {
        Ok(o) if o.status.success() => {
            let s = String::from_utf8_lossy(&o.stdout);
            let f: Vec<&str> = s.split_whitespace().collect();
            let n = |i: usize| f.get(i).and_then(|x| x.parse::<f64>().ok()).unwrap_or(0.0);
            let (r, t, cr, ct) = (n(0), n(1), n(4), n(5));
            println!(
                "  peer: packaging.requirements.Requirement on the {} requirement strings {r:.1} ms + tomllib on the {LOCK_FILES} locks ({} packages) {t:.1} ms = {:.1} ms wall, {:.1} ms CPU (parsing only: no walk, no reads of the requirements files); squatch/peer = {:.2} wall, {:.2} CPU",
                f[2], f[3], r + t, cr + ct, ms(t_table) / (r + t), ms(c_table) / (cr + ct)
            );
        }
        Ok(o) => println!(
            "  peer failed: {}",
            String::from_utf8_lossy(&o.stderr).trim()
        ),
        Err(e) => println!("  peer unavailable ({}): {e}", python().display()),
    }

    // 2. squatch check on one 200-line file, process start-up included.
    let one = root.join("one");
    std::fs::create_dir_all(&one).unwrap();
    let (text, reqs) = req_file(9999, 200);
    std::fs::write(one.join("requirements.txt"), text).unwrap();
    let exe = env!("CARGO_BIN_EXE_squatch");
    println!("  load average: {}", load());
    let (t_check, best_check, c_check, status) = median_of(CHECK_RUNS, || {
        Command::new(exe)
            .args(["check", "requirements.txt"])
            .current_dir(&one)
            .output()
            .expect("run squatch check")
            .status
    });
    println!(
        "squatch check, one 200-line requirements.txt, whole process: median {:.1} ms wall (best {:.1}), median {:.1} ms CPU ({CHECK_RUNS} runs, exit {}; target < 50 ms)",
        ms(t_check),
        ms(best_check),
        ms(c_check),
        status.code().unwrap_or(-1)
    );
    let peer_file = one.join("lines.txt");
    std::fs::write(&peer_file, reqs.join("\n")).unwrap();
    let script = "import sys\nfrom packaging.requirements import Requirement\n[Requirement(l) for l in open(sys.argv[1]).read().splitlines()]\n";
    let (t_peer, best_peer, c_peer, ok) = median_of(CHECK_RUNS, || {
        Command::new(python())
            .arg("-c")
            .arg(script)
            .arg(&peer_file)
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false)
    });
    if ok {
        println!(
            "  peer: python -c 'import packaging.requirements' + Requirement() on the same 200 lines, whole process: median {:.1} ms wall (best {:.1}), median {:.1} ms CPU ({CHECK_RUNS} runs); squatch/peer = {:.2} wall, {:.2} CPU",
            ms(t_peer),
            ms(best_peer),
            ms(c_peer),
            ms(t_check) / ms(t_peer),
            ms(c_check) / ms(c_peer).max(0.001)
        );
    } else {
        println!("  peer unavailable ({})", python().display());
    }
    println!("  load average: {}", load());
}
