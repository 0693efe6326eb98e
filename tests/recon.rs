//! `squatch recon` end to end against a loopback index the test starts
//! (`tests/common/recon.rs`): real HTTP, PEP 691 JSON, never the internet.

mod common;

use std::path::Path;
use std::process::Output;

use common::recon::{dead_index_url, IndexServer, Project};
use common::FakeHost;
use squatch::typosquat::{variants, Index};

fn recon(state: &Path, args: &[&str]) -> Output {
    common::squatch_command()
        .arg("--state-dir")
        .arg(state)
        .arg("recon")
        .args(["--rate", "0"])
        .args(args)
        .env_remove("SQUATCH_RECON_INDEX")
        .output()
        .expect("run squatch")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// `requests` (an organisation's, three releases, one yanked) and `tqdm`
/// (one maintainer, no organisation).
fn projects() -> Vec<Project> {
    let mut requests = Project::new(
        "requests",
        &[
            ("2.30.0", "2023-05-22T15:00:00.000000Z"),
            ("2.31.0", "2023-05-22T16:00:00Z"),
            ("2.32.0", "2024-05-20T10:00:00.123Z"),
        ],
        "nateprewitt",
    );
    requests.releases[2].2 = true;
    requests.organization = Some("psf".into());
    requests
        .roles
        .push(("Maintainer".into(), "graffatcolmingov".into()));
    let tqdm = Project::new("tqdm", &[("4.66.0", "2023-08-10T00:00:00Z")], "casperdcl");
    vec![requests, tqdm]
}

fn requirements(dir: &Path, text: &str) -> String {
    let p = dir.join("requirements.txt");
    std::fs::write(&p, text).unwrap();
    p.to_string_lossy().into_owned()
}

#[test]
fn existing_dependencies_text_json_markdown() {
    let server = IndexServer::start(projects());
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let req = requirements(dir.path(), "requests>=2.31\ntqdm  # progress\n");
    let index = server.simple_url();

    let o = recon(
        &state,
        &[&req, "--index", &index, "--format", "json", "--top", "3"],
    );
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["failed"], false);
    let deps = v["dependencies"].as_array().unwrap();
    assert_eq!(deps.len(), 2);
    let r = &deps[0];
    assert_eq!(r["name"], "requests");
    assert_eq!(r["exists"], true);
    assert_eq!(r["releases"]["releases"], 3);
    assert_eq!(r["releases"]["yanked_files"], 1);
    assert_eq!(r["releases"]["first_upload"], 1_684_767_600);
    assert_eq!(r["maintainers"]["organization"], "psf");
    assert_eq!(r["single_unorganised_maintainer"], false);
    assert_eq!(r["variants"].as_array().unwrap().len(), 3);
    assert!(r["variants"]
        .as_array()
        .unwrap()
        .iter()
        .all(|v| v["registered"] == false));
    let t = &deps[1];
    assert_eq!(t["maintainers"]["roles"][0], "Owner:casperdcl");
    assert_eq!(t["single_unorganised_maintainer"], true);
    // 2 dependencies x (simple page + project JSON + 3 variants).
    assert_eq!(v["requests_sent"], 10);
    assert_eq!(server.requests(), 10);

    // Same question again: every answer comes from the cache.
    let o = recon(&state, &[&req, "--index", &index, "--top", "3"]);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(server.requests(), 10, "the second run sends nothing");
    let text = stdout(&o);
    assert!(
        text.contains("(0 requests, 10 answers from the cache, oldest "),
        "{text}"
    );
    assert!(
        text.contains("requests (") && text.contains("exists"),
        "{text}"
    );
    assert!(
        text.contains(
            "first upload 2023-05-22, last upload 2024-05-20, 3 releases, 1/3 files yanked"
        ),
        "{text}"
    );
    assert!(
        text.contains("single maintainer, no organisation"),
        "{text}"
    );
    assert!(text.contains(" free "), "{text}");

    let o = recon(
        &state,
        &[
            &req, "--index", &index, "--top", "3", "--format", "markdown",
        ],
    );
    let md = stdout(&o);
    assert!(
        md.contains("| dependency | exists | first upload |"),
        "{md}"
    );
    assert!(md.contains("| requests | yes | 2023-05-22 | 2024-05-20 | 3 | 1/3 | org psf; Owner:nateprewitt Maintainer:graffatcolmingov | ok |"), "{md}");
    assert!(md.contains("| tqdm | "), "{md}");
}

#[test]
fn a_dependency_missing_from_the_index_fails() {
    let server = IndexServer::start(projects());
    let dir = tempfile::tempdir().unwrap();
    let req = requirements(dir.path(), "requests\nhuggingface-cli-tools-pro\n");
    let o = recon(
        &dir.path().join("s"),
        &[&req, "--index", &server.simple_url(), "--top", "1"],
    );
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    let text = stdout(&o);
    assert!(text.contains("huggingface-cli-tools-pro ("), "{text}");
    assert!(text.contains("DOES NOT EXIST on the index"), "{text}");
    assert!(text.contains("FAILED:"), "{text}");
}

#[test]
fn a_registered_known_malicious_variant_fails() {
    let bad: Vec<String> = variants(Index::embedded(), "requests")
        .into_iter()
        .filter(|v| v.known_malicious.is_some())
        .map(|v| v.variant)
        .collect();
    assert!(!bad.is_empty());
    let mut ps = projects();
    for b in &bad {
        ps.push(Project::new(
            b,
            &[("0.0.1", "2024-01-02T03:04:05Z")],
            "mallory",
        ));
    }
    let server = IndexServer::start(ps);
    let dir = tempfile::tempdir().unwrap();
    let req = requirements(dir.path(), "requests\n");
    let o = recon(
        &dir.path().join("s"),
        &[
            &req,
            "--index",
            &server.simple_url(),
            "--top",
            "2",
            "--format",
            "json",
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let first = &v["dependencies"][0]["variants"][0];
    assert_eq!(first["registered"], true);
    assert!(first["known_malicious"]
        .as_str()
        .unwrap()
        .starts_with("MAL-"));
    assert!(v["failures"][0]
        .as_str()
        .unwrap()
        .contains("registered and known malicious"));
}

#[test]
fn budget_exhaustion_leaves_names_unchecked() {
    let server = IndexServer::start(projects());
    let dir = tempfile::tempdir().unwrap();
    let req = requirements(dir.path(), "requests\ntqdm\n");
    let o = recon(
        &dir.path().join("s"),
        &[
            &req,
            "--index",
            &server.simple_url(),
            "--max-requests",
            "3",
            "--format",
            "json",
        ],
    );
    assert_eq!(o.status.code(), Some(2), "{}", stdout(&o));
    assert_eq!(server.requests(), 3);
    assert!(
        stderr(&o).contains("request budget spent"),
        "{}",
        stderr(&o)
    );
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["budget_spent"], true);
    assert_eq!(v["dependencies"][1]["exists"], serde_json::Value::Null);
    assert!(v["dependencies"][1]["status"]
        .as_str()
        .unwrap()
        .contains("budget"));
}

#[test]
fn unreachable_index_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let req = requirements(dir.path(), "requests\n");
    let o = recon(&dir.path().join("s"), &[&req, "--index", &dead_index_url()]);
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(
        e.contains("cannot reach the package index at http://127.0.0.1:"),
        "{e}"
    );
    assert!(stdout(&o).is_empty());
}

#[test]
fn installed_distributions_when_no_file_is_given() {
    let server = IndexServer::start(projects());
    let fh = FakeHost::new();
    let site = fh.venv("/opt/app/.venv", "3.12", false);
    fh.dist(&site, "tqdm", "4.66.0").write();
    let state = tempfile::tempdir().unwrap();
    let o = common::squatch_command()
        .arg("--root")
        .arg(fh.root())
        .arg("--state-dir")
        .arg(state.path())
        .args([
            "recon",
            "--rate",
            "0",
            "--top",
            "0",
            "--index",
            &server.simple_url(),
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    let text = stdout(&o);
    assert!(text.contains("tqdm (installed): exists"), "{text}");
    assert!(
        !fh.root().join("recon").exists(),
        "nothing written inside --root"
    );
}

#[test]
fn index_credentials_never_reach_output_cache_or_errors() {
    let server = IndexServer::start(projects());
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("s");
    let req = requirements(dir.path(), "tqdm\n");
    let secret = "s3cr3t-index-token";
    let index = server
        .simple_url()
        .replace("http://", &format!("http://bob:{secret}@"));
    let o = recon(
        &state,
        &[&req, "--index", &index, "--top", "1", "--format", "json"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(!stdout(&o).contains(secret) && !stderr(&o).contains(secret));
    for f in std::fs::read_dir(state.join("recon")).unwrap() {
        let text = std::fs::read_to_string(f.unwrap().path()).unwrap();
        assert!(!text.contains(secret), "cache holds the credential");
    }
    let dead = dead_index_url().replace("http://", &format!("http://bob:{secret}@"));
    let o = recon(&state, &[&req, "--index", &dead, "--max-age", "0"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("cannot reach the package index"),
        "{}",
        stderr(&o)
    );
    assert!(!stderr(&o).contains(secret), "{}", stderr(&o));
}
