//! nvidia_gpus and nvidia_gpu_processes against a stub libnvidia-ml.so.1
//! built from C by the test (two GPUs: a training job on GPU 0, a miner
//! run from /tmp on GPU 1), a stub whose nvmlInit fails, and no driver.
//! There is no real GPU here: a run against a real driver is left to a
//! machine that has one.

mod common;

use std::path::PathBuf;
use std::sync::Arc;

use common::gpu::{build_nvml_stub, build_nvml_stub_with, plant_process};
use common::FakeHost;
use squatch::settings::Settings;
use squatch::sql::Engine;
use squatch::tables::registry_with;

fn engine(fh: &FakeHost, lib: Option<PathBuf>) -> Engine {
    let settings = Settings {
        nvml_lib: lib,
        ..Settings::default()
    };
    Engine::new(&registry_with(Arc::new(fh.host()), &settings)).expect("engine")
}

fn rows(e: &Engine, sql: &str) -> Vec<std::collections::BTreeMap<String, String>> {
    let res = e.query(sql).expect("query");
    let r = res.last().expect("a result");
    r.rows
        .iter()
        .map(|row| {
            r.columns
                .iter()
                .cloned()
                .zip(row.iter().map(|v| v.clone().unwrap_or_default()))
                .collect()
        })
        .collect()
}

fn host_with_processes() -> FakeHost {
    let fh = FakeHost::new();
    fh.mkdir("/tmp");
    fh.chmod("/tmp", 0o1777);
    fh.write("/usr/bin/python3.11", b"\x7fELF");
    plant_process(&fh, 4242, "python3", "/usr/bin/python3.11", 1000);
    plant_process(
        &fh,
        31337,
        "ultralytics_run",
        "/tmp/ultralytics_runner",
        1000,
    );
    fh
}

#[test]
fn stub_gpus_and_processes() {
    let build = tempfile::tempdir().unwrap();
    let lib = build_nvml_stub(build.path(), false);
    let fh = host_with_processes();
    let e = engine(&fh, Some(lib.clone()));
    let gpus = rows(&e, "SELECT * FROM nvidia_gpus ORDER BY \"index\"");
    assert_eq!(gpus.len(), 2, "{gpus:#?}");
    let g0 = &gpus[0];
    assert_eq!(g0["uuid"], "GPU-5cf2ab41-6ee9-1a2b-4f3c-8f3e1e2d9a77");
    assert_eq!(g0["name"], "NVIDIA A100-SXM4-80GB");
    assert_eq!(g0["driver_version"], "535.183.01");
    assert_eq!(g0["cuda_version"], "12.2");
    assert_eq!(g0["utilization_gpu"], "87");
    assert_eq!(g0["utilization_memory"], "41");
    assert_eq!(g0["memory_total"], (80u64 << 30).to_string());
    assert_eq!(g0["memory_used"], (31u64 << 30).to_string());
    assert_eq!(g0["power_usage"], "312000");
    assert_eq!(g0["temperature"], "64");
    assert_eq!(g0["status"], "ok");
    assert_eq!(g0["nvml_library"], lib.to_string_lossy());
    assert!(!g0["utilization_window"].is_empty());
    assert_eq!(gpus[1]["utilization_gpu"], "100");

    let procs = rows(&e, "SELECT * FROM nvidia_gpu_processes ORDER BY pid");
    assert_eq!(procs.len(), 2, "{procs:#?}");
    let train = &procs[0];
    assert_eq!(train["pid"], "4242");
    assert_eq!(train["gpu_uuid"], g0["uuid"]);
    assert_eq!(train["process_name"], "python3");
    assert_eq!(train["path"], "/usr/bin/python3.11");
    assert_eq!(train["exe_in_world_writable_dir"], "0");
    assert_eq!(train["used_memory"], (30u64 << 30).to_string());
    assert_eq!(train["kind"], "compute");
    let miner = &procs[1];
    assert_eq!(miner["pid"], "31337");
    assert_eq!(miner["path"], "/tmp/ultralytics_runner");
    assert_eq!(miner["exe_in_world_writable_dir"], "1");
    assert_eq!(miner["exe_deleted"], "0");
    assert_eq!(miner["uid"], "1000");

    // The pid constraint keeps its value in every row.
    let one = rows(
        &e,
        "SELECT pid, process_name FROM nvidia_gpu_processes WHERE pid = 31337",
    );
    assert_eq!(one.len(), 1);
    assert_eq!(one[0]["process_name"], "ultralytics_run");
}

/// The pack's mining query: a busy GPU running something that is not an
/// allow-listed training job, joined with osquery's `processes` (stood in
/// for here by a table of the same name and columns).
pub const MINING_QUERY: &str = "
SELECT g.gpu_uuid, g.pid, g.process_name, g.path, g.exe_deleted,
       g.exe_in_world_writable_dir, g.used_memory, u.utilization_gpu,
       p.uid, p.parent
FROM nvidia_gpu_processes AS g
JOIN nvidia_gpus AS u ON u.uuid = g.gpu_uuid
LEFT JOIN processes AS p ON p.pid = g.pid
WHERE u.utilization_gpu >= 50
  AND (g.exe_deleted = 1
       OR g.exe_in_world_writable_dir = 1
       OR NOT (p.path GLOB '/usr/bin/python3*'
               OR p.path GLOB '/opt/conda/bin/python*'
               OR p.path GLOB '/opt/conda/envs/*/bin/python*'
               OR p.path GLOB '/home/*/.venv/bin/python*')
       OR NOT (p.cmdline GLOB '*torchrun*' OR p.cmdline GLOB '*train*.py*'
               OR p.cmdline GLOB '*accelerate launch*' OR p.cmdline GLOB '*deepspeed*'))";

#[test]
fn mining_query_flags_the_miner_not_the_training_job() {
    let build = tempfile::tempdir().unwrap();
    let lib = build_nvml_stub(build.path(), false);
    let fh = host_with_processes();
    let e = engine(&fh, Some(lib));
    e.connection()
        .execute_batch(
            "CREATE TEMP TABLE processes (pid BIGINT, name TEXT, path TEXT, cmdline TEXT, uid BIGINT, parent BIGINT);
             INSERT INTO processes VALUES
               (4242, 'python3', '/usr/bin/python3.11', 'torchrun --nproc_per_node=1 train.py --epochs 3', 1000, 1),
               (31337, 'ultralytics_run', '/tmp/ultralytics_runner', '/tmp/ultralytics_runner -o pool.example:3333', 1000, 1);",
        )
        .unwrap();
    let hits = rows(&e, MINING_QUERY);
    assert_eq!(hits.len(), 1, "{hits:#?}");
    assert_eq!(hits[0]["pid"], "31337");
    // The twin: the same GPU busy with the allow-listed job only.
    e.connection()
        .execute_batch("DELETE FROM processes WHERE pid = 31337; UPDATE processes SET pid = 4242;")
        .unwrap();
    let hits = rows(&e, &format!("{MINING_QUERY} AND g.pid = 4242"));
    assert!(hits.is_empty(), "{hits:#?}");
}

#[test]
fn failed_init_no_driver_and_image_roots_give_empty_tables_not_errors() {
    let build = tempfile::tempdir().unwrap();
    let failing = build_nvml_stub(build.path(), true);
    let no_gpus = build_nvml_stub_with(build.path(), Some("NO_GPUS"));
    let fh = host_with_processes();
    for lib in [
        Some(failing),
        Some(no_gpus),
        Some(build.path().join("absent/libnvidia-ml.so.1")),
        Some(PathBuf::from("libnvidia-ml.so.1")),
        // A fake root without --nvml-lib: NVML would describe this machine.
        None,
    ] {
        let e = engine(&fh, lib.clone());
        for t in ["nvidia_gpus", "nvidia_gpu_processes"] {
            let r = rows(&e, &format!("SELECT * FROM {t}"));
            assert!(r.is_empty(), "{lib:?} {t}: {r:?}");
        }
        // A pack query joining them still runs.
        let r = rows(
            &e,
            "SELECT g.pid FROM nvidia_gpu_processes g JOIN nvidia_gpus u ON u.uuid = g.gpu_uuid",
        );
        assert!(r.is_empty());
    }
}

#[test]
fn a_failing_nvml_is_logged_and_the_query_still_succeeds() {
    let build = tempfile::tempdir().unwrap();
    let failing = build_nvml_stub(build.path(), true);
    let fh = FakeHost::new();
    let state = tempfile::tempdir().unwrap();
    let out = common::squatch_command()
        .arg("--root")
        .arg(fh.root())
        .arg("--state-dir")
        .arg(state.path())
        .arg("--nvml-lib")
        .arg(&failing)
        .args(["query", "--json", "SELECT * FROM nvidia_gpus"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v.as_array().map(Vec::len), Some(0));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("did not initialise"), "{err}");
}
