//! `squatch drill plant|watch|report|clean` end to end, through the binary,
//! on fake hosts (`--root`): every expected detection fires with a measured
//! time, clean leaves the tree byte-for-byte as before, a changed file is
//! left and reported, a system environment is refused without --force, and
//! nothing the drill planted is ever run.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Output;

use common::FakeHost;
use sha2::{Digest, Sha256};

/// A name the typosquat scorer flags (transformers with two letters swapped).
const FLAGGED_NAME: &str = "trasnformers";

fn unique_marker(tag: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("SQUATCH-DRILL-{tag}-{}-{nanos}", std::process::id())
}

fn squatch(fh: &FakeHost, state: &Path, args: &[&str]) -> Output {
    common::squatch_command()
        .arg("--root")
        .arg(fh.root())
        .arg("--state-dir")
        .arg(state)
        .args(args)
        .output()
        .expect("run squatch")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Every path under the root with its type and, for files, SHA-256.
fn listing(root: &Path) -> BTreeMap<String, String> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir).unwrap().flatten().collect();
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let p = e.path();
            let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
            let m = std::fs::symlink_metadata(&p).unwrap();
            if m.file_type().is_symlink() {
                out.insert(
                    rel,
                    format!("link {}", std::fs::read_link(&p).unwrap().display()),
                );
            } else if m.is_dir() {
                out.insert(rel, "dir".into());
                walk(root, &p, out);
            } else {
                let d = Sha256::digest(std::fs::read(&p).unwrap());
                out.insert(rel, format!("{d:x}"));
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

/// Fails if any interpreter ever ran the canary with this marker.
fn assert_not_run(marker: &str) {
    if let Ok(text) = std::fs::read_to_string(squatch::drill::DRILL_FILE) {
        assert!(
            !text.contains(marker),
            "the canary ran: {} holds the marker",
            squatch::drill::DRILL_FILE
        );
    }
}

fn ml_host() -> FakeHost {
    let fh = FakeHost::new();
    fh.passwd(&[("alice", 1000, "/home/alice")]);
    let site = fh.venv("/home/alice/ml/.venv", "3.12", false);
    fh.dist(&site, "torch", "2.5.0")
        .file("torch/__init__.py", b"__version__ = '2.5.0'\n")
        .installer("pip")
        .write();
    fh
}

fn report_json(fh: &FakeHost, state: &Path, target: &[&str]) -> serde_json::Value {
    let mut args = vec!["drill", "report", "--json"];
    args.extend_from_slice(target);
    let o = squatch(fh, state, &args);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).expect("report --json is JSON")
}

fn detection<'a>(r: &'a serde_json::Value, id: &str) -> &'a serde_json::Value {
    r["detections"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["id"] == id)
        .unwrap_or_else(|| panic!("no detection {id} in {r}"))
}

const IDS: [&str; 5] = [
    "typosquat_name",
    "pth_finding",
    "setup_py_finding",
    "provenance_canary",
    "requirements_gate",
];

#[test]
fn drill_in_a_discovered_venv_fires_everything_and_cleans_byte_for_byte() {
    let fh = ml_host();
    let state = tempfile::tempdir().unwrap();
    let marker = unique_marker("ENV");
    let before = listing(fh.root());
    let target = ["--env", "/home/alice/ml/.venv"];

    let mut plant = vec![
        "drill",
        "plant",
        "--name",
        FLAGGED_NAME,
        "--marker",
        &marker,
    ];
    plant.extend_from_slice(&target);
    let o = squatch(&fh, state.path(), &plant);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(stdout(&o).contains("nothing was run"));
    // The manifest is under the state dir, not in the environment.
    assert!(!listing(fh.root())
        .keys()
        .any(|k| k.contains("squatch-drill.json")));
    assert!(walk_has(state.path(), "manifest.json"));
    // Every planted file carries the marker (RECORD and REQUESTED aside).
    let site = Path::new("/home/alice/ml/.venv/lib/python3.12/site-packages");
    let pth = std::fs::read_to_string(fh.real(&site.join("trasnformers_drill.pth"))).unwrap();
    assert!(pth.contains(&marker) && pth.contains("SECURITY DRILL"));

    let mut watch = vec!["drill", "watch", "--timeout", "60", "--poll", "1"];
    watch.extend_from_slice(&target);
    let o = squatch(&fh, state.path(), &watch);
    let out = stdout(&o);
    assert!(
        o.status.success(),
        "watch: {out}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(out.contains("gaps: none"), "{out}");

    let r = report_json(&fh, state.path(), &target);
    assert_eq!(r["environment_discovered"], true);
    for id in IDS {
        let d = detection(&r, id);
        assert_eq!(d["fired"], true, "{id}: {d}");
        let secs = d["seconds"].as_f64().expect("a measured time");
        assert!((0.0..60.0).contains(&secs), "{id}: {secs}");
    }
    for id in ["typosquat_name", "pth_finding", "provenance_canary"] {
        assert_eq!(detection(&r, id)["scope"], "host-wide", "{id}");
    }
    assert_eq!(detection(&r, "setup_py_finding")["scope"], "path");
    assert_eq!(detection(&r, "requirements_gate")["scope"], "ci-gate");
    assert_eq!(
        detection(&r, "provenance_canary")["scheduled_worst_case_s"],
        300
    );
    // typosquat_installed and the .pth queries run hourly in the packs.
    assert_eq!(r["worst_case_s"], 3600);
    assert!(r["gaps"].as_array().unwrap().is_empty());

    let mut md = vec!["drill", "report", "--markdown"];
    md.extend_from_slice(&target);
    let o = squatch(&fh, state.path(), &md);
    let text = stdout(&o);
    assert!(text.contains("# Security drill post-mortem") && text.contains("## Action items"));

    let mut clean = vec!["drill", "clean"];
    clean.extend_from_slice(&target);
    let o = squatch(&fh, state.path(), &clean);
    assert!(o.status.success(), "{}", stdout(&o));
    assert!(stdout(&o).contains("nothing left"));
    assert_eq!(listing(fh.root()), before, "clean restores the tree");
    assert!(!walk_has(state.path(), "manifest.json"));
    assert_not_run(&marker);
}

fn walk_has(dir: &Path, name: &str) -> bool {
    listing(dir).keys().any(|k| k.ends_with(name))
}

#[test]
fn default_scratch_is_found_only_directly_and_that_is_a_gap() {
    let fh = ml_host();
    let state = tempfile::tempdir().unwrap();
    let marker = unique_marker("SCRATCH");
    let before = listing(fh.root());

    let o = squatch(
        &fh,
        state.path(),
        &[
            "drill",
            "plant",
            "--name",
            FLAGGED_NAME,
            "--marker",
            &marker,
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(fh
        .real(Path::new("/tmp/squatch-drill/squatch-drill.json"))
        .is_file());

    let o = squatch(
        &fh,
        state.path(),
        &["drill", "watch", "--timeout", "60", "--poll", "1"],
    );
    assert_eq!(o.status.code(), Some(1), "a gap exits 1: {}", stdout(&o));

    let r = report_json(&fh, state.path(), &[]);
    assert_eq!(r["environment_discovered"], false);
    for id in IDS {
        let d = detection(&r, id);
        assert_eq!(d["fired"], true, "{id}: {d}");
        assert!(d["seconds"].as_f64().is_some(), "{id}");
    }
    for id in ["typosquat_name", "pth_finding", "provenance_canary"] {
        assert_eq!(detection(&r, id)["scope"], "direct", "{id}");
        assert!(detection(&r, id)["scheduled_worst_case_s"].is_null());
    }
    let gaps: Vec<String> = r["gaps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g.as_str().unwrap().to_string())
        .collect();
    assert!(
        gaps.iter()
            .any(|g| g.contains("does not find the planted environment /tmp/squatch-drill/venv")),
        "{gaps:?}"
    );
    assert_eq!(gaps.len(), 4, "discovery plus three direct-only: {gaps:?}");

    let o = squatch(&fh, state.path(), &["drill", "clean"]);
    assert!(o.status.success(), "{}", stdout(&o));
    assert_eq!(listing(fh.root()), before, "clean restores the tree");
    assert_not_run(&marker);
}

#[test]
fn a_file_changed_after_planting_is_left_and_reported() {
    let fh = ml_host();
    let state = tempfile::tempdir().unwrap();
    let marker = unique_marker("CHANGED");
    let target = ["--scratch", "/srv/drill-scratch"];
    let mut plant = vec!["drill", "plant", "--marker", &marker];
    plant.extend_from_slice(&target);
    let o = squatch(&fh, state.path(), &plant);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let pth =
        Path::new("/srv/drill-scratch/venv/lib/python3.12/site-packages/pytorch_utilz_drill.pth");
    fh.modify(pth, b"import os  # someone edited the drill's file\n");

    let mut clean = vec!["drill", "clean"];
    clean.extend_from_slice(&target);
    let o = squatch(&fh, state.path(), &clean);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(
        out.contains("LEFT") && out.contains(&pth.display().to_string()),
        "{out}"
    );
    assert!(out.contains("changed since planting"), "{out}");
    assert!(fh.real(pth).is_file(), "the changed file stays");
    assert!(!fh
        .real(Path::new("/srv/drill-scratch/requirements.txt"))
        .exists());
    // The manifest stays so that clean can run again.
    assert!(fh
        .real(Path::new("/srv/drill-scratch/squatch-drill.json"))
        .is_file());
    assert_not_run(&marker);
}

#[test]
fn a_system_environment_is_refused_without_force() {
    let fh = ml_host();
    let site = fh.system_site("/usr/lib/python3/dist-packages");
    fh.dist(&site, "six", "1.16.0")
        .file("six.py", b"# six\n")
        .installer("debian")
        .write();
    let state = tempfile::tempdir().unwrap();
    let marker = unique_marker("SYSTEM");
    let before = listing(fh.root());
    let env = site.to_string_lossy().into_owned();

    let o = squatch(
        &fh,
        state.path(),
        &["drill", "plant", "--env", &env, "--marker", &marker],
    );
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("system environment") && err.contains("--force"),
        "{err}"
    );
    assert_eq!(listing(fh.root()), before, "nothing written");

    let o = squatch(
        &fh,
        state.path(),
        &[
            "drill", "plant", "--env", &env, "--marker", &marker, "--force",
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_ne!(listing(fh.root()), before);
    let o = squatch(&fh, state.path(), &["drill", "clean", "--env", &env]);
    assert!(o.status.success(), "{}", stdout(&o));
    assert_eq!(listing(fh.root()), before);
    assert_not_run(&marker);
}

#[test]
fn plant_never_overwrites_and_rejects_bad_names() {
    let fh = ml_host();
    let state = tempfile::tempdir().unwrap();
    let site = Path::new("/home/alice/ml/.venv/lib/python3.12/site-packages");
    fh.write(site.join("pytorch_utilz_drill.pth"), b"# someone else's\n");
    let before = listing(fh.root());
    let o = squatch(
        &fh,
        state.path(),
        &["drill", "plant", "--env", "/home/alice/ml/.venv"],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("never overwrites"));
    assert_eq!(listing(fh.root()), before);

    for bad in [
        vec!["--name", "../evil"],
        vec!["--marker", "a'b"],
        vec!["--dns-canary", "x\"; import os"],
    ] {
        let mut args = vec!["drill", "plant"];
        args.extend(bad);
        let o = squatch(&fh, state.path(), &args);
        assert_eq!(o.status.code(), Some(2));
    }
    assert_eq!(listing(fh.root()), before);
}
