//! `squatch recon` speed: 100 declared dependencies against a loopback
//! index (the test server of `tests/common/recon.rs`: real HTTP, PEP 691
//! JSON), within the default request budget, in one run.
//!
//! `cargo bench --bench recon`
//!
//! The first 20 dependencies have their known-malicious variants
//! registered on the index. Each dependency costs one Simple API page, one
//! project JSON and `--top` variant pages: 100 x (2 + 3) = 500 requests, the default budget. The
//! rate limit is off (`--rate 0`): loopback answers in microseconds, and
//! the figure measures recon, not the politeness delay a real index gets
//! (10 requests a second by default). The peer is the same run answered
//! from the cache (second run, no request).

#[path = "../tests/common/recon.rs"]
#[allow(dead_code)]
mod index_server;

use std::time::{Duration, Instant};

use index_server::{IndexServer, Project};
use squatch::recon::{run, Client, Dependency, Format, Limits, ReconArgs};

fn main() {
    // 100 dependencies: popular names, each registered; a few of their
    // variants registered too.
    let names: Vec<String> = squatch::typosquat::Index::embedded()
        .popular()
        .iter()
        .take(100)
        .map(|p| p.name.clone())
        .collect();
    let mut projects: Vec<Project> = names
        .iter()
        .map(|n| {
            Project::new(
                n,
                &[
                    ("1.0", "2020-01-01T00:00:00Z"),
                    ("2.0", "2024-06-01T12:00:00.5Z"),
                ],
                "owner",
            )
        })
        .collect();
    // Every known-malicious variant of the first 20 registered, as an
    // index that has not taken them down yet would have them.
    let index = squatch::typosquat::Index::embedded();
    for n in names.iter().take(20) {
        for v in squatch::typosquat::variants(index, n) {
            if v.known_malicious.is_some() {
                projects.push(Project::new(
                    &v.variant,
                    &[("0.1", "2025-01-01T00:00:00Z")],
                    "x",
                ));
            }
        }
    }
    let server = IndexServer::start(projects);
    let deps: Vec<Dependency> = names
        .iter()
        .map(|n| Dependency {
            name: n.clone(),
            source: "bench".into(),
        })
        .collect();
    let args = ReconArgs {
        paths: Vec::new(),
        index: server.simple_url(),
        json_api: None,
        top: 3,
        max_requests: 500,
        rate: 0.0,
        max_age: 86_400,
        format: Format::Json,
    };
    let limits = Limits {
        max_requests: args.max_requests,
        rate: args.rate,
        max_age: Duration::from_secs(args.max_age),
        timeout: Duration::from_secs(10),
    };
    // Warm the typosquat index (built once per process).
    squatch::typosquat::Index::embedded().assess("requests");

    let cache = tempfile::tempdir().unwrap();
    let mut client = Client::new(Some(&cache.path().join("recon")), limits.clone());
    let t = Instant::now();
    let report = run(&deps, &args, &mut client).expect("recon");
    let cold = t.elapsed();
    let checked = report
        .dependencies
        .iter()
        .filter(|d| d.exists == Some(true))
        .count();
    let registered: usize = report
        .dependencies
        .iter()
        .map(|d| {
            d.variants
                .iter()
                .filter(|v| v.registered == Some(true))
                .count()
        })
        .sum();

    let mut client = Client::new(Some(&cache.path().join("recon")), limits);
    let t = Instant::now();
    let again = run(&deps, &args, &mut client).expect("recon");
    let warm = t.elapsed();

    println!("recon bench: 100 dependencies, --top 3, budget 500, loopback index, rate limit off");
    println!(
        "  index         {:>9.1?}  ({} requests, {} dependencies found, {} registered variants, budget spent: {})",
        cold, report.requests_sent, checked, registered, report.budget_spent
    );
    println!(
        "  from cache    {:>9.1?}  ({} requests, {} cache hits)",
        warm, again.requests_sent, again.cache_hits
    );
    println!("  server saw {} requests", server.requests());
}
