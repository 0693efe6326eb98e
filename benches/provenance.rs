//! Benchmark: `python_package_provenance` against Python's own
//! `importlib.metadata`, and RECORD verification against `sha256sum`, on a
//! synthetic host of 50 venvs x 200 distributions, measured side by side in
//! one run.
//!
//! Run: `cargo bench --bench provenance` (release build). Knobs (env):
//! `BENCH_VENVS` (50), `BENCH_DISTS` (200), `BENCH_DIR` (keep the synthetic
//! host there between runs instead of a temp dir), `BENCH_REPEAT` (20).
//!
//! What is measured:
//! 1. cold: a fresh `squatch query --root HOST "SELECT name, version,
//!    environment FROM python_package_provenance"` process (environment
//!    discovery included) vs a fresh `python3 -c` enumerating the same
//!    site directories with `importlib.metadata.distributions(path=[...])`.
//!    Page cache warm for both (each is run once before timing), processes cold.
//! 2. repeated: the same query again in the same process (library: one
//!    `sql::Engine`, median of `BENCH_REPEAT` runs after the first) vs the
//!    Python peer's second enumeration inside its own process, and vs its cold run.
//! 3. hashing: verifying every distribution's RECORD with a fresh
//!    `Verifier` (every listed file SHA-256 hashed) vs `sha256sum` over the
//!    same files (`xargs -0 sha256sum`), as MB/s.
//! 4. memory (measured first, while this process is small, because a
//!    child's `ru_maxrss` starts from its parent's RSS at spawn): peak RSS
//!    (`ru_maxrss` from `wait4`, and `getrusage(RUSAGE_CHILDREN)`) of the
//!    squatch child for the benchmark query, the RECORD columns, and `SELECT *`.

use std::io::Write;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use squatch::host::Host;
use squatch::python::{discover_environments, distributions, Verifier};

const PY_PEER: &str = r#"
import sys, time, importlib.metadata as m
pairs = [l.rstrip('\n').split('\t') for l in open(sys.argv[1])]
def run():
    out = []
    for env, site in pairs:
        for d in m.distributions(path=[site]):
            out.append(f"{d.metadata['Name']},{d.version},{env}\n")
    return out
t0 = time.perf_counter(); out = run(); t1 = time.perf_counter()
t2 = t1
if len(sys.argv) > 2 and sys.argv[2] == "again":
    again = run(); t2 = time.perf_counter()
sys.stdout.write(''.join(out))
sys.stderr.write(f"{len(out)} {t1 - t0:.6f} {t2 - t1:.6f}\n")
"#;

#[path = "synthetic.rs"]
#[allow(dead_code)]
mod synthetic;
use synthetic::*;

fn main() {
    let venvs: usize = std::env::var("BENCH_VENVS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50);
    let dists: usize = std::env::var("BENCH_DISTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let repeat: usize = std::env::var("BENCH_REPEAT")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
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
    let t = Instant::now();
    let (pairs, files, total_bytes) = build(&root, venvs, dists);
    let n = venvs * dists;
    println!(
        "synthetic host: {venvs} venvs x {dists} distributions = {n} ({} files, {:.1} MB hashed), built in {:.1}s at {}",
        files.len(),
        total_bytes as f64 / 1e6,
        t.elapsed().as_secs_f64(),
        root.display()
    );
    let bin = env!("CARGO_BIN_EXE_squatch");
    let sql = "SELECT name, version, environment FROM python_package_provenance";

    // --- 0. memory (first, while this process is still small) ------------
    // A spawned child's ru_maxrss starts from the parent's RSS at spawn
    // (Linux carries the old mm's high-water mark across exec), so the
    // children are measured before the benchmark itself grows.
    let self_rss = {
        // SAFETY: an all-zero rusage is valid for getrusage to fill.
        let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
        unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
        ru.ru_maxrss
    };
    let mem_query = |sql: &str| {
        let mut c = Command::new(bin);
        c.args(["query", "--csv", "--root"]).arg(&root).arg(sql);
        run_child(&mut c)
    };
    let (_, _, _, rss_names) = mem_query(sql);
    let rss_children_first = children_maxrss();
    let (t_v, _, _, rss_v) = mem_query(
        "SELECT name, record_status, files_modified, files_missing, files_unrecorded FROM python_package_provenance",
    );
    let (t_full, _, _, rss_full) = mem_query("SELECT * FROM python_package_provenance");
    println!("\n[memory] peak RSS of the squatch child (wait4 ru_maxrss; this process was {:.1} MB at spawn)", self_rss as f64 / 1024.0);
    println!("  name/version/environment query     {:8.1} MB  (target < 100 MB; getrusage(RUSAGE_CHILDREN) after it: {:.1} MB)", rss_names as f64 / 1024.0, rss_children_first as f64 / 1024.0);
    println!(
        "  RECORD columns (verification)      {:8.1} MB  ({:.1} ms)",
        rss_v as f64 / 1024.0,
        ms(t_v)
    );
    println!(
        "  SELECT * (every column; the SQL layer holds all rows) {:8.1} MB  ({:.1} ms)",
        rss_full as f64 / 1024.0,
        ms(t_full)
    );

    // --- 1. cold, process vs process -------------------------------------
    let pairs_file = root.join("pairs.tsv");
    let mut f = std::fs::File::create(&pairs_file).unwrap();
    for (env, site) in &pairs {
        let real_site = root.join(site.trim_start_matches('/'));
        writeln!(f, "{env}\t{}", real_site.display()).unwrap();
    }
    drop(f);
    let squatch_cmd = || {
        let mut c = Command::new(bin);
        c.args(["query", "--csv", "--root"]).arg(&root).arg(sql);
        c
    };
    let python_cmd = || {
        let mut c = Command::new("python3");
        c.args(["-c", PY_PEER]).arg(&pairs_file);
        c
    };
    // Warm the page cache for both.
    run_child(&mut squatch_cmd());
    let (_, out, _, _) = run_child(&mut python_cmd());
    let py_rows = out.iter().filter(|b| **b == b'\n').count();

    // Interleaved rounds, so that load from other processes on the machine
    // hits both sides alike; min and median are reported.
    let rounds: usize = std::env::var("BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let mut sq_times = Vec::new();
    let mut sq_rows = 0;
    let mut py_times = Vec::new();
    let mut py_inner = Vec::new();
    let mut py_again = Vec::new();
    let parse = |err: &str, i: usize| -> Duration {
        let f: Vec<&str> = err.split_whitespace().collect();
        Duration::from_secs_f64(f[i].parse().unwrap())
    };
    for _ in 0..rounds {
        let (t, out, _, _) = run_child(&mut squatch_cmd());
        sq_rows = out.iter().filter(|b| **b == b'\n').count() - 1; // header
        sq_times.push(t);
        let (t, _, err, _) = run_child(&mut python_cmd());
        py_inner.push(parse(&err, 1));
        py_times.push(t);
    }
    let (_, _, err, _) = run_child(python_cmd().arg("again"));
    py_again.push(parse(&err, 2));
    assert_eq!(sq_rows, n, "squatch row count");
    assert_eq!(py_rows, n, "python row count");
    let min = |v: &[Duration]| *v.iter().min().unwrap();
    let (sq_min, py_min) = (min(&sq_times), min(&py_times));
    let (sq_cold, py_cold) = (median(sq_times), median(py_times));
    println!("\n[cold] {sql}   ({rounds} interleaved rounds; median / min)");
    println!(
        "  squatch query (process)            {:9.1} / {:7.1} ms  ({sq_rows} rows)",
        ms(sq_cold),
        ms(sq_min)
    );
    println!("  python3 importlib.metadata (proc)  {:9.1} / {:7.1} ms  ({py_rows} rows; {:.1} ms inside the interpreter)", ms(py_cold), ms(py_min), ms(median(py_inner.clone())));
    println!(
        "  ratio python/squatch               {:9.1} / {:7.1} x  (target >= 10x)",
        py_cold.as_secs_f64() / sq_cold.as_secs_f64(),
        py_min.as_secs_f64() / sq_min.as_secs_f64()
    );

    // --- 2. repeated, same process ---------------------------------------
    let host = Arc::new(Host::new(&root));
    let engine = squatch::sql::Engine::new(&squatch::tables::registry(host.clone())).unwrap();
    let t = Instant::now();
    let first = engine.query(sql).unwrap();
    let lib_first = t.elapsed();
    assert_eq!(first[0].rows.len(), n);
    let mut reps = Vec::new();
    for _ in 0..repeat {
        let t = Instant::now();
        let r = engine.query(sql).unwrap();
        reps.push(t.elapsed());
        assert_eq!(r[0].rows.len(), n);
    }
    let sq_rep = median(reps);
    // The table alone (no SQL layer), same columns as the query.
    let table =
        squatch::tables::python_package_provenance::PythonPackageProvenance::new(host.clone());
    let ctx = squatch::table::QueryContext::all().using(&["name", "version", "environment"]);
    use squatch::table::Table as _;
    let _ = table.generate(&ctx).unwrap();
    let mut gen = Vec::new();
    for _ in 0..repeat {
        let t = Instant::now();
        let rows = table.generate(&ctx).unwrap();
        gen.push(t.elapsed());
        assert_eq!(rows.len(), n);
    }
    let mut disc = Vec::new();
    for _ in 0..repeat {
        let t = Instant::now();
        let envs = discover_environments(&host);
        disc.push(t.elapsed());
        assert_eq!(envs.len(), venvs);
    }
    let py_rep = median(py_again);
    println!("\n[repeated] same query again in the same process (median of {repeat})");
    println!(
        "  squatch first query (library)      {:9.1} ms",
        ms(lib_first)
    );
    println!("  squatch repeated (library)         {:9.1} ms", ms(sq_rep));
    println!(
        "  of which Table::generate           {:9.1} ms",
        ms(median(gen))
    );
    println!(
        "  of which environment discovery     {:9.1} ms",
        ms(median(disc))
    );
    println!("  python repeated (in-interpreter)   {:9.1} ms", ms(py_rep));
    println!(
        "  ratio python cold process/squatch repeated {:6.1}x  (target >= 50x)",
        py_cold.as_secs_f64() / sq_rep.as_secs_f64()
    );
    println!(
        "  ratio python repeated/squatch repeated     {:6.1}x",
        py_rep.as_secs_f64() / sq_rep.as_secs_f64()
    );

    // --- 3. hashing throughput --------------------------------------------
    let list = root.join("files.nul");
    let mut f = std::fs::File::create(&list).unwrap();
    for p in &files {
        use std::os::unix::ffi::OsStrExt;
        f.write_all(p.as_os_str().as_bytes()).unwrap();
        f.write_all(b"\0").unwrap();
    }
    drop(f);
    let sha_cmd = || {
        let mut c = Command::new("xargs");
        c.args(["-0", "-n", "4096", "-a"])
            .arg(&list)
            .arg("sha256sum");
        c
    };
    run_child(&mut sha_cmd()); // warm
    let verify_once = || {
        let verifier = Verifier::new();
        let t = Instant::now();
        let mut checked = 0u64;
        let mut bad = 0u64;
        for env in discover_environments(&host) {
            for site in &env.site_packages {
                let ds = distributions(&host, site);
                let wanted = vec![true; ds.len()];
                for v in verifier
                    .verify_site(&host, &ds, &wanted)
                    .into_iter()
                    .flatten()
                {
                    checked += v.files_checked;
                    bad += v.files_modified + v.files_missing + v.files_unrecorded;
                }
            }
        }
        (t.elapsed(), checked, bad)
    };
    let mut sha_times = Vec::new();
    let mut sq_hash_times = Vec::new();
    let mut checked = 0;
    for _ in 0..3 {
        sha_times.push(run_child(&mut sha_cmd()).0);
        let (t, c, bad) = verify_once();
        assert_eq!(bad, 0, "synthetic host verifies clean");
        checked = c;
        sq_hash_times.push(t);
    }
    assert_eq!(checked as usize, files.len(), "every file hashed");
    let (sha_t, sq_t) = (median(sha_times), median(sq_hash_times));
    let mbps = |d: Duration| total_bytes as f64 / 1e6 / d.as_secs_f64();
    println!(
        "\n[hashing] {} files, {:.1} MB, page cache warm",
        files.len(),
        total_bytes as f64 / 1e6
    );
    println!(
        "  squatch RECORD verification        {:9.1} ms  {:8.1} MB/s",
        ms(sq_t),
        mbps(sq_t)
    );
    println!(
        "  sha256sum (xargs)                  {:9.1} ms  {:8.1} MB/s",
        ms(sha_t),
        mbps(sha_t)
    );
    println!(
        "  squatch / sha256sum throughput     {:9.0}%  (target >= 80%)",
        100.0 * sha_t.as_secs_f64() / sq_t.as_secs_f64()
    );
    // Raw hash speed on one large file, to separate SHA-256 itself from
    // per-file overhead: squatch's streaming hasher vs sha256sum (and
    // OpenSSL, when installed, which uses the CPU's SHA extensions).
    let big = root.join("big.bin");
    if !big.exists() {
        let mut rng = Rng(42);
        let mut f = std::fs::File::create(&big).unwrap();
        for _ in 0..256 {
            f.write_all(&rng.bytes(1 << 20)).unwrap();
        }
    }
    let big_len = std::fs::metadata(&big).unwrap().len() as f64;
    let _ = std::fs::read(&big).map(|b| b.len()); // warm the page cache
    let mut buf = vec![0u8; 256 * 1024];
    let t = Instant::now();
    let f = std::fs::File::open(&big).unwrap();
    squatch::python::verify::digest_reader(f, squatch::python::verify::HashAlgo::Sha256, &mut buf)
        .unwrap();
    let t_ours = t.elapsed();
    let (t_sum, _, _, _) = run_child(Command::new("sha256sum").arg(&big));
    let t_ssl = Command::new("openssl")
        .arg("version")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|_| run_child(Command::new("openssl").args(["dgst", "-sha256"]).arg(&big)).0);
    let rate = |d: Duration| big_len / 1e6 / d.as_secs_f64();
    println!(
        "  one 256 MiB file: squatch {:.0} MB/s, sha256sum {:.0} MB/s{}",
        rate(t_ours),
        rate(t_sum),
        t_ssl
            .map(|d| format!(", openssl dgst {:.0} MB/s", rate(d)))
            .unwrap_or_default()
    );

    let vsql = "SELECT count(*) FROM python_package_provenance WHERE record_status = 'ok'";
    let t = Instant::now();
    let r = engine.query(vsql).unwrap();
    let v_first = t.elapsed();
    let mut vt = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        let r2 = engine.query(vsql).unwrap();
        vt.push(t.elapsed());
        assert_eq!(r[0].rows, r2[0].rows);
    }
    let v_rep = median(vt);
    println!(
        "  verification through SQL, first query (library)            {:9.1} ms",
        ms(v_first)
    );
    println!(
        "  verification through SQL, repeated (memoised verdicts, revalidated by lstat; median of 5) {:9.1} ms  ({:.1}x cheaper)",
        ms(v_rep),
        v_first.as_secs_f64() / v_rep.as_secs_f64()
    );
}
