//! The packed form of the typosquat index: the popular and known-malicious
//! names and every lookup structure over them, laid out as flat tables that
//! are read in place, without parsing or allocating.
//!
//! `build.rs` includes this file (with `#[path]`) and packs the shipped
//! data at compile time; the binary embeds the result, so a process starts
//! with its index ready. [`super::Index::from_tsv`] packs other data at run
//! time with the same code, so both paths give the same tables.
//!
//! Two outputs: a string pool (UTF-8, embedded with `include_str!`) and the
//! tables (little-endian integers, embedded with `include_bytes!`). The
//! tables start with [`MAGIC`], a section count and a table of contents of
//! `(byte offset, byte length)` pairs, one per [`Section`]; each section is
//! 8-byte aligned.
//!
//! - Names: `NameOff[id]..NameOff[id + 1]` is popular name `id` in the
//!   pool, ids in rank order; `Rank[id]`, `Children[id]`.
//! - String maps (by name, known malicious, skeleton, collapsed runs,
//!   sorted words): a directory of `2^b + 1` bucket starts over entries of
//!   five `u32` (key offset, key length, the low 32 bits of the key's
//!   [`str_hash`], two values), filed by the top `b` bits of that hash.
//! - Deletion tables (one edit, two edits): the deletion hashes of the
//!   popular names with their ids, filed in a directory over the hashes'
//!   top bits; each entry keeps the next 16 bits of its hash (a
//!   fingerprint) and its id, `fingerprint | id << 16` in a `u32` (a `u64`
//!   past 65,536 names), sorted. Beside them a blocked Bloom filter (8-16
//!   bits a hash; each hash sets two bits of the 64-bit word its low bits
//!   pick, see [`filter_word`]) turns most probes for absent hashes away
//!   before they touch the entries. A probe returns a superset of the names
//!   filed under a hash; the caller's distance check is exact.
//! - Map filters, one a string map, in map order: a bitmap over bits 32..
//!   of the [`str_hash`] of every key (about sixteen bits a key,
//!   cache-resident), so that the many lookups of strings that are no key
//!   (the combosquat and prefix detectors try every cut; most names have no
//!   look-alike skeleton) mostly stop before the map.
//! - Neighbours: for each popular name, the popular names its typo search
//!   finds (`NeighbourOff[id]..NeighbourOff[id + 1]` in `Neighbours`), so
//!   that scoring a popular name, the usual name on a host, probes no
//!   deletion table.

use std::collections::HashMap;

use super::data::{Malicious, Popular};
use super::keys::{collapse_runs, osa_bounded, skeleton, sorted_tokens, str_hash, Deletions};

/// Names ranked at or above this, and at least [`TWO_EDIT_MIN_LEN`] long, are
/// matched at edit distance 2; all others at distance 1.
pub const TWO_EDIT_MAX_RANK: u32 = 5_000;
/// See [`TWO_EDIT_MAX_RANK`].
pub const TWO_EDIT_MIN_LEN: usize = 8;
/// ... and at most this long (longer names differ by two edits far more
/// often by design than by a slip).
pub const TWO_EDIT_MAX_LEN: usize = 30;

/// The first bytes of the tables (format version in the last byte).
pub(crate) const MAGIC: &[u8; 8] = b"SQTYPO\x00\x05";

/// The sections of the tables, in table-of-contents order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(usize)]
pub(crate) enum Section {
    /// `[u32; n + 1]`: pool offsets of the popular names.
    NameOff,
    /// `[u32; n]`: download rank of each popular name.
    Rank,
    /// `[u32; n]`: how many popular names start with `name-`.
    Children,
    /// Map directory: normalised popular name -> id.
    ByNameDir,
    /// Map entries, see [`Section::ByNameDir`].
    ByName,
    /// Map directory: known-malicious name -> OSV ids (pool offset, length).
    MaliciousDir,
    /// Map entries, see [`Section::MaliciousDir`].
    Malicious,
    /// Map directory: skeleton -> best-ranked id.
    SkeletonDir,
    /// Map entries, see [`Section::SkeletonDir`].
    Skeleton,
    /// Map directory: name with runs collapsed -> best-ranked id.
    CollapsedDir,
    /// Map entries, see [`Section::CollapsedDir`].
    Collapsed,
    /// Map directory: sorted words -> best-ranked id.
    WordSetDir,
    /// Map entries, see [`Section::WordSetDir`].
    WordSet,
    /// Deletion table directory: 0- and 1-deletions of every name.
    OneEditDir,
    /// Entries, see [`Section::OneEditDir`].
    OneEditEntries,
    /// Filter bitmap, see [`Section::OneEditDir`].
    OneEditFilter,
    /// Deletion table directory: 0-, 1- and 2-deletions of long,
    /// well-ranked names.
    TwoEditDir,
    /// Entries, see [`Section::TwoEditDir`].
    TwoEditEntries,
    /// Filter bitmap, see [`Section::TwoEditDir`].
    TwoEditFilter,
    /// Bitmap over the keys' [`str_hash`]es of [`Section::ByName`] (see
    /// [`key_filter_bit`]).
    ByNameFilter,
    /// The same for [`Section::Malicious`].
    MaliciousFilter,
    /// The same for [`Section::Skeleton`].
    SkeletonFilter,
    /// The same for [`Section::Collapsed`].
    CollapsedFilter,
    /// The same for [`Section::WordSet`].
    WordSetFilter,
    /// `[u32; n + 1]`: where each popular name's neighbours start in
    /// [`Section::Neighbours`].
    NeighbourOff,
    /// The popular names near each popular name, as its typo search
    /// would find them: `id | distance << 30` (`u32`), in id order.
    Neighbours,
}

/// Number of sections.
pub(crate) const SECTIONS: usize = Section::Neighbours as usize + 1;
/// Bytes before the first section: magic, count, padding, contents.
pub(crate) const HEADER_LEN: usize = 16 + SECTIONS * 8;

/// True when `p` is matched at distance 2 (see [`TWO_EDIT_MAX_RANK`]).
pub(crate) fn two_edits(rank: u32, len: usize) -> bool {
    rank <= TWO_EDIT_MAX_RANK && (TWO_EDIT_MIN_LEN..=TWO_EDIT_MAX_LEN).contains(&len)
}

/// The directory bucket of `hash` in a directory of `2^bits` buckets.
pub(crate) fn bucket(hash: u64, bits: u32) -> usize {
    if bits == 0 {
        0
    } else {
        (hash >> (64 - bits)) as usize
    }
}

/// The smallest `b` with `2^b >= n` (at least 0).
fn bits_for(n: usize) -> u32 {
    let mut b = 0;
    while (1usize << b) < n {
        b += 1;
    }
    b
}

/// The packed index: the pool and the tables.
pub(crate) struct Packed {
    /// Every string the tables point into.
    pub(crate) pool: String,
    /// The tables (see the module documentation).
    pub(crate) tables: Vec<u8>,
}

/// Pool offsets of strings already written.
struct Pool {
    text: String,
    seen: HashMap<String, u32>,
}

impl Pool {
    fn add(&mut self, s: &str) -> (u32, u32) {
        if let Some(&off) = self.seen.get(s) {
            return (off, s.len() as u32);
        }
        let off = self.text.len() as u32;
        self.text.push_str(s);
        self.seen.insert(s.to_string(), off);
        (off, s.len() as u32)
    }
}

/// Packs the index of `popular` and `malicious`: popular names sorted by
/// rank then name, duplicates and empty names dropped (the first kept);
/// for a known-malicious name listed twice the last ids win.
pub(crate) fn pack(mut popular: Vec<Popular>, malicious: Vec<Malicious>) -> Packed {
    popular.sort_by(|a, b| a.rank.cmp(&b.rank).then_with(|| a.name.cmp(&b.name)));
    let mut seen = std::collections::HashSet::new();
    popular.retain(|p| !p.name.is_empty() && seen.insert(p.name.clone()));
    let n = popular.len();

    let mut pool = Pool {
        text: String::new(),
        seen: HashMap::new(),
    };
    let mut name_off = Vec::with_capacity(n + 1);
    for p in &popular {
        // Names are unique: each is written once, in id order.
        name_off.push(pool.add(&p.name).0);
    }
    name_off.push(pool.text.len() as u32);
    let by_name: HashMap<&str, u32> = popular
        .iter()
        .enumerate()
        .map(|(i, p)| (p.name.as_str(), i as u32))
        .collect();

    let mut one = Vec::with_capacity(n * 16);
    let mut two = Vec::new();
    let mut skeletons = HashMap::<String, u32>::new();
    let mut collapsed = HashMap::<String, u32>::new();
    let mut word_sets = HashMap::<String, u32>::new();
    for (id, p) in popular.iter().enumerate() {
        let id = id as u32;
        let b = p.name.as_bytes();
        let d = Deletions::new(b);
        one.push((d.whole(), id));
        for i in 0..b.len() {
            one.push((d.without1(i), id));
        }
        if two_edits(p.rank, b.len()) {
            two.push((d.whole(), id));
            for i in 0..b.len() {
                two.push((d.without1(i), id));
                for j in i + 1..b.len() {
                    two.push((d.without2(i, j), id));
                }
            }
        }
        // Ids come in rank order: the first (best-ranked) name keeps a key.
        skeletons.entry(skeleton(&p.name)).or_insert(id);
        collapsed.entry(collapse_runs(&p.name)).or_insert(id);
        if let Some(key) = sorted_tokens(&p.name) {
            word_sets.entry(key).or_insert(id);
        }
    }

    let mut children = vec![0u32; n];
    for p in &popular {
        // Every proper `a-b-...` prefix of a popular name that is itself
        // popular gains a child.
        for (pos, _) in p.name.match_indices('-') {
            if let Some(&id) = by_name.get(&p.name[..pos]) {
                children[id as usize] += 1;
            }
        }
    }

    let mut bad = HashMap::<String, String>::new();
    for m in malicious {
        bad.insert(m.name, m.ids);
    }

    let mut sections: Vec<Vec<u8>> = Vec::with_capacity(SECTIONS);
    sections.push(u32s(&name_off));
    sections.push(u32s(&popular.iter().map(|p| p.rank).collect::<Vec<_>>()));
    sections.push(u32s(&children));
    let mut filters = Vec::with_capacity(5);
    let id_map = |m: Vec<(String, u32)>, pool: &mut Pool, filters: &mut Vec<Vec<u8>>| {
        string_map(
            m.into_iter().map(|(k, v)| (k, v, 0)).collect(),
            pool,
            filters,
        )
    };
    let names = popular
        .iter()
        .enumerate()
        .map(|(i, p)| (p.name.clone(), i as u32))
        .collect();
    sections.extend(id_map(names, &mut pool, &mut filters));
    let mut bad: Vec<(String, String)> = bad.into_iter().collect();
    // In name order, so that the pool (and the binary) is reproducible.
    bad.sort_unstable();
    let bad: Vec<(String, u32, u32)> = bad
        .into_iter()
        .map(|(k, ids)| {
            let (off, len) = pool.add(&ids);
            (k, off, len)
        })
        .collect();
    sections.extend(string_map(bad, &mut pool, &mut filters));
    sections.extend(id_map(
        skeletons.into_iter().collect(),
        &mut pool,
        &mut filters,
    ));
    sections.extend(id_map(
        collapsed.into_iter().collect(),
        &mut pool,
        &mut filters,
    ));
    sections.extend(id_map(
        word_sets.into_iter().collect(),
        &mut pool,
        &mut filters,
    ));
    let (near_off, near) = neighbours(&popular, &one, &two);
    sections.extend(deletion_table(one, n));
    sections.extend(deletion_table(two, n));
    sections.extend(filters);
    sections.push(u32s(&near_off));
    sections.push(u32s(&near));
    debug_assert_eq!(sections.len(), SECTIONS);

    let mut tables = Vec::new();
    tables.extend_from_slice(MAGIC);
    tables.extend_from_slice(&(SECTIONS as u32).to_le_bytes());
    tables.extend_from_slice(&0u32.to_le_bytes());
    let mut off = HEADER_LEN;
    for s in &sections {
        off = off.next_multiple_of(8);
        tables.extend_from_slice(&(off as u32).to_le_bytes());
        tables.extend_from_slice(&(s.len() as u32).to_le_bytes());
        off += s.len();
    }
    for s in &sections {
        tables.resize(tables.len().next_multiple_of(8), 0);
        tables.extend_from_slice(s);
    }
    Packed {
        pool: pool.text,
        tables,
    }
}

fn u32s(v: &[u32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// A bucket directory over entries sorted by bucket: `2^bits + 1` starts.
fn directory(buckets: impl Iterator<Item = usize>, bits: u32) -> Vec<u32> {
    let mut counts = vec![0u32; (1usize << bits) + 1];
    for b in buckets {
        counts[b + 1] += 1;
    }
    for i in 1..counts.len() {
        counts[i] += counts[i - 1];
    }
    counts
}

/// Bytes of one string-map entry: key offset, key length, key tag, two
/// values (`u32` each).
pub(crate) const MAP_ENTRY: usize = 20;

/// The low 32 bits of a key's [`str_hash`], kept in its entry so that a
/// probe for another key rarely reads the pool.
pub(crate) fn tag(hash: u64) -> u32 {
    hash as u32
}

/// A string map's directory and entries: `(key, value0, value1)`, keys
/// unique; keys are added to the pool. About two keys a bucket. Its key
/// filter is pushed to `filters`.
fn string_map(
    entries: Vec<(String, u32, u32)>,
    pool: &mut Pool,
    filters: &mut Vec<Vec<u8>>,
) -> [Vec<u8>; 2] {
    let bits = bits_for(entries.len().div_ceil(2));
    let mut entries: Vec<(usize, String, u64, u32, u32)> = entries
        .into_iter()
        .map(|(k, v0, v1)| {
            let h = str_hash(k.as_bytes());
            (bucket(h, bits), k, h, v0, v1)
        })
        .collect();
    entries.sort_unstable();
    let dir = directory(entries.iter().map(|e| e.0), bits);
    let filter_bits = bits_for(entries.len() * 16).max(6);
    let mut filter = vec![0u64; (1usize << filter_bits) / 64];
    for e in &entries {
        let bit = key_filter_bit(e.2, filter_bits);
        filter[bit / 64] |= 1 << (bit % 64);
    }
    filters.push(filter.iter().flat_map(|w| w.to_le_bytes()).collect());
    let mut flat = Vec::with_capacity(entries.len() * MAP_ENTRY / 4);
    for (_, k, h, v0, v1) in &entries {
        let (off, len) = pool.add(k);
        flat.extend_from_slice(&[off, len, tag(*h), *v0, *v1]);
    }
    [u32s(&dir), u32s(&flat)]
}

/// The 16 bits of `hash` below its directory bits: what a deletion table
/// keeps of each hash.
pub(crate) fn fingerprint(hash: u64, bits: u32) -> u16 {
    (hash << bits >> 48) as u16
}

/// Bytes of each entry of a deletion table of `n` popular names: 4 while
/// ids fit in 16 bits, else 8.
pub(crate) fn entry_width(n: usize) -> usize {
    if n <= 1 << 16 {
        4
    } else {
        8
    }
}

/// The bit of a key's [`str_hash`] in a map filter of `2^bits` bits
/// (bits above the map's tag, below its directory bits).
pub(crate) fn key_filter_bit(hash: u64, bits: u32) -> usize {
    ((hash >> 32) & ((1u64 << bits) - 1)) as usize
}

/// The filter word of `hash` in a deletion table's bitmap of `2^bits`
/// bits, and the two bits of that 64-bit word it sets (one word a probe:
/// one cache access, a quarter of the false passes of one bit).
pub(crate) fn filter_word(hash: u64, bits: u32) -> (usize, u64) {
    let word = ((hash & ((1u64 << bits) - 1)) >> 6) as usize;
    (word, (1u64 << (hash & 63)) | (1u64 << ((hash >> 24) & 63)))
}

/// A deletion table's directory, entries and filter (`n` popular names).
///
/// Only the directory bits and a 16-bit fingerprint of each hash are kept,
/// so a probe may also return an id filed under another hash; the caller
/// checks every candidate with the real edit distance, which such an id
/// fails unless it is a true neighbour anyway.
fn deletion_table(pairs: Vec<(u64, u32)>, n: usize) -> [Vec<u8>; 3] {
    // About sixteen entries a bucket: a directory small enough to stay in
    // cache, and about one cache line of entries a probe.
    let bits = bits_for(pairs.len().div_ceil(16));
    let filter_bits = bits_for(pairs.len() * 8).max(6);
    let mut filter = vec![0u64; (1usize << filter_bits) / 64];
    for &(h, _) in &pairs {
        let (word, mask) = filter_word(h, filter_bits);
        filter[word] |= mask;
    }
    let mut keyed: Vec<(usize, u16, u32)> = pairs
        .into_iter()
        .map(|(h, id)| (bucket(h, bits), fingerprint(h, bits), id))
        .collect();
    keyed.sort_unstable();
    keyed.dedup();
    let dir = directory(keyed.iter().map(|&(b, _, _)| b), bits);
    let entries: Vec<u8> = if entry_width(n) == 4 {
        keyed
            .iter()
            .flat_map(|&(_, f, id)| (u32::from(f) | (id << 16)).to_le_bytes())
            .collect()
    } else {
        keyed
            .iter()
            .flat_map(|&(_, f, id)| (u64::from(f) | (u64::from(id) << 16)).to_le_bytes())
            .collect()
    };
    let filter: Vec<u8> = filter.iter().flat_map(|w| w.to_le_bytes()).collect();
    [u32s(&dir), entries, filter]
}

/// Bit position of the distance in a [`Section::Neighbours`] entry.
pub(crate) const NEIGHBOUR_SHIFT: u32 = 30;

/// For each popular name, the popular names a typo search from it finds
/// (`Index::near(name, 2)`: every other name at distance 1, and, when the
/// name's length lets it search at distance 2, every long, well-ranked
/// name at distance 2), as `(offsets, entries)` of
/// [`Section::NeighbourOff`] and [`Section::Neighbours`].
///
/// A popular name is the usual name on a host, and its own deletion keys
/// fill every probe of the deletion tables; its answer is known when the
/// tables are packed. Found here with the same deletion keys, matched
/// exactly (`one` and `two` are the tables' `(hash, id)` pairs), and
/// checked with the exact distance.
fn neighbours(popular: &[Popular], one: &[(u64, u32)], two: &[(u64, u32)]) -> (Vec<u32>, Vec<u32>) {
    let (one, two) = (KeyIndex::new(one), KeyIndex::new(two));
    let find = |table: &KeyIndex, h: u64, out: &mut Vec<u32>| out.extend_from_slice(table.get(h));
    let mut offsets = Vec::with_capacity(popular.len() + 1);
    let mut entries = Vec::new();
    let mut ids = Vec::new();
    for q in popular {
        offsets.push(entries.len() as u32);
        let b = q.name.as_bytes();
        let d = Deletions::new(b);
        ids.clear();
        find(&one, d.whole(), &mut ids);
        for i in 0..b.len() {
            find(&one, d.without1(i), &mut ids);
        }
        let searched_two = !two.ids.is_empty()
            && (TWO_EDIT_MIN_LEN..=TWO_EDIT_MAX_LEN + 2).contains(&(b.len() + 2));
        if searched_two {
            find(&two, d.whole(), &mut ids);
            for i in 0..b.len() {
                find(&two, d.without1(i), &mut ids);
                for j in i + 1..b.len() {
                    find(&two, d.without2(i, j), &mut ids);
                }
            }
        }
        ids.sort_unstable();
        ids.dedup();
        for &id in &ids {
            let p = &popular[id as usize];
            let allowed = if searched_two && two_edits(p.rank, p.name.len()) {
                2
            } else {
                1
            };
            if let Some(dist @ 1..) = osa_bounded(b, p.name.as_bytes(), allowed) {
                entries.push(id | (dist as u32) << NEIGHBOUR_SHIFT);
            }
        }
    }
    offsets.push(entries.len() as u32);
    (offsets, entries)
}

/// The ids filed under each deletion hash of a table's `(hash, id)`
/// pairs: an open-addressed table over the hashes (already mixed), for
/// [`neighbours`]' many lookups (a binary search of the pairs misses the
/// cache at every step).
struct KeyIndex {
    /// `(hash, start, len)` of each hash's ids in `ids`; `len` 0 is empty.
    slots: Vec<(u64, u32, u32)>,
    bits: u32,
    ids: Vec<u32>,
}

impl KeyIndex {
    fn new(pairs: &[(u64, u32)]) -> KeyIndex {
        let mut pairs = pairs.to_vec();
        pairs.sort_unstable();
        pairs.dedup();
        let bits = bits_for(pairs.len() * 2).max(1);
        let mask = (1usize << bits) - 1;
        let mut slots = vec![(0u64, 0u32, 0u32); 1 << bits];
        let mut start = 0;
        while start < pairs.len() {
            let h = pairs[start].0;
            let end = start + pairs[start..].iter().take_while(|p| p.0 == h).count();
            let mut i = bucket(h, bits);
            while slots[i].2 != 0 {
                i = (i + 1) & mask;
            }
            slots[i] = (h, start as u32, (end - start) as u32);
            start = end;
        }
        KeyIndex {
            slots,
            bits,
            ids: pairs.into_iter().map(|(_, id)| id).collect(),
        }
    }

    fn get(&self, h: u64) -> &[u32] {
        let mask = (1usize << self.bits) - 1;
        let mut i = bucket(h, self.bits);
        loop {
            let (k, start, len) = self.slots[i];
            if len == 0 {
                return &[];
            }
            if k == h {
                return &self.ids[start as usize..(start + len) as usize];
            }
            i = (i + 1) & mask;
        }
    }
}
