//! `direct_url.json` (PEP 610): where a distribution was installed from when
//! it did not come from an index, with credentials removed.
//!
//! A URL can carry secrets: `https://user:token@host/...`, a bare token in the
//! userinfo (`https://ghp_xxx@github.com/...`), or a token in the query
//! string. [`strip_credentials`] removes them before the URL reaches any
//! field, row or log. The two userinfo forms PEP 610 itself allows to stay
//! (`git@` for ssh, and an environment variable reference `${VAR}`) are kept,
//! since they are not secrets.

use serde_json::Value;

/// Where a distribution's files came from (the `source_kind` column).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceKind {
    /// From a package index (no `direct_url.json`, installed by a tool).
    Index,
    /// From an archive URL or file (`archive_info`).
    Archive,
    /// From a version control checkout (`vcs_info`).
    Vcs,
    /// From a local directory, copied (`dir_info`).
    Directory,
    /// From a local directory, editable (`dir_info.editable`, PEP 660, or a
    /// legacy `.egg-link`).
    Editable,
    /// Nothing says where it came from.
    Unknown,
}

impl SourceKind {
    /// The word used in the `source_kind` column.
    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::Index => "index",
            SourceKind::Archive => "archive",
            SourceKind::Vcs => "vcs",
            SourceKind::Directory => "directory",
            SourceKind::Editable => "editable",
            SourceKind::Unknown => "unknown",
        }
    }
}

impl std::fmt::Display for SourceKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A parsed `direct_url.json`. The URL is already stripped of credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectUrl {
    /// The URL with credentials removed.
    pub url: String,
    /// Archive, VCS, directory or editable.
    pub source_kind: SourceKind,
    /// The VCS (`git`, `hg`, ...) for a VCS install.
    pub vcs: Option<String>,
    /// The exact commit a VCS install used.
    pub commit_id: Option<String>,
    /// The branch/tag/revision asked for.
    pub requested_revision: Option<String>,
    /// `archive_info.hashes` / `hash`, as `algo=digest`.
    pub archive_hash: Option<String>,
    /// `subdirectory`, when the project was in a subdirectory.
    pub subdirectory: Option<String>,
}

/// Why a `direct_url.json` could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DirectUrlError {
    /// Not JSON.
    #[error("direct_url.json is not valid JSON: {0}")]
    Json(String),
    /// JSON, but without a `url` string.
    #[error("direct_url.json has no \"url\" string")]
    NoUrl,
}

impl DirectUrl {
    /// Parses the bytes of a `direct_url.json`.
    pub fn parse(bytes: &[u8]) -> Result<DirectUrl, DirectUrlError> {
        let v: Value =
            serde_json::from_slice(bytes).map_err(|e| DirectUrlError::Json(e.to_string()))?;
        let url = v
            .get("url")
            .and_then(Value::as_str)
            .ok_or(DirectUrlError::NoUrl)?;
        let s = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_string);
        let mut out = DirectUrl {
            url: strip_credentials(url),
            source_kind: SourceKind::Unknown,
            vcs: None,
            commit_id: None,
            requested_revision: None,
            archive_hash: None,
            subdirectory: s(v.get("subdirectory")),
        };
        if let Some(vcs) = v.get("vcs_info") {
            out.source_kind = SourceKind::Vcs;
            out.vcs = s(vcs.get("vcs"));
            out.commit_id = s(vcs.get("commit_id"));
            out.requested_revision = s(vcs.get("requested_revision"));
        } else if let Some(archive) = v.get("archive_info") {
            out.source_kind = SourceKind::Archive;
            out.archive_hash = s(archive.get("hash")).or_else(|| {
                archive
                    .get("hashes")
                    .and_then(Value::as_object)
                    .and_then(|m| m.iter().next())
                    .and_then(|(k, v)| v.as_str().map(|d| format!("{k}={d}")))
            });
        } else if let Some(dir) = v.get("dir_info") {
            let editable = dir
                .get("editable")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            out.source_kind = if editable {
                SourceKind::Editable
            } else {
                SourceKind::Directory
            };
        } else if out.url.starts_with("file:") {
            out.source_kind = SourceKind::Directory;
        }
        Ok(out)
    }
}

/// Removes credentials from a URL: the userinfo (`user:pass@`, or a bare
/// token before `@`) unless it is `git` or a `${VAR}` reference, and any
/// path segment, query or fragment value that holds a secret. The one URL
/// redactor of squatch, [`crate::secrets::url::redact_url`]: every
/// URL-shaped value of every table goes through it.
pub fn strip_credentials(url: &str) -> String {
    crate::secrets::url::redact_url(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_userinfo_and_tokens() {
        assert_eq!(
            strip_credentials("https://alice:FAKEPASSWORD@example.invalid/simple/x.whl"),
            "https://example.invalid/simple/x.whl"
        );
        assert_eq!(
            strip_credentials("git+https://ghp_FAKEEXAMPLETOKEN@github.com/o/r.git"),
            "git+https://github.com/o/r.git"
        );
        assert_eq!(
            strip_credentials("git+ssh://git@github.com/o/r.git"),
            "git+ssh://git@github.com/o/r.git"
        );
        assert_eq!(
            strip_credentials("https://${PIP_USER}@example.invalid/x"),
            "https://${PIP_USER}@example.invalid/x"
        );
        assert_eq!(
            strip_credentials("https://h.invalid/x.tar.gz?X-Amz-Signature=FAKE&v=1#sha256=ab"),
            "https://h.invalid/x.tar.gz?X-Amz-Signature=REDACTED&v=1#sha256=ab"
        );
        assert_eq!(
            strip_credentials("file:///home/a/proj"),
            "file:///home/a/proj"
        );
        // An @ in the path is not userinfo.
        assert_eq!(
            strip_credentials("https://h.invalid/a@b"),
            "https://h.invalid/a@b"
        );
    }

    #[test]
    fn parses_every_pep610_kind() {
        let vcs = DirectUrl::parse(br#"{"url":"https://u:FAKE@h.invalid/r.git","vcs_info":{"vcs":"git","commit_id":"abc","requested_revision":"main"}}"#).unwrap();
        assert_eq!(vcs.source_kind, SourceKind::Vcs);
        assert_eq!(vcs.url, "https://h.invalid/r.git");
        assert_eq!(vcs.commit_id.as_deref(), Some("abc"));
        let arch = DirectUrl::parse(
            br#"{"url":"file:///tmp/x.whl","archive_info":{"hashes":{"sha256":"00"}}}"#,
        )
        .unwrap();
        assert_eq!(arch.source_kind, SourceKind::Archive);
        assert_eq!(arch.archive_hash.as_deref(), Some("sha256=00"));
        let dir = DirectUrl::parse(br#"{"url":"file:///p","dir_info":{}}"#).unwrap();
        assert_eq!(dir.source_kind, SourceKind::Directory);
        let ed = DirectUrl::parse(br#"{"url":"file:///p","dir_info":{"editable":true}}"#).unwrap();
        assert_eq!(ed.source_kind, SourceKind::Editable);
        assert_eq!(DirectUrl::parse(b"{}"), Err(DirectUrlError::NoUrl));
        assert!(matches!(
            DirectUrl::parse(b"\xff\x00"),
            Err(DirectUrlError::Json(_))
        ));
    }
}
