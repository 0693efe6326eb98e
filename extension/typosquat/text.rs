//! Small text tools for typosquat detection: a fast string hash, the
//! optimal-string-alignment (restricted Damerau-Levenshtein) distance with its
//! edit script, keyboard adjacency, look-alike characters, and the words
//! attackers add to a popular name.

use std::hash::{BuildHasherDefault, Hasher};

pub(crate) use super::keys::{
    collapse_runs, has_unicode_confusable, osa_bounded, skeleton, Deletions, LOOKALIKE_CHARS,
    LOOKALIKE_SEQS,
};

/// A small multiply-rotate hasher (the shape of rustc's FxHash) for the
/// index's maps: names are short and not attacker-controlled in a way that
/// matters for a read-only index, so SipHash's DoS resistance buys nothing.
#[derive(Default, Clone, Copy)]
pub(crate) struct FastHasher(u64);

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl Hasher for FastHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(5) ^ u64::from(b)).wrapping_mul(SEED);
        }
    }
    fn write_u8(&mut self, b: u8) {
        self.0 = (self.0.rotate_left(5) ^ u64::from(b)).wrapping_mul(SEED);
    }
    fn write_usize(&mut self, n: usize) {
        self.0 = (self.0.rotate_left(5) ^ n as u64).wrapping_mul(SEED);
    }
}

/// `BuildHasher` for [`FastHasher`].
pub(crate) type FastBuild = BuildHasherDefault<FastHasher>;

/// The optimal-string-alignment distance, unbounded. Small distances (the
/// usual case: a typo and its target) take the banded DP first.
pub(crate) fn osa(a: &[u8], b: &[u8]) -> usize {
    if let Some(d) = osa_within(a, b, 4) {
        return d;
    }
    // A name and a longer one that adds words to it (a combosquat's
    // target) are usually exactly their length difference apart.
    let gap = a.len().abs_diff(b.len());
    if gap > 4 {
        if let Some(d) = osa_within(a, b, gap) {
            return d;
        }
    }
    osa_bounded(a, b, a.len().max(b.len())).unwrap_or(a.len().max(b.len()))
}

/// [`osa_bounded`], computed on the diagonal band `|i - j| <= max` only:
/// the same answer (a cell whose distance is at most `max` lies on a path
/// of cells no greater, all inside the band; every cell outside the band
/// is read as "more than `max`"), in `O(len * max)` instead of
/// `O(len^2)`. For the index's candidate checks (`max` 1 or 2).
pub(crate) fn osa_within(a: &[u8], b: &[u8], max: usize) -> Option<usize> {
    const CELLS: usize = 64;
    const FAR: u32 = u32::MAX / 4;
    if a.len().abs_diff(b.len()) > max {
        return None;
    }
    if a == b {
        return Some(0);
    }
    let (n, m) = (a.len(), b.len());
    if m >= CELLS || max > 8 {
        return osa_bounded(a, b, max);
    }
    let mut rows = [[FAR; CELLS]; 3];
    // Rows rotate: `p2` is row i - 2, `p1` row i - 1, `c` row i. Each row
    // writes its band and one cell either side (FAR, or the exact first
    // column), which covers every cell the next two rows read.
    let (mut p2, mut p1, mut c) = (0usize, 1usize, 2usize);
    for (j, cell) in rows[p1].iter_mut().enumerate().take(m.min(max) + 1) {
        *cell = j as u32;
    }
    let max32 = max as u32;
    for i in 1..=n {
        let lo = i.saturating_sub(max).max(1);
        let hi = (i + max).min(m);
        rows[c][lo - 1] = if lo == 1 { i as u32 } else { FAR };
        let mut row_min = FAR;
        for j in lo..=hi {
            let cost = u32::from(a[i - 1] != b[j - 1]);
            let mut v = (rows[p1][j] + 1)
                .min(rows[c][j - 1] + 1)
                .min(rows[p1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(rows[p2][j - 2] + 1);
            }
            rows[c][j] = v;
            row_min = row_min.min(v);
        }
        if hi < m {
            rows[c][hi + 1] = FAR;
        }
        if row_min > max32 {
            return None;
        }
        (p2, p1, c) = (p1, c, p2);
    }
    let d = rows[p1][m] as usize;
    (d <= max).then_some(d)
}

/// One edit that turns the popular name into the suspect name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Edit {
    /// The suspect has a character the target lacks (`at` is the position in
    /// the suspect).
    Added { ch: u8, at: usize },
    /// The suspect lacks a character of the target.
    Omitted { ch: u8 },
    /// The suspect has `got` where the target has `want`.
    Substituted { got: u8, want: u8 },
    /// The suspect has `got` (two characters) where the target has them the
    /// other way round.
    Swapped { got: [u8; 2] },
}

/// True when inserting `ch` at `at` of `suspect` looks like a slip: the
/// character repeats a neighbour or sits next to one on the keyboard, or
/// it is a delimiter.
pub(crate) fn typo_like_insert(suspect: &[u8], at: usize, ch: u8) -> bool {
    let before = at.checked_sub(1).map(|k| suspect[k]);
    let after = suspect.get(at + 1).copied();
    ch == b'-'
        // A plural "s" at the end: `huggingface-hubs`.
        || (ch == b's' && after.is_none() && before.is_some())
        || before == Some(ch)
        || after == Some(ch)
        || before.is_some_and(|b| keyboard_adjacent(b, ch))
        || after.is_some_and(|a| keyboard_adjacent(a, ch))
}

/// True when substituting `got` for `want` looks like a slip
/// (keyboard-adjacent keys or look-alike characters).
pub(crate) fn typo_like_substitution(got: u8, want: u8) -> bool {
    keyboard_adjacent(got, want) || lookalike(got, want)
}

/// The edits of an optimal alignment turning `target` into `suspect`, in
/// order. Among alignments with the fewest edits it prefers the one made of
/// slips (omitted, repeated, swapped, keyboard-adjacent characters), so
/// that `colorram` reads as a repeated "r" and an omitted "a" rather than
/// two arbitrary changes. Only called for the one target finally reported.
///
/// Names at most two edits apart (typos, the usual case) fill only the
/// diagonal band `|i - j| <= d` of the matrix: an alignment of `d` edits
/// costs at most `101 d`, less than any cell `d + 1` off the diagonal
/// (`100 (d + 1)` or more), so the cells the traceback visits or compares
/// with hold the values of the full matrix and the script is the same.
pub(crate) fn edit_script(target: &[u8], suspect: &[u8]) -> Vec<Edit> {
    let k = osa_within(target, suspect, 2).unwrap_or(target.len().max(suspect.len()));
    edit_script_in_band(target, suspect, k)
}

/// [`edit_script`] of two names known to be `d` edits apart (from the
/// candidate check): the distance is not computed again. Any other `d`
/// than 1 or 2, or one the lengths contradict, falls back to
/// [`edit_script`].
pub(crate) fn edit_script_known(target: &[u8], suspect: &[u8], d: usize) -> Vec<Edit> {
    if (1..=2).contains(&d) && target.len().abs_diff(suspect.len()) <= d {
        edit_script_in_band(target, suspect, d)
    } else {
        edit_script(target, suspect)
    }
}

/// [`edit_script`] on the band `|i - j| <= k` (the whole matrix when `k`
/// is the longer length); `k` at least the distance of the two.
fn edit_script_in_band(target: &[u8], suspect: &[u8], k: usize) -> Vec<Edit> {
    SCRIPT_SCRATCH.with(|cell| match cell.try_borrow_mut() {
        Ok(mut scratch) => script_in(target, suspect, k, &mut scratch),
        // Only a re-entrant call gets here (none does): fresh space.
        Err(_) => script_in(target, suspect, k, &mut (Vec::new(), Vec::new())),
    })
}

thread_local! {
    /// Working space of [`edit_script_in_band`] (insertion costs, the
    /// matrix), kept per thread so that a script allocates only itself.
    static SCRIPT_SCRATCH: std::cell::RefCell<(Vec<usize>, Vec<usize>)> =
        const { std::cell::RefCell::new((Vec::new(), Vec::new())) };
}

/// [`edit_script_in_band`] in the working space `(ins_cost, d)`.
fn script_in(
    target: &[u8],
    suspect: &[u8],
    k: usize,
    (ins_cost, d): &mut (Vec<usize>, Vec<usize>),
) -> Vec<Edit> {
    // Costs in hundredths: a slip costs 100, any other edit 101, so the
    // number of edits is still minimised first.
    const SLIP: usize = 100;
    const OTHER: usize = 101;
    let (n, m) = (target.len(), suspect.len());
    let w = m + 1;
    ins_cost.clear();
    ins_cost.extend((0..m).map(|k| {
        if typo_like_insert(suspect, k, suspect[k]) {
            SLIP
        } else {
            OTHER
        }
    }));
    let ins = |j: usize| ins_cost[j - 1];
    let sub = |i: usize, j: usize| {
        if target[i - 1] == suspect[j - 1] {
            0
        } else if typo_like_substitution(suspect[j - 1], target[i - 1]) {
            SLIP
        } else {
            OTHER
        }
    };
    // Out of the band: farther than any alignment in it.
    const FAR: usize = usize::MAX / 4;
    d.clear();
    d.resize((n + 1) * w, FAR);
    for i in 0..=n.min(k) {
        d[i * w] = i * SLIP;
    }
    for j in 1..=m.min(k) {
        d[j] = d[j - 1] + ins(j);
    }
    for i in 1..=n {
        for j in i.saturating_sub(k).max(1)..=(i + k).min(m) {
            let mut v = (d[(i - 1) * w + j] + SLIP)
                .min(d[i * w + j - 1] + ins(j))
                .min(d[(i - 1) * w + j - 1] + sub(i, j));
            if i > 1 && j > 1 && target[i - 1] == suspect[j - 2] && target[i - 2] == suspect[j - 1]
            {
                v = v.min(d[(i - 2) * w + j - 2] + SLIP);
            }
            d[i * w + j] = v;
        }
    }
    let mut edits = Vec::new();
    let (mut i, mut j) = (n, m);
    while i > 0 || j > 0 {
        let here = d[i * w + j];
        if i > 0 && j > 0 && here == d[(i - 1) * w + j - 1] + sub(i, j) {
            if target[i - 1] != suspect[j - 1] {
                edits.push(Edit::Substituted {
                    got: suspect[j - 1],
                    want: target[i - 1],
                });
            }
            i -= 1;
            j -= 1;
        } else if i > 1
            && j > 1
            && target[i - 1] == suspect[j - 2]
            && target[i - 2] == suspect[j - 1]
            && here == d[(i - 2) * w + j - 2] + SLIP
        {
            edits.push(Edit::Swapped {
                got: [suspect[j - 2], suspect[j - 1]],
            });
            i -= 2;
            j -= 2;
        } else if j > 0 && here == d[i * w + j - 1] + ins(j) {
            edits.push(Edit::Added {
                ch: suspect[j - 1],
                at: j - 1,
            });
            j -= 1;
        } else {
            // i > 0 here: the only remaining move.
            edits.push(Edit::Omitted {
                ch: target[i.saturating_sub(1)],
            });
            i = i.saturating_sub(1);
        }
    }
    edits.reverse();
    edits
}

/// What scoring asks of an edit script: `(digits_only, all_typo_like)`.
/// Digits only: every edit substitutes a digit for a digit (`cu11` for
/// `cu12`: versions, not typos). All typo-like: the edits exchange one pair
/// of characters, or each is a slip a hurried typist or a look-alike makes
/// (omitted, repeated or swapped characters, keyboard-adjacent or
/// look-alike substitutions, delimiter changes).
pub(crate) fn edit_facts(edits: &[Edit], suspect: &[u8]) -> (bool, bool) {
    let digits_only = edits.iter().all(|e| {
        matches!(e, Edit::Substituted { got, want } if got.is_ascii_digit() && want.is_ascii_digit())
    });
    let all_typo_like = is_exchange(edits)
        || edits.iter().all(|e| match *e {
            Edit::Omitted { .. } | Edit::Swapped { .. } => true,
            Edit::Added { ch, at } => typo_like_insert(suspect, at, ch),
            Edit::Substituted { got, want } => typo_like_substitution(got, want),
        });
    (digits_only, all_typo_like)
}

/// [`edit_facts`] of the edit script from `target` to `suspect`, which are
/// `d` edits apart: without building the script when `d` is 1.
pub(crate) fn script_facts(target: &[u8], suspect: &[u8], d: usize) -> (bool, bool) {
    if d == 1 {
        if let Some(f) = one_edit_facts(target, suspect) {
            return f;
        }
    }
    edit_facts(&edit_script_known(target, suspect, d), suspect)
}

/// What scoring asks of the edit script from `target` to `suspect` when
/// they are one edit apart, without building it: `(digits_only,
/// all_typo_like)`, as [`edit_script`]'s single edit would answer (it picks
/// a slip whenever one of the one-edit alignments is a slip). `None` when
/// the two are not one edit apart.
pub(crate) fn one_edit_facts(target: &[u8], suspect: &[u8]) -> Option<(bool, bool)> {
    let (n, m) = (target.len(), suspect.len());
    let short = n.min(m);
    let prefix = target
        .iter()
        .zip(suspect)
        .take_while(|(x, y)| x == y)
        .count();
    let suffix = target
        .iter()
        .rev()
        .zip(suspect.iter().rev())
        .take(short)
        .take_while(|(x, y)| x == y)
        .count();
    if m == n {
        if prefix == n {
            return None;
        }
        let p = prefix;
        let last = n - 1 - suffix;
        if p == last {
            let (got, want) = (suspect[p], target[p]);
            return Some((
                got.is_ascii_digit() && want.is_ascii_digit(),
                typo_like_substitution(got, want),
            ));
        }
        if last == p + 1 && target[p] == suspect[last] && target[last] == suspect[p] {
            // Swapped: a slip, not a substitution.
            return Some((false, true));
        }
        return None;
    }
    if m == n + 1 {
        // Added: the character at any `k` with `suspect` minus `k` equal to
        // `target`; those `k` run from `m - 1 - suffix` to `prefix`.
        let first = (m - 1).saturating_sub(suffix);
        if first > prefix {
            return None;
        }
        let slip = (first..=prefix).any(|k| typo_like_insert(suspect, k, suspect[k]));
        return Some((false, slip));
    }
    if n == m + 1 {
        if prefix + suffix < m {
            return None;
        }
        // Omitted: always a slip.
        return Some((false, true));
    }
    None
}

/// True when `edits` are two substitutions that exchange one pair of
/// characters (`colaroma` for `colorama`): a swap across a gap.
pub(crate) fn is_exchange(edits: &[Edit]) -> bool {
    matches!(edits, [Edit::Substituted { got: a, want: b }, Edit::Substituted { got: c, want: d }] if a == d && b == c)
}

/// Says in words what `edits` changed, e.g. `swapped "eu" -> "ue"` (the
/// suspect's text first, then what the target has there).
pub(crate) fn describe_edits(edits: &[Edit], suspect: &[u8]) -> String {
    let parts: Vec<String> = edits
        .iter()
        .map(|e| match *e {
            Edit::Added { ch: b'-', .. } => "added delimiter \"-\"".to_string(),
            Edit::Added { ch, at } => {
                let before = at.checked_sub(1).map(|k| suspect[k]);
                let after = suspect.get(at + 1).copied();
                if before == Some(ch) || after == Some(ch) {
                    format!("repeated \"{}\"", ch as char)
                } else if before.is_some_and(|b| keyboard_adjacent(b, ch))
                    || after.is_some_and(|a| keyboard_adjacent(a, ch))
                {
                    format!("added \"{}\" (keyboard-adjacent)", ch as char)
                } else {
                    format!("added \"{}\"", ch as char)
                }
            }
            Edit::Omitted { ch: b'-' } => "removed delimiter \"-\"".to_string(),
            Edit::Omitted { ch } => format!("omitted \"{}\"", ch as char),
            Edit::Substituted { got, want } => {
                let why = if lookalike(got, want) {
                    " (look-alike)"
                } else if keyboard_adjacent(got, want) {
                    " (keyboard-adjacent)"
                } else if (got ^ want).count_ones() == 1 {
                    " (bit flip)"
                } else {
                    ""
                };
                format!(
                    "substituted \"{}\" -> \"{}\"{why}",
                    got as char, want as char
                )
            }
            Edit::Swapped { got } => format!(
                "swapped \"{}{}\" -> \"{}{}\"",
                got[0] as char, got[1] as char, got[1] as char, got[0] as char
            ),
        })
        .collect();
    parts.join(", ")
}

/// Keyboard rows of a US QWERTY layout and their horizontal offsets (in key
/// widths), for adjacency.
const ROWS: [(&[u8], f32); 4] = [
    (b"1234567890-", 0.0),
    (b"qwertyuiop", 0.5),
    (b"asdfghjkl", 0.75),
    (b"zxcvbnm", 1.25),
];

fn key_position(c: u8) -> Option<(usize, f32)> {
    let c = c.to_ascii_lowercase();
    ROWS.iter().enumerate().find_map(|(r, (keys, off))| {
        keys.iter()
            .position(|&k| k == c)
            .map(|col| (r, off + col as f32))
    })
}

fn keyboard_adjacent_slow(a: u8, b: u8) -> bool {
    if a == b {
        return false;
    }
    match (key_position(a), key_position(b)) {
        (Some((ra, xa)), Some((rb, xb))) => {
            let dx = (xa - xb).abs();
            if ra == rb {
                dx <= 1.0
            } else {
                ra.abs_diff(rb) == 1 && dx < 1.0
            }
        }
        _ => false,
    }
}

/// Adjacency of every pair of ASCII bytes, computed once.
fn adjacency() -> &'static [[bool; 128]; 128] {
    static TABLE: std::sync::OnceLock<Box<[[bool; 128]; 128]>> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| {
        let mut t = Box::new([[false; 128]; 128]);
        for a in 0..128u8 {
            for b in 0..128u8 {
                t[a as usize][b as usize] = keyboard_adjacent_slow(a, b);
            }
        }
        t
    })
}

/// True when `a` and `b` are neighbouring keys on a QWERTY keyboard (a
/// fat-finger typo).
pub(crate) fn keyboard_adjacent(a: u8, b: u8) -> bool {
    a < 128 && b < 128 && adjacency()[a as usize][b as usize]
}

/// The keys next to `c`, in keyboard order.
pub(crate) fn keyboard_neighbours(c: u8) -> Vec<u8> {
    ROWS.iter()
        .flat_map(|(keys, _)| keys.iter().copied())
        .filter(|&k| keyboard_adjacent(c, k))
        .collect()
}

fn lookalike(a: u8, b: u8) -> bool {
    LOOKALIKE_CHARS
        .iter()
        .any(|&(f, r)| (a, b) == (f, r) || (a, b) == (r, f))
}

/// Words attackers add to a popular name: ecosystem words (py-, python-,
/// -lib, -utils, -sdk, -cli, -gpu, -cuda, ...) and release words. The
/// published detectors miss these combosquats.
pub(crate) const ADDED_WORDS: &[&str] = &[
    "py",
    "python",
    "python3",
    "py3",
    "pip",
    "pypi",
    "lib",
    "libs",
    "util",
    "utils",
    "utility",
    "utilities",
    "tool",
    "tools",
    "toolkit",
    "toolbelt",
    "toolbox",
    "sdk",
    "cli",
    "api",
    "gpu",
    "cuda",
    "cpu",
    "tpu",
    "rocm",
    "nightly",
    "dev",
    "core",
    "client",
    "helper",
    "helpers",
    "plugin",
    "plugins",
    "ext",
    "extension",
    "extensions",
    "extra",
    "extras",
    "lite",
    "light",
    "pro",
    "plus",
    "official",
    "latest",
    "new",
    "update",
    "updated",
    "upgrade",
    "fix",
    "fixed",
    "patch",
    "patched",
    "secure",
    "next",
    "beta",
    "alpha",
    "stable",
    "bin",
    "binary",
    "wrapper",
    "async",
    "http",
    "https",
    "auth",
    "setup",
    "install",
    "installer",
    "module",
    "package",
    "pkg",
    "framework",
    "ai",
    "ml",
    "llm",
    "cu11",
    "cu12",
    "cu13",
    "cu118",
    "cu121",
    "cu124",
    "cu126",
    "x64",
    "win",
    "linux",
    "windows",
    "mac",
    "macos",
    "fast",
    "free",
    "test",
    "tests",
    "local",
    "cloud",
    "server",
    "sessions",
    "session",
    "requests",
    "request",
    "v2",
    "v3",
];

/// Prefix words that mark a name as "the Python version of" something.
pub(crate) const PREFIX_WORDS: &[&str] = &["py", "python", "python3", "py3", "pip", "pypi", "lib"];

/// True when `word` is one of [`ADDED_WORDS`] (a hash probe: the
/// combosquat detectors ask for every cut of every name).
pub(crate) fn is_added_word(word: &str) -> bool {
    type Words = (usize, std::collections::HashSet<&'static str, FastBuild>);
    static SET: std::sync::OnceLock<Words> = std::sync::OnceLock::new();
    let (longest, set) = SET.get_or_init(|| {
        let longest = ADDED_WORDS.iter().map(|w| w.len()).max().unwrap_or(0);
        (longest, ADDED_WORDS.iter().copied().collect())
    });
    word.len() <= *longest && set.contains(word)
}

/// The added word `word` imitates when it is a misspelling (one edit, words
/// of at least six letters) of one of [`ADDED_WORDS`], e.g. `utilites`.
pub(crate) fn misspelled_added_word(word: &str) -> Option<&'static str> {
    if word.len() < 6 || is_added_word(word) {
        return None;
    }
    ADDED_WORDS
        .iter()
        .copied()
        // Only a word within one character of the length can be one edit
        // away (the distance check's own first test, done first).
        .filter(|w| w.len() >= 6 && w.len().abs_diff(word.len()) <= 1)
        // `updater`, `tooling`: a real word grown from an added word, not a
        // misspelling of it.
        .filter(|w| !word.starts_with(*w))
        // `updater` for `updated`: a different ending is a different word.
        .filter(|w| word.as_bytes()[..word.len() - 1] != w.as_bytes()[..w.len() - 1])
        // One edit apart (the two differ: `word` is no added word), told by
        // the common prefix and suffix, without the distance's table.
        .find(|w| one_edit_facts(w.as_bytes(), word.as_bytes()).is_some())
}

/// True when `word` is a version number as attackers append it (`2`,
/// `v2`, `2-32-3` once normalised).
pub(crate) fn is_version_word(word: &str) -> bool {
    let w = word.strip_prefix('v').unwrap_or(word);
    // Release numbers have short groups (`2`, `2-32-3`, `2024`); a long run
    // of digits is an id or a date stamp, not a version.
    !w.is_empty()
        && w.bytes().next().is_some_and(|b| b.is_ascii_digit())
        && w.bytes().all(|b| b.is_ascii_digit() || b == b'-')
        && w.split('-').all(|g| g.len() <= 4)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn osa_counts_transpositions_once() {
        assert_eq!(osa(b"requests", b"reqeusts"), 1);
        assert_eq!(osa(b"tensorflow", b"tensorfllow"), 1);
        assert_eq!(osa(b"torch", b"trch"), 1);
        assert_eq!(osa(b"numpy", b"nupmyy"), 2);
        assert_eq!(osa_bounded(b"numpy", b"pandas", 2), None);
        assert_eq!(osa(b"", b"abc"), 3);
    }

    /// Random pairs near each other: names, their one- and two-edit
    /// mutations (runs, swaps, digits, delimiters).
    fn near_pairs() -> Vec<(Vec<u8>, Vec<u8>)> {
        let words: [&[u8]; 8] = [
            b"requests",
            b"numpy",
            b"cu12",
            b"aab-bbc",
            b"tensorflow",
            b"ss",
            b"a",
            b"py-yaml2",
        ];
        let alphabet = b"abcs12-";
        let mut x: u64 = 3;
        let mut next = |n: usize| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (x >> 33) as usize % n.max(1)
        };
        let mut out = Vec::new();
        for _ in 0..20_000 {
            let t = words[next(words.len())].to_vec();
            let mut s = t.clone();
            for _ in 0..1 + next(3) {
                let i = next(s.len());
                match next(4) {
                    0 if s.len() > 1 => {
                        s.remove(i);
                    }
                    1 => s.insert(i, alphabet[next(alphabet.len())]),
                    2 if i + 1 < s.len() => s.swap(i, i + 1),
                    _ => s[i] = alphabet[next(alphabet.len())],
                }
            }
            out.push((t, s));
        }
        out
    }

    #[test]
    fn banded_osa_equals_the_full_dp() {
        for (t, s) in near_pairs() {
            for max in 0..5 {
                assert_eq!(
                    osa_within(&t, &s, max),
                    osa_bounded(&t, &s, max),
                    "{t:?} {s:?} {max}"
                );
                assert_eq!(osa_within(&s, &t, max), osa_bounded(&s, &t, max));
            }
            let full = osa_bounded(&t, &s, t.len().max(s.len())).unwrap_or(0);
            assert_eq!(osa(&t, &s), full);
        }
        let long = vec![b'a'; 80];
        assert_eq!(osa_within(&long, &long[1..], 2), Some(1));
    }

    #[test]
    fn banded_edit_scripts_equal_the_full_matrix() {
        for (t, s) in near_pairs() {
            let full = edit_script_in_band(&t, &s, t.len().max(s.len()));
            assert_eq!(edit_script(&t, &s), full, "{t:?} {s:?}");
        }
    }

    #[test]
    fn one_edit_facts_are_the_edit_scripts() {
        let mut one = 0;
        for (t, s) in near_pairs() {
            let d = osa(&t, &s);
            let script = edit_facts(&edit_script(&t, &s), &s);
            assert_eq!(script_facts(&t, &s, d), script, "{t:?} {s:?}");
            if d == 1 {
                one += 1;
                assert_eq!(one_edit_facts(&t, &s), Some(script), "{t:?} {s:?}");
            }
        }
        assert!(one > 5_000, "{one}");
    }

    #[test]
    fn edit_scripts_name_what_changed() {
        let d = |t: &str, s: &str| {
            describe_edits(&edit_script(t.as_bytes(), s.as_bytes()), s.as_bytes())
        };
        assert_eq!(d("requests", "reqeusts"), "swapped \"eu\" -> \"ue\"");
        assert_eq!(d("tensorflow", "tensorfllow"), "repeated \"l\"");
        assert_eq!(d("requests", "requsts"), "omitted \"e\"");
        assert_eq!(
            d("numpy", "numoy"),
            "substituted \"o\" -> \"p\" (keyboard-adjacent)"
        );
        assert_eq!(
            d("boto3", "b0to3"),
            "substituted \"0\" -> \"o\" (look-alike)"
        );
        assert_eq!(d("pyyaml", "py-yaml"), "added delimiter \"-\"");
    }

    #[test]
    fn keyboard_adjacency_is_symmetric_and_local() {
        assert!(keyboard_adjacent(b'q', b'w'));
        assert!(keyboard_adjacent(b'w', b'q'));
        assert!(keyboard_adjacent(b'g', b'h'));
        assert!(keyboard_adjacent(b'g', b't'));
        assert!(!keyboard_adjacent(b'q', b'p'));
        assert!(!keyboard_adjacent(b'a', b'a'));
        assert!(keyboard_neighbours(b's').contains(&b'd'));
    }

    #[test]
    fn skeletons_merge_lookalikes() {
        assert_eq!(skeleton("rnatplotlib"), skeleton("matplotlib"));
        assert_eq!(skeleton("b0t03"), skeleton("boto3"));
        assert_eq!(skeleton("py-yaml"), skeleton("pyyaml"));
        assert_eq!(skeleton("reqυests"), skeleton("requests"));
        assert_ne!(skeleton("numpy"), skeleton("nunpy"));
        assert!(has_unicode_confusable("tоrch"));
        assert!(!has_unicode_confusable("torch"));
    }

    #[test]
    fn runs_collapse() {
        assert_eq!(collapse_runs("asynciooo"), "asyncio");
        assert_eq!(collapse_runs("pillow"), "pilow");
        assert_eq!(collapse_runs(""), "");
        assert_eq!(collapse_runs("ééa"), "éa");
    }

    #[test]
    fn added_words_and_versions() {
        assert!(is_added_word("utils"));
        assert!(ADDED_WORDS.iter().all(|w| is_added_word(w)));
        assert!(!is_added_word("utilsx") && !is_added_word("") && !is_added_word("utilities-x"));
        assert_eq!(misspelled_added_word("utilites"), Some("utilities"));
        assert_eq!(misspelled_added_word("utils"), None);
        assert!(is_version_word("2"));
        assert!(is_version_word("v2"));
        assert!(is_version_word("2-32-3"));
        assert!(!is_version_word("v"));
        assert!(!is_version_word("gpu"));
    }

    #[test]
    fn deletion_hashes_equal_hashes_of_the_shorter_strings() {
        let whole = |s: &[u8]| Deletions::new(s).whole();
        let d = Deletions::new(b"torch");
        assert_eq!(d.without1(1), whole(b"trch"));
        assert_eq!(d.without1(0), whole(b"orch"));
        assert_eq!(d.without1(4), whole(b"torc"));
        assert_eq!(d.without2(1, 3), whole(b"trh"));
        assert_eq!(d.without2(0, 4), whole(b"orc"));
        assert_eq!(d.without2(3, 4), whole(b"tor"));
        assert_ne!(whole(b"torch"), whole(b"torhc"));
        assert_ne!(whole(b"ab"), whole(b"ba"));
        // Exhaustively on one longer name.
        let name = b"requests-toolbelt";
        let d = Deletions::new(name);
        for i in 0..name.len() {
            for j in i + 1..name.len() {
                let mut v = name.to_vec();
                v.remove(j);
                v.remove(i);
                assert_eq!(d.without2(i, j), whole(&v));
            }
        }
    }
}
