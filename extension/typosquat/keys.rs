//! The keys the typosquat index files popular names under: deletion
//! hashes, look-alike skeletons, collapsed runs, sorted words, and the
//! string hash of the packed maps.
//!
//! Shared, as source, by the runtime (`Index`) and by the build script that
//! packs the embedded index at compile time (`build.rs` includes this file
//! with `#[path]`), so that a key computed at build time and one computed
//! for a suspect at run time always agree. Standard library only.

/// Hashes of a string with one or two characters deleted, each in O(1)
/// after an O(n) setup: the keys of the deletion-neighbourhood index,
/// computed without building the shorter strings. A polynomial hash (so a
/// deletion is arithmetic on prefix hashes), finished with a 64-bit mixer.
pub(crate) struct Deletions {
    pre: Vec<u64>,
    pow: Vec<u64>,
}

const BASE: u64 = 0x100_0000_01b3;

fn mix(mut h: u64, len: usize) -> u64 {
    h ^= (len as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

impl Deletions {
    /// Prepares the hashes of `b`.
    pub(crate) fn new(b: &[u8]) -> Deletions {
        let mut d = Deletions {
            pre: Vec::with_capacity(b.len() + 1),
            pow: Vec::with_capacity(b.len() + 1),
        };
        d.reset(b);
        d
    }

    /// Prepares the hashes of `b` in place (reusing the buffers).
    pub(crate) fn reset(&mut self, b: &[u8]) {
        let (pre, pow) = (&mut self.pre, &mut self.pow);
        pre.clear();
        pow.clear();
        pre.push(0u64);
        pow.push(1u64);
        for &c in b {
            let last = pre[pre.len() - 1];
            pre.push(last.wrapping_mul(BASE).wrapping_add(u64::from(c) + 1));
            let p = pow[pow.len() - 1];
            pow.push(p.wrapping_mul(BASE));
        }
    }

    fn len(&self) -> usize {
        self.pre.len() - 1
    }

    fn range(&self, x: usize, y: usize) -> u64 {
        self.pre[y].wrapping_sub(self.pre[x].wrapping_mul(self.pow[y - x]))
    }

    /// The hash of the whole string.
    pub(crate) fn whole(&self) -> u64 {
        mix(self.pre[self.len()], self.len())
    }

    /// The hash with character `i` deleted.
    pub(crate) fn without1(&self, i: usize) -> u64 {
        let n = self.len();
        let h = self
            .range(0, i)
            .wrapping_mul(self.pow[n - i - 1])
            .wrapping_add(self.range(i + 1, n));
        mix(h, n - 1)
    }

    /// The hash with characters `i < j` deleted.
    pub(crate) fn without2(&self, i: usize, j: usize) -> u64 {
        let n = self.len();
        let h = self
            .range(0, i)
            .wrapping_mul(self.pow[n - i - 2])
            .wrapping_add(self.range(i + 1, j).wrapping_mul(self.pow[n - j - 1]))
            .wrapping_add(self.range(j + 1, n));
        mix(h, n - 2)
    }
}

/// Single-character look-alikes (ASCII) as (fake, real).
pub(crate) const LOOKALIKE_CHARS: [(u8, u8); 4] =
    [(b'0', b'o'), (b'1', b'l'), (b'1', b'i'), (b'5', b's')];

/// Multi-character look-alikes as (fake, real).
pub(crate) const LOOKALIKE_SEQS: [(&str, &str); 4] =
    [("rn", "m"), ("vv", "w"), ("cl", "d"), ("nn", "m")];

/// Non-ASCII characters that render like an ASCII letter (Cyrillic and Greek
/// confusables from Unicode's confusables.txt, lowercase forms).
fn ascii_confusable(c: char) -> Option<char> {
    Some(match c {
        'а' | 'α' => 'a',
        'с' | 'ϲ' => 'c',
        'ԁ' => 'd',
        'е' | 'ε' => 'e',
        'ɡ' => 'g',
        'һ' => 'h',
        'і' | 'ι' | 'ı' => 'i',
        'ј' => 'j',
        'κ' | 'к' => 'k',
        'ⅼ' | 'ӏ' => 'l',
        'ո' => 'n',
        'о' | 'ο' | 'σ' => 'o',
        'р' | 'ρ' => 'p',
        'ԛ' => 'q',
        'ѕ' => 's',
        'т' | 'τ' => 't',
        'υ' | 'ս' => 'u',
        'ν' | 'ѵ' => 'v',
        'ԝ' | 'ω' => 'w',
        'х' | 'χ' => 'x',
        'у' | 'γ' => 'y',
        'ʐ' => 'z',
        _ => return None,
    })
}

/// True when `name` holds a character outside PEP 508's name alphabet that
/// maps to an ASCII look-alike.
pub(crate) fn has_unicode_confusable(name: &str) -> bool {
    name.chars().any(|c| ascii_confusable(c).is_some())
}

/// The "skeleton" of a normalised name: Unicode look-alikes mapped to ASCII,
/// ASCII look-alikes (`rn`, `vv`, `cl`, `nn`, `0`, `1`, `5`) mapped to the
/// letters they imitate, delimiters removed. Two names with one skeleton
/// read the same to a hurried eye.
pub(crate) fn skeleton(name: &str) -> String {
    let mapped: String = name
        .chars()
        .filter(|&c| c != '-')
        .map(|c| ascii_confusable(c).unwrap_or(c))
        .collect();
    let mut out = String::with_capacity(mapped.len());
    let b = mapped.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let rest = &b[i..];
        if let Some((fake, real)) = LOOKALIKE_SEQS
            .iter()
            .find(|(fake, _)| rest.starts_with(fake.as_bytes()))
        {
            out.push_str(real);
            i += fake.len();
            continue;
        }
        let c = match b[i] {
            b'0' => 'o',
            b'1' => 'l',
            b'5' => 's',
            _ => {
                // Push the whole UTF-8 character starting here.
                let ch = mapped[i..].chars().next().unwrap_or('?');
                out.push(ch);
                i += ch.len_utf8();
                continue;
            }
        };
        out.push(c);
        i += 1;
    }
    // `nn` and `rn` collapse to `m`; `i`/`l` stay apart (PEP 503 lowercases
    // names, so the capital-I confusion does not survive normalisation).
    out
}

/// `name` with every run of one character collapsed to one (`asynciooo` ->
/// `asyncio`, `pillow` -> `pilow`): names equal once collapsed differ only by
/// repeated characters.
pub(crate) fn collapse_runs(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut last = None;
    for c in name.chars() {
        if Some(c) != last {
            out.push(c);
        }
        last = Some(c);
    }
    out
}

/// The words of a name in sorted order, joined: equal for names that only
/// swap their words. `None` for one-word names.
pub(crate) fn sorted_tokens(name: &str) -> Option<String> {
    let mut t: Vec<&str> = name.split('-').filter(|s| !s.is_empty()).collect();
    if t.len() < 2 {
        return None;
    }
    t.sort_unstable();
    Some(t.join("-"))
}

/// The hash the packed string maps file a key under (FNV-1a over the
/// bytes, finished with the deletion hashes' mixer).
pub(crate) fn str_hash(s: &[u8]) -> u64 {
    str_hash_of(&[s])
}

/// [`str_hash`] of the concatenation of `parts`, without building it.
pub(crate) fn str_hash_of(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut len = 0;
    for part in parts {
        for &b in *part {
            h = (h ^ u64::from(b)).wrapping_mul(BASE);
        }
        len += part.len();
    }
    mix(h, len)
}

/// The optimal-string-alignment distance between `a` and `b` (insertions,
/// deletions, substitutions and adjacent transpositions each cost 1), or
/// `None` when it is greater than `max`.
pub(crate) fn osa_bounded(a: &[u8], b: &[u8], max: usize) -> Option<usize> {
    if a.len().abs_diff(b.len()) > max {
        return None;
    }
    if a == b {
        return Some(0);
    }
    let m = b.len();
    if m < 64 {
        let mut rows = [[0u32; 64]; 3];
        return osa_rows(a, b, max, &mut rows);
    }
    let mut rows = vec![vec![0u32; m + 1]; 3];
    let [r0, r1, r2] = &mut rows[..] else {
        return None;
    };
    osa_rows(
        a,
        b,
        max,
        &mut [r0.as_mut_slice(), r1.as_mut_slice(), r2.as_mut_slice()],
    )
}

/// The DP of [`osa_bounded`] over three caller-provided rows of at least
/// `b.len() + 1` cells (distances saturate at `u32::MAX`, far beyond any
/// name).
fn osa_rows<R: AsMut<[u32]>>(a: &[u8], b: &[u8], max: usize, rows: &mut [R; 3]) -> Option<usize> {
    let m = b.len();
    let cap = |v: usize| u32::try_from(v).unwrap_or(u32::MAX);
    let max32 = cap(max);
    let [prev2, prev, cur] = rows;
    let (mut prev2, mut prev, mut cur) = (prev2.as_mut(), prev.as_mut(), cur.as_mut());
    for (j, c) in prev.iter_mut().enumerate().take(m + 1) {
        *c = cap(j);
    }
    for i in 1..=a.len() {
        cur[0] = cap(i);
        let mut row_min = cur[0];
        for j in 1..=m {
            let cost = u32::from(a[i - 1] != b[j - 1]);
            let mut v = (prev[j].saturating_add(1))
                .min(cur[j - 1].saturating_add(1))
                .min(prev[j - 1].saturating_add(cost));
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(prev2[j - 2].saturating_add(1));
            }
            cur[j] = v;
            row_min = row_min.min(v);
        }
        if row_min > max32 {
            return None;
        }
        std::mem::swap(&mut prev2, &mut prev);
        std::mem::swap(&mut prev, &mut cur);
    }
    let d = prev[m] as usize;
    (d <= max).then_some(d)
}
