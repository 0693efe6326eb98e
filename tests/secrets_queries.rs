//! The detection queries proposed for the packs, run with `squatch query`
//! on the seed's attack (they fire) and on its benign twin (they stay
//! silent). The packs helper copies them into packs/ with these names.

mod common;

use common::secrets::{plant_every_kind, plant_seed_attack, plant_seed_benign};
use common::FakeHost;

/// Long-lived cloud and ML-platform keys in a process environment (Limit).
pub const LONG_LIVED_CLOUD_KEYS_IN_ENV: &str = "SELECT pid, process_name, uid, variable, secret_kind, key_id, fingerprint FROM secret_exposure WHERE source = 'process_env' AND credential_lifetime = 'long_lived' AND (secret_kind LIKE 'aws_%' OR secret_kind LIKE 'gcp_%' OR secret_kind LIKE 'azure_%' OR secret_kind IN ('huggingface_token', 'openai_api_key', 'anthropic_api_key', 'wandb_api_key', 'replicate_api_token', 'groq_api_key', 'databricks_token'))";

/// Credential files that group or others can read (Limit).
pub const CREDENTIAL_FILES_READABLE_BY_OTHERS: &str = "SELECT path, uid, mode, variable, secret_kind, credential_lifetime, fingerprint FROM secret_exposure WHERE source = 'file' AND secret_kind IS NOT NULL AND readable_by_others = 1";

/// Secrets in the environment of an installer (pip, python -m pip, uv, ...)
/// or a CI runner job: what an install script reads first (Expose).
pub const SECRETS_IN_INSTALLER_OR_CI_ENV: &str = "SELECT pid, process_name, uid, variable, secret_kind, credential_lifetime, cmdline, fingerprint FROM secret_exposure WHERE source = 'process_env' AND secret_kind IS NOT NULL AND (process_name IN ('pip', 'pip3', 'uv', 'uvx', 'poetry', 'pdm', 'pipx', 'conda', 'mamba', 'Runner.Worker', 'Runner.Listener', 'gitlab-runner') OR process_name LIKE 'pip3.%' OR cmdline LIKE '%-m pip %' OR cmdline LIKE '%pip install%' OR cmdline LIKE '%pip3 install%' OR cmdline LIKE 'uv %' OR cmdline LIKE '%/uv %' OR secret_kind IN ('github_actions_token', 'gitlab_ci_job_token'))";

/// One secret in several places (environment and files, several users):
/// rotate it, and ask the fleet where else its fingerprint is (Limit).
pub const SAME_SECRET_IN_SEVERAL_PLACES: &str = "SELECT fingerprint, secret_kind, COUNT(*) AS places, GROUP_CONCAT(COALESCE(path, ''), ' ') AS paths FROM secret_exposure WHERE fingerprint IS NOT NULL GROUP BY fingerprint, secret_kind HAVING COUNT(*) > 1";

fn run(fh: &FakeHost, sql: &str) -> Vec<serde_json::Value> {
    common::query_json(fh.root(), &[], sql)
}

fn col<'a>(rows: &'a [serde_json::Value], c: &str) -> Vec<&'a str> {
    rows.iter().map(|r| r[c].as_str().unwrap_or("")).collect()
}

#[test]
fn queries_fire_on_the_seed_attack_and_not_on_its_twin() {
    let attack = FakeHost::new();
    plant_seed_attack(&attack);
    let twin = FakeHost::new();
    plant_seed_benign(&twin);

    let rows = run(&attack, LONG_LIVED_CLOUD_KEYS_IN_ENV);
    let mut vars = col(&rows, "variable");
    vars.sort();
    assert_eq!(
        vars,
        ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "HF_TOKEN"]
    );
    assert!(col(&rows, "pid").iter().all(|p| *p == "4242"));

    let rows = run(&attack, CREDENTIAL_FILES_READABLE_BY_OTHERS);
    assert_eq!(col(&rows, "path"), ["/home/alice/.aws/credentials"]);
    assert_eq!(col(&rows, "mode"), ["0644"]);

    let rows = run(&attack, SECRETS_IN_INSTALLER_OR_CI_ENV);
    assert_eq!(rows.len(), 3);
    assert!(col(&rows, "cmdline")
        .iter()
        .all(|c| c.ends_with("-m pip install torch-utilites")));

    let rows = run(&attack, SAME_SECRET_IN_SEVERAL_PLACES);
    assert_eq!(col(&rows, "secret_kind"), ["aws_secret_access_key"]);
    assert_eq!(col(&rows, "places"), ["2"]);

    for q in [
        LONG_LIVED_CLOUD_KEYS_IN_ENV,
        CREDENTIAL_FILES_READABLE_BY_OTHERS,
        SECRETS_IN_INSTALLER_OR_CI_ENV,
        SAME_SECRET_IN_SEVERAL_PLACES,
    ] {
        assert!(run(&twin, q).is_empty(), "fired on the benign twin: {q}");
    }
}

#[test]
fn queries_on_the_host_with_every_kind() {
    let fh = FakeHost::new();
    plant_every_kind(&fh);
    let rows = run(&fh, LONG_LIVED_CLOUD_KEYS_IN_ENV);
    let mut got: Vec<String> = rows
        .iter()
        .map(|r| {
            format!(
                "{} {}",
                r["pid"].as_str().unwrap(),
                r["variable"].as_str().unwrap()
            )
        })
        .collect();
    got.sort();
    assert_eq!(
        got,
        [
            "4242 AWS_ACCESS_KEY_ID",
            "4242 AWS_SECRET_ACCESS_KEY",
            "4242 HF_TOKEN",
            "4300 OPENAI_API_KEY",
            "4500 ANTHROPIC_API_KEY",
            "4500 WANDB_API_KEY",
        ]
    );
    let rows = run(&fh, CREDENTIAL_FILES_READABLE_BY_OTHERS);
    let mut paths = col(&rows, "path");
    paths.sort();
    paths.dedup();
    assert_eq!(
        paths,
        [
            "/home/alice/.aws/credentials",
            "/home/alice/.pypirc",
            "/home/alice/proj/.env",
            "/home/bob/.huggingface/token",
            "/home/bob/keys/sa.json",
        ]
    );
    let rows = run(&fh, SECRETS_IN_INSTALLER_OR_CI_ENV);
    let mut pids = col(&rows, "pid");
    pids.sort();
    pids.dedup();
    // pip (4242), uv (4300), the Actions runner job (4400); not the
    // training job (4500) nor the benign server (4600).
    assert_eq!(pids, ["4242", "4300", "4400"]);
}
