//! The shipped reference data and its parsers.
//!
//! Each file is a TSV with `#` header lines saying where it comes from and
//! when. Parsing is lenient: a malformed line is skipped (and counted), so a
//! hand-edited file can never stop the extension from starting.

/// The top PyPI packages by downloads (`rank<TAB>name`).
pub const TOP_TSV: &str = include_str!("../data/pypi_top.tsv");
/// Known-malicious PyPI names from the OpenSSF malicious-packages data set
/// (`name<TAB>ids`).
pub const MALICIOUS_TSV: &str = include_str!("../data/pypi_malicious.tsv");
/// Curated official relatives of popular projects and dependency-confusion
/// names (`name<TAB>kind<TAB>relative<TAB>source`).
pub const CURATED_TSV: &str = include_str!("../data/typosquat_curated.tsv");

/// One popular package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Popular {
    /// Download rank, 1 = most downloaded.
    pub rank: u32,
    /// PEP 503 normalised name.
    pub name: String,
}

/// One known-malicious name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Malicious {
    /// PEP 503 normalised name.
    pub name: String,
    /// OSV ids (`MAL-...`), comma separated.
    pub ids: String,
}

/// What a curated name is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CuratedKind {
    /// An official relative of a popular project: never flagged.
    Family,
    /// A name served by an ML project's own index: on PyPI it is a
    /// dependency-confusion attack.
    Confusion,
}

/// One curated name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Curated {
    /// PEP 503 normalised name.
    pub name: String,
    /// Family or dependency confusion.
    pub kind: CuratedKind,
    /// The popular project it belongs to or imitates.
    pub relative: String,
    /// Where the fact comes from.
    pub source: String,
}

fn data_lines(text: &str) -> impl Iterator<Item = &str> {
    text.lines()
        .map(|l| l.trim_end_matches('\r'))
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
}

/// Parses `rank<TAB>name` lines; returns the entries (sorted by rank) and the
/// number of lines skipped as malformed. A header line `rank<TAB>name` is
/// skipped silently.
pub fn parse_top(text: &str, normalize: impl Fn(&str) -> String) -> (Vec<Popular>, usize) {
    let mut out = Vec::new();
    let mut bad = 0;
    for line in data_lines(text) {
        let mut f = line.split('\t');
        match (f.next().map(str::trim), f.next().map(str::trim)) {
            (Some("rank"), Some("name")) => {}
            (Some(rank), Some(name)) if !name.is_empty() => match rank.parse::<u32>() {
                Ok(rank) if rank > 0 => out.push(Popular {
                    rank,
                    name: normalize(name),
                }),
                _ => bad += 1,
            },
            _ => bad += 1,
        }
    }
    out.sort_by(|a, b| a.rank.cmp(&b.rank).then_with(|| a.name.cmp(&b.name)));
    (out, bad)
}

/// Parses `name<TAB>ids` lines; returns entries and the malformed count.
pub fn parse_malicious(text: &str, normalize: impl Fn(&str) -> String) -> (Vec<Malicious>, usize) {
    let mut out = Vec::new();
    let mut bad = 0;
    for line in data_lines(text) {
        let mut f = line.split('\t');
        match (f.next().map(str::trim), f.next().map(str::trim)) {
            (Some("name"), Some("ids")) => {}
            (Some(name), Some(ids)) if !name.is_empty() && ids.starts_with("MAL-") => {
                out.push(Malicious {
                    name: normalize(name),
                    ids: ids.to_string(),
                })
            }
            _ => bad += 1,
        }
    }
    (out, bad)
}

/// Parses `name<TAB>kind<TAB>relative<TAB>source` lines.
pub fn parse_curated(text: &str, normalize: impl Fn(&str) -> String) -> (Vec<Curated>, usize) {
    let mut out = Vec::new();
    let mut bad = 0;
    for line in data_lines(text) {
        let f: Vec<&str> = line.split('\t').map(str::trim).collect();
        let kind = match f.get(1).copied() {
            Some("family") => CuratedKind::Family,
            Some("confusion") => CuratedKind::Confusion,
            _ => {
                bad += 1;
                continue;
            }
        };
        match (f.first(), f.get(2)) {
            (Some(name), Some(rel)) if !name.is_empty() && !rel.is_empty() => out.push(Curated {
                name: normalize(name),
                kind,
                relative: normalize(rel),
                source: f.get(3).copied().unwrap_or("").to_string(),
            }),
            _ => bad += 1,
        }
    }
    (out, bad)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::typosquat::normalize;

    #[test]
    fn shipped_files_parse_cleanly_and_say_where_they_come_from() {
        for text in [TOP_TSV, MALICIOUS_TSV, CURATED_TSV] {
            assert!(text.starts_with("# "), "data file without a header");
            assert!(text.lines().take(5).any(|l| l.contains("Source")));
        }
        let (top, bad) = parse_top(TOP_TSV, normalize);
        assert_eq!(bad, 0);
        assert!(top.len() > 14_000, "{} popular names", top.len());
        assert_eq!(top[0].rank, 1);
        assert!(top.iter().any(|p| p.name == "torch"));
        let (mal, bad) = parse_malicious(MALICIOUS_TSV, normalize);
        assert_eq!(bad, 0);
        assert!(mal.len() > 9_000);
        assert!(mal.iter().any(|m| m.name == "reqeusts-toolbelt"));
        let (cur, bad) = parse_curated(CURATED_TSV, normalize);
        assert_eq!(bad, 0);
        assert!(cur
            .iter()
            .any(|c| c.name == "torchtriton" && c.kind == CuratedKind::Confusion));
    }

    #[test]
    fn malformed_lines_are_counted_not_fatal() {
        let (top, bad) = parse_top("# h\nrank\tname\n1\tA_b\nx\ty\n2\n3\tc\n", normalize);
        assert_eq!(top.len(), 2);
        assert_eq!(top[0].name, "a-b");
        assert_eq!(bad, 2);
        let (mal, bad) = parse_malicious("evil\tMAL-1\nbad\tnot-an-id\n", normalize);
        assert_eq!((mal.len(), bad), (1, 1));
        let (cur, bad) = parse_curated("a\tfamily\tb\tsrc\nc\tweird\td\n", normalize);
        assert_eq!((cur.len(), bad), (1, 1));
    }
}
