//! Benchmark: `gpu_driver_config` on a fake host with a full NVIDIA driver
//! layout (Debian + CUDA repository + container toolkit, a few hundred MB
//! of filler libraries, modules and firmware, and a dpkg database of 1,500
//! other packages), against `find` + `sha256sum` over the same files, in
//! one run.
//!
//! Run: `cargo bench --bench gpu`. Knobs (env): `BENCH_GPU_SCALE` (bytes of
//! a typical library, default 2 MB: ~250 MB in all), `BENCH_REPEAT` (20).
//!
//! What is measured, in this process through the embedded SQL engine (as an
//! osquery extension serves it: one long-lived process):
//! 1. `SELECT` of every column but `sha256`/`package_digest_match`: the
//!    first query (reads the package database) and the median of repeats;
//! 2. `SELECT *` (every library, module and firmware file SHA-256 hashed,
//!    MD5 too where dpkg recorded one): first run, then the median repeat
//!    (digests cached by path, inode, size, mtime);
//! 3. the peer: `find DIRS -type f -print0 | xargs -0 sha256sum` over the
//!    directories holding the same files, page cache warm for both;
//! 4. a fresh `squatch query` process for query 1 (cold process).

#[path = "../tests/common/mod.rs"]
mod common;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::gpu::plant_legit_driver;
use common::FakeHost;
use squatch::sql::Engine;
use squatch::table::Table;
use squatch::tables::gpu_driver_config::GpuDriverConfig;

const NO_HASH: &str = "SELECT path, category, size, mode, uid, gid, mtime, package, package_version, rule_id, finding, severity, line, target, library, status FROM gpu_driver_config";
const ALL: &str = "SELECT * FROM gpu_driver_config";

fn time(e: &Engine, sql: &str) -> (Duration, usize) {
    let t = Instant::now();
    let r = e.query(sql).expect("query");
    (t.elapsed(), r.last().map(|r| r.rows.len()).unwrap_or(0))
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

/// Other packages and units, so the package database and the unit
/// directories have a real host's size.
fn noise(fh: &FakeHost) {
    for i in 0..1500 {
        let mut list = String::new();
        for j in 0..150 {
            list.push_str(&format!("/usr/share/doc/pkg{i}/file{j}\n"));
        }
        fh.write(format!("/var/lib/dpkg/info/pkg{i}.list"), list);
        fh.write(
            format!("/var/lib/dpkg/info/pkg{i}.md5sums"),
            format!("0123456789abcdef0123456789abcdef  usr/share/doc/pkg{i}/file0\n"),
        );
    }
    for i in 0..300 {
        fh.write(
            format!("/usr/lib/systemd/system/svc{i}.service"),
            format!("[Unit]\nDescription=service {i}\n[Service]\nExecStart=/usr/sbin/svc{i} --foreground\n"),
        );
    }
}

fn main() {
    let scale: usize = std::env::var("BENCH_GPU_SCALE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2 * 1024 * 1024);
    let repeat: usize = std::env::var("BENCH_REPEAT")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let t = Instant::now();
    let fh = FakeHost::new();
    let bins = plant_legit_driver(&fh, scale);
    noise(&fh);
    let bytes: u64 = bins
        .iter()
        .map(|p| std::fs::metadata(fh.real(p)).map(|m| m.len()).unwrap_or(0))
        .sum();
    println!(
        "fake host: {} driver binaries, {:.1} MB, 1500 other packages, 300 other units; built in {:.1}s at {}",
        bins.len(),
        bytes as f64 / 1e6,
        t.elapsed().as_secs_f64(),
        fh.root().display()
    );

    let table: Arc<dyn Table> = Arc::new(GpuDriverConfig::new(Arc::new(fh.host())));
    let e = Engine::new(&[table]).expect("engine");

    // 1. without hashes.
    let (first, rows) = time(&e, NO_HASH);
    let repeats: Vec<Duration> = (0..repeat).map(|_| time(&e, NO_HASH).0).collect();
    println!(
        "squatch, no digests ({rows} rows): first {} (package database read), repeat median {}",
        ms(first),
        ms(median(repeats))
    );

    // 3 (first, so that squatch's first hash run does not warm the cache
    // for the peer alone): warm the page cache for both, then time the peer.
    let mut dirs = BTreeSet::new();
    for b in &bins {
        if let Some(p) = fh.real(b).parent() {
            dirs.insert(p.to_path_buf());
        }
    }
    let dirs: Vec<PathBuf> = dirs.into_iter().collect();
    let peer = || {
        let t = Instant::now();
        let st = Command::new("sh")
            .arg("-c")
            .arg("find \"$@\" -type f -print0 | xargs -0 sha256sum > /dev/null")
            .arg("sh")
            .args(&dirs)
            .status()
            .expect("find + sha256sum");
        assert!(st.success());
        t.elapsed()
    };
    peer();
    let peer_t = median((0..3).map(|_| peer()).collect());

    // 2. with digests.
    let (hash_first, rows_all) = time(&e, ALL);
    let hash_rep: Vec<Duration> = (0..repeat).map(|_| time(&e, ALL).0).collect();
    let hash_rep = median(hash_rep);
    let mbps = |d: Duration| bytes as f64 / 1e6 / d.as_secs_f64();
    println!(
        "squatch, SELECT * ({rows_all} rows): first {} ({:.0} MB/s, SHA-256 + MD5 where dpkg has one), repeat median {}",
        ms(hash_first),
        mbps(hash_first),
        ms(hash_rep)
    );
    println!(
        "peer, find + sha256sum over the same directories: {} ({:.0} MB/s)",
        ms(peer_t),
        mbps(peer_t)
    );
    println!(
        "ratios: squatch first hash run / peer = {:.2}; squatch repeat / peer = {:.4}",
        hash_first.as_secs_f64() / peer_t.as_secs_f64(),
        hash_rep.as_secs_f64() / peer_t.as_secs_f64()
    );

    // 4. a fresh process.
    let state = tempfile::tempdir().unwrap();
    let bin = env!("CARGO_BIN_EXE_squatch");
    let run = || {
        let t = Instant::now();
        let out = Command::new(bin)
            .arg("--root")
            .arg(fh.root())
            .arg("--state-dir")
            .arg(state.path())
            .args(["query", "--csv", NO_HASH])
            .output()
            .expect("squatch");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        t.elapsed()
    };
    run();
    let cold = median((0..5).map(|_| run()).collect());
    println!(
        "squatch query process, no digests: median {} (process start included)",
        ms(cold)
    );
}
