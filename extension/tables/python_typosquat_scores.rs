//! `python_typosquat_scores`: one row per distinct package name, scored as a
//! possible typosquat of a popular PyPI package.
//!
//! Without a name constraint the names are every distribution installed in
//! every environment on the host (one row per distinct normalised name).
//! With `WHERE name = ...` / `IN (...)` (or `normalized_name`), exactly those
//! names are scored, installed or not: a requirements file or a CI gate can
//! ask about names before they are installed, and the host is not scanned
//! unless the query reads `installed` or `environments`.
//!
//! Scoring costs microseconds a name against an index built once per process
//! ([`Index::embedded`]); the installed names come from the Python helper's
//! cached metadata, so a repeated scheduled query re-reads only `stat` data.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use super::python_environments::wanted_environments;
use crate::host::Host;
use crate::python::{distributions_core, normalize_name, DistributionCache};
use crate::table::{Column, QueryContext, Row, Stage, Table, TableError};
use crate::typosquat::{Assessment, Index, DEFAULT_THRESHOLD};

const COLUMNS: &[Column] = &[
    Column::text(
        "name",
        "Package name as given in WHERE, or as installed metadata writes it",
    )
    .index(),
    Column::text("normalized_name", "PEP 503 normalised name").index(),
    Column::double(
        "score",
        "0..1: how likely the name imitates target (1 for a known-malicious name)",
    ),
    Column::integer(
        "flagged",
        "1 when score reaches the default threshold (0.5)",
    ),
    Column::text(
        "target",
        "Popular package imitated (or the project a curated relative belongs to)",
    ),
    Column::integer(
        "target_rank",
        "Download rank of target among the top PyPI packages",
    ),
    Column::text(
        "technique",
        "What was changed, in words (e.g. swapped \"eu\" -> \"ue\")",
    ),
    Column::integer(
        "distance",
        "Edit distance (optimal string alignment) between normalized_name and target",
    ),
    Column::integer("is_popular", "1 when the name is itself a top PyPI package"),
    Column::integer("popular_rank", "The name's own download rank when popular"),
    Column::integer(
        "known_malicious",
        "1 when the name is in the OpenSSF malicious-packages data set",
    ),
    Column::text("malicious_ids", "OSV MAL- ids of the name, comma separated"),
    Column::integer(
        "installed",
        "1 when a distribution of this name is installed on the host",
    ),
    Column::text(
        "environments",
        "Environments (python_environments.path) where it is installed, ':'-joined",
    ),
    Column::text(
        "environment",
        "Constraint only: score the names installed in this environment",
    )
    .additional()
    .hidden(),
];

/// The `python_typosquat_scores` table.
pub struct PythonTyposquatScores {
    host: Arc<Host>,
    dists: Arc<DistributionCache>,
}

impl PythonTyposquatScores {
    /// The table for `host`.
    pub fn new(host: Arc<Host>) -> Self {
        Self::with_cache(host, Arc::new(DistributionCache::new()))
    }

    /// The table for a host, sharing a distribution cache with other tables.
    pub fn with_cache(host: Arc<Host>, dists: Arc<DistributionCache>) -> Self {
        PythonTyposquatScores { host, dists }
    }

    /// Installed names: normalised name -> (name as installed, environments).
    fn installed(
        &self,
        environment: Option<Vec<String>>,
    ) -> BTreeMap<String, (String, Vec<PathBuf>)> {
        let host = &*self.host;
        let mut out: BTreeMap<String, (String, Vec<PathBuf>)> = BTreeMap::new();
        for env in wanted_environments(host, environment) {
            for site in &env.site_packages {
                for d in distributions_core(host, site, &self.dists) {
                    if d.normalized_name.is_empty() {
                        continue;
                    }
                    let e = out
                        .entry(d.normalized_name.clone())
                        .or_insert_with(|| (d.name.clone(), Vec::new()));
                    if !e.1.contains(&env.path) {
                        e.1.push(env.path.clone());
                    }
                }
            }
        }
        out
    }
}

fn set_assessment(row: &mut Row, a: &Assessment) {
    row.set("name", a.name.clone())
        .set("normalized_name", a.normalized_name.clone())
        .double("score", a.score)
        .bool("flagged", a.score >= DEFAULT_THRESHOLD)
        .opt("target", a.target.clone())
        .opt("target_rank", a.target_rank.map(|r| r.to_string()))
        .set("technique", a.technique.clone())
        .opt("distance", a.distance.map(|d| d.to_string()))
        .bool("is_popular", a.is_popular())
        .opt("popular_rank", a.popular_rank.map(|r| r.to_string()))
        .bool("known_malicious", a.known_malicious.is_some())
        .opt("malicious_ids", a.known_malicious.clone());
}

impl Table for PythonTyposquatScores {
    fn name(&self) -> &'static str {
        "python_typosquat_scores"
    }

    fn description(&self) -> &'static str {
        "Installed (or named) Python package names scored as typosquats of popular PyPI packages"
    }

    fn stage(&self) -> Stage {
        Stage::Evaluation
    }

    fn columns(&self) -> &'static [Column] {
        COLUMNS
    }

    fn generate(&self, ctx: &QueryContext) -> Result<Vec<Row>, TableError> {
        let index = Index::embedded();
        let given: Option<Vec<String>> = match (ctx.equals("name"), ctx.equals("normalized_name")) {
            (None, None) => None,
            (a, b) => Some(a.into_iter().chain(b).flatten().collect()),
        };
        let environment = ctx.equals("environment");
        let mut rows = Vec::new();
        match given {
            Some(names) => {
                let installed =
                    if ctx.any_used(&["installed", "environments"]) || environment.is_some() {
                        Some(self.installed(environment.clone()))
                    } else {
                        None
                    };
                let mut seen = std::collections::BTreeSet::new();
                for n in names {
                    // `name = 'Torch_Utils'` and `name = 'torch-utils'` are
                    // one name; keep the first spelling.
                    if !seen.insert(normalize_name(&n)) {
                        continue;
                    }
                    let a = index.assess(&n);
                    let mut row = Row::new();
                    set_assessment(&mut row, &a);
                    if let Some(inst) = &installed {
                        let envs = inst.get(&a.normalized_name).map(|(_, e)| e.as_slice());
                        if environment.is_some() && envs.is_none() {
                            continue;
                        }
                        row.bool("installed", envs.is_some()).set(
                            "environments",
                            envs.map(super::join_paths).unwrap_or_default(),
                        );
                    }
                    if let Some(e) = environment.as_ref().and_then(|e| e.first()) {
                        row.set("environment", e.clone());
                    }
                    rows.push(row);
                }
            }
            None => {
                for (_, (name, envs)) in self.installed(environment.clone()) {
                    let a = index.assess(&name);
                    let mut row = Row::new();
                    set_assessment(&mut row, &a);
                    row.bool("installed", true)
                        .set("environments", super::join_paths(&envs));
                    if let Some(e) = environment.as_ref().and_then(|e| e.first()) {
                        row.set("environment", e.clone());
                    }
                    rows.push(row);
                }
            }
        }
        Ok(rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::Operator;

    fn table() -> PythonTyposquatScores {
        let tmp = std::env::temp_dir().join("squatch-typosquat-empty-root");
        PythonTyposquatScores::new(Arc::new(Host::new(tmp)))
    }

    #[test]
    fn schema_has_the_contract_columns() {
        let names: Vec<&str> = COLUMNS.iter().map(|c| c.name).collect();
        for c in [
            "name",
            "normalized_name",
            "score",
            "target",
            "target_rank",
            "technique",
            "distance",
            "is_popular",
            "known_malicious",
        ] {
            assert!(names.contains(&c), "{c}");
        }
    }

    #[test]
    fn named_names_are_scored_without_scanning() {
        let ctx = QueryContext::all()
            .with("name", Operator::Equals, "reqeusts")
            .with("name", Operator::Equals, "Torch")
            .with("name", Operator::Equals, "torch")
            .using(&["name", "score", "target", "technique", "is_popular"]);
        let rows = table().generate(&ctx).unwrap();
        assert_eq!(rows.len(), 2, "torch and Torch are one name");
        let r = &rows[0];
        assert_eq!(r.get("name"), Some("reqeusts"));
        assert_eq!(r.get("target"), Some("requests"));
        assert_eq!(r.get("technique"), Some("swapped \"eu\" -> \"ue\""));
        assert_eq!(r.get("flagged"), Some("1"));
        assert_eq!(r.get("installed"), None, "not read, not computed");
        let t = &rows[1];
        assert_eq!(t.get("name"), Some("Torch"));
        assert_eq!(t.get("normalized_name"), Some("torch"));
        assert_eq!(t.get("is_popular"), Some("1"));
        assert_eq!(t.get("score"), Some("0"));
    }
}
