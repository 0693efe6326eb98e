//! A small INI reader (setuptools' `setup.cfg`, pip's `pip.conf`), and
//! `setup.cfg`'s `[options] install_requires` and
//! `[options.extras_require]`, each value read as PEP 508.
//!
//! INI as Python's `configparser` reads these files: `[section]` headers,
//! `key = value` or `key: value`, values continued on indented lines, `#`
//! and `;` comment lines.

use std::path::Path;

use super::spec::fill_from_pep508;
use super::{Dependency, FileScan, Format};

/// One `key = value` of an INI file; a continued value keeps one entry per
/// physical line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IniEntry {
    /// Section name as written.
    pub section: String,
    /// Key, lowercased, `_` read as `-` (pip's spelling).
    pub key: String,
    /// `(line, text)` of each non-empty piece of the value.
    pub values: Vec<(usize, String)>,
}

/// Reads INI text into entries, in file order. Lines that fit no rule are
/// skipped (configparser would refuse the file; a scanner reads on).
pub fn read_ini(text: &str) -> Vec<IniEntry> {
    let mut out: Vec<IniEntry> = Vec::new();
    let mut section = String::new();
    let mut open = false;
    for (i, raw) in text.lines().enumerate() {
        let n = i + 1;
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        let trimmed = line.trim();
        if trimmed.is_empty() {
            continue;
        }
        if trimmed.starts_with('#') || trimmed.starts_with(';') {
            continue;
        }
        let indented = line.starts_with([' ', '\t']);
        if indented && open {
            if let Some(e) = out.last_mut() {
                e.values.push((n, trimmed.to_string()));
            }
            continue;
        }
        if trimmed.starts_with('[') && trimmed.ends_with(']') {
            section = trimmed[1..trimmed.len() - 1].trim().to_string();
            open = false;
            continue;
        }
        let split = match (trimmed.find('='), trimmed.find(':')) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let Some(at) = split else {
            open = false;
            continue;
        };
        let key = trimmed[..at].trim().to_ascii_lowercase().replace('_', "-");
        let value = trimmed[at + 1..].trim();
        let mut values = Vec::new();
        if !value.is_empty() {
            values.push((n, value.to_string()));
        }
        out.push(IniEntry {
            section: section.clone(),
            key,
            values,
        });
        open = true;
    }
    out
}

/// Parses `setup.cfg`.
pub fn parse(path: &Path, text: &str) -> FileScan {
    let mut scan = FileScan::default();
    for e in read_ini(text) {
        let group = match (e.section.as_str(), e.key.as_str()) {
            ("options", "install-requires") => String::new(),
            ("options.extras_require", extra) | ("options.extras-require", extra) => {
                extra.to_string()
            }
            _ => continue,
        };
        for (line, value) in &e.values {
            // `file: requirements.txt` points at another file (read on its own).
            if value.starts_with("file:") || value.starts_with("attr:") {
                continue;
            }
            // setuptools splits the value on new lines: one requirement each.
            let mut d = Dependency::new(path, *line, Format::SetupCfg);
            d.group = group.clone();
            if let Err(msg) = fill_from_pep508(&mut d, value) {
                d.error = Some(msg);
            }
            scan.dependencies.push(d);
        }
    }
    scan
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_install_requires_and_extras() {
        let text = "[metadata]\nname = x\n\n[options]\ninstall_requires =\n    requests>=2\n    torch-utilites\n\n[options.extras_require]\ntest =\n    pytest==8.0\n";
        let s = parse(Path::new("/p/setup.cfg"), text);
        assert_eq!(s.dependencies.len(), 3);
        assert_eq!(s.dependencies[1].name, "torch-utilites");
        assert_eq!(s.dependencies[1].line, 7);
        assert_eq!(s.dependencies[2].group, "test");
        assert!(s.dependencies[2].pinned);
    }

    #[test]
    fn ini_spelling() {
        let e = read_ini("[global]\nindex_url = https://a/simple\nextra-index-url =\n  https://b/simple\n  https://c/simple\n; note\n");
        assert_eq!(e[0].key, "index-url");
        assert_eq!(e[1].values.len(), 2);
        assert_eq!(e[1].values[1], (5, "https://c/simple".to_string()));
    }
}
