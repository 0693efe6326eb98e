//! `python_package_provenance`: one row per installed distribution, with where
//! it came from and whether its files are still what was installed.
//!
//! Metadata columns cost a `stat` per distribution on a repeated query (the
//! parsed metadata is cached). The RECORD columns (`record_status`,
//! `files_*`, `record_reference`, ...) hash files, so they are computed only
//! when the query selects one of them; digests are cached by (path, inode,
//! size, mtime), so a repeated query re-hashes only what changed.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::python_environments::wanted_environments;
use crate::host::Host;
use crate::python::verify::Change;
use crate::python::{
    distributions_shared, normalize_name, DistFormat, Distribution, DistributionCache,
    Verification, Verifier,
};
use crate::table::{Column, QueryContext, Row, Stage, Table, TableError};

const COLUMNS: &[Column] = &[
    Column::text("name", "Project name as its metadata writes it"),
    Column::text("normalized_name", "PEP 503 normalised name").index(),
    Column::text("version", "Version"),
    Column::text("environment", "Environment path (python_environments.path)").index(),
    Column::text(
        "environment_kind",
        "Environment kind (system, venv, conda, ...)",
    ),
    Column::text(
        "site_packages",
        "Site directory the distribution is installed in",
    )
    .index(),
    Column::text(
        "metadata_path",
        "The .dist-info/.egg-info directory (or PKG-INFO file)",
    ),
    Column::text("format", "dist-info or egg-info"),
    Column::text("installer", "First line of INSTALLER (pip, uv, conda, ...)"),
    Column::integer(
        "requested",
        "1 when REQUESTED exists (asked for by the user, not a dependency)",
    ),
    Column::text(
        "source_kind",
        "index, archive, vcs, directory, editable or unknown (PEP 610)",
    ),
    Column::text("direct_url", "direct_url.json URL, credentials stripped"),
    Column::text("vcs_commit_id", "Commit of a VCS install"),
    Column::bigint(
        "install_time",
        "mtime of RECORD (else of the metadata), Unix seconds",
    ),
    Column::integer("owner_uid", "Owner of the metadata directory"),
    Column::text("author", "Author"),
    Column::text("author_email", "Author-email"),
    Column::text("home_page", "Home-page"),
    Column::text("summary", "Summary"),
    Column::text("license", "License or License-Expression"),
    Column::text("requires_python", "Requires-Python"),
    Column::text(
        "record_status",
        "ok, modified, missing, unrecorded or unverified",
    ),
    Column::text(
        "record_reference",
        "What files were checked against: record, installed_files, dpkg or none",
    ),
    Column::text(
        "dpkg_package",
        "The Debian package owning it, when the reference is dpkg",
    ),
    Column::integer("files_checked", "Files whose digest was compared"),
    Column::integer(
        "files_modified",
        "Files whose content differs from the reference",
    ),
    Column::integer("files_missing", "Listed files that are gone"),
    Column::integer(
        "files_unrecorded",
        "Files in the package's directories that no RECORD lists",
    ),
    Column::integer(
        "files_outside_environment",
        "Listed paths that resolve outside the environment (not checked)",
    ),
    Column::integer(
        "files_unverifiable",
        "Listed files that could not be read or have an unusable hash",
    ),
    Column::text(
        "changed_files",
        "Up to 32 changed paths, one per line, prefixed modified:/missing:/unrecorded:",
    )
    .hidden(),
    Column::text(
        "error",
        "What was wrong with the metadata or the verification, if anything",
    ),
];

/// Columns that need RECORD verification (hashing).
const VERIFY_COLUMNS: &[&str] = &[
    "record_status",
    "record_reference",
    "dpkg_package",
    "files_checked",
    "files_modified",
    "files_missing",
    "files_unrecorded",
    "files_outside_environment",
    "files_unverifiable",
    "changed_files",
];

/// The `python_package_provenance` table.
pub struct PythonPackageProvenance {
    host: Arc<Host>,
    dists: Arc<DistributionCache>,
    verifier: Verifier,
}

impl PythonPackageProvenance {
    /// The table for a host, with its own distribution cache.
    pub fn new(host: Arc<Host>) -> Self {
        Self::with_cache(host, Arc::default())
    }

    /// The table for a host, sharing a distribution cache with other tables.
    pub fn with_cache(host: Arc<Host>, dists: Arc<DistributionCache>) -> Self {
        PythonPackageProvenance {
            host,
            dists,
            verifier: Verifier::new(),
        }
    }
}

impl Table for PythonPackageProvenance {
    fn name(&self) -> &'static str {
        "python_package_provenance"
    }

    fn description(&self) -> &'static str {
        "Installed Python distributions: where each came from (installer, PEP 610 direct URL) and whether its files still match RECORD or dpkg."
    }

    fn stage(&self) -> Stage {
        Stage::Evaluation
    }

    fn columns(&self) -> &'static [Column] {
        COLUMNS
    }

    fn generate(&self, ctx: &QueryContext) -> Result<Vec<Row>, TableError> {
        let host = &*self.host;
        let envs = wanted_environments(host, ctx.equals("environment"));
        let sites: Option<Vec<PathBuf>> = ctx
            .equals("site_packages")
            .map(|v| v.iter().map(|s| Host::normalize(Path::new(s))).collect());
        let names: Option<Vec<String>> = match (ctx.equals("normalized_name"), ctx.equals("name")) {
            (None, None) => None,
            (a, b) => Some(
                a.into_iter()
                    .chain(b)
                    .flatten()
                    .map(|n| normalize_name(&n))
                    .collect(),
            ),
        };
        let verify = ctx.any_used(VERIFY_COLUMNS);

        let mut rows = Vec::new();
        for env in &envs {
            for site in &env.site_packages {
                if sites.as_ref().is_some_and(|s| !s.contains(site)) {
                    continue;
                }
                let dists = distributions_shared(host, site, &self.dists);
                let wanted: Vec<bool> = dists
                    .iter()
                    .map(|d| {
                        names
                            .as_ref()
                            .map_or(true, |n| n.contains(&d.normalized_name))
                    })
                    .collect();
                let verifications = if verify && wanted.iter().any(|w| *w) {
                    self.verifier.verify_site(host, &dists, &wanted)
                } else {
                    vec![None; dists.len()]
                };
                for ((d, w), v) in dists.iter().zip(&wanted).zip(verifications) {
                    if !w {
                        continue;
                    }
                    let mut out = Out {
                        ctx,
                        row: Row::new(),
                    };
                    out.set("environment", || {
                        Some(env.path.to_string_lossy().into_owned())
                    });
                    out.set("environment_kind", || Some(env.kind.as_str().to_string()));
                    dist_columns(&mut out, d);
                    out.set("install_time", || {
                        install_time(host, d).map(|t| t.to_string())
                    });
                    out.set("owner_uid", || {
                        host.symlink_metadata(&d.metadata_path)
                            .ok()
                            .map(|m| m.uid().to_string())
                    });
                    match v {
                        Some(v) => verification_columns(&mut out, &v, d.error.as_deref()),
                        None => out.set("error", || d.error.clone()),
                    }
                    rows.push(out.row);
                }
            }
        }
        Ok(rows)
    }
}

/// A row under construction that only computes the columns a query uses.
struct Out<'a> {
    ctx: &'a QueryContext,
    row: Row,
}

impl Out<'_> {
    fn set(&mut self, column: &'static str, value: impl FnOnce() -> Option<String>) {
        if self.ctx.is_used(column) {
            if let Some(v) = value() {
                self.row.set(column, v);
            }
        }
    }
}

fn dist_columns(out: &mut Out, d: &Distribution) {
    let md = &d.metadata;
    let s = |v: &Option<String>| v.clone();
    out.set("name", || Some(d.name.clone()));
    out.set("normalized_name", || Some(d.normalized_name.clone()));
    out.set("version", || Some(d.version.clone()));
    out.set("site_packages", || {
        Some(d.site_packages.to_string_lossy().into_owned())
    });
    out.set("metadata_path", || {
        Some(d.metadata_path.to_string_lossy().into_owned())
    });
    out.set("format", || Some(d.format.as_str().to_string()));
    out.set("installer", || d.installer.clone());
    out.set("requested", || {
        Some(if d.requested { "1" } else { "0" }.to_string())
    });
    out.set("source_kind", || Some(d.source_kind().as_str().to_string()));
    out.set("direct_url", || {
        d.direct_url.as_ref().map(|u| u.url.clone())
    });
    out.set("vcs_commit_id", || {
        d.direct_url.as_ref().and_then(|u| u.commit_id.clone())
    });
    out.set("author", || s(&md.author));
    out.set("author_email", || s(&md.author_email));
    out.set("home_page", || s(&md.home_page));
    out.set("summary", || s(&md.summary));
    out.set("license", || s(&md.license));
    out.set("requires_python", || s(&md.requires_python));
}

fn verification_columns(out: &mut Out, v: &Verification, dist_error: Option<&str>) {
    let n = |x: u64| Some(x.to_string());
    out.set("record_status", || Some(v.status.as_str().to_string()));
    out.set("record_reference", || {
        Some(v.reference.as_str().to_string())
    });
    out.set("dpkg_package", || v.dpkg_package.clone());
    out.set("files_checked", || n(v.files_checked));
    out.set("files_modified", || n(v.files_modified));
    out.set("files_missing", || n(v.files_missing));
    out.set("files_unrecorded", || n(v.files_unrecorded));
    out.set("files_outside_environment", || {
        n(v.files_outside_environment)
    });
    out.set("files_unverifiable", || n(v.files_unverifiable));
    out.set("changed_files", || {
        let lines: Vec<String> = v
            .changed
            .iter()
            .map(|(p, c)| {
                let word = match c {
                    Change::Modified => "modified",
                    Change::Missing => "missing",
                    Change::Unrecorded => "unrecorded",
                };
                format!("{word}:{}", p.display())
            })
            .collect();
        Some(lines.join("\n"))
    });
    out.set("error", || match (dist_error, v.error.as_deref()) {
        (Some(a), Some(b)) => Some(format!("{a}; {b}")),
        (a, b) => a.or(b).map(str::to_string),
    });
}

/// When the distribution was installed: RECORD is written last by
/// installers, so its mtime; else the metadata file's, else the directory's.
fn install_time(host: &Host, d: &Distribution) -> Option<i64> {
    let candidates = match d.format {
        DistFormat::DistInfo => vec![
            d.metadata_path.join("RECORD"),
            d.metadata_file(),
            d.metadata_path.clone(),
        ],
        DistFormat::EggInfo => vec![d.metadata_file(), d.metadata_path.clone()],
    };
    candidates
        .iter()
        .find_map(|p| host.metadata(p).ok())
        .map(|m| m.mtime())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_has_the_contract_columns() {
        let names: Vec<&str> = COLUMNS.iter().map(|c| c.name).collect();
        for c in [
            "name",
            "normalized_name",
            "version",
            "environment",
            "site_packages",
            "metadata_path",
            "installer",
            "requested",
            "source_kind",
            "direct_url",
            "install_time",
            "author",
            "author_email",
            "home_page",
            "summary",
            "record_status",
            "files_modified",
            "files_missing",
            "files_unrecorded",
        ] {
            assert!(names.contains(&c), "{c}");
        }
        for c in VERIFY_COLUMNS {
            assert!(names.contains(c), "{c}");
        }
    }
}
