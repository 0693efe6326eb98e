//! The hunt report as text (a terminal), Markdown (an incident ticket) and
//! JSON (a script). Every value that came from the host goes through
//! [`escape_text`] or [`escape_markdown_code`].

use super::{escape_markdown_code, escape_text, Finding, Gap, Report};
use crate::packs::STAGES;

/// How many places and evidence lines text and Markdown show per finding,
/// and gaps per source (JSON has them all).
const SHOWN: usize = 12;

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn headline(r: &Report) -> String {
    format!(
        "{} at {} or above ({} run)",
        plural(r.findings.len(), "finding", "findings"),
        r.min_severity.as_str(),
        plural(r.queries_run.len(), "query", "queries"),
    )
}

/// The package line; with no package, the file is named instead (the first
/// one when the same content sits in several places, all listed under where).
fn package_line(f: &Finding) -> String {
    match (f.packages.is_empty(), f.places.as_slice()) {
        (false, _) => f.packages.join(", "),
        (true, [one]) => format!("unknown (file: {})", one.path),
        (true, [first, rest @ ..]) => format!(
            "unknown (file: {} and {} more copies, listed under where)",
            first.path,
            rest.len()
        ),
        (true, []) => "unknown".to_string(),
    }
}

fn place_line(p: &super::Place, esc: &dyn Fn(&str) -> String) -> String {
    let mut s = esc(&p.path);
    let mut extra = Vec::new();
    if !p.environment.is_empty() {
        extra.push(format!("environment {}", esc(&p.environment)));
    }
    if !p.package.is_empty() {
        extra.push(format!("package {}", esc(&p.package)));
    }
    if !p.owner.is_empty() {
        extra.push(format!("owner {}", esc(&p.owner)));
    }
    if !extra.is_empty() {
        s.push_str(&format!(" ({})", extra.join(", ")));
    }
    s
}

fn more(total: usize) -> Option<String> {
    (total > SHOWN).then(|| format!("... and {} more (see --json)", total - SHOWN))
}

/// Plain text for a terminal.
pub fn text(r: &Report) -> String {
    let esc = |s: &str| escape_text(s);
    let mut out = format!("squatch hunt of {}: {}\n", esc(&r.root), headline(r));
    for stage in STAGES {
        let in_stage: Vec<&Finding> = r.findings.iter().filter(|f| f.stage == stage).collect();
        if in_stage.is_empty() {
            continue;
        }
        out.push_str(&format!("\n== {} ==\n", stage.name()));
        for f in in_stage {
            out.push_str(&format!(
                "\n[{}] {}\n",
                f.severity.as_str().to_uppercase(),
                f.title
            ));
            out.push_str(&format!("  package:  {}\n", esc(&package_line(f))));
            let n = f.places.len();
            for (i, p) in f.places.iter().take(SHOWN).enumerate() {
                let label = if i == 0 {
                    if n > 1 {
                        format!("where ({n}):")
                    } else {
                        "where:".to_string()
                    }
                } else {
                    String::new()
                };
                out.push_str(&format!("  {label:<9} {}\n", place_line(p, &esc)));
            }
            if let Some(m) = more(n) {
                out.push_str(&format!("            {m}\n"));
            }
            if let Some(sha) = &f.sha256 {
                out.push_str(&format!("  sha256:   {}\n", esc(sha)));
            }
            for (i, d) in f.details.iter().take(SHOWN).enumerate() {
                let label = if i == 0 { "evidence:" } else { "" };
                out.push_str(&format!("  {label:<9} {}\n", esc(d)));
            }
            if let Some(m) = more(f.details.len()) {
                out.push_str(&format!("            {m}\n"));
            }
            out.push_str(&format!("  why:      {}\n", f.why));
            out.push_str(&format!("  do:       {}\n", f.what_to_do));
        }
    }
    out.push_str("\n== What this report does not cover ==\n");
    out.push_str(&gaps_text(&r.not_covered, &esc, ""));
    if !r.errors.is_empty() {
        out.push_str("\n== Errors (the report is incomplete) ==\n");
        for e in &r.errors {
            out.push_str(&format!("- {}\n", esc(e)));
        }
    }
    out
}

fn gaps_text(gaps: &[Gap], esc: &dyn Fn(&str) -> String, bullet_pad: &str) -> String {
    let mut out = String::new();
    if gaps.is_empty() {
        out.push_str(&format!(
            "{bullet_pad}- nothing: every table examined everything it looked for\n"
        ));
        return out;
    }
    let mut sources: Vec<&str> = gaps.iter().map(|g| g.source.as_str()).collect();
    sources.dedup();
    for source in sources {
        let of: Vec<&Gap> = gaps.iter().filter(|g| g.source == source).collect();
        let total: usize = of.iter().map(|g| g.count).sum();
        out.push_str(&format!(
            "{bullet_pad}- {} ({}):\n",
            source,
            plural(total, "row", "rows")
        ));
        for g in of.iter().take(SHOWN) {
            let times = if g.count > 1 {
                format!(" (x{})", g.count)
            } else {
                String::new()
            };
            out.push_str(&format!("{bullet_pad}  - {}{times}\n", esc(&g.what)));
        }
        if let Some(m) = more(of.len()) {
            out.push_str(&format!("{bullet_pad}  - {m}\n"));
        }
    }
    out
}

/// Markdown for an incident ticket.
pub fn markdown(r: &Report) -> String {
    let code = |s: &str| escape_markdown_code(s);
    let mut out = format!("# squatch hunt of {}\n\n{}\n", code(&r.root), headline(r));
    for stage in STAGES {
        let in_stage: Vec<&Finding> = r.findings.iter().filter(|f| f.stage == stage).collect();
        if in_stage.is_empty() {
            continue;
        }
        out.push_str(&format!("\n## {}\n", stage.name()));
        for f in in_stage {
            out.push_str(&format!(
                "\n### {}: {}\n\n",
                f.severity.as_str().to_uppercase(),
                f.title
            ));
            if f.packages.is_empty() {
                let first = f.places.first().map(|p| code(&p.path)).unwrap_or_default();
                let more = match f.places.len() {
                    0 | 1 => String::new(),
                    n => format!(" and {} more copies, listed under Where", n - 1),
                };
                out.push_str(&format!("- **Package:** unknown (file: {first}{more})\n"));
            } else {
                let pk: Vec<String> = f.packages.iter().map(|p| code(p)).collect();
                out.push_str(&format!("- **Package:** {}\n", pk.join(", ")));
            }
            out.push_str("- **Where:**\n");
            for p in f.places.iter().take(SHOWN) {
                out.push_str(&format!("  - {}\n", place_line(p, &code)));
            }
            if let Some(m) = more(f.places.len()) {
                out.push_str(&format!("  - {m}\n"));
            }
            if let Some(sha) = &f.sha256 {
                out.push_str(&format!("- **sha256:** {}\n", code(sha)));
            }
            out.push_str("- **Evidence:**\n");
            for d in f.details.iter().take(SHOWN) {
                out.push_str(&format!("  - {}\n", code(d)));
            }
            if let Some(m) = more(f.details.len()) {
                out.push_str(&format!("  - {m}\n"));
            }
            out.push_str(&format!("- **Why:** {}\n", f.why));
            out.push_str(&format!("- **What to do:** {}\n", f.what_to_do));
        }
    }
    out.push_str("\n## What this report does not cover\n\n");
    out.push_str(&gaps_text(&r.not_covered, &code, ""));
    if !r.errors.is_empty() {
        out.push_str("\n## Errors (the report is incomplete)\n\n");
        for e in &r.errors {
            out.push_str(&format!("- {}\n", code(e)));
        }
    }
    out
}

/// One JSON document.
pub fn json(r: &Report) -> String {
    let mut s = serde_json::to_string_pretty(r).unwrap_or_else(|_| "{}".into());
    s.push('\n');
    s
}
