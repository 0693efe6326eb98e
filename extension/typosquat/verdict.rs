//! Verdicts: the shape score of a name ([`Assessment`]) combined with what
//! the host says about the installed distribution of that name.
//!
//! Shape alone cannot tell a typosquat from a legitimate small package one
//! edit from a popular one (`twone` and `twine`), so the verdict asks more:
//! does the distribution's METADATA Summary copy the target's, does its
//! project URL point at the target's project, was it installed recently by
//! nobody's request and without any installed package declaring it, does
//! its install-time code trip a rule? A name with its own summary and its
//! own project URL stays `ok` or `suspicious`, whatever its shape.
//!
//! Pure: the caller gathers [`HostEvidence`] (the table does it through
//! `Host`); with none (a name given in `WHERE`, a requirements file), only
//! the shape, the curated lists and the known-malicious list decide.

use std::collections::HashMap;
use std::sync::OnceLock;

use super::index::{Assessment, DEFAULT_THRESHOLD};
use super::normalize;

/// Shape score at or above which a name is a `typosquat` on its shape
/// alone (with no host evidence against it); between
/// [`DEFAULT_THRESHOLD`] and this it is `suspicious`.
pub const STRONG_THRESHOLD: f64 = 0.7;
/// An install this recent (seconds before now) of a name nobody requested
/// and nothing depends on counts as evidence.
pub const RECENT_INSTALL_SECS: i64 = 30 * 24 * 3600;
/// Summaries shorter than this (normalised) are too generic to compare.
const MIN_SUMMARY_LEN: usize = 12;
/// How many characters of a normalised summary the shipped list keeps.
const SUMMARY_KEPT: usize = 40;

/// The summaries of the popular packages (`name<TAB>normalised summary`).
pub const TOP_SUMMARIES_TSV: &str = include_str!("../data/pypi_top_summaries.tsv");

/// The three verdicts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verdict {
    /// Nothing points at an imitation.
    Ok,
    /// The name looks like an imitation, but nothing else says so, or the
    /// distribution has its own identity.
    Suspicious,
    /// Treat as a typosquat: a strong shape, a known-malicious name, or a
    /// suspicious shape with host evidence.
    Typosquat,
}

impl Verdict {
    /// The word the tables and reports use.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Ok => "ok",
            Verdict::Suspicious => "suspicious",
            Verdict::Typosquat => "typosquat",
        }
    }
}

/// What the host says about an installed distribution of the name.
#[derive(Debug, Clone, Default)]
pub struct HostEvidence {
    /// METADATA `Summary`.
    pub summary: Option<String>,
    /// `Home-page`, `Download-URL` and every `Project-URL` value.
    pub urls: Vec<String>,
    /// INSTALLER's REQUESTED marker: `Some(false)` when absent, `None` when
    /// unknown (egg-info, not read).
    pub requested: Option<bool>,
    /// Installed distributions (same environment) whose `Requires-Dist`
    /// names this one.
    pub required_by: Vec<String>,
    /// Install time (Unix seconds), when known.
    pub install_time: Option<i64>,
    /// Now (Unix seconds), for "recent".
    pub now: i64,
    /// Install-time findings in the distribution: `rule_id (severity)`.
    pub findings: Vec<String>,
}

/// A verdict and the reasons for it.
#[derive(Debug, Clone, PartialEq)]
pub struct Judgement {
    /// The verdict.
    pub verdict: Verdict,
    /// The reasons, most telling first, each a short phrase.
    pub evidence: Vec<String>,
}

/// Lowercase, every run of other characters than a-z/0-9 one space, as the
/// shipped summaries are written.
pub fn normalize_summary(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut gap = false;
    for c in s.chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            if gap && !out.is_empty() {
                out.push(' ');
            }
            gap = false;
            out.push(c);
        } else {
            gap = true;
        }
    }
    out
}

/// The shipped summary of a popular package (normalised, cut), if any.
pub fn top_summary(normalized: &str) -> Option<&'static str> {
    static MAP: OnceLock<HashMap<&'static str, &'static str>> = OnceLock::new();
    MAP.get_or_init(|| {
        TOP_SUMMARIES_TSV
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| l.split_once('\t'))
            .collect()
    })
    .get(normalized)
    .copied()
}

/// True when `summary` (as METADATA writes it) is the target's shipped
/// summary: equal once normalised and cut to the length the list keeps.
pub fn copies_summary(summary: &str, target_summary: &str) -> bool {
    let s = normalize_summary(summary);
    if s.len() < MIN_SUMMARY_LEN || target_summary.len() < MIN_SUMMARY_LEN {
        return false;
    }
    let cut: String = s.chars().take(SUMMARY_KEPT).collect();
    cut.trim_end() == target_summary
}

/// The project a URL names: its last path segment (without `.git`), or the
/// `<name>` of `pypi.org/project/<name>`; normalised like a package name.
pub fn url_project(url: &str) -> Option<String> {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let rest = rest.split(['?', '#']).next().unwrap_or("");
    let mut segs: Vec<&str> = rest.split('/').skip(1).filter(|s| !s.is_empty()).collect();
    if segs.len() >= 2 && segs[0] == "project" && rest.contains("pypi.org") {
        return Some(normalize(segs[1]));
    }
    let last = segs.pop()?;
    let last = last.strip_suffix(".git").unwrap_or(last);
    // Documentation pages, issue trackers, release lists: not a project.
    if matches!(
        last.to_ascii_lowercase().as_str(),
        "issues" | "releases" | "docs" | "wiki" | "tree" | "blob" | "main" | "master" | "changelog"
    ) || last.contains('.')
    {
        return None;
    }
    Some(normalize(last))
}

/// Judges a name: its shape ([`Assessment`]) and, when installed, what the
/// host says about it.
pub fn judge(a: &Assessment, host: Option<&HostEvidence>) -> Judgement {
    let mut evidence = Vec::new();
    if let Some(ids) = &a.known_malicious {
        evidence.push(format!("known malicious ({ids})"));
    }
    let flagged = a.score >= DEFAULT_THRESHOLD;
    if flagged && a.known_malicious.is_none() {
        evidence.push(format!("shape {:.2}: {}", a.score, a.technique));
    }
    // A popular name or an official relative (tensorflow-gpu) may share
    // its project's summary and links: that is not imitation.
    let relative = a.technique.starts_with("official relative");
    let target = a.target.as_deref().filter(|_| !a.is_popular() && !relative);
    let (mut copies, mut points_at_target, mut own_identity, mut orphan, mut findings) =
        (false, false, false, false, false);
    if let (Some(h), Some(t)) = (host, target) {
        let own_summary = h.summary.as_deref().filter(|s| !s.trim().is_empty());
        if let (Some(s), Some(ts)) = (own_summary, top_summary(t)) {
            copies = copies_summary(s, ts);
            if copies {
                evidence.push(format!("summary copies {t}'s"));
            }
        }
        let projects: Vec<String> = h.urls.iter().filter_map(|u| url_project(u)).collect();
        if projects.iter().any(|p| p == t) {
            points_at_target = true;
            evidence.push(format!("project URL points at {t}'s project"));
        }
        own_identity = own_summary.is_some()
            && !copies
            && !points_at_target
            && projects.contains(&a.normalized_name);
        if own_identity {
            evidence.push("own summary and own project URL".to_string());
        }
    }
    if let Some(h) = host.filter(|_| flagged) {
        let recent = h
            .install_time
            .is_some_and(|t| h.now.saturating_sub(t) <= RECENT_INSTALL_SECS);
        if h.requested == Some(false) && h.required_by.is_empty() && recent {
            orphan = true;
            evidence.push("installed recently, not requested, nothing depends on it".to_string());
        }
        if !h.findings.is_empty() {
            findings = true;
            evidence.push(format!("install-time findings: {}", h.findings.join(", ")));
        }
    }
    let verdict = if a.known_malicious.is_some() {
        Verdict::Typosquat
    } else if !flagged {
        // A plugin links its host project (`flask-foo` -> pallets/flask);
        // only a copied summary makes a name with no telling shape
        // suspicious.
        if copies {
            Verdict::Suspicious
        } else {
            Verdict::Ok
        }
    } else if copies || points_at_target || findings {
        Verdict::Typosquat
    } else if own_identity {
        if a.score >= STRONG_THRESHOLD || orphan {
            Verdict::Suspicious
        } else {
            Verdict::Ok
        }
    } else if a.score >= STRONG_THRESHOLD || orphan {
        Verdict::Typosquat
    } else {
        Verdict::Suspicious
    };
    Judgement { verdict, evidence }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::typosquat::Index;

    fn index() -> &'static Index {
        Index::embedded()
    }

    fn host(summary: &str, urls: &[&str]) -> HostEvidence {
        HostEvidence {
            summary: Some(summary.to_string()),
            urls: urls.iter().map(|s| s.to_string()).collect(),
            requested: Some(true),
            now: 2_000_000_000,
            install_time: Some(1_000_000_000),
            ..Default::default()
        }
    }

    #[test]
    fn summaries_are_shipped_and_compared_normalised() {
        assert_eq!(top_summary("requests"), Some("python http for humans"));
        assert_eq!(
            normalize_summary("  Python HTTP, for Humans. "),
            "python http for humans"
        );
        assert!(copies_summary(
            "Python HTTP for Humans.",
            "python http for humans"
        ));
        assert!(!copies_summary("HTTP for cats", "python http for humans"));
        assert!(!copies_summary("Tools", "tools"), "too generic to count");
    }

    #[test]
    fn url_projects() {
        assert_eq!(
            url_project("https://github.com/psf/requests").as_deref(),
            Some("requests")
        );
        assert_eq!(
            url_project("https://github.com/psf/Requests.git/").as_deref(),
            Some("requests")
        );
        assert_eq!(
            url_project("https://pypi.org/project/Torch/2.0/").as_deref(),
            Some("torch")
        );
        assert_eq!(url_project("https://github.com/psf/requests/issues"), None);
        assert_eq!(url_project("https://example.invalid/"), None);
    }

    #[test]
    fn shape_alone_splits_strong_and_weak() {
        let strong = index().assess("reqeusts");
        assert!(strong.score >= STRONG_THRESHOLD);
        assert_eq!(judge(&strong, None).verdict, Verdict::Typosquat);
        let weak = index().assess("twone");
        assert!(weak.score >= DEFAULT_THRESHOLD && weak.score < STRONG_THRESHOLD + 0.1);
        let popular = index().assess("requests");
        assert_eq!(judge(&popular, None).verdict, Verdict::Ok);
        let mal = index().assess("torchtriton");
        assert_eq!(judge(&mal, None).verdict, Verdict::Typosquat);
    }

    #[test]
    fn copied_summary_or_target_url_makes_a_weak_shape_a_typosquat() {
        let a = index().assess("piglow");
        assert!(a.score >= DEFAULT_THRESHOLD && a.score < STRONG_THRESHOLD);
        assert_eq!(judge(&a, None).verdict, Verdict::Suspicious);
        let target_summary = top_summary("pillow").unwrap().to_string();
        let copied = host(&target_summary, &["https://example.invalid/piglow"]);
        let j = judge(&a, Some(&copied));
        assert_eq!(j.verdict, Verdict::Typosquat, "{:?}", j.evidence);
        assert!(j
            .evidence
            .iter()
            .any(|e| e.contains("summary copies pillow")));
        let url = host(
            "An image thing",
            &["https://github.com/python-pillow/Pillow"],
        );
        let j = judge(&a, Some(&url));
        assert_eq!(j.verdict, Verdict::Typosquat);
        assert!(j.evidence.iter().any(|e| e.contains("points at pillow")));
    }

    #[test]
    fn own_identity_keeps_a_near_name_ok_or_suspicious() {
        let weak = index().assess("piglow");
        let own = host(
            "Glowing pig sprites for terminals",
            &["https://github.com/someone/piglow"],
        );
        assert_eq!(judge(&weak, Some(&own)).verdict, Verdict::Ok);
        let strong = index().assess("reqeusts");
        let own = host(
            "A request queue for tests",
            &["https://github.com/someone/reqeusts"],
        );
        let j = judge(&strong, Some(&own));
        assert_eq!(j.verdict, Verdict::Suspicious, "{:?}", j.evidence);
    }

    #[test]
    fn orphan_recent_install_and_findings_raise() {
        let weak = index().assess("piglow");
        let mut h = HostEvidence {
            requested: Some(false),
            install_time: Some(1_999_999_000),
            now: 2_000_000_000,
            ..Default::default()
        };
        assert_eq!(judge(&weak, Some(&h)).verdict, Verdict::Typosquat);
        h.required_by = vec!["someapp".into()];
        assert_eq!(judge(&weak, Some(&h)).verdict, Verdict::Suspicious);
        h.findings = vec!["install-hook-network (high)".into()];
        let j = judge(&weak, Some(&h));
        assert_eq!(j.verdict, Verdict::Typosquat);
        assert!(j
            .evidence
            .iter()
            .any(|e| e.contains("install-hook-network")));
        // Below the threshold, findings alone do not make a typosquat.
        let ok = index().assess("numpyro");
        assert_eq!(judge(&ok, Some(&h)).verdict, Verdict::Ok);
    }

    #[test]
    fn relatives_and_plugins_may_share_their_projects_identity() {
        // tensorflow-gpu: Google's own build, same summary and links.
        let fam = index().assess("tensorflow-gpu");
        let tf = top_summary("tensorflow").unwrap().to_string();
        let h = host(&tf, &["https://github.com/tensorflow/tensorflow"]);
        assert_eq!(judge(&fam, Some(&h)).verdict, Verdict::Ok);
        // A plugin below the threshold linking its host project.
        let plugin = index().assess("flask-foxes");
        assert!(plugin.score < DEFAULT_THRESHOLD, "{plugin:?}");
        let h = host(
            "Foxes for Flask apps",
            &["https://github.com/pallets/flask"],
        );
        assert_eq!(judge(&plugin, Some(&h)).verdict, Verdict::Ok);
    }
}
