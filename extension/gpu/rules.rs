//! The gpu_driver_config rules and reference data, loaded from `rules.toml`
//! (embedded at build time). The checks live in code, one module per kind
//! of file; this is what a row says about a hit (severity, rationale, source)
//! and the directory lists the checks judge paths by.

use std::path::Path;
use std::sync::OnceLock;

use serde::Deserialize;

use super::GpuError;
use crate::findings::Severity;

/// The rules shipped with squatch (`extension/gpu/rules.toml`).
pub const BUILTIN_RULES: &str = include_str!("rules.toml");

/// One rule: what a hit means.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSpec {
    /// Stable id (`ld-preload-entry`).
    pub id: String,
    /// Severity word (info, low, medium, high, critical).
    pub severity: String,
    /// One line: why a hit matters.
    pub rationale: String,
    /// Where the rule comes from.
    pub source: String,
}

/// Directory lists the checks judge paths by.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PathData {
    /// Where libraries legitimately live.
    pub system_lib_dirs: Vec<String>,
    /// Where programs that run as root legitimately live.
    pub system_bin_dirs: Vec<String>,
    /// Temporary, home and runtime directories.
    pub temp_dirs: Vec<String>,
    /// Environment variables that make a loader load a library.
    pub loader_variables: Vec<String>,
    /// Hook programs `nvidia-ctk cdi generate` writes.
    pub cdi_hook_programs: Vec<String>,
    /// Commands a modprobe install/remove line may run.
    pub modprobe_allowed_commands: Vec<String>,
}

/// Container toolkit versions and their fixes.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToolkitData {
    /// Package names that carry the toolkit's version.
    pub packages: Vec<String>,
    /// `[fixed_version, rule_id]`, newest first.
    pub fixes: Vec<(String, String)>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleFile {
    rule: Vec<RuleSpec>,
    paths: PathData,
    toolkit: ToolkitData,
}

/// The parsed rule file.
#[derive(Debug)]
pub struct GpuRules {
    /// Every rule, in file order.
    pub rules: Vec<RuleSpec>,
    /// Path lists.
    pub paths: PathData,
    /// Toolkit data.
    pub toolkit: ToolkitData,
}

impl GpuRules {
    /// Parses a rule file; every severity must be a known word and ids unique.
    pub fn parse(text: &str) -> Result<GpuRules, GpuError> {
        let file: RuleFile = toml::from_str(text).map_err(|e| GpuError::Rules(e.to_string()))?;
        let mut seen = std::collections::BTreeSet::new();
        for r in &file.rule {
            if Severity::parse(&r.severity).is_none() {
                return Err(GpuError::Rules(format!(
                    "rule {}: unknown severity {}",
                    r.id, r.severity
                )));
            }
            if !seen.insert(r.id.clone()) {
                return Err(GpuError::Rules(format!("duplicate rule id {}", r.id)));
            }
        }
        for (_, id) in &file.toolkit.fixes {
            if !seen.contains(id) {
                return Err(GpuError::Rules(format!(
                    "toolkit fix names unknown rule {id}"
                )));
            }
        }
        Ok(GpuRules {
            rules: file.rule,
            paths: file.paths,
            toolkit: file.toolkit,
        })
    }

    /// The rule with this id.
    pub fn get(&self, id: &str) -> Option<&RuleSpec> {
        self.rules.iter().find(|r| r.id == id)
    }

    /// The rule's severity (`info` for an unknown id, which the tests forbid).
    pub fn severity(&self, id: &str) -> Severity {
        self.get(id)
            .and_then(|r| Severity::parse(&r.severity))
            .unwrap_or(Severity::Info)
    }

    /// True when `path` is one of the system library directories or below one.
    pub fn is_system_lib(&self, path: &Path) -> bool {
        under_any(path, &self.paths.system_lib_dirs)
    }

    /// True when `path` is in a system program directory.
    pub fn is_system_bin(&self, path: &Path) -> bool {
        under_any(path, &self.paths.system_bin_dirs)
    }

    /// True when `path` is in a temporary, home or runtime directory.
    pub fn is_temp(&self, path: &Path) -> bool {
        under_any(path, &self.paths.temp_dirs)
    }

    /// True when `name` is a loader variable.
    pub fn is_loader_variable(&self, name: &str) -> bool {
        self.paths.loader_variables.iter().any(|v| v == name)
    }
}

/// True when `path` equals or lies below one of `dirs` (lexically); a
/// trailing `*` in a directory matches any end of its last name.
pub fn under_any(path: &Path, dirs: &[String]) -> bool {
    let norm = crate::host::Host::normalize(path);
    dirs.iter().any(|d| match d.strip_suffix('*') {
        Some(prefix) => norm.to_string_lossy().starts_with(prefix),
        None => norm.starts_with(d),
    })
}

/// The built-in rules, parsed once.
pub fn builtin() -> &'static GpuRules {
    static RULES: OnceLock<GpuRules> = OnceLock::new();
    RULES.get_or_init(|| GpuRules::parse(BUILTIN_RULES).expect("built-in gpu rules parse"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_rules_parse_and_have_sources() {
        let r = builtin();
        assert!(r.rules.len() > 20);
        for rule in &r.rules {
            assert!(
                !rule.rationale.is_empty() && !rule.source.is_empty(),
                "{}",
                rule.id
            );
        }
        assert_eq!(r.severity("ld-preload-entry"), Severity::High);
    }

    #[test]
    fn path_classes() {
        let r = builtin();
        assert!(r.is_system_lib(Path::new("/usr/lib/x86_64-linux-gnu/libcuda.so.1")));
        assert!(r.is_system_lib(Path::new("/usr/local/cuda-12.4/lib64").parent().unwrap()));
        assert!(!r.is_system_lib(Path::new("/usr/libexec2/x")));
        assert!(r.is_temp(Path::new("/tmp/x.so")));
        assert!(r.is_temp(Path::new("/dev/shm/.x/y.so")));
        assert!(!r.is_temp(Path::new("/tmpfoo/y.so")));
        assert!(r.is_temp(Path::new("/tmp/../tmp/y")));
    }

    #[test]
    fn bad_rule_files_are_refused() {
        let base = "[paths]\nsystem_lib_dirs=[]\nsystem_bin_dirs=[]\ntemp_dirs=[]\nloader_variables=[]\ncdi_hook_programs=[]\nmodprobe_allowed_commands=[]\n[toolkit]\npackages=[]\nfixes=[]\n";
        let bad = format!("[[rule]]\nid='a'\nseverity='severe'\nrationale='r'\nsource='s'\n{base}");
        assert!(GpuRules::parse(&bad).is_err());
        let dup = format!("[[rule]]\nid='a'\nseverity='low'\nrationale='r'\nsource='s'\n[[rule]]\nid='a'\nseverity='low'\nrationale='r'\nsource='s'\n{base}");
        assert!(GpuRules::parse(&dup).is_err());
    }
}
