//! Protocol tests: the `squatch` binary started exactly as osqueryd starts an
//! autoloaded extension (`--socket PATH --timeout N --interval N`), talking
//! osquery's real Thrift protocol over a Unix socket to a fake extension
//! manager written here with the same generated bindings.

use std::collections::BTreeMap;
use std::io;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

mod common;

use squatch::osquery::extension_api as api;
use squatch::osquery::extension_api::{
    ExtensionManagerSyncHandler, ExtensionSyncHandler, TExtensionSyncClient,
};
use thrift::protocol::{TBinaryInputProtocol, TBinaryOutputProtocol};
use thrift::server::TProcessor;
use thrift::transport::{TBufferedReadTransport, TBufferedWriteTransport};

const UUID: i64 = 4242;

/// What the fake manager saw.
#[derive(Default)]
struct Seen {
    registered: Vec<(api::InternalExtensionInfo, api::ExtensionRegistry)>,
    deregistered: Vec<i64>,
    pings: usize,
}

/// A fake osquery extension manager.
#[derive(Clone)]
struct Manager {
    seen: Arc<Mutex<Seen>>,
    /// When set, registration is refused with this message.
    refuse: Option<String>,
    /// Set when osquery "went away": no more connections are accepted.
    gone: Arc<AtomicBool>,
    /// Every accepted connection, so that `go_away` can close them.
    streams: Arc<Mutex<Vec<UnixStream>>>,
}

impl ExtensionSyncHandler for Manager {
    fn handle_ping(&self) -> thrift::Result<api::ExtensionStatus> {
        self.seen.lock().unwrap().pings += 1;
        Ok(api::ExtensionStatus::new(0, "OK".to_string(), None))
    }
    fn handle_call(
        &self,
        _r: String,
        _i: String,
        _q: api::ExtensionPluginRequest,
    ) -> thrift::Result<api::ExtensionResponse> {
        Ok(api::ExtensionResponse::new(None, None))
    }
    fn handle_shutdown(&self) -> thrift::Result<()> {
        Ok(())
    }
}

impl ExtensionManagerSyncHandler for Manager {
    fn handle_extensions(&self) -> thrift::Result<api::InternalExtensionList> {
        Ok(BTreeMap::new())
    }
    fn handle_options(&self) -> thrift::Result<api::InternalOptionList> {
        Ok(BTreeMap::new())
    }
    fn handle_register_extension(
        &self,
        info: api::InternalExtensionInfo,
        registry: api::ExtensionRegistry,
    ) -> thrift::Result<api::ExtensionStatus> {
        self.seen.lock().unwrap().registered.push((info, registry));
        Ok(match &self.refuse {
            Some(msg) => api::ExtensionStatus::new(1, msg.clone(), None),
            None => api::ExtensionStatus::new(0, "OK".to_string(), UUID),
        })
    }
    fn handle_deregister_extension(&self, uuid: i64) -> thrift::Result<api::ExtensionStatus> {
        self.seen.lock().unwrap().deregistered.push(uuid);
        Ok(api::ExtensionStatus::new(0, "OK".to_string(), None))
    }
    fn handle_query(&self, _sql: String) -> thrift::Result<api::ExtensionResponse> {
        Ok(api::ExtensionResponse::new(None, None))
    }
    fn handle_get_query_columns(&self, _sql: String) -> thrift::Result<api::ExtensionResponse> {
        Ok(api::ExtensionResponse::new(None, None))
    }
}

impl Manager {
    fn new(refuse: Option<&str>) -> Self {
        Manager {
            seen: Arc::default(),
            refuse: refuse.map(str::to_string),
            gone: Arc::default(),
            streams: Arc::default(),
        }
    }

    /// Simulates osquery dying: stops accepting and closes every connection.
    fn go_away(&self) {
        self.gone.store(true, Ordering::SeqCst);
        for s in self.streams.lock().unwrap().iter() {
            let _ = s.shutdown(std::net::Shutdown::Both);
        }
    }

    /// Listens on `path` and serves until `gone` is set.
    fn serve(&self, path: &Path) {
        let listener = UnixListener::bind(path).unwrap();
        listener.set_nonblocking(true).unwrap();
        let me = self.clone();
        thread::spawn(move || {
            let processor = Arc::new(api::ExtensionManagerSyncProcessor::new(me.clone()));
            while !me.gone.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let processor = processor.clone();
                        me.streams.lock().unwrap().push(stream.try_clone().unwrap());
                        thread::spawn(move || {
                            stream.set_nonblocking(false).unwrap();
                            let read = stream.try_clone().unwrap();
                            let mut i =
                                TBinaryInputProtocol::new(TBufferedReadTransport::new(read), true);
                            let mut o = TBinaryOutputProtocol::new(
                                TBufferedWriteTransport::new(stream),
                                true,
                            );
                            // Blocking reads; `go_away` shuts the socket down,
                            // which ends this loop with an EOF.
                            while processor.process(&mut i, &mut o).is_ok() {}
                        });
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        thread::sleep(Duration::from_millis(10))
                    }
                    Err(_) => return,
                }
            }
        });
    }
}

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
        Command::new(env!("CARGO_BIN_EXE_squatch"))
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

type ExtClient = api::ExtensionSyncClient<
    TBinaryInputProtocol<TBufferedReadTransport<UnixStream>>,
    TBinaryOutputProtocol<TBufferedWriteTransport<UnixStream>>,
>;

/// Connects to the extension's own socket, as osquery does to call it.
fn ext_client(path: &Path) -> ExtClient {
    let stream = UnixStream::connect(path).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let read = stream.try_clone().unwrap();
    api::ExtensionSyncClient::new(
        TBinaryInputProtocol::new(TBufferedReadTransport::new(read), true),
        TBinaryOutputProtocol::new(TBufferedWriteTransport::new(stream), true),
    )
}

fn registered(m: &Manager) -> bool {
    !m.seen.lock().unwrap().registered.is_empty()
}

fn table_names() -> Vec<String> {
    let out = Command::new(env!("CARGO_BIN_EXE_squatch"))
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
