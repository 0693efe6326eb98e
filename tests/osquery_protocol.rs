//! Protocol tests: the `squatch` binary started exactly as osqueryd starts an
//! autoloaded extension (`--socket PATH --timeout N --interval N`), talking
//! osquery's real Thrift protocol over a Unix socket to a fake extension
//! manager written here with the same generated bindings.

use std::collections::BTreeMap;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

mod common;

use common::fake_osquery::{ext_client, generate_request, Manager, UUID};
use squatch::osquery::extension_api::TExtensionSyncClient;

struct Setup {
    _dir: tempfile::TempDir,
    socket: PathBuf,
    /// The host the extension examines (`SQUATCH_ROOT`).
    fake: common::FakeHost,
}

impl Setup {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let fake = common::FakeHost::new();
        fake.passwd(&[("root", 0, "/root")]);
        let socket = dir.path().join("osquery.em");
        Setup {
            _dir: dir,
            socket,
            fake,
        }
    }

    fn root(&self) -> PathBuf {
        self.fake.root().to_path_buf()
    }

    fn ext_socket(&self) -> PathBuf {
        PathBuf::from(format!("{}.{UUID}", self.socket.display()))
    }

    /// Starts the extension the way osqueryd does.
    fn spawn(&self, timeout: u64) -> Child {
        common::squatch_command()
            .arg("--socket")
            .arg(&self.socket)
            .arg("--timeout")
            .arg(timeout.to_string())
            .arg("--interval")
            .arg("1")
            .arg("--verbose")
            .env("SQUATCH_ROOT", self.root())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    }
}

fn wait_until(what: &str, limit: Duration, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        thread::sleep(Duration::from_millis(20));
    }
}

/// Waits for the child to exit (bounded) and returns its status and stderr.
fn wait_exit(mut child: Child, limit: Duration) -> (std::process::ExitStatus, String) {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let mut err = String::new();
            use std::io::Read;
            child
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut err)
                .unwrap();
            return (status, err);
        }
        if start.elapsed() > limit {
            child.kill().unwrap();
            panic!("extension did not exit within {limit:?}");
        }
        thread::sleep(Duration::from_millis(20));
    }
}

fn registered(m: &Manager) -> bool {
    m.registered()
}

fn table_names() -> Vec<String> {
    let out = common::squatch_command()
        .args(["tables", "--json"])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v.as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn registers_every_table_with_name_version_and_columns_then_shuts_down_on_request() {
    let s = Setup::new();
    let m = Manager::new(None);
    m.serve(&s.socket);
    let child = s.spawn(5);
    wait_until("registration", Duration::from_secs(20), || registered(&m));
    wait_until("extension socket", Duration::from_secs(10), || {
        s.ext_socket().exists()
    });
    {
        let seen = m.seen.lock().unwrap();
        let (info, registry) = &seen.registered[0];
        assert_eq!(info.name.as_deref(), Some("squatch"));
        assert_eq!(info.version.as_deref(), Some(env!("CARGO_PKG_VERSION")));
        let tables = registry.get("table").expect("a table registry");
        let mut names: Vec<String> = tables.keys().cloned().collect();
        names.sort();
        let mut expected = table_names();
        expected.sort();
        assert_eq!(names, expected);
        for (name, routes) in tables {
            assert!(!routes.is_empty(), "{name} registered no columns");
            for r in routes {
                assert_eq!(r.get("id").map(String::as_str), Some("column"));
                assert!(r.contains_key("name") && r.contains_key("type"));
            }
        }
    }
    let mut c = ext_client(&s.ext_socket());
    assert_eq!(c.ping().unwrap().code, Some(0));
    c.shutdown().unwrap();
    let (status, stderr) = wait_exit(child, Duration::from_secs(10));
    assert!(status.success(), "{stderr}");
    assert!(stderr.contains("shut down"), "{stderr}");
    assert!(!s.ext_socket().exists(), "socket file left behind");
    assert_eq!(m.seen.lock().unwrap().deregistered, vec![UUID]);
}

#[test]
fn generate_with_constraints_and_the_error_path_carry_status_and_message() {
    let s = Setup::new();
    let fake = &s.fake;
    let site = fake.venv("/srv/app/.venv", "3.12", false);
    fake.dist(&site, "torch-utilites", "0.1.0")
        .file("torch_utilites/__init__.py", b"x = 1\n")
        .installer("pip")
        .write();
    let other = fake.venv("/srv/other/.venv", "3.12", false);
    fake.dist(&other, "requests", "2.32.0")
        .installer("pip")
        .write();
    let m = Manager::new(None);
    m.serve(&s.socket);
    let child = s.spawn(5);
    wait_until("extension socket", Duration::from_secs(20), || {
        s.ext_socket().exists()
    });
    let mut c = ext_client(&s.ext_socket());

    let table = "python_package_provenance".to_string();
    // columns action
    let mut req = BTreeMap::new();
    req.insert("action".to_string(), "columns".to_string());
    let resp = c.call("table".into(), table.clone(), req).unwrap();
    assert_eq!(resp.status.unwrap().code, Some(0));
    let names: Vec<String> = resp
        .response
        .unwrap()
        .iter()
        .filter_map(|r| r.get("name").cloned())
        .collect();
    assert!(names.contains(&"record_status".to_string()), "{names:?}");

    // generate with a constraints context, as osquery sends it for
    // `WHERE environment IN (...)`: only the asked environment is scanned,
    // and every column is present in each row.
    let ctx = |envs: &[&str]| {
        let list: Vec<String> = envs
            .iter()
            .map(|e| format!(r#"{{"op":2,"expr":"{e}"}}"#))
            .collect();
        format!(
            r#"{{"constraints":[{{"name":"environment","list":[{}],"affinity":"TEXT"}}],"colsUsed":["name","version","environment"]}}"#,
            list.join(",")
        )
    };
    let mut req = BTreeMap::new();
    req.insert("action".to_string(), "generate".to_string());
    req.insert("context".to_string(), ctx(&["/srv/app/.venv", "/nowhere"]));
    let resp = c.call("table".into(), table.clone(), req).unwrap();
    assert_eq!(resp.status.unwrap().code, Some(0));
    let rows = resp.response.unwrap();
    let pkgs: Vec<(&str, &str)> = rows
        .iter()
        .map(|r| (r["name"].as_str(), r["environment"].as_str()))
        .collect();
    assert_eq!(pkgs, vec![("torch-utilites", "/srv/app/.venv")]);
    assert!(rows[0].contains_key("record_status"));

    // A REQUIRED column left unconstrained: osquery shows status.message.
    let mut req = BTreeMap::new();
    req.insert("action".to_string(), "generate".to_string());
    req.insert("context".to_string(), r#"{"constraints":[]}"#.to_string());
    let resp = c
        .call("table".into(), "python_typosquat_variants".into(), req)
        .unwrap();
    let status = resp.status.unwrap();
    assert_eq!(status.code, Some(1));
    assert!(
        status
            .message
            .unwrap_or_default()
            .contains("requires a constraint on column target"),
        "required-column message lost"
    );

    // error path: a context osquery would never send is refused with a
    // message in status.message (where osquery shows it), not in a row.
    let mut req = BTreeMap::new();
    req.insert("action".to_string(), "generate".to_string());
    req.insert("context".to_string(), "{broken".to_string());
    let resp = c.call("table".into(), table.clone(), req).unwrap();
    let status = resp.status.unwrap();
    assert_eq!(status.code, Some(1));
    assert!(
        status.message.unwrap().contains("invalid query context"),
        "message lost"
    );

    // an unknown table is an error with a message too
    let resp = c
        .call("table".into(), "no_such_table".into(), BTreeMap::new())
        .unwrap();
    let status = resp.status.unwrap();
    assert_eq!(status.code, Some(1));
    assert!(status.message.unwrap().contains("no_such_table"));

    c.shutdown().unwrap();
    let (status, _) = wait_exit(child, Duration::from_secs(10));
    assert!(status.success());
}

#[test]
fn waits_for_a_socket_that_appears_late() {
    let s = Setup::new();
    let child = s.spawn(10);
    thread::sleep(Duration::from_millis(1500));
    let m = Manager::new(None);
    m.serve(&s.socket);
    wait_until("late registration", Duration::from_secs(20), || {
        registered(&m)
    });
    wait_until("extension socket", Duration::from_secs(10), || {
        s.ext_socket().exists()
    });
    ext_client(&s.ext_socket()).shutdown().unwrap();
    let (status, _) = wait_exit(child, Duration::from_secs(10));
    assert!(status.success());
}

#[test]
fn no_socket_within_timeout_is_a_clear_error() {
    let s = Setup::new();
    let child = s.spawn(1);
    let (status, stderr) = wait_exit(child, Duration::from_secs(20));
    assert!(!status.success());
    assert!(
        stderr.contains("did not accept connections within 1s"),
        "{stderr}"
    );
}

#[test]
fn refused_registration_exits_non_zero_with_osquerys_reason() {
    let s = Setup::new();
    let m = Manager::new(Some("Duplicate table plugin: python_environments"));
    m.serve(&s.socket);
    let child = s.spawn(5);
    let (status, stderr) = wait_exit(child, Duration::from_secs(20));
    assert!(!status.success());
    assert!(stderr.contains("refused to register"), "{stderr}");
    assert!(stderr.contains("Duplicate table plugin"), "{stderr}");
}

#[test]
fn exits_cleanly_when_osquery_stops_answering() {
    let s = Setup::new();
    let m = Manager::new(None);
    m.serve(&s.socket);
    let child = s.spawn(5);
    wait_until("extension socket", Duration::from_secs(20), || {
        s.ext_socket().exists()
    });
    wait_until("a ping", Duration::from_secs(10), || {
        m.seen.lock().unwrap().pings > 0
    });
    m.go_away();
    let (status, stderr) = wait_exit(child, Duration::from_secs(15));
    assert!(status.success(), "{stderr}");
    assert!(stderr.contains("stopped answering"), "{stderr}");
}

#[test]
fn sigterm_exits_cleanly_and_a_stale_socket_file_is_replaced() {
    let s = Setup::new();
    // A stale socket file from an earlier crashed run.
    std::fs::write(s.ext_socket(), b"stale").unwrap();
    let m = Manager::new(None);
    m.serve(&s.socket);
    let child = s.spawn(5);
    wait_until("registration", Duration::from_secs(20), || registered(&m));
    wait_until("a live extension socket", Duration::from_secs(10), || {
        UnixStream::connect(s.ext_socket()).is_ok()
    });
    // SAFETY: sending SIGTERM to our own child process.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGTERM) }, 0);
    let (status, stderr) = wait_exit(child, Duration::from_secs(10));
    assert!(status.success(), "{stderr}");
    assert!(stderr.contains("stale"), "{stderr}");
    assert!(!s.ext_socket().exists());
}

/// Starts the extension against `m` and waits until its watcher has checked
/// the manager once (a new connection, a ping and the extension list).
fn running(s: &Setup, m: &Manager) -> Child {
    m.serve(&s.socket);
    let child = s.spawn(5);
    wait_until("extension socket", Duration::from_secs(20), || {
        s.ext_socket().exists()
    });
    wait_until("a watcher check", Duration::from_secs(10), || {
        m.seen.lock().unwrap().extension_lists > 0
    });
    child
}

#[test]
fn watcher_checks_on_a_new_connection_and_exits_cleanly_when_the_socket_is_removed() {
    let s = Setup::new();
    let m = Manager::new(None);
    let child = running(&s, &m);
    wait_until("two watcher checks", Duration::from_secs(10), || {
        m.seen.lock().unwrap().extension_lists >= 2
    });
    {
        // One connection for registration, then a new one per check: an old
        // connection that lingers can never hide a manager that has gone.
        let seen = m.seen.lock().unwrap();
        assert!(seen.pings >= 2, "the watcher pings on every check");
        assert!(
            seen.connections > seen.extension_lists,
            "{} connections for {} checks",
            seen.connections,
            seen.extension_lists
        );
    }
    // The manager keeps serving every open connection; only its socket file
    // goes, as when osqueryd exits and cleans up.
    std::fs::remove_file(&s.socket).unwrap();
    let (status, stderr) = wait_exit(child, Duration::from_secs(15));
    assert!(status.success(), "{stderr}");
    assert!(stderr.contains("osquery core has gone away"), "{stderr}");
    assert!(stderr.contains("was removed"), "{stderr}");
    assert!(!s.ext_socket().exists(), "extension socket left behind");
    m.go_away();
}

#[test]
fn watcher_exits_cleanly_when_the_manager_hangs() {
    let s = Setup::new();
    let m = Manager::new(None);
    let child = running(&s, &m);
    m.mute();
    // The watcher's reads time out after max(--timeout, 5s).
    let (status, stderr) = wait_exit(child, Duration::from_secs(30));
    m.go_away();
    assert!(status.success(), "{stderr}");
    assert!(stderr.contains("stopped answering"), "{stderr}");
}

#[test]
fn watcher_exits_with_an_error_when_the_manager_no_longer_lists_the_extension() {
    let s = Setup::new();
    let m = Manager::new(None);
    let child = running(&s, &m);
    let pings = m.seen.lock().unwrap().pings;
    m.forget();
    let (status, stderr) = wait_exit(child, Duration::from_secs(15));
    assert!(!status.success(), "a forgotten extension must not exit 0");
    assert!(
        stderr.contains(&format!("no longer lists extension squatch (uuid {UUID})")),
        "{stderr}"
    );
    let seen = m.seen.lock().unwrap();
    assert!(
        seen.pings > pings,
        "ping still answered: deregistration, not death"
    );
    assert!(seen.deregistered.is_empty(), "nothing to deregister");
    drop(seen);
    assert!(!s.ext_socket().exists(), "extension socket left behind");
    m.go_away();
}

#[test]
fn watcher_exits_with_an_error_when_osquery_restarts_on_the_same_socket_path() {
    let s = Setup::new();
    let old = Manager::new(None);
    let child = running(&s, &old);
    // A restarted osqueryd: a new manager on the same path that never heard
    // of us; the old one's open connections linger a moment, then close.
    let new = Manager::new(None);
    new.serve_replacing(&s.socket);
    let (status, stderr) = wait_exit(child, Duration::from_secs(15));
    old.go_away();
    assert!(!status.success(), "{stderr}");
    assert!(
        stderr.contains("no longer lists extension squatch"),
        "{stderr}"
    );
    let seen = new.seen.lock().unwrap();
    assert!(
        seen.pings >= 1 && seen.extension_lists >= 1,
        "asked the new manager"
    );
    assert!(seen.registered.is_empty());
    drop(seen);
    new.go_away();
}

#[test]
fn every_call_error_answers_a_code_and_a_message_and_the_extension_lives_on() {
    let s = Setup::new();
    let m = Manager::new(None);
    m.serve(&s.socket);
    let child = s.spawn(5);
    wait_until("extension socket", Duration::from_secs(20), || {
        s.ext_socket().exists()
    });
    let mut c = ext_client(&s.ext_socket());
    let env = "python_environments";
    let with_action = |a: &str| {
        let mut r = BTreeMap::new();
        r.insert("action".to_string(), a.to_string());
        r
    };
    let all = r#"{"constraints":[]}"#;
    // (registry, item, request, what the message must name)
    type Case<'a> = (&'a str, &'a str, BTreeMap<String, String>, Vec<&'a str>);
    let cases: Vec<Case> = vec![
        (
            "table",
            env,
            with_action("update"),
            vec![env, "unknown action \"update\""],
        ),
        (
            "table",
            env,
            with_action("insert"),
            vec![env, "unknown action \"insert\""],
        ),
        ("table", env, with_action("frobnicate"), vec!["frobnicate"]),
        ("table", env, BTreeMap::new(), vec![env, "no action"]),
        (
            "config",
            env,
            generate_request(all),
            vec!["\"config\" registry"],
        ),
        (
            "table",
            "no_such_table",
            generate_request(all),
            vec!["no table named \"no_such_table\""],
        ),
        (
            "table",
            env,
            generate_request("{broken"),
            vec![env, "invalid query context"],
        ),
        (
            "table",
            "python_typosquat_variants",
            generate_request(all),
            vec![
                "python_typosquat_variants",
                "requires a constraint on column target",
            ],
        ),
    ];
    for (registry, item, req, wanted) in cases {
        let what = format!("{registry}/{item} {req:?}");
        let resp = c.call(registry.into(), item.into(), req).unwrap();
        let status = resp.status.expect("a status");
        assert_ne!(status.code.unwrap_or(0), 0, "{what}: code");
        let message = status.message.unwrap_or_default();
        for w in wanted {
            assert!(
                message.contains(w),
                "{what}: message {message:?} lacks {w:?}"
            );
        }
        assert!(
            resp.response.unwrap_or_default().is_empty(),
            "{what}: an error carries no rows"
        );
        // Still alive, on the same connection and on a new one.
        assert_eq!(c.ping().unwrap().code, Some(0), "{what}: ping");
    }
    let resp = ext_client(&s.ext_socket())
        .call("table".into(), env.into(), generate_request(all))
        .unwrap();
    assert_eq!(resp.status.unwrap().code, Some(0));
    c.shutdown().unwrap();
    let (status, stderr) = wait_exit(child, Duration::from_secs(10));
    assert!(status.success(), "{stderr}");
}

mod in_process {
    //! The extension's server run inside the test with tables that fail, to
    //! reach the error paths no shipped table takes on a healthy host.
    use super::*;
    use squatch::osquery::server::{self, ExtensionOptions};
    use squatch::table::{Column, QueryContext, Row, Stage, Table, TableError};

    const COLUMNS: &[Column] = &[Column::text("x", "a value")];

    struct Failing;
    impl Table for Failing {
        fn name(&self) -> &'static str {
            "failing_table"
        }
        fn description(&self) -> &'static str {
            "always fails"
        }
        fn stage(&self) -> Stage {
            Stage::Exercise
        }
        fn columns(&self) -> &'static [Column] {
            COLUMNS
        }
        fn generate(&self, _: &QueryContext) -> Result<Vec<Row>, TableError> {
            Err(TableError::Failed("scanner could not read /x".to_string()))
        }
    }

    struct Panicking;
    impl Table for Panicking {
        fn name(&self) -> &'static str {
            "panicking_table"
        }
        fn description(&self) -> &'static str {
            "always panics"
        }
        fn stage(&self) -> Stage {
            Stage::Exercise
        }
        fn columns(&self) -> &'static [Column] {
            COLUMNS
        }
        fn generate(&self, _: &QueryContext) -> Result<Vec<Row>, TableError> {
            panic!("a bug in a table")
        }
    }

    #[test]
    fn a_failing_or_panicking_table_answers_an_error_and_the_extension_keeps_serving() {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("osquery.em");
        let m = Manager::new(None);
        m.serve(&socket);
        let stop = Arc::new(AtomicBool::new(false));
        let opts = ExtensionOptions {
            socket: socket.clone(),
            timeout: Duration::from_secs(5),
            interval: Duration::from_secs(1),
            name: "squatch".to_string(),
            version: "0.0.0-test".to_string(),
        };
        let tables: Vec<Arc<dyn Table>> = vec![Arc::new(Failing), Arc::new(Panicking)];
        let run_stop = stop.clone();
        let server = thread::spawn(move || server::run(&opts, tables, run_stop));
        let ext = common::fake_osquery::ext_socket(&socket);
        wait_until("extension socket", Duration::from_secs(20), || {
            UnixStream::connect(&ext).is_ok()
        });
        let mut c = ext_client(&ext);
        let all = r#"{"constraints":[]}"#;
        for _ in 0..2 {
            let resp = c
                .call(
                    "table".into(),
                    "failing_table".into(),
                    generate_request(all),
                )
                .unwrap();
            let status = resp.status.unwrap();
            assert_eq!(status.code, Some(1));
            let msg = status.message.unwrap();
            assert!(
                msg.contains("failing_table") && msg.contains("scanner could not read /x"),
                "{msg}"
            );
            let resp = c
                .call(
                    "table".into(),
                    "panicking_table".into(),
                    generate_request(all),
                )
                .unwrap();
            let status = resp.status.unwrap();
            assert_eq!(status.code, Some(1));
            let msg = status.message.unwrap();
            assert!(
                msg.contains("panicking_table") && msg.contains("failed unexpectedly"),
                "{msg}"
            );
            assert_eq!(c.ping().unwrap().code, Some(0));
        }
        stop.store(true, std::sync::atomic::Ordering::Release);
        server.join().unwrap().unwrap();
        assert_eq!(m.seen.lock().unwrap().deregistered, vec![UUID]);
        m.go_away();
    }
}
