//! `squatch hunt` through the command line: the report, its exit status, one
//! finding per file content, files without a package, what the report does
//! not cover, and escaping of attacker-chosen values.

mod common;

use std::process::Output;
use std::sync::Arc;

use common::packs::{self as fx, Scene};

fn hunt(scene: &Scene, args: &[&str]) -> Output {
    common::squatch_command()
        .arg("--root")
        .arg(scene.fh.root())
        .arg("--state-dir")
        .arg(scene.fh.root().join("../squatch-state-unused"))
        .arg("hunt")
        .args(args)
        .output()
        .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn json(scene: &Scene, args: &[&str]) -> (serde_json::Value, Option<i32>) {
    let mut a = vec!["--json"];
    a.extend_from_slice(args);
    let o = hunt(scene, &a);
    let v = serde_json::from_str(&stdout(&o)).unwrap_or_else(|e| {
        panic!(
            "{e}: {}\n{}",
            stdout(&o),
            String::from_utf8_lossy(&o.stderr)
        )
    });
    (v, o.status.code())
}

fn findings<'a>(v: &'a serde_json::Value, query: &str) -> Vec<&'a serde_json::Value> {
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["query"] == query)
        .collect()
}

/// The seed scenario: a typosquat whose module steals credentials, a `.pth`
/// that imports it, and a tampered benign package.
fn seed(s: &Scene) {
    let site = fx::venv(s);
    fx::neighbours(s, &site);
    s.fh.dist(&site, "torch-utilites", "0.1.0")
        .file("torch_utilites/__init__.py", b"from . import _core\n")
        .file("torch_utilites/_core.py", fx::PAYLOAD.as_bytes())
        .installer("pip")
        .requested()
        .write();
    s.fh.pth(
        &site,
        "torch_utilites_init.pth",
        "import torch_utilites._core\n",
    );
    let tqdm =
        s.fh.dist(&site, "tqdm", "4.66.0")
            .file("tqdm/__init__.py", b"__all__ = []\n")
            .installer("pip")
            .write();
    s.fh.modify(&tqdm.file("tqdm/__init__.py"), b"import torch_utilites\n");
}

#[test]
fn the_seed_attack_is_reported_by_stage_worst_first_and_exits_1() {
    let s = Scene::new();
    seed(&s);
    let o = hunt(&s, &[]);
    let text = stdout(&o);
    assert_eq!(o.status.code(), Some(1), "{text}");
    assert!(o.stderr.is_empty(), "progress on a pipe: {:?}", o.stderr);
    assert!(text.contains("== Evaluation =="), "{text}");
    assert!(text.contains("torch-utilites"), "{text}");
    assert!(text.contains("What this report does not cover"), "{text}");
    assert!(text.contains("  why:"), "{text}");
    assert!(text.contains("  do:"), "{text}");
    // Worst first: the first severity tag is critical, and no critical comes
    // after a lower one.
    let tags: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix('[').and_then(|l| l.split(']').next()))
        .collect();
    assert_eq!(tags.first(), Some(&"CRITICAL"), "{text}");
    let rank = |t: &str| {
        ["INFO", "LOW", "MEDIUM", "HIGH", "CRITICAL"]
            .iter()
            .position(|x| *x == t)
    };
    assert!(
        tags.windows(2).all(|w| rank(w[0]) >= rank(w[1])),
        "{tags:?}"
    );

    let (v, code) = json(&s, &[]);
    assert_eq!(code, Some(1));
    let squat = findings(&v, "typosquat_installed");
    assert_eq!(squat.len(), 1, "{v:#}");
    assert_eq!(squat[0]["packages"][0], "torch-utilites");
    // The owner of the metadata directory, named from the root's passwd
    // when it has the uid (the fake host's files belong to the test's user).
    assert!(!squat[0]["places"][0]["owner"].as_str().unwrap().is_empty());
    assert!(findings(&v, "install_findings_high")
        .iter()
        .any(|f| f["severity"] == "critical" && f["packages"][0] == "torch-utilites"));
    let changed = findings(&v, "package_record_mismatch");
    assert_eq!(changed.len(), 1);
    assert_eq!(changed[0]["packages"][0], "tqdm");
    let pth = findings(&v, "pth_executable");
    assert_eq!(pth.len(), 1, "{v:#}");
    for f in v["findings"].as_array().unwrap() {
        for benign in ["torch", "requests"] {
            assert!(
                !f["packages"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|p| p == benign),
                "{benign} flagged: {f:#}"
            );
        }
    }
    let secret_free = |t: &str| !t.contains("wJalrXUtnFEMI");
    assert!(secret_free(&text));
}

#[test]
fn a_clean_host_exits_0() {
    let s = Scene::new();
    fx::typosquat_clean(&s);
    fx::record_intact(&s);
    let o = hunt(&s, &[]);
    let text = stdout(&o);
    assert_eq!(o.status.code(), Some(0), "{text}");
    assert!(text.contains(": 0 findings at medium or above"), "{text}");
    // Low findings exist below the default threshold only when asked for.
    let s2 = Scene::new();
    fx::direct_url_install(&s2);
    assert_eq!(hunt(&s2, &[]).status.code(), Some(0));
    let (v, code) = json(&s2, &["--min-severity", "low"]);
    assert_eq!(code, Some(1));
    assert_eq!(findings(&v, "package_direct_url").len(), 1);
}

#[test]
fn one_file_in_two_environments_is_one_finding_listing_both() {
    let s = Scene::new();
    fx::install_payload(&s);
    let (v, code) = json(&s, &[]);
    assert_eq!(code, Some(1));
    let f = findings(&v, "install_findings_high");
    assert_eq!(f.len(), 1, "{v:#}");
    let places = f[0]["places"].as_array().unwrap();
    assert_eq!(places.len(), 2, "{v:#}");
    assert_ne!(places[0]["environment"], places[1]["environment"]);
    assert_eq!(f[0]["sha256"].as_str().unwrap().len(), 64);
    // The same rule hit in both copies is one evidence line, not two.
    assert_eq!(f[0]["details"].as_array().unwrap().len(), 1, "{v:#}");
}

#[test]
fn a_finding_without_a_package_names_its_file() {
    let s = Scene::new();
    fx::pth_unowned(&s);
    let text = stdout(&hunt(&s, &[]));
    let line = text
        .lines()
        .find(|l| l.trim_start().starts_with("package:"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(
        line.contains(
            "unknown (file: /home/alice/ml/.venv/lib/python3.12/site-packages/helper_init.pth)"
        ),
        "{line}"
    );
    let md = stdout(&hunt(&s, &["--markdown"]));
    assert!(
        md.contains("**Package:** unknown (file: `/home/alice"),
        "{md}"
    );
}

#[test]
fn unverifiable_packages_are_listed_as_not_covered() {
    let s = Scene::new();
    fx::record_missing(&s);
    let o = hunt(&s, &[]);
    assert_eq!(o.status.code(), Some(0));
    let text = stdout(&o);
    let tail = text
        .split("What this report does not cover")
        .nth(1)
        .unwrap();
    assert!(tail.contains("helper in /home/alice/ml/.venv"), "{text}");
    let (v, _) = json(&s, &[]);
    assert!(v["not_covered"]
        .as_array()
        .unwrap()
        .iter()
        .any(|g| g["what"].as_str().unwrap().contains("no usable RECORD")));
}

#[test]
fn attacker_chosen_names_cannot_hide_or_rewrite_the_report() {
    let s = Scene::new();
    let site = fx::venv(&s);
    // A file name with a right-to-left override and an escape sequence.
    s.fh.pth(
        &site,
        "zz\u{202e}txt.pth\u{1b}[2J.pth",
        "import os; exec(__import__('base64').b64decode('cHJpbnQoMSk='))\n",
    );
    for args in [&[][..], &["--markdown"][..]] {
        let out = stdout(&hunt(&s, args));
        assert!(
            !out.contains('\u{202e}') && !out.contains('\u{1b}'),
            "{out:?}"
        );
        assert!(
            out.contains("\\u{202e}") && out.contains("\\u{001b}"),
            "{out}"
        );
    }
}

#[test]
fn min_severity_sets_what_exits_1_and_errors_exit_2() {
    let s = Scene::new();
    fx::record_tampered(&s); // medium only
    assert_eq!(hunt(&s, &[]).status.code(), Some(1));
    assert_eq!(hunt(&s, &["--min-severity", "high"]).status.code(), Some(0));
    let o = common::squatch_command()
        .args(["--root", "/nonexistent/squatch-root", "hunt"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let md = stdout(&hunt(&s, &["--markdown"]));
    assert!(md.starts_with("# squatch hunt of "), "{md}");
    assert!(md.contains("## Evaluation") && md.contains("## What this report does not cover"));
}

#[test]
fn an_unreadable_file_is_listed_as_not_covered() {
    let s = Scene::new();
    let site = fx::venv(&s);
    let locked = s.fh.pth(&site, "locked.pth", "import os\n");
    s.fh.chmod(&locked, 0o000);
    let host = Arc::new(s.fh.host());
    let tables = squatch::tables::registry(host.clone());
    let pack = squatch::packs::Pack::embedded().unwrap();
    let report = common::as_unprivileged(&s.fh, || {
        squatch::hunt::hunt(
            &host,
            &tables,
            pack,
            squatch::findings::Severity::Medium,
            false,
        )
    })
    .unwrap();
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    assert!(
        report
            .not_covered
            .iter()
            .any(|g| g.source == "python_install_findings" && g.what.contains("locked.pth")),
        "{:#?}",
        report.not_covered
    );
    let text = squatch::hunt::render_text(&report);
    let tail = text
        .split("What this report does not cover")
        .nth(1)
        .unwrap();
    assert!(
        tail.contains("python_install_findings") && tail.contains("locked.pth"),
        "{text}"
    );
}
