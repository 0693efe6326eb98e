//! Parsers for the credential file formats: each turns a file's text into the
//! secrets it holds, as spans or short-lived copies that the file scanner
//! fingerprints and wipes. Parsers are forgiving: junk gives no secret, never
//! a panic.

use std::borrow::Cow;

use base64::Engine;
use serde_json::Value;

use super::lifetime::{parse_timestamp, Lifetime};

/// The kinds of credential file squatch knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// `~/.aws/credentials`.
    AwsCredentials,
    /// `~/.aws/config` (may hold keys too; `credential_process`).
    AwsConfig,
    /// `~/.aws/sso/cache/*.json`.
    AwsSsoCache,
    /// `~/.aws/cli/cache/*.json`.
    AwsCliCache,
    /// `~/.cache/huggingface/token`, `~/.huggingface/token`, `$HF_HOME/token`.
    HfToken,
    /// `~/.cache/huggingface/stored_tokens`.
    HfStoredTokens,
    /// `~/.netrc`.
    Netrc,
    /// `~/.kaggle/kaggle.json`.
    KaggleJson,
    /// `~/.kaggle/access_token`.
    KaggleAccessToken,
    /// Google credentials JSON (ADC, service-account keys).
    GcpJson,
    /// `~/.docker/config.json`.
    DockerConfig,
    /// `~/.pypirc`.
    Pypirc,
    /// `~/.git-credentials`.
    GitCredentials,
    /// `~/.config/gh/hosts.yml`.
    GhHosts,
    /// A `.env` file.
    DotEnv,
    /// A GitHub Actions runner's `.credentials` (OAuth registration).
    GhRunnerCredentials,
    /// A GitHub Actions runner's `.credentials_rsaparams` (its private key).
    GhRunnerRsaParams,
    /// A GitLab Runner `config.toml`.
    GitlabRunnerConfig,
    /// Anything else asked for by path: `.env` lines and secret shapes.
    Generic,
}

impl FileKind {
    /// The kind a path's name says it is.
    pub fn of_path(path: &str) -> FileKind {
        let name = path.rsplit('/').next().unwrap_or(path);
        let has = |s: &str| path.contains(s);
        match name {
            "credentials" if has("/.aws/") => FileKind::AwsCredentials,
            "config" if has("/.aws/") => FileKind::AwsConfig,
            n if n.ends_with(".json") && has("/.aws/sso/cache/") => FileKind::AwsSsoCache,
            n if n.ends_with(".json") && has("/.aws/cli/cache/") => FileKind::AwsCliCache,
            "token" if has("huggingface") || has("/hf/") => FileKind::HfToken,
            "stored_tokens" => FileKind::HfStoredTokens,
            ".netrc" | "_netrc" => FileKind::Netrc,
            "kaggle.json" => FileKind::KaggleJson,
            "access_token" if has("/.kaggle/") => FileKind::KaggleAccessToken,
            "config.json" if has("/.docker/") => FileKind::DockerConfig,
            ".pypirc" => FileKind::Pypirc,
            ".git-credentials" => FileKind::GitCredentials,
            "credentials" if has("/git/") => FileKind::GitCredentials,
            "hosts.yml" if has("/gh/") => FileKind::GhHosts,
            ".credentials" => FileKind::GhRunnerCredentials,
            ".credentials_rsaparams" => FileKind::GhRunnerRsaParams,
            "config.toml" if has("gitlab-runner") => FileKind::GitlabRunnerConfig,
            n if n == ".env" || n.starts_with(".env.") || n.ends_with(".env") => FileKind::DotEnv,
            n if n.ends_with(".json") => FileKind::GcpJson,
            _ => FileKind::Generic,
        }
    }
}

/// One secret in a file. `secret` borrows the file's text where it can; a
/// decoded one is owned and wiped by the caller.
pub struct FileSecret<'t> {
    /// Where in the file (`[default] aws_secret_access_key`): the `variable`
    /// column. Never the value.
    pub label: String,
    /// The secret, or `None` for a row that notes a setting without a value
    /// (`credential_process`).
    pub secret: Option<Cow<'t, str>>,
    /// What it is; `None` lets the value's shape decide (else `kind_default`).
    pub kind: Option<&'static str>,
    /// The kind when no shape matches.
    pub kind_default: &'static str,
    /// The lifetime the format implies.
    pub lifetime: Lifetime,
    /// The format's rule (`detector` column).
    pub detector: &'static str,
    /// Expiry, where the format has one.
    pub expires: Option<i64>,
    /// An AWS key id beside it.
    pub key_id: Option<String>,
    /// A note for the responder.
    pub note: Option<String>,
}

// Never print the secret.
impl std::fmt::Debug for FileSecret<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileSecret")
            .field("label", &self.label)
            .field("kind", &self.kind.unwrap_or(self.kind_default))
            .field("lifetime", &self.lifetime)
            .field("has_secret", &self.secret.is_some())
            .finish()
    }
}

impl<'t> FileSecret<'t> {
    fn new(
        label: impl Into<String>,
        secret: Option<Cow<'t, str>>,
        kind: &'static str,
        detector: &'static str,
    ) -> Self {
        FileSecret {
            label: label.into(),
            secret,
            kind: Some(kind),
            kind_default: kind,
            lifetime: Lifetime::Unknown,
            detector,
            expires: None,
            key_id: None,
            note: None,
        }
    }

    /// Let the value's shape decide the kind (generic passwords).
    fn by_shape(mut self) -> Self {
        self.kind = None;
        self
    }

    fn lifetime(mut self, l: Lifetime) -> Self {
        self.lifetime = l;
        self
    }
}

/// The secrets of a file of the given kind (not `.env`/generic: those go
/// through the environment matcher).
pub fn parse(kind: FileKind, text: &str) -> Vec<FileSecret<'_>> {
    match kind {
        FileKind::AwsCredentials | FileKind::AwsConfig => aws_ini(text),
        FileKind::AwsSsoCache => aws_sso(text),
        FileKind::AwsCliCache => aws_cli(text),
        FileKind::HfToken => whole(
            text,
            "token",
            "huggingface_token",
            "file-huggingface-token",
            Lifetime::LongLived,
        ),
        FileKind::HfStoredTokens => ini(text)
            .into_iter()
            .filter(|(_, k, _)| k == "hf_token")
            .map(|(s, k, v)| {
                FileSecret::new(
                    format!("[{s}] {k}"),
                    Some(Cow::Borrowed(v)),
                    "huggingface_token",
                    "file-huggingface-stored-tokens",
                )
                .lifetime(Lifetime::LongLived)
            })
            .collect(),
        FileKind::Netrc => netrc(text),
        FileKind::KaggleJson => json_fields(
            text,
            &[("key", "kaggle_api_key")],
            "file-kaggle-json",
            Lifetime::LongLived,
        ),
        FileKind::KaggleAccessToken => whole(
            text,
            "access_token",
            "kaggle_access_token",
            "file-kaggle-access-token",
            Lifetime::Unknown,
        ),
        FileKind::GcpJson => gcp(text),
        FileKind::DockerConfig => docker(text),
        FileKind::Pypirc => ini(text)
            .into_iter()
            .filter(|(_, k, _)| k == "password")
            .map(|(s, k, v)| {
                FileSecret::new(
                    format!("[{s}] {k}"),
                    Some(Cow::Borrowed(v)),
                    "pypi_password",
                    "file-pypirc",
                )
                .by_shape()
            })
            .collect(),
        FileKind::GitCredentials => git_credentials(text),
        FileKind::GhHosts => gh_hosts(text),
        FileKind::GhRunnerCredentials => {
            let v: Option<Value> = serde_json::from_str(text).ok();
            if v.as_ref().and_then(|v| v.get("scheme")).is_some() {
                let mut s = FileSecret::new(
                    "runner registration",
                    None,
                    "github_runner_credentials",
                    "file-github-runner",
                );
                s.note = Some(
                    "runner OAuth registration; its private key is in .credentials_rsaparams"
                        .into(),
                );
                vec![s.lifetime(Lifetime::LongLived)]
            } else {
                Vec::new()
            }
        }
        FileKind::GhRunnerRsaParams => whole(
            text,
            "RSA parameters",
            "github_runner_key",
            "file-github-runner",
            Lifetime::LongLived,
        ),
        FileKind::GitlabRunnerConfig => gitlab_runner(text),
        FileKind::DotEnv | FileKind::Generic => Vec::new(),
    }
}

fn whole<'t>(
    text: &'t str,
    label: &str,
    kind: &'static str,
    detector: &'static str,
    l: Lifetime,
) -> Vec<FileSecret<'t>> {
    let t = text.trim();
    if t.is_empty() {
        return Vec::new();
    }
    vec![FileSecret::new(label, Some(Cow::Borrowed(t)), kind, detector).lifetime(l)]
}

/// `(section, key, value)` triples of an INI text (`key = value` or
/// `key: value`; `#`/`;` comments). Keys are lower-cased.
pub fn ini(text: &str) -> Vec<(String, String, &str)> {
    let mut out = Vec::new();
    let mut section = String::new();
    for line in text.lines() {
        let l = line.trim();
        if l.is_empty() || l.starts_with('#') || l.starts_with(';') {
            continue;
        }
        if l.starts_with('[') && l.ends_with(']') {
            section = l[1..l.len() - 1].trim().to_string();
            continue;
        }
        let sep = match (l.find('='), l.find(':')) {
            (Some(a), Some(b)) => a.min(b),
            (Some(a), None) | (None, Some(a)) => a,
            (None, None) => continue,
        };
        let k = l[..sep].trim().to_ascii_lowercase();
        let v = l[sep + 1..].trim();
        if !k.is_empty() && !v.is_empty() {
            out.push((section.clone(), k, v));
        }
    }
    out
}

/// `~/.aws/credentials` and `config`: one secret per profile that has a
/// secret key (key id, session token and lifetime beside it), and a note
/// row per `credential_process`.
fn aws_ini(text: &str) -> Vec<FileSecret<'_>> {
    let pairs = ini(text);
    let mut sections: Vec<String> = Vec::new();
    for (s, _, _) in &pairs {
        if !sections.contains(s) {
            sections.push(s.clone());
        }
    }
    let mut out = Vec::new();
    for s in sections {
        let get = |k: &str| {
            pairs
                .iter()
                .find(|(ps, pk, _)| *ps == s && pk == k)
                .map(|(_, _, v)| *v)
        };
        let id = get("aws_access_key_id");
        let session = get("aws_session_token").or_else(|| get("aws_security_token"));
        if let Some(secret) = get("aws_secret_access_key") {
            let mut f = FileSecret::new(
                format!("[{s}] aws_secret_access_key"),
                Some(Cow::Borrowed(secret)),
                "aws_secret_access_key",
                "file-aws-credentials",
            )
            .lifetime(super::lifetime::aws_pair(id, session.is_some()));
            f.key_id = id.filter(|i| is_key_id(i)).map(str::to_string);
            if session.is_some() {
                f.note = Some("with a session token".into());
            }
            f.expires = get("aws_expiration")
                .or_else(|| get("x_security_token_expires"))
                .and_then(parse_timestamp);
            out.push(f);
        }
        if get("credential_process").is_some() {
            let mut f = FileSecret::new(
                format!("[{s}] credential_process"),
                None,
                "aws_credential_process",
                "file-aws-credentials",
            );
            f.note = Some("credential_process: credentials come from a command at each use".into());
            out.push(f);
        }
    }
    out
}

fn is_key_id(s: &str) -> bool {
    s.len() == 20 && s.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// `~/.aws/sso/cache/*.json`: the SSO access token (and refresh token or
/// client secret), all temporary, with `expiresAt`.
fn aws_sso(text: &str) -> Vec<FileSecret<'_>> {
    let Ok(v) = serde_json::from_str::<Value>(text) else {
        return Vec::new();
    };
    let expires = v
        .get("expiresAt")
        .and_then(Value::as_str)
        .and_then(parse_timestamp);
    let mut out = Vec::new();
    for (field, kind) in [
        ("accessToken", "aws_sso_access_token"),
        ("refreshToken", "aws_sso_refresh_token"),
        ("clientSecret", "aws_sso_client_secret"),
    ] {
        if let Some(s) = v
            .get(field)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
        {
            let mut f = FileSecret::new(
                field,
                Some(Cow::Owned(s.to_string())),
                kind,
                "file-aws-sso-cache",
            )
            .lifetime(Lifetime::Temporary);
            f.expires = expires;
            out.push(f);
        }
    }
    out
}

/// `~/.aws/cli/cache/*.json`: STS credentials with their expiration.
fn aws_cli(text: &str) -> Vec<FileSecret<'_>> {
    let Ok(v) = serde_json::from_str::<Value>(text) else {
        return Vec::new();
    };
    let Some(c) = v.get("Credentials") else {
        return Vec::new();
    };
    let Some(secret) = c.get("SecretAccessKey").and_then(Value::as_str) else {
        return Vec::new();
    };
    let mut f = FileSecret::new(
        "Credentials.SecretAccessKey",
        Some(Cow::Owned(secret.to_string())),
        "aws_secret_access_key",
        "file-aws-cli-cache",
    )
    .lifetime(Lifetime::Temporary);
    f.key_id = c
        .get("AccessKeyId")
        .and_then(Value::as_str)
        .filter(|i| is_key_id(i))
        .map(str::to_string);
    f.expires = c
        .get("Expiration")
        .and_then(Value::as_str)
        .and_then(parse_timestamp);
    vec![f]
}

/// `~/.netrc`: one secret per `password`, named by its machine; a
/// `machine api.wandb.ai` password is a W&B API key.
fn netrc(text: &str) -> Vec<FileSecret<'_>> {
    let mut out = Vec::new();
    let mut machine = String::from("default");
    let mut tokens = text.split_whitespace();
    while let Some(t) = tokens.next() {
        match t {
            "machine" => machine = tokens.next().unwrap_or("").to_string(),
            "default" => machine = "default".into(),
            "macdef" => break, // a macro runs to the end here; nothing after it is read
            "password" => {
                if let Some(p) = tokens.next() {
                    let wandb = machine.contains("wandb");
                    let mut f = FileSecret::new(
                        format!("machine {machine} password"),
                        Some(Cow::Borrowed(p)),
                        if wandb {
                            "wandb_api_key"
                        } else {
                            "netrc_password"
                        },
                        "file-netrc",
                    );
                    if wandb {
                        f = f.lifetime(Lifetime::LongLived);
                    } else {
                        f = f.by_shape();
                    }
                    out.push(f);
                }
            }
            _ => {}
        }
    }
    out
}

fn json_fields<'t>(
    text: &'t str,
    fields: &[(&str, &'static str)],
    detector: &'static str,
    l: Lifetime,
) -> Vec<FileSecret<'t>> {
    let Ok(v) = serde_json::from_str::<Value>(text) else {
        return Vec::new();
    };
    fields
        .iter()
        .filter_map(|(f, kind)| {
            let s = v.get(*f)?.as_str()?;
            (!s.is_empty()).then(|| {
                FileSecret::new(*f, Some(Cow::Owned(s.to_string())), kind, detector).lifetime(l)
            })
        })
        .collect()
}

/// Google credentials JSON: a service-account key (`private_key`, its id
/// shown as `key_id`) or an authorized user's `refresh_token`.
fn gcp(text: &str) -> Vec<FileSecret<'_>> {
    let Ok(v) = serde_json::from_str::<Value>(text) else {
        return Vec::new();
    };
    let s = |k: &str| v.get(k).and_then(Value::as_str).filter(|s| !s.is_empty());
    match s("type") {
        Some("service_account") => {
            let Some(pk) = s("private_key") else {
                return Vec::new();
            };
            let mut f = FileSecret::new(
                "private_key",
                Some(Cow::Owned(pk.to_string())),
                "gcp_service_account_key",
                "file-gcp-credentials",
            )
            .lifetime(Lifetime::LongLived);
            f.key_id = s("private_key_id")
                .filter(|i| i.len() <= 64 && i.bytes().all(|b| b.is_ascii_hexdigit()))
                .map(str::to_string);
            f.note = s("client_email")
                .filter(|e| e.len() < 200 && e.contains('@') && !e.contains(char::is_whitespace))
                .map(|e| format!("service account {e}"));
            vec![f]
        }
        Some("authorized_user") => s("refresh_token")
            .map(|t| {
                vec![FileSecret::new(
                    "refresh_token",
                    Some(Cow::Owned(t.to_string())),
                    "gcp_refresh_token",
                    "file-gcp-credentials",
                )
                .lifetime(Lifetime::LongLived)]
            })
            .unwrap_or_default(),
        _ => Vec::new(),
    }
}

/// `~/.docker/config.json`: the password half of each registry's `auth`
/// (base64 `user:password`), and `identitytoken`s.
fn docker(text: &str) -> Vec<FileSecret<'_>> {
    let Ok(v) = serde_json::from_str::<Value>(text) else {
        return Vec::new();
    };
    let Some(auths) = v.get("auths").and_then(Value::as_object) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (registry, entry) in auths {
        let registry = super::url::redact_url(registry);
        if let Some(a) = entry.get("auth").and_then(Value::as_str) {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(a.trim())
                .ok()
                .and_then(|b| String::from_utf8(b).ok());
            if let Some(mut d) = decoded {
                if let Some(i) = d.find(':') {
                    let pass = d[i + 1..].to_string();
                    if !pass.is_empty() {
                        out.push(
                            FileSecret::new(
                                format!("auths {registry} auth"),
                                Some(Cow::Owned(pass)),
                                "docker_registry_password",
                                "file-docker-config",
                            )
                            .by_shape(),
                        );
                    }
                }
                let mut b = std::mem::take(&mut d).into_bytes();
                super::wipe(&mut b);
            }
        }
        if let Some(t) = entry
            .get("identitytoken")
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
        {
            out.push(FileSecret::new(
                format!("auths {registry} identitytoken"),
                Some(Cow::Owned(t.to_string())),
                "docker_identity_token",
                "file-docker-config",
            ));
        }
    }
    out
}

/// `~/.git-credentials`: one `https://user:token@host` per line.
fn git_credentials(text: &str) -> Vec<FileSecret<'_>> {
    let mut out = Vec::new();
    for line in text.lines() {
        let l = line.trim();
        let Some(scheme_end) = l.find("://") else {
            continue;
        };
        let rest = &l[scheme_end + 3..];
        let auth_end = rest.find('/').unwrap_or(rest.len());
        let Some(at) = rest[..auth_end].rfind('@') else {
            continue;
        };
        let userinfo = &rest[..at];
        let host = &rest[at + 1..auth_end];
        let secret = match userinfo.split_once(':') {
            Some((_, p)) => p,
            None => userinfo,
        };
        if secret.is_empty() {
            continue;
        }
        out.push(
            FileSecret::new(
                format!("{}{}", &l[..scheme_end + 3], host),
                Some(Cow::Borrowed(secret)),
                "git_credential",
                "file-git-credentials",
            )
            .by_shape(),
        );
    }
    out
}

/// `~/.config/gh/hosts.yml`: `oauth_token:` under each host (older gh
/// versions; newer ones keep it in the system keyring).
fn gh_hosts(text: &str) -> Vec<FileSecret<'_>> {
    let mut out = Vec::new();
    let mut host = String::new();
    for line in text.lines() {
        if !line.starts_with([' ', '\t', '#']) {
            if let Some(h) = line.trim_end().strip_suffix(':') {
                host = h.trim().to_string();
            }
            continue;
        }
        let l = line.trim();
        if let Some(v) = l.strip_prefix("oauth_token:") {
            let v = v.trim().trim_matches(['"', '\'']);
            if !v.is_empty() {
                out.push(
                    FileSecret::new(
                        format!("{host} oauth_token"),
                        Some(Cow::Borrowed(v)),
                        "github_oauth_token",
                        "file-gh-hosts",
                    )
                    .lifetime(Lifetime::LongLived)
                    .by_shape(),
                );
            }
        }
    }
    out
}

/// GitLab Runner `config.toml`: each runner's `token` and S3 cache keys.
fn gitlab_runner(text: &str) -> Vec<FileSecret<'_>> {
    let mut out = Vec::new();
    let mut runner = String::new();
    for line in text.lines() {
        let l = line.trim();
        let Some((k, v)) = l.split_once('=') else {
            continue;
        };
        let k = k.trim();
        let v = v.trim().trim_matches('"');
        if v.is_empty() {
            continue;
        }
        match k {
            "name" => runner = v.to_string(),
            "token" => out.push(
                FileSecret::new(
                    format!("runner {runner} token"),
                    Some(Cow::Borrowed(v)),
                    "gitlab_runner_token",
                    "file-gitlab-runner",
                )
                .lifetime(Lifetime::LongLived),
            ),
            "SecretKey" => out.push(FileSecret::new(
                format!("runner {runner} cache SecretKey"),
                Some(Cow::Borrowed(v)),
                "s3_secret_key",
                "file-gitlab-runner",
            )),
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn akia() -> String {
        format!("AK{}", "IAFAKEFAKEFAKE2345")
    }

    fn labels(v: &[FileSecret<'_>]) -> Vec<String> {
        v.iter().map(|f| f.label.clone()).collect()
    }

    #[test]
    fn kinds_by_path() {
        for (p, k) in [
            ("/home/a/.aws/credentials", FileKind::AwsCredentials),
            ("/home/a/.aws/config", FileKind::AwsConfig),
            ("/home/a/.aws/sso/cache/x.json", FileKind::AwsSsoCache),
            ("/home/a/.aws/cli/cache/y.json", FileKind::AwsCliCache),
            ("/home/a/.cache/huggingface/token", FileKind::HfToken),
            (
                "/home/a/.cache/huggingface/stored_tokens",
                FileKind::HfStoredTokens,
            ),
            ("/home/a/.netrc", FileKind::Netrc),
            ("/home/a/.kaggle/kaggle.json", FileKind::KaggleJson),
            (
                "/home/a/.config/gcloud/application_default_credentials.json",
                FileKind::GcpJson,
            ),
            ("/home/a/.docker/config.json", FileKind::DockerConfig),
            ("/home/a/.pypirc", FileKind::Pypirc),
            ("/home/a/.git-credentials", FileKind::GitCredentials),
            ("/home/a/.config/gh/hosts.yml", FileKind::GhHosts),
            ("/home/a/proj/.env", FileKind::DotEnv),
            (
                "/opt/actions-runner/.credentials_rsaparams",
                FileKind::GhRunnerRsaParams,
            ),
            (
                "/etc/gitlab-runner/config.toml",
                FileKind::GitlabRunnerConfig,
            ),
            ("/etc/hosts", FileKind::Generic),
        ] {
            assert_eq!(FileKind::of_path(p), k, "{p}");
        }
    }

    #[test]
    fn aws_profiles() {
        let (id, tid) = (akia(), format!("AS{}", "IAFAKEFAKEFAKE2345"));
        let t = format!("[default]\naws_access_key_id = {id}\naws_secret_access_key = FakeSecret\n[tmp]\naws_access_key_id={tid}\naws_secret_access_key=FakeSecret2\naws_session_token=FakeToken\n[profile sso]\ncredential_process = /usr/bin/helper\n[profile idonly]\naws_access_key_id = {id}\n");
        let v = aws_ini(&t);
        assert_eq!(
            labels(&v),
            vec![
                "[default] aws_secret_access_key",
                "[tmp] aws_secret_access_key",
                "[profile sso] credential_process"
            ]
        );
        assert_eq!(v[0].lifetime, Lifetime::LongLived);
        assert_eq!(v[0].key_id.as_deref(), Some(id.as_str()));
        assert_eq!(v[1].lifetime, Lifetime::Temporary);
        assert!(v[2].secret.is_none());
    }

    #[test]
    fn sso_and_cli_caches_expire() {
        let v = aws_sso(
            r#"{"accessToken":"FakeAccess","expiresAt":"2024-05-01T12:00:00Z","region":"us-east-1"}"#,
        );
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].expires, Some(1_714_564_800));
        assert_eq!(v[0].lifetime, Lifetime::Temporary);
        let tid = format!("AS{}", "IAFAKEFAKEFAKE2345");
        let t = format!(
            r#"{{"Credentials":{{"AccessKeyId":"{tid}","SecretAccessKey":"FakeS","SessionToken":"FakeT","Expiration":"2024-05-01T12:00:00+00:00"}}}}"#
        );
        let v = aws_cli(&t);
        assert_eq!(v[0].key_id.as_deref(), Some(tid.as_str()));
        assert_eq!(v[0].expires, Some(1_714_564_800));
        assert!(aws_sso("{not json").is_empty());
        assert!(aws_cli("{}").is_empty());
    }

    #[test]
    fn netrc_machines() {
        let v = netrc("machine api.wandb.ai\n  login user\n  password FakeWandbKey\nmachine git.example.invalid login x password FakeGit\nmacdef init\npassword ignored\n");
        assert_eq!(
            labels(&v),
            vec![
                "machine api.wandb.ai password",
                "machine git.example.invalid password"
            ]
        );
        assert_eq!(v[0].kind, Some("wandb_api_key"));
        assert_eq!(v[1].kind, None);
    }

    #[test]
    fn docker_auth_is_decoded_and_split() {
        let auth = base64::engine::general_purpose::STANDARD.encode("bob:FakeRegistryPass");
        let t = format!(
            r#"{{"auths":{{"registry.example.invalid":{{"auth":"{auth}"}},"other.invalid":{{}}}},"credsStore":"desktop"}}"#
        );
        let v = docker(&t);
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].secret.as_deref(), Some("FakeRegistryPass"));
        assert_eq!(v[0].label, "auths registry.example.invalid auth");
        assert!(docker(r#"{"auths":{"x":{"auth":"!!notbase64"}}}"#).is_empty());
    }

    #[test]
    fn gcp_kinds() {
        let sa = r#"{"type":"service_account","private_key_id":"0123abcd","private_key":"-----BEGIN PRIVATE KEY-----\nFAKE\n-----END PRIVATE KEY-----\n","client_email":"x@p.iam.gserviceaccount.com"}"#;
        let v = gcp(sa);
        assert_eq!(v[0].kind, Some("gcp_service_account_key"));
        assert_eq!(v[0].key_id.as_deref(), Some("0123abcd"));
        let au = r#"{"type":"authorized_user","client_id":"x.apps.googleusercontent.com","client_secret":"public","refresh_token":"FakeRefresh"}"#;
        assert_eq!(gcp(au)[0].kind, Some("gcp_refresh_token"));
        assert!(gcp(r#"{"type":"external_account"}"#).is_empty());
        assert!(gcp(r#"{"name":"package.json"}"#).is_empty());
    }

    #[test]
    fn small_formats() {
        assert_eq!(
            git_credentials("https://bob:FakeTok@github.com\nnot a url\nhttps://github.com\n")
                .len(),
            1
        );
        assert_eq!(
            git_credentials("https://bob:FakeTok@github.com/x\n")[0].label,
            "https://github.com"
        );
        let v = gh_hosts(
            "github.com:\n    user: bob\n    oauth_token: FakeGh\n    git_protocol: https\n",
        );
        assert_eq!(v[0].label, "github.com oauth_token");
        let v = gitlab_runner("[[runners]]\n  name = \"r1\"\n  token = \"FakeRunnerTok\"\n  [runners.cache.s3]\n    SecretKey = \"FakeS3\"\n");
        assert_eq!(
            labels(&v),
            vec!["runner r1 token", "runner r1 cache SecretKey"]
        );
        let v = parse(FileKind::Pypirc, "[pypi]\nusername = __token__\npassword = FakePypi\n[testpypi]\nrepository: https://test.pypi.org/legacy/\n");
        assert_eq!(labels(&v), vec!["[pypi] password"]);
        assert!(parse(FileKind::HfToken, "\n  \n").is_empty());
        assert_eq!(
            parse(
                FileKind::KaggleJson,
                r#"{"username":"u","key":"FakeKaggle"}"#
            )
            .len(),
            1
        );
        assert_eq!(
            parse(FileKind::HfStoredTokens, "[work]\nhf_token = FakeHf\n").len(),
            1
        );
        assert_eq!(
            parse(
                FileKind::GhRunnerCredentials,
                r#"{"scheme":"OAuth","data":{}}"#
            )
            .len(),
            1
        );
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let v = whole("FakeSecretValue", "t", "k", "d", Lifetime::Unknown);
        assert!(!format!("{v:?}").contains("FakeSecretValue"));
    }
}
