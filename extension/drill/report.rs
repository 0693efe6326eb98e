//! `squatch drill report`: what was planted, what fired and when, the gaps,
//! and the worst-case time to detect under the packs' schedule (each
//! query's `interval` in `packs/queries.toml`, read through
//! [`crate::packs`]), as text, JSON or a blameless post-mortem template in
//! Markdown with the gaps as action items.

use serde::Serialize;

use super::manifest::{Manifest, PlantedFile};
use super::watch::{Detection, WatchResult};
use crate::hunt::{escape_markdown_code, escape_text};
use crate::packs::Pack;

/// One detection with its scheduled worst case.
#[derive(Debug, Clone, Serialize)]
pub struct ReportDetection {
    /// What the watcher saw.
    #[serde(flatten)]
    pub seen: Detection,
    /// The shortest interval among its pack queries (seconds).
    pub pack_interval_s: Option<u64>,
    /// Worst-case time to detect under the packs' schedule: the interval of
    /// the query that fired host-wide (None: not detectable on schedule).
    pub scheduled_worst_case_s: Option<u64>,
    /// In words, how it is (or is not) seen on schedule.
    pub note: String,
}

/// The whole report.
#[derive(Debug, Clone, Serialize)]
pub struct DrillReport {
    /// The drill marker.
    pub marker: String,
    /// Canary name.
    pub name: String,
    /// Canary version.
    pub version: String,
    /// Environment holding it.
    pub environment: String,
    /// Its kind.
    pub environment_kind: String,
    /// `scratch` or `env`.
    pub target: String,
    /// Planted at, Unix milliseconds.
    pub planted_at_ms: u64,
    /// Files planted.
    pub files: Vec<PlantedFile>,
    /// True when `watch` has run.
    pub watched: bool,
    /// Rounds of queries the watch ran.
    pub rounds: u32,
    /// How long the watch ran, seconds.
    pub watch_seconds: Option<f64>,
    /// Host-wide discovery found the environment.
    pub environment_discovered: Option<bool>,
    /// Every expected detection.
    pub detections: Vec<ReportDetection>,
    /// Worst-case time to detect under the packs' schedule over the
    /// detections that fire on schedule (seconds).
    pub worst_case_s: Option<u64>,
    /// Gaps, each an action item.
    pub gaps: Vec<String>,
    /// Queries that failed during the watch.
    pub errors: Vec<String>,
}

fn action(id: &str) -> &'static str {
    match id {
        "typosquat_name" => "check why python_typosquat_scores does not flag the name (score threshold, target list) and block look-alike names at the package proxy",
        "pth_finding" => "make sure pth_executable / install_findings_high run on this host and that their results reach someone",
        "setup_py_finding" => "scan sdists before they are built (squatch query \"... python_install_findings WHERE path = ...\" in CI or at the proxy)",
        "provenance_canary" => "schedule the drill_canary_planted query (and its policy) on every host",
        "requirements_gate" => "run squatch check on dependency files in CI and make it a required check",
        _ => "",
    }
}

/// Builds the report from the manifest and the watch result, if any.
pub fn build_report(m: &Manifest, w: Option<&WatchResult>, pack: Option<&Pack>) -> DrillReport {
    let interval = |q: &str| {
        pack.and_then(|p| p.queries.iter().find(|x| x.name == q))
            .map(|x| x.interval)
    };
    let mut gaps = Vec::new();
    let mut detections = Vec::new();
    if let Some(w) = w {
        if !w.environment_discovered {
            gaps.push(format!(
                "host-wide discovery (python_environments) does not find the planted environment {}: the scheduled packs never look there. Action: put environments where discovery looks (homes, /opt, /srv, conda/pipx/pyenv locations) or add the location to discovery",
                m.environment
            ));
        }
        for d in &w.detections {
            let pack_interval = d.queries.iter().filter_map(|q| interval(q)).min();
            let (worst, note) = match (d.fired, d.scope.as_str()) {
                (true, "host-wide") => (
                    interval(&d.query),
                    format!(
                        "on schedule: {} every {}s",
                        d.query,
                        interval(&d.query).unwrap_or(0)
                    ),
                ),
                (true, "ci-gate") => (None, "at the next CI run of squatch check".to_string()),
                (true, "path") => (
                    None,
                    "only a pre-install scan (WHERE path = the sdist) sees a loose sdist"
                        .to_string(),
                ),
                (true, _) => (
                    None,
                    "only when asked with WHERE environment = ...; not on schedule".to_string(),
                ),
                (false, _) => (None, "never fired".to_string()),
            };
            if !d.fired {
                gaps.push(format!(
                    "{}: never fired in {} round(s) ({}). Action: {}",
                    d.what,
                    w.rounds,
                    d.queries.join(", "),
                    action(&d.id)
                ));
            } else if d.scope == "direct" {
                gaps.push(format!(
                    "{}: fired only when asked directly (WHERE environment = ...), not host-wide as the packs run it. Action: none of its own; it is seen on schedule once discovery finds the environment",
                    d.what
                ));
            }
            detections.push(ReportDetection {
                seen: d.clone(),
                pack_interval_s: pack_interval,
                scheduled_worst_case_s: worst,
                note,
            });
        }
    }
    let worst_case_s = detections
        .iter()
        .filter_map(|d| d.scheduled_worst_case_s)
        .max();
    DrillReport {
        marker: m.marker.clone(),
        name: m.name.clone(),
        version: m.version.clone(),
        environment: m.environment.clone(),
        environment_kind: m.environment_kind.clone(),
        target: m.target.clone(),
        planted_at_ms: m.planted_at_ms,
        files: m.files.clone(),
        watched: w.is_some(),
        rounds: w.map(|w| w.rounds).unwrap_or(0),
        watch_seconds: w.map(|w| w.finished_ms.saturating_sub(w.started_ms) as f64 / 1000.0),
        environment_discovered: w.map(|w| w.environment_discovered),
        detections,
        worst_case_s,
        gaps,
        errors: w.map(|w| w.errors.clone()).unwrap_or_default(),
    }
}

fn secs(s: Option<f64>) -> String {
    s.map(|s| format!("{s:.1}s")).unwrap_or_else(|| "-".into())
}

fn worst(s: Option<u64>) -> String {
    s.map(|s| format!("{s}s")).unwrap_or_else(|| "-".into())
}

/// The report for a terminal.
pub fn text(r: &DrillReport) -> String {
    let mut s = format!(
        "squatch drill: canary {} {} (marker {}) in {} ({}, {})\n",
        r.name,
        r.version,
        r.marker,
        escape_text(&r.environment),
        r.environment_kind,
        r.target
    );
    s.push_str(&format!("planted {} file(s)\n", r.files.len()));
    if !r.watched {
        s.push_str("not watched yet: run `squatch drill watch` with the same --scratch/--env\n");
        return s;
    }
    s.push_str(&format!(
        "watched {} round(s) in {}; environment found by host-wide discovery: {}\n\n",
        r.rounds,
        secs(r.watch_seconds),
        if r.environment_discovered == Some(true) {
            "yes"
        } else {
            "NO"
        }
    ));
    s.push_str("detection            fired  time-to-detect  scope      query                  worst case on schedule\n");
    for d in &r.detections {
        s.push_str(&format!(
            "{:<20} {:<6} {:<15} {:<10} {:<22} {}\n",
            d.seen.id,
            if d.seen.fired { "yes" } else { "NO" },
            secs(d.seen.seconds),
            if d.seen.scope.is_empty() {
                "-"
            } else {
                &d.seen.scope
            },
            if d.seen.query.is_empty() {
                "-"
            } else {
                &d.seen.query
            },
            match d.scheduled_worst_case_s {
                Some(w) => format!("{w}s"),
                None => d.note.clone(),
            }
        ));
    }
    s.push_str(&format!(
        "\nworst-case time to detect under the packs' intervals: {}{}\n",
        worst(r.worst_case_s),
        if r.gaps.is_empty() {
            ""
        } else {
            " (for what fires on schedule; the gaps below are not detected on schedule at all)"
        }
    ));
    if r.gaps.is_empty() {
        s.push_str("gaps: none\n");
    } else {
        s.push_str(&format!("gaps ({}):\n", r.gaps.len()));
        for g in &r.gaps {
            s.push_str(&format!("  - {}\n", escape_text(g)));
        }
    }
    for e in &r.errors {
        s.push_str(&format!("error: {}\n", escape_text(e)));
    }
    s
}

/// The report as one JSON document.
pub fn json(r: &DrillReport) -> String {
    let mut s = serde_json::to_string_pretty(r).unwrap_or_else(|_| "{}".into());
    s.push('\n');
    s
}

/// Plain Markdown text: control characters escaped, Markdown's markup
/// characters backslash-escaped.
fn md_text(t: &str) -> String {
    let mut out = String::new();
    for ch in escape_text(t).chars() {
        if "\\`*_[]<>#|".contains(ch) {
            out.push('\\');
        }
        out.push(ch);
    }
    out
}

/// A blameless post-mortem template in Markdown, gaps as action items.
pub fn markdown(r: &DrillReport) -> String {
    let c = |t: &str| {
        let code = escape_markdown_code(t);
        if code.is_empty() {
            "-".to_string()
        } else {
            code
        }
    };
    let mut s = format!(
        "# Security drill post-mortem: {}\n\n\
         _Blameless: this drill measures the detection pipeline, not people._\n\n\
         ## Summary\n\n\
         - Canary: {} {} (marker {}), a harmless look-alike package planted by `squatch drill plant` (nothing was installed or run).\n\
         - Where: {} ({}, {})\n\
         - Planted at: {} (Unix ms)\n\
         - Gaps found: **{}**\n\
         - Worst-case time to detect under the packs' schedule: **{}**\n\n",
        c(&r.marker),
        c(&r.name),
        r.version,
        c(&r.marker),
        c(&r.environment),
        r.environment_kind,
        r.target,
        r.planted_at_ms,
        r.gaps.len(),
        worst(r.worst_case_s)
    );
    s.push_str("## Timeline\n\n| detection | fired | time to detect | scope | query | on schedule |\n|---|---|---|---|---|---|\n");
    for d in &r.detections {
        s.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} |\n",
            d.seen.id,
            if d.seen.fired { "yes" } else { "**no**" },
            secs(d.seen.seconds),
            d.seen.scope,
            c(&d.seen.query),
            match d.scheduled_worst_case_s {
                Some(w) => format!("within {w}s"),
                None => d.note.clone(),
            }
        ));
    }
    if !r.watched {
        s.push_str("| (not watched yet) | | | | | |\n");
    }
    s.push_str("\n- Time the first person noticed (alert, ticket, chat): _fill in_\n- Time to respond (host isolated, package removed): _fill in_\n\n");
    s.push_str("## Action items (the gaps)\n\n");
    if r.gaps.is_empty() {
        s.push_str("- [ ] none found by the watch; check that alerts reached a person (above)\n");
    }
    for g in &r.gaps {
        s.push_str(&format!("- [ ] {} (owner: _, due: _)\n", md_text(g)));
    }
    s.push_str("\n## What went well\n\n- _fill in_\n\n## What was hard\n\n- _fill in_\n\n## Planted files\n\n");
    for f in &r.files {
        s.push_str(&format!(
            "- {} ({}; sha256 `{}`)\n",
            c(&f.path),
            f.role,
            f.sha256
        ));
    }
    s.push_str("\nClean up with `squatch drill clean` (removes only files that still match these digests).\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest() -> Manifest {
        Manifest {
            marker: "SQUATCH-DRILL-R".into(),
            name: "pytorch-utilz".into(),
            version: "0.0.1".into(),
            dns_canary: None,
            target: "scratch".into(),
            environment: "/tmp/squatch-drill/venv".into(),
            environment_kind: "venv".into(),
            site: String::new(),
            pth: String::new(),
            sdist: String::new(),
            requirements: String::new(),
            dist_info: String::new(),
            planted_at_ms: 0,
            root: "/".into(),
            files: Vec::new(),
            dirs_created: Vec::new(),
        }
    }

    fn det(id: &str, fired: bool, scope: &str, query: &str) -> Detection {
        Detection {
            id: id.into(),
            what: id.into(),
            queries: vec![query.into()],
            fired,
            seconds: fired.then_some(1.5),
            scope: scope.into(),
            query: if fired { query.into() } else { String::new() },
            evidence: String::new(),
        }
    }

    #[test]
    fn worst_case_is_the_slowest_scheduled_query_and_gaps_are_listed() {
        let w = WatchResult {
            started_ms: 0,
            finished_ms: 2000,
            rounds: 2,
            environment_discovered: false,
            detections: vec![
                det(
                    "provenance_canary",
                    true,
                    "host-wide",
                    "drill_canary_planted",
                ),
                det("pth_finding", true, "host-wide", "pth_executable"),
                det("typosquat_name", true, "direct", "typosquat_installed"),
                det("requirements_gate", false, "", "squatch check"),
            ],
            errors: Vec::new(),
        };
        let pack = Pack::embedded().unwrap();
        let r = build_report(&manifest(), Some(&w), Some(pack));
        assert_eq!(r.worst_case_s, Some(3600));
        assert_eq!(r.detections[0].scheduled_worst_case_s, Some(300));
        assert_eq!(r.detections[2].scheduled_worst_case_s, None);
        // Discovery, one direct-only, one never fired.
        assert_eq!(r.gaps.len(), 3, "{:?}", r.gaps);
        let md = markdown(&r);
        assert_eq!(md.matches("- [ ] ").count(), 3);
        assert!(text(&r).contains("gaps (3)"));
    }

    #[test]
    fn markdown_text_escapes_markup() {
        assert_eq!(md_text("a_b*c"), "a\\_b\\*c");
        let r = build_report(&manifest(), None, None);
        assert!(text(&r).contains("not watched yet"));
    }
}
