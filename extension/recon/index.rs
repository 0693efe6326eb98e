//! What an index says about a project: the PEP 691 JSON Simple API page
//! (files, with PEP 700 `upload-time` and `versions`) and, where the index
//! has one, the project JSON API (PyPI's `/pypi/<name>/json`: `info`'s
//! author and maintainer, `ownership`'s organisation and roles).

use serde::{Deserialize, Serialize};

/// A project page of the JSON Simple API (the fields recon reads).
#[derive(Debug, Deserialize)]
struct SimplePage {
    #[serde(default)]
    files: Vec<SimpleFile>,
    /// PEP 700; absent on indexes that predate it.
    versions: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
struct SimpleFile {
    #[serde(default)]
    filename: String,
    /// `false`, `true` or the reason (a string).
    #[serde(default)]
    yanked: serde_json::Value,
    /// PEP 700: ISO 8601, UTC.
    #[serde(rename = "upload-time")]
    upload_time: Option<String>,
}

/// What the Simple API says of one project.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Releases {
    /// Earliest file upload (Unix seconds), when the index gives times.
    pub first_upload: Option<i64>,
    /// Latest file upload (Unix seconds).
    pub last_upload: Option<i64>,
    /// Number of versions (PEP 700 `versions`, else distinct file versions).
    pub releases: usize,
    /// Number of files.
    pub files: usize,
    /// Files yanked.
    pub yanked_files: usize,
    /// True when every file is yanked.
    pub all_yanked: bool,
}

/// Parses a JSON Simple API project page.
pub fn parse_simple(body: &str) -> Result<Releases, serde_json::Error> {
    let page: SimplePage = serde_json::from_str(body)?;
    let times: Vec<i64> = page
        .files
        .iter()
        .filter_map(|f| f.upload_time.as_deref().and_then(parse_time))
        .collect();
    let yanked = page
        .files
        .iter()
        .filter(|f| match &f.yanked {
            serde_json::Value::Bool(b) => *b,
            serde_json::Value::String(_) => true,
            _ => false,
        })
        .count();
    let releases = match &page.versions {
        Some(v) => v.len(),
        None => {
            let mut v: Vec<&str> = page
                .files
                .iter()
                .filter_map(|f| file_version(&f.filename))
                .collect();
            v.sort_unstable();
            v.dedup();
            v.len()
        }
    };
    Ok(Releases {
        first_upload: times.iter().min().copied(),
        last_upload: times.iter().max().copied(),
        releases,
        files: page.files.len(),
        yanked_files: yanked,
        all_yanked: !page.files.is_empty() && yanked == page.files.len(),
    })
}

/// The version part of a wheel or sdist file name (`name-1.0-...`).
fn file_version(filename: &str) -> Option<&str> {
    let stem = filename
        .strip_suffix(".tar.gz")
        .or_else(|| filename.strip_suffix(".zip"))
        .or_else(|| filename.strip_suffix(".whl"))
        .unwrap_or(filename);
    stem.split('-').nth(1)
}

/// Who can publish the project, from a project JSON API answer.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Maintainers {
    /// `ownership.organization`: the PyPI organisation owning the project.
    pub organization: Option<String>,
    /// `ownership.roles`: `role:user`, owners first.
    pub roles: Vec<String>,
    /// `info.author` (metadata, not verified).
    pub author: Option<String>,
    /// `info.maintainer` (metadata, not verified).
    pub maintainer: Option<String>,
}

impl Maintainers {
    /// The seed guide's Evaluation signal: one verified maintainer and no
    /// organisation. `None` when the index gives no ownership data.
    pub fn single_unorganised(&self) -> Option<bool> {
        if self.roles.is_empty() && self.organization.is_none() {
            return None;
        }
        Some(self.organization.is_none() && self.roles.len() == 1)
    }
}

#[derive(Debug, Deserialize)]
struct ProjectJson {
    #[serde(default)]
    info: Info,
    ownership: Option<Ownership>,
}

#[derive(Debug, Default, Deserialize)]
struct Info {
    author: Option<String>,
    maintainer: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Ownership {
    organization: Option<String>,
    #[serde(default)]
    roles: Vec<Role>,
}

#[derive(Debug, Deserialize)]
struct Role {
    #[serde(default)]
    role: String,
    #[serde(default)]
    user: String,
}

/// Parses a project JSON API answer.
pub fn parse_project_json(body: &str) -> Result<Maintainers, serde_json::Error> {
    let p: ProjectJson = serde_json::from_str(body)?;
    let nonempty = |s: Option<String>| s.filter(|s| !s.trim().is_empty());
    let own = p.ownership;
    Ok(Maintainers {
        organization: own.as_ref().and_then(|o| nonempty(o.organization.clone())),
        roles: own
            .map(|o| {
                o.roles
                    .into_iter()
                    .map(|r| format!("{}:{}", r.role, r.user))
                    .collect()
            })
            .unwrap_or_default(),
        author: nonempty(p.info.author),
        maintainer: nonempty(p.info.maintainer),
    })
}

/// ISO 8601 UTC (`2023-01-02T03:04:05.678Z`, `+00:00` or no zone) to Unix
/// seconds.
pub fn parse_time(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b' ') {
        return None;
    }
    let num = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, se) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 60 {
        return None;
    }
    Some(crate::civil::days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + se)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::civil::date;

    #[test]
    fn times_round_trip() {
        assert_eq!(parse_time("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            parse_time("2022-12-25T10:00:01.123456Z"),
            Some(1_671_962_401)
        );
        assert_eq!(date(1_671_962_401), "2022-12-25");
        assert_eq!(
            parse_time("2024-02-29T00:00:00+00:00").map(date).as_deref(),
            Some("2024-02-29")
        );
        assert_eq!(parse_time("yesterday"), None);
    }

    #[test]
    fn simple_page_with_and_without_pep700() {
        let body = r#"{"meta":{"api-version":"1.1"},"name":"demo","versions":["1.0","1.1"],
          "files":[{"filename":"demo-1.0.tar.gz","url":"x","hashes":{},"upload-time":"2020-01-01T00:00:00Z"},
                   {"filename":"demo-1.1-py3-none-any.whl","url":"x","hashes":{},"yanked":"broken","upload-time":"2021-06-01T00:00:00.5Z"}]}"#;
        let r = parse_simple(body).unwrap();
        assert_eq!(r.releases, 2);
        assert_eq!(r.first_upload.map(date).as_deref(), Some("2020-01-01"));
        assert_eq!(r.last_upload.map(date).as_deref(), Some("2021-06-01"));
        assert_eq!((r.yanked_files, r.all_yanked), (1, false));
        let old = r#"{"name":"demo","files":[{"filename":"demo-1.0.tar.gz","yanked":true},{"filename":"demo-1.0-py3-none-any.whl","yanked":true}]}"#;
        let r = parse_simple(old).unwrap();
        assert_eq!((r.releases, r.all_yanked, r.first_upload), (1, true, None));
        assert!(parse_simple("<html>").is_err());
    }

    #[test]
    fn ownership_of_the_project_json() {
        let body = r#"{"info":{"author":"A","maintainer":""},"ownership":{"organization":null,"roles":[{"role":"Owner","user":"solo"}]}}"#;
        let m = parse_project_json(body).unwrap();
        assert_eq!(m.roles, ["Owner:solo"]);
        assert_eq!(
            (m.author.as_deref(), m.maintainer.as_deref()),
            (Some("A"), None)
        );
        assert_eq!(m.single_unorganised(), Some(true));
        let org = r#"{"info":{},"ownership":{"organization":"psf","roles":[{"role":"Owner","user":"a"}]}}"#;
        assert_eq!(
            parse_project_json(org).unwrap().single_unorganised(),
            Some(false)
        );
        let none = r#"{"info":{}}"#;
        assert_eq!(parse_project_json(none).unwrap().single_unorganised(), None);
    }
}
