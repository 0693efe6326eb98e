//! The secret detectors, as data: variable-name rules, value-shape rules and
//! an allowlist of published examples, loaded from `detectors.toml` (each rule
//! with its id, kind, lifetime, rationale and upstream source).
//!
//! Matching borrows the value and returns spans into it, never a copy: the
//! caller fingerprints the span and lets the value go.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::OnceLock;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use regex::Regex;
use serde::Deserialize;

use super::lifetime::Lifetime;

/// The detectors shipped in the binary.
const BUILTIN: &str = include_str!("detectors.toml");

/// Why the detector data could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum DetectorError {
    /// The TOML does not parse or lacks a field.
    #[error("detectors.toml: {0}")]
    Toml(String),
    /// A rule's regex does not compile.
    #[error("detectors.toml: rule {id}: {message}")]
    Regex {
        /// The rule.
        id: String,
        /// The regex crate's message.
        message: String,
    },
}

/// What a variable rule's value is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ValueKind {
    /// The value is the secret.
    #[default]
    Secret,
    /// The value identifies a credential (an AWS key id): reported, and shown
    /// in `key_id`.
    Identifier,
    /// The value is the path of a credential file, to follow.
    Path,
    /// The value is a URL: a secret only where it carries credentials.
    Url,
    /// The name only suggests a secret: the value must look like one.
    Generic,
}

/// A rule that knows a secret by the name of its variable.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VariableRule {
    /// Rule id (the `detector` column).
    pub id: String,
    /// Exact upper-case names.
    #[serde(default)]
    pub names: Vec<String>,
    /// Name endings (upper case).
    #[serde(default)]
    pub suffixes: Vec<String>,
    /// What the value is.
    #[serde(default)]
    pub value: ValueKind,
    /// The `secret_kind` column.
    pub secret_kind: String,
    /// The `credential_lifetime` column.
    pub lifetime: Lifetime,
    /// One line: why it matters.
    pub rationale: String,
    /// Where the rule comes from.
    pub source: String,
}

/// A rule that knows a secret by the shape of its value.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShapeRule {
    /// Rule id, with its upstream (`gitleaks:...`, `trufflehog:...`).
    pub id: String,
    /// The upstream regex; group 1, when present, is the secret.
    pub regex: String,
    /// Words (case-sensitive) one of which a value must hold for the regex to run.
    pub keywords: Vec<String>,
    /// The `secret_kind` column.
    pub secret_kind: String,
    /// The `credential_lifetime` column.
    pub lifetime: Lifetime,
    /// The match is an identifier that may be shown (`key_id`).
    #[serde(default)]
    pub identifier: bool,
    /// One line: why it matters.
    pub rationale: String,
    /// Where the rule comes from.
    pub source: String,
}

/// A published example value that must not be reported.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AllowRule {
    /// Rule id.
    pub id: String,
    /// Matched against the candidate secret.
    pub regex: String,
    /// One line: why it is allowed.
    pub rationale: String,
    /// Where it comes from.
    pub source: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    variable: Vec<VariableRule>,
    shape: Vec<ShapeRule>,
    allow: Vec<AllowRule>,
}

/// Every detector, compiled.
pub struct Detectors {
    /// Variable-name rules.
    pub variables: Vec<VariableRule>,
    /// Value-shape rules.
    pub shapes: Vec<ShapeRule>,
    /// Allowlisted examples.
    pub allow: Vec<AllowRule>,
    exact: HashMap<String, usize>,
    shape_res: Vec<Regex>,
    allow_res: Vec<Regex>,
    keywords: AhoCorasick,
    keyword_shape: Vec<usize>,
}

impl std::fmt::Debug for Detectors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Detectors")
            .field("variables", &self.variables.len())
            .field("shapes", &self.shapes.len())
            .finish()
    }
}

/// A value-shape match: which rule, and where in the text the secret is.
#[derive(Clone)]
pub struct ShapeHit<'d> {
    /// The rule.
    pub rule: &'d ShapeRule,
    /// Byte range of the secret in the scanned text.
    pub span: Range<usize>,
}

// Never print the matched text: only the rule and the span.
impl std::fmt::Debug for ShapeHit<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ShapeHit({} @ {:?})", self.rule.id, self.span)
    }
}

/// A secret found in one `NAME=value` assignment.
#[derive(Clone)]
pub struct EntryHit<'d> {
    /// The rule's id (`detector` column).
    pub detector: &'d str,
    /// The `secret_kind` column.
    pub secret_kind: &'d str,
    /// The rule's lifetime.
    pub lifetime: Lifetime,
    /// Byte range of the secret in the value.
    pub span: Range<usize>,
    /// The secret is an identifier that may be shown (`key_id`).
    pub identifier: bool,
    /// The value names a credential file to follow instead.
    pub follow_path: bool,
}

impl std::fmt::Debug for EntryHit<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "EntryHit({} @ {:?})", self.detector, self.span)
    }
}

impl Detectors {
    /// The detectors shipped in the binary (parsed once).
    pub fn builtin() -> &'static Detectors {
        static D: OnceLock<Detectors> = OnceLock::new();
        D.get_or_init(|| {
            // The shipped data is tested to load; a failure here is a build
            // defect, and the message names only the rule.
            Detectors::parse(BUILTIN).unwrap_or_else(|e| panic!("built-in {e}"))
        })
    }

    /// Parses and compiles detector data.
    pub fn parse(text: &str) -> Result<Detectors, DetectorError> {
        let file: File = toml::from_str(text).map_err(|e| DetectorError::Toml(e.to_string()))?;
        let compile = |id: &str, re: &str| {
            Regex::new(re).map_err(|e| DetectorError::Regex {
                id: id.to_string(),
                message: e.to_string(),
            })
        };
        let shape_res = file
            .shape
            .iter()
            .map(|s| compile(&s.id, &s.regex))
            .collect::<Result<Vec<_>, _>>()?;
        let allow_res = file
            .allow
            .iter()
            .map(|a| compile(&a.id, &a.regex))
            .collect::<Result<Vec<_>, _>>()?;
        let mut exact = HashMap::new();
        for (i, v) in file.variable.iter().enumerate() {
            for n in &v.names {
                exact.insert(n.to_ascii_uppercase(), i);
            }
        }
        let mut words = Vec::new();
        let mut keyword_shape = Vec::new();
        for (i, s) in file.shape.iter().enumerate() {
            if s.keywords.is_empty() {
                return Err(DetectorError::Toml(format!(
                    "shape {} has no keywords",
                    s.id
                )));
            }
            for k in &s.keywords {
                words.push(k.clone());
                keyword_shape.push(i);
            }
        }
        for (i, a) in words.iter().enumerate() {
            for b in &words[i + 1..] {
                let (la, lb) = (a.to_ascii_lowercase(), b.to_ascii_lowercase());
                if la != lb && (la.contains(lb.as_str()) || lb.contains(la.as_str())) {
                    return Err(DetectorError::Toml(format!(
                        "keywords {a:?} and {b:?} overlap; the prefilter needs them apart"
                    )));
                }
            }
        }
        let keywords = AhoCorasickBuilder::new()
            .match_kind(MatchKind::Standard)
            .build(&words)
            .map_err(|e| DetectorError::Toml(e.to_string()))?;
        Ok(Detectors {
            variables: file.variable,
            shapes: file.shape,
            allow: file.allow,
            exact,
            shape_res,
            allow_res,
            keywords,
            keyword_shape,
        })
    }

    /// True when `secret` is a published example (never reported).
    pub fn is_allowed(&self, secret: &str) -> bool {
        self.allow_res.iter().any(|r| r.is_match(secret))
    }

    /// The variable rule for a name (exact names first, then suffixes).
    pub fn variable_rule(&self, name: &str) -> Option<&VariableRule> {
        let name = name.trim();
        // Environment names are upper case: look them up without a copy.
        let exact = match self.exact.get(name) {
            Some(&i) => Some(i),
            None if name.bytes().any(|b| b.is_ascii_lowercase()) => {
                self.exact.get(&name.to_ascii_uppercase()).copied()
            }
            None => None,
        };
        if let Some(i) = exact {
            return Some(&self.variables[i]);
        }
        let ends_with = |s: &str| {
            name.len() >= s.len()
                && name.as_bytes()[name.len() - s.len()..].eq_ignore_ascii_case(s.as_bytes())
        };
        self.variables
            .iter()
            .find(|v| v.suffixes.iter().any(|s| ends_with(s)))
    }

    /// Every secret shape in `text`, allowlisted examples left out,
    /// overlapping matches of later rules dropped.
    pub fn shapes_in<'d>(&'d self, text: &str) -> Vec<ShapeHit<'d>> {
        let mut candidates: Vec<usize> = Vec::new();
        // Keywords are not substrings of one another (checked at load), so a
        // non-overlapping scan finds every one that stands apart; only a
        // keyword whose first letters are the last of another one right
        // before it ("akiasia") would hide, which no real token does.
        for m in self.keywords.find_iter(text) {
            let rule = self.keyword_shape[m.pattern().as_usize()];
            if !candidates.contains(&rule) {
                candidates.push(rule);
            }
        }
        if candidates.is_empty() {
            return Vec::new();
        }
        candidates.sort_unstable();
        let mut hits: Vec<ShapeHit<'d>> = Vec::new();
        for i in candidates {
            let re = &self.shape_res[i];
            for caps in re.captures_iter(text) {
                let m = caps.get(1).or_else(|| caps.get(0));
                let Some(m) = m else { continue };
                if m.is_empty() || self.is_allowed(m.as_str()) {
                    continue;
                }
                let span = m.range();
                if hits
                    .iter()
                    .any(|h| h.span.start < span.end && span.start < h.span.end)
                {
                    continue;
                }
                hits.push(ShapeHit {
                    rule: &self.shapes[i],
                    span,
                });
            }
        }
        hits.sort_by_key(|h| h.span.start);
        hits
    }

    /// The secrets in one `name=value` assignment (an environment entry or a
    /// `.env` line): value shapes first, then the name's rule when no shape
    /// explains the value. Empty values, placeholders and published examples
    /// give nothing.
    pub fn match_entry<'d>(&'d self, name: &str, value: &str) -> Vec<EntryHit<'d>> {
        let trimmed = trim_span(value);
        let v = &value[trimmed.clone()];
        if v.is_empty() {
            return Vec::new();
        }
        let rule = self.variable_rule(name);
        let shapes = self.shapes_in(value);
        if !shapes.is_empty() {
            return shapes
                .into_iter()
                .map(|h| {
                    let url_var = rule.is_some_and(|r| r.value == ValueKind::Url);
                    let basic = h.rule.id == "detect-secrets:basic-auth";
                    EntryHit {
                        detector: &h.rule.id,
                        secret_kind: match (url_var, basic, rule) {
                            (true, true, Some(r)) => &r.secret_kind,
                            _ => &h.rule.secret_kind,
                        },
                        lifetime: h.rule.lifetime,
                        span: h.span,
                        identifier: h.rule.identifier,
                        follow_path: false,
                    }
                })
                .collect();
        }
        let Some(rule) = rule else {
            return Vec::new();
        };
        if self.is_allowed(v) || is_placeholder(v) {
            return Vec::new();
        }
        let span = match rule.value {
            ValueKind::Secret | ValueKind::Identifier | ValueKind::Path => trimmed,
            ValueKind::Url => match url_password(v) {
                // A password the shape rule's strict character set misses.
                Some(r) => trimmed.start + r.start..trimmed.start + r.end,
                None => return Vec::new(),
            },
            ValueKind::Generic if looks_secret(v) => trimmed,
            ValueKind::Generic => return Vec::new(),
        };
        vec![EntryHit {
            detector: &rule.id,
            secret_kind: &rule.secret_kind,
            lifetime: rule.lifetime,
            span,
            identifier: rule.value == ValueKind::Identifier,
            follow_path: rule.value == ValueKind::Path,
        }]
    }
}

/// The span of the password in a URL's userinfo (`scheme://user:PASS@host`),
/// when there is a non-empty one that is not a `${VAR}` reference.
pub fn url_password(url: &str) -> Option<Range<usize>> {
    let start = url.find("://")? + 3;
    let rest = &url[start..];
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let at = rest[..end].rfind('@')?;
    let colon = rest[..at].find(':')?;
    let pw = &rest[colon + 1..at];
    if pw.is_empty() || is_placeholder(pw) {
        return None;
    }
    Some(start + colon + 1..start + at)
}

/// The span of `value` without surrounding whitespace and one pair of quotes.
pub fn trim_span(value: &str) -> Range<usize> {
    let start = value.len() - value.trim_start().len();
    let end = value.trim_end().len();
    if start >= end {
        return start..start;
    }
    let inner = &value[start..end];
    let b = inner.as_bytes();
    if b.len() >= 2 && (b[0] == b'"' || b[0] == b'\'') && b[b.len() - 1] == b[0] {
        return start + 1..end - 1;
    }
    start..end
}

/// A value that stands for a secret without being one: `${VAR}`, `<token>`,
/// `****`, `changeme`, `none`.
pub fn is_placeholder(v: &str) -> bool {
    let lower = v.to_ascii_lowercase();
    (v.starts_with("${") && v.ends_with('}'))
        || (v.starts_with('$')
            && v[1..]
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_'))
        || (v.starts_with('<') && v.ends_with('>'))
        || v.chars()
            .all(|c| c == '*' || c == 'x' || c == 'X' || c == '.' || c == '-')
        || matches!(
            lower.as_str(),
            "none"
                | "null"
                | "nil"
                | "changeme"
                | "redacted"
                | "true"
                | "false"
                | "secret"
                | "password"
                | "token"
                | "undefined"
        )
}

/// Shannon entropy of a string in bits per byte.
pub fn entropy(s: &str) -> f64 {
    let mut counts = [0u32; 256];
    for b in s.bytes() {
        counts[b as usize] += 1;
    }
    let n = s.len() as f64;
    if n == 0.0 {
        return 0.0;
    }
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = f64::from(c) / n;
            -p * p.log2()
        })
        .sum()
}

/// Whether a value under a secret-sounding name (`*_TOKEN`, `*_PASSWORD`)
/// looks like a secret: 8 to 4096 characters without spaces, not a path, a
/// URL, a number or plain lower-case words, and at least 3 bits of entropy
/// per character.
pub fn looks_secret(v: &str) -> bool {
    let len = v.len();
    if !(8..=4096).contains(&len) {
        return false;
    }
    if v.chars().any(char::is_whitespace)
        || v.starts_with(['/', '~', '.'])
        || v.contains("://")
        || v.bytes()
            .all(|b| b.is_ascii_digit() || b == b'.' || b == b':')
        || v.bytes()
            .all(|b| b.is_ascii_lowercase() || b == b'_' || b == b'-')
    {
        return false;
    }
    entropy(v) >= 3.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d() -> &'static Detectors {
        Detectors::builtin()
    }

    #[test]
    fn every_rule_has_an_id_source_and_rationale() {
        let d = d();
        let mut ids = std::collections::BTreeSet::new();
        for (id, src, why) in d
            .variables
            .iter()
            .map(|v| (&v.id, &v.source, &v.rationale))
            .chain(d.shapes.iter().map(|s| (&s.id, &s.source, &s.rationale)))
            .chain(d.allow.iter().map(|a| (&a.id, &a.source, &a.rationale)))
        {
            assert!(ids.insert(id.clone()), "duplicate id {id}");
            assert!(!src.trim().is_empty(), "{id} has no source");
            assert!(!why.trim().is_empty(), "{id} has no rationale");
        }
        // Keywords gate the regexes: the fixture test below shows each
        // rule's true positive passes its gate.
        assert!(d.shapes.iter().all(|s| !s.keywords.is_empty()));
    }

    #[test]
    fn a_bad_regex_is_an_error_naming_the_rule() {
        let text = BUILTIN.replacen("ghp_[0-9a-zA-Z]{36}", "ghp_[0-9", 1);
        let err = Detectors::parse(&text).unwrap_err().to_string();
        assert!(err.contains("gitleaks:github-pat"), "{err}");
    }

    /// True-positive and false-positive fixture per shape rule. The secrets
    /// are fake, built from pieces so that no literal token sits in the source.
    fn shape_cases() -> Vec<(&'static str, String, String)> {
        let rep = |s: &str, n: usize| s.repeat(n);
        vec![
            (
                "trufflehog:aws-access-key-id",
                format!("AKIA{}", "FAKEFAKEFAKE2345"),
                format!("AKIA{}", "fake-lowercase"),
            ),
            (
                "trufflehog:aws-session-key-id",
                format!("ASIA{}", "FAKEFAKEFAKE2345"),
                "ASIAN-FOOD".to_string(),
            ),
            (
                "trufflehog:huggingface",
                format!("hf_{}", rep("Fake", 8) + "Zz"),
                format!("hf_{}", "home"),
            ),
            (
                "gitleaks:github-pat",
                format!("ghp_{}", rep("Fake0", 7) + "X"),
                format!("ghp_{}", "short"),
            ),
            (
                "gitleaks:github-fine-grained-pat",
                format!("github_pat_{}", rep("Fake0_", 13) + "Fake"),
                format!("github_pat_{}", "short"),
            ),
            (
                "gitleaks:github-app-token",
                format!("ghs_{}", rep("Fake0", 7) + "X"),
                "ghs_x".to_string(),
            ),
            (
                "gitleaks:github-oauth",
                format!("gho_{}", rep("Fake0", 7) + "X"),
                "gho_x".to_string(),
            ),
            (
                "gitleaks:github-refresh-token",
                format!("ghr_{}", rep("Fake0", 7) + "X"),
                "ghr_x".to_string(),
            ),
            (
                "gitleaks:gitlab-pat",
                format!("glpat-{}", rep("Fake0", 4)),
                "glpat-short".to_string(),
            ),
            (
                "gitleaks:gitlab-runner-authentication-token",
                format!("glrt-{}", rep("Fake0", 4)),
                "glrt-short".to_string(),
            ),
            (
                "gitleaks:gitlab-deploy-token",
                format!("gldt-{}", rep("Fake0", 4)),
                "gldt-short".to_string(),
            ),
            (
                "trufflehog:openai",
                format!(
                    "sk-proj-{}{}{}",
                    rep("Fake0", 4),
                    "T3Blbk",
                    "FJ".to_string() + &rep("Fake0", 4)
                ),
                format!("sk-proj-{}", rep("Fake0", 4)),
            ),
            (
                "trufflehog:anthropic",
                format!("sk-ant-api03-{}AA", rep("Fake0", 18) + "Fak"),
                format!("sk-ant-api03-{}", "short"),
            ),
            (
                "gitleaks:pypi-upload-token",
                format!("pypi-AgEIcHlwaS5v{}{}", "cmc", rep("Fake0", 12)),
                format!("pypi-AgEIcHlwaS5v{}", "cmcShort"),
            ),
            (
                "gitleaks:slack-bot-token",
                format!("xoxb-{}-{}-{}", "1234567890", "1234567890", "FakeFake"),
                "xoxb-notdigits".to_string(),
            ),
            (
                "gitleaks:slack-user-token",
                format!(
                    "xoxp-{}-{}-{}-{}",
                    "1234567890",
                    "1234567890",
                    "1234567890",
                    rep("fake", 8)
                ),
                "xoxp-1-2".to_string(),
            ),
            (
                "gitleaks:slack-app-token",
                format!("xapp-1-{}-{}-{}", "AFAKE", "123", "abc"),
                "xapp-x".to_string(),
            ),
            (
                "gitleaks:slack-legacy-token",
                format!("xoxs-{}-{}-{}-{}", "1", "2", "3", "abcdef"),
                "xoxs-a".to_string(),
            ),
            (
                "gitleaks:gcp-api-key",
                format!("AIza{}", rep("Fake0", 7)),
                "AIzaShort".to_string(),
            ),
            (
                "gitleaks:databricks-api-token",
                format!("dapi{}", rep("0a1b", 8)),
                "dapiNOTHEX".to_string(),
            ),
            (
                "trufflehog:azure-entra-sp-secret-v2",
                format!("abc1Q~{}", rep("Fake0", 6) + "ab"),
                "Q~short".to_string(),
            ),
            (
                "trufflehog:replicate",
                format!("r8_{}", rep("Fake0", 7) + "ab"),
                "r8_short".to_string(),
            ),
            (
                "trufflehog:groq",
                format!("gsk_{}", rep("Fake", 13)),
                "gsk_short".to_string(),
            ),
            (
                "gitleaks:private-key",
                format!(
                    "-----BEGIN {} KEY-----\n{}\n-----END {} KEY-----",
                    "RSA PRIVATE",
                    rep("FAKEFAKE", 10),
                    "RSA PRIVATE"
                ),
                "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----".to_string(),
            ),
            (
                "gitleaks:jwt",
                format!(
                    "eyJ{}.eyJ{}.{}",
                    rep("Fake0", 4),
                    rep("Fake0", 4),
                    rep("Sig0", 4)
                ),
                "eyes.eyebrows".to_string(),
            ),
            (
                "detect-secrets:basic-auth",
                format!(
                    "https://alice:{}@index.example.invalid/simple",
                    "FakePass123"
                ),
                "https://index.example.invalid/simple".to_string(),
            ),
        ]
    }

    #[test]
    fn every_shape_has_a_true_and_a_false_positive_fixture() {
        let d = d();
        let cases = shape_cases();
        for s in &d.shapes {
            assert!(
                cases.iter().any(|(id, _, _)| *id == s.id),
                "shape {} has no fixture",
                s.id
            );
        }
        for (id, tp, fp) in &cases {
            let hits = d.shapes_in(&format!("X={tp} "));
            assert!(
                hits.iter().any(|h| h.rule.id == *id),
                "{id} missed its fixture ({hits:?})"
            );
            let hits = d.shapes_in(&format!("X={fp} "));
            assert!(
                !hits.iter().any(|h| h.rule.id == *id),
                "{id} fired on its look-alike ({hits:?})"
            );
        }
    }

    #[test]
    fn secret_span_is_the_token_not_its_surroundings() {
        let d = d();
        let tok = format!("hf_{}", "Fake".repeat(8) + "Zz");
        let text = format!("token = \"{tok}\";");
        let hits = d.shapes_in(&text);
        assert_eq!(hits.len(), 1);
        assert_eq!(&text[hits[0].span.clone()], tok);
        let url = format!("https://bob:{}@h.invalid/x", "FakePass123");
        let hits = d.shapes_in(&url);
        assert_eq!(&url[hits[0].span.clone()], "FakePass123");
    }

    #[test]
    fn documentation_examples_are_allowed() {
        let d = d();
        assert!(d.shapes_in(concat!("AKIA", "IOSFODNN7EXAMPLE")).is_empty());
        assert!(d
            .match_entry("AWS_ACCESS_KEY_ID", concat!("AKIA", "IOSFODNN7EXAMPLE"))
            .is_empty());
        assert!(d
            .match_entry(
                "AWS_SECRET_ACCESS_KEY",
                concat!("wJalrXUtnFEMI/K7MDENG/", "bPxRfiCYEXAMPLEKEY")
            )
            .is_empty());
    }

    #[test]
    fn every_variable_rule_has_a_true_and_a_false_positive_fixture() {
        let d = d();
        let secret = "Fk3-9xQ_z7Lm2Pq8";
        for v in &d.variables {
            let name = v
                .names
                .first()
                .cloned()
                .unwrap_or_else(|| format!("MY{}", v.suffixes[0]));
            let value = match v.value {
                ValueKind::Url => format!("https://u:{secret}@h.invalid/simple"),
                ValueKind::Path => "/home/a/key.json".to_string(),
                _ => secret.to_string(),
            };
            let hits = d.match_entry(&name, &value);
            assert_eq!(hits.len(), 1, "{}: {hits:?}", v.id);
            if v.value != ValueKind::Url {
                assert_eq!(hits[0].detector, v.id);
            } else {
                assert_eq!(hits[0].secret_kind, v.secret_kind);
            }
            // False positives: empty, placeholder, and for URLs one
            // without credentials.
            assert!(d.match_entry(&name, "").is_empty(), "{}", v.id);
            assert!(d.match_entry(&name, "${OTHER}").is_empty(), "{}", v.id);
            if v.value == ValueKind::Url {
                assert!(d.match_entry(&name, "https://pypi.org/simple").is_empty());
            }
        }
    }

    #[test]
    fn benign_look_alikes_stay_silent() {
        let d = d();
        for (n, v) in [
            ("AWS_REGION", "us-east-1"),
            ("AWS_DEFAULT_REGION", "eu-west-1"),
            ("HF_HOME", "/data/hf"),
            ("TOKEN_URL", "https://auth.example.invalid/token"),
            ("GITHUB_TOKEN_FILE", "/run/secrets/gh"),
            ("HF_TOKEN_PATH", "/home/a/.cache/huggingface/token"),
            ("AWS_SHARED_CREDENTIALS_FILE", "/home/a/.aws/credentials"),
            ("HF_TOKEN", ""),
            ("OPENAI_API_KEY", "   "),
            ("MY_API_KEY", "/etc/key"),
            ("SESSION_TOKEN", "changeme"),
            ("DB_PASSWORD", "12345678"),
            ("MY_SECRET", "not-a-real-value"),
            ("PIP_INDEX_URL", "https://pypi.org/simple"),
            (
                "PIP_EXTRA_INDEX_URL",
                "https://download.pytorch.org/whl/cu121",
            ),
            ("LS_COLORS", "rs=0:di=01;34:ln=01;36:mh=00:pi=40;33"),
            ("PATH", "/usr/local/sbin:/usr/local/bin:/usr/bin"),
            ("GPG_AGENT_INFO", "/run/user/1000/gnupg/S.gpg-agent:0:1"),
        ] {
            assert!(d.match_entry(n, v).is_empty(), "{n} flagged");
        }
        assert!(d
            .match_entry("SAMPLE", concat!("AKIA", "IOSFODNN7EXAMPLE"))
            .is_empty());
    }

    #[test]
    fn shape_beats_name_and_tells_the_lifetime() {
        let d = d();
        let ghs = format!("ghs_{}", "Fake0".repeat(7) + "X");
        let hits = d.match_entry("GITHUB_TOKEN", &ghs);
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].detector, "gitleaks:github-app-token");
        assert_eq!(hits[0].lifetime, Lifetime::Temporary);
        let hits = d.match_entry("GITHUB_TOKEN", "opaque-value-123");
        assert_eq!(hits[0].detector, "env-github-token");
        let akia = format!("AKIA{}", "FAKEFAKEFAKE2345");
        let hits = d.match_entry("SOME_VAR", &akia);
        assert!(hits[0].identifier);
        assert_eq!(hits[0].lifetime, Lifetime::LongLived);
        let gac = d.match_entry("GOOGLE_APPLICATION_CREDENTIALS", "/home/a/sa.json");
        assert!(gac[0].follow_path);
    }

    #[test]
    fn index_url_passwords_the_shape_misses_are_found() {
        let d = d();
        let url = "https://bob:p+ss=w0rd!@idx.example.invalid/simple";
        let hits = d.match_entry("PIP_INDEX_URL", url);
        assert_eq!(hits.len(), 1);
        assert_eq!(&url[hits[0].span.clone()], "p+ss=w0rd!");
        assert_eq!(hits[0].secret_kind, "index_url_credentials");
        assert!(d
            .match_entry(
                "PIP_INDEX_URL",
                "https://${USER}:${PASS}@idx.invalid/simple"
            )
            .is_empty());
        assert!(d
            .match_entry("UV_INDEX_URL", "https://idx.invalid/simple/a@b")
            .is_empty());
        assert_eq!(url_password("https://u:@h/"), None);
    }

    #[test]
    fn trim_span_drops_spaces_and_quotes() {
        assert_eq!(trim_span("  \"abc\" "), 3..6);
        assert_eq!(trim_span("'x'"), 1..2);
        assert_eq!(trim_span("   "), 3..3);
        assert_eq!(trim_span("\""), 0..1);
    }
}
