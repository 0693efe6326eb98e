//! The rule set: loaded from `rules.toml` (embedded at build time) and
//! compiled once into a single Aho-Corasick automaton over every literal of
//! every rule, so that scanning a file is one pass plus rule logic on the few
//! lines that matched anything.

use std::collections::BTreeSet;
use std::sync::OnceLock;

use aho_corasick::dfa::DFA;
use aho_corasick::{MatchKind, StartKind};
use serde::Deserialize;

use super::{Category, FindingsError, Role, Severity};

/// The rules shipped with squatch (`extension/findings/rules.toml`).
pub const BUILTIN_RULES: &str = include_str!("rules.toml");

/// Built-in detectors a rule can name instead of literals: things a literal
/// automaton cannot express cheaply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Detector {
    /// A run of at least [`BLOB_MIN_LEN`] base64 or hex characters on one line.
    LongEncodedBlob,
    /// At least [`HEX_ESCAPES_MIN`] `\xNN` escapes on one line.
    HexEscapes,
}

/// Shortest run of base64/hex alphabet that counts as an encoded blob.
pub const BLOB_MIN_LEN: usize = 400;
/// How many `\xNN` escapes on one line count as an escaped string.
pub const HEX_ESCAPES_MIN: usize = 40;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleFile {
    #[serde(default)]
    rule: Vec<RuleSpec>,
    #[serde(default)]
    combo: Vec<ComboSpec>,
    #[serde(default)]
    pth_benign: Vec<PthBenign>,
    #[serde(default)]
    trusted_command: Vec<TrustedCommand>,
    #[serde(default)]
    owned_import: Vec<OwnedImport>,
    #[serde(default)]
    vendor: Vec<VendorSpec>,
    #[serde(default)]
    neutral_hosts: Vec<String>,
    #[serde(default)]
    build_tools: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct VendorSpec {
    name: String,
    credentials: Vec<String>,
    hosts: Vec<String>,
    source: String,
}

/// A credential and the API hosts of the vendor that issued it: reading the
/// credential and sending it to one of those hosts is what the vendor's SDK
/// does, not exfiltration.
#[derive(Debug, Clone)]
pub struct Vendor {
    /// Vendor name (`OpenAI`).
    pub name: String,
    /// Host names (a host matches itself and its subdomains).
    pub hosts: Vec<String>,
    /// Where the pairing comes from (the vendor's API documentation).
    pub source: String,
}

impl Vendor {
    /// True when `host` is one of the vendor's hosts or a subdomain of one.
    pub fn owns_host(&self, host: &str) -> bool {
        host_in(host, &self.hosts)
    }
}

/// True when `host` equals one of `list` or is a subdomain of one.
pub fn host_in(host: &str, list: &[String]) -> bool {
    list.iter().any(|h| {
        host == h
            || host
                .strip_suffix(h.as_str())
                .is_some_and(|p| p.ends_with('.'))
    })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleSpec {
    id: String,
    category: String,
    severity: String,
    rationale: String,
    #[serde(default)]
    source: Option<String>,
    #[serde(default)]
    any: Vec<String>,
    #[serde(default)]
    all: Vec<Vec<String>>,
    #[serde(default)]
    not: Vec<String>,
    #[serde(default)]
    regex: Option<String>,
    #[serde(default)]
    detector: Option<String>,
    #[serde(default)]
    roles: Vec<String>,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    install_severity: Option<String>,
    #[serde(default)]
    import_severity: Option<String>,
    #[serde(default)]
    full_weight: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ComboSpec {
    id: String,
    category: String,
    severity: String,
    rationale: String,
    #[serde(default)]
    source: Option<String>,
    groups: Vec<Vec<String>>,
    #[serde(default)]
    window: usize,
    #[serde(default)]
    full_weight: bool,
}

/// A known-benign executable `.pth` shape.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PthBenign {
    /// File name, `*` as a wildcard.
    pub name: String,
    /// Text the file must contain (empty: anything).
    pub contains: String,
    /// Normalized distribution names allowed to own it (empty: any owner).
    pub owners: Vec<String>,
    /// True when no RECORD is expected to own it (virtualenv's own file).
    #[serde(default)]
    pub unowned_ok: bool,
    /// True when the shape only holds path lines (no `import` line).
    #[serde(default)]
    pub paths_only: bool,
}

/// Command names a console script must not take over, and who may.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrustedCommand {
    /// Command names.
    pub names: Vec<String>,
    /// Normalized distribution names that may install them.
    pub owners: Vec<String>,
}

/// A popular top-level import name and the distributions that own it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OwnedImport {
    /// The import name.
    pub name: String,
    /// Normalized distribution names that own it (`*`: shared namespace).
    pub owners: Vec<String>,
}

/// One compiled line rule.
#[derive(Debug)]
pub struct Rule {
    /// Stable id (`cred-env-token`).
    pub id: String,
    /// What kind of behaviour it finds.
    pub category: Category,
    /// Severity where code runs fully.
    pub severity: Severity,
    /// Severity in setup.py and start-up files, when it differs (a long
    /// encoded blob is odd in a module and alarming in setup.py).
    pub install_severity: Option<Severity>,
    /// Severity in `__init__`/`__main__` and entry-point modules, when it
    /// differs.
    pub import_severity: Option<Severity>,
    /// True when a hit weighs fully in any package module (not only where
    /// code runs at install/import/start): shapes that benign libraries do
    /// not have (`exec(b64decode(...))`, a reverse shell).
    pub full_weight: bool,
    /// One line saying why it matters (the row's `description`).
    pub rationale: String,
    /// Public rule set it comes from, if any.
    pub source: Option<String>,
    /// Tags for co-occurrence rules.
    pub tags: Vec<String>,
    /// Roles the rule applies to (empty: all).
    pub roles: Vec<Role>,
    any: Vec<usize>,
    all: Vec<Vec<usize>>,
    not: Vec<usize>,
    regex: Option<regex::Regex>,
    /// A built-in detector instead of literals.
    pub detector: Option<Detector>,
}

/// One compiled co-occurrence rule.
#[derive(Debug)]
pub struct Combo {
    /// Stable id.
    pub id: String,
    /// Category of the combined behaviour.
    pub category: Category,
    /// Severity where code runs fully.
    pub severity: Severity,
    /// One line saying why it matters.
    pub rationale: String,
    /// Public rule set it comes from, if any.
    pub source: Option<String>,
    /// Every group must be met by a hit carrying one of its tags.
    pub groups: Vec<Vec<String>>,
    /// Maximum distance in lines between the hits (0: whole file).
    pub window: usize,
    /// True when the combination weighs fully in a long module too.
    pub full_weight: bool,
}

/// The compiled rule set.
#[derive(Debug)]
pub struct RuleSet {
    /// Line rules, in file order.
    pub rules: Vec<Rule>,
    /// Co-occurrence rules.
    pub combos: Vec<Combo>,
    /// Known-benign `.pth` shapes.
    pub pth_benign: Vec<PthBenign>,
    /// Commands console scripts must not shadow.
    pub trusted_commands: Vec<TrustedCommand>,
    /// Popular import names and their owners.
    pub owned_imports: Vec<OwnedImport>,
    /// Credential/vendor-API pairings.
    pub vendors: Vec<Vendor>,
    /// Hosts that say nothing about where data goes (loopback, XML
    /// namespaces, documentation domains).
    pub neutral_hosts: Vec<String>,
    /// Commands a build runs (compilers, build systems, SDK queries): a
    /// process spawn whose command is one of these is a build step, not a
    /// dropper (lowercase base names).
    pub build_tools: Vec<String>,
    /// For each literal, the vendors whose credential it names.
    pub(crate) literal_vendors: Vec<Vec<usize>>,
    /// The automaton over every pattern (the literals, then their aliases):
    /// searched by [`super::literals::overlapping`].
    pub(crate) automaton: DFA,
    /// The automaton's patterns: `literals`, then the aliases.
    pub(crate) patterns: Vec<String>,
    /// For each literal, the rules whose `any` list holds it.
    pub(crate) triggers: Vec<Vec<usize>>,
    /// Rules with a detector (run on every long line).
    pub(crate) detector_rules: Vec<usize>,
    /// Every distinct literal (lowercase), indexed by literal id.
    pub(crate) literals: Vec<String>,
    /// For each automaton pattern, the literal it stands for (aliases).
    pub(crate) canonical: Vec<usize>,
    /// For each literal, whether it needs a word boundary on its left.
    pub(crate) bounded: Vec<bool>,
    /// For each literal, the exact-case identifier it must be (with a word
    /// boundary on its right too), if it is one.
    pub(crate) exact: Vec<Option<String>>,
}

impl RuleSet {
    /// The built-in rules, compiled once per process.
    pub fn builtin() -> &'static RuleSet {
        static RULES: OnceLock<RuleSet> = OnceLock::new();
        RULES.get_or_init(|| {
            // The embedded file is checked by a unit test; a failure here is a
            // build defect, not a host problem.
            RuleSet::from_toml(BUILTIN_RULES).expect("built-in rules.toml is valid")
        })
    }

    /// Parses and compiles a rules file.
    pub fn from_toml(text: &str) -> Result<RuleSet, FindingsError> {
        let file: RuleFile =
            toml::from_str(text).map_err(|e| FindingsError::Rules(e.to_string()))?;
        let mut literals: Vec<String> = Vec::new();
        let mut bounded: Vec<bool> = Vec::new();
        let mut exact: Vec<Option<String>> = Vec::new();
        let mut index = std::collections::HashMap::<String, usize>::new();
        // A literal written `\bexec(` only counts where the character before
        // it is not part of an identifier or attribute (`re.compile(`,
        // `literal_eval(` and `_exec(` are not `compile(`/`eval(`/`exec(`).
        // A literal written `\\wHF_TOKEN` is an exact identifier: same case,
        // and no identifier character on either side (`HF_TOKEN`, not
        // `hf_tokenizer` or `azure_client_secret=` as a parameter name).
        let mut intern = |s: &str| -> usize {
            let key = if s.starts_with("\\w") {
                s.to_string()
            } else {
                s.to_ascii_lowercase()
            };
            if let Some(&i) = index.get(&key) {
                return i;
            }
            let (text, b, e) = if let Some(t) = key.strip_prefix("\\b") {
                (t.to_string(), true, None)
            } else if let Some(t) = key.strip_prefix("\\w") {
                (t.to_ascii_lowercase(), true, Some(t.to_string()))
            } else {
                (key.clone(), false, None)
            };
            literals.push(text);
            bounded.push(b);
            exact.push(e);
            index.insert(key, literals.len() - 1);
            literals.len() - 1
        };
        let mut rules = Vec::new();
        let mut seen = BTreeSet::new();
        for spec in file.rule {
            if !seen.insert(spec.id.clone()) {
                return Err(FindingsError::Rules(format!(
                    "duplicate rule id {}",
                    spec.id
                )));
            }
            let bad = |what: &str| FindingsError::Rules(format!("rule {}: {what}", spec.id));
            let detector = match spec.detector.as_deref() {
                None => None,
                Some("long_encoded_blob") => Some(Detector::LongEncodedBlob),
                Some("hex_escapes") => Some(Detector::HexEscapes),
                Some(other) => return Err(bad(&format!("unknown detector {other}"))),
            };
            if detector.is_none() && spec.any.is_empty() {
                return Err(bad("needs `any` literals or a `detector`"));
            }
            let roles = spec
                .roles
                .iter()
                .map(|r| Role::parse(r).ok_or_else(|| bad(&format!("unknown role {r}"))))
                .collect::<Result<Vec<_>, _>>()?;
            let regex = match &spec.regex {
                Some(r) => Some(regex::Regex::new(r).map_err(|e| bad(&e.to_string()))?),
                None => None,
            };
            rules.push(Rule {
                category: Category::parse(&spec.category)
                    .ok_or_else(|| bad(&format!("unknown category {}", spec.category)))?,
                severity: Severity::parse(&spec.severity)
                    .ok_or_else(|| bad(&format!("unknown severity {}", spec.severity)))?,
                install_severity: match &spec.install_severity {
                    Some(s) => Some(
                        Severity::parse(s).ok_or_else(|| bad(&format!("unknown severity {s}")))?,
                    ),
                    None => None,
                },
                import_severity: match &spec.import_severity {
                    Some(s) => Some(
                        Severity::parse(s).ok_or_else(|| bad(&format!("unknown severity {s}")))?,
                    ),
                    None => None,
                },
                full_weight: spec.full_weight,
                any: spec.any.iter().map(|s| intern(s)).collect(),
                all: spec
                    .all
                    .iter()
                    .map(|g| g.iter().map(|s| intern(s)).collect())
                    .collect(),
                not: spec.not.iter().map(|s| intern(s)).collect(),
                id: spec.id,
                rationale: spec.rationale,
                source: spec.source,
                tags: spec.tags,
                roles,
                regex,
                detector,
            });
        }
        let mut combos = Vec::new();
        for spec in file.combo {
            if !seen.insert(spec.id.clone()) {
                return Err(FindingsError::Rules(format!(
                    "duplicate rule id {}",
                    spec.id
                )));
            }
            let bad = |what: &str| FindingsError::Rules(format!("combo {}: {what}", spec.id));
            if spec.groups.len() < 2 {
                return Err(bad("needs at least two groups"));
            }
            combos.push(Combo {
                category: Category::parse(&spec.category)
                    .ok_or_else(|| bad(&format!("unknown category {}", spec.category)))?,
                severity: Severity::parse(&spec.severity)
                    .ok_or_else(|| bad(&format!("unknown severity {}", spec.severity)))?,
                id: spec.id,
                rationale: spec.rationale,
                source: spec.source,
                groups: spec.groups,
                window: spec.window,
                full_weight: spec.full_weight,
            });
        }
        // Python allows a space before a call's parenthesis (`urlopen (u)`):
        // every literal ending in an identifier and `(` gets an alias with
        // the space, reported as the same literal.
        let mut patterns = literals.clone();
        let mut canonical: Vec<usize> = (0..literals.len()).collect();
        for (i, lit) in literals.iter().enumerate() {
            if let Some(stem) = lit.strip_suffix('(') {
                if stem.ends_with(|c: char| c.is_ascii_alphanumeric() || c == '_') {
                    patterns.push(format!("{stem} ("));
                    canonical.push(i);
                }
            }
        }
        // A full DFA: one table lookup per byte, no failure transitions to
        // follow. For this many patterns the crate's default is a contiguous
        // NFA, which read+scan+hashed a real environment at 1.34x ripgrep's
        // time against 0.49x with the DFA (benches/scan_throughput.rs,
        // benches/README.md). It is built once per process in a few ms and
        // searched four stretches at a time (`literals.rs`), which needs
        // every pattern to stay within a line.
        if let Some(p) = patterns.iter().find(|p| p.contains('\n')) {
            return Err(FindingsError::Rules(format!(
                "literal {p:?} holds a newline: literals are matched within one line"
            )));
        }
        let automaton = aho_corasick::dfa::Builder::new()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::Standard)
            .start_kind(StartKind::Unanchored)
            .prefilter(false)
            .build(&patterns)
            .map_err(|e| FindingsError::Rules(e.to_string()))?;
        let mut literal_vendors = vec![Vec::new(); literals.len()];
        let mut vendors = Vec::new();
        for (vi, v) in file.vendor.into_iter().enumerate() {
            for c in &v.credentials {
                let key = if c.starts_with("\\w") {
                    c.clone()
                } else {
                    c.to_ascii_lowercase()
                };
                let Some(&lit) = index.get(&key) else {
                    return Err(FindingsError::Rules(format!(
                        "vendor {}: credential {c} is no rule literal",
                        v.name
                    )));
                };
                literal_vendors[lit].push(vi);
            }
            vendors.push(Vendor {
                name: v.name,
                hosts: v.hosts.iter().map(|h| h.to_ascii_lowercase()).collect(),
                source: v.source,
            });
        }
        let mut triggers = vec![Vec::new(); literals.len()];
        let mut detector_rules = Vec::new();
        for (i, rule) in rules.iter().enumerate() {
            for &lit in &rule.any {
                if !triggers[lit].contains(&i) {
                    triggers[lit].push(i);
                }
            }
            if rule.detector.is_some() {
                detector_rules.push(i);
            }
        }
        Ok(RuleSet {
            rules,
            combos,
            pth_benign: file.pth_benign,
            trusted_commands: file.trusted_command,
            owned_imports: file.owned_import,
            vendors,
            neutral_hosts: file
                .neutral_hosts
                .iter()
                .map(|h| h.to_ascii_lowercase())
                .collect(),
            build_tools: file
                .build_tools
                .iter()
                .map(|h| h.to_ascii_lowercase())
                .collect(),
            literal_vendors,
            automaton,
            patterns,
            triggers,
            detector_rules,
            literals,
            canonical,
            bounded,
            exact,
        })
    }

    /// The automaton over the rules' literals and their aliases, as the
    /// literal pass ([`super::literals::overlapping`]) walks it.
    pub fn automaton(&self) -> &DFA {
        &self.automaton
    }

    /// The automaton's patterns, by pattern id: the literals, then their
    /// aliases (`name (` for `name(`).
    pub fn automaton_patterns(&self) -> &[String] {
        &self.patterns
    }

    /// Every literal the automaton looks for, lowercase (exact-case ones
    /// included, folded), one per distinct literal: what a peer such as
    /// `rg -F -i -f` is given in the benchmarks.
    pub fn literal_patterns(&self) -> Vec<String> {
        self.literals.clone()
    }

    /// The rule with this id.
    pub fn rule(&self, id: &str) -> Option<&Rule> {
        self.rules.iter().find(|r| r.id == id)
    }

    /// Every rule and combo id, for tests and docs.
    pub fn ids(&self) -> Vec<&str> {
        self.rules
            .iter()
            .map(|r| r.id.as_str())
            .chain(self.combos.iter().map(|c| c.id.as_str()))
            .collect()
    }
}

impl Rule {
    /// Whether this rule fires on a line, given the set of literal ids that
    /// matched on it (sorted) and the line text (for the optional regex).
    pub(crate) fn matches_line(&self, matched: &[usize], line: &str) -> bool {
        let has = |lit: &usize| matched.binary_search(lit).is_ok();
        if !self.any.iter().any(has) {
            return false;
        }
        if !self.all.iter().all(|group| group.iter().any(has)) {
            return false;
        }
        if self.not.iter().any(has) {
            return false;
        }
        match &self.regex {
            Some(re) => re.is_match(line),
            None => true,
        }
    }

    /// The literals that trigger this rule (for documentation and for the
    /// benchmark's naive peer).
    pub fn trigger_literals<'a>(&self, set: &'a RuleSet) -> Vec<&'a str> {
        self.any.iter().map(|&i| set.literals[i].as_str()).collect()
    }

    /// Whether the rule applies to a file of this role. Build
    /// configuration (`pyproject.toml`, `setup.cfg`) is not code: only rules
    /// that name the `config` role apply to it (its CI sections, such as
    /// cibuildwheel's `before-build`, never run on `pip install`).
    pub fn applies_to(&self, role: Role) -> bool {
        if self.roles.is_empty() {
            role != Role::Config
        } else {
            self.roles.contains(&role)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_rules_compile_with_unique_ids() {
        let set = RuleSet::builtin();
        let ids = set.ids();
        let unique: BTreeSet<&str> = ids.iter().copied().collect();
        assert_eq!(ids.len(), unique.len());
        assert!(set.rules.len() > 40 && set.combos.len() >= 8);
        assert!(set.rules.iter().all(|r| !r.rationale.is_empty()));
    }

    #[test]
    fn bad_rule_files_are_errors() {
        let dup = "[[rule]]\nid='a'\ncategory='process'\nseverity='low'\nrationale='x'\nany=['x']\n[[rule]]\nid='a'\ncategory='process'\nseverity='low'\nrationale='x'\nany=['y']\n";
        assert!(RuleSet::from_toml(dup).is_err());
        let cat = "[[rule]]\nid='a'\ncategory='nope'\nseverity='low'\nrationale='x'\nany=['x']\n";
        assert!(RuleSet::from_toml(cat).is_err());
        let empty = "[[rule]]\nid='a'\ncategory='process'\nseverity='low'\nrationale='x'\n";
        assert!(RuleSet::from_toml(empty).is_err());
        let combo = "[[combo]]\nid='c'\ncategory='process'\nseverity='low'\nrationale='x'\ngroups=[['a']]\n";
        assert!(RuleSet::from_toml(combo).is_err());
        assert!(RuleSet::from_toml("not toml [").is_err());
    }

    #[test]
    fn markers_and_call_aliases() {
        let set = RuleSet::from_toml(
            "[[rule]]\nid='e'\ncategory='obfuscation'\nseverity='high'\nrationale='x'\nany=['\\bexec(']\n[[rule]]\nid='t'\ncategory='credential_access'\nseverity='high'\nrationale='x'\nany=['\\wHF_TOKEN']\n",
        )
        .unwrap();
        let ids = |src: &str| -> Vec<String> {
            crate::findings::scan_source_with_floor(
                &set,
                src.as_bytes(),
                Role::Install,
                Severity::Info,
            )
            .findings
            .into_iter()
            .map(|f| f.rule_id)
            .collect()
        };
        assert_eq!(ids("exec (x)"), vec!["e"]);
        assert!(ids("self._exec(x)").is_empty());
        assert_eq!(ids("t = env['HF_TOKEN']"), vec!["t"]);
        assert!(ids("hf_token = 1; HF_TOKENIZER = 2").is_empty());
    }
}
