//! Scanning one file's text: one overlapping Aho-Corasick pass over the
//! bytes to find candidate lines, line rules and detectors on those lines,
//! then co-occurrence rules over the hits of the whole file.

use std::collections::{BTreeMap, BTreeSet};

use super::redact::excerpt;
use super::rules::{Detector, RuleSet, BLOB_MIN_LEN, HEX_ESCAPES_MIN};
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
    bytes[..bytes.len().min(BINARY_SNIFF)].contains(&0)
}

#[derive(Debug, Clone)]
struct Hit {
    rule: usize,
    line: usize,
    at: usize,
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

    // Line starts (byte offsets).
    let mut starts = vec![0usize];
    starts.extend(memchr::memchr_iter(b'\n', bytes).map(|i| i + 1));
    let line_of = |off: usize| starts.partition_point(|&s| s <= off) - 1;
    let line_bytes = |l: usize| {
        let s = starts[l];
        let e = starts.get(l + 1).map(|&e| e - 1).unwrap_or(bytes.len());
        &bytes[s..e.max(s)]
    };

    // One pass: literal ids per candidate line, with the first offset of each.
    let mut per_line: BTreeMap<usize, Vec<(usize, usize)>> = BTreeMap::new();
    let ident = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    for m in rules.automaton.find_overlapping_iter(bytes) {
        let pid = rules.canonical[m.pattern().as_usize()];
        if rules.bounded[pid] && m.start() > 0 {
            let before = bytes[m.start() - 1];
            if ident(before) || before == b'.' {
                continue;
            }
        }
        if let Some(exact) = rules.exact[pid]
            .as_ref()
            .filter(|_| m.pattern().as_usize() == pid)
        {
            if &bytes[m.start()..m.end()] != exact.as_bytes()
                || bytes.get(m.end()).is_some_and(|&b| ident(b))
            {
                continue;
            }
        }
        let line = line_of(m.start());
        per_line
            .entry(line)
            .or_default()
            .push((pid, m.start() - starts[line]));
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
            // Offset of the first literal that triggered this rule.
            let at = lits
                .iter()
                .find(|&&(l, _)| rules.triggers[l].contains(&r))
                .map(|&(_, o)| o)
                .unwrap_or(0);
            hits.push(Hit { rule: r, line, at });
        }
    }

    // Detectors: only lines long enough to hold what they look for.
    if !rules.detector_rules.is_empty() {
        let min_len = BLOB_MIN_LEN.min(HEX_ESCAPES_MIN * 4);
        for line in 0..starts.len() {
            let raw = line_bytes(line);
            if raw.len() < min_len || is_comment(raw) {
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
                    hits.push(Hit { rule: r, line, at });
                }
            }
        }
    }
    hits.sort_by_key(|h| (h.line, h.rule));

    let mut findings = Vec::new();
    let short = starts.len() <= SHORT_FILE_LINES;
    for h in &hits {
        let rule = &rules.rules[h.rule];
        let base = match (role, rule.install_severity, rule.import_severity) {
            (Role::Install | Role::Startup, Some(s), _) => s,
            (Role::Import | Role::Entry, _, Some(s)) => s,
            _ => rule.severity,
        };
        let delta = if rule.full_weight && role == Role::Module {
            0
        } else {
            role.severity_delta(false, short)
        };
        let severity = base.shift(delta);
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

    // Co-occurrence: lines carrying each tag.
    let mut tag_lines: BTreeMap<&str, Vec<(usize, usize, usize)>> = BTreeMap::new();
    for h in &hits {
        for t in &rules.rules[h.rule].tags {
            tag_lines
                .entry(t.as_str())
                .or_default()
                .push((h.line, h.at, h.rule));
        }
    }
    for combo in &rules.combos {
        let groups: Vec<Vec<(usize, usize, usize)>> = combo
            .groups
            .iter()
            .map(|g| {
                let mut v: Vec<(usize, usize, usize)> = g
                    .iter()
                    .filter_map(|t| tag_lines.get(t.as_str()))
                    .flatten()
                    .copied()
                    .collect();
                v.sort_unstable();
                v
            })
            .collect();
        if groups.iter().any(Vec::is_empty) {
            continue;
        }
        // Anchor on the last group's hits (the send, the exec): the first one
        // that has every other group within the window, met by a *different*
        // rule (one rule carrying both tags is not a co-occurrence).
        let last = groups.len() - 1;
        let anchor = groups[last].iter().find(|&&(l, _, r)| {
            groups[..last].iter().all(|g| {
                g.iter().any(|&(o, _, rr)| {
                    rr != r && (combo.window == 0 || o.abs_diff(l) <= combo.window)
                })
            })
        });
        let Some(&(line, at, _)) = anchor else {
            continue;
        };
        let severity = combo
            .severity
            .shift(role.severity_delta(true, short || combo.full_weight));
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
