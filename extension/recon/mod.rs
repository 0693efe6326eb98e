//! `squatch recon`: the attacker's-eye view of a project's dependencies,
//! asked of a live package index (the seed guide's Reconnaissance stage:
//! "are the misspellings of the packages you use available to be
//! registered?", and its Evaluation stage: who maintains each dependency,
//! when was it last updated).
//!
//! For every declared dependency (requirements files) or installed one (the
//! host under `--root`), recon asks the index, through the PEP 691 JSON
//! Simple API with PEP 700 upload times, whether the dependency exists (a
//! name that does not is a slopsquat waiting to happen), its first and last
//! upload, its releases and yanked files, and, from the project JSON API
//! where the index has one (PyPI's `/pypi/<name>/json`), its organisation
//! and maintainers. It lists the typosquat variants an attacker would try
//! ([`crate::typosquat::variants`]) and which of them are registered.
//!
//! The only squatch command that touches the network: nothing else does, and
//! this one only when run. One index URL, a request budget, a rate limit,
//! answers cached under `<state_dir>/recon/` with their age.

mod client;
pub mod index;
mod report;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

pub use client::{Answer, Client, Limits, PLAIN_JSON, SIMPLE_JSON};
pub use report::{DependencyReport, Report, VariantReport};

use crate::host::Host;
use crate::python::{discover_environments, distributions_core, normalize_name, DistributionCache};
use crate::requirements::{find_dependency_files, scan_files, Format as FileFormat, ScopeOptions};
use crate::tables::python_requirements::DIRECTORY_DEPTH;
use crate::typosquat::{judge, variants, Index};

/// The index recon asks unless told otherwise: PyPI's JSON Simple API.
pub const DEFAULT_INDEX: &str = "https://pypi.org/simple/";

/// Errors of recon.
#[derive(Debug, thiserror::Error)]
pub enum ReconError {
    /// The index could not be reached at all (DNS, connection, TLS).
    #[error("cannot reach the package index at {url}: {message} (recon needs network access to the index given with --index; answers already cached under the state directory are used without it)")]
    Unreachable {
        /// The URL asked.
        url: String,
        /// What failed.
        message: String,
    },
    /// The index answered something recon cannot use.
    #[error("{url}: {message}")]
    Index {
        /// The URL asked.
        url: String,
        /// What was wrong.
        message: String,
    },
    /// The request budget is spent.
    #[error("request budget of {0} spent (raise --max-requests, or run again: answers so far are cached)")]
    BudgetSpent(usize),
    /// A requirements file or directory could not be read.
    #[error("{path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Plain text for a terminal.
    Text,
    /// One JSON object.
    Json,
    /// Markdown tables (for a pull request or a ticket).
    Markdown,
}

/// `squatch recon`'s arguments.
#[derive(Debug, Clone, clap::Args)]
pub struct ReconArgs {
    /// Requirements files, or directories holding `requirements*.txt`; none:
    /// the distributions installed on the host (--root).
    pub paths: Vec<PathBuf>,
    /// The package index's JSON Simple API (PEP 691) base URL.
    #[arg(long, default_value = DEFAULT_INDEX, env = "SQUATCH_RECON_INDEX")]
    pub index: String,
    /// The project JSON API base (`<base><name>/json`); default: the index
    /// URL with its trailing `simple/` replaced by `pypi/` (PyPI's layout).
    /// `none` to skip maintainers.
    #[arg(long)]
    pub json_api: Option<String>,
    /// Check the N most plausible typosquat variants of each dependency.
    #[arg(long, default_value_t = 5)]
    pub top: usize,
    /// Most requests this run sends (cached answers are free).
    #[arg(long, default_value_t = 500)]
    pub max_requests: usize,
    /// Most requests a second (0: no limit).
    #[arg(long, default_value_t = 10.0)]
    pub rate: f64,
    /// Use a cached answer younger than this many seconds.
    #[arg(long, default_value_t = 86_400)]
    pub max_age: u64,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

/// One dependency to look up, and where it was declared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dependency {
    /// The name as written.
    pub name: String,
    /// Where it comes from (a file path, or `installed`).
    pub source: String,
}

/// The dependencies of the given paths (files, or directories'
/// `requirements*.txt`), or of the host when none is given.
pub fn dependencies(paths: &[PathBuf], host: &Host) -> Result<Vec<Dependency>, ReconError> {
    let mut out: Vec<Dependency> = Vec::new();
    let push = |name: String, source: &str, out: &mut Vec<Dependency>| {
        let n = normalize_name(&name);
        if !out.iter().any(|d| normalize_name(&d.name) == n) {
            out.push(Dependency {
                name,
                source: source.to_string(),
            });
        }
    };
    if paths.is_empty() {
        let cache = DistributionCache::new();
        let mut names: Vec<String> = Vec::new();
        for env in discover_environments(host) {
            for site in &env.site_packages {
                for d in distributions_core(host, site, &cache) {
                    if !d.name.is_empty() {
                        names.push(d.name.clone());
                    }
                }
            }
        }
        names.sort_by_key(|n| normalize_name(n));
        for n in names {
            push(n, "installed", &mut out);
        }
        return Ok(out);
    }
    // The same parsers and file discovery as `squatch check`: requirements
    // files (with their includes), pyproject.toml, setup.cfg and lock files;
    // only the dependencies a project declares (not those only locked).
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
    let fs = Host::new("/");
    let mut files: Vec<(PathBuf, FileFormat)> = Vec::new();
    for p in paths {
        let abs = Host::normalize(&cwd.join(p));
        if fs.is_dir(&abs) {
            let found =
                find_dependency_files(&fs, &[(abs, DIRECTORY_DEPTH)], &ScopeOptions::default());
            files.extend(found.files);
        } else if fs.exists(&abs) {
            let format = FileFormat::for_explicit_file(&abs);
            files.push((abs, format));
        } else {
            return Err(ReconError::Read {
                path: p.clone(),
                source: std::io::Error::from(std::io::ErrorKind::NotFound),
            });
        }
    }
    let scan = scan_files(&fs, &files);
    for d in &scan.dependencies {
        if d.is_direct && d.error.is_none() && !d.name.is_empty() {
            push(d.name.clone(), &d.path.to_string_lossy(), &mut out);
        }
    }
    Ok(out)
}

/// The project JSON API base for an index URL (PyPI's layout), if any.
fn json_api_base(index: &str, given: Option<&str>) -> Option<String> {
    match given {
        Some("none") => None,
        Some(g) => Some(with_slash(g)),
        None => {
            let i = with_slash(index);
            i.strip_suffix("simple/").map(|b| format!("{b}pypi/"))
        }
    }
}

fn with_slash(s: &str) -> String {
    if s.ends_with('/') {
        s.to_string()
    } else {
        format!("{s}/")
    }
}

/// What the Simple API says of one name: `None` when it does not exist.
fn lookup(
    client: &mut Client,
    index: &str,
    name: &str,
) -> Result<Option<index::Releases>, ReconError> {
    let url = format!("{}{}/", with_slash(index), normalize_name(name));
    let a = client.get(&url, SIMPLE_JSON)?;
    let url = a.url.clone();
    match a.status {
        200 => index::parse_simple(&a.body)
            .map(Some)
            .map_err(|e| ReconError::Index {
                url,
                message: format!(
                    "not a PEP 691 JSON project page ({e}); is --index the JSON Simple API base?"
                ),
            }),
        404 | 410 => Ok(None),
        s => Err(ReconError::Index {
            url,
            message: format!("HTTP status {s}"),
        }),
    }
}

/// Runs recon over `deps`: every request goes through `client`.
pub fn run(
    deps: &[Dependency],
    args: &ReconArgs,
    client: &mut Client,
) -> Result<Report, ReconError> {
    let typo = Index::embedded();
    let json_api = json_api_base(&args.index, args.json_api.as_deref());
    let mut report = Report::new(&crate::python::strip_credentials(&args.index));
    for dep in deps {
        let a = typo.assess(&dep.name);
        let j = judge(&a, None);
        let mut r = DependencyReport {
            name: dep.name.clone(),
            normalized_name: a.normalized_name.clone(),
            source: dep.source.clone(),
            verdict: j.verdict.as_str().to_string(),
            target: a.target.clone().filter(|_| a.is_flagged()),
            known_malicious: a.known_malicious.clone(),
            ..Default::default()
        };
        match step(lookup(client, &args.index, &dep.name), &mut r.status)? {
            Some(Some(rel)) => {
                r.exists = Some(true);
                r.releases = Some(rel);
            }
            Some(None) => r.exists = Some(false),
            None => {}
        }
        if r.exists == Some(true) {
            if let Some(base) = &json_api {
                let url = format!("{base}{}/json", a.normalized_name);
                if let Some(ans) = step(client.get(&url, PLAIN_JSON), &mut r.status)? {
                    if ans.status == 200 {
                        match index::parse_project_json(&ans.body) {
                            Ok(m) => {
                                r.single_unorganised_maintainer = m.single_unorganised();
                                r.maintainers = Some(m);
                            }
                            Err(e) => r.status = format!("project JSON unreadable: {e}"),
                        }
                    }
                }
            }
        }
        // The variants an attacker would try first: known-malicious ones,
        // then by how much they look like the dependency.
        let mut cands: Vec<(f64, crate::typosquat::Variant)> = variants(typo, &dep.name)
            .into_iter()
            .filter(|v| v.popular_rank.is_none())
            .map(|v| {
                let s = typo.assess(&v.variant);
                let score = if s.target.as_deref() == Some(a.normalized_name.as_str()) {
                    s.score
                } else {
                    s.score * 0.5
                };
                (score, v)
            })
            .collect();
        cands.sort_by(|x, y| {
            y.1.known_malicious
                .is_some()
                .cmp(&x.1.known_malicious.is_some())
                .then(y.0.total_cmp(&x.0))
                .then_with(|| x.1.variant.cmp(&y.1.variant))
        });
        for (score, v) in cands.into_iter().take(args.top) {
            let mut vr = VariantReport {
                variant: v.variant.clone(),
                technique: v.technique.clone(),
                score,
                known_malicious: v.known_malicious.clone(),
                ..Default::default()
            };
            match step(lookup(client, &args.index, &v.variant), &mut vr.status)? {
                Some(Some(rel)) => {
                    vr.registered = Some(true);
                    vr.first_upload = rel.first_upload;
                    vr.last_upload = rel.last_upload;
                }
                Some(None) => vr.registered = Some(false),
                None => {}
            }
            if vr.status.is_empty() {
                vr.status = "ok".into();
            }
            r.variants.push(vr);
        }
        if r.status.is_empty() {
            r.status = "ok".into();
        }
        report.dependencies.push(r);
    }
    report.requests_sent = client.sent();
    report.cache_hits = client.cache_hits();
    report.oldest_cached_age = client.oldest_cached_age();
    report.budget_spent = client.budget_spent();
    Ok(report)
}

/// One lookup's outcome: the value, or `None` with the reason in `status`
/// for what leaves the rest of the report usable (budget spent, one odd
/// answer); an unreachable index stops the run.
fn step<T>(r: Result<T, ReconError>, status: &mut String) -> Result<Option<T>, ReconError> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(e @ ReconError::Unreachable { .. }) => Err(e),
        Err(e @ ReconError::BudgetSpent(_)) => {
            *status = format!("not checked: {e}");
            Ok(None)
        }
        Err(e) => {
            *status = e.to_string();
            Ok(None)
        }
    }
}

/// `squatch recon`: reads the dependencies, asks the index, prints the
/// report. Exit status 0; 1 when a dependency does not exist on the index,
/// is known malicious, or a registered variant is known malicious; 2 when
/// recon could not run (index unreachable, unreadable file) or its budget
/// ran out before every name was checked.
pub fn main(args: &ReconArgs, host: &Host, state_dir: &Path) -> ExitCode {
    let deps = match dependencies(&args.paths, host) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("squatch recon: error: {e}");
            return ExitCode::from(2);
        }
    };
    if deps.is_empty() {
        eprintln!("squatch recon: no dependencies found (give requirements files, or --root of a host with Python packages)");
        return ExitCode::from(2);
    }
    let limits = Limits {
        max_requests: args.max_requests,
        rate: args.rate,
        max_age: Duration::from_secs(args.max_age),
        timeout: Duration::from_secs(20),
    };
    let mut client = Client::new(Some(&state_dir.join("recon")), limits);
    let report = match run(&deps, args, &mut client) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("squatch recon: error: {e}");
            return ExitCode::from(2);
        }
    };
    let text = match args.format {
        Format::Text => report.text(),
        Format::Json => report.json(),
        Format::Markdown => report.markdown(),
    };
    print!("{text}");
    if report.budget_spent && report.unchecked() > 0 {
        eprintln!(
            "squatch recon: request budget spent: {} names not checked (raise --max-requests or run again; answers so far are cached)",
            report.unchecked()
        );
    }
    if report.failed() {
        ExitCode::FAILURE
    } else if report.unchecked() > 0 {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_api_follows_pypi_layout() {
        assert_eq!(
            json_api_base("https://pypi.org/simple", None).as_deref(),
            Some("https://pypi.org/pypi/")
        );
        assert_eq!(json_api_base("https://mirror.invalid/idx/", None), None);
        assert_eq!(
            json_api_base("https://pypi.org/simple/", Some("none")),
            None
        );
    }
}
