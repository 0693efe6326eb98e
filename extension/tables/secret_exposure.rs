//! `secret_exposure`: one row per secret found in a process environment or a
//! credential file, with a keyed fingerprint in place of the value.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use crate::host::Host;
use crate::secrets::{scan, Detectors, FingerprintKey, Request};
use crate::settings::Settings;
use crate::table::{Column, QueryContext, Row, Stage, Table, TableError};

const COLUMNS: &[Column] = &[
    Column::text("source", "process_env or file").additional(),
    Column::integer("pid", "Process whose environment holds the secret (or named the file)").index(),
    Column::text("process_name", "Process name from /proc/<pid>/status (comm)"),
    Column::integer("uid", "Process's real uid, or the file's owner"),
    Column::text("path", "/proc/<pid>/environ or the credential file").index(),
    Column::text("variable", "Environment variable, or where in the file ([profile] key, machine, registry)"),
    Column::text("secret_kind", "What the secret is: aws_secret_access_key, huggingface_token, github_pat, ..."),
    Column::text("credential_lifetime", "long_lived, temporary or unknown"),
    Column::text("fingerprint", "HMAC-SHA256 of the value under the fingerprint key, first 16 hex: same secret, same fingerprint"),
    Column::text("fingerprint_scope", "How far fingerprints compare: fleet (--fingerprint-key), host, or run (no key could be kept)"),
    Column::text("mode", "File permission bits in octal, as osquery's file table (0600)"),
    Column::integer("readable_by_others", "1 when group or others can read the file through its directories"),
    Column::text("cmdline", "Command line with secret-looking arguments redacted"),
    Column::bigint("expires", "When the credential expires (Unix seconds), where the format says"),
    Column::text("key_id", "AWS access key id or service-account key id (identifiers, not secrets)"),
    Column::text("detector", "The rule that matched (rules in extension/secrets/detectors.toml)"),
    Column::text("note", "Anything else: credential_process, session token beside a key, truncation"),
    Column::text("status", "ok, or why a process or file could not be examined"),
];

/// The `secret_exposure` table.
pub struct SecretExposure {
    host: Arc<Host>,
    state_dir: PathBuf,
    fleet_key: Option<PathBuf>,
    key: OnceLock<FingerprintKey>,
}

impl SecretExposure {
    /// The table for a host and the process's settings (`state_dir` holds
    /// the per-host fingerprint key; `fingerprint_key` a fleet key). The key
    /// is read or created at the first query, not before.
    pub fn new(host: Arc<Host>, settings: &Settings) -> Self {
        SecretExposure {
            host,
            state_dir: settings.state_dir.clone(),
            fleet_key: settings.fingerprint_key.clone(),
            key: OnceLock::new(),
        }
    }

    fn key(&self) -> &FingerprintKey {
        self.key.get_or_init(|| {
            FingerprintKey::load(self.fleet_key.as_deref(), &self.state_dir, self.host.root())
        })
    }
}

impl Table for SecretExposure {
    fn name(&self) -> &'static str {
        "secret_exposure"
    }

    fn description(&self) -> &'static str {
        "Secrets in process environments and credential files (AWS, Hugging Face, GitHub, PyPI, ...): kind, lifetime, who can read them, and a keyed fingerprint, never the value."
    }

    fn stage(&self) -> Stage {
        Stage::Limit
    }

    fn columns(&self) -> &'static [Column] {
        COLUMNS
    }

    fn generate(&self, ctx: &QueryContext) -> Result<Vec<Row>, TableError> {
        let pids = match ctx.equals("pid") {
            Some(v) => Some(
                v.iter()
                    .map(|p| {
                        p.trim().parse::<u32>().map_err(|_| {
                            TableError::Invalid(format!(
                                "secret_exposure: pid must be a process id, got {:?}",
                                p.chars().take(32).collect::<String>()
                            ))
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()?,
            ),
            None => None,
        };
        let req = Request {
            pids,
            paths: ctx.equals("path"),
            want_cmdline: ctx.is_used("cmdline"),
            env_only: ctx
                .equals("source")
                .is_some_and(|v| v.iter().all(|s| s == "process_env")),
        };
        let key = self.key();
        let report = scan(&self.host, Detectors::builtin(), key, &req);
        log::debug!(
            "secret_exposure: {} processes and {} files examined, {} rows",
            report.processes_scanned,
            report.files_scanned,
            report.exposures.len()
        );
        let scope = key.scope().as_str();
        Ok(report
            .exposures
            .into_iter()
            .map(|x| {
                let mut row = Row::new();
                row.set("source", x.source.as_str())
                    .opt("pid", x.pid.map(|p| p.to_string()))
                    .opt("process_name", x.process_name)
                    .opt("uid", x.uid.map(|u| u.to_string()))
                    .opt("path", x.path)
                    .opt("variable", x.variable)
                    .opt("secret_kind", x.secret_kind.clone())
                    .opt("fingerprint", x.fingerprint)
                    .opt("mode", x.mode.map(|m| format!("{m:04o}")))
                    .opt(
                        "readable_by_others",
                        x.readable_by_others.map(|b| if b { "1" } else { "0" }),
                    )
                    .opt("cmdline", x.cmdline)
                    .opt("expires", x.expires.map(|e| e.to_string()))
                    .opt("key_id", x.key_id)
                    .opt("detector", x.detector)
                    .opt("note", x.note)
                    .set("status", x.status);
                if x.secret_kind.is_some() {
                    row.set("credential_lifetime", x.lifetime.as_str())
                        .set("fingerprint_scope", scope);
                }
                row
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::Operator;

    fn fake_host() -> (tempfile::TempDir, tempfile::TempDir, SecretExposure) {
        let root = tempfile::tempdir().unwrap();
        let state = tempfile::tempdir().unwrap();
        let r = root.path();
        let tok = format!("hf_{}", "Fake".repeat(8) + "Zz");
        for (pid, env) in [
            (100, format!("HF_TOKEN={tok}\0HF_HOME=/data/hf\0")),
            (200, "PATH=/usr/bin\0AWS_REGION=us-east-1\0".to_string()),
        ] {
            let d = r.join(format!("proc/{pid}"));
            std::fs::create_dir_all(&d).unwrap();
            std::fs::write(d.join("environ"), env).unwrap();
            std::fs::write(
                d.join("status"),
                "Name:\tpython3\nUid:\t1000\t1000\t1000\t1000\n",
            )
            .unwrap();
            std::fs::write(d.join("cmdline"), "python3\0-m\0pip\0install\0x\0").unwrap();
        }
        std::fs::create_dir_all(r.join("data/hf")).unwrap();
        std::fs::write(r.join("data/hf/token"), format!("{tok}\n")).unwrap();
        let settings = Settings {
            state_dir: state.path().join("squatch"),
            ..Settings::default()
        };
        let t = SecretExposure::new(Arc::new(Host::new(r)), &settings);
        (root, state, t)
    }

    #[test]
    fn whole_table_and_constraints() {
        let (_r, _s, t) = fake_host();
        let rows = t.generate(&QueryContext::all()).unwrap();
        assert_eq!(rows.len(), 2, "{rows:?}");
        let env = rows
            .iter()
            .find(|r| r.get("source") == Some("process_env"))
            .unwrap();
        let file = rows
            .iter()
            .find(|r| r.get("source") == Some("file"))
            .unwrap();
        assert_eq!(env.get("pid"), Some("100"));
        assert_eq!(env.get("process_name"), Some("python3"));
        assert_eq!(env.get("uid"), Some("1000"));
        assert_eq!(env.get("path"), Some("/proc/100/environ"));
        assert_eq!(env.get("cmdline"), Some("python3 -m pip install x"));
        assert_eq!(env.get("credential_lifetime"), Some("long_lived"));
        assert_eq!(env.get("fingerprint_scope"), Some("host"));
        assert_eq!(file.get("path"), Some("/data/hf/token"));
        assert_eq!(env.get("fingerprint"), file.get("fingerprint"));
        let one = t
            .generate(&QueryContext::all().with("pid", Operator::Equals, "200"))
            .unwrap();
        assert!(one.is_empty());
        let one = t
            .generate(
                &QueryContext::all()
                    .with("pid", Operator::Equals, "100")
                    .using(&["pid", "variable"]),
            )
            .unwrap();
        assert_eq!(one.len(), 1);
        assert_eq!(one[0].get("cmdline"), None);
        let gone = t
            .generate(&QueryContext::all().with("pid", Operator::Equals, "999"))
            .unwrap();
        assert_eq!(gone[0].get("status"), Some("not_found: no such process"));
        assert_eq!(gone[0].get("pid"), Some("999"));
        let f = t
            .generate(&QueryContext::all().with("path", Operator::Equals, "/data/hf/token"))
            .unwrap();
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].get("path"), Some("/data/hf/token"));
        let p = t
            .generate(&QueryContext::all().with("path", Operator::Equals, "/proc/100/environ"))
            .unwrap();
        assert_eq!(p.len(), 1);
        assert!(t
            .generate(&QueryContext::all().with("pid", Operator::Equals, "x; DROP"))
            .is_err());
        // WHERE source = 'process_env' skips the credential files.
        let env = t
            .generate(&QueryContext::all().with("source", Operator::Equals, "process_env"))
            .unwrap();
        assert_eq!(env.len(), 1);
        assert_eq!(env[0].get("source"), Some("process_env"));
    }
}
