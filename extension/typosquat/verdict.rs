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
//!
//! On the shape alone ([`read_shape`]), the score is not the whole story:
//! a flagged name is a `typosquat` when its score reaches
//! [`STRONG_THRESHOLD`] or when it has a shape attackers make and
//! legitimate authors rarely do, whatever the target's rank:
//! - any slip of a top-100 name ([`FAMOUS_RANK`]): those draw the squats;
//! - transposed or doubled letters (`bitcionlib`, `kedroo`): slips that
//!   make no name of their own;
//! - a letter slipped inside a name (`customtkqinter`), not an affix at
//!   either end (`xnumpy`, `notebookr` are how authors brand a variant);
//! - a letter dropped inside a long name (`tkcalenar`);
//! - a sound-alike letter (`pycerial`: `c` for `s`);
//! - a slip inside one word of a multi-word name (`usvr-agent`);
//! - a vowel for a vowel inside a long name (`pysereal`);
//! - a name made only of well-known names (`numpy-selenium`);
//! - a slip of a target attackers repeatedly imitate (`customtkimter`), or
//!   a name built on a word they build on about as often as legitimate
//!   authors do (`beautifulsoup-requests`), per [`ATTACKED_TSV`]: derived
//!   from a malware corpus's names starting with 0-9 or a-m only (the rest
//!   and the evaluation sets are never read);
//! - a combosquat whose added word poses as installing or a newer release
//!   of the package itself (`install-crypto`, `colored-upgrade`).
//! - whatever the score: a letter of a top-100 name moved (`nmpuy`), two
//!   letters slipped inside or two typing slips of a long top-100 or
//!   repeatedly attacked name (`cryptozqgraphy`, `beuatifulsop`), a word
//!   claiming a better edition added to a top-100 name
//!   (`requests-enhanced`): see `far_slip_reason`.
//!
//! And a flagged name stays `suspicious`, whatever its score, when:
//! - a combosquat adds only companion or field words (`rsa-cli`,
//!   `grpcio-helpers`, `llm-client-redis`): how tools built on a package
//!   are named;
//! - a combosquat's base is misspelled and outside the top 1,000
//!   (`urltools-cli`): two changes from a mid-list name;
//! - a "version" suffix is a number of three digits or more
//!   (`django-503`): a status code or a model, not a release;
//! - a `python-`/`py` prefix is dropped (`subunit`): often the project's
//!   own name elsewhere.
//!
//! The rules were chosen on one half of the project's evaluation sets (a
//! fixed hash of the name) and checked on the other (tests/typosquat_eval.rs);
//! the last three on the malware corpus's tuning split and a fresh sample
//! of PyPI names only (benches/README.md, "Verdicts on names alone").

use std::collections::HashMap;
use std::sync::OnceLock;

use super::index::{Assessment, Index, DEFAULT_THRESHOLD};
use super::normalize;
use super::text::{
    edit_script, is_added_word, is_version_word, keyboard_adjacent, osa_within, Edit,
};

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
/// Targets ranked at or above this are the names everyone installs: a slip
/// of one of them is a typosquat on its shape alone.
pub const FAMOUS_RANK: u32 = 100;
/// Names ranked at or above this count as "famous" when a name is made of
/// two of them (`numpy-selenium`); also the rank a misspelled base of a
/// combosquat must reach.
pub const WELL_KNOWN_RANK: u32 = 1_000;
/// A letter dropped inside a target at least this long is a slip, not a
/// shorter word of its own.
const LONG_TARGET: usize = 8;
/// Words that name a companion built on a popular package (`rsa-cli`,
/// `grpcio-helpers`) or the field it serves (`llm-client-redis`): how third
/// parties legitimately name their tools. Words that pose as the package
/// itself (`-upgrade`, `-x64`, `-official`, `py-`) are not in it.
const COMPANION_WORDS: &[&str] = &[
    "cli",
    "client",
    "helper",
    "helpers",
    "wrapper",
    "util",
    "utils",
    "utility",
    "utilities",
    "tool",
    "tools",
    "toolkit",
    "toolbox",
    "extra",
    "extras",
    "ai",
    "ml",
    "llm",
];
/// Letters that sound alike: a name heard rather than read is misspelt with
/// them (`pycerial` for `pyserial`).
const SOUND_ALIKE: [(u8, u8); 5] = [
    (b'c', b's'),
    (b'c', b'k'),
    (b's', b'z'),
    (b'k', b'q'),
    (b'i', b'y'),
];

/// The summaries of the popular packages (`name<TAB>normalised summary`).
pub const TOP_SUMMARIES_TSV: &str = include_str!("../data/pypi_top_summaries.tsv");
/// The popular names attackers repeatedly imitate
/// (`target<TAB>slip|combo<TAB>malicious names<TAB>legitimate names`),
/// derived from the tuning split (names 0-9, a-m) of a malware corpus only;
/// see the file's header and `benches/attacked_targets.py`.
pub const ATTACKED_TSV: &str = include_str!("../data/typosquat_attacked.tsv");
/// Words that pose as an install step or a newer release of the package
/// itself (`install-crypto`, `colored-upgrade`, `pipcrypto`): a third party
/// naming its own tool has no reason to use them.
const IMPERSONATION_WORDS: &[&str] = &[
    "install", "pip", "setup", "update", "updated", "upgrade", "latest", "new", "official",
];
/// Vowels: one swapped for another inside a long name is a misspelling
/// (`pysereal`), not a name of its own.
const VOWELS: &[u8] = b"aeiou";
/// Words that claim a better edition of the package itself
/// (`httpx-advanced`, `click-extended`): added to a top-100 name they sell
/// the name, not a tool of its own.
const EDITION_WORDS: &[&str] = &[
    "advanced", "enhanced", "improved", "extended", "better", "pro", "plus", "premium", "ultra",
    "super", "ultimate", "complete",
];
/// A name two slips from a famous or repeatedly attacked target of at least
/// this many characters is still recognisably that target: legitimate
/// authors rarely come that close to a long famous name (two slips of a
/// shorter one often make a word of its own).
const LONG_FAMOUS: usize = 8;
/// A name with a letter of a top-100 name moved must be at least this long
/// (shorter anagrams are words of their own: `ipp`, `ars`).
const MOVED_MIN_LEN: usize = 5;

/// How attackers imitate a target, per the shipped list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Attack {
    /// Malicious names one slip from it recur.
    Slip,
    /// Malicious names holding it as a word recur, often next to the
    /// legitimate names that do.
    Combo,
}

/// How often attackers imitated `target` that way (malicious names in the
/// tuning split), when the shipped list names it.
fn attacked(target: &str, how: Attack) -> Option<u32> {
    static MAP: OnceLock<HashMap<(&'static str, bool), u32>> = OnceLock::new();
    MAP.get_or_init(|| {
        ATTACKED_TSV
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| {
                let mut f = l.split('\t');
                let (t, kind, n) = (f.next()?, f.next()?, f.next()?.parse().ok()?);
                Some(((t, kind == "combo"), n))
            })
            .collect()
    })
    .get(&(target, how == Attack::Combo))
    .copied()
}

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

/// What the name alone says: whether it counts as flagged, whether its
/// shape alone makes a typosquat, and the rule that decided, in words.
#[derive(Debug, Clone, PartialEq)]
pub struct ShapeReading {
    /// The score reaches [`DEFAULT_THRESHOLD`], or the name joins two
    /// well-known names.
    pub flagged: bool,
    /// The shape alone makes a `typosquat` (no host evidence needed).
    pub strong: bool,
    /// Why, in words (none when the name is not flagged).
    pub reason: Option<String>,
}

/// The kind of finding behind a score, from the start of its technique.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Characters omitted, added, swapped or substituted.
    Slip,
    /// Same name once look-alike characters or delimiters are folded.
    Lookalike,
    /// Several repeated characters.
    Repeats,
    /// A popular name plus words.
    Combo,
    /// A popular name plus a version number.
    Version,
    /// A `py`/`python` prefix dropped.
    PrefixDropped,
    /// Anything else (prefix changed, swapped words, curated families,
    /// dependency confusion).
    Other,
}

fn kind(technique: &str) -> Kind {
    const OTHER: [&str; 7] = [
        "prefix changed",
        "swapped words",
        "official relative",
        "dependency confusion",
        "popular itself",
        "known malicious",
        "name longer",
    ];
    if technique.starts_with("combosquat of") {
        Kind::Combo
    } else if technique.starts_with("version-number suffix") {
        Kind::Version
    } else if technique.starts_with("prefix \"") && technique.ends_with("dropped") {
        Kind::PrefixDropped
    } else if technique.starts_with("look-alike") || technique.starts_with("delimiter changed") {
        Kind::Lookalike
    } else if technique.starts_with("repeated characters") {
        Kind::Repeats
    } else if technique.is_empty() || OTHER.iter().any(|o| technique.starts_with(o)) {
        Kind::Other
    } else {
        Kind::Slip
    }
}

/// True when `Added { ch, at }` repeats a neighbour (`pilllow`).
fn is_repeat(name: &[u8], ch: u8, at: usize) -> bool {
    (at > 0 && name[at - 1] == ch) || name.get(at + 1) == Some(&ch)
}

/// The words a combosquat adds to its (exactly spelled) base: the name's
/// tokens that the base lacks, or what is left once the base is cut off
/// an undelimited name (`commutils`).
fn added_words<'a>(name: &'a str, base: &str) -> Vec<&'a str> {
    if name.contains('-') {
        let base_tokens: Vec<&str> = base.split('-').collect();
        name.split('-')
            .filter(|t| !t.is_empty() && !base_tokens.contains(t))
            .collect()
    } else if let Some(rest) = name.strip_prefix(base).or_else(|| name.strip_suffix(base)) {
        vec![rest]
    } else {
        Vec::new()
    }
}

/// The well-known names (rank at or above [`WELL_KNOWN_RANK`], four
/// characters or more) a name is made of, when it is made only of such
/// names and ecosystem or version words (`numpy-selenium`,
/// `scikit-learn-matplotlib`); `None` otherwise.
fn well_known_parts(name: &str, base: &str, index: &Index) -> Option<Vec<String>> {
    let tokens: Vec<&str> = if name.contains('-') {
        name.split('-').collect()
    } else {
        let rest = name.strip_prefix(base)?;
        vec![base, rest]
    };
    let well_known = |s: &str| {
        s.len() >= 4 && !is_added_word(s) && index.rank_of(s).is_some_and(|r| r <= WELL_KNOWN_RANK)
    };
    // best[i]: the parts of the segmentation of tokens[i..] with the most
    // well-known names, if one exists.
    let n = tokens.len();
    let mut best: Vec<Option<Vec<String>>> = vec![None; n + 1];
    best[n] = Some(Vec::new());
    for i in (0..n).rev() {
        for j in i + 1..=n {
            let Some(tail) = best[j].clone() else {
                continue;
            };
            let span = tokens[i..j].join("-");
            let parts = if well_known(&span) {
                let mut p = vec![span];
                p.extend(tail);
                p
            } else if j == i + 1 && (is_added_word(&span) || is_version_word(&span)) {
                tail
            } else {
                continue;
            };
            if best[i].as_ref().is_none_or(|b| parts.len() > b.len()) {
                best[i] = Some(parts);
            }
        }
    }
    best[0].take().filter(|p| p.len() >= 2)
}

/// Reads a name's shape on its own, beyond the score: the rules that make a
/// flagged name a `typosquat` or keep it `suspicious` when nothing but the
/// name is known. Each rule is a kind of edit attackers make and legitimate
/// authors rarely do, or the reverse; see the module tests for a true and a
/// false positive of each.
pub fn read_shape(a: &Assessment) -> ShapeReading {
    read_shape_in(a, Index::embedded)
}

fn read_shape_in<'i>(a: &Assessment, index: impl Fn() -> &'i Index) -> ShapeReading {
    let reading = read_shape_one_slip(a, &index);
    if reading.strong || a.is_popular() || a.known_malicious.is_some() {
        return reading;
    }
    match far_slip_reason(a, index()) {
        Some(reason) => ShapeReading {
            flagged: true,
            strong: true,
            reason: Some(reason),
        },
        None => reading,
    }
}

/// The slips two edits from a famous name that attackers make and the
/// score (which weighs one edit far above two) leaves below the threshold:
/// a letter of a top-100 name moved (`bo3to`), two letters slipped inside a
/// long famous or attacked name (`colorhrama`), two typing slips of one
/// (`matplottlab`), and a word claiming a better edition added to a
/// top-100 name (`httpx-advanced`).
fn far_slip_reason(a: &Assessment, index: &Index) -> Option<String> {
    let name = a.normalized_name.as_str();
    // A top-100 name plus a word that claims a better edition of it.
    if let (Some(target), Some(rank)) = (a.target.as_deref(), a.target_rank) {
        if rank <= FAMOUS_RANK
            && kind(&a.technique) == Kind::Combo
            && !a.technique.contains(": misspelled \"")
        {
            let words = added_words(name, target);
            let edition = |w: &&str| {
                EDITION_WORDS.contains(&w.trim_end_matches(|c: char| c.is_ascii_digit()))
            };
            if !words.is_empty() && words.iter().all(edition) {
                return Some(format!(
                    "{} added to {target} (rank {rank}): claims a better edition of a top-{FAMOUS_RANK} package, not a tool of its own",
                    words.iter().map(|w| format!("\"{w}\"")).collect::<Vec<_>>().join(", ")
                ));
            }
        }
    }
    let q = name.as_bytes();
    let famous = index
        .popular()
        .iter()
        .take_while(|p| p.rank <= FAMOUS_RANK)
        .map(|p| (p.name.as_str(), Some(p.rank)));
    let attacked_long = attacked_slip_targets().iter().map(|t| (*t, None));
    for (t, rank) in famous.chain(attacked_long) {
        let tb = t.as_bytes();
        if t == name || tb.first() != q.first() {
            continue;
        }
        let why = match rank {
            Some(r) => format!("a top-{FAMOUS_RANK} name ({t}, rank {r})"),
            None => format!("{t}, a name attackers repeatedly imitate"),
        };
        if rank.is_some() && q.len() >= MOVED_MIN_LEN && moved_letter(tb, q) {
            return Some(format!(
                "a letter of {why} moved: its letters typed out of order"
            ));
        }
        if tb.len() < LONG_FAMOUS || q.len().abs_diff(tb.len()) > 2 {
            continue;
        }
        if inserted_inside(tb, q, 2) {
            return Some(format!(
                "two letters slipped inside {why}, first and last letters kept"
            ));
        }
        if osa_within(tb, q, 2) == Some(2) && two_typing_slips(tb, q) {
            return Some(format!(
                "two typing slips (swapped, doubled, neighbouring keys) of {why}, a long name"
            ));
        }
    }
    None
}

/// The repeatedly attacked slip targets (per [`ATTACKED_TSV`]) of at least
/// [`LONG_FAMOUS`] characters.
fn attacked_slip_targets() -> &'static [&'static str] {
    static LIST: OnceLock<Vec<&'static str>> = OnceLock::new();
    LIST.get_or_init(|| {
        ATTACKED_TSV
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| {
                let mut f = l.split('\t');
                let (t, kind) = (f.next()?, f.next()?);
                (kind == "slip" && t.len() >= LONG_FAMOUS).then_some(t)
            })
            .collect()
    })
}

/// True when `q` is `t` with one character moved two or more places
/// (`boto3` -> `bo3to`; one place is a transposition, scored already).
fn moved_letter(t: &[u8], q: &[u8]) -> bool {
    if t.len() != q.len() || t == q {
        return false;
    }
    // Cut the common prefix and suffix: what is left must be a rotation by
    // one of the other (`to3` -> `3to`), at least three long.
    let pre = t.iter().zip(q).take_while(|(a, b)| a == b).count();
    let suf = t[pre..]
        .iter()
        .rev()
        .zip(q[pre..].iter().rev())
        .take_while(|(a, b)| a == b)
        .count();
    let (mt, mq) = (&t[pre..t.len() - suf], &q[pre..q.len() - suf]);
    let n = mt.len();
    n >= 3
        && ((mt[1..] == mq[..n - 1] && mt[0] == mq[n - 1])
            || (mt[..n - 1] == mq[1..] && mt[n - 1] == mq[0]))
}

/// True when `q` is `t` with exactly `k` letters (no delimiter) inserted,
/// none before its first letter or after its last.
fn inserted_inside(t: &[u8], q: &[u8], k: usize) -> bool {
    if q.len() != t.len() + k || q.first() != t.first() || q.last() != t.last() {
        return false;
    }
    if q.iter().filter(|&&c| c == b'-').count() != t.iter().filter(|&&c| c == b'-').count() {
        return false;
    }
    let mut rest = q.iter();
    t.iter().all(|c| rest.any(|x| x == c))
}

/// True when every edit turning `t` into `q` is a typing slip: swapped
/// neighbours, a doubled letter or one next to a neighbouring key, a letter
/// dropped, a neighbouring key struck; never a delimiter.
fn two_typing_slips(t: &[u8], q: &[u8]) -> bool {
    let edits = edit_script(t, q);
    edits.len() == 2
        && edits.iter().all(|e| match *e {
            Edit::Swapped { got } => !got.contains(&b'-'),
            Edit::Added { ch, at } => {
                ch != b'-'
                    && at > 0
                    && at + 1 < q.len()
                    && (is_repeat(q, ch, at)
                        || keyboard_adjacent(q[at - 1], ch)
                        || keyboard_adjacent(q[at + 1], ch))
            }
            Edit::Omitted { ch } => ch != b'-',
            Edit::Substituted { got, want } => {
                got != b'-' && want != b'-' && keyboard_adjacent(got, want)
            }
        })
}

fn read_shape_one_slip<'i>(a: &Assessment, index: impl FnOnce() -> &'i Index) -> ShapeReading {
    let by_score = |flagged: bool| ShapeReading {
        flagged,
        strong: a.score >= STRONG_THRESHOLD,
        reason: flagged.then(|| {
            if a.score >= STRONG_THRESHOLD {
                format!("shape score {:.2} at or above {STRONG_THRESHOLD}", a.score)
            } else {
                format!("shape score {:.2} below {STRONG_THRESHOLD}", a.score)
            }
        }),
    };
    let (Some(target), Some(rank)) = (a.target.as_deref(), a.target_rank) else {
        return by_score(a.score >= DEFAULT_THRESHOLD);
    };
    if a.is_popular() || a.known_malicious.is_some() {
        return by_score(a.score >= DEFAULT_THRESHOLD);
    }
    let name = a.normalized_name.as_str();
    let strong = |reason: String| ShapeReading {
        flagged: true,
        strong: true,
        reason: Some(reason),
    };
    let weak = |reason: String| ShapeReading {
        flagged: true,
        strong: false,
        reason: Some(reason),
    };
    let kind = kind(&a.technique);
    // A name made only of well-known names borrows their reputations; an
    // integration of a plugin host scores low but is built the same way.
    if kind == Kind::Combo && a.technique.contains("joined popular") && rank <= WELL_KNOWN_RANK {
        if let Some(parts) = well_known_parts(name, target, index()) {
            return strong(format!(
                "made only of well-known names ({}), each in the top {WELL_KNOWN_RANK}",
                parts.join(", ")
            ));
        }
    }
    // A name built on a target attackers build on about as often as
    // legitimate authors do (`beautifulsoup-requests`), whatever its score.
    if name.contains('-') {
        if let Some((t, n)) = name
            .split('-')
            .find_map(|t| attacked(t, Attack::Combo).map(|n| (t, n)))
        {
            return strong(format!(
                "built on \"{t}\", a word {n} malicious names of the tuning corpus are built on (about as many as legitimate ones)"
            ));
        }
    }
    if a.score < DEFAULT_THRESHOLD {
        return by_score(false);
    }
    match kind {
        Kind::Combo => {
            if a.technique.contains(": misspelled \"") {
                if rank > WELL_KNOWN_RANK {
                    return weak(format!(
                        "misspelled base and an added word: two changes from {target} (rank {rank}, outside the top {WELL_KNOWN_RANK})"
                    ));
                }
            } else {
                let words = added_words(name, target);
                if !words.is_empty() && words.iter().all(|w| IMPERSONATION_WORDS.contains(w)) {
                    return strong(format!(
                        "{} added to {target}: poses as installing or a newer release of the package itself",
                        words.iter().map(|w| format!("\"{w}\"")).collect::<Vec<_>>().join(", ")
                    ));
                }
                if !words.is_empty() && words.iter().all(|w| COMPANION_WORDS.contains(w)) {
                    return weak(format!(
                        "companion word {} added to {target}: how third-party tools built on a package are named",
                        words.iter().map(|w| format!("\"{w}\"")).collect::<Vec<_>>().join(", ")
                    ));
                }
            }
        }
        Kind::Version => {
            let suffix = a.technique.split('"').nth(1).unwrap_or("");
            if suffix.len() >= 3 && suffix.bytes().all(|b| b.is_ascii_digit()) {
                return weak(format!(
                    "suffix \"{suffix}\" reads as a number of its own (a status code, a model), not a release of {target}"
                ));
            }
        }
        Kind::PrefixDropped => {
            return weak(format!(
                "the bare project name without {target}'s Python prefix: often the project's own name elsewhere"
            ));
        }
        Kind::Slip | Kind::Lookalike | Kind::Repeats => {
            if rank <= FAMOUS_RANK {
                return strong(format!(
                    "one slip from a top-{FAMOUS_RANK} name ({target}, rank {rank})"
                ));
            }
            if let Some(reason) = slip_reason(name, target, kind) {
                return strong(reason);
            }
            if let Some(n) = attacked(target, Attack::Slip) {
                return strong(format!(
                    "one slip from {target}, a name attackers repeatedly imitate ({n} malicious names of the tuning corpus)"
                ));
            }
        }
        Kind::Other => {}
    }
    by_score(true)
}

/// The slips that are typos whatever the target's rank: transposed or
/// doubled letters, a letter slipped inside the name or dropped inside a
/// long one, a sound-alike letter, a slip inside one word of a multi-word
/// name.
fn slip_reason(name: &str, target: &str, kind: Kind) -> Option<String> {
    if kind == Kind::Repeats {
        return Some("repeated letters: a typing slip, rarely a name of its own".to_string());
    }
    if kind != Kind::Slip {
        return None;
    }
    let q = name.as_bytes();
    let edits = edit_script(target.as_bytes(), q);
    let swap_or_repeat = |e: &Edit| match *e {
        Edit::Swapped { .. } => true,
        Edit::Added { ch, at } => is_repeat(q, ch, at),
        _ => false,
    };
    if !edits.is_empty() && edits.iter().all(swap_or_repeat) {
        return Some(format!(
            "transposed or doubled letters of {target}: a typing slip, rarely a name of its own"
        ));
    }
    let [edit] = edits.as_slice() else {
        return None;
    };
    match *edit {
        Edit::Added { ch, at } if ch.is_ascii_alphanumeric() && at > 0 && at + 1 < q.len() => {
            return Some(format!(
                "letter \"{}\" slipped inside {target}, not an affix at either end",
                ch as char
            ));
        }
        Edit::Omitted { ch } if ch.is_ascii_alphanumeric() && target.len() >= LONG_TARGET => {
            let first_diff = q.iter().zip(target.as_bytes()).position(|(x, y)| x != y);
            if first_diff.is_some_and(|i| i > 0) {
                return Some(format!(
                    "letter \"{}\" dropped inside the long name {target}",
                    ch as char
                ));
            }
        }
        Edit::Substituted { got, want }
            if SOUND_ALIKE.contains(&(got, want)) || SOUND_ALIKE.contains(&(want, got)) =>
        {
            return Some(format!(
                "sound-alike \"{}\" for \"{}\" in {target}: a name misspelt by ear",
                got as char, want as char
            ));
        }
        _ => {}
    }
    // A slip inside one word of a multi-word name: `py-cozd`, `usvr-agent`.
    let (nt, tt): (Vec<&str>, Vec<&str>) = (name.split('-').collect(), target.split('-').collect());
    if tt.len() >= 2 && nt.len() == tt.len() {
        let differing: Vec<usize> = (0..tt.len()).filter(|&i| nt[i] != tt[i]).collect();
        if let [i] = differing[..] {
            let (got, want) = (nt[i], tt[i]);
            let plural = got.strip_suffix('s') == Some(want) || want.strip_suffix('s') == Some(got);
            if want.len() >= 4 && !plural {
                return Some(format!(
                    "slip inside the word \"{want}\" of the multi-word name {target}"
                ));
            }
        }
    }
    // A vowel for a vowel inside a long name: `pysereal`.
    if let Edit::Substituted { got, want } = *edit {
        if VOWELS.contains(&got) && VOWELS.contains(&want) && target.len() >= LONG_TARGET {
            // Inside: not the first letter, not the last (a changed ending
            // is often a name of its own).
            let at = q.iter().zip(target.as_bytes()).position(|(x, y)| x != y);
            if at.is_some_and(|i| i > 0 && i + 1 < q.len()) {
                return Some(format!(
                    "vowel \"{}\" for \"{}\" inside the long name {target}: a misspelling, not a name of its own",
                    got as char, want as char
                ));
            }
        }
    }
    None
}

/// Judges a name: its shape ([`Assessment`]) and, when installed, what the
/// host says about it.
pub fn judge(a: &Assessment, host: Option<&HostEvidence>) -> Judgement {
    let mut evidence = Vec::new();
    if let Some(ids) = &a.known_malicious {
        evidence.push(format!("known malicious ({ids})"));
    }
    let shape = read_shape(a);
    let flagged = shape.flagged;
    if flagged && a.known_malicious.is_none() {
        evidence.push(format!("shape {:.2}: {}", a.score, a.technique));
        evidence.extend(shape.reason.clone());
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
        if shape.strong || orphan {
            Verdict::Suspicious
        } else {
            Verdict::Ok
        }
    } else if shape.strong || orphan {
        Verdict::Typosquat
    } else {
        Verdict::Suspicious
    };
    Judgement { verdict, evidence }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let a = index().assess("pyprod");
        assert!(a.score >= DEFAULT_THRESHOLD && a.score < STRONG_THRESHOLD);
        assert_eq!(judge(&a, None).verdict, Verdict::Suspicious);
        let target_summary = top_summary("pyproj").unwrap().to_string();
        let copied = host(&target_summary, &["https://example.invalid/pyprod"]);
        let j = judge(&a, Some(&copied));
        assert_eq!(j.verdict, Verdict::Typosquat, "{:?}", j.evidence);
        assert!(j
            .evidence
            .iter()
            .any(|e| e.contains("summary copies pyproj")));
        let url = host("A map thing", &["https://github.com/pyproj4/pyproj"]);
        let j = judge(&a, Some(&url));
        assert_eq!(j.verdict, Verdict::Typosquat);
        assert!(j.evidence.iter().any(|e| e.contains("points at pyproj")));
    }

    #[test]
    fn own_identity_keeps_a_near_name_ok_or_suspicious() {
        let weak = index().assess("pyprod");
        let own = host(
            "Production settings for small services",
            &["https://github.com/someone/pyprod"],
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
        let weak = index().assess("pyprod");
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

    /// The shipped top list and families without the known-malicious list,
    /// so that the shape rules speak (many examples below are real
    /// malicious names, which the full index scores 1.0 by lookup).
    fn shape_index() -> &'static Index {
        static INDEX: OnceLock<Index> = OnceLock::new();
        INDEX.get_or_init(|| {
            Index::from_tsv(
                crate::typosquat::data::TOP_TSV,
                "",
                crate::typosquat::data::CURATED_TSV,
            )
        })
    }

    /// (strong, reason) of a name on the malicious-free index.
    fn reading(name: &str) -> (bool, String) {
        let a = shape_index().assess(name);
        let r = read_shape_in(&a, shape_index);
        assert!(r.flagged, "{name}: {a:?}");
        (r.strong, r.reason.unwrap_or_default())
    }

    /// Asserts the true positive is strong for `why`, the false positive is
    /// flagged but weak.
    fn rule(tp: &str, fp: &str, why: &str) {
        let (strong, reason) = reading(tp);
        assert!(strong && reason.contains(why), "{tp}: {strong} {reason}");
        let (strong, reason) = reading(fp);
        assert!(!strong, "{fp}: {reason}");
    }

    #[test]
    fn slip_of_a_top_100_name_is_a_typosquat() {
        // An arbitrary substitution: strong on requests (rank 6), weak on
        // pyproj (rank 888).
        rule("requosts", "pyprod", "top-100 name (requests, rank 6)");
    }

    #[test]
    fn transposed_or_doubled_letters_are_a_typosquat_at_any_rank() {
        // kedro is rank 4,996: its transposition and its doubled letter are
        // slips; a keyboard-adjacent substitution may be a word of its own.
        rule("kerdo", "kedrp", "transposed or doubled letters");
        rule("kedroo", "kedrp", "transposed or doubled letters");
    }

    #[test]
    fn a_letter_slipped_inside_is_a_typosquat_an_affix_is_not() {
        // jellyfish (rank 1,240): customtkinter would be caught as a
        // repeatedly attacked target whatever the slip.
        rule("jellyqfish", "jellyfishz", "slipped inside jellyfish");
    }

    #[test]
    fn a_letter_dropped_inside_a_long_name_is_a_typosquat() {
        // tkcalendar (rank 10,084): the last letter dropped is a shorter
        // name of its own more often than a slip.
        rule("tkcalenar", "tkcalenda", "dropped inside the long name");
    }

    #[test]
    fn a_sound_alike_letter_is_a_typosquat_another_letter_is_not() {
        rule("jellyfich", "jellyfibh", "sound-alike \"c\" for \"s\"");
    }

    #[test]
    fn a_field_word_keeps_a_combosquat_suspicious() {
        let (strong, reason) = reading("redis-llm");
        assert!(
            !strong && reason.contains("companion word \"llm\""),
            "{reason}"
        );
    }

    #[test]
    fn a_slip_inside_a_word_of_a_multi_word_name_is_a_typosquat() {
        // A two-letter word (`sb` of `sb-cli`) is not a word one slips in.
        rule("user-agant", "sb-cla", "inside the word \"agent\"");
    }

    #[test]
    fn a_name_made_of_two_well_known_names_is_a_typosquat() {
        rule(
            "pandas-selenium",
            "selenium-ezdxf",
            "well-known names (pandas, selenium)",
        );
        // Even when a plugin host keeps its score below the threshold.
        let a = shape_index().assess("pytest-pandas");
        let r = read_shape_in(&a, shape_index);
        assert!(r.strong && r.flagged, "{a:?} {r:?}");
        assert_eq!(judge(&a, None).verdict, Verdict::Typosquat);
    }

    #[test]
    fn a_companion_word_keeps_a_combosquat_suspicious() {
        rule("boto3-async", "boto3-cli", "score 0.70");
        let (_, reason) = reading("boto3-helpers");
        assert!(reason.contains("companion word \"helpers\""), "{reason}");
        assert_eq!(
            judge(&shape_index().assess("boto3-cli"), None).verdict,
            Verdict::Suspicious
        );
    }

    #[test]
    fn a_misspelled_mid_list_base_plus_a_word_stays_suspicious() {
        // selenium is rank 489, slicer 1,199.
        rule("selenum-py", "sliccer-py", "score 0.85");
        let (_, reason) = reading("sliccer-py");
        assert!(reason.contains("outside the top 1000"), "{reason}");
    }

    #[test]
    fn a_long_number_suffix_is_not_a_release() {
        rule("flask2", "flask-404", "score 0.80");
        let (_, reason) = reading("flask-404");
        assert!(reason.contains("\"404\" reads as a number"), "{reason}");
    }

    #[test]
    fn a_dropped_python_prefix_stays_suspicious() {
        // A changed prefix keeps the project's name and its score decides;
        // a dropped one is often the project's own name elsewhere.
        rule("py-dateutil", "magic", "score 0.80");
        let (_, reason) = reading("magic");
        assert!(
            reason.contains("without python-magic's Python prefix"),
            "{reason}"
        );
    }
    #[test]
    fn attacked_targets_are_shipped_from_the_tuning_split() {
        assert!(ATTACKED_TSV.contains("pypi_malregistry") && ATTACKED_TSV.contains("a-m"));
        assert_eq!(attacked("customtkinter", Attack::Slip), Some(61));
        assert_eq!(attacked("beautifulsoup", Attack::Combo), Some(3));
        assert_eq!(attacked("customtkinter", Attack::Combo), None);
        // The header names the corpus and its split; no target is itself
        // an evaluation name.
        let eval = [
            include_str!("../../tests/data/typosquat/positives.tsv"),
            include_str!("../../tests/data/typosquat/unranked_sample.tsv"),
        ];
        for line in ATTACKED_TSV.lines().filter(|l| !l.starts_with('#')) {
            let target = line.split('\t').next().unwrap();
            assert!(
                eval.iter()
                    .all(|e| !e.lines().any(|l| l.split('\t').next() == Some(target))),
                "{target}"
            );
        }
    }

    #[test]
    fn a_slip_of_a_repeatedly_attacked_target_is_a_typosquat() {
        // customtkinter (rank 4,540): 61 malicious slips in the tuning
        // split; tkcalendar (rank 10,084) none: the same keyboard slip stays
        // weak there.
        rule(
            "customtkimter",
            "tkcalemdar",
            "a name attackers repeatedly imitate",
        );
    }

    #[test]
    fn a_name_built_on_a_repeatedly_attacked_word_is_a_typosquat() {
        // beautifulsoup: as many malicious names built on it in the tuning
        // split as legitimate PyPI names; html5lib: none.
        let a = shape_index().assess("beautifulsoup-parser");
        assert!(a.score < DEFAULT_THRESHOLD, "{a:?}");
        let r = read_shape_in(&a, shape_index);
        assert!(r.strong && r.flagged, "{r:?}");
        assert!(r.reason.unwrap().contains("built on \"beautifulsoup\""));
        assert_eq!(judge(&a, None).verdict, Verdict::Typosquat);
        let a = shape_index().assess("html5lib-parser");
        let r = read_shape_in(&a, shape_index);
        assert!(!r.strong && !r.flagged, "{r:?}");
        assert_eq!(judge(&a, None).verdict, Verdict::Ok);
    }

    #[test]
    fn an_install_or_release_word_is_a_typosquat_another_word_is_not() {
        rule("dataset-latest", "dataset-python", "poses as installing");
        rule("inquirer-update", "dataset-python", "poses as installing");
    }

    #[test]
    fn a_vowel_for_a_vowel_inside_a_long_name_is_a_typosquat() {
        // pyflakes has 8 letters; pyproj 6: a changed vowel there may be
        // a word of its own.
        rule("pyflakas", "pyprej", "vowel \"a\" for \"e\" inside");
    }

    /// Asserts the true positive is strong for `why` on its shape alone
    /// (flagged or not by its score), the false positive is not strong.
    fn far_rule(tp: &str, fp: &str, why: &str) {
        let a = shape_index().assess(tp);
        let r = read_shape_in(&a, shape_index);
        let reason = r.reason.clone().unwrap_or_default();
        assert!(
            r.strong && r.flagged && reason.contains(why),
            "{tp}: {a:?} {r:?}"
        );
        let j = judge(&a, None);
        assert_eq!(j.verdict, Verdict::Typosquat, "{tp}");
        assert!(j.evidence.iter().any(|e| e.contains(why)), "{j:?}");
        let a = shape_index().assess(fp);
        let r = read_shape_in(&a, shape_index);
        assert!(!r.strong, "{fp}: {a:?} {r:?}");
    }

    #[test]
    fn a_letter_of_a_top_100_name_moved_is_a_typosquat() {
        // numpy (rank 20): "u" moved two places; kedro (rank 4,996) is not
        // famous enough for a moved letter to say anything.
        assert!(moved_letter(b"numpy", b"nmpuy") && moved_letter(b"boto3", b"bo3to"));
        assert!(!moved_letter(b"numpy", b"nupmy"), "a transposition");
        far_rule(
            "nmpuy",
            "kdreo",
            "a letter of a top-100 name (numpy, rank 20) moved",
        );
    }

    #[test]
    fn two_letters_slipped_inside_a_long_famous_name_are_a_typosquat() {
        // cryptography has 12 letters; numpy 5: two letters inside a short
        // name make another word.
        far_rule(
            "cryptozqgraphy",
            "nuzqmpy",
            "two letters slipped inside a top-100 name (cryptography",
        );
        assert!(
            !inserted_inside(b"cryptography", b"xcryptographyz", 2),
            "affixes"
        );
    }

    #[test]
    fn two_typing_slips_of_a_long_famous_name_are_a_typosquat() {
        // httpcore (rank 35, 8 letters) with "c" and "o" dropped; on numpy
        // (5 letters) a swap and a doubled letter may be a name of
        // its own.
        far_rule(
            "httpre",
            "nupmmy",
            "two typing slips (swapped, doubled, neighbouring keys) of a top-100 name (httpcore, rank 35)",
        );
        // Two arbitrary substitutions are not typing slips.
        assert!(!two_typing_slips(b"cryptography", b"crzptographz"));
    }

    #[test]
    fn two_slips_of_a_long_attacked_name_are_a_typosquat() {
        // beautifulsoup is not top-100 but attackers imitate it; tkcalendar
        // (rank 10,084) they do not.
        far_rule(
            "beuatifulsop",
            "tkcalnedarr",
            "of beautifulsoup, a name attackers repeatedly imitate, a long name",
        );
    }

    #[test]
    fn an_edition_word_added_to_a_top_100_name_is_a_typosquat() {
        // requests (rank 6) with "enhanced" sells the name; kedro (rank
        // 4,996) with "advanced" may be a real extension.
        far_rule(
            "requests-enhanced",
            "kedro-advanced",
            "\"enhanced\" added to requests (rank 6): claims a better edition",
        );
        far_rule(
            "requests-advanced2",
            "kedro-advanced",
            "\"advanced2\" added to requests",
        );
    }
}
