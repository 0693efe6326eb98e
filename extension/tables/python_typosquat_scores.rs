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
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::sync::Arc;

use super::python_environments::wanted_environments;
use crate::findings::{site, target::Scanner, Severity};
use crate::host::Host;
use crate::python::{
    distributions_core, distributions_shared, normalize_name, DistFormat, Distribution,
    DistributionCache,
};
use crate::table::{Column, QueryContext, Row, Stage, Table, TableError};
use crate::typosquat::verdict::read_shape;
use crate::typosquat::{judge, Assessment, HostEvidence, Index, DEFAULT_THRESHOLD};

/// Installed names: normalised name -> what the host has of it.
type Installed = BTreeMap<String, InstalledName>;

/// One installed name.
struct InstalledName {
    /// The name as installed.
    name: String,
    /// Environments it is installed in.
    envs: Vec<PathBuf>,
    /// What the host says about it, when the verdict was asked for.
    evidence: Option<HostEvidence>,
}

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
        "verdict",
        "typosquat, suspicious or ok: the shape score with what the host says (installed names: summary, project URL, REQUESTED and dependents, install-time findings; named names that are not looked up on the host: shape, curated and known-malicious lists only; on the shape alone, the kind of slip and the target's rank decide, see evidence)",
    ),
    Column::text(
        "evidence",
        "The reasons for verdict, '; '-joined",
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
    /// Install-time code scanner, used only for installed names whose shape
    /// score reaches the threshold, and only when the verdict is read.
    scanner: Scanner,
}

impl PythonTyposquatScores {
    /// The table for `host`.
    pub fn new(host: Arc<Host>) -> Self {
        Self::with_cache(host, Arc::new(DistributionCache::new()))
    }

    /// The table for a host, sharing a distribution cache with other tables.
    pub fn with_cache(host: Arc<Host>, dists: Arc<DistributionCache>) -> Self {
        PythonTyposquatScores {
            host,
            // The site index reads distributions through the shared cache
            // (no second parsed copy of each).
            scanner: Scanner::default().with_distribution_cache(Some(dists.clone())),
            dists,
        }
    }

    /// Installed names, with their host evidence when `evidence` is set;
    /// with `only`, just those (normalised) names: the others are neither
    /// kept nor looked into.
    fn installed(
        &self,
        environment: Option<Vec<String>>,
        evidence: bool,
        only: Option<&std::collections::BTreeSet<String>>,
    ) -> Installed {
        let host = &*self.host;
        let index = Index::embedded();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        let mut out = Installed::new();
        self.scanner.begin_query();
        for env in wanted_environments(host, environment) {
            let mut sites: Vec<(PathBuf, Vec<Arc<Distribution>>)> = Vec::new();
            for site in &env.site_packages {
                let dists = if evidence {
                    distributions_shared(host, site, &self.dists)
                } else {
                    distributions_core(host, site, &self.dists)
                };
                sites.push((site.clone(), dists));
            }
            // Who declares whom, over the whole environment.
            let mut dependents: BTreeMap<String, Vec<String>> = BTreeMap::new();
            if evidence {
                for d in sites.iter().flat_map(|(_, ds)| ds) {
                    for req in &d.metadata.requires_dist {
                        let n = requirement_name(req);
                        if !n.is_empty() {
                            dependents.entry(n).or_default().push(d.name.clone());
                        }
                    }
                }
            }
            for (site, dists) in &sites {
                let mut findings: Option<BTreeMap<String, Vec<String>>> = None;
                for d in dists {
                    if d.normalized_name.is_empty()
                        || only.is_some_and(|o| !o.contains(&d.normalized_name))
                    {
                        continue;
                    }
                    let e = out
                        .entry(d.normalized_name.clone())
                        .or_insert_with(|| InstalledName {
                            name: d.name.clone(),
                            envs: Vec::new(),
                            evidence: None,
                        });
                    if !e.envs.contains(&env.path) {
                        e.envs.push(env.path.clone());
                    }
                    if !evidence {
                        continue;
                    }
                    let mut h = dist_evidence(host, d, now);
                    h.required_by = dependents
                        .get(&d.normalized_name)
                        .cloned()
                        .unwrap_or_default();
                    // Install-time code is scanned only for names whose
                    // shape already says something, one site scan each.
                    if read_shape(&index.assess(&d.name)).flagged {
                        let by_package = findings.get_or_insert_with(|| {
                            site_findings(host, &self.scanner, &env.path, site)
                        });
                        h.findings = by_package
                            .get(&d.normalized_name)
                            .cloned()
                            .unwrap_or_default();
                    }
                    e.evidence = Some(match e.evidence.take() {
                        None => h,
                        Some(old) => merge_evidence(old, h),
                    });
                }
            }
        }
        out
    }
}

/// The project name a `Requires-Dist` value starts with, normalised.
fn requirement_name(req: &str) -> String {
    let end = req
        .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
        .unwrap_or(req.len());
    normalize_name(&req[..end])
}

/// What one installed distribution's metadata says.
fn dist_evidence(host: &Host, d: &Distribution, now: i64) -> HostEvidence {
    let m = &d.metadata;
    let mut urls: Vec<String> = m
        .home_page
        .iter()
        .chain(m.download_url.iter())
        .cloned()
        .collect();
    // `Project-URL: Label, https://...`
    urls.extend(m.project_urls.iter().map(|p| {
        p.split_once(',')
            .map_or(p.as_str(), |(_, u)| u)
            .trim()
            .to_string()
    }));
    let install_time = match d.format {
        DistFormat::DistInfo => [d.metadata_path.join("RECORD"), d.metadata_file()]
            .iter()
            .find_map(|p| host.metadata(p).ok())
            .map(|md| md.mtime()),
        DistFormat::EggInfo => host.metadata(&d.metadata_file()).ok().map(|md| md.mtime()),
    };
    HostEvidence {
        summary: m.summary.clone(),
        urls,
        requested: (d.format == DistFormat::DistInfo).then_some(d.requested),
        required_by: Vec::new(),
        install_time,
        now,
        findings: Vec::new(),
    }
}

/// One name installed twice (two environments): keep every reason.
fn merge_evidence(mut a: HostEvidence, b: HostEvidence) -> HostEvidence {
    a.summary = a.summary.or(b.summary);
    a.urls.extend(b.urls);
    a.requested = match (a.requested, b.requested) {
        (Some(x), Some(y)) => Some(x && y),
        (x, y) => x.or(y),
    };
    a.required_by.extend(b.required_by);
    a.install_time = a.install_time.max(b.install_time);
    for f in b.findings {
        if !a.findings.contains(&f) {
            a.findings.push(f);
        }
    }
    a
}

/// Medium-or-worse install-time findings of a site, by owning package
/// (normalised): `rule_id (severity)`, each once.
fn site_findings(
    host: &Host,
    scanner: &Scanner,
    env: &std::path::Path,
    site_dir: &std::path::Path,
) -> BTreeMap<String, Vec<String>> {
    let mut scan = crate::findings::target::TargetScan::default();
    site::scan_site(host, scanner, env, site_dir, &mut scan);
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for l in scan.findings {
        let Some(p) = l.package else { continue };
        if l.finding.severity < Severity::Medium {
            continue;
        }
        let v = out.entry(normalize_name(&p)).or_default();
        let item = format!("{} ({})", l.finding.rule_id, l.finding.severity.as_str());
        if !v.contains(&item) {
            v.push(item);
        }
    }
    out
}

fn set_assessment(row: &mut Row, a: &Assessment, host: Option<&HostEvidence>) {
    let j = judge(a, host);
    row.set("verdict", j.verdict.as_str())
        .set("evidence", j.evidence.join("; "));
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
        let want_evidence = ctx.any_used(&["verdict", "evidence"]);
        let mut rows = Vec::new();
        match given {
            Some(names) => {
                let installed =
                    if ctx.any_used(&["installed", "environments"]) || environment.is_some() {
                        let only = names.iter().map(|n| normalize_name(n)).collect();
                        Some(self.installed(environment.clone(), want_evidence, Some(&only)))
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
                    let found = installed.as_ref().and_then(|i| i.get(&a.normalized_name));
                    set_assessment(&mut row, &a, found.and_then(|f| f.evidence.as_ref()));
                    if let Some(inst) = &installed {
                        let envs = inst.get(&a.normalized_name).map(|f| f.envs.as_slice());
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
                for (_, found) in self.installed(environment.clone(), want_evidence, None) {
                    let a = index.assess(&found.name);
                    let mut row = Row::new();
                    set_assessment(&mut row, &a, found.evidence.as_ref());
                    row.bool("installed", true)
                        .set("environments", super::join_paths(&found.envs));
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
