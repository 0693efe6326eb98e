//! SQL through `squatch query --json` on fake hosts: the Python tables as an
//! incident responder (or CI) uses them.

mod common;

use common::FakeHost;
use serde_json::Value;

fn query(fh: &FakeHost, sql: &str) -> Vec<Value> {
    let rows = common::query_json(fh.root(), &[], sql);
    let text = Value::Array(rows.clone()).to_string();
    assert!(!text.contains("FAKE_PASSWORD"), "a secret in the output");
    rows
}

fn host() -> FakeHost {
    let fh = FakeHost::new();
    fh.passwd(&[("alice", 1000, "/home/alice")]);
    let a = fh.venv("/home/alice/proj/.venv", "3.12", false);
    let b = fh.venv("/opt/svc/venv", "3.11", false);
    let d = fh
        .dist(&a, "torch-utilites", "0.1.0")
        .file("torch_utilites/__init__.py", b"import os\n")
        .installer("pip")
        .requested()
        .direct_url(
            r#"{"url":"https://alice:FAKE_PASSWORD@pkgs.example.invalid/t.whl","archive_info":{}}"#,
        )
        .write();
    fh.modify(
        &d.file("torch_utilites/__init__.py"),
        b"import os, socket\n",
    );
    fh.dist(&a, "requests", "2.32.3")
        .file("requests/__init__.py", b"")
        .installer("pip")
        .write();
    fh.dist(&b, "requests", "2.31.0")
        .file("requests/__init__.py", b"")
        .installer("uv")
        .write();
    fh
}

#[test]
fn provenance_json_values_are_strings_and_columns_are_right() {
    let fh = host();
    let rows = query(
        &fh,
        "SELECT name, version, environment, source_kind, direct_url, requested, record_status, files_modified \
         FROM python_package_provenance WHERE environment = '/home/alice/proj/.venv' ORDER BY name",
    );
    assert_eq!(rows.len(), 2);
    let t = &rows[1];
    assert_eq!(t["name"], "torch-utilites");
    assert_eq!(t["source_kind"], "archive");
    assert_eq!(t["direct_url"], "https://pkgs.example.invalid/t.whl");
    assert_eq!(t["requested"], "1");
    assert_eq!(t["record_status"], "modified");
    assert_eq!(t["files_modified"], "1");
    assert_eq!(rows[0]["record_status"], "ok");
}

#[test]
fn environments_join_provenance() {
    let fh = host();
    let rows = query(
        &fh,
        "SELECT e.kind, e.python_version, p.name, p.version, p.installer \
         FROM python_environments e JOIN python_package_provenance p ON p.environment = e.path \
         WHERE p.normalized_name = 'requests' ORDER BY e.path",
    );
    let got: Vec<(String, String, String)> = rows
        .iter()
        .map(|r| {
            (
                r["python_version"].as_str().unwrap().to_string(),
                r["version"].as_str().unwrap().to_string(),
                r["installer"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            ("3.12".into(), "2.32.3".into(), "pip".into()),
            ("3.11".into(), "2.31.0".into(), "uv".into()),
        ]
    );
    let envs = query(
        &fh,
        "SELECT path, kind, package_count FROM python_environments ORDER BY path",
    );
    assert_eq!(envs.len(), 2);
    assert_eq!(envs[0]["package_count"], "2");
    assert_eq!(envs[1]["kind"], "venv");
}

#[test]
fn a_detection_query_finds_the_tampered_typosquat() {
    let fh = host();
    let rows = query(
        &fh,
        "SELECT normalized_name, environment FROM python_package_provenance \
         WHERE record_status IN ('modified', 'missing', 'unrecorded')",
    );
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["normalized_name"], "torch-utilites");
    assert_eq!(rows[0]["environment"], "/home/alice/proj/.venv");
}
