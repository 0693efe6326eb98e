//! Core metadata (`METADATA`, `PKG-INFO`): RFC 822 style headers.
//!
//! The header block ends at the first blank line; what follows is the long
//! description, which is never needed here and may be huge, so callers read
//! only a bounded prefix of the file. A line that starts with a space or a tab
//! continues the previous header. A value may itself contain colons
//! (`Home-page: https://x`), so a line is split at its *first* colon only.

/// How many bytes of a METADATA/PKG-INFO file are read. The headers of real
/// distributions fit in a few KiB; legacy (metadata 1.x) files put the whole
/// description in a `Description:` header, which this comfortably covers.
pub const METADATA_READ_CAP: u64 = 1024 * 1024;

/// The fields of core metadata that squatch reports.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Metadata {
    /// `Metadata-Version`.
    pub metadata_version: Option<String>,
    /// `Name`, as written by the project.
    pub name: Option<String>,
    /// `Version`.
    pub version: Option<String>,
    /// `Summary`.
    pub summary: Option<String>,
    /// `Author`.
    pub author: Option<String>,
    /// `Author-email`.
    pub author_email: Option<String>,
    /// `Maintainer`.
    pub maintainer: Option<String>,
    /// `Maintainer-email`.
    pub maintainer_email: Option<String>,
    /// `Home-page`.
    pub home_page: Option<String>,
    /// `Download-URL`.
    pub download_url: Option<String>,
    /// `License` (first line only) or `License-Expression`.
    pub license: Option<String>,
    /// `Requires-Python`.
    pub requires_python: Option<String>,
    /// Every `Requires-Dist` (PEP 508 requirement strings, unparsed).
    pub requires_dist: Vec<String>,
    /// Every `Project-URL` (`label, url`).
    pub project_urls: Vec<String>,
    /// True when the header block did not end within the bytes read.
    pub truncated: bool,
}

impl Metadata {
    /// Parses the header block of a core metadata file. Never fails: junk
    /// lines are skipped, and a file without `Name`/`Version` gives a
    /// `Metadata` with those fields unset, for the caller to report.
    pub fn parse(bytes: &[u8], truncated_read: bool) -> Metadata {
        // Only the header block is decoded: the body (the long description)
        // can be most of the file and is never needed.
        let end = header_end(bytes);
        let text = String::from_utf8_lossy(&bytes[..end]);
        let mut md = Metadata::default();
        let mut current: Option<(String, String)> = None;
        let mut ended = false;
        for raw in text.split('\n') {
            let line = raw.strip_suffix('\r').unwrap_or(raw);
            if line.is_empty() {
                ended = true;
                break;
            }
            if line.starts_with(' ') || line.starts_with('\t') {
                if let Some((_, value)) = current.as_mut() {
                    // RFC 822 unfolding: the continuation joins with a newline
                    // kept, which is what descriptions rely on; single-line
                    // fields are trimmed when stored.
                    value.push('\n');
                    value.push_str(line.trim_start_matches([' ', '\t']).trim_start_matches('|'));
                }
                continue;
            }
            if let Some((key, value)) = current.take() {
                md.store(&key, value);
            }
            if let Some((key, value)) = line.split_once(':') {
                let key = key.trim();
                if key.is_empty() || key.contains(' ') {
                    continue;
                }
                current = Some((key.to_ascii_lowercase(), value.trim().to_string()));
            }
        }
        if let Some((key, value)) = current.take() {
            md.store(&key, value);
        }
        md.truncated = truncated_read && !ended && end == bytes.len();
        md
    }

    fn store(&mut self, key: &str, value: String) {
        let single = || {
            let v = value.lines().next().unwrap_or("").trim().to_string();
            if v.is_empty() || v.eq_ignore_ascii_case("UNKNOWN") {
                None
            } else {
                Some(v)
            }
        };
        // The first occurrence of a single-valued field wins.
        let slot = match key {
            "metadata-version" => &mut self.metadata_version,
            "name" => &mut self.name,
            "version" => &mut self.version,
            "summary" => &mut self.summary,
            "author" => &mut self.author,
            "author-email" => &mut self.author_email,
            "maintainer" => &mut self.maintainer,
            "maintainer-email" => &mut self.maintainer_email,
            "home-page" => &mut self.home_page,
            "download-url" => &mut self.download_url,
            "license" | "license-expression" => &mut self.license,
            "requires-python" => &mut self.requires_python,
            "requires-dist" => {
                if let Some(v) = single() {
                    self.requires_dist.push(v);
                }
                return;
            }
            "project-url" => {
                if let Some(v) = single() {
                    self.project_urls.push(v);
                }
                return;
            }
            _ => return,
        };
        if slot.is_none() {
            *slot = single();
        }
    }
}

/// The length of the header block including its terminating blank line
/// (`\n\n` or `\n\r\n`), or the whole input when there is none.
fn header_end(bytes: &[u8]) -> usize {
    let mut i = 0;
    while let Some(off) = bytes[i..].iter().position(|b| *b == b'\n') {
        let nl = i + off;
        let rest = &bytes[nl + 1..];
        if rest.first() == Some(&b'\n') {
            return nl + 2;
        }
        if rest.starts_with(b"\r\n") {
            return nl + 3;
        }
        i = nl + 1;
    }
    bytes.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_headers_with_colons_and_continuations() {
        let md = Metadata::parse(
            b"Metadata-Version: 2.1\r\nName: torch-utilites\nVersion: 0.1\nSummary: Handy: helpers\nHome-page: https://example.invalid:8443/x\nAuthor: A\n  continued\nRequires-Dist: numpy (>=1)\nRequires-Dist: requests\nLicense: UNKNOWN\n\nName: body-is-ignored\n",
            false,
        );
        assert_eq!(md.name.as_deref(), Some("torch-utilites"));
        assert_eq!(md.version.as_deref(), Some("0.1"));
        assert_eq!(md.summary.as_deref(), Some("Handy: helpers"));
        assert_eq!(
            md.home_page.as_deref(),
            Some("https://example.invalid:8443/x")
        );
        assert_eq!(md.author.as_deref(), Some("A"));
        assert_eq!(md.requires_dist, vec!["numpy (>=1)", "requests"]);
        assert_eq!(md.license, None);
        assert!(!md.truncated);
    }

    #[test]
    fn junk_gives_empty_metadata_not_a_panic() {
        // Binary junk without a single colon cannot yield a field.
        let junk: Vec<u8> = (0..4096u32)
            .map(|i| (i * 7919 % 256) as u8)
            .filter(|b| *b != b':')
            .collect();
        let md = Metadata::parse(&junk, false);
        assert_eq!((md.name, md.version), (None, None));
        let md = Metadata::parse(b"", false);
        assert_eq!(md, Metadata::default());
    }

    #[test]
    fn header_end_finds_the_blank_line() {
        assert_eq!(header_end(b"A: 1\n\nbody"), 6);
        assert_eq!(header_end(b"A: 1\r\n\r\nbody"), 8);
        assert_eq!(header_end(b"A: 1\nB: 2"), 9);
        assert_eq!(header_end(b"\n\nx"), 2);
        // Invalid UTF-8 in the body is never decoded.
        let md = Metadata::parse(b"Name: a\nVersion: 1\n\n\xff\xfe", false);
        assert_eq!(md.version.as_deref(), Some("1"));
    }

    #[test]
    fn truncation_is_reported_only_when_headers_did_not_end() {
        assert!(Metadata::parse(b"Name: a\nVersion: 1", true).truncated);
        assert!(!Metadata::parse(b"Name: a\n\nlong body", true).truncated);
    }
}
