//! Fake-host builders for secret exposure: processes with environments and
//! every kind of credential file, each beside a benign look-alike.
//!
//! The secrets are fake but have the real shapes. They are built at run time
//! from pieces (a fixed `Fake`/`FAKE` marker and a seeded pseudo-random
//! tail), so no literal that a leak scanner would flag (AKIA + 16, hf_ + 34,
//! ...) sits in the source. Every planted value is returned in
//! [`Planted::values`] for leak checks; AWS key *ids* are identifiers that
//! squatch may show, and are listed apart in [`Planted::identifiers`].
//!
//! ```ignore
//! let fh = FakeHost::new();
//! let seed = common::secrets::plant_seed_attack(&fh);     // fires
//! let twin = common::secrets::plant_seed_benign(&fh2);    // stays silent
//! ```
#![allow(dead_code)]

use std::path::Path;

use base64::Engine;

use super::FakeHost;

/// A deterministic pseudo-random string over `alphabet`, starting with
/// `marker` (so a human sees it is fake), `len` characters in all.
pub fn fake(marker: &str, alphabet: &str, len: usize, seed: u64) -> String {
    let a: Vec<char> = alphabet.chars().collect();
    let mut s: String = marker.chars().take(len).collect();
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    while s.chars().count() < len {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        s.push(a[((x >> 33) % a.len() as u64) as usize]);
    }
    s
}

const UPPER_DIGITS: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const ALNUM: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const B64: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const HEX: &str = "0123456789abcdef";
const LETTERS: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// A fake long-lived AWS key id (`AKIA` + 16).
pub fn aws_key_id(seed: u64) -> String {
    format!(
        "{}{}",
        "AK".to_owned() + "IA",
        fake("FAKE", UPPER_DIGITS, 16, seed)
    )
}

/// A fake temporary AWS key id (`ASIA` + 16).
pub fn aws_temp_key_id(seed: u64) -> String {
    format!(
        "{}{}",
        "AS".to_owned() + "IA",
        fake("FAKE", UPPER_DIGITS, 16, seed)
    )
}

/// A fake AWS secret access key (40 base64 characters).
pub fn aws_secret(seed: u64) -> String {
    fake("Fake", B64, 40, seed)
}

/// A fake Hugging Face token (`hf_` + 34 letters).
pub fn hf_token(seed: u64) -> String {
    format!(
        "{}{}",
        "hf".to_owned() + "_",
        fake("Fake", LETTERS, 34, seed)
    )
}

/// A fake classic GitHub PAT (`ghp_` + 36).
pub fn github_pat(seed: u64) -> String {
    format!(
        "{}{}",
        "ghp".to_owned() + "_",
        fake("Fake", ALNUM, 36, seed)
    )
}

/// A fake GitHub App installation token (`ghs_` + 36), as Actions' GITHUB_TOKEN.
pub fn github_app_token(seed: u64) -> String {
    format!(
        "{}{}",
        "ghs".to_owned() + "_",
        fake("Fake", ALNUM, 36, seed)
    )
}

/// A fake GitHub OAuth token (`gho_` + 36), as `gh auth login` stores.
pub fn github_oauth(seed: u64) -> String {
    format!(
        "{}{}",
        "gho".to_owned() + "_",
        fake("Fake", ALNUM, 36, seed)
    )
}

/// A fake OpenAI project key (`sk-proj-` ... `T3BlbkFJ` ...).
pub fn openai_key(seed: u64) -> String {
    format!(
        "sk-{}-{}{}{}",
        "proj",
        fake("Fake", ALNUM, 58, seed),
        "T3Blbk".to_owned() + "FJ",
        fake("Fake", ALNUM, 58, seed + 1)
    )
}

/// A fake Anthropic key (`sk-ant-api03-` + 93 + `AA`).
pub fn anthropic_key(seed: u64) -> String {
    format!(
        "sk-{}-{}{}",
        "ant".to_owned() + "-api03",
        fake("Fake", ALNUM, 93, seed),
        "AA"
    )
}

/// A fake PyPI upload token.
pub fn pypi_token(seed: u64) -> String {
    format!(
        "{}{}",
        "pypi-AgEIcHlwaS5v".to_owned() + "cmc",
        fake("Fake", ALNUM, 80, seed)
    )
}

/// A fake GitLab runner token (`glrt-` + 20).
pub fn gitlab_runner_token(seed: u64) -> String {
    format!(
        "{}{}",
        "glrt".to_owned() + "-",
        fake("Fake", ALNUM, 20, seed)
    )
}

/// A fake JWT (three base64url parts, `eyJ` headers).
pub fn jwt(seed: u64) -> String {
    format!(
        "{}{}.{}{}.{}",
        "ey".to_owned() + "J",
        fake("Fake", ALNUM, 30, seed),
        "ey".to_owned() + "J",
        fake("Fake", ALNUM, 60, seed + 1),
        fake("Fake", ALNUM, 43, seed + 2)
    )
}

/// A fake opaque secret (no known shape): what a name rule must find.
pub fn opaque(seed: u64, len: usize) -> String {
    fake("Fake", ALNUM, len, seed)
}

/// A fake 40-hex W&B key.
pub fn wandb_key(seed: u64) -> String {
    fake("fa4e", HEX, 40, seed)
}

/// A fake PEM private key block.
pub fn private_key_pem(seed: u64) -> String {
    format!(
        "-----BEGIN {k}-----\n{}\n{}\n-----END {k}-----\n",
        fake("FAKE", B64, 64, seed),
        fake("FAKE", B64, 64, seed + 1),
        k = "PRIVATE".to_owned() + " KEY"
    )
}

/// The AWS documentation's example key id (must stay silent).
pub fn aws_doc_example_id() -> String {
    "AKIA".to_owned() + "IOSFODNN7EXAMPLE"
}

/// The AWS documentation's example secret (must stay silent).
pub fn aws_doc_example_secret() -> String {
    "wJalrXUtnFEMI/K7MDENG/".to_owned() + "bPxRfiCYEXAMPLEKEY"
}

/// One row the table must produce.
#[derive(Debug, Clone)]
pub struct Expected {
    /// `path` column.
    pub path: String,
    /// `variable` column.
    pub variable: String,
    /// `secret_kind` column.
    pub secret_kind: &'static str,
    /// `credential_lifetime` column.
    pub lifetime: &'static str,
    /// The value whose fingerprint the row must carry (`None`: no
    /// fingerprint, e.g. a `credential_process` note).
    pub value: Option<String>,
    /// `pid` column.
    pub pid: Option<u32>,
    /// `readable_by_others` column for files.
    pub readable_by_others: Option<&'static str>,
    /// `key_id` column.
    pub key_id: Option<String>,
}

/// What a planting function laid out.
#[derive(Debug, Default, Clone)]
pub struct Planted {
    /// Every secret value planted (never to be printed).
    pub values: Vec<String>,
    /// Identifiers planted (AWS key ids), which may be shown in `key_id`.
    pub identifiers: Vec<String>,
    /// The rows the secret table must return (and no others, besides status
    /// rows).
    pub expected: Vec<Expected>,
    /// The attack process's pid, when there is one.
    pub pid: Option<u32>,
}

impl Planted {
    fn secret(&mut self, v: &str) -> String {
        self.values.push(v.to_string());
        v.to_string()
    }

    fn expect(
        &mut self,
        path: &str,
        variable: &str,
        kind: &'static str,
        lifetime: &'static str,
        value: Option<&str>,
    ) -> &mut Expected {
        self.expected.push(Expected {
            path: path.to_string(),
            variable: variable.to_string(),
            secret_kind: kind,
            lifetime,
            value: value.map(str::to_string),
            pid: None,
            readable_by_others: None,
            key_id: None,
        });
        self.expected.last_mut().expect("just pushed")
    }

    fn expect_env(
        &mut self,
        pid: u32,
        variable: &str,
        kind: &'static str,
        lifetime: &'static str,
        value: &str,
    ) -> &mut Expected {
        let e = self.expect(
            &format!("/proc/{pid}/environ"),
            variable,
            kind,
            lifetime,
            Some(value),
        );
        e.pid = Some(pid);
        e
    }

    fn expect_file(
        &mut self,
        path: &str,
        variable: &str,
        kind: &'static str,
        lifetime: &'static str,
        value: Option<&str>,
        readable: &'static str,
    ) -> &mut Expected {
        let e = self.expect(path, variable, kind, lifetime, value);
        e.readable_by_others = Some(readable);
        e
    }
}

/// Lays out `/proc/<pid>` with `environ`, `status` (Name, Uid), `cmdline`
/// and `comm`.
pub fn process(fh: &FakeHost, pid: u32, name: &str, uid: u32, argv: &[&str], env: &[(&str, &str)]) {
    let dir = format!("/proc/{pid}");
    let mut environ = Vec::new();
    for (k, v) in env {
        environ.extend_from_slice(k.as_bytes());
        environ.push(b'=');
        environ.extend_from_slice(v.as_bytes());
        environ.push(0);
    }
    fh.write(format!("{dir}/environ"), environ);
    fh.write(
        format!("{dir}/status"),
        format!("Name:\t{name}\nUmask:\t0022\nState:\tS (sleeping)\nPid:\t{pid}\nUid:\t{uid}\t{uid}\t{uid}\t{uid}\nGid:\t{uid}\t{uid}\t{uid}\t{uid}\n"),
    );
    let mut cmd = Vec::new();
    for a in argv {
        cmd.extend_from_slice(a.as_bytes());
        cmd.push(0);
    }
    fh.write(format!("{dir}/cmdline"), cmd);
    fh.write(format!("{dir}/comm"), format!("{name}\n"));
}

const PIP_ARGV: &[&str] = &[
    "/home/alice/ml/.venv/bin/python",
    "-m",
    "pip",
    "install",
    "torch-utilites",
];

/// The seed's attack case: a `pip install` (pid 4242, user alice) with
/// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and `HF_TOKEN` in its
/// environment, and a world-readable `~alice/.aws/credentials` holding the
/// same long-lived key. Writes `/etc/passwd` with alice.
pub fn plant_seed_attack(fh: &FakeHost) -> Planted {
    let mut p = Planted {
        pid: Some(4242),
        ..Planted::default()
    };
    fh.passwd(&[("alice", 1000, "/home/alice")]);
    fh.chmod("/home/alice", 0o755);
    let id = aws_key_id(1);
    p.identifiers.push(id.clone());
    let secret = p.secret(&aws_secret(2));
    let hf = p.secret(&hf_token(3));
    process(
        fh,
        4242,
        "python3",
        1000,
        PIP_ARGV,
        &[
            ("PATH", "/home/alice/ml/.venv/bin:/usr/bin"),
            ("HOME", "/home/alice"),
            ("VIRTUAL_ENV", "/home/alice/ml/.venv"),
            ("AWS_ACCESS_KEY_ID", &id),
            ("AWS_SECRET_ACCESS_KEY", &secret),
            ("AWS_DEFAULT_REGION", "us-east-1"),
            ("HF_TOKEN", &hf),
        ],
    );
    p.expect_env(
        4242,
        "AWS_ACCESS_KEY_ID",
        "aws_access_key_id",
        "long_lived",
        &id,
    )
    .key_id = Some(id.clone());
    p.expect_env(
        4242,
        "AWS_SECRET_ACCESS_KEY",
        "aws_secret_access_key",
        "long_lived",
        &secret,
    )
    .key_id = Some(id.clone());
    p.expect_env(4242, "HF_TOKEN", "huggingface_token", "long_lived", &hf);
    fh.mkdir("/home/alice/.aws");
    fh.chmod("/home/alice/.aws", 0o755);
    fh.write(
        "/home/alice/.aws/credentials",
        format!("[default]\naws_access_key_id = {id}\naws_secret_access_key = {secret}\n"),
    );
    fh.chmod("/home/alice/.aws/credentials", 0o644);
    p.expect_file(
        "/home/alice/.aws/credentials",
        "[default] aws_secret_access_key",
        "aws_secret_access_key",
        "long_lived",
        Some(&secret),
        "1",
    )
    .key_id = Some(id);
    p
}

/// The seed's benign twin: the same `pip install` with only look-alikes in
/// its environment (region, `HF_HOME`, `TOKEN_URL`, a `*_TOKEN_FILE` path,
/// an empty `HF_TOKEN`, the AWS documentation's example key) and an
/// owner-only `~alice/.aws/config` with a region. Nothing may be reported.
pub fn plant_seed_benign(fh: &FakeHost) -> Planted {
    fh.passwd(&[("alice", 1000, "/home/alice")]);
    fh.chmod("/home/alice", 0o755);
    let p = Planted {
        pid: Some(4242),
        identifiers: vec![aws_doc_example_id()],
        values: vec![aws_doc_example_secret()],
        ..Planted::default()
    };
    process(
        fh,
        4242,
        "python3",
        1000,
        PIP_ARGV,
        &[
            ("PATH", "/home/alice/ml/.venv/bin:/usr/bin"),
            ("HOME", "/home/alice"),
            ("AWS_REGION", "us-east-1"),
            ("AWS_DEFAULT_REGION", "us-east-1"),
            ("AWS_ACCESS_KEY_ID", &aws_doc_example_id()),
            ("AWS_SECRET_ACCESS_KEY", &aws_doc_example_secret()),
            ("HF_HOME", "/home/alice/.cache/hf"),
            ("HF_TOKEN", ""),
            ("TOKEN_URL", "https://auth.example.invalid/oauth/token"),
            ("GITHUB_TOKEN_FILE", "/run/secrets/github_token"),
            ("PIP_INDEX_URL", "https://pypi.org/simple"),
        ],
    );
    fh.write(
        "/home/alice/.aws/config",
        "[default]\nregion = us-east-1\noutput = json\n",
    );
    fh.chmod("/home/alice/.aws/config", 0o600);
    p
}

/// Every credential file kind and more processes, each beside a benign
/// look-alike, on top of [`plant_seed_attack`]. Users alice (1000), bob
/// (1001) and runner (1002); a venv with a `.env` beside it; CI runners.
pub fn plant_every_kind(fh: &FakeHost) -> Planted {
    let mut p = plant_seed_attack(fh);
    fh.passwd(&[
        ("alice", 1000, "/home/alice"),
        ("bob", 1001, "/home/bob"),
        ("runner", 1002, "/home/runner"),
    ]);
    for h in ["/home/alice", "/home/bob", "/home/runner"] {
        fh.chmod(h, 0o755);
    }

    // --- processes -------------------------------------------------------
    let gh = p.secret(&github_pat(10));
    let oai = p.secret(&openai_key(11));
    let idx_pw = p.secret(&opaque(12, 20));
    process(
        fh,
        4300,
        "uv",
        1000,
        &["uv", "pip", "install", "-r", "requirements.txt"],
        &[
            ("GITHUB_TOKEN", &gh),
            ("OPENAI_API_KEY", &oai),
            (
                "PIP_INDEX_URL",
                &format!("https://alice:{idx_pw}@pypi.corp.example.invalid/simple"),
            ),
            (
                "PIP_EXTRA_INDEX_URL",
                "https://download.pytorch.org/whl/cu121",
            ),
            ("TOKEN_URL", "https://auth.example.invalid/token"),
            ("GITHUB_TOKEN_FILE", "/run/secrets/gh"),
            ("AWS_REGION", "eu-west-1"),
        ],
    );
    p.expect_env(4300, "GITHUB_TOKEN", "github_pat", "long_lived", &gh);
    p.expect_env(4300, "OPENAI_API_KEY", "openai_api_key", "long_lived", &oai);
    p.expect_env(
        4300,
        "PIP_INDEX_URL",
        "index_url_credentials",
        "unknown",
        &idx_pw,
    );

    let rt = p.secret(&jwt(20));
    let ghs = p.secret(&github_app_token(21));
    let job = p.secret(&opaque(22, 32));
    process(
        fh,
        4400,
        "Runner.Worker",
        1002,
        &[
            "/home/runner/actions-runner/bin/Runner.Worker",
            "spawnclient",
            "107",
            "110",
        ],
        &[
            ("ACTIONS_RUNTIME_TOKEN", &rt),
            ("GITHUB_TOKEN", &ghs),
            ("CI_JOB_TOKEN", &job),
            ("CI", "true"),
            ("RUNNER_TEMP", "/home/runner/work/_temp"),
            (
                "ACTIONS_RUNTIME_URL",
                "https://pipelines.actions.example.invalid/",
            ),
        ],
    );
    p.expect_env(4400, "ACTIONS_RUNTIME_TOKEN", "jwt", "temporary", &rt);
    p.expect_env(4400, "GITHUB_TOKEN", "github_app_token", "temporary", &ghs);
    p.expect_env(
        4400,
        "CI_JOB_TOKEN",
        "gitlab_ci_job_token",
        "temporary",
        &job,
    );

    let tid = aws_temp_key_id(30);
    p.identifiers.push(tid.clone());
    let tsecret = p.secret(&aws_secret(31));
    let tsession = p.secret(&opaque(32, 120));
    let ant = p.secret(&anthropic_key(33));
    let wb = p.secret(&wandb_key(34));
    let kg = p.secret(&fake("fa4e", HEX, 32, 35));
    let az = p.secret(&opaque(36, 34));
    process(
        fh,
        4500,
        "python3",
        1001,
        &["python3", "train.py"],
        &[
            ("AWS_ACCESS_KEY_ID", &tid),
            ("AWS_SECRET_ACCESS_KEY", &tsecret),
            ("AWS_SESSION_TOKEN", &tsession),
            ("ANTHROPIC_API_KEY", &ant),
            ("WANDB_API_KEY", &wb),
            ("KAGGLE_KEY", &kg),
            ("AZURE_CLIENT_SECRET", &az),
            ("GOOGLE_APPLICATION_CREDENTIALS", "/home/bob/keys/sa.json"),
            ("HF_HOME", "/srv/hf"),
            ("WANDB_MODE", "offline"),
        ],
    );
    p.expect_env(
        4500,
        "AWS_ACCESS_KEY_ID",
        "aws_access_key_id",
        "temporary",
        &tid,
    )
    .key_id = Some(tid.clone());
    p.expect_env(
        4500,
        "AWS_SECRET_ACCESS_KEY",
        "aws_secret_access_key",
        "temporary",
        &tsecret,
    )
    .key_id = Some(tid.clone());
    p.expect_env(
        4500,
        "AWS_SESSION_TOKEN",
        "aws_session_token",
        "temporary",
        &tsession,
    );
    p.expect_env(
        4500,
        "ANTHROPIC_API_KEY",
        "anthropic_api_key",
        "long_lived",
        &ant,
    );
    p.expect_env(4500, "WANDB_API_KEY", "wandb_api_key", "long_lived", &wb);
    p.expect_env(4500, "KAGGLE_KEY", "kaggle_api_key", "long_lived", &kg);
    p.expect_env(
        4500,
        "AZURE_CLIENT_SECRET",
        "azure_client_secret",
        "unknown",
        &az,
    );

    // Benign neighbour process: only look-alikes.
    process(
        fh,
        4600,
        "python3",
        1000,
        &["python3", "-m", "http.server"],
        &[
            ("AWS_REGION", "us-east-1"),
            ("HF_HOME", "/data/hf-empty"),
            ("HF_TOKEN", ""),
            ("TOKEN_URL", "https://auth.example.invalid/token"),
            ("HF_TOKEN_FILE", "/run/secrets/hf"),
            ("AWS_ACCESS_KEY_ID", &aws_doc_example_id()),
            ("AWS_SECRET_ACCESS_KEY", &aws_doc_example_secret()),
            ("PIP_INDEX_URL", "https://pypi.org/simple"),
            ("DB_PASSWORD", "changeme"),
            ("SESSION_SECRET", "${SESSION_SECRET}"),
        ],
    );
    // A kernel thread: empty environment.
    process(fh, 2, "kthreadd", 0, &[], &[]);
    // A process whose environ cannot be read as a file.
    fh.mkdir("/proc/4700/environ");

    // --- files -------------------------------------------------------------
    // ~alice/.aws: the seed's credentials plus a temporary profile, a
    // credential_process and the documentation's example; config.
    let t2id = aws_temp_key_id(40);
    p.identifiers.push(t2id.clone());
    let t2 = p.secret(&aws_secret(41));
    let t2s = p.secret(&opaque(42, 80));
    let seed_creds = std::fs::read_to_string(fh.real(Path::new("/home/alice/.aws/credentials")))
        .expect("seed credentials");
    fh.write(
        "/home/alice/.aws/credentials",
        format!(
            "{seed_creds}\n[tmp]\naws_access_key_id={t2id}\naws_secret_access_key={t2}\naws_session_token={t2s}\n\n[docs]\naws_access_key_id = {}\naws_secret_access_key = {}\n",
            aws_doc_example_id(),
            aws_doc_example_secret()
        ),
    );
    p.expect_file(
        "/home/alice/.aws/credentials",
        "[tmp] aws_secret_access_key",
        "aws_secret_access_key",
        "temporary",
        Some(&t2),
        "1",
    )
    .key_id = Some(t2id);
    fh.write(
        "/home/alice/.aws/config",
        "[default]\nregion = us-east-1\n\n[profile build]\ncredential_process = /usr/local/bin/aws-vault export --format=json build\n",
    );
    fh.chmod("/home/alice/.aws/config", 0o600);
    p.expect_file(
        "/home/alice/.aws/config",
        "[profile build] credential_process",
        "aws_credential_process",
        "unknown",
        None,
        "0",
    );

    let sso = p.secret(&opaque(43, 200));
    fh.write(
        "/home/alice/.aws/sso/cache/0123abcd.json",
        format!(r#"{{"startUrl":"https://corp.awsapps.example.invalid/start","region":"us-east-1","accessToken":"{sso}","expiresAt":"2030-01-02T03:04:05Z"}}"#),
    );
    fh.chmod("/home/alice/.aws/sso/cache/0123abcd.json", 0o600);
    fh.write(
        "/home/alice/.aws/sso/cache/ffff0000.json",
        r#"{"startUrl":"https://corp.awsapps.example.invalid/start","region":"us-east-1"}"#,
    );
    p.expect_file(
        "/home/alice/.aws/sso/cache/0123abcd.json",
        "accessToken",
        "aws_sso_access_token",
        "temporary",
        Some(&sso),
        "0",
    );

    let cli_id = aws_temp_key_id(44);
    p.identifiers.push(cli_id.clone());
    let cli = p.secret(&aws_secret(45));
    let cli_s = p.secret(&opaque(46, 90));
    fh.write(
        "/home/alice/.aws/cli/cache/abcd.json",
        format!(r#"{{"Credentials":{{"AccessKeyId":"{cli_id}","SecretAccessKey":"{cli}","SessionToken":"{cli_s}","Expiration":"2030-01-02T03:04:05+00:00"}},"ProviderType":"assumed-role"}}"#),
    );
    fh.chmod("/home/alice/.aws/cli/cache/abcd.json", 0o600);
    fh.write("/home/alice/.aws/cli/cache/empty.json", "{}");
    p.expect_file(
        "/home/alice/.aws/cli/cache/abcd.json",
        "Credentials.SecretAccessKey",
        "aws_secret_access_key",
        "temporary",
        Some(&cli),
        "0",
    )
    .key_id = Some(cli_id);

    // Hugging Face: the same token as the seed's environment in the cache
    // (one fingerprint), a stored token, the old location, $HF_HOME.
    let hf_seed = p.values[1].clone();
    fh.write(
        "/home/alice/.cache/huggingface/token",
        format!("{hf_seed}\n"),
    );
    fh.chmod("/home/alice/.cache/huggingface/token", 0o600);
    p.expect_file(
        "/home/alice/.cache/huggingface/token",
        "token",
        "huggingface_token",
        "long_lived",
        Some(&hf_seed),
        "0",
    );
    let hf2 = p.secret(&hf_token(50));
    fh.write(
        "/home/alice/.cache/huggingface/stored_tokens",
        format!("[work]\nhf_token = {hf2}\n\n[empty]\nnote = none\n"),
    );
    fh.chmod("/home/alice/.cache/huggingface/stored_tokens", 0o600);
    p.expect_file(
        "/home/alice/.cache/huggingface/stored_tokens",
        "[work] hf_token",
        "huggingface_token",
        "long_lived",
        Some(&hf2),
        "0",
    );
    let hf3 = p.secret(&hf_token(51));
    fh.write("/home/bob/.huggingface/token", &hf3);
    fh.chmod("/home/bob/.huggingface/token", 0o644);
    fh.chmod("/home/bob/.huggingface", 0o755);
    p.expect_file(
        "/home/bob/.huggingface/token",
        "token",
        "huggingface_token",
        "long_lived",
        Some(&hf3),
        "1",
    );
    let hf4 = p.secret(&hf_token(52));
    fh.write("/srv/hf/token", &hf4);
    fh.chmod("/srv/hf/token", 0o600);
    p.expect_file(
        "/srv/hf/token",
        "token",
        "huggingface_token",
        "long_lived",
        Some(&hf4),
        "0",
    );
    fh.write("/home/bob/.cache/huggingface/token", "\n");
    fh.mkdir("/data/hf-empty/hub");

    // .netrc: W&B key, and a machine without a password.
    let wb2 = p.secret(&wandb_key(53));
    fh.write(
        "/home/alice/.netrc",
        format!("machine api.wandb.ai\n  login user\n  password {wb2}\nmachine ftp.example.invalid login anonymous\n"),
    );
    fh.chmod("/home/alice/.netrc", 0o600);
    p.expect_file(
        "/home/alice/.netrc",
        "machine api.wandb.ai password",
        "wandb_api_key",
        "long_lived",
        Some(&wb2),
        "0",
    );

    // Kaggle.
    let kg2 = p.secret(&fake("fa4e", HEX, 32, 54));
    fh.write(
        "/home/alice/.kaggle/kaggle.json",
        format!(r#"{{"username":"alice","key":"{kg2}"}}"#),
    );
    fh.chmod("/home/alice/.kaggle/kaggle.json", 0o600);
    p.expect_file(
        "/home/alice/.kaggle/kaggle.json",
        "key",
        "kaggle_api_key",
        "long_lived",
        Some(&kg2),
        "0",
    );
    fh.write(
        "/home/bob/.kaggle/kaggle.json",
        r#"{"username":"bob","key":""}"#,
    );

    // gcloud: authorized user ADC (alice), a service-account key named by a
    // process's GOOGLE_APPLICATION_CREDENTIALS (bob), and an
    // external_account ADC without a secret (bob).
    let rtok = p.secret(&opaque(55, 100));
    fh.write(
        "/home/alice/.config/gcloud/application_default_credentials.json",
        format!(r#"{{"type":"authorized_user","client_id":"1234.apps.googleusercontent.com","client_secret":"public-client","refresh_token":"{rtok}"}}"#),
    );
    fh.chmod(
        "/home/alice/.config/gcloud/application_default_credentials.json",
        0o600,
    );
    p.expect_file(
        "/home/alice/.config/gcloud/application_default_credentials.json",
        "refresh_token",
        "gcp_refresh_token",
        "long_lived",
        Some(&rtok),
        "0",
    );
    fh.write(
        "/home/bob/.config/gcloud/application_default_credentials.json",
        r#"{"type":"external_account","audience":"//iam.googleapis.com/x","subject_token_type":"urn:ietf:params:oauth:token-type:jwt"}"#,
    );
    let pem = p.secret(&private_key_pem(56));
    let sa = serde_json::json!({
        "type": "service_account",
        "project_id": "fake-project",
        "private_key_id": "0123456789abcdef0123456789abcdef01234567",
        "private_key": pem,
        "client_email": "trainer@fake-project.iam.gserviceaccount.com",
    });
    fh.write("/home/bob/keys/sa.json", sa.to_string());
    fh.chmod("/home/bob/keys/sa.json", 0o644);
    fh.chmod("/home/bob/keys", 0o755);
    {
        let e = p.expect_file(
            "/home/bob/keys/sa.json",
            "private_key",
            "gcp_service_account_key",
            "long_lived",
            Some(pem.trim()),
            "1",
        );
        e.pid = Some(4500);
        e.key_id = Some("0123456789abcdef0123456789abcdef01234567".into());
    }

    // Docker: a registry password, and a registry using a credential store.
    let dpw = p.secret(&opaque(57, 24));
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("alice:{dpw}"));
    p.values.push(auth.clone());
    fh.write(
        "/home/alice/.docker/config.json",
        format!(r#"{{"auths":{{"registry.example.invalid":{{"auth":"{auth}"}},"ghcr.io":{{}}}},"credsStore":"desktop"}}"#),
    );
    fh.chmod("/home/alice/.docker/config.json", 0o600);
    p.expect_file(
        "/home/alice/.docker/config.json",
        "auths registry.example.invalid auth",
        "docker_registry_password",
        "unknown",
        Some(&dpw),
        "0",
    );

    // .pypirc: a PyPI token; testpypi without a password.
    let pt = p.secret(&pypi_token(58));
    fh.write(
        "/home/alice/.pypirc",
        format!("[distutils]\nindex-servers =\n    pypi\n    testpypi\n\n[pypi]\nusername = __token__\npassword = {pt}\n\n[testpypi]\nrepository = https://test.pypi.org/legacy/\nusername = __token__\n"),
    );
    fh.chmod("/home/alice/.pypirc", 0o640);
    p.expect_file(
        "/home/alice/.pypirc",
        "[pypi] password",
        "pypi_token",
        "long_lived",
        Some(&pt),
        "1",
    );

    // .git-credentials: a PAT, and a line without one.
    let gh2 = p.secret(&github_pat(59));
    fh.write(
        "/home/alice/.git-credentials",
        format!("https://alice:{gh2}@github.com\nhttps://gitlab.example.invalid\n"),
    );
    fh.chmod("/home/alice/.git-credentials", 0o600);
    p.expect_file(
        "/home/alice/.git-credentials",
        "https://github.com",
        "github_pat",
        "long_lived",
        Some(&gh2),
        "0",
    );

    // gh hosts.yml: a token (alice); settings only (bob).
    let gho = p.secret(&github_oauth(60));
    fh.write(
        "/home/alice/.config/gh/hosts.yml",
        format!("github.com:\n    user: alice\n    oauth_token: {gho}\n    git_protocol: https\n"),
    );
    fh.chmod("/home/alice/.config/gh/hosts.yml", 0o600);
    p.expect_file(
        "/home/alice/.config/gh/hosts.yml",
        "github.com oauth_token",
        "github_oauth_token",
        "long_lived",
        Some(&gho),
        "0",
    );
    fh.write(
        "/home/bob/.config/gh/hosts.yml",
        "github.com:\n    user: bob\n    git_protocol: ssh\n",
    );

    // A project .env beside a venv, with look-alike lines.
    fh.venv("/home/alice/proj/.venv", "3.12", false);
    let dot = p.secret(&anthropic_key(61));
    fh.write(
        "/home/alice/proj/.env",
        format!("# settings\nDEBUG=1\nTOKEN_URL=https://auth.example.invalid/token\nexport ANTHROPIC_API_KEY=\"{dot}\"\nDATABASE_PASSWORD=\nHF_HOME=/data/hf\n"),
    );
    fh.chmod("/home/alice/proj/.env", 0o644);
    fh.chmod("/home/alice/proj", 0o755);
    p.expect_file(
        "/home/alice/proj/.env",
        "ANTHROPIC_API_KEY",
        "anthropic_api_key",
        "long_lived",
        Some(&dot),
        "1",
    );

    // CI runners: GitHub Actions (registration, RSA key, and the .runner
    // settings file that holds no secret) and GitLab Runner.
    fh.write(
        "/home/runner/actions-runner/.credentials",
        r#"{"scheme":"OAuth","data":{"clientId":"00000000-0000-0000-0000-000000000000","authorizationUrl":"https://pipelines.actions.example.invalid/_apis/oauth2/token","requireFipsCryptography":"True"}}"#,
    );
    fh.chmod("/home/runner/actions-runner/.credentials", 0o600);
    p.expect_file(
        "/home/runner/actions-runner/.credentials",
        "runner registration",
        "github_runner_credentials",
        "long_lived",
        None,
        "0",
    );
    let rsa = p.secret(&format!(
        r#"{{"d":"{}","dp":"{}","exponent":"AQAB","modulus":"{}"}}"#,
        fake("Fake", B64, 172, 62),
        fake("Fake", B64, 88, 63),
        fake("Fake", B64, 172, 64)
    ));
    fh.write("/home/runner/actions-runner/.credentials_rsaparams", &rsa);
    fh.chmod("/home/runner/actions-runner/.credentials_rsaparams", 0o600);
    p.expect_file(
        "/home/runner/actions-runner/.credentials_rsaparams",
        "RSA parameters",
        "github_runner_key",
        "long_lived",
        Some(&rsa),
        "0",
    );
    fh.write(
        "/home/runner/actions-runner/.runner",
        r#"{"agentId":7,"agentName":"gpu-1","poolId":1,"serverUrl":"https://pipelines.actions.example.invalid/","workFolder":"_work"}"#,
    );
    let glrt = p.secret(&gitlab_runner_token(65));
    fh.write(
        "/etc/gitlab-runner/config.toml",
        format!("concurrent = 4\ncheck_interval = 0\n\n[[runners]]\n  name = \"gpu-1\"\n  url = \"https://gitlab.example.invalid/\"\n  token = \"{glrt}\"\n  executor = \"docker\"\n"),
    );
    fh.chmod("/etc/gitlab-runner/config.toml", 0o600);
    p.expect_file(
        "/etc/gitlab-runner/config.toml",
        "runner gpu-1 token",
        "gitlab_runner_token",
        "long_lived",
        Some(&glrt),
        "0",
    );
    p
}
