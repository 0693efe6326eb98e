//! gpu_driver_config on fake hosts: a legitimate Debian + CUDA repository +
//! container toolkit layout raises nothing; every rule fires on its attack
//! and stays silent on the attack's legitimate twin.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use common::gpu::{cases, plant_legit_driver, plant_seed_attack, plant_seed_benign_twin};
use common::{generate, FakeHost};
use squatch::table::{Operator, QueryContext};
use squatch::tables::gpu_driver_config::GpuDriverConfig;

type Rows = Vec<BTreeMap<String, String>>;

fn table(fh: &FakeHost) -> GpuDriverConfig {
    GpuDriverConfig::new(Arc::new(fh.host()))
}

fn findings(rows: &Rows) -> Vec<(String, String)> {
    rows.iter()
        .filter_map(|r| Some((r.get("path")?.clone(), r.get("rule_id")?.clone())))
        .collect()
}

#[test]
fn legitimate_layout_is_complete_owned_and_clean() {
    let fh = FakeHost::new();
    plant_legit_driver(&fh, 4096);
    let rows = generate(&table(&fh), &QueryContext::all());
    assert!(findings(&rows).is_empty(), "{:#?}", findings(&rows));
    let by_path: BTreeMap<&str, &BTreeMap<String, String>> =
        rows.iter().map(|r| (r["path"].as_str(), r)).collect();
    let cat = |p: &str| by_path.get(p).map(|r| r["category"].as_str());
    assert_eq!(cat("/etc/modprobe.d/nvidia.conf"), Some("modprobe"));
    assert_eq!(
        cat("/usr/share/vulkan/icd.d/nvidia_icd.json"),
        Some("vulkan_icd")
    );
    assert_eq!(
        cat("/usr/share/vulkan/implicit_layer.d/nvidia_layers.json"),
        Some("vulkan_layer")
    );
    assert_eq!(
        cat("/usr/share/glvnd/egl_vendor.d/10_nvidia.json"),
        Some("egl_vendor")
    );
    assert_eq!(
        cat("/usr/share/egl/egl_external_platform.d/15_nvidia_gbm.json"),
        Some("egl_external_platform")
    );
    assert_eq!(cat("/etc/OpenCL/vendors/nvidia.icd"), Some("opencl_icd"));
    assert_eq!(
        cat("/etc/nvidia-container-runtime/config.toml"),
        Some("container_toolkit")
    );
    assert_eq!(cat("/usr/bin/nvidia-ctk"), Some("container_toolkit"));
    assert_eq!(
        cat("/usr/share/containers/oci/hooks.d/oci-nvidia-hook.json"),
        Some("oci_hook")
    );
    assert_eq!(cat("/etc/cdi/nvidia.yaml"), Some("cdi_spec"));
    assert_eq!(
        cat("/usr/lib/systemd/system/nvidia-persistenced.service"),
        Some("systemd_unit")
    );
    assert_eq!(
        cat("/usr/lib/udev/rules.d/60-nvidia.rules"),
        Some("udev_rule")
    );
    assert_eq!(cat("/etc/profile.d/cuda.sh"), Some("environment"));
    assert_eq!(cat("/etc/ld.so.conf.d/000_cuda.conf"), Some("ld_conf"));
    assert_eq!(
        cat("/lib/modules/6.1.0-21-amd64/updates/dkms/nvidia-current.ko"),
        Some("kernel_module")
    );
    assert_eq!(
        cat("/lib/firmware/nvidia/535.183.01/gsp_ga10x.bin"),
        Some("firmware")
    );
    assert_eq!(
        cat("/usr/lib/x86_64-linux-gnu/libcuda.so.1"),
        Some("library")
    );
    assert_eq!(
        cat("/usr/lib/x86_64-linux-gnu/nvidia/current/libGLX_nvidia.so.535.183.01"),
        Some("library")
    );
    // Units that do not mention the GPU, and nouveau, are not on the path.
    assert_eq!(cat("/usr/lib/systemd/system/ssh.service"), None);
    assert!(!by_path.keys().any(|p| p.contains("nouveau")));
    // Alternatives are followed; the conffile's md5 comes from `status`.
    let m = by_path["/etc/modprobe.d/nvidia.conf"];
    assert_eq!(m["target"], "/etc/nvidia/current/nvidia-modprobe.conf");
    assert_eq!(m["package"], "nvidia-kernel-support");
    assert_eq!(m["package_digest_match"], "1");
    // Libraries hashed when asked: match their md5sums.
    let cuda = by_path["/usr/lib/x86_64-linux-gnu/libcuda.so.1"];
    assert_eq!(cuda["package"], "libcuda1");
    assert_eq!(cuda["package_digest_match"], "1");
    assert_eq!(cuda["sha256"].len(), 64);
    assert_eq!(
        cuda["target"],
        "/usr/lib/x86_64-linux-gnu/libcuda.so.535.183.01"
    );
    // A DKMS-built module belongs to no package: unknown, not a mismatch.
    let ko = by_path["/lib/modules/6.1.0-21-amd64/updates/dkms/nvidia-current.ko"];
    assert!(!ko.contains_key("package"));
    assert_eq!(ko["package_digest_match"], "-1");
    let icd = by_path["/usr/share/vulkan/icd.d/nvidia_icd.json"];
    assert_eq!(
        icd["library"],
        "/usr/lib/x86_64-linux-gnu/nvidia/current/libGLX_nvidia.so.535.183.01"
    );
    assert_eq!(icd["mode"], "0644");
    assert!(rows.iter().all(|r| r["status"] == "ok"), "{rows:#?}");
}

#[test]
fn every_rule_fires_on_its_attack_and_not_on_its_twin() {
    for case in cases() {
        let ctx = QueryContext::all().with("path", Operator::Equals, case.path);
        let bad = FakeHost::new();
        plant_legit_driver(&bad, 1024);
        (case.attack)(&bad);
        let rows = generate(&table(&bad), &ctx);
        assert!(
            rows.iter().all(|r| r["path"] == case.path),
            "{}: rows keep the constrained path",
            case.rule_id
        );
        let hit = rows
            .iter()
            .find(|r| r.get("rule_id").map(String::as_str) == Some(case.rule_id))
            .unwrap_or_else(|| panic!("{} did not fire on {}: {rows:#?}", case.rule_id, case.path));
        assert!(!hit["finding"].is_empty() && !hit["severity"].is_empty());

        let good = FakeHost::new();
        plant_legit_driver(&good, 1024);
        (case.twin)(&good);
        let rows = generate(&table(&good), &ctx);
        // A twin that edits a conffile legitimately is still a modified
        // conffile (low, and its own case); nothing else may fire.
        let ids: Vec<_> = rows
            .iter()
            .filter_map(|r| r.get("rule_id"))
            .filter(|id| *id != "package-conffile-modified")
            .collect();
        assert!(ids.is_empty(), "{} twin raised {ids:?}", case.rule_id);
    }
}

#[test]
fn every_rule_in_the_rule_file_has_a_case() {
    let covered: std::collections::BTreeSet<&str> = cases().iter().map(|c| c.rule_id).collect();
    for r in &squatch::gpu::rules::builtin().rules {
        assert!(
            covered.contains(r.id.as_str()),
            "rule {} has no attack/twin case",
            r.id
        );
    }
}

#[test]
fn seed_attack_and_its_twin() {
    let bad = FakeHost::new();
    plant_legit_driver(&bad, 1024);
    plant_seed_attack(&bad);
    let rows = generate(
        &table(&bad),
        &QueryContext::all().using(&["path", "rule_id", "severity"]),
    );
    let f = findings(&rows);
    for (path, rule) in [
        ("/etc/ld.so.preload", "ld-preload-entry"),
        (
            "/etc/modprobe.d/nvidia-persist.conf",
            "modprobe-install-command",
        ),
        (
            "/etc/vulkan/implicit_layer.d/nv_telemetry.json",
            "icd-library-temp",
        ),
    ] {
        assert!(
            f.contains(&(path.to_string(), rule.to_string())),
            "{path} {rule}: {f:?}"
        );
    }
    assert_eq!(f.len(), 3, "{f:?}");
    assert!(rows
        .iter()
        .filter(|r| r.contains_key("rule_id"))
        .all(|r| r["severity"] == "high"));

    let good = FakeHost::new();
    plant_legit_driver(&good, 1024);
    plant_seed_benign_twin(&good);
    let rows = generate(&table(&good), &QueryContext::all());
    assert!(findings(&rows).is_empty(), "{:?}", findings(&rows));
    assert!(rows
        .iter()
        .any(|r| r["path"] == "/etc/modprobe.d/nvidia-persist.conf"));
}

#[test]
fn category_constraint_scans_only_that_category_and_hashes_only_when_asked() {
    let fh = FakeHost::new();
    plant_legit_driver(&fh, 1024);
    let t = table(&fh);
    let rows = generate(
        &t,
        &QueryContext::all()
            .with("category", Operator::Equals, "library")
            .using(&["path", "category", "size"]),
    );
    assert!(rows.len() > 10);
    assert!(rows.iter().all(|r| r["category"] == "library"));
    assert!(rows.iter().all(|r| !r.contains_key("sha256")));
    assert!(
        t.caches().digests.is_empty(),
        "no library hashed without sha256"
    );
    let rows = generate(
        &t,
        &QueryContext::all()
            .with("category", Operator::Equals, "library")
            .using(&["path", "sha256"]),
    );
    assert!(rows.iter().all(|r| r["sha256"].len() == 64));
    let n = t.caches().digests.len();
    assert!(n > 10);
    // Repeat: served from the cache.
    generate(&t, &QueryContext::all().using(&["path", "sha256"]));
    let before = t.caches().digests.len();
    generate(&t, &QueryContext::all().using(&["path", "sha256"]));
    assert_eq!(t.caches().digests.len(), before);
}

#[test]
fn unreadable_and_hostile_files_give_rows_not_errors() {
    let fh = FakeHost::new();
    plant_legit_driver(&fh, 256);
    // A FIFO where a manifest should be, a symlink loop, a huge file.
    let fifo = fh.real(Path::new("/usr/share/vulkan/icd.d/zz_fifo.json"));
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: c is a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
    fh.symlink("loop2.json", "/usr/share/vulkan/icd.d/loop1.json");
    fh.symlink("loop1.json", "/usr/share/vulkan/icd.d/loop2.json");
    fh.write("/etc/cdi/huge.json", vec![b' '; 2 * 1024 * 1024]);
    fh.write(
        "/etc/cdi/bomb.yaml",
        "a: &a [x, x]\nb: &b [*a, *a]\nc: [*b, *b]\n",
    );
    // Masked units and configs (links to /dev/null) load nothing.
    fh.symlink("/dev/null", "/etc/systemd/system/nvidia-powerd.service");
    fh.symlink("/dev/null", "/etc/modprobe.d/nvidia-blacklist.conf");
    let rows = generate(&table(&fh), &QueryContext::all());
    let status = |p: &str| {
        rows.iter()
            .find(|r| r["path"] == p)
            .map(|r| r["status"].clone())
            .unwrap_or_default()
    };
    assert!(status("/usr/share/vulkan/icd.d/loop1.json").contains("unreadable"));
    assert!(status("/etc/cdi/huge.json").contains("unreadable"));
    assert!(rows.iter().any(|r| r["path"] == "/etc/cdi/bomb.yaml"
        && r.get("rule_id").map(String::as_str) == Some("icd-manifest-unreadable")));
    // The FIFO is not a regular file: skipped by the inventory's listing or
    // reported, never read.
    assert!(status("/usr/share/vulkan/icd.d/zz_fifo.json").is_empty());
    assert!(status("/etc/systemd/system/nvidia-powerd.service").is_empty());
    assert!(status("/etc/modprobe.d/nvidia-blacklist.conf").is_empty());
    assert!(!rows
        .iter()
        .any(|r| r["path"].ends_with("nvidia-blacklist.conf")));
}

#[test]
fn rpm_database_gives_owner_and_sha256_match() {
    use sha2::{Digest, Sha256};
    let fh = FakeHost::new();
    let lib = fh.write(
        "/usr/lib64/libcuda.so.550.54.15",
        common::gpu::filler(8192, 7),
    );
    fh.symlink("libcuda.so.550.54.15", "/usr/lib64/libcuda.so.1");
    let ml = fh.write(
        "/usr/lib64/libnvidia-ml.so.550.54.15",
        common::gpu::filler(4096, 8),
    );
    let hex = |p: &Path| {
        Sha256::digest(std::fs::read(fh.real(p)).unwrap())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    };
    let good = hex(&lib);
    let _ = hex(&ml);
    let blob = squatch::gpu::rpm::build_header(
        "nvidia-driver-cuda-libs",
        "550.54.15",
        "1.el9",
        &[
            ("/usr/lib64/", "libcuda.so.550.54.15", &good),
            ("/usr/lib64/", "libcuda.so.1", ""),
            ("/usr/lib64/", "libnvidia-ml.so.550.54.15", &"0".repeat(64)),
        ],
    );
    fh.mkdir("/var/lib/rpm");
    let c = rusqlite::Connection::open(fh.real(Path::new("/var/lib/rpm/rpmdb.sqlite"))).unwrap();
    c.execute(
        "CREATE TABLE Packages (hnum INTEGER PRIMARY KEY AUTOINCREMENT, blob BLOB NOT NULL)",
        [],
    )
    .unwrap();
    c.execute("INSERT INTO Packages (blob) VALUES (?1)", [blob])
        .unwrap();
    drop(c);
    let rows = generate(
        &table(&fh),
        &QueryContext::all().with("category", Operator::Equals, "library"),
    );
    let get = |p: &str| rows.iter().find(|r| r["path"] == p).unwrap().clone();
    let link = get("/usr/lib64/libcuda.so.1");
    assert_eq!(link["package"], "nvidia-driver-cuda-libs");
    assert_eq!(link["package_version"], "550.54.15-1.el9");
    assert_eq!(link["package_digest_match"], "1");
    let bad = get("/usr/lib64/libnvidia-ml.so.550.54.15");
    assert_eq!(bad["package_digest_match"], "0");
    assert_eq!(bad["rule_id"], "package-digest-mismatch");
}
