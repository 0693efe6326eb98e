//! The recon report and its three renderings (text, JSON, Markdown).

use std::fmt::Write as _;

use serde::Serialize;

use super::index::{Maintainers, Releases};
use crate::civil::date;

/// One typosquat variant of a dependency and what the index says of it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct VariantReport {
    /// The variant (normalised).
    pub variant: String,
    /// How it was made from the dependency's name.
    pub technique: String,
    /// How plausible an imitation it is (0..1).
    pub score: f64,
    /// OSV ids when it is a known-malicious name.
    pub known_malicious: Option<String>,
    /// Registered on the index (`None`: not checked).
    pub registered: Option<bool>,
    /// First upload (Unix seconds) when registered.
    pub first_upload: Option<i64>,
    /// Last upload (Unix seconds) when registered.
    pub last_upload: Option<i64>,
    /// `ok`, or why it was not checked.
    pub status: String,
}

/// One dependency and what the index says of it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct DependencyReport {
    /// The name as declared or installed.
    pub name: String,
    /// PEP 503 normalised.
    pub normalized_name: String,
    /// The requirements file, or `installed`.
    pub source: String,
    /// The name's own typosquat verdict (shape and lists only).
    pub verdict: String,
    /// The popular package it looks like, when its shape is flagged.
    pub target: Option<String>,
    /// OSV ids when the name itself is known malicious.
    pub known_malicious: Option<String>,
    /// On the index (`None`: not checked).
    pub exists: Option<bool>,
    /// Uploads and releases, when it exists.
    pub releases: Option<Releases>,
    /// Organisation and roles, where the index's project JSON gives them.
    pub maintainers: Option<Maintainers>,
    /// One verified maintainer and no organisation (the seed's Evaluation
    /// signal); `None` when unknown.
    pub single_unorganised_maintainer: Option<bool>,
    /// The variants checked.
    pub variants: Vec<VariantReport>,
    /// `ok`, or what went wrong for this name.
    pub status: String,
}

impl DependencyReport {
    /// Why this dependency fails the run, if it does.
    pub fn failures(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.exists == Some(false) {
            out.push(format!(
                "{} does not exist on the index: anyone can register it (slopsquat)",
                self.name
            ));
        }
        if let Some(ids) = &self.known_malicious {
            out.push(format!("{} is a known-malicious name ({ids})", self.name));
        }
        for v in &self.variants {
            if let (Some(true), Some(ids)) = (v.registered, &v.known_malicious) {
                out.push(format!(
                    "variant {} of {} is registered and known malicious ({ids})",
                    v.variant, self.name
                ));
            }
        }
        out
    }
}

/// The whole report.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    /// The index asked.
    pub index: String,
    /// Requests sent.
    pub requests_sent: usize,
    /// Answers taken from the cache.
    pub cache_hits: usize,
    /// Age in seconds of the oldest cached answer used.
    pub oldest_cached_age: Option<i64>,
    /// True when the request budget ran out.
    pub budget_spent: bool,
    /// Every dependency.
    pub dependencies: Vec<DependencyReport>,
}

fn age(secs: Option<i64>) -> String {
    match secs {
        None => String::new(),
        Some(s) if s < 120 => format!(", oldest {s}s old"),
        Some(s) if s < 7200 => format!(", oldest {}min old", s / 60),
        Some(s) => format!(", oldest {}h old", s / 3600),
    }
}

fn day(t: Option<i64>) -> String {
    t.map(date).unwrap_or_else(|| "-".into())
}

fn maintainers_text(m: &Option<Maintainers>) -> String {
    let Some(m) = m else { return "-".into() };
    let mut parts = Vec::new();
    if let Some(o) = &m.organization {
        parts.push(format!("org {o}"));
    }
    if !m.roles.is_empty() {
        parts.push(m.roles.join(" "));
    }
    if parts.is_empty() {
        if let Some(a) = m.maintainer.as_ref().or(m.author.as_ref()) {
            parts.push(format!("metadata: {a}"));
        }
    }
    if parts.is_empty() {
        "-".into()
    } else {
        parts.join("; ")
    }
}

impl Report {
    /// An empty report for `index`.
    pub fn new(index: &str) -> Report {
        Report {
            index: index.to_string(),
            ..Default::default()
        }
    }

    /// True when the run must fail (exit 1).
    pub fn failed(&self) -> bool {
        self.dependencies.iter().any(|d| !d.failures().is_empty())
    }

    /// Names (dependencies and variants) left unchecked.
    pub fn unchecked(&self) -> usize {
        self.dependencies
            .iter()
            .map(|d| {
                usize::from(d.exists.is_none())
                    + d.variants.iter().filter(|v| v.registered.is_none()).count()
            })
            .sum()
    }

    /// One JSON object.
    pub fn json(&self) -> String {
        let mut v = serde_json::to_value(self).unwrap_or_default();
        if let Some(o) = v.as_object_mut() {
            o.insert("failed".into(), self.failed().into());
            let f: Vec<String> = self
                .dependencies
                .iter()
                .flat_map(|d| d.failures())
                .collect();
            o.insert("failures".into(), f.into());
        }
        format!("{}\n", serde_json::to_string_pretty(&v).unwrap_or_default())
    }

    /// Plain text.
    pub fn text(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "recon against {} ({} requests, {} answers from the cache{}{})",
            self.index,
            self.requests_sent,
            self.cache_hits,
            age(self.oldest_cached_age),
            if self.budget_spent {
                ", budget spent"
            } else {
                ""
            }
        );
        for d in &self.dependencies {
            let _ = writeln!(s);
            let exists = match d.exists {
                Some(true) => "exists".to_string(),
                Some(false) => "DOES NOT EXIST on the index".to_string(),
                None => format!("not checked ({})", d.status),
            };
            let _ = writeln!(s, "{} ({}): {exists}", d.name, d.source);
            if let Some(r) = &d.releases {
                let _ = writeln!(
                    s,
                    "  first upload {}, last upload {}, {} releases, {}/{} files yanked",
                    day(r.first_upload),
                    day(r.last_upload),
                    r.releases,
                    r.yanked_files,
                    r.files
                );
            }
            if d.maintainers.is_some() {
                let _ = writeln!(
                    s,
                    "  maintainers: {}{}",
                    maintainers_text(&d.maintainers),
                    if d.single_unorganised_maintainer == Some(true) {
                        " (single maintainer, no organisation)"
                    } else {
                        ""
                    }
                );
            }
            if d.verdict != "ok" {
                let _ = writeln!(
                    s,
                    "  its own name: {} of {}",
                    d.verdict,
                    d.target.as_deref().unwrap_or("-")
                );
            }
            for v in &d.variants {
                let state = match v.registered {
                    Some(true) => format!("REGISTERED (first upload {})", day(v.first_upload)),
                    Some(false) => "free".to_string(),
                    None => format!("not checked ({})", v.status),
                };
                let mal = v
                    .known_malicious
                    .as_ref()
                    .map(|i| format!(", known malicious {i}"))
                    .unwrap_or_default();
                let _ = writeln!(
                    s,
                    "  variant {:<28} {state}{mal}  [{}]",
                    v.variant, v.technique
                );
            }
        }
        let failures: Vec<String> = self
            .dependencies
            .iter()
            .flat_map(|d| d.failures())
            .collect();
        if !failures.is_empty() {
            let _ = writeln!(s, "\nFAILED:");
            for f in failures {
                let _ = writeln!(s, "  {f}");
            }
        }
        s
    }

    /// Markdown: a dependency table and a variant table.
    pub fn markdown(&self) -> String {
        let cell = |t: &str| t.replace('|', "\\|").replace('\n', " ");
        let mut s = String::new();
        let _ = writeln!(s, "## squatch recon\n");
        let _ = writeln!(
            s,
            "Index `{}`: {} requests, {} answers from the cache{}{}.\n",
            cell(&self.index),
            self.requests_sent,
            self.cache_hits,
            age(self.oldest_cached_age),
            if self.budget_spent {
                ", budget spent"
            } else {
                ""
            }
        );
        let _ = writeln!(s, "| dependency | exists | first upload | last upload | releases | yanked files | maintainers | own name |");
        let _ = writeln!(s, "|---|---|---|---|---|---|---|---|");
        for d in &self.dependencies {
            let exists = match d.exists {
                Some(true) => "yes",
                Some(false) => "**no**",
                None => "not checked",
            };
            let (first, last, rel, yanked) = match &d.releases {
                Some(r) => (
                    day(r.first_upload),
                    day(r.last_upload),
                    r.releases.to_string(),
                    format!("{}/{}", r.yanked_files, r.files),
                ),
                None => ("-".into(), "-".into(), "-".into(), "-".into()),
            };
            let _ = writeln!(
                s,
                "| {} | {exists} | {first} | {last} | {rel} | {yanked} | {}{} | {} |",
                cell(&d.name),
                cell(&maintainers_text(&d.maintainers)),
                if d.single_unorganised_maintainer == Some(true) {
                    " (single, no org)"
                } else {
                    ""
                },
                d.verdict
            );
        }
        let _ = writeln!(
            s,
            "\n| dependency | variant | technique | registered | first upload | known malicious |"
        );
        let _ = writeln!(s, "|---|---|---|---|---|---|");
        for d in &self.dependencies {
            for v in &d.variants {
                let reg = match v.registered {
                    Some(true) => "**yes**",
                    Some(false) => "free",
                    None => "not checked",
                };
                let _ = writeln!(
                    s,
                    "| {} | {} | {} | {reg} | {} | {} |",
                    cell(&d.name),
                    cell(&v.variant),
                    cell(&v.technique),
                    day(v.first_upload),
                    v.known_malicious.as_deref().unwrap_or("-")
                );
            }
        }
        let failures: Vec<String> = self
            .dependencies
            .iter()
            .flat_map(|d| d.failures())
            .collect();
        if !failures.is_empty() {
            let _ = writeln!(s, "\n**Failed:**\n");
            for f in failures {
                let _ = writeln!(s, "- {}", cell(&f));
            }
        }
        s
    }
}
