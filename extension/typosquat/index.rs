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
//! dependency-confusion names of ML projects' own indexes (`torchtriton`);
//! the detectors live in `detect.rs`, this module holds the data they search.
//!
//! Edit distance uses a deletion-neighbourhood index: every popular name is
//! stored under the hash of each string obtained by deleting one character
//! (two for long, well-ranked names); a suspect is looked up under its own
//! deletions, and the few candidates found are checked with the real
//! distance. No suspect is compared with all 15,000 names.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use super::data::{self, Curated, CuratedKind, Popular};
use super::detect::Finding;
use super::normalize;
use super::text::{collapse_runs, osa, osa_bounded, skeleton, Deletions, FastBuild};

/// Names ranked at or above this, and at least [`TWO_EDIT_MIN_LEN`] long, are
/// matched at edit distance 2; all others at distance 1.
pub const TWO_EDIT_MAX_RANK: u32 = 5_000;
/// See [`TWO_EDIT_MAX_RANK`].
pub const TWO_EDIT_MIN_LEN: usize = 8;
/// ... and at most this long (longer names differ by two edits far more
/// often by design than by a slip).
pub const TWO_EDIT_MAX_LEN: usize = 30;
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

/// The index. Build it once per process ([`Index::embedded`]) and share it.
#[derive(Debug)]
pub struct Index {
    pub(super) popular: Vec<Popular>,
    pub(super) by_name: HashMap<String, u32, FastBuild>,
    malicious: HashMap<String, String, FastBuild>,
    curated: HashMap<String, Curated, FastBuild>,
    /// Every popular name under its 0- and 1-deletion variants.
    one_edit: DeletionIndex,
    /// Long, well-ranked names ([`TWO_EDIT_MAX_RANK`]) under their 0-, 1-
    /// and 2-deletion variants.
    two_edits: DeletionIndex,
    /// Skeleton -> best-ranked popular id with it.
    pub(super) skeletons: HashMap<String, u32, FastBuild>,
    /// Name with runs of one character collapsed -> best-ranked popular id.
    pub(super) collapsed: HashMap<String, u32, FastBuild>,
    /// Sorted tokens -> best-ranked popular id (multi-word names only).
    pub(super) word_sets: HashMap<String, u32, FastBuild>,
    /// Per popular id: how many popular names start with `name-`.
    pub(super) children: Vec<u32>,
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

/// The words of a name in sorted order, joined: equal for names that only
/// swap their words. `None` for one-word names.
pub(super) fn sorted_tokens(name: &str) -> Option<String> {
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
        let mut collapsed = HashMap::<String, u32, FastBuild>::default();
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
            collapsed.entry(collapse_runs(&p.name)).or_insert(id);
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
            collapsed,
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
        check("asynciooo", "asyncio", "repeated characters (2 extra)");
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
    fn spelling_variants_of_one_name_get_one_verdict() {
        for (a, b) in [
            ("Torch_Utilites", "torch-utilites"),
            ("REQEUSTS", "reqeusts"),
            ("huggingface_hub", "HuggingFace-Hub"),
            ("tensorflow..gpu", "tensorflow-gpu"),
        ] {
            let (x, y) = (idx().assess(a), idx().assess(b));
            assert_eq!(x.normalized_name, y.normalized_name);
            assert_eq!(
                (x.score, x.target, x.technique, x.distance),
                (y.score, y.target, y.technique, y.distance),
                "{a} vs {b}"
            );
        }
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
