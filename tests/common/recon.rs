//! A loopback package index for `squatch recon` tests and benches: a real
//! HTTP server on 127.0.0.1 (port 0) answering the PEP 691 JSON Simple API
//! (with PEP 700 `versions` and `upload-time`) and a PyPI-style project JSON
//! API (`/pypi/<name>/json` with `info` and `ownership`). Never the internet.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// One project the index serves.
#[derive(Debug, Clone, Default)]
pub struct Project {
    /// Normalised name.
    pub name: String,
    /// `(version, upload time ISO 8601, yanked)`, oldest first.
    pub releases: Vec<(String, String, bool)>,
    /// PyPI organisation owning it.
    pub organization: Option<String>,
    /// `(role, user)`.
    pub roles: Vec<(String, String)>,
}

impl Project {
    /// A project with one release per `(version, time)` and one owner.
    pub fn new(name: &str, releases: &[(&str, &str)], owner: &str) -> Project {
        Project {
            name: name.to_string(),
            releases: releases
                .iter()
                .map(|(v, t)| (v.to_string(), t.to_string(), false))
                .collect(),
            organization: None,
            roles: vec![("Owner".to_string(), owner.to_string())],
        }
    }

    fn simple_json(&self) -> String {
        let files: Vec<serde_json::Value> = self
            .releases
            .iter()
            .map(|(v, t, y)| {
                serde_json::json!({
                    "filename": format!("{}-{v}.tar.gz", self.name.replace('-', "_")),
                    "url": format!("../../files/{}-{v}.tar.gz", self.name),
                    "hashes": {"sha256": "00"},
                    "yanked": if *y { serde_json::json!("withdrawn") } else { serde_json::json!(false) },
                    "upload-time": t,
                })
            })
            .collect();
        let versions: Vec<&str> = self.releases.iter().map(|r| r.0.as_str()).collect();
        serde_json::json!({
            "meta": {"api-version": "1.1"},
            "name": self.name,
            "versions": versions,
            "files": files,
        })
        .to_string()
    }

    fn project_json(&self) -> String {
        let roles: Vec<serde_json::Value> = self
            .roles
            .iter()
            .map(|(r, u)| serde_json::json!({"role": r, "user": u}))
            .collect();
        serde_json::json!({
            "info": {"name": self.name, "author": "someone", "maintainer": null, "summary": "demo"},
            "ownership": {"organization": self.organization, "roles": roles},
        })
        .to_string()
    }
}

/// The running server.
pub struct IndexServer {
    /// Where it listens.
    pub addr: SocketAddr,
    requests: Arc<AtomicUsize>,
}

impl IndexServer {
    /// Starts serving `projects` on a free loopback port (a thread per
    /// connection; the server lives as long as the test process).
    pub fn start(projects: Vec<Project>) -> IndexServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let addr = listener.local_addr().unwrap();
        let requests = Arc::new(AtomicUsize::new(0));
        let map: Arc<HashMap<String, Project>> =
            Arc::new(projects.into_iter().map(|p| (p.name.clone(), p)).collect());
        let count = requests.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let map = map.clone();
                let count = count.clone();
                std::thread::spawn(move || serve(stream, &map, &count));
            }
        });
        IndexServer { addr, requests }
    }

    /// The JSON Simple API base URL (`http://127.0.0.1:PORT/simple/`).
    pub fn simple_url(&self) -> String {
        format!("http://{}/simple/", self.addr)
    }

    /// Requests answered so far.
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

/// A loopback URL nothing listens on (for the unreachable-index error).
pub fn dead_index_url() -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    drop(l);
    format!("http://{addr}/simple/")
}

fn serve(stream: TcpStream, map: &HashMap<String, Project>, count: &AtomicUsize) {
    // One write per answer and no Nagle delay: a keep-alive client would
    // otherwise wait for a delayed ACK on every request.
    let _ = stream.set_nodelay(true);
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut writer = stream;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
        let mut accept = String::new();
        let mut close = false;
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            let lower = h.to_ascii_lowercase();
            if let Some(v) = lower.strip_prefix("accept:") {
                accept = v.trim().to_string();
            }
            if lower.starts_with("connection:") && lower.contains("close") {
                close = true;
            }
        }
        count.fetch_add(1, Ordering::SeqCst);
        let (status, ctype, body) = answer(&path, &accept, map);
        let msg = format!(
            "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        if writer.write_all(msg.as_bytes()).is_err() {
            return;
        }
        if close {
            return;
        }
    }
}

fn answer(
    path: &str,
    accept: &str,
    map: &HashMap<String, Project>,
) -> (&'static str, &'static str, String) {
    let not_found = ("404 Not Found", "text/plain", "not found".to_string());
    if let Some(rest) = path.strip_prefix("/simple/") {
        if !accept.contains("application/vnd.pypi.simple.v1+json") {
            return ("406 Not Acceptable", "text/plain", "json only".to_string());
        }
        let name = rest.trim_end_matches('/');
        return match map.get(name) {
            Some(p) => (
                "200 OK",
                "application/vnd.pypi.simple.v1+json",
                p.simple_json(),
            ),
            None => not_found,
        };
    }
    if let Some(rest) = path.strip_prefix("/pypi/") {
        let name = rest.trim_end_matches("/json");
        return match map.get(name) {
            Some(p) => ("200 OK", "application/json", p.project_json()),
            None => not_found,
        };
    }
    not_found
}
