//! A fake osquery extension manager speaking osquery's real Thrift protocol
//! (the generated bindings in `squatch::osquery::extension_api`) over a Unix
//! socket, for the protocol tests and the watchdog benchmark.
//!
//! It registers every extension under [`UUID`], lists the extensions it
//! knows in `extensions()` (as osqueryd's manager does, which is what the
//! extension's watcher checks), and can misbehave the ways a real osqueryd
//! does: go away ([`Manager::go_away`]), hang ([`Manager::mute`]), forget a
//! registration ([`Manager::forget`]), or be replaced by a new manager on the
//! same socket path ([`Manager::serve_replacing`]).
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use squatch::osquery::extension_api as api;
use squatch::osquery::extension_api::{ExtensionManagerSyncHandler, ExtensionSyncHandler};
use thrift::protocol::{TBinaryInputProtocol, TBinaryOutputProtocol};
use thrift::server::TProcessor;
use thrift::transport::{TBufferedReadTransport, TBufferedWriteTransport};

/// The registration UUID the fake manager hands out.
pub const UUID: i64 = 4242;

/// What the fake manager saw.
#[derive(Default)]
pub struct Seen {
    /// Every registration request, in order.
    pub registered: Vec<(api::InternalExtensionInfo, api::ExtensionRegistry)>,
    /// Every deregistered UUID, in order.
    pub deregistered: Vec<i64>,
    /// `ping` calls answered.
    pub pings: usize,
    /// `extensions` calls answered.
    pub extension_lists: usize,
    /// Connections accepted.
    pub connections: usize,
}

/// A fake osquery extension manager.
#[derive(Clone)]
pub struct Manager {
    /// What it saw.
    pub seen: Arc<Mutex<Seen>>,
    /// When set, registration is refused with this message.
    refuse: Option<String>,
    /// The extensions it currently knows (what `extensions()` lists).
    known: Arc<Mutex<BTreeMap<i64, api::InternalExtensionInfo>>>,
    /// Set when osquery "went away": no more connections are accepted.
    gone: Arc<AtomicBool>,
    /// Set while osquery hangs: every call blocks until `go_away`.
    muted: Arc<AtomicBool>,
    /// Every accepted connection, so that `go_away` can close them.
    streams: Arc<Mutex<Vec<UnixStream>>>,
}

impl ExtensionSyncHandler for Manager {
    fn handle_ping(&self) -> thrift::Result<api::ExtensionStatus> {
        self.hang_while_muted();
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
        self.hang_while_muted();
        self.seen.lock().unwrap().extension_lists += 1;
        Ok(self.known.lock().unwrap().clone())
    }
    fn handle_options(&self) -> thrift::Result<api::InternalOptionList> {
        Ok(BTreeMap::new())
    }
    fn handle_register_extension(
        &self,
        info: api::InternalExtensionInfo,
        registry: api::ExtensionRegistry,
    ) -> thrift::Result<api::ExtensionStatus> {
        self.seen
            .lock()
            .unwrap()
            .registered
            .push((info.clone(), registry));
        Ok(match &self.refuse {
            Some(msg) => api::ExtensionStatus::new(1, msg.clone(), None),
            None => {
                self.known.lock().unwrap().insert(UUID, info);
                api::ExtensionStatus::new(0, "OK".to_string(), UUID)
            }
        })
    }
    fn handle_deregister_extension(&self, uuid: i64) -> thrift::Result<api::ExtensionStatus> {
        self.seen.lock().unwrap().deregistered.push(uuid);
        self.known.lock().unwrap().remove(&uuid);
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
    /// A manager that accepts registrations, or refuses them with `refuse`.
    pub fn new(refuse: Option<&str>) -> Self {
        Manager {
            seen: Arc::default(),
            refuse: refuse.map(str::to_string),
            known: Arc::default(),
            gone: Arc::default(),
            muted: Arc::default(),
            streams: Arc::default(),
        }
    }

    /// True once an extension has asked to register.
    pub fn registered(&self) -> bool {
        !self.seen.lock().unwrap().registered.is_empty()
    }

    /// Simulates osquery dying: stops accepting and closes every connection.
    pub fn go_away(&self) {
        self.gone.store(true, Ordering::SeqCst);
        for s in self.streams.lock().unwrap().iter() {
            let _ = s.shutdown(std::net::Shutdown::Both);
        }
    }

    /// Simulates a hung osquery: connections are accepted, calls never
    /// answered (until `go_away`).
    pub fn mute(&self) {
        self.muted.store(true, Ordering::SeqCst);
    }

    /// Simulates osquery deregistering the extension behind its back: ping
    /// still answers, `extensions()` no longer lists it.
    pub fn forget(&self) {
        self.known.lock().unwrap().clear();
    }

    fn hang_while_muted(&self) {
        while self.muted.load(Ordering::SeqCst) && !self.gone.load(Ordering::SeqCst) {
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// Listens on `path` and serves until `gone` is set.
    pub fn serve(&self, path: &Path) {
        self.serve_listener(UnixListener::bind(path).unwrap());
    }

    /// Takes over `path` the way a restarted osqueryd does: binds a new
    /// socket and renames it over the old one in one step, so that a client
    /// never sees the path missing and reaches the new manager from then on.
    pub fn serve_replacing(&self, path: &Path) {
        let tmp = path.with_extension("restarting");
        let listener = UnixListener::bind(&tmp).unwrap();
        std::fs::rename(&tmp, path).unwrap();
        self.serve_listener(listener);
    }

    fn serve_listener(&self, listener: UnixListener) {
        listener.set_nonblocking(true).unwrap();
        let me = self.clone();
        thread::spawn(move || {
            let processor = Arc::new(api::ExtensionManagerSyncProcessor::new(me.clone()));
            while !me.gone.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let processor = processor.clone();
                        me.seen.lock().unwrap().connections += 1;
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

/// A client of an extension's own socket, as osquery calls it.
pub type ExtClient = api::ExtensionSyncClient<
    TBinaryInputProtocol<TBufferedReadTransport<UnixStream>>,
    TBinaryOutputProtocol<TBufferedWriteTransport<UnixStream>>,
>;

/// Connects to an extension's own socket, as osquery does to call it.
pub fn ext_client(path: &Path) -> ExtClient {
    let stream = UnixStream::connect(path).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(120)))
        .unwrap();
    let read = stream.try_clone().unwrap();
    api::ExtensionSyncClient::new(
        TBinaryInputProtocol::new(TBufferedReadTransport::new(read), true),
        TBinaryOutputProtocol::new(TBufferedWriteTransport::new(stream), true),
    )
}

/// The extension socket osquery's SDK derives from the manager's path and
/// the registration UUID (`PATH.UUID`).
pub fn ext_socket(manager: &Path) -> std::path::PathBuf {
    std::path::PathBuf::from(format!("{}.{UUID}", manager.display()))
}

/// A `generate` request for `table` with an osquery `context` JSON.
pub fn generate_request(context: &str) -> BTreeMap<String, String> {
    let mut req = BTreeMap::new();
    req.insert("action".to_string(), "generate".to_string());
    req.insert("context".to_string(), context.to_string());
    req
}

/// The set of names in a registry's table routes (for assertions).
pub fn table_names(registry: &api::ExtensionRegistry) -> BTreeSet<String> {
    registry
        .get("table")
        .map(|t| t.keys().cloned().collect())
        .unwrap_or_default()
}
