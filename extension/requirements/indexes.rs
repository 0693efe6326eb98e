//! Where pip, uv, poetry, pdm and conda fetch packages from, and why a
//! setting is risky.
//!
//! Sources: `pip.conf` (global `/etc`, XDG, legacy user, inside each venv),
//! `uv.toml` and `[tool.uv]`, `[[tool.poetry.source]]`, `[[tool.pdm.source]]`
//! and pdm's user config, `.condarc`, `--index-url` lines of requirements
//! files, Pipfile.lock sources, and the index variables of process
//! environments (`<root>/proc/*/environ`). Of a process environment only the
//! values of [`ENV_VARS`] are ever looked at; every other variable is skipped
//! as bytes, never decoded or kept.
//!
//! Every URL goes through the one redactor
//! ([`crate::python::strip_credentials`]); `has_credentials` says it removed
//! something.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use super::{line_of, redact_url};
use crate::host::Host;
use crate::python::{Environment, EnvironmentKind};

/// The tool a setting configures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Tool {
    /// pip (and anything that reads pip.conf / PIP_* variables).
    Pip,
    /// uv.
    Uv,
    /// Poetry.
    Poetry,
    /// pdm.
    Pdm,
    /// pipenv.
    Pipenv,
    /// conda / mamba.
    Conda,
}

impl Tool {
    /// The tool's name in rows.
    pub fn as_str(self) -> &'static str {
        match self {
            Tool::Pip => "pip",
            Tool::Uv => "uv",
            Tool::Poetry => "poetry",
            Tool::Pdm => "pdm",
            Tool::Pipenv => "pipenv",
            Tool::Conda => "conda",
        }
    }
}

/// What a setting does to resolution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The main index (`index-url`, a default/primary source).
    Primary,
    /// An index consulted beside the main one (`extra-index-url`, uv
    /// `[[index]]`, a pdm source).
    Extra,
    /// A Poetry source consulted only when the primary ones lack a name.
    Supplemental,
    /// A source used only for packages that name it (no resolution risk).
    Explicit,
    /// A host whose TLS certificate is not checked.
    TrustedHost,
    /// A page or directory of archives (`find-links`).
    FindLinks,
    /// `no-index`: no index at all.
    NoIndex,
    /// A conda channel (or channel alias).
    Channel,
    /// How uv chooses between indexes (`index-strategy`).
    Strategy,
}

/// One index setting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexSetting {
    /// File the setting is in (None for a process environment).
    pub path: Option<PathBuf>,
    /// Process whose environment holds it.
    pub pid: Option<u32>,
    /// That process's name (`/proc/PID/comm`).
    pub process_name: String,
    /// 1-based line in the file (0 when unknown or for a process).
    pub line: usize,
    /// Which tool reads it.
    pub tool: Tool,
    /// The setting as the tool spells it (`extra-index-url`,
    /// `PIP_INDEX_URL`, `tool.poetry.source`, `channels`).
    pub setting: String,
    /// What it does.
    pub role: Role,
    /// The URL, host or channel (credentials stripped).
    pub url: String,
    /// The URL carried credentials (removed from `url`).
    pub has_credentials: bool,
    /// The URL is public PyPI (pypi.org, files.pythonhosted.org).
    pub is_public_pypi: bool,
    /// Why the setting is risky, in words; empty when it is not.
    pub risk: String,
}

impl IndexSetting {
    /// A setting read from a file.
    pub fn file(
        path: &Path,
        line: usize,
        tool: Tool,
        setting: &str,
        role: Role,
        url: String,
        has_credentials: bool,
    ) -> IndexSetting {
        IndexSetting {
            path: Some(path.to_path_buf()),
            pid: None,
            process_name: String::new(),
            line,
            tool,
            setting: setting.to_string(),
            role,
            is_public_pypi: is_public_pypi(&url),
            url,
            has_credentials,
            risk: String::new(),
        }
    }
}

/// Hosts of public PyPI.
const PYPI_HOSTS: &[&str] = &[
    "pypi.org",
    "pypi.python.org",
    "files.pythonhosted.org",
    "test.pypi.org",
];

/// True when a URL (or bare host) is public PyPI.
pub fn is_public_pypi(url: &str) -> bool {
    let rest = url.split_once("://").map(|(_, r)| r).unwrap_or(url);
    let host = rest
        .split(['/', '?', '#'])
        .next()
        .unwrap_or("")
        .rsplit('@')
        .next()
        .unwrap_or("");
    let host = host.split(':').next().unwrap_or("").to_ascii_lowercase();
    PYPI_HOSTS.contains(&host.as_str())
}

/// The process-environment variables read (their values only).
pub const ENV_VARS: &[(&str, Tool, Role)] = &[
    ("PIP_INDEX_URL", Tool::Pip, Role::Primary),
    ("PIP_EXTRA_INDEX_URL", Tool::Pip, Role::Extra),
    ("PIP_TRUSTED_HOST", Tool::Pip, Role::TrustedHost),
    ("PIP_FIND_LINKS", Tool::Pip, Role::FindLinks),
    ("UV_INDEX_URL", Tool::Uv, Role::Primary),
    ("UV_DEFAULT_INDEX", Tool::Uv, Role::Primary),
    ("UV_EXTRA_INDEX_URL", Tool::Uv, Role::Extra),
    ("UV_INDEX", Tool::Uv, Role::Extra),
    ("UV_INDEX_STRATEGY", Tool::Uv, Role::Strategy),
    ("UV_INSECURE_HOST", Tool::Uv, Role::TrustedHost),
];

/// Reads the index variables of one process environment (`environ` bytes:
/// `NAME=value` entries separated by NUL). Only entries whose name is in
/// [`ENV_VARS`] are decoded; the rest are skipped unread.
pub fn parse_environ(pid: u32, process_name: &str, environ: &[u8]) -> Vec<IndexSetting> {
    let mut out = Vec::new();
    for entry in environ.split(|&b| b == 0) {
        let Some(&(name, tool, role)) = ENV_VARS.iter().find(|(n, _, _)| {
            entry.len() > n.len() && entry.starts_with(n.as_bytes()) && entry[n.len()] == b'='
        }) else {
            continue;
        };
        let value = String::from_utf8_lossy(&entry[name.len() + 1..]);
        for item in value.split_whitespace() {
            // UV_INDEX entries may be `name=url`.
            let item = match (name, item.split_once('=')) {
                ("UV_INDEX", Some((n, u))) if !n.contains("://") => u,
                _ => item,
            };
            let (url, creds) = if role == Role::Strategy {
                (item.to_string(), false)
            } else {
                redact_url(item)
            };
            out.push(IndexSetting {
                path: None,
                pid: Some(pid),
                process_name: process_name.to_string(),
                line: 0,
                tool,
                setting: name.to_string(),
                role,
                is_public_pypi: is_public_pypi(&url),
                url,
                has_credentials: creds,
                risk: String::new(),
            });
        }
    }
    out
}

/// Reads `pip.conf` / `pip.ini`.
pub fn parse_pip_conf(path: &Path, text: &str) -> Vec<IndexSetting> {
    let mut out = Vec::new();
    for e in super::setupcfg::read_ini(text) {
        let role = match e.key.as_str() {
            "index-url" | "index" => Role::Primary,
            "extra-index-url" => Role::Extra,
            "trusted-host" => Role::TrustedHost,
            "find-links" => Role::FindLinks,
            "no-index" => Role::NoIndex,
            _ => continue,
        };
        let setting = format!("{}.{}", e.section, e.key);
        for (line, value) in &e.values {
            for item in value.split_whitespace() {
                let (url, creds) = redact_url(item);
                out.push(IndexSetting::file(
                    path,
                    *line,
                    Tool::Pip,
                    &setting,
                    role,
                    url,
                    creds,
                ));
            }
        }
    }
    out
}

/// uv's settings, in `uv.toml` (top level) or `[tool.uv]`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct UvSettings {
    /// `[tool.uv] dev-dependencies` (pyproject.toml only).
    pub(crate) dev_dependencies: Option<Vec<Spanned<String>>>,
    index_url: Option<Spanned<String>>,
    extra_index_url: Option<Vec<Spanned<String>>>,
    find_links: Option<Vec<Spanned<String>>>,
    index_strategy: Option<Spanned<String>>,
    allow_insecure_host: Option<Vec<Spanned<String>>>,
    index: Option<Vec<UvIndex>>,
}

#[derive(Debug, Deserialize)]
struct UvIndex {
    url: Spanned<String>,
    #[serde(default)]
    default: bool,
    #[serde(default)]
    explicit: bool,
}

impl UvSettings {
    /// The settings as rows; `prefix` is `tool.uv.` inside pyproject.toml.
    pub fn settings(&self, path: &Path, text: &str, prefix: &str) -> Vec<IndexSetting> {
        let mut out = Vec::new();
        let mut push = |s: &Spanned<String>, name: &str, role: Role| {
            let (url, creds) = if role == Role::Strategy {
                (s.get_ref().clone(), false)
            } else {
                redact_url(s.get_ref())
            };
            out.push(IndexSetting::file(
                path,
                line_of(text, s.span().start),
                Tool::Uv,
                &format!("{prefix}{name}"),
                role,
                url,
                creds,
            ));
        };
        if let Some(s) = &self.index_url {
            push(s, "index-url", Role::Primary);
        }
        for s in self.extra_index_url.iter().flatten() {
            push(s, "extra-index-url", Role::Extra);
        }
        for s in self.find_links.iter().flatten() {
            push(s, "find-links", Role::FindLinks);
        }
        for s in self.allow_insecure_host.iter().flatten() {
            push(s, "allow-insecure-host", Role::TrustedHost);
        }
        if let Some(s) = &self.index_strategy {
            push(s, "index-strategy", Role::Strategy);
        }
        for i in self.index.iter().flatten() {
            let role = if i.explicit {
                Role::Explicit
            } else if i.default {
                Role::Primary
            } else {
                Role::Extra
            };
            push(&i.url, "index", role);
        }
        out
    }
}

/// Reads `uv.toml`.
pub fn parse_uv_toml(path: &Path, text: &str) -> Result<Vec<IndexSetting>, String> {
    let s: UvSettings = toml::from_str(text).map_err(|e| toml_error(text, &e))?;
    Ok(s.settings(path, text, ""))
}

/// pdm's user configuration (`~/.config/pdm/config.toml`): `[pypi] url` and
/// named sources `[pypi.NAME] url`.
pub fn parse_pdm_config(path: &Path, text: &str) -> Result<Vec<IndexSetting>, String> {
    #[derive(Deserialize)]
    struct Config {
        pypi: Option<BTreeMap<String, Spanned<toml::Value>>>,
    }
    let c: Config = toml::from_str(text).map_err(|e| toml_error(text, &e))?;
    let mut out = Vec::new();
    for (key, value) in c.pypi.iter().flatten() {
        let line = line_of(text, value.span().start);
        let (setting, role, url) = match (key.as_str(), value.get_ref()) {
            ("url", toml::Value::String(u)) => ("pypi.url".to_string(), Role::Primary, u.clone()),
            (name, toml::Value::Table(t)) => match t.get("url").and_then(|v| v.as_str()) {
                Some(u) => (format!("pypi.{name}.url"), Role::Extra, u.to_string()),
                None => continue,
            },
            _ => continue,
        };
        let (url, creds) = redact_url(&url);
        out.push(IndexSetting::file(
            path,
            line,
            Tool::Pdm,
            &setting,
            role,
            url,
            creds,
        ));
    }
    Ok(out)
}

/// Reads the channel settings of a `.condarc` (a YAML subset: top-level
/// keys, block lists `- item`, flow lists `[a, b]`, one-level maps).
pub fn parse_condarc(path: &Path, text: &str) -> Vec<IndexSetting> {
    let mut out = Vec::new();
    let mut key = String::new();
    for (i, raw) in text.lines().enumerate() {
        let n = i + 1;
        let line = raw.split(" #").next().unwrap_or(raw).trim_end();
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        let indented = line.starts_with([' ', '\t', '-']);
        let t = line.trim();
        if !indented {
            let Some((k, v)) = t.split_once(':') else {
                key.clear();
                continue;
            };
            key = k.trim().to_string();
            let v = v.trim();
            if v.starts_with('[') && v.ends_with(']') {
                for item in v[1..v.len() - 1].split(',') {
                    push_channel(&mut out, path, n, &key, item);
                }
            } else if !v.is_empty() {
                push_channel(&mut out, path, n, &key, v);
            }
            continue;
        }
        if let Some(item) = t.strip_prefix("- ").or_else(|| t.strip_prefix('-')) {
            push_channel(&mut out, path, n, &key, item);
        } else if key == "custom_channels" || key == "custom_multichannels" {
            if let Some((name, v)) = t.split_once(':') {
                let setting = format!("{key}.{}", name.trim());
                push_channel(&mut out, path, n, &setting, v);
            }
        }
    }
    out
}

fn push_channel(out: &mut Vec<IndexSetting>, path: &Path, line: usize, key: &str, value: &str) {
    let base = key.split('.').next().unwrap_or(key);
    let role = match base {
        "channels"
        | "default_channels"
        | "channel_alias"
        | "custom_channels"
        | "custom_multichannels" => Role::Channel,
        "channel_priority" => Role::Strategy,
        _ => return,
    };
    let v = value.trim().trim_matches(['"', '\'']);
    if v.is_empty() {
        return;
    }
    let (url, creds) = if role == Role::Strategy {
        (v.to_string(), false)
    } else {
        redact_url(v)
    };
    out.push(IndexSetting::file(
        path,
        line,
        Tool::Conda,
        key,
        role,
        url,
        creds,
    ));
}

/// A TOML error as one line with its line number.
pub fn toml_error(text: &str, e: &toml::de::Error) -> String {
    let msg = e.message().lines().next().unwrap_or("invalid TOML").trim();
    match e.span() {
        Some(span) => format!("line {}: {msg}", line_of(text, span.start)),
        None => msg.to_string(),
    }
}

/// The mixing risk of a second index (the seed's Fortify stage).
pub const RISK_MIX_PUBLIC: &str = "extra-index-url mixes a private index with public PyPI: dependency confusion (torchtriton, December 2022)";
/// Two indexes, neither of them PyPI.
pub const RISK_MIX: &str = "a second index beside the main one: the highest version from either wins, so a name published on both resolves to the attacker's (dependency confusion, torchtriton December 2022)";
/// A Poetry supplemental/secondary source.
pub const RISK_SUPPLEMENTAL: &str = "supplemental source is asked only when the primary sources lack the name: whoever registers that name on the primary (PyPI) wins (dependency confusion)";
/// uv told to merge indexes.
pub const RISK_UV_STRATEGY: &str = "index-strategy unsafe-*: uv looks past the first index that has a name, which reopens dependency confusion";
/// conda merging channels.
pub const RISK_CONDA_PRIORITY: &str = "channel_priority disabled: conda takes the highest version from any channel (dependency confusion)";

/// Sets `risk` on every setting, judging each source (one file, or one
/// process environment) as a whole.
pub fn assess(settings: &mut [IndexSetting]) {
    let mut groups: BTreeMap<(Option<PathBuf>, Option<u32>, Tool), Vec<usize>> = BTreeMap::new();
    for (i, s) in settings.iter().enumerate() {
        groups
            .entry((s.path.clone(), s.pid, s.tool))
            .or_default()
            .push(i);
    }
    for ((_, _, tool), idx) in groups {
        let primaries: Vec<bool> = idx
            .iter()
            .filter(|&&i| settings[i].role == Role::Primary)
            .map(|&i| settings[i].is_public_pypi)
            .collect();
        // No primary in this source: the tool's default, public PyPI (unless
        // set elsewhere, which its own rows say).
        let primary_public = primaries.is_empty() || primaries.iter().any(|&p| p);
        let primary_private = primaries.iter().any(|&p| !p);
        let unsafe_strategy = idx
            .iter()
            .any(|&i| settings[i].role == Role::Strategy && settings[i].url.starts_with("unsafe"));
        let priority_disabled = idx.iter().any(|&i| {
            settings[i].role == Role::Strategy
                && tool == Tool::Conda
                && settings[i].url == "disabled"
        });
        for &i in &idx {
            let s = &settings[i];
            let mut risks: Vec<String> = Vec::new();
            let mixes = match (tool, s.role) {
                (Tool::Pip | Tool::Pdm, Role::Extra | Role::FindLinks) => true,
                (Tool::Uv, Role::Extra) => unsafe_strategy,
                _ => false,
            };
            if mixes {
                let public_mix = if s.is_public_pypi {
                    primary_private
                } else {
                    primary_public
                };
                risks.push(
                    if public_mix {
                        RISK_MIX_PUBLIC
                    } else {
                        RISK_MIX
                    }
                    .to_string(),
                );
            }
            if s.role == Role::Supplemental {
                risks.push(RISK_SUPPLEMENTAL.to_string());
            }
            if s.role == Role::Strategy && tool == Tool::Uv && unsafe_strategy {
                risks.push(RISK_UV_STRATEGY.to_string());
            }
            if s.role == Role::Strategy && priority_disabled {
                risks.push(RISK_CONDA_PRIORITY.to_string());
            }
            if s.role == Role::TrustedHost {
                risks.push(format!(
                    "{} turns off TLS verification for {}",
                    if tool == Tool::Uv {
                        "allow-insecure-host"
                    } else {
                        "trusted-host"
                    },
                    s.url
                ));
            }
            if s.url.to_ascii_lowercase().starts_with("http://") {
                risks.push(
                    "plain http index: anyone on the network path can swap the packages"
                        .to_string(),
                );
            }
            if s.has_credentials {
                risks.push(if s.pid.is_some() {
                    "credentials in the URL (removed here), readable by anyone who can read the process environment".to_string()
                } else {
                    "credentials written in the URL (removed here), readable by anyone who can read the file".to_string()
                });
            }
            settings[i].risk = risks.join("; ");
        }
    }
}

/// Where the configuration files are, for a host: the global ones, each
/// home's, and each environment's.
pub fn config_files(host: &Host, envs: &[Environment]) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = [
        "/etc/pip.conf",
        "/etc/xdg/pip/pip.conf",
        "/etc/uv/uv.toml",
        "/etc/xdg/uv/uv.toml",
        "/etc/conda/.condarc",
        "/etc/conda/condarc",
        "/opt/conda/.condarc",
        "/opt/conda/condarc",
    ]
    .iter()
    .map(PathBuf::from)
    .collect();
    for (home, _) in host.home_dirs() {
        for rel in [
            ".config/pip/pip.conf",
            ".pip/pip.conf",
            ".config/uv/uv.toml",
            ".config/pdm/config.toml",
            ".condarc",
            ".conda/.condarc",
            ".conda/condarc",
            ".config/conda/.condarc",
            ".config/conda/condarc",
        ] {
            out.push(home.join(rel));
        }
    }
    for env in envs {
        match env.kind {
            EnvironmentKind::Conda => out.push(env.path.join(".condarc")),
            EnvironmentKind::System | EnvironmentKind::User => {}
            _ => out.push(env.path.join("pip.conf")),
        }
    }
    out.retain(|p| host.is_file(p));
    out.sort();
    out.dedup();
    out
}

/// Reads one configuration or project file by its name. Files of unknown
/// names are read as pip.conf.
pub fn parse_config(host: &Host, path: &Path) -> Result<Vec<IndexSetting>, String> {
    let bytes = host
        .read(path, super::MAX_FILE_BYTES)
        .map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&bytes);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    match name.as_str() {
        "uv.toml" => parse_uv_toml(path, &text),
        "config.toml" if path.to_string_lossy().contains("pdm") => parse_pdm_config(path, &text),
        ".condarc" | "condarc" => Ok(parse_condarc(path, &text)),
        _ if name.ends_with(".condarc") || name.ends_with(".yml") || name.ends_with(".yaml") => {
            Ok(parse_condarc(path, &text))
        }
        _ => Ok(parse_pip_conf(path, &text)),
    }
}

/// How many process environments could not be read, and why.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProcScan {
    /// Settings found.
    pub settings: Vec<IndexSetting>,
    /// Processes whose environ could not be read (permission denied, gone).
    pub unreadable: usize,
    /// The first reason seen.
    pub first_error: Option<String>,
}

/// Largest environ read.
const MAX_ENVIRON: u64 = 1024 * 1024;

/// Reads the index variables of the processes under `<root>/proc` (all, or
/// only `pids`).
pub fn scan_processes(host: &Host, pids: Option<&[u32]>) -> ProcScan {
    let mut out = ProcScan::default();
    let list: Vec<u32> = match pids {
        Some(p) => p.to_vec(),
        None => match host.read_dir(Path::new("/proc")) {
            Ok(entries) => entries
                .iter()
                .filter_map(|e| e.name_lossy().parse().ok())
                .collect(),
            Err(_) => return out,
        },
    };
    for pid in list {
        let dir = PathBuf::from(format!("/proc/{pid}"));
        let environ = match host.read(&dir.join("environ"), MAX_ENVIRON) {
            Ok(b) => b,
            Err(e) => {
                if !e.is_not_found() {
                    out.unreadable += 1;
                    out.first_error.get_or_insert_with(|| e.to_string());
                }
                continue;
            }
        };
        let comm = host
            .read(&dir.join("comm"), 4096)
            .map(|b| String::from_utf8_lossy(&b).trim().to_string())
            .unwrap_or_default();
        out.settings.extend(parse_environ(pid, &comm, &environ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environ_reads_only_index_variables() {
        let env = b"AWS_SECRET_ACCESS_KEY=abc123secret\0PIP_EXTRA_INDEX_URL=https://u:tok@private.example/simple https://pypi.org/simple\0PIP_INDEX_URLX=nope\0UV_INDEX=internal=https://idx.example/simple\0";
        let s = parse_environ(42, "python", env);
        assert_eq!(s.len(), 3);
        assert_eq!(s[0].url, "https://private.example/simple");
        assert!(s[0].has_credentials);
        assert!(s[1].is_public_pypi);
        assert_eq!(s[2].url, "https://idx.example/simple");
        let dbg = format!("{s:?}");
        assert!(!dbg.contains("abc123secret") && !dbg.contains("tok@"));
    }

    #[test]
    fn pip_conf_mixing_is_dependency_confusion() {
        let text = "[global]\nindex-url = https://pypi.org/simple\nextra-index-url = https://pkgs.internal.example/simple\ntrusted-host = pkgs.internal.example\n";
        let mut s = parse_pip_conf(Path::new("/etc/pip.conf"), text);
        assess(&mut s);
        assert_eq!(s.len(), 3);
        assert!(s[0].risk.is_empty());
        assert_eq!(s[1].risk, RISK_MIX_PUBLIC);
        assert!(s[2].risk.contains("TLS"), "{}", s[2].risk);
    }

    #[test]
    fn single_private_index_is_quiet() {
        let mut s = parse_pip_conf(
            Path::new("/etc/pip.conf"),
            "[global]\nindex-url = https://pkgs.internal.example/simple\n",
        );
        assess(&mut s);
        assert!(s[0].risk.is_empty() && !s[0].is_public_pypi);
    }

    #[test]
    fn uv_first_index_is_safe_until_unsafe_strategy() {
        let text = "[[index]]\nname = \"corp\"\nurl = \"https://corp.example/simple\"\n";
        let mut s = parse_uv_toml(Path::new("/u/uv.toml"), text).unwrap();
        assess(&mut s);
        assert_eq!(s[0].line, 3);
        assert!(s[0].risk.is_empty());
        let text2 = format!("index-strategy = \"unsafe-best-match\"\n{text}");
        let mut s = parse_uv_toml(Path::new("/u/uv.toml"), &text2).unwrap();
        assess(&mut s);
        assert!(s.iter().any(|x| x.risk.contains("dependency confusion")));
    }

    #[test]
    fn condarc_channels() {
        let text = "channels:\n  - conda-forge\n  - http://u:p@conda.internal.example/ch\nchannel_priority: disabled\ncustom_channels:\n  corp: https://corp.example\n";
        let mut s = parse_condarc(Path::new("/h/.condarc"), text);
        assess(&mut s);
        assert_eq!(s.len(), 4);
        assert_eq!(s[1].url, "http://conda.internal.example/ch");
        assert!(s[1].risk.contains("plain http") && s[1].risk.contains("credentials"));
        assert_eq!(s[3].setting, "custom_channels.corp");
        assert!(s[2].risk.contains("channel_priority"));
    }

    #[test]
    fn public_pypi_hosts() {
        assert!(is_public_pypi("https://pypi.org/simple"));
        assert!(is_public_pypi("files.pythonhosted.org"));
        assert!(!is_public_pypi("https://pypi.org.evil.example/simple"));
    }
}
