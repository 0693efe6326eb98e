//! Dependency files and package-index settings: the scanner behind
//! `python_requirements`, `python_package_indexes` and `squatch check`.
//!
//! Pure and osquery-free: everything is read through [`Host`] and returned
//! as plain data. Every requirement string goes through a real PEP 508 parser
//! ([`pep508_rs`], see [`spec`]); TOML files through the `toml` crate with
//! spans, so every row knows its line.
//!
//! - [`reqtxt`]: `requirements*.txt` / `*.in` (pip's format: options,
//!   includes, hashes, continuations);
//! - [`pyproject`]: `pyproject.toml` (PEP 621, PEP 735, Poetry, uv, pdm);
//! - [`locks`]: `pylock.toml`, `uv.lock`, `poetry.lock`, `Pipfile.lock`,
//!   `pdm.lock`;
//! - [`setupcfg`]: `setup.cfg` (`install_requires`, `extras_require`) and the
//!   INI reader `pip.conf` shares;
//! - [`indexes`]: where pip, uv, poetry, pdm and conda fetch from, and why a
//!   setting is risky;
//! - [`scope`]: which files a default scan reads.

pub mod indexes;
pub mod locks;
pub mod pyproject;
pub mod reqtxt;
pub mod scope;
pub mod setupcfg;
pub mod spec;

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use crate::host::{Host, HostError};
use crate::python::strip_credentials;

pub use indexes::{IndexSetting, Tool};
pub use scope::{default_scope, find_dependency_files, ScopeOptions};

/// Largest dependency file read (a lock file of a big monorepo is a few MB).
pub const MAX_FILE_BYTES: u64 = 8 * 1024 * 1024;

/// Deepest chain of `-r`/`-c` includes followed from one file.
pub const MAX_INCLUDE_DEPTH: usize = 16;

/// An error reading or parsing a dependency file; it carries the host path.
#[derive(Debug, thiserror::Error)]
pub enum RequirementsError {
    /// The file could not be read.
    #[error(transparent)]
    Host(#[from] HostError),
    /// The file is not valid TOML (or JSON) of the expected shape.
    #[error("{path}: {message}")]
    Parse {
        /// Host path of the file.
        path: PathBuf,
        /// What was wrong, with the line when known.
        message: String,
    },
}

/// Which kind of file a dependency was declared in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Format {
    /// pip's requirements format, `requirements*.txt` (and any file given
    /// explicitly that has no better-known name).
    RequirementsTxt,
    /// pip-compile input, `*.in`: same format, unpinned by design.
    RequirementsIn,
    /// `pyproject.toml`.
    Pyproject,
    /// PEP 751 `pylock.toml` / `pylock.*.toml`.
    Pylock,
    /// `uv.lock`.
    UvLock,
    /// `poetry.lock`.
    PoetryLock,
    /// `Pipfile.lock` (JSON).
    PipfileLock,
    /// `pdm.lock`.
    PdmLock,
    /// `setup.cfg`.
    SetupCfg,
}

impl Format {
    /// The format's name in rows (the usual file name).
    pub fn as_str(self) -> &'static str {
        match self {
            Format::RequirementsTxt => "requirements.txt",
            Format::RequirementsIn => "requirements.in",
            Format::Pyproject => "pyproject.toml",
            Format::Pylock => "pylock.toml",
            Format::UvLock => "uv.lock",
            Format::PoetryLock => "poetry.lock",
            Format::PipfileLock => "Pipfile.lock",
            Format::PdmLock => "pdm.lock",
            Format::SetupCfg => "setup.cfg",
        }
    }

    /// True for lock files (every entry pinned by construction).
    pub fn is_lock(self) -> bool {
        matches!(
            self,
            Format::Pylock
                | Format::UvLock
                | Format::PoetryLock
                | Format::PipfileLock
                | Format::PdmLock
        )
    }

    /// The format a file name says, for the default scan: `None` when the
    /// name is not a dependency file squatch reads unasked.
    pub fn from_file_name(name: &str, parent_is_requirements_dir: bool) -> Option<Format> {
        let lower = name.to_ascii_lowercase();
        Some(match name {
            "pyproject.toml" => Format::Pyproject,
            "uv.lock" => Format::UvLock,
            "poetry.lock" => Format::PoetryLock,
            "Pipfile.lock" => Format::PipfileLock,
            "pdm.lock" => Format::PdmLock,
            "setup.cfg" => Format::SetupCfg,
            "pylock.toml" => Format::Pylock,
            _ if name.starts_with("pylock.") && name.ends_with(".toml") => Format::Pylock,
            _ if (lower.starts_with("requirements") || lower.starts_with("constraints"))
                && lower.ends_with(".txt") =>
            {
                Format::RequirementsTxt
            }
            _ if (lower.starts_with("requirements") || lower.starts_with("constraints"))
                && lower.ends_with(".in") =>
            {
                Format::RequirementsIn
            }
            _ if parent_is_requirements_dir && lower.ends_with(".txt") => Format::RequirementsTxt,
            _ if parent_is_requirements_dir && lower.ends_with(".in") => Format::RequirementsIn,
            _ => return None,
        })
    }

    /// The format of a file named explicitly (`WHERE path = ...`, `squatch
    /// check FILE`): its known name, else pip's requirements format.
    pub fn for_explicit_file(path: &Path) -> Format {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let in_req_dir = path
            .parent()
            .and_then(Path::file_name)
            .is_some_and(|n| n == "requirements");
        Format::from_file_name(&name, in_req_dir).unwrap_or(if name.ends_with(".in") {
            Format::RequirementsIn
        } else {
            Format::RequirementsTxt
        })
    }
}

/// Where a dependency is fetched from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceKind {
    /// A package index (PyPI or a private one).
    Index,
    /// A direct archive URL.
    Url,
    /// A version-control URL (`git+https://...`).
    Vcs,
    /// A local file or directory.
    Path,
    /// An editable install (`-e`).
    Editable,
}

impl SourceKind {
    /// The kind's name in rows.
    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::Index => "index",
            SourceKind::Url => "url",
            SourceKind::Vcs => "vcs",
            SourceKind::Path => "path",
            SourceKind::Editable => "editable",
        }
    }
}

/// One declared or locked dependency (or, with `error` set and no name, a
/// line that could not be read).
#[derive(Debug, Clone, PartialEq)]
pub struct Dependency {
    /// Host path of the file that declares it.
    pub path: PathBuf,
    /// 1-based line of its declaration (the first line of a continued line);
    /// 0 when unknown.
    pub line: usize,
    /// The file's format.
    pub format: Format,
    /// The name as written (empty when the line could not be parsed).
    pub name: String,
    /// PEP 503 normalised name.
    pub normalized_name: String,
    /// Version specifier as written by the parser (`==1.2.3`, `>=2,<3`, a
    /// Poetry constraint `^1.2`), empty for none.
    pub specifier: String,
    /// Environment markers, empty for none.
    pub markers: String,
    /// Extras requested (`requests[socks]`), comma separated.
    pub extras: String,
    /// The group, extra or lock section it belongs to (`dev`, `test`,
    /// `develop`), empty for the main dependencies.
    pub group: String,
    /// Exactly one version: `==X` (no wildcard), `===X`, a lock entry, an
    /// archive URL or a VCS URL at a full commit id.
    pub pinned: bool,
    /// At least one hash (`--hash=`, a lock file's hashes, `#sha256=`).
    pub hashed: bool,
    /// Where it comes from.
    pub source: SourceKind,
    /// Its direct URL or path (credentials stripped), when not an index.
    pub url: String,
    /// The index it is fetched from, when the file says (credentials
    /// stripped).
    pub index_url: String,
    /// Declared by the project (not only present in a lock file).
    pub is_direct: bool,
    /// The locked version of a lock entry.
    pub version: String,
    /// Why the line could not be read, when it could not.
    pub error: Option<String>,
    /// The whole file could not be read or parsed (this row stands for it).
    pub file_failed: bool,
}

impl Dependency {
    /// An empty dependency of `path` at `line`, to be filled in.
    pub fn new(path: &Path, line: usize, format: Format) -> Dependency {
        Dependency {
            path: path.to_path_buf(),
            line,
            format,
            name: String::new(),
            normalized_name: String::new(),
            specifier: String::new(),
            markers: String::new(),
            extras: String::new(),
            group: String::new(),
            pinned: false,
            hashed: false,
            source: SourceKind::Index,
            url: String::new(),
            index_url: String::new(),
            is_direct: !format.is_lock(),
            version: String::new(),
            error: None,
            file_failed: false,
        }
    }

    /// A row that says a line or file could not be read.
    pub fn error(path: &Path, line: usize, format: Format, message: impl Into<String>) -> Self {
        let mut d = Dependency::new(path, line, format);
        d.is_direct = false;
        d.error = Some(message.into());
        d
    }

    /// A row that says a whole file could not be read or parsed.
    pub fn file_error(
        path: &Path,
        line: usize,
        format: Format,
        message: impl Into<String>,
    ) -> Self {
        let mut d = Dependency::error(path, line, format, message);
        d.file_failed = true;
        d
    }

    /// Sets the name (and its normalised form).
    pub fn set_name(&mut self, name: &str) {
        self.name = name.to_string();
        self.normalized_name = crate::python::normalize_name(name);
    }
}

/// What reading one dependency file gave.
#[derive(Debug, Clone, Default)]
pub struct FileScan {
    /// The dependencies (and error rows), in file order.
    pub dependencies: Vec<Dependency>,
    /// Index settings found in the file (`--index-url` lines,
    /// `[tool.uv.index]`, `[[tool.poetry.source]]`, Pipfile.lock sources).
    pub indexes: Vec<IndexSetting>,
}

/// Everything read from a set of files.
#[derive(Debug, Clone, Default)]
pub struct Scan {
    /// Dependencies of every file read, includes included.
    pub dependencies: Vec<Dependency>,
    /// Index settings of every file read.
    pub indexes: Vec<IndexSetting>,
    /// Files read (host paths), in the order read.
    pub files: Vec<PathBuf>,
}

/// 1-based line of a byte offset in `text`.
pub fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    memchr::memchr_iter(b'\n', &text.as_bytes()[..end]).count() + 1
}

/// Strips credentials from a URL and says whether there were any.
pub fn redact_url(url: &str) -> (String, bool) {
    let stripped = strip_credentials(url);
    let had = stripped != url;
    (stripped, had)
}

/// Reads one file (any format) and, for pip's requirements format, the files
/// it includes, each once. `format` is the file's format.
pub fn scan_file(host: &Host, path: &Path, format: Format) -> Scan {
    let mut scan = Scan::default();
    let mut visited = BTreeSet::new();
    scan_into(host, path, format, &mut scan, &mut visited);
    mark_direct(&mut scan.dependencies);
    scan
}

/// Reads several files into one [`Scan`]; an included file that is also
/// listed is read once.
pub fn scan_files(host: &Host, files: &[(PathBuf, Format)]) -> Scan {
    let mut scan = Scan::default();
    let mut visited = BTreeSet::new();
    for (path, format) in files {
        scan_into(host, path, *format, &mut scan, &mut visited);
    }
    mark_direct(&mut scan.dependencies);
    scan
}

fn scan_into(
    host: &Host,
    path: &Path,
    format: Format,
    scan: &mut Scan,
    visited: &mut BTreeSet<PathBuf>,
) {
    let path = Host::normalize(path);
    if !visited.insert(path.clone()) {
        return;
    }
    scan.files.push(path.clone());
    match format {
        Format::RequirementsTxt | Format::RequirementsIn => {
            reqtxt::scan_tree(host, &path, format, scan, visited);
        }
        _ => {
            let text = match host.read(&path, MAX_FILE_BYTES) {
                Ok(b) => b,
                Err(e) => {
                    scan.dependencies
                        .push(Dependency::file_error(&path, 0, format, e.to_string()));
                    return;
                }
            };
            let text = match String::from_utf8(text) {
                Ok(t) => t,
                Err(_) => {
                    scan.dependencies.push(Dependency::file_error(
                        &path,
                        0,
                        format,
                        format!("{}: not UTF-8 text", path.display()),
                    ));
                    return;
                }
            };
            let result = match format {
                Format::Pyproject => pyproject::parse(&path, &text),
                Format::SetupCfg => Ok(setupcfg::parse(&path, &text)),
                _ => locks::parse(&path, format, &text),
            };
            match result {
                Ok(fs) => {
                    scan.dependencies.extend(fs.dependencies);
                    scan.indexes.extend(fs.indexes);
                }
                Err(e) => scan.dependencies.push(Dependency::file_error(
                    &path,
                    error_line(&e),
                    format,
                    e.to_string(),
                )),
            }
        }
    }
}

fn error_line(e: &RequirementsError) -> usize {
    match e {
        RequirementsError::Parse { message, .. } => message
            .split("line ")
            .nth(1)
            .and_then(|s| {
                s.split(|c: char| !c.is_ascii_digit())
                    .next()
                    .and_then(|n| n.parse().ok())
            })
            .unwrap_or(0),
        _ => 0,
    }
}

/// Marks lock entries as direct when a declaring file in the same directory
/// (pyproject.toml, requirements, setup.cfg) names them.
fn mark_direct(deps: &mut [Dependency]) {
    let mut declared: HashMap<PathBuf, BTreeSet<String>> = HashMap::new();
    for d in deps.iter() {
        if !d.format.is_lock() && d.error.is_none() && !d.normalized_name.is_empty() {
            if let Some(dir) = d.path.parent() {
                declared
                    .entry(dir.to_path_buf())
                    .or_default()
                    .insert(d.normalized_name.clone());
            }
        }
    }
    for d in deps.iter_mut() {
        if d.format.is_lock() && !d.is_direct {
            if let Some(set) = d.path.parent().and_then(|dir| declared.get(dir)) {
                d.is_direct = set.contains(&d.normalized_name);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_from_names() {
        assert_eq!(
            Format::from_file_name("requirements-dev.txt", false),
            Some(Format::RequirementsTxt)
        );
        assert_eq!(
            Format::from_file_name("requirements.in", false),
            Some(Format::RequirementsIn)
        );
        assert_eq!(
            Format::from_file_name("base.txt", true),
            Some(Format::RequirementsTxt)
        );
        assert_eq!(Format::from_file_name("base.txt", false), None);
        assert_eq!(Format::from_file_name("MANIFEST.in", false), None);
        assert_eq!(
            Format::from_file_name("pylock.dev.toml", false),
            Some(Format::Pylock)
        );
        assert_eq!(
            Format::for_explicit_file(Path::new("/x/deps.txt")),
            Format::RequirementsTxt
        );
    }

    #[test]
    fn lines_of_offsets() {
        let t = "a\nb\nc";
        assert_eq!(line_of(t, 0), 1);
        assert_eq!(line_of(t, 2), 2);
        assert_eq!(line_of(t, 4), 3);
        assert_eq!(line_of(t, 99), 3);
    }

    #[test]
    fn redaction_says_when_it_removed_something() {
        assert_eq!(
            redact_url("https://u:p@idx.example/simple"),
            ("https://idx.example/simple".to_string(), true)
        );
        assert_eq!(
            redact_url("https://pypi.org/simple"),
            ("https://pypi.org/simple".to_string(), false)
        );
    }
}

#[cfg(test)]
mod props {
    use super::*;
    use proptest::prelude::*;

    fn text() -> impl Strategy<Value = String> {
        // Bytes from the characters these formats are made of, so the
        // parsers get past their first checks.
        proptest::collection::vec(
            prop::sample::select(vec![
                "a",
                "b",
                "-",
                "=",
                "==",
                ">=",
                "1",
                ".",
                " ",
                "\\",
                "\n",
                "\r\n",
                "#",
                "[",
                "]",
                "\"",
                "'",
                ";",
                "@",
                "://",
                "-r ",
                "-e ",
                "--hash=sha256:",
                "-c ",
                "--index-url ",
                "{",
                "}",
                ",",
                ":",
                "[[package]]\n",
                "name = ",
                "version = ",
                "\0",
                "é",
                "\t",
            ]),
            0..80,
        )
        .prop_map(|v| v.concat())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn requirements_parser_never_panics_and_lines_are_real(t in text()) {
            let lines = t.lines().count().max(1);
            let p = reqtxt::parse(Path::new("/r.txt"), &t, Format::RequirementsTxt, "");
            for d in &p.dependencies {
                prop_assert!(d.line >= 1 && d.line <= lines, "line {} of {}", d.line, lines);
            }
            for s in &p.indexes {
                prop_assert!(s.line >= 1 && s.line <= lines);
            }
        }

        #[test]
        fn toml_and_ini_parsers_never_panic(t in text()) {
            let p = Path::new("/x");
            let _ = pyproject::parse(p, &t);
            for f in [Format::Pylock, Format::UvLock, Format::PoetryLock, Format::PdmLock, Format::PipfileLock] {
                let _ = locks::parse(p, f, &t);
            }
            let _ = setupcfg::parse(p, &t);
            let _ = indexes::parse_pip_conf(p, &t);
            let _ = indexes::parse_condarc(p, &t);
            let _ = indexes::parse_uv_toml(p, &t);
            let _ = indexes::parse_environ(1, "x", t.as_bytes());
        }
    }
}
