//! `python_package_provenance`: one row per installed distribution, with where
//! it came from and whether its files are still what was installed.
//!
//! Metadata columns cost a `stat` per distribution on a repeated query (the
//! parsed metadata is cached). The RECORD columns (`record_status`,
//! `files_*`, `record_reference`, ...) hash files, so they are computed only
//! when the query selects one of them; digests and whole verdicts are
//! cached by file identity (device, inode, size, mtime, ctime), so a
//! repeated query `lstat`s the listed files and re-hashes only what changed.

use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::sync::Arc;

use super::python_environments::wanted_environments;
use crate::host::{path_from_column, path_to_column, Host};
use crate::python::verify::Change;
use crate::python::{
    distributions_core, distributions_seen, normalize_name, DistFormat, Distribution,
    DistributionCache, RecordReference, RecordStatus, Verification, Verifier,
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
    Column::integer(
        "is_link",
        "1 when the site directory holds a symlink to the metadata directory (Python follows it)",
    ),
    Column::text(
        "link_target",
        "Where that symlink points (host path, resolved inside the root); empty when not a link",
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
    Column::text("home_page", "Home-page, credentials stripped"),
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
    Column::text(
        "status",
        "ok, or in words what squatch could not look at for this distribution (unreadable metadata or file list, unverified and why, walk limits)",
    ),
];

/// Columns that need INSTALLER, REQUESTED or direct_url.json.
const PROVENANCE_COLUMNS: &[&str] = &[
    "installer",
    "requested",
    "source_kind",
    "direct_url",
    "vcs_commit_id",
    "error",
    "status",
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
    "status",
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

    /// Also keeps RECORD digests, verifications and each site's parsed
    /// distributions between processes in `cache` (see [`crate::persist`];
    /// the distributions in the distribution cache this table shares).
    pub fn with_persistent_cache(
        mut self,
        cache: Option<Arc<crate::persist::PersistentCache>>,
    ) -> Self {
        self.dists.set_persistent_cache(cache.clone());
        self.verifier = self.verifier.with_persistent_cache(cache);
        self
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
        let sites: Option<Vec<PathBuf>> = ctx.equals("site_packages").map(|v| {
            v.iter()
                .map(|s| Host::normalize(&path_from_column(s)))
                .collect()
        });
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
        // INSTALLER, REQUESTED and direct_url.json are read only when a
        // column needs them (verification does: INSTALLER tells Debian-built).
        let need_full = verify || ctx.any_used(PROVENANCE_COLUMNS);

        // The columns to fill, computed once: a row then costs one `match`
        // per used column and nothing for the others.
        let used: Vec<&'static str> = COLUMNS
            .iter()
            .map(|c| c.name)
            .filter(|c| ctx.is_used(c))
            .collect();
        let mut rows = Vec::new();
        for env in &envs {
            let env_path = path_to_column(&env.path);
            for site in &env.site_packages {
                if sites.as_ref().is_some_and(|s| !s.contains(site)) {
                    continue;
                }
                let (dists, seen) = if need_full {
                    distributions_seen(host, site, &self.dists)
                } else {
                    (distributions_core(host, site, &self.dists), None)
                };
                let wanted: Vec<bool> = dists
                    .iter()
                    .map(|d| {
                        names
                            .as_ref()
                            .is_none_or(|n| n.contains(&d.normalized_name))
                    })
                    .collect();
                let verifications = if verify && wanted.iter().any(|w| *w) {
                    self.verifier
                        .verify_site_seen(host, &dists, &wanted, seen.as_ref())
                } else {
                    vec![None; dists.len()]
                };
                for ((d, w), v) in dists.iter().zip(&wanted).zip(verifications) {
                    if !w {
                        continue;
                    }
                    let cell = Cell {
                        host,
                        env_path: &env_path,
                        env_kind: env.kind.as_str(),
                        d,
                        v: v.as_ref(),
                    };
                    let mut row = Row::new();
                    for &col in &used {
                        if let Some(value) = cell.value(col) {
                            row.set(col, value);
                        }
                    }
                    rows.push(row);
                }
            }
        }
        Ok(rows)
    }
}

/// What one row's values are computed from.
struct Cell<'a> {
    host: &'a Host,
    env_path: &'a str,
    env_kind: &'a str,
    d: &'a Distribution,
    /// The verification, when a RECORD column is used.
    v: Option<&'a Verification>,
}

impl Cell<'_> {
    /// The value of `column` (`None`: NULL).
    fn value(&self, column: &str) -> Option<String> {
        let d = self.d;
        let md = &d.metadata;
        let n = |x: u64| Some(x.to_string());
        match column {
            "environment" => Some(self.env_path.to_string()),
            "environment_kind" => Some(self.env_kind.to_string()),
            "name" => Some(d.name.clone()),
            "normalized_name" => Some(d.normalized_name.clone()),
            "version" => Some(d.version.clone()),
            "site_packages" => Some(path_to_column(&d.site_packages)),
            "metadata_path" => Some(path_to_column(&d.metadata_path)),
            "format" => Some(d.format.as_str().to_string()),
            "is_link" => Some(if d.link_target.is_some() { "1" } else { "0" }.to_string()),
            "link_target" => Some(
                d.link_target
                    .as_deref()
                    .map(path_to_column)
                    .unwrap_or_default(),
            ),
            "status" => Some(status(d, self.v)),
            "installer" => d.installer.clone(),
            "requested" => Some(if d.requested { "1" } else { "0" }.to_string()),
            "source_kind" => Some(d.source_kind().as_str().to_string()),
            "direct_url" => d.direct_url.as_ref().map(|u| u.url.clone()),
            "vcs_commit_id" => d.direct_url.as_ref().and_then(|u| u.commit_id.clone()),
            "author" => md.author.clone(),
            "author_email" => md.author_email.clone(),
            "home_page" => md
                .home_page
                .as_deref()
                .map(crate::python::strip_credentials),
            "summary" => md.summary.clone(),
            "license" => md.license.clone(),
            "requires_python" => md.requires_python.clone(),
            "install_time" => install_time(self.host, d).map(|t| t.to_string()),
            "owner_uid" => self
                .host
                .symlink_metadata(&d.metadata_path)
                .ok()
                .map(|m| m.uid().to_string()),
            "error" => match (d.error.as_deref(), self.v.and_then(|v| v.error.as_deref())) {
                (Some(a), Some(b)) => Some(format!("{a}; {b}")),
                (a, b) => a.or(b).map(str::to_string),
            },
            _ => {
                let v = self.v?;
                match column {
                    "record_status" => Some(v.status.as_str().to_string()),
                    "record_reference" => Some(v.reference.as_str().to_string()),
                    "dpkg_package" => v.dpkg_package.clone(),
                    "files_checked" => n(v.files_checked),
                    "files_modified" => n(v.files_modified),
                    "files_missing" => n(v.files_missing),
                    "files_unrecorded" => n(v.files_unrecorded),
                    "files_outside_environment" => n(v.files_outside_environment),
                    "files_unverifiable" => n(v.files_unverifiable),
                    "changed_files" => Some(changed_files(v)),
                    _ => None,
                }
            }
        }
    }
}

/// `status`: `ok`, or what could not be looked at, in words.
fn status(d: &Distribution, v: Option<&Verification>) -> String {
    let mut parts: Vec<String> = d.error.iter().cloned().collect();
    if let Some(v) = v {
        if let Some(e) = &v.error {
            parts.push(e.clone());
        } else if v.status == RecordStatus::Unverified {
            parts.push(if v.reference == RecordReference::None {
                "unverified: no usable file list".to_string()
            } else if v.files_unverifiable > 0 {
                format!(
                    "unverified: {} listed file(s) could not be read",
                    v.files_unverifiable
                )
            } else {
                "unverified: the file list has no hashes".to_string()
            });
        }
    }
    if parts.is_empty() {
        "ok".to_string()
    } else {
        parts.join("; ")
    }
}

/// `changed_files`: one `change:path` line per example.
fn changed_files(v: &Verification) -> String {
    let lines: Vec<String> = v
        .changed
        .iter()
        .map(|(p, c)| {
            let word = match c {
                Change::Modified => "modified",
                Change::Missing => "missing",
                Change::Unrecorded => "unrecorded",
            };
            format!("{word}:{}", path_to_column(p))
        })
        .collect();
    lines.join("\n")
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
