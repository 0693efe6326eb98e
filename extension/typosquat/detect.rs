//! The detectors: each looks for one family of techniques in a normalised
//! suspect name and proposes (target, technique, score) findings; the index
//! keeps the best.

use super::index::{Index, KeyMap};
use super::keys::{sorted_tokens, str_hash, str_hash_of};
use super::text::{
    self, collapse_runs, describe_edits, edit_script, edit_script_known, is_added_word,
    is_version_word, misspelled_added_word, script_facts, skeleton, LOOKALIKE_CHARS,
    LOOKALIKE_SEQS, PREFIX_WORDS,
};

/// A popular name with at least this many popular `name-...` children is a
/// plugin host (`flask`, `pytest`, `django`): `host-word` is a plugin
/// pattern there, so plain combosquats of it score lower.
const PLUGIN_HOST_CHILDREN: usize = 8;
/// Combosquats are reported only for bases ranked at or above this: an
/// attacker adds words to names everyone knows.
const COMBO_MAX_RANK: u32 = 5_000;
/// Combosquats of a misspelled base are reported only for bases ranked at
/// or above this.
const COMBO_TYPO_MAX_RANK: u32 = 2_000;

/// The highest score [`Index::find_typos`] can offer (the best base score,
/// rank factor and added-word penalty at most 1).
const TYPO_MAX_SCORE: f64 = 0.9;
/// The highest score [`Index::find_typos`] gives a name two edits away
/// (the base score of a long name; the rank factor and the added-word
/// penalty are at most 1).
const TWO_EDITS_MAX_SCORE: f64 = 0.75;
/// A name two edits away gets [`TWO_EDITS_MAX_SCORE`] from this length.
const TWO_EDITS_LONG: usize = 10;
/// ... and at most this when shorter.
const TWO_EDITS_SHORT_MAX_SCORE: f64 = 0.65;
/// The highest score [`Index::find_combos`] can offer.
const COMBO_MAX_SCORE: f64 = 0.85;

/// One technique match against one target, before the best is chosen.
#[derive(Debug, Clone)]
pub(super) struct Finding {
    pub(super) target: String,
    pub(super) rank: Option<u32>,
    pub(super) technique: String,
    pub(super) score: f64,
}

/// The best finding so far for one suspect. Of the findings offered (in
/// detector order), those against the suspect itself and, for a popular
/// suspect, those against a target that is not more popular are dropped;
/// the best of the rest has the highest score, then the best-ranked target,
/// and the last offered wins a tie. A technique is written out only when
/// its finding becomes the best.
pub(super) struct Best<'q> {
    q: &'q str,
    own: Option<u32>,
    best: Option<Finding>,
}

impl Best<'_> {
    /// True when no finding scoring at most `max` can replace the best
    /// (a tie can, with a better-ranked target): a detector whose findings
    /// never score above `max` need not run.
    fn beats(&self, max: f64) -> bool {
        self.best.as_ref().is_some_and(|b| b.score > max)
    }

    fn offer(
        &mut self,
        target: &str,
        rank: Option<u32>,
        score: f64,
        technique: impl FnOnce() -> String,
    ) {
        if target == self.q {
            return;
        }
        match (self.own, rank) {
            (Some(own), Some(r)) if r >= own => return,
            (Some(_), None) => return,
            _ => {}
        }
        if let Some(b) = &self.best {
            let order = b
                .score
                .total_cmp(&score)
                .then_with(|| rank.unwrap_or(u32::MAX).cmp(&b.rank.unwrap_or(u32::MAX)));
            if order == std::cmp::Ordering::Greater {
                return;
            }
        }
        self.best = Some(Finding {
            target: target.to_string(),
            rank,
            technique: technique(),
            score,
        });
    }
}

/// Attackers imitate what is downloaded most: the less popular the target,
/// the less a near miss of it means.
fn rank_factor(rank: u32) -> f64 {
    if rank <= 1_000 {
        1.0
    } else if rank <= 5_000 {
        0.9
    } else if rank <= 10_000 {
        0.8
    } else {
        0.6
    }
}

impl Index {
    /// The best finding for normalised `q`; when `q` is popular with rank
    /// `own`, only more popular targets count.
    pub(super) fn best_finding(&self, q: &str, own_id: Option<u32>) -> Option<Finding> {
        let own = own_id.map(|id| self.rank(id));
        let mut best = Best { q, own, best: None };
        // The keys of the first three detectors, looked up together.
        let skeleton = skeleton(q);
        let words = sorted_tokens(q);
        let collapsed = collapse_runs(q);
        let hash = |s: &str| str_hash(s.as_bytes());
        let keys = [
            (KeyMap::Skeleton, Some(skeleton.as_str())),
            (KeyMap::WordSet, words.as_deref()),
            (KeyMap::Collapsed, Some(collapsed.as_str())),
        ]
        .map(|(map, key)| key.map(|k| (map, k, hash(k))));
        for &(map, _, h) in keys.iter().flatten() {
            self.prefetch_key(map, h);
        }
        let [sk, ws, co] = keys.map(|k| k.and_then(|(map, key, h)| self.key_id(map, key, h)));
        self.find_lookalikes(q, sk, &mut best);
        self.find_swapped_words(q, ws, &mut best);
        self.find_repeats(q, co, &mut best);
        self.find_version_suffix(q, &mut best);
        self.find_prefix_change(q, &mut best);
        // The two costly detectors run only when their best could still
        // win (the result is the same either way).
        if !best.beats(TYPO_MAX_SCORE) {
            self.find_typos(q, own_id, &mut best);
        }
        if !best.beats(COMBO_MAX_SCORE) {
            self.find_combos(q, &mut best);
        }
        best.best
    }

    /// Offers a finding against popular id `id`; `score` before the rank
    /// factor.
    fn offer(&self, out: &mut Best<'_>, id: u32, score: f64, technique: impl FnOnce() -> String) {
        let rank = self.rank(id);
        out.offer(
            self.name(id),
            Some(rank),
            score * rank_factor(rank),
            technique,
        );
    }

    /// Delimiter changes and look-alike characters: same skeleton.
    /// `id`: the popular id filed under `q`'s skeleton.
    fn find_lookalikes(&self, q: &str, id: Option<u32>, out: &mut Best<'_>) {
        let Some(id) = id else {
            return;
        };
        let p = self.name(id);
        if p == q {
            return;
        }
        let short = p.len() <= 3;
        let delimiter = q.replace('-', "") == p.replace('-', "");
        let unicode = !delimiter && text::has_unicode_confusable(q);
        // Slightly above the same change seen as an edit, so the more
        // specific description wins.
        let score = match (delimiter, unicode) {
            (true, _) => 0.91,
            (_, true) => 0.95,
            _ => 0.92,
        };
        self.offer(out, id, if short { 0.45 } else { score }, || {
            if delimiter {
                format!("delimiter changed (\"{q}\" for \"{p}\")")
            } else if unicode {
                format!("look-alike Unicode characters imitating \"{p}\"")
            } else {
                let mut pairs: Vec<String> = LOOKALIKE_SEQS
                    .iter()
                    .filter(|(f, r)| q.contains(f) && p.contains(r) && !p.contains(f))
                    .map(|(f, r)| format!("\"{f}\" for \"{r}\""))
                    .collect();
                pairs.extend(
                    LOOKALIKE_CHARS
                        .iter()
                        .filter(|(f, r)| q.contains(*f as char) && p.contains(*r as char))
                        .filter(|(f, _)| !p.contains(*f as char))
                        .map(|(f, r)| format!("\"{}\" for \"{}\"", *f as char, *r as char)),
                );
                pairs.dedup();
                format!("look-alike characters: {}", pairs.join(", "))
            }
        });
    }

    /// Several repeated characters (`asynciooo`): the same name once runs
    /// are collapsed, two or more characters longer (one is a plain typo).
    /// `id`: the popular id filed under `q` with its runs collapsed.
    fn find_repeats(&self, q: &str, id: Option<u32>, out: &mut Best<'_>) {
        let Some(id) = id else {
            return;
        };
        let p = self.name(id);
        if q.len() < p.len() + 2 || p.len() < 5 {
            return;
        }
        self.offer(out, id, 0.85, || {
            format!("repeated characters ({} extra)", q.len() - p.len())
        });
    }

    /// Swapped words: the same tokens in another order.
    /// `id`: the popular id filed under `q`'s sorted words.
    fn find_swapped_words(&self, q: &str, id: Option<u32>, out: &mut Best<'_>) {
        if let Some(id) = id {
            let p = self.name(id);
            if p != q {
                self.offer(out, id, 0.85, || {
                    format!("swapped words (\"{q}\" for \"{p}\")")
                });
            }
        }
    }

    /// A popular name with a version number appended (`requests2`,
    /// `requests-toolbelt-v2`, `requests-2-32-3`).
    fn find_version_suffix(&self, q: &str, out: &mut Best<'_>) {
        let b = q.as_bytes();
        if !b.last().is_some_and(u8::is_ascii_digit) {
            return;
        }
        // Walk back over the trailing run of digits, '-', 'v'.
        let mut cut = b.len();
        while cut > 0 && (b[cut - 1].is_ascii_digit() || b[cut - 1] == b'-' || b[cut - 1] == b'v') {
            cut -= 1;
            let base = q[..cut].trim_end_matches('-');
            let suffix = q[cut..].trim_start_matches('-');
            if base.len() < 3 || !is_version_word(suffix) {
                continue;
            }
            if let Some(id) = self.id_of(base) {
                self.offer(out, id, 0.8, || {
                    format!("version-number suffix \"{suffix}\" added")
                });
                return;
            }
            if let Some(id) = self.skeleton_id(&skeleton(base)) {
                if self.name(id).len() >= 5 {
                    self.offer(out, id, 0.75, || {
                        format!(
                            "version-number suffix \"{suffix}\" added to a look-alike (\"{base}\")"
                        )
                    });
                    return;
                }
            }
        }
    }

    /// A popular name with its `py`/`python` prefix changed or dropped
    /// (`python-cord` for `py-cord`, `execjs` for `pyexecjs`).
    fn find_prefix_change(&self, q: &str, out: &mut Best<'_>) {
        const PREFIXES: [&str; 6] = ["python3-", "python-", "py3-", "py-", "python", "py"];
        let own = PREFIXES.iter().find(|p| q.starts_with(*p)).copied();
        let rest = own.map_or(q, |p| &q[p.len()..]);
        // `perf` for `pyperf`: a short word is a name of its own.
        if rest.len() < 4 || (own.is_none() && rest.len() < 5) {
            return;
        }
        // Every candidate's lookup starts before the first is read.
        let hashes = PREFIXES.map(|p| str_hash_of(&[p.as_bytes(), rest.as_bytes()]));
        for (p, &h) in PREFIXES.iter().zip(&hashes) {
            if Some(*p) != own {
                self.prefetch_key(KeyMap::Name, h);
            }
        }
        let mut candidate = String::with_capacity(rest.len() + 8);
        for (p, h) in PREFIXES.into_iter().zip(hashes) {
            if Some(p) == own {
                continue;
            }
            candidate.clear();
            candidate.push_str(p);
            candidate.push_str(rest);
            if let Some(id) = self.key_id(KeyMap::Name, candidate.as_str(), h) {
                self.offer(out, id, 0.8, || match own {
                    Some(o) => format!("prefix changed (\"{o}\" for \"{p}\")"),
                    None => format!("prefix \"{p}\" dropped"),
                });
                return;
            }
        }
    }

    /// Typos of the published detectors: repeated, omitted, swapped,
    /// substituted (keyboard-adjacent, look-alike, bit flip) characters.
    fn find_typos(&self, q: &str, own_id: Option<u32>, out: &mut Best<'_>) {
        // Candidates come in rank order (ids are ranks' positions); keep the
        // best and describe only it: popular families (`mypy-boto3-*`) put
        // hundreds of names within two edits of each other. Two arbitrary
        // substitutions are how unrelated names differ, not how typos look.
        //
        // A name at distance 2 scores at most TWO_EDITS_MAX_SCORE, and only
        // a strictly higher score replaces the best: once the names at
        // distance 1 (and the long ones at distance 2 that the distance-1
        // table proposes) give a best above it, or the best finding so far
        // is above it, the names only the distance-2 table finds cannot
        // change what is offered, and it is not probed.
        if let Some(id) = own_id {
            // A popular name's search was done when the tables were packed.
            let best = self.best_typo(q, &self.near_popular(id));
            self.offer_typo(q, best, out);
            return;
        }
        // Names two edits away are at most two characters longer than `q`:
        // for a short `q` none is long enough for the higher base score.
        let two_max = if q.len() + 2 >= TWO_EDITS_LONG {
            TWO_EDITS_MAX_SCORE
        } else {
            TWO_EDITS_SHORT_MAX_SCORE
        };
        let settled = out.beats(two_max);
        let mut staged = None;
        let candidates = self.near_staged(q, 2, |c| {
            let b = self.best_typo(q, c);
            let enough = settled || b.is_some_and(|(score, _, _)| score > two_max);
            if enough {
                staged = Some(b);
            }
            enough
        });
        let best = match staged {
            Some(b) => b,
            None => self.best_typo(q, &candidates),
        };
        self.offer_typo(q, best, out);
    }

    /// Offers the best typo `(score, id, distance)`, if any, described.
    fn offer_typo(&self, q: &str, best: Option<(f64, u32, usize)>, out: &mut Best<'_>) {
        if let Some((score, id, d)) = best {
            let name = self.name(id);
            out.offer(name, Some(self.rank(id)), score, || {
                describe_edits(
                    &edit_script_known(name.as_bytes(), q.as_bytes(), d),
                    q.as_bytes(),
                )
            });
        }
    }

    /// The best-scoring typo among `candidates` (popular ids and their
    /// distances, in id order): `(score, id, distance)`, the first of
    /// equal scores.
    fn best_typo(&self, q: &str, candidates: &[(u32, usize)]) -> Option<(f64, u32, usize)> {
        let mut best: Option<(f64, u32, usize)> = None;
        for &(id, d) in candidates {
            let (name, rank) = (self.name(id), self.rank(id));
            let base: f64 = match (d, name.len()) {
                // Short names sit one edit from many others.
                (1, 6..) => 0.9,
                (1, 5) => 0.75,
                (1, 4) => 0.6,
                (1, _) => 0.35,
                (_, TWO_EDITS_LONG..) => TWO_EDITS_MAX_SCORE,
                _ => TWO_EDITS_SHORT_MAX_SCORE,
            };
            let factor = rank_factor(rank);
            if best.as_ref().is_some_and(|b| base * factor <= b.0) {
                continue;
            }
            let (digits_only, all_typo_like) = script_facts(name.as_bytes(), q.as_bytes(), d);
            let score = if digits_only {
                // cu11 vs cu12, v1 vs v2: versions, not typos.
                0.4
            } else if d >= 2 && !all_typo_like {
                // Two arbitrary edits: how unrelated names differ.
                0.3
            } else if all_typo_like {
                base
            } else {
                // One arbitrary substitution: less of a slip.
                base - 0.25
            };
            // Two- and three-letter names are one edit from dozens of others.
            let score = if q.len() <= 3 { score.min(0.4) } else { score };
            let score = score * self.added_word_penalty(q, name) * factor;
            if best.as_ref().is_none_or(|b| score > b.0) {
                best = Some((score, id, d));
            }
        }
        best
    }

    /// `torch-gpu` is one edit from `torch-npu`, but the edit made an
    /// ecosystem word: that is a combosquat of `torch`, not a typo of
    /// `torch-npu`. Returns a factor that lets the combosquat win.
    fn added_word_penalty(&self, q: &str, p: &str) -> f64 {
        let words = |s: &str| s.bytes().filter(|&b| b == b'-').count() + 1;
        let n = words(q);
        if n != words(p) || n < 2 {
            return 1.0;
        }
        let mut differing = q.split('-').zip(p.split('-')).filter(|(a, b)| a != b);
        match (differing.next(), differing.next()) {
            (Some((w, _)), None) if is_added_word(w) => 0.75,
            _ => 1.0,
        }
    }

    fn is_plugin_host(&self, id: u32) -> bool {
        self.children(id) as usize >= PLUGIN_HOST_CHILDREN
    }

    /// Combosquats: a popular name (possibly misspelled) plus added words.
    fn find_combos(&self, q: &str, out: &mut Best<'_>) {
        let tokens: Vec<(usize, usize)> = {
            let mut v = Vec::new();
            let mut start = 0;
            for (i, c) in q.char_indices() {
                if c == '-' {
                    if i > start {
                        v.push((start, i));
                    }
                    start = i + 1;
                }
            }
            if start < q.len() {
                v.push((start, q.len()));
            }
            v
        };
        if tokens.len() >= 2 {
            self.find_delimited_combos(q, &tokens, out);
        } else {
            self.find_joined_combos(q, out);
        }
    }

    fn find_delimited_combos(&self, q: &str, tokens: &[(usize, usize)], out: &mut Best<'_>) {
        let n = tokens.len();
        // The longest proper span of tokens that is a popular name (exact or
        // one edit away, for spans of five characters or more).
        let mut best: Option<(usize, usize, u32, usize)> = None; // (a, b, id, distance)
                                                                 // For names of up to PREFETCHED_TOKENS words every span's lookup
                                                                 // starts before the first is read.
        const PREFETCHED_TOKENS: usize = 6;
        let span_hash = |a: usize, b: usize| str_hash(&q.as_bytes()[tokens[a].0..tokens[b - 1].1]);
        let early = n <= PREFETCHED_TOKENS;
        let mut hashes = [0u64; (PREFETCHED_TOKENS + 1) * (PREFETCHED_TOKENS + 1)];
        if early {
            for a in 0..n {
                for b in a + 1..=n {
                    if b - a < n {
                        let h = span_hash(a, b);
                        hashes[a * (n + 1) + b] = h;
                        self.prefetch_key(KeyMap::Name, h);
                    }
                }
            }
        }
        for a in 0..n {
            for b in (a + 1..=n).rev() {
                if b - a == n {
                    continue;
                }
                let span = &q[tokens[a].0..tokens[b - 1].1];
                let h = if early {
                    hashes[a * (n + 1) + b]
                } else {
                    span_hash(a, b)
                };
                let found = match self.key_id(KeyMap::Name, span, h) {
                    Some(id) if span.len() >= 3 => Some((id, 0)),
                    Some(_) => None,
                    // A misspelled base of one or two words.
                    None if span.len() >= 5 && b - a <= 2 && !is_added_word(span) => self
                        .near(span, 1)
                        .into_iter()
                        .min_by_key(|&(id, _)| self.rank(id)),
                    None => None,
                };
                if let Some((id, d)) = found {
                    let better = match best {
                        None => true,
                        Some((ba, bb, bid, bd)) => {
                            (d, std::cmp::Reverse(span.len()), self.rank(id))
                                < (
                                    bd,
                                    std::cmp::Reverse(tokens[bb - 1].1 - tokens[ba].0),
                                    self.rank(bid),
                                )
                        }
                    };
                    if better {
                        best = Some((a, b, id, d));
                    }
                    break; // shorter spans from the same start are worse
                }
            }
        }
        let Some((a, b, id, d)) = best else { return };
        let base = self.name(id);
        let mut eco = Vec::new();
        let mut misspelled = Vec::new();
        let mut popular_words = Vec::new();
        let mut other = Vec::new();
        for (i, &(s, e)) in tokens.iter().enumerate() {
            if (a..b).contains(&i) {
                continue;
            }
            let w = &q[s..e];
            if is_added_word(w) || is_version_word(w) {
                eco.push(w);
            } else if let Some(real) = misspelled_added_word(w) {
                misspelled.push((w, real));
            } else if w.len() >= 4 && self.id_of(w).is_some() {
                popular_words.push(w);
            } else {
                other.push(w);
            }
        }
        let host = self.is_plugin_host(id);
        let typo = d > 0;
        let rank = self.rank(id);
        let score: f64 = if rank > COMBO_MAX_RANK || !other.is_empty() {
            // Unpopular bases and unknown added words: how most legitimate
            // long-tail names are made.
            0.3
        } else if typo {
            // A misspelled base plus a word: only for names everyone knows,
            // or every long-tail name near a mid-list package would match.
            if base.len() >= 6 && rank <= COMBO_TYPO_MAX_RANK {
                0.85
            } else {
                0.3
            }
        } else if !misspelled.is_empty() {
            0.85
        } else if !popular_words.is_empty() {
            if host {
                0.4
            } else {
                0.6
            }
        } else {
            0.7
        };
        self.offer(out, id, score, || {
            let mut parts = Vec::new();
            if typo {
                let span = &q[tokens[a].0..tokens[b - 1].1];
                let edits = edit_script(base.as_bytes(), span.as_bytes());
                let t = describe_edits(&edits, span.as_bytes());
                parts.push(format!("misspelled \"{base}\" ({t})"));
            }
            if !eco.is_empty() {
                parts.push(format!("added {}", quote_list(&eco)));
            }
            for (w, real) in &misspelled {
                parts.push(format!("added misspelled word \"{w}\" (for \"{real}\")"));
            }
            if !popular_words.is_empty() {
                parts.push(format!("joined popular {}", quote_list(&popular_words)));
            }
            if !other.is_empty() {
                parts.push(format!("added {}", quote_list(&other)));
            }
            format!("combosquat of \"{base}\": {}", parts.join(", "))
        });
    }

    /// Combosquats without a delimiter: `pyrequests`, `numpyutils`,
    /// `torchtriton`.
    fn find_joined_combos(&self, q: &str, out: &mut Best<'_>) {
        if !q.is_ascii() || q.len() < 6 {
            return;
        }
        for cut in 2..q.len() - 1 {
            let (left, right) = q.split_at(cut);
            // A base of four characters or more, and a right side that
            // either branch could use: only then is the base looked up.
            let usable = (right.len() >= 2 && is_added_word(right)) || right.len() >= 4;
            if let Some(id) = (left.len() >= 4 && usable)
                .then(|| self.id_of(left))
                .flatten()
                .filter(|&id| self.rank(id) <= COMBO_MAX_RANK)
            {
                if is_added_word(right) && right.len() >= 2 {
                    let score = if self.is_plugin_host(id) { 0.45 } else { 0.7 };
                    self.offer(out, id, score, || {
                        format!("combosquat of \"{left}\": added \"{right}\" without a delimiter")
                    });
                } else if right.len() >= 4 && self.id_of(right).is_some() {
                    self.offer(out, id, 0.6, || {
                        format!("combosquat of \"{left}\": joined popular \"{right}\"")
                    });
                }
            }
            if PREFIX_WORDS.contains(&left) && right.len() >= 4 {
                if let Some(id) = self
                    .id_of(right)
                    .filter(|&id| self.rank(id) <= COMBO_MAX_RANK)
                {
                    self.offer(out, id, 0.7, || {
                        format!("combosquat of \"{right}\": prefix \"{left}\" added")
                    });
                }
            }
        }
    }
}

fn quote_list(words: &[&str]) -> String {
    let q: Vec<String> = words.iter().map(|w| format!("\"{w}\"")).collect();
    let noun = if words.len() == 1 { "word" } else { "words" };
    format!("{noun} {}", q.join(", "))
}
