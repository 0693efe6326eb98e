//! The policy of `squatch check`: a small TOML file. Every key, its default
//! and what it gates is documented in README's "squatch check (CI gate)"
//! section; unknown keys are an error (a misspelt key must not silently
//! turn a gate off).

use serde::Deserialize;

use crate::typosquat::DEFAULT_THRESHOLD;

/// The formats whose entries must be pinned and hashed by default: what
/// pip installs from (requirements.txt) and the lock files. pyproject.toml,
/// setup.cfg and pip-compile's `.in` files declare ranges by design.
pub const DEFAULT_PIN_FORMATS: &[&str] = &[
    "requirements.txt",
    "pylock.toml",
    "uv.lock",
    "poetry.lock",
    "Pipfile.lock",
    "pdm.lock",
];

/// A `squatch check` policy.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Policy {
    /// Flag names whose typosquat score reaches this (0..1).
    pub typosquat_threshold: f64,
    /// Flag known-malicious names.
    pub deny_known_malicious: bool,
    /// Every dependency in `pin_formats` must be pinned to one version.
    pub require_pins: bool,
    /// Every dependency in `pin_formats` must carry a hash.
    pub require_hashes: bool,
    /// Formats (the `format` column's names) the pin and hash gates apply to.
    pub pin_formats: Vec<String>,
    /// Allow-list of project names; empty means no allow-list.
    pub allow: Vec<String>,
    /// Names exempt from the typosquat gate (legitimate names that score
    /// high).
    pub ignore: Vec<String>,
    /// The one index every package must come from; empty means any single
    /// index.
    pub index_url: String,
    /// Accept extra indexes, find-links and supplemental sources.
    pub allow_extra_indexes: bool,
    /// Accept trusted-host / allow-insecure-host and plain http indexes.
    pub allow_insecure: bool,
    /// Accept credentials written in index URLs.
    pub allow_credentials_in_urls: bool,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            typosquat_threshold: DEFAULT_THRESHOLD,
            deny_known_malicious: true,
            require_pins: true,
            require_hashes: false,
            pin_formats: DEFAULT_PIN_FORMATS.iter().map(|s| s.to_string()).collect(),
            allow: Vec::new(),
            ignore: Vec::new(),
            index_url: String::new(),
            allow_extra_indexes: false,
            allow_insecure: false,
            allow_credentials_in_urls: false,
        }
    }
}

impl Policy {
    /// Parses a policy file's text.
    pub fn parse(text: &str) -> Result<Policy, String> {
        let p: Policy =
            toml::from_str(text).map_err(|e| crate::requirements::indexes::toml_error(text, &e))?;
        if !(0.0..=1.0).contains(&p.typosquat_threshold) {
            return Err(format!(
                "typosquat_threshold must be between 0 and 1, not {}",
                p.typosquat_threshold
            ));
        }
        Ok(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_overrides() {
        assert_eq!(Policy::parse("").unwrap(), Policy::default());
        let p = Policy::parse("require_hashes = true\nallow = [\"torch\"]\n").unwrap();
        assert!(p.require_hashes && p.require_pins);
        assert_eq!(p.allow, vec!["torch"]);
    }

    #[test]
    fn misspelt_keys_and_bad_values_are_errors() {
        assert!(Policy::parse("require_hash = true\n").is_err());
        assert!(Policy::parse("typosquat_threshold = 2.0\n").is_err());
        assert!(Policy::parse("require_pins = \"yes\"\n").is_err());
    }
}
