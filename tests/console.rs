//! The responder's console: `squatch shell` on a pseudo-terminal and on a
//! pipe, `squatch tables NAME`, `query --help`, and the error messages that
//! say what to do next.

mod common;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use common::FakeHost;
use rexpect::reader::Options;
use rexpect::session::{spawn_with_options, PtySession};

fn bin() -> Command {
    let mut c = common::squatch_command();
    c.env_remove("SQUATCH_ROOT").env_remove("RUST_LOG");
    c
}

/// `squatch --root ROOT ARGS...`, stdin closed.
fn squatch(root: &Path, args: &[&str]) -> Output {
    bin()
        .arg("--root")
        .arg(root)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A host with one venv holding a typosquat and a real package.
fn host() -> FakeHost {
    let fh = FakeHost::new();
    fh.passwd(&[("alice", 1000, "/home/alice")]);
    let site = fh.venv("/home/alice/proj/.venv", "3.12", false);
    fh.dist(&site, "torch-utilites", "0.1.0")
        .file("torch_utilites/__init__.py", b"import os\n")
        .installer("pip")
        .write();
    fh.dist(&site, "requests", "2.32.3")
        .file("requests/__init__.py", b"")
        .installer("pip")
        .write();
    fh
}

/// Every file under `dir`, to show that nothing was written there.
fn tree(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() && !p.is_symlink() {
                stack.push(p.clone());
            }
            out.push(p);
        }
    }
    out.sort();
    out
}

// ---------------------------------------------------------------------------
// The shell on a terminal
// ---------------------------------------------------------------------------

/// `squatch --root ROOT --state-dir STATE ARGS...` on a pseudo-terminal.
fn spawn_shell(root: &Path, state: &Path, args: &[&str]) -> PtySession {
    let mut c = bin();
    c.arg("--root")
        .arg(root)
        .arg("--state-dir")
        .arg(state)
        .args(args)
        .env("TERM", "xterm");
    let opts = Options::new()
        .timeout_ms(Some(30_000))
        .strip_ansi_escape_codes(true);
    spawn_with_options(c, opts).expect("spawn squatch on a pty")
}

fn prompt(root: &Path) -> String {
    format!("squatch {}> ", root.display())
}

fn expect(p: &mut PtySession, needle: &str) -> String {
    match p.exp_string(needle) {
        Ok(before) => before,
        Err(e) => panic!("waiting for {needle:?}: {e}"),
    }
}

fn exits_cleanly(p: &mut PtySession) {
    p.exp_eof().expect("the shell exits");
    let status = p.process_mut().wait().expect("wait for the shell");
    assert!(
        matches!(status, rexpect::process::WaitStatus::Exited(_, 0)),
        "{status:?}"
    );
}

#[test]
fn shell_on_a_terminal_answers_dot_commands_and_multi_line_sql() {
    let fh = host();
    let before = tree(fh.root());
    let state = tempfile::tempdir().unwrap();
    let state_dir = state.path().join("squatch");
    let root = fh.root().to_path_buf();
    let mut p = spawn_shell(&root, &state_dir, &["shell"]);
    expect(&mut p, ".help for help");
    expect(&mut p, &prompt(&root));

    p.send_line(".tables").unwrap();
    let listed = expect(&mut p, "  => python_typosquat_variants");
    assert!(listed.contains("  => python_environments"), "{listed}");
    assert!(
        listed.contains("  => python_package_provenance"),
        "{listed}"
    );
    expect(&mut p, &prompt(&root));

    p.send_line(".schema python_typosquat_variants").unwrap();
    expect(
        &mut p,
        "CREATE TABLE python_typosquat_variants(`target` TEXT, `variant` TEXT",
    );
    expect(&mut p, &prompt(&root));

    p.send_line(".mode json").unwrap();
    expect(&mut p, &prompt(&root));
    // One statement over three lines: the shell waits for the `;`.
    p.send_line("SELECT name, version").unwrap();
    expect(&mut p, "...> ");
    p.send_line("  FROM python_package_provenance").unwrap();
    expect(&mut p, "...> ");
    p.send_line("  WHERE name = 'torch-utilites';").unwrap();
    expect(&mut p, r#"{"name":"torch-utilites","version":"0.1.0"}"#);
    expect(&mut p, &prompt(&root));

    p.send_line("SELECT * FROM python_packages;").unwrap();
    // (rexpect reads bytes one by one as chars: match around the em dash.)
    expect(&mut p, "Error: no such table: python_packages ");
    expect(
        &mut p,
        " that is osquery's built-in table; squatch's is python_package_provenance (see `squatch tables`)",
    );
    expect(&mut p, &prompt(&root));

    p.send_line(".quit").unwrap();
    exits_cleanly(&mut p);

    let history = std::fs::read_to_string(state_dir.join("shell_history")).unwrap();
    assert!(
        history.contains(
            "SELECT name, version FROM python_package_provenance WHERE name = 'torch-utilites';"
        ),
        "{history}"
    );
    assert!(history.contains(".mode json"), "{history}");
    assert_eq!(tree(fh.root()), before, "the shell wrote inside --root");
}

#[test]
fn ctrl_c_cancels_the_running_query_and_the_shell_stays() {
    let root = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    let mut p = spawn_shell(root.path(), state.path(), &["shell"]);
    let prompt = prompt(root.path());
    expect(&mut p, &prompt);
    p.send_line(".mode csv").unwrap();
    expect(&mut p, &prompt);
    // The first row comes at once, then the count never ends.
    p.send_line(
        "SELECT 'run' || 'ning' AS x UNION ALL SELECT count(*) FROM \
         (WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c) SELECT n FROM c);",
    )
    .unwrap();
    expect(&mut p, "running");
    std::thread::sleep(Duration::from_millis(300));
    p.send_control('c').unwrap();
    expect(&mut p, "Error: query cancelled (Ctrl-C)");
    expect(&mut p, &prompt);

    // Ctrl-C at the prompt drops a half-typed statement, and the shell goes on.
    p.send_line("SELECT 'never run'").unwrap();
    expect(&mut p, "...> ");
    p.send_control('c').unwrap();
    expect(&mut p, &prompt);
    p.send_line("SELECT 6 * 7 AS answer;").unwrap();
    expect(&mut p, "answer\r\n42\r\n");
    p.send_line(".exit").unwrap();
    exits_cleanly(&mut p);
}

#[test]
fn squatch_alone_on_a_terminal_is_the_shell_and_history_is_optional() {
    let root = tempfile::tempdir().unwrap();
    // A state directory that cannot exist (below a regular file): no
    // history, no error.
    let blocker = tempfile::NamedTempFile::new().unwrap();
    let state = blocker.path().join("state");
    let mut p = spawn_shell(root.path(), &state, &[]);
    let before = expect(&mut p, &prompt(root.path()));
    assert!(!before.contains("Error"), "{before}");
    p.send_line("SELECT 1 + 1 AS two;").unwrap();
    expect(&mut p, "| 2   |");
    p.send_line(".quit").unwrap();
    exits_cleanly(&mut p);
    assert!(!state.exists());
}

// ---------------------------------------------------------------------------
// The shell on a pipe
// ---------------------------------------------------------------------------

fn piped(root: &Path, input: &str) -> Output {
    let state = tempfile::tempdir().unwrap();
    let mut child = bin()
        .arg("--root")
        .arg(root)
        .arg("--state-dir")
        .arg(state.path())
        .arg("shell")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        tree(state.path()).is_empty(),
        "a pipe keeps no history: {:?}",
        tree(state.path())
    );
    out
}

#[test]
fn piped_shell_prints_only_results() {
    let fh = host();
    let out = piped(
        fh.root(),
        ".tables\n.schema python_typosquat_variants\n.mode json\n\
         SELECT name, version\n  FROM python_package_provenance\n  WHERE name = 'torch-utilites';\n\
         .quit\nSELECT 'after quit';\n",
    );
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(out.stderr.is_empty(), "{}", text(&out.stderr));
    let mut lines = stdout.lines();
    let tables: Vec<&str> = lines
        .by_ref()
        .take_while(|l| l.starts_with("  => "))
        .collect();
    assert!(
        tables.contains(&"  => python_package_provenance"),
        "{stdout}"
    );
    let schema = stdout
        .lines()
        .find(|l| l.starts_with("CREATE TABLE"))
        .unwrap();
    assert!(
        schema.starts_with("CREATE TABLE python_typosquat_variants(`target` TEXT"),
        "{schema}"
    );
    let json_start = stdout.find('[').unwrap();
    let v: serde_json::Value = serde_json::from_str(&stdout[json_start..]).unwrap();
    assert_eq!(
        v,
        serde_json::json!([{"name": "torch-utilites", "version": "0.1.0"}])
    );
    assert!(!stdout.contains("squatch>") && !stdout.contains("after quit"));
}

#[test]
fn piped_shell_reports_every_error_and_exits_non_zero() {
    let fh = host();
    let out = piped(
        fh.root(),
        "SELECT * FROM python_packages;\n\
         SELECT * FROM python_typosquat_variants;\n\
         ;\n\
         .schema python_enviroments\n\
         .mode yaml\n\
         .frobnicate\n\
         SELECT 'still running' AS s;\n",
    );
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    for needle in [
        "Error: no such table: python_packages — that is osquery's built-in table; squatch's is python_package_provenance (see `squatch tables`)",
        "Error: table python_typosquat_variants requires a constraint on column target (WHERE target = ...); for example: SELECT * FROM python_typosquat_variants WHERE target = 'torch';",
        "Error: empty statement",
        "Error: no such table: python_enviroments — did you mean python_environments? (see `squatch tables`)",
        "Error: unknown mode yaml: use pretty, line, csv or json",
        "Error: unknown command .frobnicate: .help lists the commands",
    ] {
        assert!(err.contains(needle), "missing {needle:?} in:\n{err}");
    }
    assert!(text(&out.stdout).contains("| still running |"));
}

// ---------------------------------------------------------------------------
// `squatch query` errors and help
// ---------------------------------------------------------------------------

#[test]
fn unknown_tables_name_the_nearest_squatch_table() {
    let root = tempfile::tempdir().unwrap();
    let cases = [
        (
            "SELECT * FROM python_packages",
            "no such table: python_packages — that is osquery's built-in table; squatch's is python_package_provenance (see `squatch tables`)",
        ),
        (
            "SELECT name FROM python_enviroments",
            "no such table: python_enviroments — did you mean python_environments? (see `squatch tables`)",
        ),
        (
            "SELECT * FROM users",
            "no such table: users — that is osquery's built-in table, which squatch does not serve",
        ),
        (
            "SELECT * FROM nothing_like_it",
            "no such table: nothing_like_it — `squatch tables` lists squatch's tables",
        ),
    ];
    for (sql, message) in cases {
        let out = squatch(root.path(), &["query", sql]);
        assert_eq!(out.status.code(), Some(1), "{sql}");
        let err = text(&out.stderr);
        assert!(err.contains(message), "{sql}: {err}");
        assert!(out.stdout.is_empty());
    }
}

#[test]
fn a_missing_required_constraint_names_the_column_and_an_example_that_runs() {
    let root = tempfile::tempdir().unwrap();
    let out = squatch(
        root.path(),
        &["query", "SELECT variant FROM python_typosquat_variants"],
    );
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    let example = err
        .split("for example: ")
        .nth(1)
        .unwrap_or_else(|| panic!("no example in {err}"))
        .trim();
    assert!(
        err.contains("requires a constraint on column target (WHERE target = ...)"),
        "{err}"
    );
    let ran = squatch(root.path(), &["query", "--json", example]);
    assert!(ran.status.success(), "{example}: {}", text(&ran.stderr));
    let rows: serde_json::Value = serde_json::from_slice(&ran.stdout).unwrap();
    assert!(!rows.as_array().unwrap().is_empty());
}

#[test]
fn an_empty_statement_is_an_error() {
    let root = tempfile::tempdir().unwrap();
    for sql in ["", "   ", ";", "-- only a comment\n"] {
        let out = squatch(root.path(), &["query", sql]);
        assert_eq!(out.status.code(), Some(1), "{sql:?}");
        assert!(
            text(&out.stderr).contains("empty statement: nothing to run"),
            "{sql:?}: {}",
            text(&out.stderr)
        );
    }
    let mut child = bin()
        .args(["query", "-f", "-"])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdin.take());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("empty statement"));
}

#[test]
fn query_help_gives_examples_that_run() {
    let fh = host();
    let out = squatch(fh.root(), &["query", "--help"]);
    assert!(out.status.success());
    let help = text(&out.stdout);
    assert!(help.contains("Examples:"), "{help}");
    let mut ran = 0;
    for line in help.lines() {
        let Some(rest) = line.trim().strip_prefix("squatch query ") else {
            continue;
        };
        let json = rest.starts_with("--json ");
        let rest = rest.trim_start_matches("--json ");
        let sql = rest.trim_matches('"');
        let mut args = vec!["query"];
        if json {
            args.push("--json");
        }
        args.push(sql);
        let r = squatch(fh.root(), &args);
        assert!(r.status.success(), "{sql}: {}", text(&r.stderr));
        ran += 1;
    }
    assert!(ran >= 3, "{help}");
}

// ---------------------------------------------------------------------------
// `squatch tables [NAME]`
// ---------------------------------------------------------------------------

#[test]
fn tables_name_shows_stage_constraints_example_and_aligned_columns() {
    let root = tempfile::tempdir().unwrap();
    let out = squatch(root.path(), &["tables", "python_typosquat_variants"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let t = text(&out.stdout);
    assert!(t.starts_with("python_typosquat_variants\n"), "{t}");
    assert!(t.contains("  stage:       Reconnaissance\n"), "{t}");
    assert!(
        t.contains(
            "  narrowed by: target (required: every query gives WHERE target = ... or IN (...))"
        ),
        "{t}"
    );
    assert!(
        t.contains(
            "  example:     SELECT * FROM python_typosquat_variants WHERE target = 'torch';"
        ),
        "{t}"
    );
    // Column lines: the type starts at the same place on every line.
    let lines: Vec<&str> = t
        .lines()
        .skip_while(|l| !l.trim_start().starts_with("column "))
        .collect();
    assert!(lines.len() > 5, "{t}");
    let type_at: Vec<usize> = lines
        .iter()
        .map(|l| {
            ["type ", "TEXT", "INTEGER", "BIGINT", "DOUBLE"]
                .iter()
                .filter_map(|k| l.find(k))
                .min()
                .unwrap()
        })
        .collect();
    assert!(type_at.windows(2).all(|w| w[0] == w[1]), "{t}");

    let json = squatch(root.path(), &["tables", "--json", "python_environments"]);
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 1);
    assert_eq!(v[0]["name"], "python_environments");
    assert_eq!(v[0]["stage"], "Reconnaissance");

    let unknown = squatch(root.path(), &["tables", "python_packages"]);
    assert_eq!(unknown.status.code(), Some(1));
    assert!(
        text(&unknown.stderr).contains("squatch's is python_package_provenance"),
        "{}",
        text(&unknown.stderr)
    );
}

#[test]
fn every_table_listing_is_aligned_and_every_example_runs() {
    let fh = host();
    let out = squatch(fh.root(), &["tables"]);
    assert!(out.status.success());
    let t = text(&out.stdout);
    // Within each table's block, every description starts in one column.
    for block in t.split("\n\n").filter(|b| !b.trim().is_empty()) {
        let widths: Vec<usize> = block
            .lines()
            .skip(1)
            .map(|l| {
                let fields: Vec<&str> = l.split_whitespace().collect();
                // name, type, then flags (optional) and the description
                let ty = fields[1];
                l.find(&format!(" {ty} ")).unwrap()
            })
            .collect();
        assert!(widths.windows(2).all(|w| w[0] == w[1]), "{block}");
    }
    let json = squatch(fh.root(), &["tables", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    for table in v.as_array().unwrap() {
        for ex in table["examples"].as_array().unwrap() {
            let ex = ex.as_str().unwrap();
            let r = squatch(fh.root(), &["query", ex]);
            assert!(r.status.success(), "{ex}: {}", text(&r.stderr));
        }
    }
}
