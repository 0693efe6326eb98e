//! `python_typosquat_variants`: the names an attacker would register to
//! imitate a popular package (`WHERE target = 'torch'`, required), with the
//! technique, whether the name is already taken as far as squatch knows, and
//! (when the query reads it) whether it is installed on this host.
//!
//! Reconnaissance: think like the attacker, then check and defensively
//! register what is still free.

use std::collections::HashSet;
use std::sync::Arc;

use super::python_environments::wanted_environments;
use crate::host::Host;
use crate::python::{distributions_core, normalize_name, DistributionCache};
use crate::table::{check_required, Column, QueryContext, Row, Stage, Table, TableError};
use crate::typosquat::{variants, Index};

const COLUMNS: &[Column] = &[
    Column::text(
        "target",
        "Popular package to imitate (required: WHERE target = ...)",
    )
    .required(),
    Column::text(
        "variant",
        "A name an attacker could register (PEP 503 normalised)",
    ),
    Column::text("technique", "How the variant was made, in words"),
    Column::integer(
        "distance",
        "Edit distance (optimal string alignment) to target",
    ),
    Column::integer(
        "registered",
        "1 when the variant is taken: a top PyPI package or a known-malicious name",
    ),
    Column::integer(
        "is_popular",
        "1 when the variant is itself a top PyPI package",
    ),
    Column::integer("popular_rank", "The variant's download rank when popular"),
    Column::integer(
        "known_malicious",
        "1 when the variant is in the OpenSSF malicious-packages data set",
    ),
    Column::text("malicious_ids", "OSV MAL- ids of the variant"),
    Column::integer(
        "installed",
        "1 when a distribution of this name is installed on the host (scans only when read)",
    ),
];

/// The `python_typosquat_variants` table.
pub struct PythonTyposquatVariants {
    host: Arc<Host>,
    dists: Arc<DistributionCache>,
}

impl PythonTyposquatVariants {
    /// The table for `host`.
    pub fn new(host: Arc<Host>) -> Self {
        Self::with_cache(host, Arc::new(DistributionCache::new()))
    }

    /// The table for a host, sharing a distribution cache with other tables.
    pub fn with_cache(host: Arc<Host>, dists: Arc<DistributionCache>) -> Self {
        PythonTyposquatVariants { host, dists }
    }

    fn installed_names(&self) -> HashSet<String> {
        let host = &*self.host;
        let mut out = HashSet::new();
        for env in wanted_environments(host, None) {
            for site in &env.site_packages {
                out.extend(
                    distributions_core(host, site, &self.dists)
                        .iter()
                        .map(|d| d.normalized_name.clone()),
                );
            }
        }
        out
    }
}

impl Table for PythonTyposquatVariants {
    fn name(&self) -> &'static str {
        "python_typosquat_variants"
    }

    fn description(&self) -> &'static str {
        "Names an attacker could register to imitate a popular Python package (WHERE target = ...)"
    }

    fn stage(&self) -> Stage {
        Stage::Reconnaissance
    }

    fn columns(&self) -> &'static [Column] {
        COLUMNS
    }

    fn generate(&self, ctx: &QueryContext) -> Result<Vec<Row>, TableError> {
        check_required(self, ctx)?;
        let targets = ctx.equals("target").unwrap_or_default();
        let index = Index::embedded();
        let installed = ctx.is_used("installed").then(|| self.installed_names());
        let mut rows = Vec::new();
        let mut seen = HashSet::new();
        for target in targets {
            if !seen.insert(normalize_name(&target)) {
                continue;
            }
            for v in variants(index, &target) {
                let mut row = Row::new();
                row.set("target", target.clone())
                    .int("distance", i64::from(v.distance))
                    .bool("registered", v.registered())
                    .bool("is_popular", v.popular_rank.is_some())
                    .opt("popular_rank", v.popular_rank.map(|r| r.to_string()))
                    .bool("known_malicious", v.known_malicious.is_some())
                    .opt("malicious_ids", v.known_malicious.clone())
                    .set("technique", v.technique)
                    .set("variant", v.variant.clone());
                if let Some(inst) = &installed {
                    row.bool("installed", inst.contains(&v.variant));
                }
                rows.push(row);
            }
        }
        Ok(rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::Operator;

    fn table() -> PythonTyposquatVariants {
        let tmp = std::env::temp_dir().join("squatch-typosquat-empty-root");
        PythonTyposquatVariants::new(Arc::new(Host::new(tmp)))
    }

    #[test]
    fn target_is_required() {
        let err = table().generate(&QueryContext::all()).unwrap_err();
        assert!(matches!(err, TableError::MissingRequired { .. }), "{err}");
    }

    #[test]
    fn torch_variants_cover_the_techniques() {
        let ctx = QueryContext::all()
            .with("target", Operator::Equals, "torch")
            .using(&["target", "variant", "technique", "registered"]);
        let rows = table().generate(&ctx).unwrap();
        let find = |v: &str| rows.iter().find(|r| r.get("variant") == Some(v));
        for (v, tech) in [
            ("trch", "omitted \"o\""),
            ("torrch", "repeated \"r\""),
            ("troch", "swapped"),
            ("yorch", "keyboard-adjacent"),
            ("t0rch", "look-alike"),
            ("torch2", "version-number suffix"),
            ("python-torch", "prefix \"python\""),
            ("torch-gpu", "added word \"gpu\""),
            ("torch-utilites", "misspelled"),
            ("torchtriton", "dependency confusion"),
        ] {
            let r = find(v).unwrap_or_else(|| panic!("no variant {v}"));
            assert!(
                r.get("technique").unwrap().contains(tech),
                "{v}: {:?}",
                r.get("technique")
            );
            assert_eq!(r.get("target"), Some("torch"));
        }
        assert!(find("torch").is_none(), "the target itself is no variant");
        // pytorch is a popular (placeholder) package: registered.
        assert_eq!(find("pytorch").and_then(|r| r.get("registered")), Some("1"));
        let all: HashSet<&str> = rows.iter().filter_map(|r| r.get("variant")).collect();
        assert_eq!(all.len(), rows.len(), "each variant once");
    }
}
