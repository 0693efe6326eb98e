//! The typosquat index: the popular names, the known-malicious names and
//! the curated families, with the lookup structures that let one name be
//! scored in microseconds.
//!
//! Detection looks for the techniques of the published detectors (TypoGard
//! and SpellBound, Taylor et al.: repeated, omitted, swapped and substituted
//! characters, keyboard-adjacent typos, swapped words, delimiter changes,
//! version-number suffixes) and for what they miss: look-alike characters
//! (`rn` for `m`, `0` for `o`, Cyrillic letters), combosquats (a popular name
//! plus a word, the word itself possibly misspelled: `torch-utilites`),
//! ecosystem prefixes and suffixes (`python-torch`, `torch-gpu`) and
//! dependency-confusion names of ML projects' own indexes (`torchtriton`).
//!
//! Edit distance uses a deletion-neighbourhood index: every popular name is
//! stored under the hash of each string obtained by deleting one character
//! (two for long, well-ranked names); a suspect is looked up under its own
//! deletions, and the few candidates found are checked with the real
//! distance. No suspect is compared with all 15,000 names.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use super::data::{self, Curated, CuratedKind, Popular};
use super::normalize;
use super::text::{
    self, describe_edits, edit_script, is_added_word, is_version_word, misspelled_added_word, osa,
    osa_bounded, skeleton, Deletions, FastBuild, LOOKALIKE_CHARS, LOOKALIKE_SEQS, PREFIX_WORDS,
};

/// Names ranked at or above this, and at least [`TWO_EDIT_MIN_LEN`] long, are
/// matched at edit distance 2; all others at distance 1.
pub const TWO_EDIT_MAX_RANK: u32 = 5_000;
/// See [`TWO_EDIT_MAX_RANK`].
pub const TWO_EDIT_MIN_LEN: usize = 8;
/// ... and at most this long (longer names differ by two edits far more
/// often by design than by a slip).
pub const TWO_EDIT_MAX_LEN: usize = 30;
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
/// Names longer than this are looked up exactly (popular, known malicious)
/// but not searched for near misses: PyPI names are far shorter, and the
/// searches grow with the square of the length.
pub const MAX_SCORED_LEN: usize = 128;
/// The score at or above which a name is reported as a likely typosquat.
pub const DEFAULT_THRESHOLD: f64 = 0.5;

/// The verdict on one package name.
#[derive(Debug, Clone, PartialEq)]
pub struct Assessment {
    /// The name as given.
    pub name: String,
    /// The PEP 503 normalised name.
    pub normalized_name: String,
    /// 0..1: how likely the name imitates `target` (1.0 for a known-malicious
    /// name).
    pub score: f64,
    /// The popular package imitated (or the family the name belongs to).
    pub target: Option<String>,
    /// The target's download rank.
    pub target_rank: Option<u32>,
    /// What was changed, in words (e.g. `swapped "eu" -> "ue"`).
    pub technique: String,
    /// Optimal-string-alignment edit distance between the normalised name and
    /// the target.
    pub distance: Option<u32>,
    /// The name's own download rank when it is itself popular.
    pub popular_rank: Option<u32>,
    /// The OSV `MAL-` ids when the name is a known-malicious package.
    pub known_malicious: Option<String>,
}

impl Assessment {
    /// True when the name is itself in the popular list.
    pub fn is_popular(&self) -> bool {
        self.popular_rank.is_some()
    }

    /// True when the score reaches [`DEFAULT_THRESHOLD`].
    pub fn is_flagged(&self) -> bool {
        self.score >= DEFAULT_THRESHOLD
    }
}

/// One technique match against one target, before the best is chosen.
#[derive(Debug, Clone)]
struct Finding {
    target: String,
    rank: Option<u32>,
    technique: String,
    score: f64,
}

/// The index. Build it once per process ([`Index::embedded`]) and share it.
#[derive(Debug)]
pub struct Index {
    popular: Vec<Popular>,
    by_name: HashMap<String, u32, FastBuild>,
    malicious: HashMap<String, String, FastBuild>,
    curated: HashMap<String, Curated, FastBuild>,
    /// Every popular name under its 0- and 1-deletion variants.
    one_edit: DeletionIndex,
    /// Long, well-ranked names ([`TWO_EDIT_MAX_RANK`]) under their 0-, 1-
    /// and 2-deletion variants.
    two_edits: DeletionIndex,
    /// Skeleton -> best-ranked popular id with it.
    skeletons: HashMap<String, u32, FastBuild>,
    /// Sorted tokens -> best-ranked popular id (multi-word names only).
    word_sets: HashMap<String, u32, FastBuild>,
    /// Per popular id: how many popular names start with `name-`.
    children: Vec<u32>,
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

/// True for the edits a hurried typist or a look-alike makes: omitted,
/// repeated or swapped characters, keyboard-adjacent or look-alike
/// substitutions, delimiter changes. Two arbitrary substitutions are how
/// unrelated names differ, not how typos look.
fn typo_like(e: &text::Edit, suspect: &[u8]) -> bool {
    match *e {
        text::Edit::Omitted { .. } | text::Edit::Swapped { .. } => true,
        text::Edit::Added { ch, at } => text::typo_like_insert(suspect, at, ch),
        text::Edit::Substituted { got, want } => text::typo_like_substitution(got, want),
    }
}

/// Popular ids filed under hashes of their deletion variants: one hash
/// probe gives the ids sharing a variant.
#[derive(Debug, Default)]
struct DeletionIndex {
    ranges: HashMap<u64, (u32, u32), BuildHasherDefault<IdentityHasher>>,
    ids: Vec<u32>,
}

impl DeletionIndex {
    fn new(mut pairs: Vec<(u64, u32)>) -> DeletionIndex {
        pairs.sort_unstable();
        pairs.dedup();
        let mut ranges = HashMap::with_capacity_and_hasher(pairs.len(), Default::default());
        let mut ids = Vec::with_capacity(pairs.len());
        let mut i = 0;
        while i < pairs.len() {
            let key = pairs[i].0;
            let start = ids.len() as u32;
            while i < pairs.len() && pairs[i].0 == key {
                ids.push(pairs[i].1);
                i += 1;
            }
            ranges.insert(key, (start, ids.len() as u32 - start));
        }
        ranges.shrink_to_fit();
        DeletionIndex { ranges, ids }
    }

    fn get(&self, key: u64) -> &[u32] {
        match self.ranges.get(&key) {
            Some(&(start, len)) => &self.ids[start as usize..(start + len) as usize],
            None => &[],
        }
    }

    fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }
}

/// The keys of [`DeletionIndex`] are already hashes.
#[derive(Default)]
struct IdentityHasher(u64);

impl Hasher for IdentityHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) | u64::from(b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

fn sorted_tokens(name: &str) -> Option<String> {
    let mut t: Vec<&str> = name.split('-').filter(|s| !s.is_empty()).collect();
    if t.len() < 2 {
        return None;
    }
    t.sort_unstable();
    Some(t.join("-"))
}

impl Index {
    /// The index of the data shipped in the binary, built on first use and
    /// kept for the life of the process.
    pub fn embedded() -> &'static Index {
        static INDEX: std::sync::OnceLock<Index> = std::sync::OnceLock::new();
        INDEX.get_or_init(|| Index::from_tsv(data::TOP_TSV, data::MALICIOUS_TSV, data::CURATED_TSV))
    }

    /// Builds an index from the three TSV texts (see [`data`]). Pass `""` for
    /// the malicious list to score names on their shape alone (as the
    /// evaluation does).
    pub fn from_tsv(top: &str, malicious: &str, curated: &str) -> Index {
        let (popular, bad_top) = data::parse_top(top, normalize);
        let (mal, bad_mal) = data::parse_malicious(malicious, normalize);
        let (cur, bad_cur) = data::parse_curated(curated, normalize);
        if bad_top + bad_mal + bad_cur > 0 {
            log::warn!(
                "typosquat data: skipped {bad_top} popular, {bad_mal} malicious, {bad_cur} curated malformed lines"
            );
        }
        Index::new(popular, mal, cur)
    }

    /// Builds an index from parsed entries.
    pub fn new(
        mut popular: Vec<Popular>,
        malicious: Vec<data::Malicious>,
        curated: Vec<Curated>,
    ) -> Index {
        popular.sort_by(|a, b| a.rank.cmp(&b.rank).then_with(|| a.name.cmp(&b.name)));
        let mut seen = HashMap::<String, u32, FastBuild>::default();
        popular.retain(|p| !p.name.is_empty() && seen.insert(p.name.clone(), p.rank).is_none());
        let by_name: HashMap<String, u32, FastBuild> = popular
            .iter()
            .enumerate()
            .map(|(i, p)| (p.name.clone(), i as u32))
            .collect();

        let mut one = Vec::with_capacity(popular.len() * 16);
        let mut two = Vec::new();
        let mut skeletons = HashMap::<String, u32, FastBuild>::default();
        let mut word_sets = HashMap::<String, u32, FastBuild>::default();
        for (id, p) in popular.iter().enumerate() {
            let id = id as u32;
            let b = p.name.as_bytes();
            let d = Deletions::new(b);
            one.push((d.whole(), id));
            for i in 0..b.len() {
                one.push((d.without1(i), id));
            }
            if Self::two_edits(p) {
                two.push((d.whole(), id));
                for i in 0..b.len() {
                    two.push((d.without1(i), id));
                    for j in i + 1..b.len() {
                        two.push((d.without2(i, j), id));
                    }
                }
            }
            skeletons.entry(skeleton(&p.name)).or_insert(id);
            if let Some(key) = sorted_tokens(&p.name) {
                word_sets.entry(key).or_insert(id);
            }
        }

        let mut children = vec![0u32; popular.len()];
        for p in &popular {
            // Every proper `a-b-...` prefix of a popular name that is itself
            // popular gains a child.
            for (pos, _) in p.name.match_indices('-') {
                if let Some(&id) = by_name.get(&p.name[..pos]) {
                    children[id as usize] += 1;
                }
            }
        }

        Index {
            popular,
            by_name,
            malicious: malicious.into_iter().map(|m| (m.name, m.ids)).collect(),
            curated: curated.into_iter().map(|c| (c.name.clone(), c)).collect(),
            one_edit: DeletionIndex::new(one),
            two_edits: DeletionIndex::new(two),
            skeletons,
            word_sets,
            children,
        }
    }

    fn two_edits(p: &Popular) -> bool {
        p.rank <= TWO_EDIT_MAX_RANK && (TWO_EDIT_MIN_LEN..=TWO_EDIT_MAX_LEN).contains(&p.name.len())
    }

    /// The popular packages, most downloaded first.
    pub fn popular(&self) -> &[Popular] {
        &self.popular
    }

    /// The rank of a normalised name, when it is popular.
    pub fn rank_of(&self, normalized: &str) -> Option<u32> {
        self.by_name
            .get(normalized)
            .map(|&id| self.popular[id as usize].rank)
    }

    /// The OSV ids of a normalised name, when it is known malicious.
    pub fn malicious_ids(&self, normalized: &str) -> Option<&str> {
        self.malicious.get(normalized).map(String::as_str)
    }

    /// The curated entry of a normalised name (family or dependency
    /// confusion), if any.
    pub fn curated(&self, normalized: &str) -> Option<&Curated> {
        self.curated.get(normalized)
    }

    /// The dependency-confusion names whose relative is `target`.
    pub fn confusion_names(&self, target: &str) -> Vec<&Curated> {
        let mut v: Vec<&Curated> = self
            .curated
            .values()
            .filter(|c| c.kind == CuratedKind::Confusion && c.relative == target)
            .collect();
        v.sort_by(|a, b| a.name.cmp(&b.name));
        v
    }

    /// Number of known-malicious names.
    pub fn malicious_count(&self) -> usize {
        self.malicious.len()
    }

    /// Scores one name (any spelling; it is normalised first).
    pub fn assess(&self, name: &str) -> Assessment {
        let q = normalize(name);
        let popular_rank = self.rank_of(&q);
        let known_malicious = self.malicious.get(&q).cloned();
        let mut best: Option<Finding> = None;
        let mut prefix = String::new();
        match self.curated.get(&q) {
            Some(c) if c.kind == CuratedKind::Family => {
                best = Some(Finding {
                    target: c.relative.clone(),
                    rank: self.rank_of(&c.relative),
                    technique: format!("official relative of {} ({})", c.relative, c.source),
                    score: 0.0,
                });
            }
            Some(c) => {
                best = Some(Finding {
                    target: c.relative.clone(),
                    rank: self.rank_of(&c.relative),
                    technique: format!(
                        "dependency confusion: name of a package on an ML project's own index ({})",
                        c.source
                    ),
                    score: 0.9,
                });
            }
            None => {
                if q.len() > MAX_SCORED_LEN {
                    prefix = format!("name longer than {MAX_SCORED_LEN} bytes: not searched");
                } else if !q.is_empty() {
                    best = self.best_finding(&q, popular_rank);
                }
                if let (Some(own), Some(f)) = (popular_rank, best.as_mut()) {
                    // A popular name is legitimate; keep the neighbour for
                    // context, weighted by the rank gap and kept below the
                    // threshold.
                    let gap = f.rank.map_or(0.0, |r| 1.0 - f64::from(r) / f64::from(own));
                    f.score = (f.score * 0.4 * gap).min(0.4);
                    prefix = format!("popular itself (rank {own}); nearest more popular: ");
                }
            }
        }
        let mut a = Assessment {
            name: name.to_string(),
            normalized_name: q.clone(),
            score: 0.0,
            target: None,
            target_rank: None,
            technique: String::new(),
            distance: None,
            popular_rank,
            known_malicious,
        };
        if let Some(f) = best {
            a.distance = Some(osa(q.as_bytes(), f.target.as_bytes()) as u32);
            a.score = f.score;
            a.technique = format!("{prefix}{}", f.technique);
            a.target = Some(f.target);
            a.target_rank = f.rank;
        } else if let Some(own) = popular_rank {
            a.technique = format!("popular itself (rank {own})");
        } else {
            a.technique = prefix;
        }
        if let Some(ids) = &a.known_malicious {
            a.score = 1.0;
            a.technique = if a.technique.is_empty() {
                format!("known malicious ({ids})")
            } else {
                format!("known malicious ({ids}); {}", a.technique)
            };
        }
        a.score = (a.score * 1000.0).round() / 1000.0;
        a
    }

    /// The best finding for normalised `q`; when `q` is popular with rank
    /// `own`, only more popular targets count.
    fn best_finding(&self, q: &str, own: Option<u32>) -> Option<Finding> {
        let mut findings: Vec<Finding> = Vec::new();
        self.find_lookalikes(q, &mut findings);
        self.find_swapped_words(q, &mut findings);
        self.find_version_suffix(q, &mut findings);
        self.find_prefix_change(q, &mut findings);
        self.find_typos(q, &mut findings);
        self.find_combos(q, &mut findings);
        findings
            .into_iter()
            .filter(|f| f.target != q)
            .filter(|f| match (own, f.rank) {
                (Some(own), Some(r)) => r < own,
                (Some(_), None) => false,
                _ => true,
            })
            .max_by(|a, b| {
                a.score
                    .total_cmp(&b.score)
                    .then_with(|| b.rank.unwrap_or(u32::MAX).cmp(&a.rank.unwrap_or(u32::MAX)))
            })
    }

    fn finding(&self, id: u32, technique: String, score: f64) -> Finding {
        let p = &self.popular[id as usize];
        Finding {
            target: p.name.clone(),
            rank: Some(p.rank),
            technique,
            score: score * rank_factor(p.rank),
        }
    }

    /// Delimiter changes and look-alike characters: same skeleton.
    fn find_lookalikes(&self, q: &str, out: &mut Vec<Finding>) {
        let Some(&id) = self.skeletons.get(&skeleton(q)) else {
            return;
        };
        let p = &self.popular[id as usize].name;
        if p == q {
            return;
        }
        let short = p.len() <= 3;
        let (technique, score) = if q.replace('-', "") == p.replace('-', "") {
            // Slightly above the same change seen as an edit, so the more
            // specific description wins.
            (format!("delimiter changed (\"{q}\" for \"{p}\")"), 0.91)
        } else if text::has_unicode_confusable(q) {
            (
                format!("look-alike Unicode characters imitating \"{p}\""),
                0.95,
            )
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
            (format!("look-alike characters: {}", pairs.join(", ")), 0.92)
        };
        out.push(self.finding(id, technique, if short { 0.45 } else { score }));
    }

    /// Swapped words: the same tokens in another order.
    fn find_swapped_words(&self, q: &str, out: &mut Vec<Finding>) {
        let Some(key) = sorted_tokens(q) else { return };
        if let Some(&id) = self.word_sets.get(&key) {
            let p = &self.popular[id as usize].name;
            if p != q {
                out.push(self.finding(id, format!("swapped words (\"{q}\" for \"{p}\")"), 0.85));
            }
        }
    }

    /// A popular name with a version number appended (`requests2`,
    /// `requests-toolbelt-v2`, `requests-2-32-3`).
    fn find_version_suffix(&self, q: &str, out: &mut Vec<Finding>) {
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
            if let Some(&id) = self.by_name.get(base) {
                out.push(self.finding(
                    id,
                    format!("version-number suffix \"{suffix}\" added"),
                    0.8,
                ));
                return;
            }
            if let Some(&id) = self.skeletons.get(&skeleton(base)) {
                if self.popular[id as usize].name.len() >= 5 {
                    out.push(self.finding(
                        id,
                        format!(
                            "version-number suffix \"{suffix}\" added to a look-alike (\"{base}\")"
                        ),
                        0.75,
                    ));
                    return;
                }
            }
        }
    }

    /// A popular name with its `py`/`python` prefix changed or dropped
    /// (`python-cord` for `py-cord`, `execjs` for `pyexecjs`).
    fn find_prefix_change(&self, q: &str, out: &mut Vec<Finding>) {
        const PREFIXES: [&str; 6] = ["python3-", "python-", "py3-", "py-", "python", "py"];
        let own = PREFIXES.iter().find(|p| q.starts_with(*p)).copied();
        let rest = own.map_or(q, |p| &q[p.len()..]);
        // `perf` for `pyperf`: a short word is a name of its own.
        if rest.len() < 4 || (own.is_none() && rest.len() < 5) {
            return;
        }
        for p in PREFIXES {
            if Some(p) == own {
                continue;
            }
            let candidate = format!("{p}{rest}");
            if let Some(&id) = self.by_name.get(candidate.as_str()) {
                let technique = match own {
                    Some(o) => format!("prefix changed (\"{o}\" for \"{p}\")"),
                    None => format!("prefix \"{p}\" dropped"),
                };
                out.push(self.finding(id, technique, 0.8));
                return;
            }
        }
    }

    /// Popular ids within their allowed edit distance of `q` (1, or 2 for
    /// long well-ranked names), with the distance.
    pub(crate) fn near(&self, q: &str, max: usize) -> Vec<(u32, usize)> {
        let b = q.as_bytes();
        let mut ids: Vec<u32> = Vec::new();
        // Distance 1 against every name: deletions of the suspect (0 or 1)
        // meet deletions of the name (0 or 1).
        let d = Deletions::new(b);
        let mut keys: Vec<u64> = Vec::with_capacity(b.len() + 1);
        keys.push(d.whole());
        for i in 0..b.len() {
            keys.push(d.without1(i));
        }
        for &k in &keys {
            ids.extend_from_slice(self.one_edit.get(k));
        }
        // Distance 2 only against long, well-ranked names, and only for
        // suspects short enough that a second edit is a typo rather than a
        // different name: the probes grow with the square of the length.
        if max >= 2
            && (TWO_EDIT_MIN_LEN..=TWO_EDIT_MAX_LEN + 2).contains(&(b.len() + 2))
            && !self.two_edits.is_empty()
        {
            for &k in &keys {
                ids.extend_from_slice(self.two_edits.get(k));
            }
            for i in 0..b.len() {
                for j in i + 1..b.len() {
                    ids.extend_from_slice(self.two_edits.get(d.without2(i, j)));
                }
            }
        }
        ids.sort_unstable();
        ids.dedup();
        ids.into_iter()
            .filter_map(|id| {
                let p = &self.popular[id as usize];
                let allowed = if Self::two_edits(p) {
                    max.min(2)
                } else {
                    max.min(1)
                };
                osa_bounded(b, p.name.as_bytes(), allowed)
                    .filter(|&d| d > 0)
                    .map(|d| (id, d))
            })
            .collect()
    }

    /// Typos of the published detectors: repeated, omitted, swapped,
    /// substituted (keyboard-adjacent, look-alike, bit flip) characters.
    fn find_typos(&self, q: &str, out: &mut Vec<Finding>) {
        // Candidates come in rank order (ids are ranks' positions); keep the
        // best and describe only it: popular families (`mypy-boto3-*`) put
        // hundreds of names within two edits of each other.
        let mut best: Option<(f64, u32, Vec<text::Edit>)> = None;
        for (id, d) in self.near(q, 2) {
            let p = &self.popular[id as usize];
            let base: f64 = match (d, p.name.len()) {
                // Short names sit one edit from many others.
                (1, 6..) => 0.9,
                (1, 5) => 0.75,
                (1, 4) => 0.6,
                (1, _) => 0.35,
                (_, 10..) => 0.75,
                _ => 0.65,
            };
            let factor = rank_factor(p.rank);
            if best.as_ref().is_some_and(|b| base * factor <= b.0) {
                continue;
            }
            let edits = edit_script(p.name.as_bytes(), q.as_bytes());
            let digits_only = edits.iter().all(|e| {
                matches!(e, text::Edit::Substituted { got, want } if got.is_ascii_digit() && want.is_ascii_digit())
            });
            let all_typo_like =
                text::is_exchange(&edits) || edits.iter().all(|e| typo_like(e, q.as_bytes()));
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
            let score = score * self.added_word_penalty(q, &p.name) * factor;
            if best.as_ref().map_or(true, |b| score > b.0) {
                best = Some((score, id, edits));
            }
        }
        if let Some((score, id, edits)) = best {
            let p = &self.popular[id as usize];
            out.push(Finding {
                target: p.name.clone(),
                rank: Some(p.rank),
                technique: describe_edits(&edits, q.as_bytes()),
                score,
            });
        }
    }

    /// `torch-gpu` is one edit from `torch-npu`, but the edit made an
    /// ecosystem word: that is a combosquat of `torch`, not a typo of
    /// `torch-npu`. Returns a factor that lets the combosquat win.
    fn added_word_penalty(&self, q: &str, p: &str) -> f64 {
        let qt: Vec<&str> = q.split('-').collect();
        let pt: Vec<&str> = p.split('-').collect();
        if qt.len() != pt.len() || qt.len() < 2 {
            return 1.0;
        }
        let differing: Vec<usize> = (0..qt.len()).filter(|&i| qt[i] != pt[i]).collect();
        match differing.as_slice() {
            [i] if is_added_word(qt[*i]) => 0.75,
            _ => 1.0,
        }
    }

    fn is_plugin_host(&self, id: u32) -> bool {
        self.children[id as usize] as usize >= PLUGIN_HOST_CHILDREN
    }

    /// Combosquats: a popular name (possibly misspelled) plus added words.
    fn find_combos(&self, q: &str, out: &mut Vec<Finding>) {
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

    fn find_delimited_combos(&self, q: &str, tokens: &[(usize, usize)], out: &mut Vec<Finding>) {
        let n = tokens.len();
        // The longest proper span of tokens that is a popular name (exact or
        // one edit away, for spans of five characters or more).
        let mut best: Option<(usize, usize, u32, usize)> = None; // (a, b, id, distance)
        for a in 0..n {
            for b in (a + 1..=n).rev() {
                if b - a == n {
                    continue;
                }
                let span = &q[tokens[a].0..tokens[b - 1].1];
                let found = match self.by_name.get(span) {
                    Some(&id) if span.len() >= 3 => Some((id, 0)),
                    Some(_) => None,
                    // A misspelled base of one or two words.
                    None if span.len() >= 5 && b - a <= 2 && !is_added_word(span) => self
                        .near(span, 1)
                        .into_iter()
                        .min_by_key(|&(id, _)| self.popular[id as usize].rank),
                    None => None,
                };
                if let Some((id, d)) = found {
                    let better = match best {
                        None => true,
                        Some((ba, bb, bid, bd)) => {
                            (
                                d,
                                std::cmp::Reverse(span.len()),
                                self.popular[id as usize].rank,
                            ) < (
                                bd,
                                std::cmp::Reverse(tokens[bb - 1].1 - tokens[ba].0),
                                self.popular[bid as usize].rank,
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
        let base = &self.popular[id as usize].name;
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
            } else if w.len() >= 4 && self.by_name.contains_key(w) {
                popular_words.push(w);
            } else {
                other.push(w);
            }
        }
        let host = self.is_plugin_host(id);
        let typo = if d > 0 {
            let span = &q[tokens[a].0..tokens[b - 1].1];
            let edits = edit_script(base.as_bytes(), span.as_bytes());
            Some(describe_edits(&edits, span.as_bytes()))
        } else {
            None
        };
        let mut parts = Vec::new();
        if let Some(t) = &typo {
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
        let rank = self.popular[id as usize].rank;
        let score: f64 = if rank > COMBO_MAX_RANK || !other.is_empty() {
            // Unpopular bases and unknown added words: how most legitimate
            // long-tail names are made.
            0.3
        } else if typo.is_some() {
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
        out.push(self.finding(
            id,
            format!("combosquat of \"{base}\": {}", parts.join(", ")),
            score,
        ));
    }

    /// Combosquats without a delimiter: `pyrequests`, `numpyutils`,
    /// `torchtriton`.
    fn find_joined_combos(&self, q: &str, out: &mut Vec<Finding>) {
        if !q.is_ascii() || q.len() < 6 {
            return;
        }
        for cut in 2..q.len() - 1 {
            let (left, right) = q.split_at(cut);
            if let Some(&id) = self
                .by_name
                .get(left)
                .filter(|&&id| left.len() >= 4 && self.popular[id as usize].rank <= COMBO_MAX_RANK)
            {
                if is_added_word(right) && right.len() >= 2 {
                    out.push(self.finding(
                        id,
                        format!("combosquat of \"{left}\": added \"{right}\" without a delimiter"),
                        if self.is_plugin_host(id) { 0.45 } else { 0.7 },
                    ));
                } else if right.len() >= 4 && self.by_name.contains_key(right) {
                    out.push(self.finding(
                        id,
                        format!("combosquat of \"{left}\": joined popular \"{right}\""),
                        0.6,
                    ));
                }
            }
            if PREFIX_WORDS.contains(&left) && right.len() >= 4 {
                if let Some(&id) = self
                    .by_name
                    .get(right)
                    .filter(|&&id| self.popular[id as usize].rank <= COMBO_MAX_RANK)
                {
                    out.push(self.finding(
                        id,
                        format!("combosquat of \"{right}\": prefix \"{left}\" added"),
                        0.7,
                    ));
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

#[cfg(test)]
mod tests {
    use super::*;

    fn idx() -> &'static Index {
        Index::embedded()
    }

    fn check(name: &str, target: &str, technique: &str) {
        let a = idx().assess(name);
        assert!(a.is_flagged(), "{name} not flagged: {a:?}");
        assert_eq!(a.target.as_deref(), Some(target), "{name}: {a:?}");
        assert!(
            a.technique.contains(technique),
            "{name}: technique {:?} lacks {technique:?}",
            a.technique
        );
    }

    #[test]
    fn the_issue_examples_are_caught() {
        check("torch-utilites", "torch", "misspelled word \"utilites\"");
        check("reqeusts", "requests", "swapped \"eu\" -> \"ue\"");
        check("tensorfllow", "tensorflow", "repeated \"l\"");
        check("requests-toolbelts", "requests-toolbelt", "added \"s\"");
        check("python-torch", "torch", "\"python\"");
        check("torch-gpu", "torch", "\"gpu\"");
        check(
            "tensorflow-nightly-cpu",
            "tensorflow",
            "\"nightly\", \"cpu\"",
        );
        check("torchtriton", "torch", "dependency confusion");
    }

    #[test]
    fn published_detector_techniques_are_caught() {
        check("requsts", "requests", "omitted \"e\"");
        check("numpyy", "numpy", "repeated \"y\"");
        check(
            "matplotlob",
            "matplotlib",
            "substituted \"o\" -> \"i\" (keyboard-adjacent)",
        );
        check("dateutil-python", "python-dateutil", "swapped words");
        check("pythondateutil", "python-dateutil", "delimiter changed");
        check("requests2", "requests", "version-number suffix \"2\"");
        check(
            "requests-toolbelt-v2",
            "requests-toolbelt",
            "version-number suffix \"v2\"",
        );
    }

    #[test]
    fn what_the_published_detectors_miss_is_caught() {
        check("rnatplotlib", "matplotlib", "\"rn\" for \"m\"");
        check("b0to3", "boto3", "\"0\" for \"o\"");
        check("pyyam1", "pyyaml", "\"1\" for \"l\"");
        check("tоrch", "torch", "Unicode");
        check("numpyutils", "numpy", "without a delimiter");
        check("py-requests", "requests", "\"py\"");
        check("torch-cuda", "torch", "\"cuda\"");
        check("tensorfllow-gpu", "tensorflow", "misspelled \"tensorflow\"");
        check("execjs", "pyexecjs", "prefix \"py\" dropped");
        assert!(
            !idx().assess("perf").is_flagged(),
            "perf is not a squat of pyperf"
        );
    }

    #[test]
    fn legitimate_neighbours_are_not_flagged() {
        for name in [
            "torch",
            "torchvision",
            "torchaudio",
            "tensorflow",
            "tensorflow-gpu",
            "huggingface-hub",
            "huggingface_hub",
            "HuggingFace.Hub",
            "requests",
            "requests-toolbelt",
            "python-dateutil",
            "pytorch-triton",
            "numpy",
            "six",
            "boto3",
            "botocore",
        ] {
            let a = idx().assess(name);
            assert!(!a.is_flagged(), "{name} flagged: {a:?}");
        }
        let fam = idx().assess("tensorflow-gpu");
        assert_eq!(fam.target.as_deref(), Some("tensorflow"));
        assert!(fam.technique.contains("official relative"));
    }

    #[test]
    fn a_popular_name_keeps_its_neighbour_below_the_threshold() {
        // `tf-nightly-cpu` is popular and one word from `tf-nightly`: shown,
        // never flagged, weighted by the rank gap.
        let a = idx().assess("tf-nightly-cpu");
        assert!(a.is_popular());
        assert!(a.score < DEFAULT_THRESHOLD, "{a:?}");
        assert!(a.technique.starts_with("popular itself"), "{}", a.technique);
    }

    #[test]
    fn known_malicious_names_score_one_and_keep_their_shape() {
        let a = idx().assess("huggingface-hubs");
        assert_eq!(a.score, 1.0);
        assert!(a
            .known_malicious
            .as_deref()
            .is_some_and(|i| i.starts_with("MAL-")));
        assert_eq!(a.target.as_deref(), Some("huggingface-hub"));
        assert!(a.technique.starts_with("known malicious (MAL-"));
        // Without the list the same name is still caught by its shape.
        let shape_only = Index::from_tsv(data::TOP_TSV, "", data::CURATED_TSV);
        let b = shape_only.assess("huggingface-hubs");
        assert!(b.is_flagged() && b.known_malicious.is_none(), "{b:?}");
    }

    #[test]
    fn rank_gap_weighs_the_score() {
        // One omitted letter from a top-10 name beats the same from a name
        // near the bottom of the list.
        let top = idx().assess("reqests");
        let low = idx().assess(&{
            let tail = &idx().popular()[idx().popular().len() - 50].name;
            let mut s = tail.clone();
            s.remove(s.len() / 2);
            s
        });
        assert!(top.score > low.score, "{top:?} vs {low:?}");
    }

    #[test]
    fn hostile_names_never_panic_and_stay_bounded() {
        let long = "a".repeat(100_000);
        let names = [
            "",
            "-",
            "---",
            "é",
            "tоrch-υtils",
            "торч",
            "\u{0}",
            "a-",
            "-a",
            "1",
            "v2",
            "torch-",
            "ab-cd-ef-gh-ij-kl-mn-op-qr-st-uv-wx-yz-12-34-56-78-90",
            long.as_str(),
        ];
        for n in names {
            let a = idx().assess(n);
            assert!((0.0..=1.0).contains(&a.score), "{n:?}: {a:?}");
        }
        let a = idx().assess(&long);
        assert!(a.technique.contains("not searched"));
        // A deterministic sweep of odd strings (no dependency for fuzzing).
        let alphabet: Vec<char> = "ab-_.01rnmé中ωо ".chars().collect();
        let mut x: u64 = 7;
        for _ in 0..2_000 {
            let mut s = String::new();
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
            for k in 0..(x >> 60) as usize + 1 {
                let r = (x >> (k % 50)) as usize;
                s.push(alphabet[r % alphabet.len()]);
            }
            let a = idx().assess(&s);
            assert!((0.0..=1.0).contains(&a.score), "{s:?}: {a:?}");
        }
    }
}
