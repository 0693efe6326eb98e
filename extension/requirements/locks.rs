//! Lock files: PEP 751 `pylock.toml`, `uv.lock`, `poetry.lock`,
//! `Pipfile.lock` (JSON) and `pdm.lock`. Every entry is one exact version;
//! `hashed` says whether the lock carries a hash for it, `index_url` where it
//! is fetched from when the lock says.

use std::path::Path;

use serde::Deserialize;
use toml::Spanned;

use super::indexes::{toml_error, IndexSetting, Role, Tool};
use super::spec::apply_url;
use super::{line_of, redact_url, Dependency, FileScan, Format, RequirementsError, SourceKind};

/// Parses a lock file of `format`.
pub fn parse(path: &Path, format: Format, text: &str) -> Result<FileScan, RequirementsError> {
    let err = |message: String| RequirementsError::Parse {
        path: path.to_path_buf(),
        message,
    };
    match format {
        Format::Pylock => pylock(path, text).map_err(err),
        Format::UvLock => uv_lock(path, text).map_err(err),
        Format::PoetryLock => poetry_lock(path, text).map_err(err),
        Format::PdmLock => pdm_lock(path, text).map_err(err),
        Format::PipfileLock => pipfile_lock(path, text).map_err(err),
        _ => Err(err(format!("{} is not a lock format", format.as_str()))),
    }
}

fn de<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, String> {
    toml::from_str(text).map_err(|e| toml_error(text, &e))
}

fn locked(
    path: &Path,
    text: &str,
    format: Format,
    name: &Spanned<String>,
    version: &str,
) -> Dependency {
    let mut d = Dependency::new(path, line_of(text, name.span().start), format);
    d.set_name(name.get_ref());
    d.version = version.to_string();
    if !version.is_empty() {
        d.specifier = format!("=={version}");
        d.pinned = true;
    }
    d
}

// ---- pylock.toml (PEP 751) ----

#[derive(Deserialize)]
struct Pylock {
    packages: Option<Vec<PylockPackage>>,
}

#[derive(Deserialize)]
struct PylockPackage {
    name: Spanned<String>,
    version: Option<String>,
    marker: Option<String>,
    index: Option<String>,
    vcs: Option<PylockVcs>,
    directory: Option<PylockDir>,
    archive: Option<PylockFile>,
    sdist: Option<PylockFile>,
    wheels: Option<Vec<PylockFile>>,
}

#[derive(Deserialize)]
struct PylockVcs {
    url: Option<String>,
    path: Option<String>,
    #[serde(rename = "commit-id")]
    commit_id: Option<String>,
}

#[derive(Deserialize)]
struct PylockDir {
    path: String,
    editable: Option<bool>,
}

#[derive(Deserialize)]
struct PylockFile {
    url: Option<String>,
    path: Option<String>,
    hashes: Option<std::collections::BTreeMap<String, String>>,
}

impl PylockFile {
    fn hashed(&self) -> bool {
        self.hashes.as_ref().is_some_and(|h| !h.is_empty())
    }
}

fn pylock(path: &Path, text: &str) -> Result<FileScan, String> {
    let doc: Pylock = de(text)?;
    let mut scan = FileScan::default();
    for p in doc.packages.into_iter().flatten() {
        let mut d = locked(
            path,
            text,
            Format::Pylock,
            &p.name,
            p.version.as_deref().unwrap_or(""),
        );
        d.markers = p.marker.unwrap_or_default();
        if let Some(v) = &p.vcs {
            let url = v.url.clone().or(v.path.clone()).unwrap_or_default();
            let url = match &v.commit_id {
                Some(c) => format!("git+{url}@{c}"),
                None => format!("git+{url}"),
            };
            apply_url(&mut d, &url);
        } else if let Some(dir) = &p.directory {
            apply_url(&mut d, &dir.path);
            d.pinned = false;
            if dir.editable == Some(true) {
                d.source = SourceKind::Editable;
            }
        } else if let Some(a) = &p.archive {
            apply_url(&mut d, a.url.as_deref().or(a.path.as_deref()).unwrap_or(""));
            d.pinned = true;
            d.hashed = a.hashed();
        } else {
            d.index_url = p
                .index
                .as_deref()
                .map(|u| redact_url(u).0)
                .unwrap_or_default();
            d.hashed = p.sdist.as_ref().is_some_and(PylockFile::hashed)
                || p.wheels.iter().flatten().any(PylockFile::hashed);
            d.pinned = p.version.is_some();
        }
        scan.dependencies.push(d);
    }
    Ok(scan)
}

// ---- uv.lock ----

#[derive(Deserialize)]
struct UvLock {
    package: Option<Vec<UvPackage>>,
}

#[derive(Deserialize)]
struct UvPackage {
    name: Spanned<String>,
    version: Option<String>,
    source: Option<toml::Table>,
    dependencies: Option<Vec<UvDep>>,
    #[serde(rename = "dev-dependencies")]
    dev_dependencies: Option<std::collections::BTreeMap<String, Vec<UvDep>>>,
    #[serde(rename = "optional-dependencies")]
    optional_dependencies: Option<std::collections::BTreeMap<String, Vec<UvDep>>>,
    sdist: Option<UvFile>,
    wheels: Option<Vec<UvFile>>,
}

#[derive(Deserialize)]
struct UvDep {
    name: String,
}

#[derive(Deserialize)]
struct UvFile {
    hash: Option<String>,
}

fn uv_lock(path: &Path, text: &str) -> Result<FileScan, String> {
    let doc: UvLock = de(text)?;
    let mut scan = FileScan::default();
    let packages = doc.package.unwrap_or_default();
    // The project itself (an editable or virtual root) names the direct
    // dependencies.
    let mut direct = std::collections::BTreeSet::new();
    for p in &packages {
        let root = p.source.as_ref().is_some_and(|s| {
            s.get("editable").and_then(|v| v.as_str()) == Some(".")
                || s.get("virtual").and_then(|v| v.as_str()) == Some(".")
        });
        if root {
            for dep in p.dependencies.iter().flatten() {
                direct.insert(crate::python::normalize_name(&dep.name));
            }
            for list in p
                .dev_dependencies
                .iter()
                .flatten()
                .chain(p.optional_dependencies.iter().flatten())
                .map(|(_, l)| l)
            {
                for dep in list {
                    direct.insert(crate::python::normalize_name(&dep.name));
                }
            }
        }
    }
    for p in &packages {
        let src = p.source.clone().unwrap_or_default();
        let is_root = ["editable", "virtual"]
            .iter()
            .any(|k| src.get(*k).and_then(|v| v.as_str()) == Some("."));
        if is_root {
            continue;
        }
        let mut d = locked(
            path,
            text,
            Format::UvLock,
            &p.name,
            p.version.as_deref().unwrap_or(""),
        );
        d.hashed = p.sdist.as_ref().is_some_and(|f| f.hash.is_some())
            || p.wheels.iter().flatten().any(|f| f.hash.is_some());
        let s = |k: &str| src.get(k).and_then(|v| v.as_str()).map(str::to_string);
        if let Some(r) = s("registry") {
            d.index_url = redact_url(&r).0;
        } else if let Some(g) = s("git") {
            apply_url(&mut d, &format!("git+{g}"));
            // uv.lock's git source carries the full commit after '#'.
            d.pinned = g.rsplit_once('#').is_some_and(|(_, c)| c.len() == 40);
        } else if let Some(u) = s("url") {
            apply_url(&mut d, &u);
            d.pinned = true;
        } else if let Some(p) = s("path").or(s("directory")) {
            apply_url(&mut d, &p);
        } else if let Some(p) = s("editable") {
            apply_url(&mut d, &p);
            d.source = SourceKind::Editable;
            d.pinned = false;
        }
        d.is_direct = direct.contains(&d.normalized_name);
        scan.dependencies.push(d);
    }
    Ok(scan)
}

// ---- poetry.lock ----

#[derive(Deserialize)]
struct PoetryLock {
    package: Option<Vec<PoetryPackage>>,
}

#[derive(Deserialize)]
struct PoetryPackage {
    name: Spanned<String>,
    version: Option<String>,
    markers: Option<toml::Value>,
    files: Option<Vec<PoetryFile>>,
    source: Option<PoetrySource>,
}

#[derive(Deserialize)]
struct PoetryFile {
    hash: Option<String>,
}

#[derive(Deserialize)]
struct PoetrySource {
    #[serde(rename = "type")]
    kind: Option<String>,
    url: Option<String>,
    reference: Option<String>,
    resolved_reference: Option<String>,
}

fn poetry_lock(path: &Path, text: &str) -> Result<FileScan, String> {
    let doc: PoetryLock = de(text)?;
    let mut scan = FileScan::default();
    for p in doc.package.into_iter().flatten() {
        let mut d = locked(
            path,
            text,
            Format::PoetryLock,
            &p.name,
            p.version.as_deref().unwrap_or(""),
        );
        d.hashed = p.files.iter().flatten().any(|f| f.hash.is_some());
        if let Some(toml::Value::String(m)) = &p.markers {
            d.markers = m.clone();
        }
        if let Some(src) = &p.source {
            let url = src.url.clone().unwrap_or_default();
            match src.kind.as_deref() {
                Some("git") => {
                    let rev = src
                        .resolved_reference
                        .as_deref()
                        .or(src.reference.as_deref())
                        .unwrap_or("");
                    apply_url(&mut d, &format!("git+{url}@{rev}"));
                }
                Some("url") => {
                    apply_url(&mut d, &url);
                    d.pinned = true;
                }
                Some("directory") | Some("file") => apply_url(&mut d, &url),
                _ => {
                    d.index_url = redact_url(&url).0;
                    if let Some(r) = &src.reference {
                        if d.index_url.is_empty() {
                            d.index_url = format!("source:{r}");
                        }
                    }
                }
            }
        }
        scan.dependencies.push(d);
    }
    Ok(scan)
}

// ---- pdm.lock ----

#[derive(Deserialize)]
struct PdmLock {
    package: Option<Vec<PdmPackage>>,
}

#[derive(Deserialize)]
struct PdmPackage {
    name: Spanned<String>,
    version: Option<String>,
    marker: Option<String>,
    groups: Option<Vec<String>>,
    files: Option<Vec<PoetryFile>>,
    git: Option<String>,
    revision: Option<String>,
    url: Option<String>,
    path: Option<String>,
    editable: Option<bool>,
}

fn pdm_lock(path: &Path, text: &str) -> Result<FileScan, String> {
    let doc: PdmLock = de(text)?;
    let mut scan = FileScan::default();
    for p in doc.package.into_iter().flatten() {
        let mut d = locked(
            path,
            text,
            Format::PdmLock,
            &p.name,
            p.version.as_deref().unwrap_or(""),
        );
        d.hashed = p.files.iter().flatten().any(|f| f.hash.is_some());
        d.markers = p.marker.clone().unwrap_or_default();
        d.group = p
            .groups
            .as_ref()
            .map(|g| g.join(","))
            .filter(|g| g != "default")
            .unwrap_or_default();
        if let Some(g) = &p.git {
            let rev = p.revision.as_deref().unwrap_or("");
            apply_url(&mut d, &format!("git+{g}@{rev}"));
        } else if let Some(u) = &p.url {
            apply_url(&mut d, u);
            d.pinned = true;
        } else if let Some(pp) = &p.path {
            apply_url(&mut d, pp);
            if p.editable == Some(true) {
                d.source = SourceKind::Editable;
            }
        }
        scan.dependencies.push(d);
    }
    Ok(scan)
}

// ---- Pipfile.lock (JSON) ----

fn pipfile_lock(path: &Path, text: &str) -> Result<FileScan, String> {
    let doc: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("line {}: {}", e.line(), e))?;
    let obj = doc
        .as_object()
        .ok_or_else(|| "not a JSON object".to_string())?;
    let mut scan = FileScan::default();
    let mut sources: Vec<(String, String)> = Vec::new();
    if let Some(list) = doc.pointer("/_meta/sources").and_then(|v| v.as_array()) {
        for s in list {
            let name = s.get("name").and_then(|v| v.as_str()).unwrap_or("");
            let Some(url) = s.get("url").and_then(|v| v.as_str()) else {
                continue;
            };
            let (u, creds) = redact_url(url);
            let line = find_line(text, &format!("\"{url}\""), 0);
            let role = if sources.is_empty() {
                Role::Primary
            } else {
                Role::Explicit
            };
            scan.indexes.push(IndexSetting::file(
                path,
                line,
                Tool::Pipenv,
                &format!("_meta.sources.{name}"),
                role,
                u.clone(),
                creds,
            ));
            if s.get("verify_ssl").and_then(|v| v.as_bool()) == Some(false) {
                scan.indexes.push(IndexSetting::file(
                    path,
                    line,
                    Tool::Pipenv,
                    &format!("_meta.sources.{name}.verify_ssl"),
                    Role::TrustedHost,
                    u.split_once("://")
                        .map(|(_, r)| r)
                        .unwrap_or(&u)
                        .split('/')
                        .next()
                        .unwrap_or("")
                        .to_string(),
                    false,
                ));
            }
            sources.push((name.to_string(), u));
        }
    }
    for section in ["default", "develop"] {
        let Some(entries) = obj.get(section).and_then(|v| v.as_object()) else {
            continue;
        };
        let section_at = text.find(&format!("\"{section}\"")).unwrap_or(0);
        for (name, e) in entries {
            let line = find_line(text, &format!("\"{name}\""), section_at);
            let mut d = Dependency::new(path, line, Format::PipfileLock);
            d.set_name(name);
            d.group = if section == "develop" {
                "develop".into()
            } else {
                String::new()
            };
            if let Some(v) = e.get("version").and_then(|v| v.as_str()) {
                d.specifier = v.to_string();
                d.version = v.trim_start_matches("==").to_string();
                d.pinned = v.starts_with("==") && !v.contains('*') && !v.contains(',');
            }
            d.hashed = e
                .get("hashes")
                .and_then(|v| v.as_array())
                .is_some_and(|a| !a.is_empty());
            d.markers = e
                .get("markers")
                .and_then(|v| v.as_str())
                .unwrap_or("")
                .to_string();
            if let Some(ix) = e.get("index").and_then(|v| v.as_str()) {
                d.index_url = sources
                    .iter()
                    .find(|(n, _)| n == ix)
                    .map(|(_, u)| u.clone())
                    .unwrap_or_else(|| format!("source:{ix}"));
            }
            if let Some(g) = e.get("git").and_then(|v| v.as_str()) {
                let r = e.get("ref").and_then(|v| v.as_str()).unwrap_or("");
                apply_url(&mut d, &format!("git+{g}@{r}"));
            } else if let Some(p) = e.get("path").and_then(|v| v.as_str()) {
                apply_url(&mut d, p);
                if e.get("editable").and_then(|v| v.as_bool()) == Some(true) {
                    d.source = SourceKind::Editable;
                }
            } else if let Some(f) = e.get("file").and_then(|v| v.as_str()) {
                apply_url(&mut d, f);
            }
            scan.dependencies.push(d);
        }
    }
    scan.dependencies.sort_by_key(|d| d.line);
    Ok(scan)
}

/// Line of the first `needle` at or after byte `from` (JSON has no spans).
fn find_line(text: &str, needle: &str, from: usize) -> usize {
    let from = from.min(text.len());
    text[from..]
        .find(needle)
        .map(|i| line_of(text, from + i))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uv_lock_marks_the_roots_dependencies_direct() {
        let text = r#"version = 1
[[package]]
name = "svc"
version = "0.1.0"
source = { editable = "." }
dependencies = [{ name = "torch" }]

[[package]]
name = "torch"
version = "2.3.1"
source = { registry = "https://pypi.org/simple" }
wheels = [{ url = "https://files.pythonhosted.org/t.whl", hash = "sha256:ab" }]

[[package]]
name = "filelock"
version = "3.15.4"
source = { registry = "https://pypi.org/simple" }
"#;
        let s = parse(Path::new("/p/uv.lock"), Format::UvLock, text).unwrap();
        assert_eq!(s.dependencies.len(), 2);
        let t = &s.dependencies[0];
        assert_eq!(
            (t.name.as_str(), t.line, t.pinned, t.hashed, t.is_direct),
            ("torch", 9, true, true, true)
        );
        assert_eq!(t.index_url, "https://pypi.org/simple");
        let f = &s.dependencies[1];
        assert!(!f.hashed && !f.is_direct);
    }

    #[test]
    fn pipfile_lock_sections_and_sources() {
        let text = r#"{
    "_meta": {"sources": [{"name": "pypi", "url": "https://pypi.org/simple", "verify_ssl": true}]},
    "default": {
        "requests": {"hashes": ["sha256:aa"], "index": "pypi", "version": "==2.32.3"}
    },
    "develop": {
        "pytest": {"version": "==8.2.0"}
    }
}"#;
        let s = parse(Path::new("/p/Pipfile.lock"), Format::PipfileLock, text).unwrap();
        assert_eq!(s.dependencies.len(), 2);
        assert_eq!(s.dependencies[0].line, 4);
        assert!(s.dependencies[0].hashed && s.dependencies[0].pinned);
        assert_eq!(s.dependencies[0].index_url, "https://pypi.org/simple");
        assert_eq!(s.dependencies[1].group, "develop");
        assert!(!s.dependencies[1].hashed);
        assert_eq!(s.indexes.len(), 1);
    }

    #[test]
    fn malformed_locks_are_errors() {
        assert!(parse(Path::new("/p/uv.lock"), Format::UvLock, "[[package]\n").is_err());
        assert!(parse(Path::new("/p/Pipfile.lock"), Format::PipfileLock, "{").is_err());
        assert!(parse(
            Path::new("/p/poetry.lock"),
            Format::PoetryLock,
            "[[package]]\nversion = 1\n"
        )
        .is_err());
    }
}
