//! The one network client of squatch: GETs against one package index, with
//! a request budget, a rate limit and an on-disk cache of every answer
//! (under the state directory, never the examined root).

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::ReconError;
use crate::python::strip_credentials;

/// `Accept` of the PEP 691 JSON Simple API (version 1), falling back to
/// nothing else: recon needs the JSON form.
pub const SIMPLE_JSON: &str = "application/vnd.pypi.simple.v1+json";
/// `Accept` of a project JSON API (PyPI's `/pypi/<name>/json`).
pub const PLAIN_JSON: &str = "application/json";
/// Largest answer read (PyPI's biggest project pages are a few MB).
const MAX_BODY: u64 = 32 * 1024 * 1024;

/// One answer, fresh or from the cache.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Answer {
    /// The URL asked.
    pub url: String,
    /// HTTP status (200, 404, ...).
    pub status: u16,
    /// When it was fetched (Unix seconds).
    pub fetched_at: i64,
    /// The body (UTF-8; empty for a non-200 answer).
    pub body: String,
    /// True when it came from the cache.
    #[serde(skip)]
    pub cached: bool,
}

/// How the client may use the network.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Most requests this run may send (cache hits are free).
    pub max_requests: usize,
    /// Most requests a second (0: no limit).
    pub rate: f64,
    /// A cached answer younger than this is used instead of a request.
    pub max_age: Duration,
    /// Connect and read timeout of one request.
    pub timeout: Duration,
}

/// A client of one index.
pub struct Client {
    agent: ureq::Agent,
    cache_dir: Option<PathBuf>,
    limits: Limits,
    sent: usize,
    cache_hits: usize,
    refused: usize,
    oldest_hit: Option<i64>,
    last: Option<Instant>,
}

/// Now, in Unix seconds.
pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

impl Client {
    /// A client caching under `cache_dir` (created mode 0700 when missing;
    /// `None`: no cache).
    pub fn new(cache_dir: Option<&Path>, limits: Limits) -> Client {
        let agent = ureq::AgentBuilder::new()
            .timeout_connect(limits.timeout)
            .timeout_read(limits.timeout)
            .user_agent(concat!("squatch/", env!("CARGO_PKG_VERSION"), " (recon)"))
            .redirects(3)
            .build();
        let cache_dir = cache_dir.and_then(|d| match make_private_dir(d) {
            Ok(()) => Some(d.to_path_buf()),
            Err(e) => {
                log::warn!(
                    "recon cache {} not usable ({e}): answers are not cached",
                    d.display()
                );
                None
            }
        });
        Client {
            agent,
            cache_dir,
            limits,
            sent: 0,
            cache_hits: 0,
            refused: 0,
            oldest_hit: None,
            last: None,
        }
    }

    /// Requests sent so far.
    pub fn sent(&self) -> usize {
        self.sent
    }

    /// Answers taken from the cache so far.
    pub fn cache_hits(&self) -> usize {
        self.cache_hits
    }

    /// Age in seconds of the oldest cached answer used, if any.
    pub fn oldest_cached_age(&self) -> Option<i64> {
        self.oldest_hit.map(|t| now().saturating_sub(t).max(0))
    }

    /// True when a request was refused because the budget was spent.
    pub fn budget_spent(&self) -> bool {
        self.refused > 0
    }

    fn cache_path(&self, url: &str, accept: &str) -> Option<PathBuf> {
        let dir = self.cache_dir.as_ref()?;
        let mut h = Sha256::new();
        h.update(accept.as_bytes());
        h.update([0]);
        h.update(strip_credentials(url).as_bytes());
        let hex = crate::hex::encode(&h.finalize()[..16]);
        Some(dir.join(format!("{hex}.json")))
    }

    /// GET `url` with `Accept: accept`: from the cache when fresh enough,
    /// else over the network within the budget and the rate limit.
    /// URLs in answers, the cache and errors carry no credentials (a
    /// private index's `user:token@`).
    pub fn get(&mut self, url: &str, accept: &str) -> Result<Answer, ReconError> {
        let shown = strip_credentials(url);
        let path = self.cache_path(url, accept);
        if let Some(p) = &path {
            if let Some(a) = read_cached(p, &shown) {
                let age = now().saturating_sub(a.fetched_at);
                if age >= 0 && (age as u64) < self.limits.max_age.as_secs() {
                    self.cache_hits += 1;
                    self.oldest_hit = Some(
                        self.oldest_hit
                            .map_or(a.fetched_at, |o| o.min(a.fetched_at)),
                    );
                    return Ok(Answer { cached: true, ..a });
                }
            }
        }
        if self.sent >= self.limits.max_requests {
            self.refused += 1;
            return Err(ReconError::BudgetSpent(self.limits.max_requests));
        }
        if self.limits.rate > 0.0 {
            let gap = Duration::from_secs_f64(1.0 / self.limits.rate);
            if let Some(last) = self.last {
                let since = last.elapsed();
                if since < gap {
                    std::thread::sleep(gap - since);
                }
            }
        }
        self.last = Some(Instant::now());
        self.sent += 1;
        let (status, body) = match self.agent.get(url).set("Accept", accept).call() {
            Ok(resp) => {
                let status = resp.status();
                let mut buf = String::new();
                resp.into_reader()
                    .take(MAX_BODY)
                    .read_to_string(&mut buf)
                    .map_err(|e| ReconError::Index {
                        url: shown.clone(),
                        message: format!("reading the answer: {e}"),
                    })?;
                (status, buf)
            }
            Err(ureq::Error::Status(status, _)) => (status, String::new()),
            Err(ureq::Error::Transport(t)) => {
                return Err(ReconError::Unreachable {
                    url: shown.clone(),
                    // ureq's Display names the URL: keep only what failed.
                    message: transport_message(&t),
                });
            }
        };
        let answer = Answer {
            url: shown,
            status,
            fetched_at: now(),
            body,
            cached: false,
        };
        // Cache what says something about the project: found or not found.
        if let (Some(p), 200 | 404 | 410) = (&path, status) {
            if let Err(e) = write_cached(p, &answer) {
                log::warn!("recon cache {}: {e}", p.display());
            }
        }
        Ok(answer)
    }
}

/// What failed in a transport error, without the URL (which may carry
/// credentials).
fn transport_message(t: &ureq::Transport) -> String {
    let mut m = t.kind().to_string();
    if let Some(detail) = t.message() {
        m.push_str(": ");
        m.push_str(detail);
    }
    if let Some(src) = std::error::Error::source(t) {
        m.push_str(": ");
        m.push_str(&src.to_string());
    }
    m
}

fn make_private_dir(d: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    if !d.is_dir() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(d)?;
    }
    Ok(())
}

fn read_cached(p: &Path, url: &str) -> Option<Answer> {
    let text = std::fs::read_to_string(p).ok()?;
    let a: Answer = serde_json::from_str(&text).ok()?;
    (a.url == url).then_some(a)
}

fn write_cached(p: &Path, a: &Answer) -> std::io::Result<()> {
    let tmp = p.with_extension("tmp");
    std::fs::write(&tmp, serde_json::to_vec(a).map_err(std::io::Error::other)?)?;
    std::fs::rename(&tmp, p)
}
