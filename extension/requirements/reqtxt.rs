//! pip's requirements file format (`requirements*.txt`, pip-compile's
//! `*.in` and its output), as pip reads it: backslash continuations joined,
//! comments (`#` at the start or after whitespace) dropped, then each logical
//! line is an option line (`-r`, `-c`, `-i`, `--extra-index-url`,
//! `--trusted-host`, `-f`, `--no-index`, ...) or a requirement with its
//! per-requirement options (`--hash=`). The requirement itself goes through
//! the PEP 508 parser; a URL or path without a name is read as pip does
//! (`#egg=`, the wheel or sdist file name).
//!
//! `-r`/`-c` are followed relative to the including file, each file once; a
//! cycle or a missing file is a row with an error at the include's line.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use super::indexes::{IndexSetting, Role, Tool};
use super::spec::{apply_url, fill_from_pep508, name_from_url};
use super::{redact_url, Dependency, Format, Scan, SourceKind, MAX_FILE_BYTES, MAX_INCLUDE_DEPTH};
use crate::host::Host;

/// An include directive: `-r FILE` or `-c FILE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Include {
    /// Line of the directive.
    pub line: usize,
    /// `true` for `-c` (constraints), `false` for `-r`.
    pub constraint: bool,
    /// The target as written.
    pub target: String,
}

/// One file's content, before includes are followed.
#[derive(Debug, Clone, Default)]
pub struct Parsed {
    /// Requirements and error rows.
    pub dependencies: Vec<Dependency>,
    /// Index options.
    pub indexes: Vec<IndexSetting>,
    /// `-r`/`-c` lines.
    pub includes: Vec<Include>,
}

/// pip's logical lines: `(first physical line, text)` with continuations
/// joined and comments removed; blank results are dropped.
pub fn logical_lines(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut pending: Option<(usize, String)> = None;
    for (i, raw) in text.lines().enumerate() {
        let n = i + 1;
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        let is_comment = raw.trim_start().starts_with('#');
        if raw.ends_with('\\') && !is_comment {
            let part = &raw[..raw.len() - 1];
            match &mut pending {
                Some((_, s)) => s.push_str(part),
                None => pending = Some((n, part.to_string())),
            }
            continue;
        }
        let (start, joined) = match pending.take() {
            Some((start, mut s)) => {
                if !is_comment {
                    s.push_str(raw);
                }
                (start, s)
            }
            None => (n, raw.to_string()),
        };
        let cleaned = strip_comment(&joined).trim().to_string();
        if !cleaned.is_empty() {
            out.push((start, cleaned));
        }
    }
    if let Some((start, s)) = pending {
        let cleaned = strip_comment(&s).trim().to_string();
        if !cleaned.is_empty() {
            out.push((start, cleaned));
        }
    }
    out
}

/// Removes a comment: `#` at the start of the line or after whitespace.
fn strip_comment(line: &str) -> &str {
    let bytes = line.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'#' && (i == 0 || bytes[i - 1].is_ascii_whitespace()) {
            return &line[..i];
        }
    }
    line
}

/// Options that take a value, as pip spells them (short and long).
const VALUE_OPTIONS: &[(&str, &str)] = &[
    ("-r", "requirement"),
    ("--requirement", "requirement"),
    ("-c", "constraint"),
    ("--constraint", "constraint"),
    ("-e", "editable"),
    ("--editable", "editable"),
    ("-i", "index-url"),
    ("--index-url", "index-url"),
    ("--extra-index-url", "extra-index-url"),
    ("--trusted-host", "trusted-host"),
    ("-f", "find-links"),
    ("--find-links", "find-links"),
    ("--hash", "hash"),
    ("--only-binary", "only-binary"),
    ("--no-binary", "no-binary"),
    ("--use-feature", "use-feature"),
    ("--config-settings", "config-settings"),
    ("--global-option", "global-option"),
    ("--install-option", "install-option"),
    ("--platform", "platform"),
];

/// A line's options: `(name, value)` pairs.
type Options = Vec<(String, String)>;

/// Splits a logical line into the requirement part and its options, as pip
/// does: words up to the first one that starts with `-` are the requirement.
fn split_options(line: &str) -> (String, Options, Option<String>) {
    let words: Vec<&str> = line.split_whitespace().collect();
    let first_opt = words
        .iter()
        .position(|w| w.starts_with('-'))
        .unwrap_or(words.len());
    let req = words[..first_opt].join(" ");
    let mut opts = Vec::new();
    let mut i = first_opt;
    let mut bad = None;
    while i < words.len() {
        let w = words[i];
        i += 1;
        let (flag, inline) = match w.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f, Some(v.to_string())),
            _ => (w, None),
        };
        let known = VALUE_OPTIONS
            .iter()
            .find(|(f, _)| *f == flag)
            .map(|(_, n)| *n);
        // Short options may carry their value attached: `-rbase.txt`.
        let short_attached = if known.is_none() && flag.len() > 2 && !flag.starts_with("--") {
            VALUE_OPTIONS
                .iter()
                .find(|(f, _)| f.len() == 2 && flag.starts_with(f))
                .map(|(f, n)| (*n, flag[f.len()..].to_string()))
        } else {
            None
        };
        match (known, short_attached) {
            (Some(name), _) => {
                let value = match inline {
                    Some(v) => Some(v),
                    None if i < words.len() => {
                        i += 1;
                        Some(words[i - 1].to_string())
                    }
                    None => None,
                };
                match value {
                    Some(v) => opts.push((name.to_string(), v)),
                    None => bad = Some(format!("option {flag} needs a value")),
                }
            }
            (None, Some((name, v))) => opts.push((name.to_string(), v)),
            (None, None) => {
                let name = flag.trim_start_matches('-').to_string();
                opts.push((name, inline.unwrap_or_default()));
            }
        }
    }
    (req, opts, bad)
}

/// True when a requirement string is a URL or path rather than PEP 508
/// (`./pkg`, `/abs/pkg.whl`, `https://...`, `git+https://...`).
fn is_unnamed(req: &str) -> bool {
    let first = req.split_whitespace().next().unwrap_or("");
    if first.contains(" @ ") || req.contains(" @ ") {
        return false;
    }
    first.starts_with('.')
        || first.starts_with('/')
        || first.starts_with('~')
        || first.contains("://")
        || first.starts_with("file:")
        || ["git+", "hg+", "svn+", "bzr+"]
            .iter()
            .any(|p| first.to_ascii_lowercase().starts_with(p))
        || (first.contains('/') && !first.contains('@'))
        || super::spec::is_archive(first)
}

/// Parses one requirements file's text. `inherited_index` is the including
/// file's `--index-url`, which pip applies to every file of the install.
pub fn parse(path: &Path, text: &str, format: Format, inherited_index: &str) -> Parsed {
    let mut out = Parsed::default();
    let mut index_url = inherited_index.to_string();
    // Options apply to the whole file wherever they appear: read them first.
    let lines = logical_lines(text);
    let mut split: Vec<(usize, String, Options, Option<String>)> = Vec::new();
    for (n, line) in lines {
        let (req, opts, bad) = split_options(&line);
        for (name, value) in &opts {
            let role = match name.as_str() {
                "index-url" => Some(Role::Primary),
                "extra-index-url" => Some(Role::Extra),
                "trusted-host" => Some(Role::TrustedHost),
                "find-links" => Some(Role::FindLinks),
                "no-index" => Some(Role::NoIndex),
                _ => None,
            };
            if let Some(role) = role {
                let (url, creds) = redact_url(value);
                if role == Role::Primary {
                    index_url = url.clone();
                }
                out.indexes.push(IndexSetting::file(
                    path,
                    n,
                    Tool::Pip,
                    name,
                    role,
                    url,
                    creds,
                ));
            }
        }
        split.push((n, req, opts, bad));
    }
    for (n, req, opts, bad) in split {
        let hashes = opts.iter().filter(|(k, _)| k == "hash").count();
        for (name, value) in &opts {
            match name.as_str() {
                "requirement" | "constraint" => out.includes.push(Include {
                    line: n,
                    constraint: name == "constraint",
                    target: value.clone(),
                }),
                "editable" => {
                    let mut d = Dependency::new(path, n, format);
                    apply_url(&mut d, value);
                    d.source = SourceKind::Editable;
                    d.pinned = false;
                    match name_from_url(value) {
                        Some(nm) => d.set_name(&nm),
                        None => d.set_name(
                            value
                                .trim_end_matches('/')
                                .rsplit('/')
                                .next()
                                .unwrap_or_default(),
                        ),
                    }
                    out.dependencies.push(d);
                }
                _ => {}
            }
        }
        if let Some(msg) = bad {
            out.dependencies
                .push(Dependency::error(path, n, format, msg));
            continue;
        }
        if req.is_empty() {
            if hashes > 0 {
                out.dependencies.push(Dependency::error(
                    path,
                    n,
                    format,
                    "--hash without a requirement",
                ));
            }
            continue;
        }
        let mut d = Dependency::new(path, n, format);
        d.index_url = index_url.clone();
        d.hashed = hashes > 0;
        if is_unnamed(&req) {
            apply_url(&mut d, &req);
            match name_from_url(&req) {
                Some(nm) => d.set_name(&nm),
                None => {
                    d.error = Some(format!(
                        "cannot tell the project name of {} (add #egg=NAME or use NAME @ URL)",
                        d.url
                    ))
                }
            }
            d.hashed |= hashes > 0;
            d.index_url.clear();
        } else if let Err(e) = fill_from_pep508(&mut d, &req) {
            d.error = Some(e);
        } else if d.source != SourceKind::Index {
            d.index_url.clear();
        }
        out.dependencies.push(d);
    }
    out
}

/// Reads `path` and the files it includes (depth-first, each once),
/// appending to `scan`. A cycle or a missing include is an error row at the
/// include's line in the including file.
pub fn scan_tree(
    host: &Host,
    path: &Path,
    format: Format,
    scan: &mut Scan,
    visited: &mut BTreeSet<PathBuf>,
) {
    let mut stack = vec![path.to_path_buf()];
    walk(host, path, format, "", scan, visited, &mut stack);
}

fn walk(
    host: &Host,
    path: &Path,
    format: Format,
    inherited_index: &str,
    scan: &mut Scan,
    visited: &mut BTreeSet<PathBuf>,
    stack: &mut Vec<PathBuf>,
) {
    let text = match host.read(path, MAX_FILE_BYTES) {
        Ok(b) => String::from_utf8_lossy(&b).into_owned(),
        Err(e) => {
            scan.dependencies
                .push(Dependency::file_error(path, 0, format, e.to_string()));
            return;
        }
    };
    let parsed = parse(path, &text, format, inherited_index);
    let index = parsed
        .indexes
        .iter()
        .rev()
        .find(|s| s.role == Role::Primary)
        .map(|s| s.url.clone())
        .unwrap_or_else(|| inherited_index.to_string());
    scan.dependencies.extend(parsed.dependencies);
    scan.indexes.extend(parsed.indexes);
    let dir = path.parent().unwrap_or(Path::new("/"));
    for inc in parsed.includes {
        let target = if inc.target.starts_with('/') {
            PathBuf::from(&inc.target)
        } else if inc.target.contains("://") {
            scan.dependencies.push(Dependency::error(
                path,
                inc.line,
                format,
                format!("remote include not followed: {}", redact_url(&inc.target).0),
            ));
            continue;
        } else {
            dir.join(&inc.target)
        };
        let target = Host::normalize(&target);
        if stack.contains(&target) {
            let chain: Vec<String> = stack
                .iter()
                .chain(std::iter::once(&target))
                .map(|p| p.to_string_lossy().into_owned())
                .collect();
            scan.dependencies.push(Dependency::error(
                path,
                inc.line,
                format,
                format!("include cycle: {}", chain.join(" -> ")),
            ));
            continue;
        }
        if !host.is_file(&target) {
            scan.dependencies.push(Dependency::error(
                path,
                inc.line,
                format,
                format!("included file not found: {}", target.display()),
            ));
            continue;
        }
        if stack.len() >= MAX_INCLUDE_DEPTH {
            scan.dependencies.push(Dependency::error(
                path,
                inc.line,
                format,
                format!("includes nested deeper than {MAX_INCLUDE_DEPTH}"),
            ));
            continue;
        }
        if !visited.insert(target.clone()) {
            continue;
        }
        scan.files.push(target.clone());
        let child_format = if inc.target.ends_with(".in") {
            Format::RequirementsIn
        } else {
            Format::RequirementsTxt
        };
        stack.push(target.clone());
        walk(host, &target, child_format, &index, scan, visited, stack);
        stack.pop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEED: &str = "\
# ML service dependencies
--index-url https://pypi.org/simple
torch==2.3.1 \\
    --hash=sha256:aaaa \\
    --hash=sha256:bbbb
torch-utilites          # the typo
numpy>=1.26 ; python_version >= \"3.10\"
-e git+https://github.com/org/tool.git@main#egg=tool
https://files.example/pkg_x-1.0-py3-none-any.whl#sha256=cc
--extra-index-url https://tok@private.example/simple
-r base.txt
not a valid >=>= line
";

    #[test]
    fn logical_lines_join_and_strip() {
        let l = logical_lines("a \\\n  b # c\n# only\n\nurl#frag\n");
        assert_eq!(
            l,
            vec![(1, "a   b".to_string()), (5, "url#frag".to_string())]
        );
    }

    #[test]
    fn reads_the_seed_file() {
        let p = parse(
            Path::new("/p/requirements.txt"),
            SEED,
            Format::RequirementsTxt,
            "",
        );
        let by = |n: &str| {
            p.dependencies
                .iter()
                .find(|d| d.normalized_name == n)
                .unwrap_or_else(|| panic!("{n}"))
        };
        let torch = by("torch");
        assert_eq!(torch.line, 3);
        assert!(torch.pinned && torch.hashed);
        assert_eq!(torch.index_url, "https://pypi.org/simple");
        let typo = by("torch-utilites");
        assert_eq!(typo.line, 6);
        assert!(!typo.pinned && !typo.hashed);
        let np = by("numpy");
        assert_eq!(np.markers, "python_full_version >= '3.10'");
        let tool = by("tool");
        assert_eq!(tool.source, SourceKind::Editable);
        let whl = by("pkg-x");
        assert_eq!(whl.source, SourceKind::Url);
        assert!(whl.pinned && whl.hashed);
        let bad: Vec<_> = p
            .dependencies
            .iter()
            .filter(|d| d.error.is_some())
            .collect();
        assert_eq!(bad.len(), 1);
        assert_eq!(bad[0].line, 12);
        assert_eq!(p.includes.len(), 1);
        assert_eq!(p.includes[0].target, "base.txt");
        let extra = p.indexes.iter().find(|i| i.role == Role::Extra).unwrap();
        assert_eq!(extra.url, "https://private.example/simple");
        assert!(extra.has_credentials);
        assert_eq!(extra.line, 10);
    }

    #[test]
    fn attached_and_equals_forms() {
        let p = parse(
            Path::new("/r.txt"),
            "-rbase.txt\n--constraint=c.txt\n--index-url=https://idx.example/simple\nx\n",
            Format::RequirementsTxt,
            "",
        );
        assert_eq!(p.includes.len(), 2);
        assert!(p.includes[1].constraint);
        assert_eq!(p.dependencies[0].index_url, "https://idx.example/simple");
    }
}
