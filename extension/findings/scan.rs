//! Scanning one file's text: one overlapping Aho-Corasick pass over the
//! bytes to find candidate lines, line rules and detectors on those lines,
//! then co-occurrence rules over the hits of the whole file.

use std::collections::{BTreeMap, BTreeSet};

use super::lex::{self, Layout};
use super::literals;
use super::redact::excerpt;
use super::rules::{Combo, Detector, RuleSet, BLOB_MIN_LEN, HEX_ESCAPES_MIN};
use super::{Finding, Role, Severity};

/// Files larger than this are scanned only up to it (the rest is ignored and
/// the scan says it was truncated).
pub const MAX_SCAN_BYTES: usize = 4 * 1024 * 1024;

/// A module with at most this many lines counts as short: co-occurrence in
/// it weighs fully even outside install/import/start-up code.
pub const SHORT_FILE_LINES: usize = 400;

/// How many bytes at the start decide whether a file is binary.
const BINARY_SNIFF: usize = 8192;

/// At most this many rows per rule per file: a minified payload that calls
/// `exec` 500 times is one finding, not 500.
const MAX_HITS_PER_RULE: usize = 5;

/// Most (anchor, other hit) pairs one co-occurrence rule judges in one file
/// (see the anchor search in [`scan_source_with_floor`]).
const MAX_COMBO_PAIRS: usize = 200_000;

/// The result of scanning one file (cached per file version).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FileScan {
    /// Findings after weighing the file's role, filtered by its report floor.
    pub findings: Vec<Finding>,
    /// True when the file looked binary and was not scanned.
    pub binary: bool,
    /// True when only the first [`MAX_SCAN_BYTES`] were scanned.
    pub truncated: bool,
}

/// True when the bytes look binary (a NUL in the first 8 KiB).
pub fn is_binary(bytes: &[u8]) -> bool {
    memchr::memchr(0, &bytes[..bytes.len().min(BINARY_SNIFF)]).is_some()
}

#[derive(Debug, Clone)]
struct Hit {
    rule: usize,
    line: usize,
    at: usize,
    /// The literal that triggered it (none for detectors).
    lit: Option<usize>,
    /// True when the hit sits in a comment, docstring or message string.
    prose: bool,
    /// True when the hit is a spawn of a build tool (a build step).
    build: bool,
    /// True when the hit copies the environment for a child process
    /// (`env = os.environ.copy()` ... `Popen(..., env=env)`).
    child_env: bool,
    /// True when the URL sits in a row with its own SHA-256 (a download
    /// pinned to a known artefact): at most medium.
    pinned: bool,
}

/// Scans `bytes` as the source of a file whose code runs as `role`,
/// keeping findings at or above the role's report floor
/// ([`Role::report_floor`]).
pub fn scan_source(rules: &RuleSet, bytes: &[u8], role: Role) -> FileScan {
    scan_source_with_floor(rules, bytes, role, role.report_floor())
}

/// Like [`scan_source`] with an explicit floor (`Severity::Info` keeps every
/// hit: context rules such as `proc-spawn` included).
pub fn scan_source_with_floor(
    rules: &RuleSet,
    bytes: &[u8],
    role: Role,
    floor: Severity,
) -> FileScan {
    if is_binary(bytes) {
        return FileScan {
            binary: true,
            ..FileScan::default()
        };
    }
    let truncated = bytes.len() > MAX_SCAN_BYTES;
    let bytes = &bytes[..bytes.len().min(MAX_SCAN_BYTES)];

    // One pass: where each literal ends (most files have none).
    let mut matches = Vec::new();
    literals::overlapping(&rules.automaton, bytes, &mut matches);

    // Detectors: only lines long enough to hold what they look for.
    let mut detected: Vec<(usize, usize, usize)> = Vec::new();
    if !rules.detector_rules.is_empty() {
        let min_len = BLOB_MIN_LEN.min(HEX_ESCAPES_MIN * 4);
        let mut lines = LineCounter::default();
        for (from, end) in long_lines(bytes, min_len) {
            let raw = &bytes[from..end];
            if is_comment(raw) {
                continue;
            }
            for &r in &rules.detector_rules {
                let rule = &rules.rules[r];
                if !rule.applies_to(role) {
                    continue;
                }
                let found = match rule.detector {
                    Some(Detector::LongEncodedBlob) => longest_encoded_run(raw),
                    Some(Detector::HexEscapes) => hex_escapes(raw),
                    None => None,
                };
                if let Some(at) = found {
                    detected.push((r, lines.line_at(bytes, from), at));
                }
            }
        }
    }
    if matches.is_empty() && detected.is_empty() {
        return FileScan {
            truncated,
            ..FileScan::default()
        };
    }

    // Line starts (byte offsets).
    let mut starts = vec![0usize];
    starts.extend(memchr::memchr_iter(b'\n', bytes).map(|i| i + 1));
    let line_of = |off: usize| starts.partition_point(|&s| s <= off) - 1;
    let line_bytes = |l: usize| {
        let s = starts[l];
        let e = starts.get(l + 1).map(|&e| e - 1).unwrap_or(bytes.len());
        &bytes[s..e.max(s)]
    };

    // Literal ids per candidate line, with the first offset of each.
    let mut per_line: BTreeMap<usize, Vec<(usize, usize)>> = BTreeMap::new();
    let ident = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    for m in matches {
        let pattern = m.pattern as usize;
        let start = m.end - rules.patterns[pattern].len();
        let pid = rules.canonical[pattern];
        if rules.bounded[pid] && start > 0 {
            let before = bytes[start - 1];
            if ident(before) || before == b'.' {
                continue;
            }
        }
        if let Some(exact) = rules.exact[pid].as_ref().filter(|_| pattern == pid) {
            if &bytes[start..m.end] != exact.as_bytes()
                || bytes.get(m.end).is_some_and(|&b| ident(b))
            {
                continue;
            }
        }
        let line = line_of(start);
        per_line
            .entry(line)
            .or_default()
            .push((pid, start - starts[line]));
    }

    let mut hits: Vec<Hit> = Vec::new();
    let mut per_rule: Vec<usize> = vec![0; rules.rules.len()];
    for (&line, lits) in &per_line {
        let raw = line_bytes(line);
        if is_comment(raw) {
            continue;
        }
        let text = String::from_utf8_lossy(raw);
        let mut ids: Vec<usize> = lits.iter().map(|&(l, _)| l).collect();
        ids.sort_unstable();
        ids.dedup();
        let candidates: BTreeSet<usize> = ids
            .iter()
            .flat_map(|&l| rules.triggers[l].iter().copied())
            .collect();
        for r in candidates {
            let rule = &rules.rules[r];
            if !rule.applies_to(role) || !rule.matches_line(&ids, &text) {
                continue;
            }
            let first = lits.iter().find(|&&(l, _)| rules.triggers[l].contains(&r));
            let (lit, at) = first.map(|&(l, o)| (Some(l), o)).unwrap_or((None, 0));
            hits.push(Hit {
                rule: r,
                line,
                at,
                lit,
                prose: false,
                build: false,
                child_env: false,
                pinned: false,
            });
        }
    }

    // Code versus prose, scopes and import-time lines: computed only when a
    // hit could be reported or a combination could form (most files have
    // neither, and the pass costs about as much as the literal scan).
    let could_report = hits
        .iter()
        .map(|h| h.rule)
        .chain(detected.iter().map(|d| d.0))
        .any(|r| {
            let rule = &rules.rules[r];
            [
                Some(rule.severity),
                rule.install_severity,
                rule.import_severity,
            ]
            .into_iter()
            .flatten()
            .max()
            .is_some_and(|s| s >= floor)
        });
    let could_combine = || {
        let tags: BTreeSet<&str> = hits
            .iter()
            .map(|h| h.rule)
            .chain(detected.iter().map(|d| d.0))
            .flat_map(|r| rules.rules[r].tags.iter().map(String::as_str))
            .collect();
        rules.combos.iter().any(|c| {
            c.groups
                .iter()
                .all(|g| g.iter().any(|t| tags.contains(t.as_str())))
        })
    };
    let layout = if could_report || could_combine() {
        lex::layout(bytes, &starts)
    } else {
        Layout::default()
    };
    // A hit whose literals only match inside prose is prose.
    if !layout.prose_spans().is_empty() {
        let mut code_ids_of: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
        for h in hits.iter_mut() {
            let lits = &per_line[&h.line];
            let code_ids = code_ids_of.entry(h.line).or_insert_with(|| {
                let mut v: Vec<usize> = lits
                    .iter()
                    .filter(|&&(_, o)| !layout.is_prose(starts[h.line] + o))
                    .map(|&(l, _)| l)
                    .collect();
                v.sort_unstable();
                v.dedup();
                v
            });
            let rule = &rules.rules[h.rule];
            let text = String::from_utf8_lossy(line_bytes(h.line));
            if rule.matches_line(code_ids, &text) {
                if let Some(&(l, o)) = lits.iter().find(|&&(l, o)| {
                    rules.triggers[l].contains(&h.rule) && !layout.is_prose(starts[h.line] + o)
                }) {
                    h.lit = Some(l);
                    h.at = o;
                }
            } else {
                h.prose = true;
            }
        }
    }

    for (r, line, at) in detected {
        // A blob in a docstring is prose unless it decodes to code (a
        // payload parked where a reader skims).
        let prose = layout.is_prose(starts[line] + at)
            && !(rules.rules[r].detector == Some(Detector::LongEncodedBlob)
                && decodes_to_code(&line_bytes(line)[at..]));
        hits.push(Hit {
            rule: r,
            line,
            at,
            lit: None,
            prose,
            build: false,
            child_env: false,
            pinned: false,
        });
    }
    hits.sort_by_key(|h| (h.line, h.rule));

    for h in hits.iter_mut() {
        let tags = &rules.rules[h.rule].tags;
        // A host written as an element of a data list (a block list of
        // domains) names the host; it does not use it.
        if !h.prose && tags.iter().any(|t| t == "exfil_endpoint") && data_row(line_bytes(h.line)) {
            h.prose = true;
        }
        // A download URL in a row with its SHA-256 is pinned to one artefact.
        if tags.iter().any(|t| t == "download") && pinned_row(line_bytes(h.line)) {
            h.pinned = true;
        }
        // `env = os.environ.copy()` handed to a child as `env=env` is the
        // child's environment, not a dump to send.
        if tags.iter().any(|t| t == "env_dump") {
            h.child_env = child_env(bytes, line_bytes(h.line));
        }
        // A spawn of a compiler, build system or SDK query is a build step.
        if tags.iter().any(|t| t == "spawn") {
            let from = starts[h.line] + h.at;
            let call = &bytes[from..bytes.len().min(from + 512)];
            h.build = spawned_command(call)
                .or_else(|| spawned_variable(call, &bytes[from.saturating_sub(VAR_LOOKBACK)..from]))
                .is_some_and(|c| is_build_tool(rules, &c));
        }
    }

    // A module-level statement that sends something runs when the module is
    // imported: its line weighs as import code.
    let send_lines: BTreeSet<usize> = if role == Role::Module {
        hits.iter()
            .filter(|h| {
                !h.prose
                    && layout.import_time(h.line)
                    && rules.rules[h.rule].tags.iter().any(|t| t == "send")
            })
            .map(|h| h.line)
            .collect()
    } else {
        BTreeSet::new()
    };
    let role_at = |line: usize| {
        if send_lines.contains(&line) {
            Role::Import
        } else {
            role
        }
    };

    // A plain package module's function that nothing runs at import (no
    // import-time code names it) acts only when a user calls it: a behaviour
    // there on its own is weaker evidence than the same behaviour at
    // install or import time, where malware acts. Such a single hit
    // is capped at medium unless the rule is a shape benign libraries do not
    // have (`full_weight`: a credential grabber, a hard-coded webhook send,
    // decoded-blob execution, a reverse shell). Combinations are not capped:
    // malware often defines its download-and-run in a function that another
    // file (setup.py, `__init__`) calls, which a per-file scan cannot see;
    // capping them cost 1.0 point of recall on the tune split.
    let runtime_only = |line: usize| role_at(line) == Role::Module && !layout.runs_at_import(line);

    let mut findings = Vec::new();
    let short = starts.len() <= SHORT_FILE_LINES;
    for h in &hits {
        let rule = &rules.rules[h.rule];
        let here = role_at(h.line);
        let base = match (here, rule.install_severity, rule.import_severity) {
            (Role::Install | Role::Startup, Some(s), _) => s,
            (Role::Import | Role::Entry, _, Some(s)) => s,
            _ => rule.severity,
        };
        let delta = if rule.full_weight && here == Role::Module {
            0
        } else {
            here.severity_delta(false, short)
        };
        let mut severity = base.shift(delta);
        if h.prose {
            // Text about code (a usage example, an install hint).
            severity = severity.shift(-2).min(Severity::Low);
        }
        if h.pinned || (!rule.full_weight && runtime_only(h.line)) {
            severity = severity.min(Severity::Medium);
        }
        if severity < floor {
            continue;
        }
        per_rule[h.rule] += 1;
        if per_rule[h.rule] > MAX_HITS_PER_RULE {
            continue;
        }
        findings.push(Finding {
            rule_id: rule.id.clone(),
            category: rule.category,
            severity,
            line: Some(h.line as u64 + 1),
            evidence: excerpt(&String::from_utf8_lossy(line_bytes(h.line)), h.at),
            description: rule.rationale.clone(),
            role,
        });
    }

    // Co-occurrence: hits in code (not prose) carrying each tag.
    let mut tag_hits: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (k, h) in hits.iter().enumerate() {
        if h.prose {
            continue;
        }
        for t in &rules.rules[h.rule].tags {
            if (h.build && t == "process") || (h.child_env && t == "env_dump") {
                continue;
            }
            tag_hits.entry(t.as_str()).or_default().push(k);
        }
    }
    let ctx = ComboContext {
        rules,
        bytes,
        starts: &starts,
        layout: &layout,
        related: Default::default(),
        file_hosts: Default::default(),
        vendor: Default::default(),
    };
    for combo in &rules.combos {
        let groups: Vec<Vec<usize>> = combo
            .groups
            .iter()
            .map(|g| {
                let mut v: Vec<usize> = g
                    .iter()
                    .filter_map(|t| tag_hits.get(t.as_str()))
                    .flatten()
                    .copied()
                    .collect();
                v.sort_unstable_by_key(|&k| (hits[k].line, hits[k].at, hits[k].rule));
                v.dedup();
                v
            })
            .collect();
        if groups.iter().any(Vec::is_empty) {
            continue;
        }
        // Anchor on the last group's hits (the send, the exec): the first one
        // that has every other group met by a *distinct* hit (another rule
        // at another place: one constant carrying two tags is one hit)
        // within the window and in the same unit of behaviour (the same
        // function or module-level block, a function and its callee, a
        // constant and its user: [`Layout::related`]). A window of 0 means
        // the whole file (the install-hook combos: an overridden install
        // command runs whatever setup.py defines).
        //
        // Each group is sorted by line, so a windowed combo looks only at
        // the hits within its window (two binary searches), and every combo
        // judges at most MAX_COMBO_PAIRS pairs per file: a file of tens of
        // thousands of hits (a generated module, or one made to stall the
        // scan) costs a bounded time. Only such a file can exhaust the
        // budget, and its hits are already findings of their own.
        let last = groups.len() - 1;
        let budget = std::cell::Cell::new(MAX_COMBO_PAIRS);
        let anchor = groups[last].iter().find(|&&a| {
            let ha = &hits[a];
            groups[..last].iter().all(|g| {
                let near = if combo.window == 0 {
                    &g[..]
                } else {
                    let lo = ha.line.saturating_sub(combo.window);
                    let hi = ha.line.saturating_add(combo.window);
                    let s = g.partition_point(|&k| hits[k].line < lo);
                    let e = g.partition_point(|&k| hits[k].line <= hi);
                    &g[s..e]
                };
                near.iter().any(|&o| {
                    let Some(left) = budget.get().checked_sub(1) else {
                        return false;
                    };
                    budget.set(left);
                    let ho = &hits[o];
                    ho.rule != ha.rule
                        && (ho.line, ho.at) != (ha.line, ha.at)
                        && (combo.window == 0 || ctx.related(ho.line, ha.line))
                        && !ctx.vendor_api(combo, ho, ha)
                })
            })
        });
        let Some(&a) = anchor else {
            continue;
        };
        let (line, at) = (hits[a].line, hits[a].at);
        let severity = combo
            .severity
            .shift(role_at(line).severity_delta(true, short || combo.full_weight));
        if severity < floor {
            continue;
        }
        findings.push(Finding {
            rule_id: combo.id.clone(),
            category: combo.category,
            severity,
            line: Some(line as u64 + 1),
            evidence: excerpt(&String::from_utf8_lossy(line_bytes(line)), at),
            description: combo.rationale.clone(),
            role,
        });
    }
    FileScan {
        findings,
        binary: false,
        truncated,
    }
}

/// Judged pairs: ((scope, module-level line), (scope, line)) to related.
type RelatedCache = std::collections::HashMap<((u32, usize), (u32, usize)), bool>;

/// What the vendor/endpoint pairing and the scope relation need.
struct ComboContext<'a> {
    rules: &'a RuleSet,
    bytes: &'a [u8],
    starts: &'a [usize],
    layout: &'a Layout,
    /// Scope pairs already judged by [`Layout::related`].
    related: std::cell::RefCell<RelatedCache>,
    /// URL hosts in code of the whole file, once asked.
    file_hosts: std::cell::OnceCell<Vec<String>>,
    /// Vendor verdicts per (credential literal, credential line, send line).
    vendor: std::cell::RefCell<std::collections::HashMap<(usize, usize, usize), bool>>,
}

impl ComboContext<'_> {
    /// [`Layout::related`], cached per pair of scopes (module-level lines
    /// per line: a constant and its user).
    fn related(&self, a: usize, b: usize) -> bool {
        let (sa, sb) = (self.layout.scope(a), self.layout.scope(b));
        if sa == sb {
            return true;
        }
        let ka = if sa == 0 { (0, a) } else { (sa, 0) };
        let kb = if sb == 0 { (0, b) } else { (sb, 0) };
        let key = (ka.min(kb), ka.max(kb));
        if let Some(&v) = self.related.borrow().get(&key) {
            return v;
        }
        let v = self.layout.related(self.bytes, self.starts, a, b);
        self.related.borrow_mut().insert(key, v);
        v
    }

    /// True when a credential combo pairs a credential with the API of the
    /// vendor that issued it: every URL host in code in the same scope (or,
    /// when the scope names none, in the whole file) belongs to that vendor
    /// or says nothing (loopback, XML namespaces), and at least one is the
    /// vendor's. That is an SDK calling its own API, not exfiltration.
    fn vendor_api(&self, combo: &Combo, cred: &Hit, send: &Hit) -> bool {
        if !combo.groups[0].iter().any(|t| t == "credential") {
            return false;
        }
        let Some(lit) = cred.lit else {
            return false;
        };
        let vendors = &self.rules.literal_vendors[lit];
        if vendors.is_empty() {
            return false;
        }
        let key = (lit, cred.line, send.line);
        if let Some(&v) = self.vendor.borrow().get(&key) {
            return v;
        }
        let scope = self.layout.scope(send.line);
        let in_scope = |l: usize| self.layout.scope(l) == scope;
        let lo = cred.line.min(send.line);
        let hi = cred.line.max(send.line);
        let span = (lo.saturating_sub(combo.window.max(1))..=(hi + combo.window.max(1)))
            .filter(|&l| l < self.starts.len() && in_scope(l));
        let verdict = |hosts: Vec<String>| -> Option<bool> {
            let mut vendor = false;
            for h in hosts {
                if vendors.iter().any(|&v| self.rules.vendors[v].owns_host(&h)) {
                    vendor = true;
                } else if !super::rules::host_in(&h, &self.rules.neutral_hosts) {
                    return Some(false);
                }
            }
            vendor.then_some(true)
        };
        let scoped: Vec<String> = span.flat_map(|l| self.hosts_on_line(l)).collect();
        let v = if !scoped.is_empty() {
            verdict(scoped).unwrap_or(false)
        } else {
            let all = self.file_hosts.get_or_init(|| {
                (0..self.starts.len())
                    .flat_map(|l| self.hosts_on_line(l))
                    .collect()
            });
            verdict(all.clone()).unwrap_or(false)
        };
        self.vendor.borrow_mut().insert(key, v);
        v
    }

    /// Host names of `scheme://host` URLs on a line, in code only.
    fn hosts_on_line(&self, line: usize) -> Vec<String> {
        let s = self.starts[line];
        let e = self
            .starts
            .get(line + 1)
            .copied()
            .unwrap_or(self.bytes.len());
        let raw = &self.bytes[s..e];
        let mut out = Vec::new();
        for k in memchr::memmem::find_iter(raw, b"://") {
            if self.layout.is_prose(s + k) {
                continue;
            }
            let rest = &raw[k + 3..];
            let end = rest
                .iter()
                .position(|&b| !(b.is_ascii_alphanumeric() || b == b'.' || b == b'-'))
                .unwrap_or(rest.len());
            if end > 0 {
                out.push(String::from_utf8_lossy(&rest[..end]).to_ascii_lowercase());
            }
        }
        out
    }
}

/// True when a line holds nothing but string literals and commas (a row of
/// a data list: `'webhook.site',`), none of them a URL (`://`).
fn data_row(raw: &[u8]) -> bool {
    let mut i = 0;
    let mut literals = 0;
    loop {
        while i < raw.len() && raw[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= raw.len() {
            return literals > 0;
        }
        let q = raw[i];
        if q != b'"' && q != b'\'' {
            return false;
        }
        let Some(len) = raw[i + 1..].iter().position(|&c| c == q || c == b'\\') else {
            return false;
        };
        let body = &raw[i + 1..i + 1 + len];
        if raw[i + 1 + len] == b'\\' || memchr::memmem::find(body, b"://").is_some() {
            return false;
        }
        literals += 1;
        i += len + 2;
        while i < raw.len() && raw[i].is_ascii_whitespace() {
            i += 1;
        }
        if i < raw.len() && raw[i] == b',' {
            i += 1;
        }
    }
}

/// True when a line holds a string literal that is a SHA-256 (or SHA-512)
/// digest in hex: a URL on it is pinned to that artefact.
fn pinned_row(raw: &[u8]) -> bool {
    raw.split(|&c| c == b'"' || c == b'\'')
        .skip(1)
        .step_by(2)
        .any(|lit| matches!(lit.len(), 64 | 128) && lit.iter().all(u8::is_ascii_hexdigit))
}

/// True when the line assigns an environment copy to a name that the file
/// passes to a child process as `env=NAME`.
fn child_env(bytes: &[u8], raw: &[u8]) -> bool {
    let start = raw
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(raw.len());
    let raw = &raw[start..];
    let end = raw
        .iter()
        .position(|&c| !(c.is_ascii_alphanumeric() || c == b'_'))
        .unwrap_or(raw.len());
    let rest = raw[end..].trim_ascii_start();
    if end == 0 || !rest.starts_with(b"=") || rest.starts_with(b"==") {
        return false;
    }
    let name = &raw[..end];
    ["env=", "env = "].iter().any(|kw| {
        let mut pat = kw.as_bytes().to_vec();
        pat.extend_from_slice(name);
        memchr::memmem::find_iter(bytes, &pat).any(|k| {
            let after = k + pat.len();
            bytes
                .get(after)
                .is_none_or(|&c| !(c.is_ascii_alphanumeric() || c == b'_'))
        })
    })
}

/// The command a spawn call starts, from the text at the call: the first
/// element of a literal argv list (`run(["make", ...])`), or the first word
/// of a literal command string without shell operators
/// (`os.system("make all")`). None when it is not written as a literal.
fn spawned_command(text: &[u8]) -> Option<String> {
    let open = memchr::memchr(b'(', text)?;
    let mut i = open + 1;
    let skip = |i: &mut usize| {
        while *i < text.len() && text[*i].is_ascii_whitespace() {
            *i += 1;
        }
    };
    skip(&mut i);
    let list = i < text.len() && matches!(text[i], b'[' | b'(');
    if list {
        i += 1;
        skip(&mut i);
    }
    while i < text.len() && matches!(text[i], b'r' | b'R' | b'u' | b'U' | b'b' | b'B') {
        i += 1;
    }
    let q = *text.get(i)?;
    if q != b'"' && q != b'\'' {
        return None;
    }
    let len = text[i + 1..].iter().position(|&c| c == q || c == b'\n')?;
    let body = String::from_utf8_lossy(&text[i + 1..i + 1 + len]).into_owned();
    let word = if list {
        body.trim().to_string()
    } else {
        if body
            .chars()
            .any(|c| matches!(c, '|' | ';' | '&' | '$' | '`' | '>' | '<' | '\\'))
        {
            return None;
        }
        body.split_whitespace().next()?.to_string()
    };
    Some(word)
}

/// How many bytes before a spawn call [`spawned_variable`] looks for the
/// assignment of the variable it is given.
const VAR_LOOKBACK: usize = 1024;

/// The command a spawn call starts when its only argument is a local name
/// (`os.system(cmd)`) whose last assignment in `before` (the text just
/// above the call) is a literal command (`cmd = "npm install"`): the same
/// reading as [`spawned_command`] applied to that literal. None when the name
/// is last assigned anything else (`cmd += ...`, a call, a format).
fn spawned_variable(call: &[u8], before: &[u8]) -> Option<String> {
    let open = memchr::memchr(b'(', call)?;
    let rest = call[open + 1..].trim_ascii_start();
    let end = rest
        .iter()
        .position(|&c| !(c.is_ascii_alphanumeric() || c == b'_'))?;
    let name = &rest[..end];
    if name.is_empty()
        || name[0].is_ascii_digit()
        || !matches!(rest[end..].trim_ascii_start().first(), Some(b')' | b','))
    {
        return None;
    }
    // The last line of `before` that assigns the name, passing over
    // augmentations that only append arguments (`cmd += " --registry=" + r`:
    // no shell operator, so the command stays the same program).
    let last = before.split(|&c| c == b'\n').rev().find_map(|line| {
        let t = line.trim_ascii_start();
        let after = t.strip_prefix(name)?;
        let after = after.trim_ascii_start();
        let op = after.first()?;
        if after.starts_with(b"+=") {
            let shell = after
                .iter()
                .any(|c| matches!(c, b'|' | b';' | b'&' | b'$' | b'`' | b'>' | b'<'));
            return shell.then_some(after);
        }
        (matches!(op, b'=' | b'+' | b'|' | b'%' | b'&') && !after.starts_with(b"=="))
            .then_some(after)
    })?;
    let value = last.strip_prefix(b"=")?.trim_ascii_start();
    // Read it as the argument of a call.
    let mut as_call = b"(".to_vec();
    as_call.extend_from_slice(value);
    let cmd = spawned_command(&as_call)?;
    // Only a whole literal: nothing but the closing quote and a comment after it.
    let q = value.iter().position(|&c| c == b'"' || c == b'\'')?;
    let close = value[q + 1..].iter().position(|&c| c == value[q])? + q + 1;
    let tail = value[close + 1..].trim_ascii();
    (tail.is_empty() || tail.starts_with(b"#")).then_some(cmd)
}

/// True when a command (a path or a bare name) is one of the rules'
/// `build_tools`.
fn is_build_tool(rules: &RuleSet, command: &str) -> bool {
    let base = command
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or(command)
        .to_ascii_lowercase();
    let bare = base.strip_suffix(".exe").unwrap_or(&base);
    !bare.is_empty()
        && rules
            .build_tools
            .iter()
            .any(|t| t == &base || t.as_str() == bare)
}

/// True when a base64 run (from its start) decodes to something that looks
/// like code or a compressed payload: a blob parked in a docstring that is
/// meant to run.
fn decodes_to_code(raw: &[u8]) -> bool {
    use base64::Engine;
    let end = raw
        .iter()
        .position(|&b| {
            !(b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=' | b'-' | b'_'))
        })
        .unwrap_or(raw.len());
    let run = &raw[..end.min(64 * 1024)];
    let run = &run[..run.len() / 4 * 4];
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(run)
        .or_else(|_| base64::engine::general_purpose::URL_SAFE.decode(run));
    let Ok(d) = decoded else {
        return false;
    };
    if d.starts_with(&[0x78, 0x9c])
        || d.starts_with(&[0x78, 0xda])
        || d.starts_with(&[0x78, 0x01])
        || d.starts_with(&[0x1f, 0x8b])
    {
        return true;
    }
    [
        &b"import "[..],
        b"exec(",
        b"eval(",
        b"subprocess",
        b"os.system",
        b"socket",
        b"def ",
        b"__import__",
    ]
    .iter()
    .any(|n| memchr::memmem::find(&d, n).is_some())
}

/// The lines of `text` at least `min_len` bytes long, as (start, end)
/// offsets (the end excludes the newline), in order.
///
/// Most lines of code are short, and a detector looks only at long ones: a
/// line of at least `2 * block - 1` bytes holds a whole aligned block of
/// `block` bytes with no newline, so only such blocks are looked at closely
/// (a comparison the compiler vectorises), not every line.
fn long_lines(text: &[u8], min_len: usize) -> impl Iterator<Item = (usize, usize)> + '_ {
    let block_len = 64.min(min_len.div_ceil(2)).max(1);
    let mut at = 0;
    std::iter::from_fn(move || {
        while at < text.len() {
            let block_end = (at + block_len).min(text.len());
            let block = &text[at..block_end];
            // No early exit: an OR over the block the compiler turns into SIMD.
            let newline = block.iter().fold(false, |seen, &b| seen | (b == b'\n'));
            if newline || block.len() < block_len {
                at = block_end;
                continue;
            }
            let start = memchr::memrchr(b'\n', &text[..at]).map_or(0, |i| i + 1);
            let end =
                memchr::memchr(b'\n', &text[block_end..]).map_or(text.len(), |i| block_end + i);
            at = end + 1;
            if end - start >= min_len {
                return Some((start, end));
            }
        }
        None
    })
}

/// Line numbers (0-based) of offsets asked in increasing order, counting
/// newlines only from the last offset asked.
#[derive(Default)]
struct LineCounter {
    offset: usize,
    line: usize,
}

impl LineCounter {
    fn line_at(&mut self, text: &[u8], offset: usize) -> usize {
        self.line += memchr::memchr_iter(b'\n', &text[self.offset..offset]).count();
        self.offset = offset;
        self.line
    }
}

/// A line whose first non-blank character is `#` (Python comment; `.pth`
/// comment lines are skipped by `site.py` too).
fn is_comment(raw: &[u8]) -> bool {
    raw.iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|&b| b == b'#')
}

/// Offset of a run of at least [`BLOB_MIN_LEN`] base64 characters (or half
/// as many hex digits), if any. One pass: whether the run so far holds two
/// different characters is carried along (a long run of one repeated
/// character is padding, not data), so a line costs time linear in its
/// length however long the run.
fn longest_encoded_run(raw: &[u8]) -> Option<usize> {
    let mut start = 0;
    let mut run = 0usize;
    let mut hex_run = 0usize;
    let mut first = 0u8;
    let mut mixed = false;
    for (i, &b) in raw.iter().enumerate() {
        let b64 = b.is_ascii_alphanumeric()
            || b == b'+'
            || b == b'/'
            || b == b'='
            || b == b'-'
            || b == b'_';
        if b64 {
            if run == 0 {
                start = i;
                first = b;
                mixed = false;
            } else if b != first {
                mixed = true;
            }
            run += 1;
            hex_run = if b.is_ascii_hexdigit() {
                hex_run + 1
            } else {
                0
            };
            if (run >= BLOB_MIN_LEN || hex_run >= BLOB_MIN_LEN / 2 && hex_run == run) && mixed {
                return Some(start);
            }
        } else {
            run = 0;
            hex_run = 0;
        }
    }
    None
}

/// Offset of the first `\x` when a line holds at least [`HEX_ESCAPES_MIN`]
/// `\xNN` escapes.
fn hex_escapes(raw: &[u8]) -> Option<usize> {
    let mut count = 0;
    let mut first = None;
    for i in 0..raw.len().saturating_sub(3) {
        if raw[i] == b'\\'
            && raw[i + 1] == b'x'
            && raw[i + 2].is_ascii_hexdigit()
            && raw[i + 3].is_ascii_hexdigit()
        {
            first.get_or_insert(i);
            count += 1;
            if count >= HEX_ESCAPES_MIN {
                return first;
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every line and its offsets, the plain way.
    fn lines(text: &[u8]) -> Vec<(usize, usize)> {
        let mut out = Vec::new();
        let mut from = 0;
        for end in memchr::memchr_iter(b'\n', text).chain(std::iter::once(text.len())) {
            out.push((from, end));
            from = end + 1;
        }
        out
    }

    #[test]
    fn long_lines_are_every_line_at_least_that_long_with_its_number() {
        // Lines of every length around the block sizes, at every alignment,
        // with and without a final newline.
        let mut seed = 7u64;
        let mut next = move |n: u64| {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 33) % n
        };
        for min_len in [1, 2, 5, 64, 127, 128, 160, 400] {
            for _ in 0..200 {
                let mut text = Vec::new();
                for _ in 0..next(12) {
                    let len = match next(3) {
                        0 => next(10),
                        1 => min_len as u64 - 1 + next(3),
                        _ => next(600),
                    };
                    text.extend(std::iter::repeat_n(b'a', len as usize));
                    text.push(b'\n');
                }
                if next(2) == 0 {
                    text.pop();
                }
                let want: Vec<(usize, usize)> = lines(&text)
                    .into_iter()
                    .filter(|(s, e)| e - s >= min_len)
                    .collect();
                let got: Vec<(usize, usize)> = long_lines(&text, min_len).collect();
                assert_eq!(got, want, "min_len {min_len}, text of {} bytes", text.len());
                let all = lines(&text);
                let mut counter = LineCounter::default();
                for (s, _) in got {
                    let n = all.iter().position(|&(a, _)| a == s).unwrap();
                    assert_eq!(counter.line_at(&text, s), n);
                }
            }
        }
    }
}
