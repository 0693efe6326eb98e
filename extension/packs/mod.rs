//! squatch's query packs: one source of truth (`packs/queries.toml`, embedded
//! in the binary) and the files written from it for osquery
//! (`packs/squatch.conf`) and Fleet (`packs/fleet/`).
//!
//! `squatch hunt` runs the embedded queries; `tests/packs.rs` checks that the
//! committed pack files are exactly what [`Pack::files`] writes, and rewrites
//! them when `SQUATCH_WRITE_PACKS=1`.

mod render;

use std::collections::BTreeSet;
use std::sync::OnceLock;

use serde::Deserialize;

use crate::findings::Severity;
use crate::table::Stage;

/// The source of truth, as committed in the repository.
pub const SOURCE: &str = include_str!("../../packs/queries.toml");

/// Tables that `squatch hunt` supplies itself besides squatch's own, so that
/// a query joining only them still runs without osquery (`users`, read from
/// the examined root's `/etc/passwd`).
pub const HUNT_SUPPLIED_TABLES: &[&str] = &["users"];

/// An error in the pack source.
#[derive(Debug, thiserror::Error)]
pub enum PackError {
    /// The TOML does not parse or has unknown fields.
    #[error("packs/queries.toml: {0}")]
    Parse(String),
    /// A query's metadata is wrong (name, stage, severity, ...).
    #[error("packs/queries.toml: query {query}: {problem}")]
    Invalid {
        /// The query's name.
        query: String,
        /// What is wrong.
        problem: String,
    },
}

/// What a query's rows are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// Each row is something to act on; `squatch hunt` reports it.
    Finding,
    /// Context and change tracking; `squatch hunt` skips it.
    Inventory,
    /// What squatch could not examine; `squatch hunt` lists it last.
    Coverage,
}

/// How osquery logs a scheduled query's results.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Logging {
    /// The whole result every run.
    Snapshot,
    /// Rows added and removed since the previous run.
    Differential,
    /// Rows added since the previous run.
    DifferentialIgnoreRemovals,
}

impl Logging {
    /// Fleet's `logging` word.
    pub fn as_str(self) -> &'static str {
        match self {
            Logging::Snapshot => "snapshot",
            Logging::Differential => "differential",
            Logging::DifferentialIgnoreRemovals => "differential_ignore_removals",
        }
    }
}

/// A Fleet yes/no policy attached to a query.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// The policy's name in Fleet.
    pub name: String,
    /// Fleet's `critical` flag.
    #[serde(default)]
    pub critical: bool,
    /// SQL that returns a row when the host passes.
    pub sql: String,
}

/// One query of the pack, with its metadata.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackQuery {
    /// Unique snake_case name: the osquery pack key and the Fleet report name.
    pub name: String,
    /// A heading for a responder.
    pub title: String,
    /// Finding, inventory or coverage.
    pub kind: Kind,
    /// The stage's name as [`Stage::name`] writes it.
    pub stage: String,
    /// Default severity of a row.
    pub severity: String,
    /// Seconds between scheduled runs.
    pub interval: u64,
    /// How osquery logs it.
    pub logging: Logging,
    /// osquery platform.
    #[serde(default = "default_platform")]
    pub platform: String,
    /// Oldest osquery version the query is for.
    #[serde(default = "default_version")]
    pub version: String,
    /// osquery built-in tables the query joins.
    #[serde(default)]
    pub needs: Vec<String>,
    /// Why it matters, in one line.
    pub description: String,
    /// What to do about a row.
    pub resolution: String,
    /// The SQL.
    pub sql: String,
    /// An optional Fleet policy.
    pub policy: Option<Policy>,
}

fn default_platform() -> String {
    "linux".to_string()
}

fn default_version() -> String {
    "5.0.0".to_string()
}

impl PackQuery {
    /// The stage as the enum.
    pub fn stage(&self) -> Stage {
        parse_stage(&self.stage).unwrap_or(Stage::Evaluation)
    }

    /// The default severity as the enum.
    pub fn severity(&self) -> Severity {
        Severity::parse(&self.severity).unwrap_or(Severity::Info)
    }

    /// The SQL without surrounding blank space.
    pub fn sql(&self) -> &str {
        self.sql.trim()
    }

    /// True when `squatch hunt` can run it: it joins no osquery built-in table
    /// but those hunt supplies.
    pub fn runs_without_osquery(&self) -> bool {
        self.needs
            .iter()
            .all(|t| HUNT_SUPPLIED_TABLES.contains(&t.as_str()))
    }
}

/// Pack-level settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackSettings {
    /// osquery discovery queries: the pack runs where each returns a row.
    pub discovery: Vec<String>,
}

/// The whole source: pack settings and queries, in file order.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pack {
    /// Pack-level settings.
    pub pack: PackSettings,
    /// The queries.
    #[serde(rename = "query")]
    pub queries: Vec<PackQuery>,
}

/// Every stage in the seed guide's order.
pub const STAGES: [Stage; 6] = [
    Stage::Reconnaissance,
    Stage::Evaluation,
    Stage::Fortify,
    Stage::Limit,
    Stage::Expose,
    Stage::Exercise,
];

/// Parses a stage name (`Reconnaissance` ... `eXercise`, any case).
pub fn parse_stage(s: &str) -> Option<Stage> {
    STAGES
        .iter()
        .copied()
        .find(|st| st.name().eq_ignore_ascii_case(s))
}

impl Pack {
    /// Parses and checks a pack source.
    pub fn parse(text: &str) -> Result<Pack, PackError> {
        let pack: Pack = toml::from_str(text).map_err(|e| PackError::Parse(e.to_string()))?;
        pack.validate()?;
        Ok(pack)
    }

    /// The pack embedded in this binary.
    pub fn embedded() -> Result<&'static Pack, &'static PackError> {
        static PACK: OnceLock<Result<Pack, PackError>> = OnceLock::new();
        PACK.get_or_init(|| Pack::parse(SOURCE)).as_ref()
    }

    /// A query by name.
    pub fn get(&self, name: &str) -> Option<&PackQuery> {
        self.queries.iter().find(|q| q.name == name)
    }

    fn validate(&self) -> Result<(), PackError> {
        let mut names = BTreeSet::new();
        for q in &self.queries {
            let bad = |problem: String| PackError::Invalid {
                query: q.name.clone(),
                problem,
            };
            if q.name.is_empty()
                || !q
                    .name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
            {
                return Err(bad("name must be snake_case ASCII".into()));
            }
            if !names.insert(q.name.as_str()) {
                return Err(bad("duplicate name".into()));
            }
            if parse_stage(&q.stage).is_none() {
                return Err(bad(format!("unknown stage {:?}", q.stage)));
            }
            if Severity::parse(&q.severity).is_none() {
                return Err(bad(format!("unknown severity {:?}", q.severity)));
            }
            if q.interval == 0 || q.interval > 604_800 {
                return Err(bad("interval must be 1..=604800 seconds".into()));
            }
            for (field, text) in [
                ("title", &q.title),
                ("description", &q.description),
                ("resolution", &q.resolution),
            ] {
                if text.trim().is_empty() || text.contains('\n') {
                    return Err(bad(format!("{field} must be one non-empty line")));
                }
            }
            if q.sql().is_empty() {
                return Err(bad("empty sql".into()));
            }
            if q.sql.contains('\t') {
                return Err(bad("sql must not contain tabs".into()));
            }
            if q.sql().ends_with(';') {
                return Err(bad(
                    "sql must not end with ';' (one statement; the pack writer adds it)".into(),
                ));
            }
            if let Some(p) = &q.policy {
                if p.name.trim().is_empty() || p.sql.trim().is_empty() {
                    return Err(bad("policy needs a name and sql".into()));
                }
            }
        }
        Ok(())
    }

    /// Every file written from the source: (path relative to the repository
    /// root, content).
    pub fn files(&self) -> Vec<(&'static str, String)> {
        vec![
            ("packs/squatch.conf", render::osquery_pack(self)),
            (
                "packs/fleet/lib/squatch.reports.yml",
                render::fleet_reports(self),
            ),
            (
                "packs/fleet/lib/squatch.policies.yml",
                render::fleet_policies(self),
            ),
            ("packs/fleet/lib/squatch.labels.yml", render::fleet_labels()),
            ("packs/fleet/squatch.fleetctl.yml", render::fleetctl(self)),
        ]
    }
}

/// The Fleet label that selects hosts where squatch is registered.
pub const FLEET_LABEL_NAME: &str = "squatch installed";

/// The Fleet label's query.
pub const FLEET_LABEL_SQL: &str = "SELECT 1 FROM osquery_extensions WHERE name = 'squatch'";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_source_parses() {
        let pack = Pack::embedded().expect("packs/queries.toml parses");
        assert!(pack.queries.len() >= 5);
        assert!(pack.get("typosquat_installed").is_some());
    }

    #[test]
    fn rejects_bad_metadata() {
        let base = r#"
[pack]
discovery = ["SELECT 1"]
[[query]]
name = "a"
title = "t"
kind = "finding"
stage = "Evaluation"
severity = "high"
interval = 60
logging = "snapshot"
description = "d"
resolution = "r"
sql = "SELECT 1"
"#;
        assert!(Pack::parse(base).is_ok());
        for (from, to) in [
            ("stage = \"Evaluation\"", "stage = \"Later\""),
            ("severity = \"high\"", "severity = \"huge\""),
            ("interval = 60", "interval = 0"),
            ("name = \"a\"", "name = \"A b\""),
            ("kind = \"finding\"", "kind = \"other\""),
            ("sql = \"SELECT 1\"", "sql = \"SELECT 1;\""),
            ("description = \"d\"", "description = \"\""),
            ("sql = \"SELECT 1\"", "sql = \"SELECT 1\"\nextra = 1"),
        ] {
            let text = base.replace(from, to);
            assert!(Pack::parse(&text).is_err(), "accepted {to}");
        }
        let dup = format!("{base}{}", &base[base.find("[[query]]").unwrap()..]);
        assert!(Pack::parse(&dup).is_err());
    }

    #[test]
    fn stages_parse_in_any_case() {
        assert_eq!(parse_stage("eXercise"), Some(Stage::Exercise));
        assert_eq!(parse_stage("exercise"), Some(Stage::Exercise));
        assert_eq!(parse_stage("Fortify"), Some(Stage::Fortify));
        assert_eq!(parse_stage("nope"), None);
    }
}
