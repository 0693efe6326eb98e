//! `squatch check`: the CI gate over dependency files.
//!
//! Reads requirements files, pyproject.toml, setup.cfg, lock files and
//! index configuration (the current directory by default) with the
//! [`crate::requirements`] scanner, applies the gates of a [`Policy`]
//! (rules in `rules.toml`) and reports one line per problem with its file
//! and line, as text, JSON or SARIF 2.1.0. Exit status: 0 clean, 1
//! findings, 2 usage or parse error.

pub mod policy;
pub mod sarif;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::host::Host;
use crate::python::normalize_name;
use crate::requirements::indexes::{self, Role};
use crate::requirements::{find_dependency_files, scan_file, scan_files, Format, ScopeOptions};
use crate::tables::python_requirements::DIRECTORY_DEPTH;
use crate::typosquat::Index;

pub use policy::Policy;

/// The rules, shipped as data.
pub const RULES_TOML: &str = include_str!("rules.toml");

/// One gate's description (an entry of `rules.toml`).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
pub struct Rule {
    /// SARIF ruleId.
    pub id: String,
    /// PascalCase name.
    pub name: String,
    /// SARIF level.
    pub level: String,
    /// One-line description.
    pub short: String,
    /// Why it matters.
    pub rationale: String,
    /// What to do.
    pub help: String,
    /// Where the rule comes from.
    pub source: String,
}

/// Every rule, in `rules.toml` order.
pub fn rules() -> Vec<Rule> {
    #[derive(Deserialize)]
    struct File {
        rule: Vec<Rule>,
    }
    toml::from_str::<File>(RULES_TOML)
        .map(|f| f.rule)
        .expect("rules.toml is valid (checked by a unit test)")
}

/// An error that stops the check (exit status 2).
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    /// The policy file could not be read or parsed.
    #[error("policy {path}: {message}")]
    Policy {
        /// The policy file.
        path: PathBuf,
        /// What was wrong.
        message: String,
    },
    /// A path given does not exist.
    #[error("{0}: no such file or directory")]
    Missing(PathBuf),
    /// The baseline could not be read.
    #[error("baseline {path}: {message}")]
    Baseline {
        /// The baseline file.
        path: PathBuf,
        /// What was wrong.
        message: String,
    },
    /// Writing the report failed.
    #[error("writing the report: {0}")]
    Output(#[from] std::io::Error),
}

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    /// One line per problem.
    Text,
    /// A JSON object.
    Json,
    /// SARIF 2.1.0.
    Sarif,
}

impl OutputFormat {
    /// Parses `text`, `json` or `sarif`.
    pub fn parse(s: &str) -> Option<OutputFormat> {
        match s {
            "text" => Some(OutputFormat::Text),
            "json" => Some(OutputFormat::Json),
            "sarif" => Some(OutputFormat::Sarif),
            _ => None,
        }
    }
}

/// What `squatch check` was asked to do.
#[derive(Debug, Clone)]
pub struct CheckOptions {
    /// Files and directories (empty: the current directory).
    pub paths: Vec<PathBuf>,
    /// Policy file (default policy when absent).
    pub policy: Option<PathBuf>,
    /// Report format.
    pub format: OutputFormat,
    /// A previous lock or requirements file.
    pub baseline: Option<PathBuf>,
}

/// One problem.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Finding {
    /// Rule id (`rules.toml`).
    pub rule: String,
    /// File, as given or relative to the current directory.
    pub path: String,
    /// 1-based line; 0 when unknown.
    pub line: usize,
    /// The dependency or setting concerned.
    pub name: String,
    /// What is wrong, in words.
    pub message: String,
}

/// A file or line that could not be parsed (exit status 2).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ParseProblem {
    /// File, as given or relative to the current directory.
    pub path: String,
    /// 1-based line; 0 for the whole file.
    pub line: usize,
    /// The parser's message.
    pub message: String,
}

/// The result of a check.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Report {
    /// Files read.
    pub files: Vec<String>,
    /// Dependencies read.
    pub dependencies: usize,
    /// Problems found by the gates.
    pub findings: Vec<Finding>,
    /// Files or lines that could not be parsed.
    pub errors: Vec<ParseProblem>,
}

impl Report {
    /// The exit status: 2 on parse errors, 1 on findings, 0 clean.
    pub fn exit_code(&self) -> u8 {
        if !self.errors.is_empty() {
            2
        } else if !self.findings.is_empty() {
            1
        } else {
            0
        }
    }
}

/// Index configuration files `check` reads when given or found.
fn is_index_config(path: &Path) -> bool {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    matches!(
        name.as_str(),
        "pip.conf" | "pip.ini" | "uv.toml" | ".condarc" | "condarc"
    )
}

/// Runs the check and returns the report.
pub fn check(opts: &CheckOptions) -> Result<Report, CheckError> {
    let policy = match &opts.policy {
        Some(p) => {
            let text = std::fs::read_to_string(p).map_err(|e| CheckError::Policy {
                path: p.clone(),
                message: e.to_string(),
            })?;
            Policy::parse(&text).map_err(|message| CheckError::Policy {
                path: p.clone(),
                message,
            })?
        }
        None => Policy::default(),
    };
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
    let host = Host::new("/");
    let given: Vec<PathBuf> = if opts.paths.is_empty() {
        vec![PathBuf::from(".")]
    } else {
        opts.paths.clone()
    };
    let mut files: Vec<(PathBuf, Format)> = Vec::new();
    let mut configs: Vec<PathBuf> = Vec::new();
    for p in &given {
        let abs = Host::normalize(&cwd.join(p));
        if host.is_dir(&abs) {
            let found =
                find_dependency_files(&host, &[(abs, DIRECTORY_DEPTH)], &ScopeOptions::default());
            files.extend(found.files);
            configs.extend(found.configs);
        } else if host.exists(&abs) {
            if is_index_config(&abs) {
                configs.push(abs);
            } else {
                let f = Format::for_explicit_file(&abs);
                files.push((abs, f));
            }
        } else {
            return Err(CheckError::Missing(p.clone()));
        }
    }
    let baseline: Option<BTreeSet<String>> = match &opts.baseline {
        Some(b) => {
            let abs = Host::normalize(&cwd.join(b));
            if !host.is_file(&abs) {
                return Err(CheckError::Baseline {
                    path: b.clone(),
                    message: "no such file".into(),
                });
            }
            let scan = scan_file(&host, &abs, Format::for_explicit_file(&abs));
            if let Some(d) = scan.dependencies.iter().find(|d| d.file_failed) {
                return Err(CheckError::Baseline {
                    path: b.clone(),
                    message: d.error.clone().unwrap_or_default(),
                });
            }
            Some(
                scan.dependencies
                    .iter()
                    .filter(|d| !d.normalized_name.is_empty())
                    .map(|d| d.normalized_name.clone())
                    .collect(),
            )
        }
        None => None,
    };
    let shown = |p: &Path| -> String {
        p.strip_prefix(&cwd)
            .map(|r| r.to_string_lossy().into_owned())
            .unwrap_or_else(|_| p.to_string_lossy().into_owned())
    };

    let scan = scan_files(&host, &files);
    let mut report = Report {
        files: scan.files.iter().map(|p| shown(p)).collect(),
        ..Report::default()
    };
    let mut settings = scan.indexes.clone();
    for c in &configs {
        report.files.push(shown(c));
        match indexes::parse_config(&host, c) {
            Ok(s) => settings.extend(s),
            Err(message) => report.errors.push(ParseProblem {
                path: shown(c),
                line: 0,
                message,
            }),
        }
    }
    indexes::assess(&mut settings);

    let allow: BTreeSet<String> = policy.allow.iter().map(|n| normalize_name(n)).collect();
    let ignore: BTreeSet<String> = policy.ignore.iter().map(|n| normalize_name(n)).collect();
    let pin_formats: BTreeSet<&str> = policy.pin_formats.iter().map(String::as_str).collect();
    let mut scores = BTreeMap::new();
    let mut push = |rule: &str, path: &Path, line: usize, name: &str, message: String| {
        report.findings.push(Finding {
            rule: rule.to_string(),
            path: shown(path),
            line,
            name: name.to_string(),
            message,
        });
    };
    let mut dependencies = 0;
    let mut off_index: BTreeSet<(PathBuf, String)> = BTreeSet::new();
    let wanted_index = policy.index_url.trim_end_matches('/').to_string();
    let mut errors = Vec::new();
    for d in &scan.dependencies {
        if let Some(e) = &d.error {
            errors.push(ParseProblem {
                path: shown(&d.path),
                line: d.line,
                message: e.clone(),
            });
            continue;
        }
        dependencies += 1;
        let n = &d.normalized_name;
        let a = scores
            .entry(n.clone())
            .or_insert_with(|| Index::embedded().assess(&d.name));
        if a.known_malicious.is_some() && policy.deny_known_malicious {
            push(
                "known-malicious",
                &d.path,
                d.line,
                &d.name,
                format!(
                    "{} is a known-malicious PyPI package ({})",
                    d.name,
                    a.known_malicious.as_deref().unwrap_or("")
                ),
            );
        } else if a.score >= policy.typosquat_threshold && a.score > 0.0 && !ignore.contains(n) {
            push(
                "typosquat",
                &d.path,
                d.line,
                &d.name,
                format!(
                    "{} looks like a typosquat of {} (score {:.2}: {})",
                    d.name,
                    a.target.as_deref().unwrap_or("?"),
                    a.score,
                    a.technique
                ),
            );
        }
        if pin_formats.contains(d.format.as_str()) {
            if policy.require_pins && !d.pinned {
                push(
                    "unpinned",
                    &d.path,
                    d.line,
                    &d.name,
                    if d.specifier.is_empty() {
                        format!("{} has no version pin (pin it with ==VERSION)", d.name)
                    } else {
                        format!("{} {} is not one exact version", d.name, d.specifier)
                    },
                );
            }
            if policy.require_hashes && !d.hashed {
                push(
                    "unhashed",
                    &d.path,
                    d.line,
                    &d.name,
                    format!("{} has no --hash", d.name),
                );
            }
        }
        if !allow.is_empty() && !allow.contains(n) {
            push(
                "not-allowed",
                &d.path,
                d.line,
                &d.name,
                format!("{} is not on the policy's allow-list", d.name),
            );
        }
        if let Some(base) = &baseline {
            if !base.contains(n) {
                push(
                    "new-dependency",
                    &d.path,
                    d.line,
                    &d.name,
                    format!("{} is new since the baseline", d.name),
                );
            }
        }
        // Lock entries name their index; a requirements file's entries take
        // its -i line, which the settings below report once.
        if !wanted_index.is_empty()
            && d.format.is_lock()
            && !d.index_url.is_empty()
            && !d.index_url.starts_with("source:")
            && d.index_url.trim_end_matches('/') != wanted_index
            && off_index.insert((d.path.clone(), d.index_url.clone()))
        {
            push(
                "index-not-allowed",
                &d.path,
                d.line,
                &d.name,
                format!(
                    "{} (and any later entry of this file from the same index) comes from {}, not the policy's {}",
                    d.name, d.index_url, policy.index_url
                ),
            );
        }
    }
    for s in &settings {
        let path = s.path.clone().unwrap_or_default();
        let fetches = matches!(
            s.role,
            Role::Primary | Role::Extra | Role::Supplemental | Role::FindLinks | Role::Channel
        );
        if !wanted_index.is_empty()
            && fetches
            && s.url.trim_end_matches('/') != wanted_index
            && s.role != Role::Channel
        {
            push(
                "index-not-allowed",
                &path,
                s.line,
                &s.setting,
                format!(
                    "{} points at {}, not the policy's {}",
                    s.setting, s.url, policy.index_url
                ),
            );
        }
        if !policy.allow_extra_indexes
            && matches!(s.role, Role::Extra | Role::Supplemental | Role::FindLinks)
        {
            let why = if s.risk.is_empty() {
                "a second place packages come from".to_string()
            } else {
                s.risk.split("; ").next().unwrap_or("").to_string()
            };
            push(
                "extra-index",
                &path,
                s.line,
                &s.setting,
                format!("{} adds {}: {}", s.setting, s.url, why),
            );
        }
        if !policy.allow_insecure
            && (s.role == Role::TrustedHost || s.url.to_ascii_lowercase().starts_with("http://"))
        {
            push(
                "insecure-index",
                &path,
                s.line,
                &s.setting,
                if s.role == Role::TrustedHost {
                    format!("{} turns off TLS verification for {}", s.setting, s.url)
                } else {
                    format!("{} uses plain http: {}", s.setting, s.url)
                },
            );
        }
        if !policy.allow_credentials_in_urls && s.has_credentials {
            push(
                "credentials-in-url",
                &path,
                s.line,
                &s.setting,
                format!(
                    "{} carries credentials in the URL (not shown): {}",
                    s.setting, s.url
                ),
            );
        }
    }
    report.dependencies = dependencies;
    report.errors.extend(errors);
    report
        .findings
        .sort_by(|a, b| (&a.path, a.line, &a.rule).cmp(&(&b.path, b.line, &b.rule)));
    Ok(report)
}

/// Writes the report in `format`.
pub fn write_report(
    report: &Report,
    format: OutputFormat,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    match format {
        OutputFormat::Text => {
            for e in &report.errors {
                writeln!(out, "{}:{}: parse-error: {}", e.path, e.line, e.message)?;
            }
            for f in &report.findings {
                writeln!(out, "{}:{}: {}: {}", f.path, f.line, f.rule, f.message)?;
            }
            writeln!(
                out,
                "squatch check: {} problem(s), {} parse error(s) in {} file(s) ({} dependencies)",
                report.findings.len(),
                report.errors.len(),
                report.files.len(),
                report.dependencies
            )
        }
        OutputFormat::Json => {
            serde_json::to_writer_pretty(&mut *out, report)?;
            writeln!(out)
        }
        OutputFormat::Sarif => {
            serde_json::to_writer_pretty(&mut *out, &sarif::to_sarif(report, &rules()))?;
            writeln!(out)
        }
    }
}

/// `squatch check` from the command line: runs, prints, and returns the exit
/// status (0 clean, 1 findings, 2 usage or parse error).
pub fn run_cli(opts: &CheckOptions) -> u8 {
    match check(opts) {
        Ok(report) => {
            let stdout = std::io::stdout();
            let mut lock = std::io::BufWriter::new(stdout.lock());
            if let Err(e) = write_report(&report, opts.format, &mut lock).and_then(|_| lock.flush())
            {
                if e.kind() != std::io::ErrorKind::BrokenPipe {
                    eprintln!("squatch check: {e}");
                    return 2;
                }
            }
            report.exit_code()
        }
        Err(e) => {
            eprintln!("squatch check: error: {e}");
            2
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_file_is_valid_and_ids_are_unique() {
        let r = rules();
        assert_eq!(r.len(), 10);
        let ids: BTreeSet<&str> = r.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids.len(), r.len());
        for rule in &r {
            assert!(matches!(rule.level.as_str(), "error" | "warning" | "note"));
            assert!(!rule.help.is_empty() && !rule.rationale.is_empty() && !rule.source.is_empty());
        }
    }
}
