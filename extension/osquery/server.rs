//! The extension's lifecycle against osquery's extension manager.
//!
//! osqueryd starts an autoloaded extension as
//! `squatch.ext --socket PATH --timeout N --interval N [--verbose]`. This
//! module then:
//! 1. waits up to `--timeout` seconds for the manager's socket (osqueryd may
//!    start the extension before its socket exists);
//! 2. registers under the name `squatch` with this crate's version, and
//!    treats a refused registration (e.g. a duplicate table name) as an error
//!    whose message says why;
//! 3. serves the `Extension` service (ping, call, shutdown) on
//!    `PATH.<uuid>`, removing a stale socket file of that name first;
//! 4. watches the manager every `--interval` seconds as osquery's own SDK
//!    does (`ExtensionWatcher::watch` in osquery's
//!    `osquery/extensions/extensions.cpp`, 5.x): the socket file must still
//!    exist, a *new* connection must answer a ping, and the manager's
//!    extension list must still hold our registration UUID. A removed socket
//!    or a manager that no longer answers ends the extension cleanly (exit
//!    0, "osquery core has gone away"); a manager that answers but has
//!    forgotten us (osqueryd restarted on the same socket path) ends it with
//!    an error, as osquery's watcher exits with status 1 then;
//! 5. also exits cleanly on SIGTERM/SIGINT or on the `shutdown` call, then
//!    deregisters (best effort) and removes its socket.
//!
//! Every error path of `call` (unknown registry, table or action, a
//! malformed `context`, a table that fails or panics) answers a non-zero
//! status code *with a message* naming what was wrong, and the extension
//! keeps serving.

use std::collections::BTreeMap;
use std::io;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use osquery_rust_ng::plugin::{OsqueryPlugin, Plugin};
use thrift::protocol::{TBinaryInputProtocol, TBinaryOutputProtocol};
use thrift::server::TProcessor;
use thrift::transport::{TBufferedReadTransport, TBufferedWriteTransport};

use super::extension_api as api;
use super::extension_api::{
    ExtensionSyncHandler, TExtensionManagerSyncClient, TExtensionSyncClient,
};
use super::TableAdapter;
use crate::table::Table;

/// How the extension was asked to run (osqueryd's arguments).
#[derive(Debug, Clone)]
pub struct ExtensionOptions {
    /// The manager's socket (`--socket`).
    pub socket: PathBuf,
    /// How long to wait for the socket to appear (`--timeout`).
    pub timeout: Duration,
    /// How often to ping the manager (`--interval`).
    pub interval: Duration,
    /// The name to register under.
    pub name: String,
    /// The version to register with.
    pub version: String,
}

/// Why the extension could not run.
#[derive(Debug, thiserror::Error)]
pub enum ExtensionError {
    /// The manager's socket did not appear in time.
    #[error("osquery's extension socket {path} did not accept connections within {secs}s; is osqueryd running with --extensions_socket={path}?")]
    SocketTimeout {
        /// The socket path.
        path: PathBuf,
        /// How long we waited.
        secs: u64,
    },
    /// A socket operation failed.
    #[error("{path}: {source}")]
    Io {
        /// The socket path.
        path: PathBuf,
        /// The error.
        source: io::Error,
    },
    /// The Thrift conversation with the manager failed.
    #[error("talking to osquery's extension manager: {0}")]
    Thrift(#[from] thrift::Error),
    /// The manager answers but no longer lists our registration (osqueryd
    /// restarted on the same socket path and forgot us, or deregistered us).
    #[error("osquery's extension manager at {path} no longer lists extension {name} (uuid {uuid}); osqueryd restarted or deregistered it, exiting so that osqueryd can start it again")]
    Deregistered {
        /// The manager's socket path.
        path: PathBuf,
        /// Our extension name.
        name: String,
        /// The UUID osquery gave us at registration.
        uuid: i64,
    },
    /// The manager answered the watcher's ping with a failure status.
    #[error("osquery's extension manager answered ping with code {code}: {message}")]
    PingFailed {
        /// osquery's status code.
        code: i32,
        /// osquery's message.
        message: String,
    },
    /// osquery refused to register the extension.
    #[error("osquery refused to register extension {name}: {message} (code {code})")]
    Refused {
        /// Our extension name.
        name: String,
        /// osquery's status code.
        code: i32,
        /// osquery's reason.
        message: String,
    },
}

type ManagerClient = api::ExtensionManagerSyncClient<
    TBinaryInputProtocol<TBufferedReadTransport<UnixStream>>,
    TBinaryOutputProtocol<TBufferedWriteTransport<UnixStream>>,
>;

fn connect_manager(path: &Path, io_timeout: Duration) -> Result<ManagerClient, ExtensionError> {
    let io_err = |source| ExtensionError::Io {
        path: path.to_path_buf(),
        source,
    };
    let stream = UnixStream::connect(path).map_err(io_err)?;
    stream.set_read_timeout(Some(io_timeout)).map_err(io_err)?;
    stream.set_write_timeout(Some(io_timeout)).map_err(io_err)?;
    let read = stream.try_clone().map_err(io_err)?;
    Ok(api::ExtensionManagerSyncClient::new(
        TBinaryInputProtocol::new(TBufferedReadTransport::new(read), true),
        TBinaryOutputProtocol::new(TBufferedWriteTransport::new(stream), true),
    ))
}

/// Waits until something accepts connections on `path`, up to `timeout`.
pub fn wait_for_socket(
    path: &Path,
    timeout: Duration,
    stop: &AtomicBool,
) -> Result<(), ExtensionError> {
    let start = Instant::now();
    loop {
        if UnixStream::connect(path).is_ok() {
            return Ok(());
        }
        if start.elapsed() >= timeout || stop.load(Ordering::Acquire) {
            return Err(ExtensionError::SocketTimeout {
                path: path.to_path_buf(),
                secs: timeout.as_secs(),
            });
        }
        thread::sleep(Duration::from_millis(50));
    }
}

/// Serves `tables` to the osquery manager at `opts.socket` until osquery goes
/// away, `stop` is set (signals) or osquery calls `shutdown`.
pub fn run(
    opts: &ExtensionOptions,
    tables: Vec<Arc<dyn Table>>,
    stop: Arc<AtomicBool>,
) -> Result<(), ExtensionError> {
    wait_for_socket(&opts.socket, opts.timeout, &stop)?;
    let io_timeout = opts.timeout.max(Duration::from_secs(5));
    // One connection for registration only; the watcher opens a new one for
    // every check, as osquery's SDK does, so a lingering old connection can
    // never hide a manager that has gone.
    let mut client = connect_manager(&opts.socket, io_timeout)?;

    let plugins: Vec<Plugin> = tables
        .into_iter()
        .map(|t| Plugin::readonly_table(TableAdapter::new(t)))
        .collect();
    let mut table_routes = BTreeMap::new();
    for p in &plugins {
        table_routes.insert(p.name(), p.routes());
    }
    let mut registry = BTreeMap::new();
    registry.insert("table".to_string(), table_routes);

    let info = api::InternalExtensionInfo::new(
        opts.name.clone(),
        opts.version.clone(),
        "5.0.0".to_string(),
        "0.0.0".to_string(),
    );
    let status = client.register_extension(info, registry)?;
    let code = status.code.unwrap_or(0);
    if code != 0 {
        return Err(ExtensionError::Refused {
            name: opts.name.clone(),
            code,
            message: status
                .message
                .unwrap_or_else(|| "no reason given".to_string()),
        });
    }
    let uuid = status.uuid.unwrap_or(0);
    drop(client);
    log::info!(
        "registered extension {} {} with osquery as uuid {uuid}",
        opts.name,
        opts.version
    );

    let listen_path = PathBuf::from(format!("{}.{uuid}", opts.socket.display()));
    let listener = bind_listener(&listen_path)?;
    let handler = Handler {
        plugins: plugins.into_iter().map(|p| (p.name(), p)).collect(),
        stop: stop.clone(),
    };
    let processor = Arc::new(api::ExtensionSyncProcessor::new(handler));
    let serve_stop = stop.clone();
    let server = thread::spawn(move || serve(listener, processor, serve_stop));

    // Watch loop: wake often to notice a stop, check the manager every
    // `interval`.
    let mut last_check = Instant::now();
    let mut outcome = Ok(());
    while !stop.load(Ordering::Acquire) {
        thread::sleep(Duration::from_millis(50));
        if last_check.elapsed() < opts.interval {
            continue;
        }
        match watch_manager(&opts.socket, uuid, io_timeout) {
            Watch::Healthy => {}
            Watch::Gone(why) => {
                log::info!("extension watcher ending: osquery core has gone away ({why})");
                break;
            }
            Watch::PingFailed { code, message } => {
                log::error!("osquery answered ping with code {code} ({message}); exiting");
                outcome = Err(ExtensionError::PingFailed { code, message });
                break;
            }
            Watch::NotRegistered => {
                let err = ExtensionError::Deregistered {
                    path: opts.socket.clone(),
                    name: opts.name.clone(),
                    uuid,
                };
                log::error!("{err}");
                outcome = Err(err);
                break;
            }
        }
        last_check = Instant::now();
    }
    stop.store(true, Ordering::Release);
    log::info!("shutting down");
    // Best effort, over a new connection: osquery may already be gone, and a
    // manager that forgot us has nothing to deregister.
    if outcome.is_ok() && is_socket(&opts.socket) {
        match connect_manager(&opts.socket, Duration::from_secs(1))
            .and_then(|mut c| Ok(c.deregister_extension(uuid)?))
        {
            Ok(_) => {}
            Err(e) => log::debug!("deregister failed (osquery gone?): {e}"),
        }
    }
    if server.join().is_err() {
        log::warn!("extension server thread panicked");
    }
    if let Err(e) = std::fs::remove_file(&listen_path) {
        if e.kind() != io::ErrorKind::NotFound {
            log::warn!("{}: could not remove socket: {e}", listen_path.display());
        }
    }
    outcome
}

/// What one watcher check found.
#[derive(Debug, PartialEq, Eq)]
enum Watch {
    /// The manager answered and still lists us.
    Healthy,
    /// The manager is gone (socket removed, refused, no answer): exit 0.
    Gone(String),
    /// The manager answered ping with a failure status: exit 1.
    PingFailed {
        /// osquery's status code.
        code: i32,
        /// osquery's message.
        message: String,
    },
    /// The manager answers but no longer lists our UUID: exit 1.
    NotRegistered,
}

fn is_socket(path: &Path) -> bool {
    use std::os::unix::fs::FileTypeExt;
    std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_socket())
        || std::fs::metadata(path).is_ok_and(|m| m.file_type().is_socket())
}

/// One check of osquery's `ExtensionWatcher::watch`: the socket file still
/// exists, a new connection answers a ping, and the manager's extension list
/// still holds `uuid`.
fn watch_manager(path: &Path, uuid: i64, io_timeout: Duration) -> Watch {
    if !is_socket(path) {
        return Watch::Gone(format!("socket {} was removed", path.display()));
    }
    let mut client = match connect_manager(path, io_timeout) {
        Ok(c) => c,
        Err(e) => return Watch::Gone(format!("stopped answering: {e}")),
    };
    match client.ping() {
        Ok(s) if s.code.unwrap_or(0) == 0 => {}
        Ok(s) => {
            return Watch::PingFailed {
                code: s.code.unwrap_or(0),
                message: s.message.unwrap_or_default(),
            }
        }
        Err(e) => return Watch::Gone(format!("stopped answering ping: {e}")),
    }
    match client.extensions() {
        Ok(list) if list.contains_key(&uuid) => Watch::Healthy,
        Ok(_) => Watch::NotRegistered,
        Err(e) => Watch::Gone(format!("stopped answering the extension list request: {e}")),
    }
}

/// Binds the extension's own socket, first removing a stale file of that
/// name that nothing listens on (left by a crashed earlier run).
fn bind_listener(path: &Path) -> Result<UnixListener, ExtensionError> {
    let io_err = |source| ExtensionError::Io {
        path: path.to_path_buf(),
        source,
    };
    if std::fs::symlink_metadata(path).is_ok() {
        if UnixStream::connect(path).is_ok() {
            return Err(io_err(io::Error::new(
                io::ErrorKind::AddrInUse,
                "another process is serving this extension socket",
            )));
        }
        log::info!("{}: removing stale extension socket", path.display());
        std::fs::remove_file(path).map_err(io_err)?;
    }
    let listener = UnixListener::bind(path).map_err(io_err)?;
    listener.set_nonblocking(true).map_err(io_err)?;
    Ok(listener)
}

/// Accepts connections until `stop`; each connection is served on its own
/// thread (osquery keeps one open and may open more).
fn serve<P>(listener: UnixListener, processor: Arc<P>, stop: Arc<AtomicBool>)
where
    P: TProcessor + Send + Sync + 'static,
{
    while !stop.load(Ordering::Acquire) {
        match listener.accept() {
            Ok((stream, _)) => {
                let processor = processor.clone();
                let stop = stop.clone();
                thread::spawn(move || serve_connection(stream, processor.as_ref(), &stop));
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                thread::sleep(Duration::from_millis(20));
            }
            Err(e) => {
                log::warn!("accept failed: {e}");
                thread::sleep(Duration::from_millis(100));
            }
        }
    }
}

fn serve_connection<P: TProcessor>(stream: UnixStream, processor: &P, stop: &AtomicBool) {
    if stream.set_nonblocking(false).is_err() {
        return;
    }
    let Ok(read) = stream.try_clone() else {
        return;
    };
    let mut input = TBinaryInputProtocol::new(TBufferedReadTransport::new(read), true);
    let mut output = TBinaryOutputProtocol::new(TBufferedWriteTransport::new(stream), true);
    while !stop.load(Ordering::Acquire) {
        let result = processor.process(&mut input, &mut output);
        // The answer is written and dropped: return what it used.
        release_free_memory();
        if let Err(e) = result {
            match e {
                thrift::Error::Transport(ref t)
                    if t.kind == thrift::TransportErrorKind::EndOfFile => {}
                other => log::debug!("connection closed: {other}"),
            }
            return;
        }
    }
}

/// Hands the memory a call freed (the rows of an answer, a table's scratch
/// space) back to the system. osquery's watchdog judges an extension by its
/// resident size, and glibc otherwise keeps freed heap in its per-thread
/// arenas, so one large answer would count against squatch from then on.
fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free heap pages to the kernel.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Answers osquery's calls on the extension's socket.
struct Handler {
    plugins: BTreeMap<String, Plugin>,
    stop: Arc<AtomicBool>,
}

impl Handler {
    /// Routes one `call` to a table plugin, or says in words why it cannot.
    /// osquery shows `status.message` to whoever ran the query, so every
    /// refusal names the registry, table or action it could not serve.
    fn dispatch(
        &self,
        registry: &str,
        item: &str,
        action: Option<&str>,
        request: api::ExtensionPluginRequest,
    ) -> Result<api::ExtensionResponse, String> {
        if registry != "table" {
            return Err(format!(
                "squatch has no {registry:?} registry: it serves only table plugins"
            ));
        }
        let Some(plugin) = self.plugins.get(item) else {
            return Err(format!("squatch has no table named {item:?}"));
        };
        match action {
            Some("columns" | "generate") => {}
            Some(other) => {
                return Err(format!(
                    "table {item}: unknown action {other:?}; squatch tables are read-only and answer only \"columns\" and \"generate\""
                ))
            }
            None => return Err(format!("table {item}: the request has no action")),
        }
        // A panic in a table must not take the extension (or this
        // connection) down: osquery gets an error status and a message.
        let resp =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| plugin.handle_call(request)))
                .map_err(|_| {
                    format!(
                        "table {item} failed unexpectedly (a squatch bug; its log has the panic)"
                    )
                })?;
        let status = resp.status.map(|s| api::ExtensionStatus {
            code: s.code,
            message: s.message,
            uuid: s.uuid,
        });
        Ok(api::ExtensionResponse::new(status, resp.response))
    }
}

impl ExtensionSyncHandler for Handler {
    fn handle_ping(&self) -> thrift::Result<api::ExtensionStatus> {
        Ok(api::ExtensionStatus::new(0, "OK".to_string(), None))
    }

    fn handle_call(
        &self,
        registry: String,
        item: String,
        request: api::ExtensionPluginRequest,
    ) -> thrift::Result<api::ExtensionResponse> {
        let action = request.get("action").cloned();
        log::debug!(
            "call {registry}/{item} action={}",
            action.as_deref().unwrap_or("")
        );
        let resp = match self.dispatch(&registry, &item, action.as_deref(), request) {
            Ok(resp) => resp,
            Err(message) => {
                log::warn!("{message}");
                api::ExtensionResponse::new(api::ExtensionStatus::new(1, message, None), Vec::new())
            }
        };
        Ok(resp)
    }

    fn handle_shutdown(&self) -> thrift::Result<()> {
        log::info!("osquery asked the extension to shut down");
        self.stop.store(true, Ordering::Release);
        Ok(())
    }
}
