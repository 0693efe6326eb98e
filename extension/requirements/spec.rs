//! One PEP 508 dependency specifier, read with `pep508_rs`, and the facts a
//! row needs from it: name as written, specifier, markers, pinned, source.
//!
//! URLs are kept verbatim ([`RawUrl`]): `pep508_rs`'s own URL type expands
//! `${VAR}` from squatch's environment, which must never reach a row.

use std::fmt;
use std::path::Path;
use std::str::FromStr;

use pep508_rs::pep440_rs::Operator;
use pep508_rs::{Requirement, VersionOrUrl};

use super::{redact_url, Dependency, SourceKind};

/// A URL kept exactly as written (no parsing, no variable expansion).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RawUrl(pub String);

impl fmt::Display for RawUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl pep508_rs::Pep508Url for RawUrl {
    type Err = std::convert::Infallible;

    fn parse_url(url: &str, _working_dir: Option<&Path>) -> Result<Self, Self::Err> {
        Ok(RawUrl(url.to_string()))
    }
}

/// Parses `text` as a PEP 508 specifier into `dep` (name, specifier, markers,
/// extras, pinned, source, url). Returns the parser's message on failure.
pub fn fill_from_pep508(dep: &mut Dependency, text: &str) -> Result<(), String> {
    let text = text.trim();
    // pep508_rs 0.9.2 panics (an `expect`) on a name that ends in `.`, `-`
    // or `_` when more text follows (`b. ==1`): refuse those first, and
    // never let a parser panic take the table down.
    let lead = written_name(text, "");
    if lead.ends_with(['.', '-', '_']) {
        return Err(format!(
            "Package name must end with an alphanumeric character: {lead}"
        ));
    }
    let parsed = std::panic::catch_unwind(|| Requirement::<RawUrl>::from_str(text))
        .map_err(|_| "the PEP 508 parser failed on this line".to_string())?;
    let req = parsed.map_err(|e| first_line(&e.to_string()))?;
    dep.set_name(written_name(text, req.name.as_ref()));
    dep.extras = req
        .extras
        .iter()
        .map(|e| e.to_string())
        .collect::<Vec<_>>()
        .join(",");
    dep.markers = req.marker.try_to_string().unwrap_or_default();
    match &req.version_or_url {
        None => {}
        Some(VersionOrUrl::VersionSpecifier(specs)) => {
            dep.specifier = specs.to_string();
            dep.pinned = specs.len() == 1
                && matches!(specs[0].operator(), Operator::Equal | Operator::ExactEqual);
        }
        Some(VersionOrUrl::Url(url)) => apply_url(dep, &url.0),
    }
    Ok(())
}

/// The name as written in `text` (PEP 508 names are ASCII letters, digits,
/// `.`, `_`, `-`), falling back to the parser's normalised name.
fn written_name<'a>(text: &'a str, parsed: &'a str) -> &'a str {
    let end = text
        .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
        .unwrap_or(text.len());
    if end == 0 {
        parsed
    } else {
        &text[..end]
    }
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or_default().trim().to_string()
}

/// Sets source, url, pinned and hashed from a direct URL or path.
pub fn apply_url(dep: &mut Dependency, url: &str) {
    let (stripped, _) = redact_url(url);
    dep.url = stripped;
    let lower = url.to_ascii_lowercase();
    let (scheme, _) = lower.split_once("://").unwrap_or(("", ""));
    let vcs = ["git+", "hg+", "svn+", "bzr+"]
        .iter()
        .any(|p| lower.starts_with(p));
    let (no_fragment, fragment) = match url.split_once('#') {
        Some((u, f)) => (u, f),
        None => (url, ""),
    };
    if fragment.split('&').any(|kv| {
        kv.starts_with("sha256=") || kv.starts_with("sha512=") || kv.starts_with("sha384=")
    }) {
        dep.hashed = true;
    }
    if vcs {
        dep.source = SourceKind::Vcs;
        // Pinned only at a full commit id: `repo@<40 hex>`.
        let rev = no_fragment
            .rsplit_once('@')
            .map(|(_, r)| r)
            .filter(|r| !r.contains('/'));
        dep.pinned = rev.is_some_and(|r| {
            (r.len() == 40 || r.len() == 64) && r.bytes().all(|b| b.is_ascii_hexdigit())
        });
    } else if scheme == "file" || scheme.is_empty() {
        dep.source = SourceKind::Path;
        dep.pinned = is_archive(no_fragment);
    } else {
        dep.source = SourceKind::Url;
        dep.pinned = is_archive(no_fragment);
    }
}

/// A wheel or sdist file name (one fixed artifact).
pub fn is_archive(url: &str) -> bool {
    let l = url.to_ascii_lowercase();
    [".whl", ".tar.gz", ".zip", ".tar.bz2", ".tgz", ".tar.xz"]
        .iter()
        .any(|e| l.ends_with(e))
}

/// The project name a wheel or sdist file name carries, or an `#egg=`
/// fragment names, for a URL given without `name @`.
pub fn name_from_url(url: &str) -> Option<String> {
    if let Some((_, frag)) = url.split_once('#') {
        for kv in frag.split('&') {
            if let Some(n) = kv.strip_prefix("egg=") {
                let n = n.split('[').next().unwrap_or(n);
                if !n.is_empty() {
                    return Some(n.to_string());
                }
            }
        }
    }
    let no_frag = url.split(['#', '?']).next().unwrap_or(url);
    let file = no_frag.trim_end_matches('/').rsplit('/').next()?;
    let l = file.to_ascii_lowercase();
    if l.ends_with(".whl") {
        return file.split('-').next().map(str::to_string);
    }
    for ext in [".tar.gz", ".zip", ".tar.bz2", ".tgz", ".tar.xz"] {
        if l.ends_with(ext) {
            let stem = &file[..file.len() - ext.len()];
            // name-version: the version starts at the last '-' before a digit.
            let cut = stem
                .char_indices()
                .filter(|&(i, c)| {
                    c == '-' && stem[i + 1..].starts_with(|d: char| d.is_ascii_digit())
                })
                .map(|(i, _)| i)
                .next_back()?;
            return Some(stem[..cut].to_string());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::requirements::Format;

    fn dep(text: &str) -> Dependency {
        let mut d = Dependency::new(Path::new("/r.txt"), 1, Format::RequirementsTxt);
        fill_from_pep508(&mut d, text).unwrap();
        d
    }

    #[test]
    fn pins_and_ranges() {
        let d = dep("Torch_Utilites==0.1.0");
        assert_eq!(d.name, "Torch_Utilites");
        assert_eq!(d.normalized_name, "torch-utilites");
        assert_eq!(d.specifier, "==0.1.0");
        assert!(d.pinned);
        assert!(!dep("numpy>=1.26,<2").pinned);
        assert!(!dep("numpy==1.*").pinned);
        assert!(dep("numpy===1.26.4").pinned);
        assert!(!dep("numpy").pinned);
    }

    #[test]
    fn markers_extras_and_urls() {
        let d = dep("requests[socks]>=2 ; python_version < \"3.10\"");
        assert_eq!(d.extras, "socks");
        assert_eq!(d.markers, "python_full_version < '3.10'");
        let u = dep("pkg @ https://user:tok@files.example/pkg-1.0-py3-none-any.whl#sha256=ab");
        assert_eq!(u.source, SourceKind::Url);
        assert_eq!(
            u.url,
            "https://files.example/pkg-1.0-py3-none-any.whl#sha256=ab"
        );
        assert!(u.pinned && u.hashed);
        let g = dep("lib @ git+https://github.com/o/lib@0123456789abcdef0123456789abcdef01234567");
        assert_eq!(g.source, SourceKind::Vcs);
        assert!(g.pinned);
        assert!(!dep("lib @ git+https://github.com/o/lib@main").pinned);
    }

    #[test]
    fn variables_are_not_expanded() {
        std::env::set_var("SQUATCH_SPEC_TEST_SECRET", "hunter2");
        let d = dep("pkg @ https://${SQUATCH_SPEC_TEST_SECRET}@x.example/pkg-1.0.tar.gz");
        assert!(!d.url.contains("hunter2"), "{}", d.url);
    }

    #[test]
    fn names_from_urls() {
        assert_eq!(
            name_from_url("git+https://x/y.git@v1#egg=My_Pkg[extra]").as_deref(),
            Some("My_Pkg")
        );
        assert_eq!(
            name_from_url("https://x/torch_utils-0.2.0-py3-none-any.whl").as_deref(),
            Some("torch_utils")
        );
        assert_eq!(
            name_from_url("https://x/my-pkg-2.0.tar.gz").as_deref(),
            Some("my-pkg")
        );
        assert_eq!(name_from_url("./local/dir"), None);
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let mut d = Dependency::new(Path::new("/r.txt"), 1, Format::RequirementsTxt);
        assert!(fill_from_pep508(&mut d, "torch >=>= 2").is_err());
        assert!(fill_from_pep508(&mut d, "").is_err());
        // A name ending in '.' before more text made pep508_rs 0.9.2 panic
        // (found by the property test in requirements::props).
        assert!(fill_from_pep508(&mut d, "b. ==1").is_err());
        assert!(fill_from_pep508(&mut d, "b-[x]").is_err());
    }
}
