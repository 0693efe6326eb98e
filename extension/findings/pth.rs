//! `.pth` files: CPython's `site.py` reads every `*.pth` directly in a site
//! directory at every interpreter start; a line that starts with `import `
//! (or `import\t`) is *executed*. Pip, setuptools, coverage, virtualenv and a
//! few more ship such lines for good reasons; anything else that executes
//! there is a start-up hook and ranks higher, higher still when it decodes,
//! execs, spawns or talks to the network, or when no RECORD owns the file
//! (litellm 1.82.8's `litellm_init.pth` stole credentials this way).

use super::rules::PthBenign;
use super::scan::scan_source;
use super::{Category, Finding, Role, RuleSet, Severity};

/// Who owns a `.pth` file, as far as the caller knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner<'a> {
    /// Ownership cannot be told: a file given on demand, or a site
    /// directory whose distributions were installed without RECORD (a
    /// distribution's own package manager, e.g. dpkg). Content alone decides.
    Unknown,
    /// No installed distribution's RECORD lists the file.
    Unowned,
    /// The normalized name of the distribution whose RECORD lists it (or of
    /// the wheel that ships it).
    Dist(&'a str),
}

/// The executable lines of a `.pth` (1-based line number, text), as
/// `site.py` decides: lines starting with `import ` or `import\t`.
pub fn exec_lines(text: &str) -> Vec<(u64, &str)> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| l.starts_with("import ") || l.starts_with("import\t"))
        .map(|(i, l)| (i as u64 + 1, l))
        .collect()
}

/// Literal signs that a start-up line does more than set up imports.
const SUSPICIOUS: &[&str] = &[
    "exec(",
    "eval(",
    "compile(",
    "b64decode",
    "base64",
    "decode(",
    "decompress",
    "marshal",
    "urlopen",
    "urllib",
    "requests",
    "socket",
    "http",
    "subprocess",
    "os.system",
    "popen",
    "environ",
    "__import__(",
    "getattr(",
    "open(",
];

/// Simple `*` glob match on a file name.
pub fn glob_match(pattern: &str, name: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == name;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !name.starts_with(first) || !name[first.len()..].ends_with(last) {
        return false;
    }
    let mut rest = &name[first.len()..name.len() - last.len()];
    for mid in &parts[1..parts.len() - 1] {
        match rest.find(mid) {
            Some(i) => rest = &rest[i + mid.len()..],
            None => return false,
        }
    }
    true
}

fn owner_ok(shape: &PthBenign, owner: Owner<'_>) -> bool {
    match owner {
        Owner::Unowned => shape.unowned_ok,
        Owner::Unknown => true,
        Owner::Dist(d) => {
            shape.owners.is_empty() || shape.owners.iter().any(|o| o.eq_ignore_ascii_case(d))
        }
    }
}

/// The known-benign shape that accounts for *every* executable line of the
/// file, if any (a benign name with one extra malicious line is not benign).
pub fn known_benign<'r>(
    rules: &'r RuleSet,
    file_name: &str,
    text: &str,
    owner: Owner<'_>,
) -> Option<&'r PthBenign> {
    let lines = exec_lines(text);
    rules.pth_benign.iter().find(|shape| {
        !shape.paths_only
            && glob_match(&shape.name, file_name)
            && owner_ok(shape, owner)
            && !lines.is_empty()
            && lines
                .iter()
                .all(|(_, l)| l.contains(shape.contains.as_str()))
    })
}

/// Scans a `.pth` that sits directly in a site directory.
pub fn scan_pth(rules: &RuleSet, file_name: &str, bytes: &[u8], owner: Owner<'_>) -> Vec<Finding> {
    let text = String::from_utf8_lossy(bytes);
    let lines = exec_lines(&text);
    if lines.is_empty() {
        // Only path entries: nothing runs.
        return Vec::new();
    }
    if let Some(shape) = known_benign(rules, file_name, &text, owner) {
        let (line, first) = lines[0];
        return vec![Finding {
            rule_id: "pth-known-benign".into(),
            category: Category::Startup,
            severity: Severity::Info,
            line: Some(line),
            evidence: super::redact::excerpt(first, 0),
            description: format!(
                "start-up .pth of a known benign shape ({}) owned as expected",
                shape.name
            ),
            role: Role::Startup,
        }];
    }
    let mut findings = Vec::new();
    let unowned = owner == Owner::Unowned;
    let suspicious = lines.iter().find(|(_, l)| {
        let lower = l.to_ascii_lowercase();
        SUSPICIOUS.iter().any(|s| lower.contains(s))
    });
    let (id, sev, why, (line, text_line)) = match suspicious {
        Some(&hit) => (
            "pth-exec-suspicious",
            Severity::High,
            "a site-level .pth runs code that decodes, execs, spawns or reaches the network on every interpreter start",
            hit,
        ),
        None => (
            "pth-exec",
            Severity::Medium,
            "a site-level .pth runs an import on every interpreter start",
            lines[0],
        ),
    };
    findings.push(Finding {
        rule_id: id.into(),
        category: Category::Startup,
        severity: if unowned { sev.shift(1) } else { sev },
        line: Some(line),
        evidence: super::redact::excerpt(text_line, 0),
        description: if unowned {
            format!("{why}; no installed distribution's RECORD owns it")
        } else {
            why.to_string()
        },
        role: Role::Startup,
    });
    findings.extend(scan_source(rules, bytes, Role::Startup).findings);
    findings
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob_match("*-nspkg.pth", "google_auth-1.0-nspkg.pth"));
        assert!(glob_match("__editable__.*.pth", "__editable__.foo-1.0.pth"));
        assert!(!glob_match("a1_coverage.pth", "a1_coverage.pth.bak"));
        assert!(glob_match("coverage*.pth", "coverage.pth"));
    }

    #[test]
    fn exec_lines_follow_site_py() {
        let t = "/opt/x\n# import nope\nimport os; os.getcwd()\n  import indented\nimport\tsys\n";
        let l = exec_lines(t);
        assert_eq!(l.iter().map(|x| x.0).collect::<Vec<_>>(), vec![3, 5]);
    }
}
