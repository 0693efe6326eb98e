//! The NVIDIA Container Toolkit: its `config.toml`, the OCI hook manifests
//! that start it, the CDI specs `nvidia-ctk cdi generate` writes, and the
//! installed version against the fixes for CVE-2025-23266 (1.17.8) and
//! CVE-2024-0132 (1.16.2).

use std::cmp::Ordering;
use std::path::Path;

use serde_json::{Map, Value};
use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

use super::rules::GpuRules;
use super::{clip, Hit};

/// The first uncommented line of `text` whose key is `key` (1-based), for
/// pointing a TOML hit at its line.
fn line_of(text: &str, key: &str) -> Option<usize> {
    text.lines()
        .position(|l| {
            let l = l.trim_start();
            !l.starts_with('#')
                && l.strip_prefix(key)
                    .is_some_and(|r| r.trim_start().starts_with('='))
        })
        .map(|i| i + 1)
}

fn hit(rule: &'static str, text: &str, key: &str, detail: String) -> Hit {
    Hit {
        rule_id: rule,
        line: line_of(text, key),
        detail,
    }
}

/// What `config.toml` says, beyond its hits.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ToolkitConfig {
    /// `features.disable-cuda-compat-lib-hook = true`: the CVE-2025-23266
    /// mitigation for toolkits older than 1.17.8.
    pub compat_hook_disabled: bool,
}

/// Checks the toolkit's `config.toml`.
pub fn check_config(rules: &GpuRules, text: &str) -> (Vec<Hit>, ToolkitConfig) {
    let mut hits = Vec::new();
    let mut cfg = ToolkitConfig::default();
    let doc: toml::Table = match toml::from_str(text) {
        Ok(d) => d,
        Err(e) => {
            hits.push(Hit::file(
                "icd-manifest-unreadable",
                format!("invalid TOML: {}", clip(&e.to_string())),
            ));
            return (hits, cfg);
        }
    };
    if let Some(l) = doc
        .get("nvidia-container-cli")
        .and_then(|c| c.get("ldconfig"))
        .and_then(|v| v.as_str())
    {
        if !l.starts_with('@') {
            hits.push(hit(
                "toolkit-ldconfig-container",
                text,
                "ldconfig",
                format!("ldconfig = {}", clip(l)),
            ));
        } else if !rules.is_system_bin(Path::new(&l[1..])) {
            hits.push(hit(
                "toolkit-path-nonsystem",
                text,
                "ldconfig",
                format!("ldconfig = {}", clip(l)),
            ));
        }
    }
    if let Some(env) = doc
        .get("nvidia-container-cli")
        .and_then(|c| c.get("environment"))
        .and_then(|v| v.as_array())
    {
        for e in env.iter().filter_map(|v| v.as_str()) {
            let name = e.split('=').next().unwrap_or("");
            if rules.is_loader_variable(name) {
                hits.push(hit(
                    "oci-hook-ld-preload",
                    text,
                    "environment",
                    format!("nvidia-container-cli environment sets {}", clip(name)),
                ));
            }
        }
    }
    walk_toml(
        rules,
        text,
        &toml::Value::Table(doc.clone()),
        "",
        &mut hits,
        &mut cfg,
    );
    (hits, cfg)
}

fn walk_toml(
    rules: &GpuRules,
    text: &str,
    v: &toml::Value,
    key: &str,
    hits: &mut Vec<Hit>,
    cfg: &mut ToolkitConfig,
) {
    let leaf = key.rsplit('.').next().unwrap_or(key);
    match v {
        toml::Value::Table(t) => {
            for (k, v) in t {
                let full = if key.is_empty() {
                    k.clone()
                } else {
                    format!("{key}.{k}")
                };
                walk_toml(rules, text, v, &full, hits, cfg);
            }
        }
        toml::Value::Boolean(b) => match leaf {
            "allow-ldconfig-from-container" if *b => hits.push(hit(
                "toolkit-allow-ldconfig-from-container",
                text,
                leaf,
                format!("{key} = true"),
            )),
            "allow-cuda-compat-libs-from-container" if *b => hits.push(hit(
                "toolkit-allow-cuda-compat-from-container",
                text,
                leaf,
                format!("{key} = true"),
            )),
            "disable-cuda-compat-lib-hook" => cfg.compat_hook_disabled = *b,
            _ => {}
        },
        toml::Value::String(s) if leaf == "path" => {
            let p = Path::new(s);
            if (p.is_absolute() && !rules.is_system_bin(p)) || rules.is_temp(p) {
                hits.push(hit(
                    "toolkit-path-nonsystem",
                    text,
                    leaf,
                    format!("{key} = {}", clip(s)),
                ));
            }
        }
        toml::Value::Array(a) if leaf == "runtimes" || leaf == "spec-dirs" => {
            for s in a.iter().filter_map(|v| v.as_str()) {
                let p = Path::new(s);
                let bad = if leaf == "spec-dirs" {
                    rules.is_temp(p)
                } else {
                    (p.is_absolute() && !rules.is_system_bin(p)) || rules.is_temp(p)
                };
                if bad {
                    hits.push(hit(
                        "toolkit-path-nonsystem",
                        text,
                        leaf,
                        format!("{key} has {}", clip(s)),
                    ));
                }
            }
        }
        _ => {}
    }
}

/// Loader variables set by a list of `NAME=value` strings.
fn loader_vars<'a>(rules: &GpuRules, env: &'a [Value]) -> Vec<&'a str> {
    env.iter()
        .filter_map(Value::as_str)
        .map(|e| e.split('=').next().unwrap_or(""))
        .filter(|n| rules.is_loader_variable(n))
        .collect()
}

/// Checks an OCI hook manifest (`hooks.d/*.json`).
pub fn check_oci_hook(rules: &GpuRules, text: &str) -> Vec<Hit> {
    let doc: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => {
            return vec![Hit::file(
                "icd-manifest-unreadable",
                format!("invalid JSON: {}", clip(&e.to_string())),
            )]
        }
    };
    let mut hits = Vec::new();
    let hook = doc.get("hook").unwrap_or(&Value::Null);
    if let Some(path) = hook.get("path").and_then(Value::as_str) {
        let p = Path::new(path);
        if !p.is_absolute() || !rules.is_system_bin(p) || rules.is_temp(p) {
            hits.push(Hit::file(
                "oci-hook-path-nonsystem",
                format!("hook runs {}", clip(path)),
            ));
        }
    }
    if let Some(env) = hook.get("env").and_then(Value::as_array) {
        for n in loader_vars(rules, env) {
            hits.push(Hit::file(
                "oci-hook-ld-preload",
                format!("hook env sets {}", clip(n)),
            ));
        }
    }
    hits
}

/// Checks a CDI spec (JSON or YAML).
pub fn check_cdi(rules: &GpuRules, text: &str, yaml: bool) -> Vec<Hit> {
    let parsed = if yaml {
        yaml_to_json(text)
    } else {
        serde_json::from_str(text).map_err(|e| e.to_string())
    };
    let doc = match parsed {
        Ok(v) => v,
        Err(e) => {
            return vec![Hit::file(
                "icd-manifest-unreadable",
                format!("invalid CDI spec: {}", clip(&e)),
            )]
        }
    };
    let mut hits = Vec::new();
    let mut edits: Vec<&Value> = Vec::new();
    if let Some(e) = doc.get("containerEdits") {
        edits.push(e);
    }
    if let Some(devs) = doc.get("devices").and_then(Value::as_array) {
        edits.extend(devs.iter().filter_map(|d| d.get("containerEdits")));
    }
    let mut no_env = 0usize;
    for e in edits {
        if let Some(env) = e.get("env").and_then(Value::as_array) {
            for n in loader_vars(rules, env) {
                hits.push(Hit::file(
                    "cdi-container-ld-preload",
                    format!("containerEdits.env sets {}", clip(n)),
                ));
            }
        }
        for h in e
            .get("hooks")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let path = h.get("path").and_then(Value::as_str).unwrap_or("");
            let p = Path::new(path);
            let base = p
                .file_name()
                .map(|b| b.to_string_lossy().into_owned())
                .unwrap_or_default();
            let known = rules.paths.cdi_hook_programs.contains(&base)
                && p.is_absolute()
                && rules.is_system_bin(p)
                && !rules.is_temp(p);
            if !known {
                hits.push(Hit::file(
                    "cdi-hook-path",
                    format!("hook runs {}", clip(path)),
                ));
            }
            match h.get("env").and_then(Value::as_array) {
                Some(env) => {
                    for n in loader_vars(rules, env) {
                        hits.push(Hit::file(
                            "oci-hook-ld-preload",
                            format!("hook env sets {}", clip(n)),
                        ));
                    }
                }
                None => {
                    if h.get("hookName").and_then(Value::as_str) == Some("createContainer") {
                        no_env += 1;
                    }
                }
            }
        }
        for m in e
            .get("mounts")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(hp) = m.get("hostPath").and_then(Value::as_str) {
                if rules.is_temp(Path::new(hp)) {
                    hits.push(Hit::file("cdi-mount-temp", format!("mounts {}", clip(hp))));
                }
            }
        }
    }
    if no_env > 0 {
        hits.push(Hit::file(
            "cdi-hook-without-env",
            format!("{no_env} createContainer hook(s) without env"),
        ));
    }
    hits
}

/// Compares two package versions by their upstream numbers (`1.17.8-1`,
/// `1:1.16.2~rc.1`): epoch and revision dropped, a `~` pre-release sorts
/// before its release.
pub fn compare_versions(a: &str, b: &str) -> Ordering {
    fn key(v: &str) -> (Vec<u64>, bool) {
        let v = v.split_once(':').map_or(v, |(_, r)| r);
        let (up, pre) = match v.split_once('~') {
            Some((u, _)) => (u, true),
            None => (v, false),
        };
        let up = up.split(['-', '+']).next().unwrap_or(up);
        let nums = up
            .split('.')
            .map(|p| {
                p.chars()
                    .take_while(char::is_ascii_digit)
                    .collect::<String>()
                    .parse()
                    .unwrap_or(0)
            })
            .collect();
        (nums, pre)
    }
    let (na, pa) = key(a);
    let (nb, pb) = key(b);
    let len = na.len().max(nb.len());
    for i in 0..len {
        let x = na.get(i).copied().unwrap_or(0);
        let y = nb.get(i).copied().unwrap_or(0);
        match x.cmp(&y) {
            Ordering::Equal => {}
            o => return o,
        }
    }
    // Same numbers: a pre-release is older.
    pb.cmp(&pa)
}

/// The rule ids a toolkit version is exposed to (newest fix first).
pub fn version_hits(rules: &GpuRules, version: &str, config: &ToolkitConfig) -> Vec<Hit> {
    let mut hits = Vec::new();
    for (fixed, rule) in &rules.toolkit.fixes {
        if compare_versions(version, fixed) == Ordering::Less {
            let id: &'static str = match rule.as_str() {
                "toolkit-cve-2025-23266" if config.compat_hook_disabled => {
                    "toolkit-cve-2025-23266-mitigated"
                }
                "toolkit-cve-2025-23266" => "toolkit-cve-2025-23266",
                "toolkit-cve-2024-0132" => "toolkit-cve-2024-0132",
                _ => continue,
            };
            hits.push(Hit::file(
                id,
                format!("toolkit {} is older than {fixed}", clip(version)),
            ));
        }
    }
    hits
}

/// Parses YAML (the first document) into JSON values. Aliases are refused
/// (CDI specs have none, and expanding them is how a small file becomes a
/// huge one); plain `true`/`false` become booleans, every other scalar a
/// string.
pub fn yaml_to_json(text: &str) -> Result<Value, String> {
    enum Frame {
        Seq(Vec<Value>),
        Map(Map<String, Value>, Option<String>),
    }
    struct Builder {
        stack: Vec<Frame>,
        root: Option<Value>,
        alias: bool,
    }
    impl Builder {
        fn push(&mut self, v: Value) {
            match self.stack.last_mut() {
                Some(Frame::Seq(items)) => items.push(v),
                Some(Frame::Map(map, key)) => match key.take() {
                    Some(k) => {
                        map.insert(k, v);
                    }
                    None => {
                        *key = Some(match v {
                            Value::String(s) => s,
                            other => other.to_string(),
                        })
                    }
                },
                None => {
                    if self.root.is_none() {
                        self.root = Some(v);
                    }
                }
            }
        }
    }
    impl MarkedEventReceiver for Builder {
        fn on_event(&mut self, ev: Event, _mark: Marker) {
            match ev {
                Event::Alias(_) => self.alias = true,
                Event::Scalar(s, style, _, _) => {
                    let v = match (style, s.as_str()) {
                        (TScalarStyle::Plain, "true") => Value::Bool(true),
                        (TScalarStyle::Plain, "false") => Value::Bool(false),
                        (TScalarStyle::Plain, "~" | "null") => Value::Null,
                        _ => Value::String(s),
                    };
                    self.push(v);
                }
                Event::SequenceStart(..) => self.stack.push(Frame::Seq(Vec::new())),
                Event::MappingStart(..) => self.stack.push(Frame::Map(Map::new(), None)),
                Event::SequenceEnd | Event::MappingEnd => {
                    let v = match self.stack.pop() {
                        Some(Frame::Seq(items)) => Value::Array(items),
                        Some(Frame::Map(map, _)) => Value::Object(map),
                        None => return,
                    };
                    self.push(v);
                }
                _ => {}
            }
        }
    }
    let mut b = Builder {
        stack: Vec::new(),
        root: None,
        alias: false,
    };
    Parser::new_from_str(text)
        .load(&mut b, false)
        .map_err(|e| e.to_string())?;
    if b.alias {
        return Err("YAML aliases are not accepted".into());
    }
    Ok(b.root.unwrap_or(Value::Null))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gpu::rules::builtin;

    #[test]
    fn versions() {
        assert_eq!(compare_versions("1.17.4-1", "1.17.8"), Ordering::Less);
        assert_eq!(compare_versions("1.17.8-1", "1.17.8"), Ordering::Equal);
        assert_eq!(compare_versions("1.17.8~rc.1-1", "1.17.8"), Ordering::Less);
        assert_eq!(compare_versions("1.18.0", "1.17.8"), Ordering::Greater);
        assert_eq!(compare_versions("1:1.16.1", "1.16.2"), Ordering::Less);
        let none = ToolkitConfig::default();
        let ids: Vec<_> = version_hits(builtin(), "1.16.1-1", &none)
            .into_iter()
            .map(|h| h.rule_id)
            .collect();
        assert_eq!(ids, ["toolkit-cve-2025-23266", "toolkit-cve-2024-0132"]);
        let mitigated = ToolkitConfig {
            compat_hook_disabled: true,
        };
        assert_eq!(
            version_hits(builtin(), "1.17.4-1", &mitigated)[0].rule_id,
            "toolkit-cve-2025-23266-mitigated"
        );
        assert!(version_hits(builtin(), "1.17.8-1", &none).is_empty());
    }

    #[test]
    fn yaml_subset_and_aliases() {
        let v = yaml_to_json("a:\n  - x: 1\n    b: true\n  - y\n").unwrap();
        assert_eq!(v["a"][0]["x"], "1");
        assert_eq!(v["a"][0]["b"], true);
        assert_eq!(v["a"][1], "y");
        assert!(yaml_to_json("a: &x [1]\nb: *x\n").is_err());
        assert!(yaml_to_json("a: [\n").is_err());
    }
}
