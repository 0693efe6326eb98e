//! SARIF 2.1.0 output of `squatch check`: one run, every rule of
//! `rules.toml` as a reportingDescriptor (id, name, short and full
//! description, help text and markdown, default level, GitHub's
//! `security-severity`), one result per finding with a physical location on
//! the finding's line, relative to `%SRCROOT%` so that code-scanning viewers
//! show it on the file in the repository.
//!
//! Written with serde_json here: `serde-sarif` generates its types from the
//! schema in a build script (schemafy, a second `syn`, typed-builder, strum)
//! for the dozen fields this needs.

use serde_json::{json, Value};

use super::{Report, Rule};

/// The schema URI written in `$schema`.
pub const SCHEMA_URI: &str = "https://json.schemastore.org/sarif-2.1.0.json";

/// Percent-encodes a relative path for an artifact `uri` (RFC 3986: keep
/// unreserved characters and `/`).
pub fn uri_encode(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn security_severity(rule: &Rule) -> &'static str {
    match rule.id.as_str() {
        "known-malicious" => "9.8",
        "typosquat" | "extra-index" => "8.1",
        "credentials-in-url" | "insecure-index" => "7.5",
        _ => "5.0",
    }
}

/// The SARIF log for a report.
pub fn to_sarif(report: &Report, rules: &[Rule]) -> Value {
    let descriptors: Vec<Value> = rules
        .iter()
        .map(|r| {
            json!({
                "id": r.id,
                "name": r.name,
                "shortDescription": { "text": r.short },
                "fullDescription": { "text": r.rationale },
                "help": {
                    "text": format!("{} {}", r.rationale, r.help),
                    "markdown": format!("**Why it matters.** {}\n\n**What to do.** {}\n\nSource: {}", r.rationale, r.help, r.source),
                },
                "defaultConfiguration": { "level": r.level },
                "properties": {
                    "tags": ["security", "supply-chain"],
                    "security-severity": security_severity(r),
                },
            })
        })
        .collect();
    let mut results: Vec<Value> = Vec::new();
    let problems = report.errors.iter().map(|e| {
        (
            "parse-error",
            e.path.as_str(),
            e.line,
            e.message.clone(),
            "",
        )
    });
    let findings = report.findings.iter().map(|f| {
        (
            f.rule.as_str(),
            f.path.as_str(),
            f.line,
            f.message.clone(),
            f.name.as_str(),
        )
    });
    for (rule, path, line, message, name) in problems.chain(findings) {
        let index = rules.iter().position(|r| r.id == rule);
        let level = index
            .map(|i| rules[i].level.clone())
            .unwrap_or_else(|| "error".to_string());
        let mut location = json!({
            "physicalLocation": {
                "artifactLocation": { "uri": uri_encode(path), "uriBaseId": "%SRCROOT%" },
            }
        });
        if line > 0 {
            location["physicalLocation"]["region"] = json!({ "startLine": line });
        }
        let mut result = json!({
            "ruleId": rule,
            "level": level,
            "message": { "text": message },
            "locations": [location],
            "partialFingerprints": {
                "squatchFinding/v1": format!("{rule}:{path}:{name}"),
            },
        });
        if let Some(i) = index {
            result["ruleIndex"] = json!(i);
        }
        results.push(result);
    }
    json!({
        "$schema": SCHEMA_URI,
        "version": "2.1.0",
        "runs": [{
            "tool": {
                "driver": {
                    "name": "squatch",
                    "semanticVersion": env!("CARGO_PKG_VERSION"),
                    "rules": descriptors,
                }
            },
            "originalUriBaseIds": {
                "%SRCROOT%": { "description": { "text": "The directory squatch check ran in (the repository root in CI)." } }
            },
            "results": results,
        }]
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_are_encoded() {
        assert_eq!(uri_encode("a b/req#1.txt"), "a%20b/req%231.txt");
    }
}
