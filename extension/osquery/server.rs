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
//! 4. pings the manager every `--interval` seconds and exits cleanly when it
//!    stops answering, on SIGTERM/SIGINT, or on the `shutdown` call, then
//!    deregisters (best effort) and removes its socket.

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

    // Ping loop: wake often to notice a stop, ping every `interval`.
    let mut last_ping = Instant::now();
    while !stop.load(Ordering::Acquire) {
        thread::sleep(Duration::from_millis(50));
        if last_ping.elapsed() >= opts.interval {
            last_ping = Instant::now();
            match client.ping() {
                Ok(s) if s.code.unwrap_or(0) == 0 => {}
                Ok(s) => {
                    log::info!(
                        "osquery answered ping with code {:?} ({}); exiting",
                        s.code,
                        s.message.unwrap_or_default()
                    );
                    break;
                }
                Err(e) => {
                    log::info!("osquery stopped answering ({e}); exiting");
                    break;
                }
            }
        }
    }
    stop.store(true, Ordering::Release);
    log::info!("shutting down");
    // Best effort: osquery may already be gone.
    if let Err(e) = client.deregister_extension(uuid) {
        log::debug!("deregister failed (osquery gone?): {e}");
    }
    if server.join().is_err() {
        log::warn!("extension server thread panicked");
    }
    if let Err(e) = std::fs::remove_file(&listen_path) {
        if e.kind() != io::ErrorKind::NotFound {
            log::warn!("{}: could not remove socket: {e}", listen_path.display());
        }
    }
    Ok(())
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
        if let Err(e) = processor.process(&mut input, &mut output) {
            match e {
                thrift::Error::Transport(ref t)
                    if t.kind == thrift::TransportErrorKind::EndOfFile => {}
                other => log::debug!("connection closed: {other}"),
            }
            return;
        }
    }
}

/// Answers osquery's calls on the extension's socket.
struct Handler {
    plugins: BTreeMap<String, Plugin>,
    stop: Arc<AtomicBool>,
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
        let plugin = match (registry.as_str(), self.plugins.get(&item)) {
            ("table", Some(p)) => p,
            _ => {
                return Ok(api::ExtensionResponse::new(
                    api::ExtensionStatus::new(
                        1,
                        format!("squatch has no {registry} plugin named {item}"),
                        None,
                    ),
                    Vec::new(),
                ))
            }
        };
        log::debug!(
            "call {registry}/{item} action={}",
            request.get("action").map(String::as_str).unwrap_or("")
        );
        let resp = plugin.handle_call(request);
        let status = resp.status.map(|s| api::ExtensionStatus {
            code: s.code,
            message: s.message,
            uuid: s.uuid,
        });
        Ok(api::ExtensionResponse::new(status, resp.response))
    }

    fn handle_shutdown(&self) -> thrift::Result<()> {
        log::info!("osquery asked the extension to shut down");
        self.stop.store(true, Ordering::Release);
        Ok(())
    }
}
