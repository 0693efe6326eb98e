//! `pyproject.toml`: PEP 621 `[project] dependencies` and
//! `optional-dependencies`, PEP 735 `[dependency-groups]`, Poetry's
//! `[tool.poetry.dependencies]`, `dev-dependencies` and groups,
//! `[tool.uv] dev-dependencies`; and the index settings `[tool.uv]`,
//! `[[tool.uv.index]]`, `[[tool.poetry.source]]`, `[[tool.pdm.source]]`.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;
use toml::Spanned;

use super::indexes::{toml_error, IndexSetting, Role, Tool, UvSettings};
use super::spec::{apply_url, fill_from_pep508};
use super::{line_of, redact_url, Dependency, FileScan, Format, RequirementsError, SourceKind};

#[derive(Debug, Default, Deserialize)]
struct Pyproject {
    project: Option<Project>,
    #[serde(rename = "dependency-groups")]
    dependency_groups: Option<BTreeMap<String, Vec<Spanned<toml::Value>>>>,
    tool: Option<Tools>,
}

#[derive(Debug, Default, Deserialize)]
struct Project {
    dependencies: Option<Vec<Spanned<String>>>,
    #[serde(rename = "optional-dependencies")]
    optional_dependencies: Option<BTreeMap<String, Vec<Spanned<String>>>>,
}

#[derive(Debug, Default, Deserialize)]
struct Tools {
    poetry: Option<Poetry>,
    uv: Option<UvSettings>,
    pdm: Option<Pdm>,
}

#[derive(Debug, Default, Deserialize)]
struct Poetry {
    dependencies: Option<BTreeMap<String, Spanned<toml::Value>>>,
    #[serde(rename = "dev-dependencies")]
    dev_dependencies: Option<BTreeMap<String, Spanned<toml::Value>>>,
    group: Option<BTreeMap<String, PoetryGroup>>,
    source: Option<Vec<PoetrySource>>,
}

#[derive(Debug, Default, Deserialize)]
struct PoetryGroup {
    dependencies: Option<BTreeMap<String, Spanned<toml::Value>>>,
}

#[derive(Debug, Deserialize)]
struct PoetrySource {
    name: Spanned<String>,
    url: Option<Spanned<String>>,
    priority: Option<String>,
    #[serde(default)]
    default: bool,
    #[serde(default)]
    secondary: bool,
}

#[derive(Debug, Default, Deserialize)]
struct Pdm {
    source: Option<Vec<PdmSource>>,
}

#[derive(Debug, Deserialize)]
struct PdmSource {
    name: Option<String>,
    url: Spanned<String>,
    #[serde(default)]
    verify_ssl: Option<bool>,
}

/// Parses a `pyproject.toml`.
pub fn parse(path: &Path, text: &str) -> Result<FileScan, RequirementsError> {
    let doc: Pyproject = toml::from_str(text).map_err(|e| RequirementsError::Parse {
        path: path.to_path_buf(),
        message: toml_error(text, &e),
    })?;
    let mut scan = FileScan::default();
    let pep508 = |scan: &mut FileScan, s: &Spanned<String>, group: &str| {
        let mut d = Dependency::new(path, line_of(text, s.span().start), Format::Pyproject);
        d.group = group.to_string();
        if let Err(e) = fill_from_pep508(&mut d, s.get_ref()) {
            d.error = Some(e);
        }
        scan.dependencies.push(d);
    };
    if let Some(p) = &doc.project {
        for s in p.dependencies.iter().flatten() {
            pep508(&mut scan, s, "");
        }
        for (extra, list) in p.optional_dependencies.iter().flatten() {
            for s in list {
                pep508(&mut scan, s, extra);
            }
        }
    }
    for (group, list) in doc.dependency_groups.iter().flatten() {
        for item in list {
            // `{include-group = "x"}` entries include another group: no row.
            if let toml::Value::String(s) = item.get_ref() {
                let spanned = Spanned::new(item.span(), s.clone());
                pep508(&mut scan, &spanned, group);
            }
        }
    }
    if let Some(tools) = &doc.tool {
        if let Some(poetry) = &tools.poetry {
            let mut sections: Vec<(String, &BTreeMap<String, Spanned<toml::Value>>)> = Vec::new();
            if let Some(d) = &poetry.dependencies {
                sections.push((String::new(), d));
            }
            if let Some(d) = &poetry.dev_dependencies {
                sections.push(("dev".to_string(), d));
            }
            for (g, grp) in poetry.group.iter().flatten() {
                if let Some(d) = &grp.dependencies {
                    sections.push((g.clone(), d));
                }
            }
            for (group, deps) in sections {
                for (name, value) in deps {
                    if name.eq_ignore_ascii_case("python") {
                        continue;
                    }
                    scan.dependencies
                        .push(poetry_dependency(path, text, &group, name, value));
                }
            }
            for s in poetry.source.iter().flatten() {
                let Some(url) = &s.url else { continue };
                let priority = s.priority.clone().unwrap_or_else(|| {
                    if s.default {
                        "default".into()
                    } else if s.secondary {
                        "secondary".into()
                    } else {
                        "primary".into()
                    }
                });
                let role = match priority.as_str() {
                    "supplemental" | "secondary" => Role::Supplemental,
                    "explicit" => Role::Explicit,
                    _ => Role::Primary,
                };
                let (u, creds) = redact_url(url.get_ref());
                scan.indexes.push(IndexSetting::file(
                    path,
                    line_of(text, s.name.span().start),
                    Tool::Poetry,
                    &format!("tool.poetry.source.{} ({priority})", s.name.get_ref()),
                    role,
                    u,
                    creds,
                ));
            }
        }
        if let Some(uv) = &tools.uv {
            for s in uv.dev_dependencies.iter().flatten() {
                pep508(&mut scan, s, "dev");
            }
            scan.indexes.extend(uv.settings(path, text, "tool.uv."));
        }
        if let Some(pdm) = &tools.pdm {
            for s in pdm.source.iter().flatten() {
                let name = s.name.clone().unwrap_or_default();
                let role = if name == "pypi" {
                    Role::Primary
                } else {
                    Role::Extra
                };
                let (u, creds) = redact_url(s.url.get_ref());
                let line = line_of(text, s.url.span().start);
                scan.indexes.push(IndexSetting::file(
                    path,
                    line,
                    Tool::Pdm,
                    &format!("tool.pdm.source.{name}"),
                    role,
                    u,
                    creds,
                ));
                if s.verify_ssl == Some(false) {
                    let host = s
                        .url
                        .get_ref()
                        .split_once("://")
                        .map(|(_, r)| r)
                        .unwrap_or("")
                        .split(['/', '@'])
                        .next_back()
                        .unwrap_or("")
                        .to_string();
                    scan.indexes.push(IndexSetting::file(
                        path,
                        line,
                        Tool::Pdm,
                        &format!("tool.pdm.source.{name}.verify_ssl"),
                        Role::TrustedHost,
                        redact_url(&host).0,
                        false,
                    ));
                }
            }
        }
    }
    scan.dependencies.sort_by_key(|d| d.line);
    Ok(scan)
}

/// One Poetry dependency: `name = "^1.2"` or `name = { version, git, path,
/// url, source, markers, extras }` (or a list of those, one per marker).
fn poetry_dependency(
    path: &Path,
    text: &str,
    group: &str,
    name: &str,
    value: &Spanned<toml::Value>,
) -> Dependency {
    let mut d = Dependency::new(path, line_of(text, value.span().start), Format::Pyproject);
    d.group = group.to_string();
    d.set_name(name);
    let poetry_pin = |v: &str| {
        let v = v.trim();
        let bare = v.strip_prefix("==").unwrap_or(v).trim();
        !bare.is_empty()
            && bare
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '+' || c == '!')
            && bare.starts_with(|c: char| c.is_ascii_digit())
    };
    match value.get_ref() {
        toml::Value::String(v) => {
            d.specifier = v.clone();
            d.pinned = poetry_pin(v);
        }
        toml::Value::Table(t) => {
            if let Some(v) = t.get("version").and_then(|v| v.as_str()) {
                d.specifier = v.to_string();
                d.pinned = poetry_pin(v);
            }
            if let Some(m) = t.get("markers").and_then(|v| v.as_str()) {
                d.markers = m.to_string();
            }
            if let Some(e) = t.get("extras").and_then(|v| v.as_array()) {
                d.extras = e
                    .iter()
                    .filter_map(|x| x.as_str())
                    .collect::<Vec<_>>()
                    .join(",");
            }
            if let Some(g) = t.get("git").and_then(|v| v.as_str()) {
                let rev = ["rev", "tag", "branch"]
                    .iter()
                    .find_map(|k| t.get(*k).and_then(|v| v.as_str()));
                let url = match rev {
                    Some(r) => format!("git+{g}@{r}"),
                    None => format!("git+{g}"),
                };
                apply_url(&mut d, &url);
            } else if let Some(u) = t.get("url").and_then(|v| v.as_str()) {
                apply_url(&mut d, u);
            } else if let Some(p) = t.get("path").and_then(|v| v.as_str()) {
                apply_url(&mut d, p);
                if t.get("develop").and_then(|v| v.as_bool()) == Some(true) {
                    d.source = SourceKind::Editable;
                }
            }
            if let Some(s) = t.get("source").and_then(|v| v.as_str()) {
                d.index_url = format!("source:{s}");
            }
        }
        toml::Value::Array(_) => {
            d.specifier = "(multiple constraints)".to_string();
        }
        other => d.error = Some(format!("unexpected value type {}", other.type_str())),
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = r#"
[project]
name = "svc"
dependencies = [
  "torch==2.3.1",
  "torch-utilites",
]
[project.optional-dependencies]
test = ["pytest>=8"]

[dependency-groups]
dev = ["ruff==0.5.0", {include-group = "test"}]

[tool.poetry.dependencies]
python = "^3.10"
numpy = "1.26.4"
transformers = { version = "^4.40", source = "corp" }
mylib = { git = "https://github.com/o/mylib.git", rev = "main" }

[[tool.poetry.source]]
name = "corp"
url = "https://tok@corp.example/simple"
priority = "supplemental"

[tool.uv]
dev-dependencies = ["mypy"]
extra-index-url = ["https://corp.example/simple"]
"#;

    #[test]
    fn reads_every_section() {
        let s = parse(Path::new("/p/pyproject.toml"), TEXT).unwrap();
        let names: Vec<&str> = s.dependencies.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(
            names,
            vec![
                "torch",
                "torch-utilites",
                "pytest",
                "ruff",
                "numpy",
                "transformers",
                "mylib",
                "mypy"
            ]
        );
        let typo = &s.dependencies[1];
        assert_eq!(typo.line, 6);
        assert!(!typo.pinned);
        let numpy = &s.dependencies[4];
        assert!(numpy.pinned, "poetry bare version is exact");
        assert_eq!(s.dependencies[3].group, "dev");
        assert_eq!(s.dependencies[6].source, SourceKind::Vcs);
        assert_eq!(s.indexes.len(), 2);
        assert_eq!(s.indexes[0].role, Role::Supplemental);
        assert!(s.indexes[0].has_credentials);
        assert_eq!(s.indexes[0].url, "https://corp.example/simple");
        assert_eq!(s.indexes[1].setting, "tool.uv.extra-index-url");
    }

    #[test]
    fn malformed_toml_is_an_error_with_a_line() {
        let e = parse(
            Path::new("/p/pyproject.toml"),
            "[project]\ndependencies = [\"a\",\n",
        )
        .unwrap_err();
        assert!(e.to_string().contains("line"), "{e}");
    }
}
