//! The detection queries proposed for the packs, run through the `squatch
//! query` binary on fake hosts: each fires on its attack and stays silent on
//! the benign twin.

mod common;

use std::path::Path;

use common::gpu::{
    build_nvml_stub, plant_legit_driver, plant_process, plant_seed_attack, plant_seed_benign_twin,
    set_toolkit_version,
};
use common::FakeHost;

/// Any /etc/ld.so.preload entry.
pub const GPU_LD_PRELOAD: &str = "SELECT path, finding, severity FROM gpu_driver_config WHERE category = 'ld_preload' AND rule_id = 'ld-preload-entry'";
/// Any high or critical finding on the loading path.
pub const GPU_LOADING_PATH_INJECTION: &str = "SELECT path, category, rule_id, finding, severity, line, target, library FROM gpu_driver_config WHERE severity IN ('high', 'critical')";
/// Driver files that differ from their package.
pub const GPU_DRIVER_DRIFT: &str = "SELECT path, category, package, package_version, rule_id, finding, severity FROM gpu_driver_config WHERE package_digest_match = 0";
/// A container toolkit older than its CVE fixes.
pub const GPU_TOOLKIT_VULNERABLE: &str = "SELECT path, package, package_version, rule_id, finding, severity FROM gpu_driver_config WHERE category = 'container_toolkit' AND rule_id IN ('toolkit-cve-2025-23266', 'toolkit-cve-2024-0132')";
/// A busy GPU running something that is not an allow-listed training job.
pub const GPU_UNTRUSTED_PROCESS: &str = "SELECT g.gpu_uuid, g.pid, g.process_name, g.path, g.exe_deleted, g.exe_in_world_writable_dir, g.used_memory, u.utilization_gpu, p.uid, p.parent FROM nvidia_gpu_processes AS g JOIN nvidia_gpus AS u ON u.uuid = g.gpu_uuid LEFT JOIN processes AS p ON p.pid = g.pid WHERE u.utilization_gpu >= 50 AND (g.exe_deleted = 1 OR g.exe_in_world_writable_dir = 1 OR NOT (p.path GLOB '/usr/bin/python3*' OR p.path GLOB '/opt/conda/bin/python*' OR p.path GLOB '/opt/conda/envs/*/bin/python*' OR p.path GLOB '/home/*/.venv/bin/python*') OR NOT (p.cmdline GLOB '*torchrun*' OR p.cmdline GLOB '*train*.py*' OR p.cmdline GLOB '*accelerate launch*' OR p.cmdline GLOB '*deepspeed*'))";

fn query(root: &Path, extra: &[&str], sql: &str) -> Vec<serde_json::Value> {
    common::query_json(root, extra, sql)
}

fn legit() -> FakeHost {
    let fh = FakeHost::new();
    plant_legit_driver(&fh, 2048);
    fh
}

#[test]
fn preload_and_injection_queries() {
    let bad = legit();
    plant_seed_attack(&bad);
    let good = legit();
    plant_seed_benign_twin(&good);
    let r = query(bad.root(), &[], GPU_LD_PRELOAD);
    assert_eq!(r.len(), 1);
    assert_eq!(r[0]["path"], "/etc/ld.so.preload");
    assert!(query(good.root(), &[], GPU_LD_PRELOAD).is_empty());
    let r = query(bad.root(), &[], GPU_LOADING_PATH_INJECTION);
    assert_eq!(r.len(), 3, "{r:#?}");
    assert!(query(good.root(), &[], GPU_LOADING_PATH_INJECTION).is_empty());
}

#[test]
fn drift_query() {
    let bad = legit();
    let lib = bad.real(Path::new(
        "/usr/lib/x86_64-linux-gnu/libnvidia-ml.so.535.183.01",
    ));
    let mut b = std::fs::read(&lib).unwrap();
    b[100] ^= 1;
    std::fs::write(&lib, b).unwrap();
    let r = query(bad.root(), &[], GPU_DRIVER_DRIFT);
    // The library and the soname link that leads to it.
    assert_eq!(r.len(), 2, "{r:#?}");
    assert!(r
        .iter()
        .all(|x| x["package"] == "libnvidia-ml1" && x["rule_id"] == "package-digest-mismatch"));
    assert!(r
        .iter()
        .any(|x| x["path"] == "/usr/lib/x86_64-linux-gnu/libnvidia-ml.so.535.183.01"));
    assert!(query(legit().root(), &[], GPU_DRIVER_DRIFT).is_empty());
}

#[test]
fn toolkit_query() {
    let bad = legit();
    set_toolkit_version(&bad, "1.17.4-1");
    let r = query(bad.root(), &[], GPU_TOOLKIT_VULNERABLE);
    assert_eq!(r.len(), 1, "{r:#?}");
    assert_eq!(r[0]["rule_id"], "toolkit-cve-2025-23266");
    assert!(query(legit().root(), &[], GPU_TOOLKIT_VULNERABLE).is_empty());
}

#[test]
fn untrusted_process_query() {
    let build = tempfile::tempdir().unwrap();
    let lib = build_nvml_stub(build.path(), false);
    let fh = FakeHost::new();
    fh.mkdir("/tmp");
    fh.chmod("/tmp", 0o1777);
    plant_process(&fh, 4242, "python3", "/usr/bin/python3.11", 1000);
    plant_process(
        &fh,
        31337,
        "ultralytics_run",
        "/tmp/ultralytics_runner",
        1000,
    );
    // osquery's `processes`, stood in for by a table with its column names.
    let procs = |rows: &str| {
        format!(
            "CREATE TEMP TABLE processes (pid BIGINT, name TEXT, path TEXT, cmdline TEXT, uid BIGINT, parent BIGINT); INSERT INTO processes VALUES {rows}; {GPU_UNTRUSTED_PROCESS}"
        )
    };
    let nvml = ["--nvml-lib", lib.to_str().unwrap()];
    let attack = procs("(4242, 'python3', '/usr/bin/python3.11', 'torchrun train.py', 1000, 1), (31337, 'ultralytics_run', '/tmp/ultralytics_runner', '/tmp/ultralytics_runner -o pool:3333', 1000, 1)");
    let r = query(fh.root(), &nvml, &attack);
    assert_eq!(r.len(), 1, "{r:#?}");
    assert_eq!(r[0]["pid"], "31337");
    // The twin: GPU 1's process is an allow-listed training job run from a
    // root-owned interpreter.
    fh.remove(Path::new("/proc/31337/exe"));
    fh.symlink("/usr/bin/python3.11", "/proc/31337/exe");
    let twin = procs("(4242, 'python3', '/usr/bin/python3.11', 'torchrun train.py', 1000, 1), (31337, 'python3', '/usr/bin/python3.11', 'python3 train_yolo.py', 1000, 1)");
    assert!(query(fh.root(), &nvml, &twin).is_empty());
}
