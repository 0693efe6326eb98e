//! No secret value ever comes out: every squatch table, `squatch tables`,
//! `--verbose` and trace logging, every output format and the error paths
//! this host can trigger, run through the real binary on the fake host with
//! every credential kind. Neither a planted value nor any 12-character piece
//! of one may appear in stdout or stderr.

mod common;

use std::path::Path;

use common::secrets::{github_pat, hf_token, opaque, plant_every_kind};
use common::FakeHost;

struct Run {
    args: Vec<String>,
    stdout: String,
    stderr: String,
    ok: bool,
}

fn squatch(fh: &FakeHost, state: &Path, extra_env: &[(&str, &str)], args: &[&str]) -> Run {
    let mut cmd = common::squatch_command();
    cmd.arg("--root")
        .arg(fh.root())
        .arg("--state-dir")
        .arg(state)
        .args(args)
        .env_remove("RUST_LOG")
        .env_remove("SQUATCH_FINGERPRINT_KEY");
    for (k, v) in extra_env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run squatch");
    Run {
        args: args.iter().map(|s| s.to_string()).collect(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        ok: out.status.success(),
    }
}

/// Every 12-character window of a value.
fn pieces(v: &str) -> Vec<&str> {
    let idx: Vec<usize> = v.char_indices().map(|(i, _)| i).chain([v.len()]).collect();
    if idx.len() <= 12 {
        return vec![v];
    }
    (0..idx.len() - 12)
        .map(|i| &v[idx[i]..idx[i + 12]])
        .collect()
}

#[test]
fn no_planted_value_nor_a_piece_of_one_is_ever_printed() {
    let fh = FakeHost::new();
    let mut planted = plant_every_kind(&fh);
    // URL-shaped metadata in an installed package: a password in home_page,
    // tokens in direct_url's path, query and fragment.
    let site = fh.venv("/home/alice/proj/.venv", "3.12", false);
    let home_pw = opaque(90, 22);
    let path_tok = hf_token(91);
    let query_tok = github_pat(92);
    let frag_tok = opaque(93, 30);
    for v in [&home_pw, &path_tok, &query_tok, &frag_tok] {
        planted.values.push(v.clone());
    }
    fh.dist(&site, "private-helper", "1.0")
        .field(
            "Home-page",
            &format!("https://alice:{home_pw}@home.example.invalid/helper"),
        )
        .direct_url(&format!(
            r#"{{"url":"https://pkgs.example.invalid/{path_tok}/simple/private_helper-1.0-py3-none-any.whl?q={query_tok}#token={frag_tok}","archive_info":{{}}}}"#
        ))
        .installer("pip")
        .write();

    let state = tempfile::tempdir().unwrap();
    let st = state.path();
    let bad_key = st.join("missing.key");
    let inside_state = fh.real(Path::new("/var/lib/squatch"));
    let sql_file = st.join("q.sql");
    std::fs::write(
        &sql_file,
        "SELECT source, pid, variable, secret_kind, fingerprint, cmdline, note FROM secret_exposure;\nSELECT name, direct_url, home_page FROM python_package_provenance;\n",
    )
    .unwrap();

    let mut runs = Vec::new();
    runs.push(squatch(&fh, st, &[], &["tables"]));
    runs.push(squatch(&fh, st, &[], &["tables", "--json"]));
    let listed = squatch(&fh, st, &[], &["tables", "--json"]);
    let tables: Vec<String> = serde_json::from_str::<serde_json::Value>(&listed.stdout)
        .unwrap()
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_string())
        .collect();
    assert!(tables.contains(&"secret_exposure".to_string()));
    for t in &tables {
        let sql = format!("SELECT * FROM {t}");
        for fmt in ["--json", "--csv", "--line", "--pretty-default"] {
            let mut args = vec!["-v", "query"];
            if fmt != "--pretty-default" {
                args.push(fmt);
            }
            args.push(&sql);
            runs.push(squatch(&fh, st, &[], &args));
        }
    }
    // A required constraint on a variants target, trace logging on the secret table.
    runs.push(squatch(
        &fh,
        st,
        &[],
        &[
            "query",
            "--json",
            "SELECT * FROM python_typosquat_variants WHERE target = 'torch'",
        ],
    ));
    runs.push(squatch(
        &fh,
        st,
        &[("RUST_LOG", "trace")],
        &["-v", "query", "--json", "SELECT * FROM secret_exposure"],
    ));
    for q in [
        "SELECT * FROM secret_exposure WHERE pid = 4242",
        "SELECT * FROM secret_exposure WHERE pid IN (4300, 4400, 4500, 4600, 4700, 999999)",
        "SELECT * FROM secret_exposure WHERE pid = 'abc'",
        "SELECT * FROM secret_exposure WHERE path = '/home/alice/.aws/credentials'",
        "SELECT * FROM secret_exposure WHERE path = '/proc/4300/environ'",
        "SELECT * FROM secret_exposure WHERE path = '/home/alice/proj/.env'",
        "SELECT * FROM secret_exposure WHERE path = '/nonexistent'",
        "SELECT * FROM secret_exposure WHERE path = '/proc'",
        "SELECT * FROM secret_exposure WHERE path = CAST(X'2F70726F632F' AS TEXT)",
        "SELECT s.variable, p.name FROM secret_exposure s, python_package_provenance p",
        "SELECT * FROM secret_exposure WHERE fingerprint = 'x'",
        "SELEC broken",
        "SELECT * FROM no_such_table",
    ] {
        runs.push(squatch(&fh, st, &[], &["-v", "query", "--json", q]));
    }
    runs.push(squatch(
        &fh,
        st,
        &[],
        &["-v", "query", "-f", sql_file.to_str().unwrap()],
    ));
    runs.push(squatch(
        &fh,
        st,
        &[],
        &["-v", "query", "-f", "/nonexistent/q.sql"],
    ));
    runs.push(squatch(
        &fh,
        st,
        &[],
        &[
            "-v",
            "--fingerprint-key",
            bad_key.to_str().unwrap(),
            "query",
            "SELECT * FROM secret_exposure",
        ],
    ));
    runs.push(squatch(
        &fh,
        &inside_state,
        &[],
        &["-v", "query", "SELECT * FROM secret_exposure"],
    ));
    let sock = st.join("none.sock");
    runs.push(squatch(
        &fh,
        st,
        &[],
        &["-v", "--socket", sock.to_str().unwrap(), "--timeout", "1"],
    ));

    // The runs did what they should (so the leak check is not vacuous).
    let secret_json = runs
        .iter()
        .find(|r| r.args == ["-v", "query", "--json", "SELECT * FROM secret_exposure"])
        .expect("secret table run");
    assert!(secret_json.ok, "{}", secret_json.stderr);
    let rows: serde_json::Value = serde_json::from_str(&secret_json.stdout).unwrap();
    assert!(rows.as_array().unwrap().len() >= planted.expected.len());
    assert!(
        secret_json.stderr.contains("secret_exposure"),
        "verbose log ran"
    );
    let prov = runs
        .iter()
        .find(|r| {
            r.args
                == [
                    "-v",
                    "query",
                    "--json",
                    "SELECT * FROM python_package_provenance",
                ]
        })
        .unwrap();
    assert!(
        prov.stdout.contains("https://home.example.invalid/helper"),
        "{}",
        prov.stdout
    );
    assert!(prov
        .stdout
        .contains("https://pkgs.example.invalid/REDACTED/simple/"));
    assert!(prov.stdout.contains("#token=REDACTED"));
    assert!(runs.iter().any(|r| !r.ok), "error paths ran");
    let fallback = runs
        .iter()
        .find(|r| r.args.iter().any(|a| a == "--fingerprint-key"))
        .unwrap();
    assert!(
        fallback.stderr.contains("per-run key"),
        "{}",
        fallback.stderr
    );
    assert!(!inside_state.exists(), "nothing written inside --root");

    for r in &runs {
        for v in &planted.values {
            for piece in pieces(v) {
                assert!(
                    !r.stdout.contains(piece) && !r.stderr.contains(piece),
                    "a piece of a planted secret was printed by squatch {:?}",
                    r.args
                );
            }
        }
    }
}

#[test]
fn pieces_cover_every_window() {
    assert_eq!(
        pieces("abcdefghijklm"),
        vec!["abcdefghijkl", "bcdefghijklm"]
    );
    assert_eq!(pieces("short"), vec!["short"]);
}
