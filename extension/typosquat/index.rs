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
//! distance. No suspect is compared with all 15,000 names. The index of the
//! shipped data is packed at compile time (`pack.rs`, run by `build.rs`).

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::OnceLock;

use super::data::{self, Curated, CuratedKind, Popular};
use super::detect::Finding;
use super::keys::str_hash;
use super::normalize;
use super::pack::{self, Section, SECTIONS};
pub use super::pack::{TWO_EDIT_MAX_LEN, TWO_EDIT_MAX_RANK, TWO_EDIT_MIN_LEN};
#[cfg(test)]
use super::text::osa_bounded;
use super::text::{osa, osa_within, Deletions, FastBuild};
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
///
/// Everything but the curated names lives in the packed tables
/// (`pack.rs`): for [`Index::embedded`] they are compiled into the binary
/// and read in place, so a process pays nothing to start scoring.
pub struct Index {
    tables: Tables,
    curated: HashMap<String, Curated, FastBuild>,
    /// The popular names as owned entries, made on first use of
    /// [`Index::popular`].
    popular: OnceLock<Vec<Popular>>,
}

impl std::fmt::Debug for Index {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Index")
            .field("popular", &self.tables.n)
            .field("malicious", &self.malicious_count())
            .field("curated", &self.curated.len())
            .finish()
    }
}

/// The packed pool and tables, read in place (see `pack.rs` for the
/// layout). Every read is bounds-checked: a damaged table reads as absent
/// entries, never as a panic.
struct Tables {
    pool: Cow<'static, str>,
    bytes: Cow<'static, [u8]>,
    /// `(byte offset, byte length)` of each section.
    sections: [(usize, usize); SECTIONS],
    /// Directory bits of each directory section (0 for the others).
    bits: [u32; SECTIONS],
    /// Bits of each string map's key filter, in map order.
    filter_bits: [u32; 5],
    /// Number of popular names.
    n: usize,
}

/// Why packed tables cannot be read.
#[derive(Debug, thiserror::Error)]
#[error("typosquat tables: {0}")]
struct TablesError(&'static str);

fn read_u32(b: &[u8], at: usize) -> u32 {
    match b.get(at..at + 4) {
        Some(s) => u32::from_le_bytes([s[0], s[1], s[2], s[3]]),
        None => 0,
    }
}

fn read_u64(b: &[u8], at: usize) -> u64 {
    match b.get(at..at + 8) {
        Some(s) => u64::from_le_bytes([s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7]]),
        None => 0,
    }
}

const DIRECTORIES: [Section; 7] = [
    Section::ByNameDir,
    Section::MaliciousDir,
    Section::SkeletonDir,
    Section::CollapsedDir,
    Section::WordSetDir,
    Section::OneEditDir,
    Section::TwoEditDir,
];

impl Tables {
    fn new(pool: Cow<'static, str>, bytes: Cow<'static, [u8]>) -> Result<Tables, TablesError> {
        if bytes.get(..8) != Some(&pack::MAGIC[..]) {
            return Err(TablesError("wrong magic or version"));
        }
        if read_u32(&bytes, 8) as usize != SECTIONS || bytes.len() < pack::HEADER_LEN {
            return Err(TablesError("wrong section count"));
        }
        let mut sections = [(0, 0); SECTIONS];
        for (i, s) in sections.iter_mut().enumerate() {
            let (off, len) = (
                read_u32(&bytes, 16 + 8 * i) as usize,
                read_u32(&bytes, 20 + 8 * i) as usize,
            );
            if off.checked_add(len).is_none_or(|end| end > bytes.len()) {
                return Err(TablesError("section out of bounds"));
            }
            *s = (off, len);
        }
        let mut bits = [0; SECTIONS];
        for d in DIRECTORIES {
            let buckets = (sections[d as usize].1 / 4).saturating_sub(1);
            if !buckets.is_power_of_two() {
                return Err(TablesError("directory size"));
            }
            bits[d as usize] = buckets.trailing_zeros();
        }
        let mut filter_bits = [0; 5];
        for (slot, f) in MAP_FILTERS.iter().enumerate() {
            let len = sections[*f as usize].1;
            if len < 8 || !len.is_power_of_two() {
                return Err(TablesError("map filter size"));
            }
            filter_bits[slot] = (len * 8).trailing_zeros();
        }
        let n = sections[Section::Rank as usize].1 / 4;
        if sections[Section::NameOff as usize].1 != 4 * (n + 1)
            || sections[Section::Children as usize].1 != 4 * n
            || sections[Section::NeighbourOff as usize].1 != 4 * (n + 1)
            || !sections[Section::Neighbours as usize].1.is_multiple_of(4)
        {
            return Err(TablesError("name table sizes"));
        }
        Ok(Tables {
            pool,
            bytes,
            sections,
            bits,
            filter_bits,
            n,
        })
    }

    fn section(&self, s: Section) -> &[u8] {
        let (off, len) = self.sections[s as usize];
        &self.bytes[off..off + len]
    }

    fn u32_in(&self, s: Section, i: usize) -> u32 {
        read_u32(self.section(s), 4 * i)
    }

    fn name(&self, id: u32) -> &str {
        let at = id as usize;
        let (a, b) = (
            self.u32_in(Section::NameOff, at) as usize,
            self.u32_in(Section::NameOff, at + 1) as usize,
        );
        self.pool.get(a..b).unwrap_or("")
    }

    /// The popular names near popular name `id` (see
    /// [`Section::Neighbours`]): `(id, distance)` in id order.
    fn neighbours(&self, id: u32) -> Vec<(u32, usize)> {
        let at = id as usize;
        let entries = self.section(Section::Neighbours);
        let (a, b) = (
            self.u32_in(Section::NeighbourOff, at) as usize,
            self.u32_in(Section::NeighbourOff, at + 1) as usize,
        );
        let end = b.min(entries.len() / 4);
        (a.min(end)..end)
            .map(|i| {
                let e = read_u32(entries, 4 * i);
                let mask = (1 << pack::NEIGHBOUR_SHIFT) - 1;
                (e & mask, (e >> pack::NEIGHBOUR_SHIFT) as usize)
            })
            .collect()
    }

    /// The two values filed under `key` in the string map `dir` (its
    /// entries are the next section).
    fn map_get(&self, dir: Section, key: &str) -> Option<(u32, u32)> {
        self.map_get_hashed(dir, key, str_hash(key.as_bytes()))
    }

    /// Asks the memory for the cache lines a lookup of the key with
    /// [`str_hash`] `h` in the string map `dir` reads first (its filter
    /// byte and directory bucket), so that several lookups known in
    /// advance wait for memory once, together. Changes no answer.
    fn map_prefetch(&self, dir: Section, h: u64) {
        let slot = dir_slot(dir);
        let bit = pack::key_filter_bit(h, self.filter_bits[slot]);
        prefetch(self.section(MAP_FILTERS[slot]), bit / 8);
        prefetch(
            self.section(dir),
            4 * pack::bucket(h, self.bits[dir as usize]),
        );
    }

    /// [`Tables::map_get`] of a key whose [`str_hash`] is `h`.
    fn map_get_hashed(&self, dir: Section, key: &str, h: u64) -> Option<(u32, u32)> {
        let d = self.section(dir);
        let entries = self.section(DIRECTORIES_ENTRIES[dir_slot(dir)]);
        let slot = dir_slot(dir);
        let bit = pack::key_filter_bit(h, self.filter_bits[slot]);
        if self
            .section(MAP_FILTERS[slot])
            .get(bit / 8)
            .is_some_and(|byte| byte & (1 << (bit % 8)) == 0)
        {
            return None;
        }
        let b = pack::bucket(h, self.bits[dir as usize]);
        let tag = pack::tag(h);
        let (start, end) = (read_u32(d, 4 * b) as usize, read_u32(d, 4 * b + 4) as usize);
        let pool = self.pool.as_bytes();
        for i in start..end.min(entries.len() / pack::MAP_ENTRY) {
            let e = pack::MAP_ENTRY * i;
            if read_u32(entries, e + 8) != tag {
                continue;
            }
            let (off, len) = (
                read_u32(entries, e) as usize,
                read_u32(entries, e + 4) as usize,
            );
            if len == key.len() && pool.get(off..off + len) == Some(key.as_bytes()) {
                return Some((read_u32(entries, e + 12), read_u32(entries, e + 16)));
            }
        }
        None
    }

    /// Appends the ids filed under each of `hashes` in the deletion table
    /// `dir` (its entries and filter are the next two sections), and
    /// possibly a few more that share a hash's directory bits and
    /// fingerprint. `scratch` is working space.
    ///
    /// Three passes, so that the probes' cache misses overlap instead of
    /// queueing: the filter bits of every hash (no branch on a load), then
    /// the directory ranges of the hashes that pass, touching each range's
    /// first entry, then the scans.
    fn deletion_ids(&self, dir: Section, hashes: &[u64], scratch: &mut Probes, out: &mut Vec<u32>) {
        let (entries, filter) = match dir {
            Section::OneEditDir => (Section::OneEditEntries, Section::OneEditFilter),
            _ => (Section::TwoEditEntries, Section::TwoEditFilter),
        };
        let d = self.section(dir);
        let (entries, filter) = (self.section(entries), self.section(filter));
        let bits = self.bits[dir as usize];
        let filter_bits = (filter.len() * 8).max(1).trailing_zeros();
        let width = pack::entry_width(self.n);
        let count = entries.len() / width;
        let passed = &mut scratch.passed;
        passed.clear();
        passed.resize(hashes.len(), 0);
        let mut kept = 0;
        for &h in hashes {
            let (word, mask) = pack::filter_word(h, filter_bits);
            let set = read_u64(filter, 8 * word) & mask == mask;
            passed[kept] = h;
            kept += usize::from(set);
        }
        let ranges = &mut scratch.ranges;
        ranges.clear();
        let mut touched = 0u32;
        for &h in &passed[..kept] {
            let b = pack::bucket(h, bits);
            let start = read_u32(d, 4 * b) as usize;
            let end = (read_u32(d, 4 * b + 4) as usize).min(count);
            touched ^= read_u32(entries, width * start);
            ranges.push((start, end, pack::fingerprint(h, bits)));
        }
        std::hint::black_box(touched);
        for &(start, end, fp) in ranges.iter() {
            // Sorted by fingerprint: stop at the first greater one.
            for i in start..end {
                let (f, id) = if width == 4 {
                    let e = read_u32(entries, 4 * i);
                    (e as u16, e >> 16)
                } else {
                    let e = read_u64(entries, 8 * i);
                    (e as u16, (e >> 16) as u32)
                };
                if f == fp {
                    out.push(id);
                } else if f > fp {
                    break;
                }
            }
        }
    }
}

/// A hint to load the cache line of `bytes[at]` (nothing when `at` is out
/// of bounds, or on other architectures): a lookup known in advance starts
/// its wait for memory early.
fn prefetch(bytes: &[u8], at: usize) {
    #[cfg(target_arch = "x86_64")]
    if let Some(b) = bytes.get(at) {
        // SAFETY: a prefetch is a hint; it reads nothing into the program
        // and cannot fault, and the address is inside `bytes` anyway.
        unsafe {
            std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(
                (b as *const u8).cast(),
            )
        };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (bytes, at);
}

/// Working space of [`Tables::deletion_ids`].
#[derive(Default)]
struct Probes {
    /// The hashes whose filter bit is set.
    passed: Vec<u64>,
    /// Their entry ranges and fingerprints.
    ranges: Vec<(usize, usize, u16)>,
}

/// Working space of [`Index::near`], kept per thread so that a search
/// allocates nothing but its answer.
struct NearScratch {
    deletions: Deletions,
    keys: Vec<u64>,
    ids: Vec<u32>,
    probes: Probes,
}

thread_local! {
    static NEAR_SCRATCH: std::cell::RefCell<NearScratch> = std::cell::RefCell::new(NearScratch {
        deletions: Deletions::new(b""),
        keys: Vec::new(),
        ids: Vec::new(),
        probes: Probes::default(),
    });
}

/// The string maps from a key to a popular id.
#[derive(Clone, Copy)]
pub(super) enum KeyMap {
    /// Normalised names.
    Name,
    /// Look-alike skeletons.
    Skeleton,
    /// Names with runs collapsed.
    Collapsed,
    /// Sorted words.
    WordSet,
}

impl KeyMap {
    fn dir(self) -> Section {
        match self {
            KeyMap::Name => Section::ByNameDir,
            KeyMap::Skeleton => Section::SkeletonDir,
            KeyMap::Collapsed => Section::CollapsedDir,
            KeyMap::WordSet => Section::WordSetDir,
        }
    }
}

/// The entries section of each string-map directory.
const DIRECTORIES_ENTRIES: [Section; 5] = [
    Section::ByName,
    Section::Malicious,
    Section::Skeleton,
    Section::Collapsed,
    Section::WordSet,
];

/// The key filter section of each string-map directory.
const MAP_FILTERS: [Section; 5] = [
    Section::ByNameFilter,
    Section::MaliciousFilter,
    Section::SkeletonFilter,
    Section::CollapsedFilter,
    Section::WordSetFilter,
];

fn dir_slot(dir: Section) -> usize {
    match dir {
        Section::ByNameDir => 0,
        Section::MaliciousDir => 1,
        Section::SkeletonDir => 2,
        Section::CollapsedDir => 3,
        _ => 4,
    }
}

/// Curated entries by name (the last of a name wins).
fn curated_map(curated: Vec<Curated>) -> HashMap<String, Curated, FastBuild> {
    curated.into_iter().map(|c| (c.name.clone(), c)).collect()
}

/// The pool and tables `build.rs` packed from the shipped data.
static EMBEDDED_POOL: &str = include_str!(concat!(env!("OUT_DIR"), "/typosquat_pool.txt"));
/// See [`EMBEDDED_POOL`].
static EMBEDDED_TABLES: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/typosquat_tables.bin"));

impl Index {
    /// The index of the data shipped in the binary: tables packed at
    /// compile time and read in place, so this costs microseconds.
    pub fn embedded() -> &'static Index {
        static INDEX: OnceLock<Index> = OnceLock::new();
        INDEX.get_or_init(|| {
            match Tables::new(Cow::Borrowed(EMBEDDED_POOL), Cow::Borrowed(EMBEDDED_TABLES)) {
                Ok(tables) => Index::with_tables(
                    tables,
                    curated_map(data::parse_curated(data::CURATED_TSV, normalize).0),
                ),
                Err(e) => {
                    // Only a broken build gets here: pack the data again.
                    log::error!("{e}; rebuilding the typosquat index at run time");
                    Index::from_tsv(data::TOP_TSV, data::MALICIOUS_TSV, data::CURATED_TSV)
                }
            }
        })
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

    /// Builds an index from parsed entries (packed at run time, with the
    /// code `build.rs` packs the embedded index with).
    pub fn new(
        popular: Vec<Popular>,
        malicious: Vec<data::Malicious>,
        curated: Vec<Curated>,
    ) -> Index {
        let curated = curated_map(curated);
        let packed = pack::pack(popular, malicious);
        match Tables::new(Cow::Owned(packed.pool), Cow::Owned(packed.tables)) {
            Ok(tables) => Index::with_tables(tables, curated),
            Err(e) => {
                // pack() and Tables::new() share one layout: unreachable
                // unless they drift apart; an empty index then, not a panic.
                log::error!("{e}: typosquat index left empty");
                let empty = pack::pack(Vec::new(), Vec::new());
                let tables = Tables::new(Cow::Owned(empty.pool), Cow::Owned(empty.tables))
                    .unwrap_or_else(|_| unreachable!("the empty index packs"));
                Index::with_tables(tables, curated)
            }
        }
    }

    fn with_tables(tables: Tables, curated: HashMap<String, Curated, FastBuild>) -> Index {
        Index {
            tables,
            curated,
            popular: OnceLock::new(),
        }
    }

    /// The normalised name of popular id `id` (ids are rank order).
    pub(super) fn name(&self, id: u32) -> &str {
        self.tables.name(id)
    }

    /// The download rank of popular id `id`.
    pub(super) fn rank(&self, id: u32) -> u32 {
        self.tables.u32_in(Section::Rank, id as usize)
    }

    /// How many popular names start with `name(id)-`.
    pub(super) fn children(&self, id: u32) -> u32 {
        self.tables.u32_in(Section::Children, id as usize)
    }

    /// The popular id of a normalised name.
    pub(super) fn id_of(&self, normalized: &str) -> Option<u32> {
        self.tables
            .map_get(Section::ByNameDir, normalized)
            .map(|(id, _)| id)
    }

    /// Starts the memory reads of a lookup of a key with [`str_hash`] `h`
    /// in `map` (see [`Tables::map_prefetch`]).
    pub(super) fn prefetch_key(&self, map: KeyMap, h: u64) {
        self.tables.map_prefetch(map.dir(), h);
    }

    /// The value of a key with [`str_hash`] `h` in `map`: the popular id
    /// (the best-ranked one for a shared key).
    pub(super) fn key_id(&self, map: KeyMap, key: &str, h: u64) -> Option<u32> {
        self.tables
            .map_get_hashed(map.dir(), key, h)
            .map(|(id, _)| id)
    }

    /// The best-ranked popular id with this skeleton.
    pub(super) fn skeleton_id(&self, skeleton: &str) -> Option<u32> {
        self.tables
            .map_get(Section::SkeletonDir, skeleton)
            .map(|(id, _)| id)
    }

    fn is_two_edit(&self, id: u32) -> bool {
        pack::two_edits(self.rank(id), self.name(id).len())
    }

    /// The popular packages, most downloaded first.
    pub fn popular(&self) -> &[Popular] {
        self.popular.get_or_init(|| {
            (0..self.tables.n as u32)
                .map(|id| Popular {
                    rank: self.rank(id),
                    name: self.name(id).to_string(),
                })
                .collect()
        })
    }

    /// The rank of a normalised name, when it is popular.
    pub fn rank_of(&self, normalized: &str) -> Option<u32> {
        self.id_of(normalized).map(|id| self.rank(id))
    }

    /// The OSV ids of a normalised name, when it is known malicious.
    pub fn malicious_ids(&self, normalized: &str) -> Option<&str> {
        let (off, len) = self.tables.map_get(Section::MaliciousDir, normalized)?;
        self.tables
            .pool
            .get(off as usize..off as usize + len as usize)
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
        self.tables.section(Section::Malicious).len() / pack::MAP_ENTRY
    }

    /// Scores one name (any spelling; it is normalised first).
    pub fn assess(&self, name: &str) -> Assessment {
        let q = normalize(name);
        // Both lookups of the name wait for memory together.
        let h = str_hash(q.as_bytes());
        self.tables.map_prefetch(Section::ByNameDir, h);
        self.tables.map_prefetch(Section::MaliciousDir, h);
        let own_id = self
            .tables
            .map_get_hashed(Section::ByNameDir, &q, h)
            .map(|(id, _)| id);
        let popular_rank = own_id.map(|id| self.rank(id));
        let known_malicious = self
            .tables
            .map_get_hashed(Section::MaliciousDir, &q, h)
            .and_then(|(off, len)| {
                self.tables
                    .pool
                    .get(off as usize..off as usize + len as usize)
            })
            .map(str::to_string);
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
                    best = self.best_finding(&q, own_id);
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
            a.technique = if prefix.is_empty() {
                f.technique
            } else {
                format!("{prefix}{}", f.technique)
            };
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
    /// long well-ranked names), with the distance, in id order.
    ///
    /// The deletion tables propose candidates (a superset of the names
    /// sharing a deletion variant with `q`); the exact distance decides.
    /// A name is allowed distance 2 only when the distance-2 table was
    /// probed: otherwise (`q` outside its lengths, or `max` 1) no name at
    /// distance 2 can share a variant of at most one deletion with `q`, so
    /// the answer is exactly every name at distance 1, plus, when probed,
    /// every long, well-ranked name at distance 2.
    pub(crate) fn near(&self, q: &str, max: usize) -> Vec<(u32, usize)> {
        self.near_staged(q, max, |_| false)
    }

    /// [`Index::near`]`(name(id), 2)` for popular id `id`, packed with
    /// the tables.
    pub(crate) fn near_popular(&self, id: u32) -> Vec<(u32, usize)> {
        self.tables.neighbours(id)
    }

    /// [`Index::near`] in two stages: the names the distance-1 table
    /// proposes (the answer when the distance-2 table is not probed) are
    /// checked first and shown to `enough`; when it returns true the
    /// distance-2 table is not probed and those are the answer (a subset
    /// of [`Index::near`]'s, which lacks only long, well-ranked names at
    /// distance 2). Otherwise the answer is [`Index::near`]'s.
    ///
    /// The distance-2 probes are most of a search's cost, and a caller that
    /// already holds a result no name at distance 2 can beat need not pay
    /// for them.
    pub(crate) fn near_staged(
        &self,
        q: &str,
        max: usize,
        enough: impl FnOnce(&[(u32, usize)]) -> bool,
    ) -> Vec<(u32, usize)> {
        NEAR_SCRATCH.with(|cell| match cell.try_borrow_mut() {
            Ok(mut scratch) => self.near_in(q, max, enough, &mut scratch),
            // Only a re-entrant call gets here (none does): fresh space.
            Err(_) => self.near_in(
                q,
                max,
                enough,
                &mut NearScratch {
                    deletions: Deletions::new(b""),
                    keys: Vec::new(),
                    ids: Vec::new(),
                    probes: Probes::default(),
                },
            ),
        })
    }

    /// [`Index::near_staged`] in the working space `s`.
    fn near_in(
        &self,
        q: &str,
        max: usize,
        enough: impl FnOnce(&[(u32, usize)]) -> bool,
        s: &mut NearScratch,
    ) -> Vec<(u32, usize)> {
        let b = q.as_bytes();
        let NearScratch {
            deletions: d,
            keys,
            ids,
            probes,
        } = s;
        ids.clear();
        keys.clear();
        // Distance 1 against every name: deletions of the suspect (0 or 1)
        // meet deletions of the name (0 or 1).
        d.reset(b);
        // Distance 2 only against long, well-ranked names, and only for
        // suspects short enough that a second edit is a typo rather than a
        // different name: the probes grow with the square of the length.
        let two = max >= 2
            && (TWO_EDIT_MIN_LEN..=TWO_EDIT_MAX_LEN + 2).contains(&(b.len() + 2))
            && !self.tables.section(Section::TwoEditEntries).is_empty();
        // Deleting either of two equal neighbours gives the same string:
        // its hash is probed once.
        let repeat = |i: usize| i > 0 && b[i] == b[i - 1];
        keys.push(d.whole());
        for i in 0..b.len() {
            if !repeat(i) {
                keys.push(d.without1(i));
            }
        }
        self.tables
            .deletion_ids(Section::OneEditDir, keys, probes, ids);
        ids.sort_unstable();
        ids.dedup();
        // A name may be at distance 2 only when the distance-2 table is
        // probed (see `near`), whichever table proposed it.
        let check = |id: u32| {
            let allowed = max.min(if two && self.is_two_edit(id) { 2 } else { 1 });
            osa_within(b, self.name(id).as_bytes(), allowed)
                .filter(|&d| d > 0)
                .map(|d| (id, d))
        };
        let first: Vec<(u32, usize)> = ids.iter().filter_map(|&id| check(id)).collect();
        if !two || enough(&first) {
            return first;
        }
        // The distance-2 table holds strings of at least
        // TWO_EDIT_MIN_LEN - 2 characters: shorter keys are not probed.
        let shortest = TWO_EDIT_MIN_LEN - 2;
        if b.len() - 1 < shortest {
            keys.truncate(1);
        }
        if b.len() - 2 >= shortest {
            for i in 0..b.len() {
                if repeat(i) {
                    continue;
                }
                for j in i + 1..b.len() {
                    // (i, j) and (i, j - 1) delete the same string
                    // when b[j] repeats b[j - 1] (j - 1 is not i).
                    if j > i + 1 && b[j] == b[j - 1] {
                        continue;
                    }
                    keys.push(d.without2(i, j));
                }
            }
        }
        // The ids of the first stage (sorted) were checked already: the
        // second stage checks only the others and merges in id order.
        let checked = ids.len();
        self.tables
            .deletion_ids(Section::TwoEditDir, keys, probes, ids);
        let (old, new) = ids.split_at_mut(checked);
        new.sort_unstable();
        let mut more: Vec<(u32, usize)> = Vec::new();
        let mut last = None;
        for &id in new.iter() {
            if last == Some(id) || old.binary_search(&id).is_ok() {
                continue;
            }
            last = Some(id);
            if let Some(hit) = check(id) {
                more.push(hit);
            }
        }
        if more.is_empty() {
            return first;
        }
        let mut all = Vec::with_capacity(first.len() + more.len());
        let (mut x, mut y) = (first.into_iter().peekable(), more.into_iter().peekable());
        loop {
            let take_first = match (x.peek(), y.peek()) {
                (Some(a), Some(b)) => a.0 < b.0,
                (Some(_), None) => true,
                (None, Some(_)) => false,
                (None, None) => break,
            };
            let next = if take_first { x.next() } else { y.next() };
            all.extend(next);
        }
        all
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
    fn the_embedded_tables_are_the_shipped_data_packed() {
        let (top, _) = data::parse_top(data::TOP_TSV, normalize);
        let (mal, _) = data::parse_malicious(data::MALICIOUS_TSV, normalize);
        let p = pack::pack(top, mal);
        assert!(p.pool == EMBEDDED_POOL, "build.rs packed another pool");
        assert!(p.tables == EMBEDDED_TABLES, "build.rs packed other tables");
        assert!(idx().tables.n > 14_000);
        assert_eq!(idx().popular().len(), idx().tables.n);
        assert!(idx().malicious_count() > 9_000);
    }

    #[test]
    fn damaged_tables_are_refused_or_read_as_absent() {
        let pool = || Cow::Borrowed(EMBEDDED_POOL);
        assert!(Tables::new(pool(), Cow::Borrowed(&b"not a table"[..])).is_err());
        let mut wrong = EMBEDDED_TABLES.to_vec();
        wrong[7] ^= 0xff;
        assert!(Tables::new(pool(), Cow::Owned(wrong)).is_err());
        assert!(Tables::new(pool(), Cow::Borrowed(&EMBEDDED_TABLES[..pack::HEADER_LEN])).is_err());
        // Garbage inside the sections (header intact): lookups find
        // nothing or something, and never panic.
        let mut noisy = EMBEDDED_TABLES.to_vec();
        let mut x: u64 = 1;
        for b in noisy.iter_mut().skip(pack::HEADER_LEN) {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
            *b = (x >> 56) as u8;
        }
        let t = Tables::new(pool(), Cow::Owned(noisy)).expect("header intact");
        let index = Index::with_tables(t, HashMap::default());
        for n in ["torch", "reqeusts", "six", "a-b"] {
            let a = index.assess(n);
            assert!((0.0..=1.0).contains(&a.score), "{n}: {a:?}");
        }
    }

    #[test]
    fn near_is_every_name_within_its_allowed_distance() {
        // The deletion tables only propose candidates; the answer must be
        // exactly what comparing with every popular name gives.
        let index = idx();
        let names: Vec<String> = index.popular().iter().map(|p| p.name.clone()).collect();
        let mut x: u64 = 11;
        let mut queries: Vec<String> = vec![
            "reqeusts".into(),
            "tensorfllow".into(),
            "requests-toolbelts".into(),
            "mypy-boto3-s3-control".into(),
            "a".repeat(31),
            "abcdefghijklmnopqrstuvwxyzabcde".into(),
        ];
        for _ in 0..40 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let mut v = names[(x >> 33) as usize % 3_000].as_bytes().to_vec();
            for _ in 0..2 {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let i = (x >> 40) as usize % v.len().max(1);
                match (x >> 20) % 3 {
                    0 if v.len() > 1 => {
                        v.remove(i);
                    }
                    1 => v.insert(i, b'a' + (x >> 8) as u8 % 26),
                    _ => v[i] = b'a' + (x >> 12) as u8 % 26,
                }
            }
            queries.push(String::from_utf8(v).unwrap_or_default());
        }
        for q in &queries {
            for max in [1, 2] {
                let two =
                    max >= 2 && (TWO_EDIT_MIN_LEN..=TWO_EDIT_MAX_LEN + 2).contains(&(q.len() + 2));
                let brute: Vec<(u32, usize)> = (0..names.len() as u32)
                    .filter_map(|id| {
                        let allowed = max.min(if two && index.is_two_edit(id) { 2 } else { 1 });
                        osa_bounded(q.as_bytes(), names[id as usize].as_bytes(), allowed)
                            .filter(|&d| d > 0)
                            .map(|d| (id, d))
                    })
                    .collect();
                assert_eq!(index.near(q, max), brute, "{q} at {max}");
            }
        }
    }

    #[test]
    fn packed_neighbours_are_near_of_every_popular_name() {
        // A popular name's typo search reads its packed neighbours instead
        // of probing: they must be exactly what the probes find.
        let index = idx();
        let n = index.popular().len() as u32;
        for id in 0..n {
            let name = index.name(id);
            assert_eq!(index.near_popular(id), index.near(name, 2), "{name}");
        }
        let shape_only = Index::from_tsv(data::TOP_TSV, "", data::CURATED_TSV);
        for id in (0..n).step_by(97) {
            let name = shape_only.name(id);
            assert_eq!(
                shape_only.near_popular(id),
                shape_only.near(name, 2),
                "{name}"
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
