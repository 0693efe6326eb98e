//! Regenerates the shipped reference data from newer copies of its sources:
//! a top-PyPI-packages list and a checkout of the OpenSSF malicious-packages
//! OSV data. Runs on an operator's machine (`squatch data refresh`), never
//! at query time; its inputs are local files given on the command line, so
//! it reads them with `fs_err`-style errors of its own rather than `Host`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::normalize;

/// Why regeneration failed.
#[derive(Debug, thiserror::Error)]
pub enum RegenerateError {
    /// A file or directory could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The top list has no usable rows.
    #[error("{path}: no package names found (expected hugovk's JSON or CSV, or a TSV with name and rank columns)")]
    EmptyTop {
        /// The path.
        path: PathBuf,
    },
    /// The OSV directory holds no PyPI entries.
    #[error("{path}: no OSV MAL- entries for PyPI found")]
    EmptyMalicious {
        /// The path.
        path: PathBuf,
    },
}

/// What [`regenerate`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegenerateReport {
    /// Popular names written.
    pub popular: usize,
    /// Malicious names written.
    pub malicious: usize,
    /// OSV files that could not be parsed (skipped).
    pub skipped_osv_files: usize,
    /// Files written.
    pub written: Vec<PathBuf>,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> RegenerateError + '_ {
    move |source| RegenerateError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Rewrites `pypi_top.tsv` and `pypi_malicious.tsv` in `out_dir` (normally
/// `extension/data/`) from `top_list` and `malicious_osv_dir`.
///
/// `top_list` may be hugovk's `top-pypi-packages*.json` (`rows` of
/// `{project, download_count}`, most downloaded first), its CSV
/// (`download_count,project`), or a TSV whose header names a `name` column
/// and a `rank` (or `rank_among_15000_most_downloaded`) column, as the
/// workplace package list does. `malicious_osv_dir` is searched recursively
/// for `*.json` OSV entries; those with a PyPI `affected[].package` and a
/// `MAL-` id are kept, names and ids only. Each written file starts with a
/// header naming its source path and the date.
pub fn regenerate(
    top_list: &Path,
    malicious_osv_dir: &Path,
    out_dir: &Path,
) -> Result<RegenerateReport, RegenerateError> {
    let today = crate::civil::date(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0),
    );
    let top_text = std::fs::read_to_string(top_list).map_err(io(top_list))?;
    let top = parse_top_list(&top_text, top_list);
    if top.is_empty() {
        return Err(RegenerateError::EmptyTop {
            path: top_list.to_path_buf(),
        });
    }
    let (mal, skipped) = collect_osv(malicious_osv_dir)?;
    if mal.is_empty() {
        return Err(RegenerateError::EmptyMalicious {
            path: malicious_osv_dir.to_path_buf(),
        });
    }

    let mut top_out = String::new();
    let _ = writeln!(
        top_out,
        "# Top PyPI packages by downloads: rank<TAB>name (PEP 503 normalised), most downloaded first.\n# Source: {} (hugovk/top-pypi-packages format or a ranked TSV), regenerated {today}, {} names.\n# Regenerate from a newer copy with `squatch data refresh` (squatch::typosquat::regenerate).",
        top_list.display(),
        top.len()
    );
    for (rank, name) in &top {
        let _ = writeln!(top_out, "{rank}\t{name}");
    }
    let mut mal_out = String::new();
    let _ = writeln!(
        mal_out,
        "# Known-malicious PyPI package names: name (PEP 503 normalised)<TAB>OSV ids (comma separated).\n# Source: OpenSSF malicious-packages OSV entries (github.com/ossf/malicious-packages, osv/malicious/pypi) read from {}, regenerated {today}, {} names; names and ids only.\n# Regenerate from a newer copy with `squatch data refresh` (squatch::typosquat::regenerate).",
        malicious_osv_dir.display(),
        mal.len()
    );
    for (name, ids) in &mal {
        let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
        let _ = writeln!(mal_out, "{name}\t{}", ids.join(","));
    }

    std::fs::create_dir_all(out_dir).map_err(io(out_dir))?;
    let top_path = out_dir.join("pypi_top.tsv");
    let mal_path = out_dir.join("pypi_malicious.tsv");
    write_atomically(&top_path, &top_out)?;
    write_atomically(&mal_path, &mal_out)?;
    Ok(RegenerateReport {
        popular: top.len(),
        malicious: mal.len(),
        skipped_osv_files: skipped,
        written: vec![top_path, mal_path],
    })
}

fn write_atomically(path: &Path, text: &str) -> Result<(), RegenerateError> {
    let tmp = path.with_extension("tsv.tmp");
    std::fs::write(&tmp, text).map_err(io(&tmp))?;
    std::fs::rename(&tmp, path).map_err(io(path))
}

/// (rank, normalised name), by rank, each name once.
fn parse_top_list(text: &str, path: &Path) -> Vec<(u32, String)> {
    let mut rows: Vec<(u32, String)> = Vec::new();
    let is_json =
        path.extension().is_some_and(|e| e == "json") || text.trim_start().starts_with('{');
    if is_json {
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(text) {
            if let Some(list) = v.get("rows").and_then(|r| r.as_array()) {
                for (i, row) in list.iter().enumerate() {
                    if let Some(p) = row.get("project").and_then(|p| p.as_str()) {
                        rows.push((i as u32 + 1, normalize(p)));
                    }
                }
            }
        }
    } else {
        let mut lines = text
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty());
        let header = lines.next().unwrap_or("");
        let sep = if header.contains('\t') { '\t' } else { ',' };
        let cols: Vec<&str> = header.split(sep).map(str::trim).collect();
        let name_col = cols.iter().position(|c| *c == "name" || *c == "project");
        let rank_col = cols
            .iter()
            .position(|c| *c == "rank" || *c == "rank_among_15000_most_downloaded");
        match name_col {
            Some(nc) => {
                for (i, line) in lines.enumerate() {
                    let f: Vec<&str> = line.split(sep).collect();
                    let Some(name) = f.get(nc).map(|s| s.trim()).filter(|s| !s.is_empty()) else {
                        continue;
                    };
                    let rank = match rank_col {
                        // A ranked TSV: rows without a rank are not popular.
                        Some(rc) => match f.get(rc).and_then(|r| r.trim().parse::<u32>().ok()) {
                            Some(r) => r,
                            None => continue,
                        },
                        // hugovk CSV: the order is the rank.
                        None => i as u32 + 1,
                    };
                    rows.push((rank, normalize(name)));
                }
            }
            None => {
                // Headerless `rank<TAB>name`.
                for line in std::iter::once(header).chain(lines) {
                    let mut f = line.split('\t');
                    if let (Some(r), Some(n)) = (f.next(), f.next()) {
                        if let Ok(r) = r.trim().parse::<u32>() {
                            rows.push((r, normalize(n.trim())));
                        }
                    }
                }
            }
        }
    }
    rows.sort();
    let mut seen = std::collections::HashSet::new();
    rows.retain(|(_, n)| !n.is_empty() && seen.insert(n.clone()));
    rows
}

/// name -> sorted ids, and the count of unparsable files.
#[allow(clippy::type_complexity)]
fn collect_osv(
    dir: &Path,
) -> Result<(BTreeMap<String, std::collections::BTreeSet<String>>, usize), RegenerateError> {
    let mut out: BTreeMap<String, std::collections::BTreeSet<String>> = BTreeMap::new();
    let mut skipped = 0;
    let mut stack = vec![dir.to_path_buf()];
    let mut first = true;
    while let Some(d) = stack.pop() {
        let entries = match std::fs::read_dir(&d) {
            Ok(e) => e,
            Err(e) if first => return Err(io(&d)(e)),
            Err(_) => {
                skipped += 1;
                continue;
            }
        };
        first = false;
        for entry in entries.flatten() {
            let path = entry.path();
            let Ok(ft) = entry.file_type() else { continue };
            if ft.is_dir() {
                stack.push(path);
            } else if ft.is_file() && path.extension().is_some_and(|e| e == "json") {
                let parsed = std::fs::read(&path)
                    .ok()
                    .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok());
                let Some(v) = parsed else {
                    skipped += 1;
                    continue;
                };
                let Some(id) = v.get("id").and_then(|i| i.as_str()) else {
                    skipped += 1;
                    continue;
                };
                if !id.starts_with("MAL-") {
                    continue;
                }
                for a in v
                    .get("affected")
                    .and_then(|a| a.as_array())
                    .into_iter()
                    .flatten()
                {
                    let pkg = a.get("package");
                    let eco = pkg
                        .and_then(|p| p.get("ecosystem"))
                        .and_then(|e| e.as_str());
                    let name = pkg.and_then(|p| p.get("name")).and_then(|n| n.as_str());
                    if let (Some("PyPI"), Some(name)) = (eco, name) {
                        let n = normalize(name);
                        if !n.is_empty() {
                            out.entry(n).or_default().insert(id.to_string());
                        }
                    }
                }
            }
        }
    }
    Ok((out, skipped))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(crate::civil::date(0), "1970-01-01");
        assert_eq!(crate::civil::date(1_764_028_800), "2025-11-25");
        assert_eq!(crate::civil::date(951_782_400), "2000-02-29");
    }

    #[test]
    fn regenerates_from_hugovk_json_and_osv_tree() {
        let tmp = tempfile::tempdir().unwrap();
        let top = tmp.path().join("top-pypi-packages.min.json");
        std::fs::write(
            &top,
            r#"{"last_update":"x","rows":[{"download_count":9,"project":"Boto3"},{"download_count":5,"project":"typing_extensions"}]}"#,
        )
        .unwrap();
        let osv = tmp.path().join("osv/malicious/pypi/reqeusts");
        std::fs::create_dir_all(&osv).unwrap();
        std::fs::write(
            osv.join("MAL-2099-1.json"),
            r#"{"id":"MAL-2099-1","affected":[{"package":{"ecosystem":"PyPI","name":"Reqeusts"}}]}"#,
        )
        .unwrap();
        std::fs::write(osv.join("broken.json"), "{not json").unwrap();
        let npm = tmp.path().join("osv/malicious/npm/x");
        std::fs::create_dir_all(&npm).unwrap();
        std::fs::write(
            npm.join("MAL-2099-2.json"),
            r#"{"id":"MAL-2099-2","affected":[{"package":{"ecosystem":"npm","name":"x"}}]}"#,
        )
        .unwrap();
        let out = tmp.path().join("data");
        let r = regenerate(&top, &tmp.path().join("osv"), &out).unwrap();
        assert_eq!((r.popular, r.malicious, r.skipped_osv_files), (2, 1, 1));
        let t = std::fs::read_to_string(out.join("pypi_top.tsv")).unwrap();
        assert!(t.starts_with("# "));
        assert!(t.contains("\n1\tboto3\n2\ttyping-extensions\n"));
        let m = std::fs::read_to_string(out.join("pypi_malicious.tsv")).unwrap();
        assert!(m.contains("\nreqeusts\tMAL-2099-1\n"));
        // The written files load as an index.
        let idx = super::super::Index::from_tsv(&t, &m, "");
        assert_eq!(idx.rank_of("boto3"), Some(1));
        assert_eq!(idx.malicious_ids("reqeusts"), Some("MAL-2099-1"));
    }

    #[test]
    fn regenerates_from_ranked_tsv_and_reports_missing_inputs() {
        let tmp = tempfile::tempdir().unwrap();
        let top = tmp.path().join("pypi.tsv");
        std::fs::write(
            &top,
            "name\tversion\tmonth\trank_among_15000_most_downloaded\tsummary\nzeta\t1\t2020-01\t\tx\nnumpy\t2\t2024-01\t20\ty\nboto3\t1\t2024-01\t1\tz\n",
        )
        .unwrap();
        let rows = parse_top_list(&std::fs::read_to_string(&top).unwrap(), &top);
        assert_eq!(rows, vec![(1, "boto3".into()), (20, "numpy".into())]);
        let err = regenerate(&top, &tmp.path().join("missing"), tmp.path()).unwrap_err();
        assert!(err.to_string().contains("missing"), "{err}");
        let empty = tmp.path().join("empty.csv");
        std::fs::write(&empty, "download_count,project\n").unwrap();
        assert!(matches!(
            regenerate(&empty, tmp.path(), tmp.path()),
            Err(RegenerateError::EmptyTop { .. })
        ));
    }
}
