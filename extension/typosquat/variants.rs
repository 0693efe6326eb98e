//! Reconnaissance: the names an attacker would register to imitate a
//! popular package, so that a team can check them and register them
//! defensively.

use std::collections::HashSet;

use super::index::{Index, MAX_SCORED_LEN};
use super::normalize;
use super::text::{
    is_added_word, keyboard_neighbours, osa, LOOKALIKE_CHARS, LOOKALIKE_SEQS, PREFIX_WORDS,
};

/// Suffix words used for generated combosquats (a subset of the words the
/// scorer knows: the ones seen in real PyPI attacks).
const SUFFIXES: &[&str] = &[
    "py", "lib", "utils", "util", "tools", "sdk", "cli", "api", "gpu", "cuda", "cpu", "nightly",
    "dev", "core", "client", "helper", "plugin", "toolkit", "latest", "update",
];

/// Misspellings of added words seen in real attacks.
const MISSPELLED_SUFFIXES: &[&str] = &["utilites", "utlis", "uitls", "tols", "toolkits"];

/// One name an attacker could register.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Variant {
    /// The popular name imitated (normalised).
    pub target: String,
    /// The variant (normalised).
    pub variant: String,
    /// How it was made, in words.
    pub technique: String,
    /// Edit distance (optimal string alignment) to the target.
    pub distance: u32,
    /// The variant's rank when it is itself a popular package.
    pub popular_rank: Option<u32>,
    /// The OSV ids when the variant is a known-malicious package.
    pub known_malicious: Option<String>,
}

impl Variant {
    /// True when the name is taken on PyPI as far as squatch knows (popular
    /// or known malicious).
    pub fn registered(&self) -> bool {
        self.popular_rank.is_some() || self.known_malicious.is_some()
    }
}

/// Every variant of `target` that squatch's techniques produce, each once
/// (first technique wins), normalised, never the target itself. Empty for
/// an empty target or one longer than [`MAX_SCORED_LEN`] bytes.
pub fn variants(index: &Index, target: &str) -> Vec<Variant> {
    let t = normalize(target);
    let mut out: Vec<(String, String)> = Vec::new();
    // Each variant copies the name: a huge "target" would make a huge
    // answer. PyPI names are far shorter than the cap.
    if t.is_empty() || t.len() > MAX_SCORED_LEN {
        return Vec::new();
    }
    let b: Vec<char> = t.chars().collect();
    let s = |v: &[char]| v.iter().collect::<String>();

    // Omitted characters.
    for i in 0..b.len() {
        let mut v = b.clone();
        let c = v.remove(i);
        let tech = if c == '-' {
            "removed delimiter \"-\"".to_string()
        } else {
            format!("omitted \"{c}\"")
        };
        out.push((s(&v), tech));
    }
    // Repeated characters.
    for i in 0..b.len() {
        if b[i] == '-' {
            continue;
        }
        let mut v = b.clone();
        v.insert(i, b[i]);
        out.push((s(&v), format!("repeated \"{}\"", b[i])));
    }
    // Swapped adjacent characters.
    for i in 0..b.len().saturating_sub(1) {
        if b[i] == b[i + 1] {
            continue;
        }
        let mut v = b.clone();
        v.swap(i, i + 1);
        out.push((
            s(&v),
            format!(
                "swapped \"{}{}\" -> \"{}{}\"",
                v[i],
                v[i + 1],
                b[i],
                b[i + 1]
            ),
        ));
    }
    // Look-alikes.
    for &(fake, real) in &LOOKALIKE_CHARS {
        for (i, &c) in b.iter().enumerate() {
            if c == real as char {
                let mut v = b.clone();
                v[i] = fake as char;
                out.push((
                    s(&v),
                    format!("look-alike \"{}\" for \"{}\"", fake as char, real as char),
                ));
            }
        }
    }
    for &(fake, real) in &LOOKALIKE_SEQS {
        for (pos, _) in t.match_indices(real) {
            let v = format!("{}{}{}", &t[..pos], fake, &t[pos + real.len()..]);
            out.push((v, format!("look-alike \"{fake}\" for \"{real}\"")));
        }
    }
    // Keyboard-adjacent substitutions.
    for i in 0..b.len() {
        if !b[i].is_ascii_alphanumeric() {
            continue;
        }
        for k in keyboard_neighbours(b[i] as u8) {
            let k = k as char;
            if k == '-' {
                continue;
            }
            let mut v = b.clone();
            v[i] = k;
            out.push((
                s(&v),
                format!("substituted \"{k}\" -> \"{}\" (keyboard-adjacent)", b[i]),
            ));
        }
    }
    // Delimiters and words.
    let words: Vec<&str> = t.split('-').filter(|w| !w.is_empty()).collect();
    if words.len() >= 2 {
        out.push((words.concat(), "delimiters removed".to_string()));
        for_each_permutation(&words, &mut |p| {
            let v = p.join("-");
            if v != t {
                out.push((v, "swapped words".to_string()));
            }
        });
    } else {
        for i in 2..b.len().saturating_sub(1) {
            let mut v = b.clone();
            v.insert(i, '-');
            out.push((s(&v), "added delimiter \"-\"".to_string()));
        }
    }
    // Version-number suffixes.
    for suffix in ["2", "3", "-2", "-v2", "1", "-1"] {
        out.push((
            format!("{t}{suffix}"),
            format!(
                "version-number suffix \"{}\" added",
                suffix.trim_start_matches('-')
            ),
        ));
    }
    // Combosquats: ecosystem prefixes and suffixes, misspelled words.
    for p in PREFIX_WORDS {
        out.push((
            format!("{p}-{t}"),
            format!("combosquat: prefix \"{p}\" added"),
        ));
        out.push((
            format!("{p}{t}"),
            format!("combosquat: prefix \"{p}\" added without a delimiter"),
        ));
    }
    for w in SUFFIXES {
        debug_assert!(is_added_word(w));
        out.push((
            format!("{t}-{w}"),
            format!("combosquat: added word \"{w}\""),
        ));
    }
    for w in MISSPELLED_SUFFIXES {
        out.push((
            format!("{t}-{w}"),
            format!("combosquat: added misspelled word \"{w}\""),
        ));
    }
    // Dependency confusion names from the curated list.
    for c in index.confusion_names(&t) {
        out.push((
            c.name.clone(),
            format!("dependency confusion: {} ({})", c.name, c.source),
        ));
    }

    let mut seen = HashSet::new();
    out.into_iter()
        .filter_map(|(v, technique)| {
            let v = normalize(&v);
            if v.is_empty() || v == t || v.starts_with('-') || v.ends_with('-') {
                return None;
            }
            seen.insert(v.clone()).then(|| Variant {
                target: t.clone(),
                popular_rank: index.rank_of(&v),
                known_malicious: index.malicious_ids(&v).map(str::to_string),
                distance: osa(v.as_bytes(), t.as_bytes()) as u32,
                variant: v,
                technique,
            })
        })
        .collect()
}

/// Calls `f` with every permutation of `words` (at most 4 words are
/// permuted; longer names only get their first four words permuted).
fn for_each_permutation(words: &[&str], f: &mut dyn FnMut(&[&str])) {
    fn rec<'a>(
        rest: &mut Vec<&'a str>,
        acc: &mut Vec<&'a str>,
        tail: &[&'a str],
        f: &mut dyn FnMut(&[&str]),
    ) {
        if rest.is_empty() {
            let mut full = acc.clone();
            full.extend_from_slice(tail);
            f(&full);
            return;
        }
        for i in 0..rest.len() {
            let w = rest.remove(i);
            acc.push(w);
            rec(rest, acc, tail, f);
            acc.pop();
            rest.insert(i, w);
        }
    }
    let k = words.len().min(4);
    let mut head: Vec<&str> = words[..k].to_vec();
    rec(&mut head, &mut Vec::new(), &words[k..], f);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variants_are_unique_normalised_and_never_the_target() {
        let idx = Index::embedded();
        let v = variants(idx, "Requests_Toolbelt");
        assert!(!v.is_empty());
        let mut seen = HashSet::new();
        for x in &v {
            assert_eq!(x.target, "requests-toolbelt");
            assert_ne!(x.variant, "requests-toolbelt");
            assert_eq!(normalize(&x.variant), x.variant);
            assert!(seen.insert(x.variant.clone()), "{} twice", x.variant);
            assert!(x.distance >= 1);
        }
        let swapped = v.iter().find(|x| x.variant == "toolbelt-requests").unwrap();
        assert_eq!(swapped.technique, "swapped words");
        let joined = v.iter().find(|x| x.variant == "requeststoolbelt").unwrap();
        assert!(
            joined.technique.contains("delimiter"),
            "{}",
            joined.technique
        );
        // Known-malicious variants are marked registered.
        let mal = v.iter().find(|x| x.variant == "requests-toolbel").unwrap();
        assert!(mal.known_malicious.is_some() && mal.registered());
    }

    #[test]
    fn empty_huge_and_odd_targets_are_safe() {
        let idx = Index::embedded();
        assert!(variants(idx, "").is_empty());
        assert!(variants(idx, "---").is_empty());
        assert!(variants(idx, &"x".repeat(10_000)).is_empty());
        assert!(!variants(idx, "tоrch").is_empty());
        assert!(!variants(idx, "a").iter().any(|v| v.variant.is_empty()));
    }
}
