//! Benchmark: `secret_exposure` against `detect-secrets` (Yelp, PyPI) on the
//! same 1,000 process environments, measured side by side in one run.
//!
//! Run: `cargo bench --bench secrets` (release build). Knobs (env):
//! `BENCH_PROCS` (1000), `BENCH_REPEAT` (20), `DETECT_SECRETS` (path of the
//! `detect-secrets` executable, e.g. in a venv with `pip install
//! detect-secrets`; default: `detect-secrets` on PATH; `none` to skip it). Without detect-secrets the peer's
//! columns say so and squatch's figures are still printed.
//!
//! The synthetic host: `BENCH_PROCS` processes under `<root>/proc/<pid>`,
//! each with about 3 KB of environment: an ordinary desktop/ML session
//! (PATH, LS_COLORS, XDG, CUDA, conda, systemd's INVOCATION_ID, a git commit
//! hash), the benign look-alikes the issue names (AWS_REGION, HF_HOME,
//! TOKEN_URL, *_TOKEN_FILE, an empty HF_TOKEN, the AWS documentation's example
//! key, a credential-free index URL), and one planted secret kind per process
//! (14 kinds in turn: AWS key pair, Hugging Face, GitHub, OpenAI, Anthropic,
//! PyPI, Slack, GitLab, a CI JWT, an index URL with a password, W&B, a
//! database password, an Entra ID secret, a Google API key). The same
//! environments are written as `<pid>.env` files (`NAME=value` per line) for
//! detect-secrets.
//!
//! Measured:
//! 1. the whole table: `generate` in process (what osqueryd's call costs),
//!    median of `BENCH_REPEAT`, wall and CPU time (CPU time does not grow
//!    when other work shares the cores), and one cold `squatch query`
//!    process;
//!    `detect-secrets scan --all-files` over the 1,000 files (one process);
//! 2. one process: `WHERE pid = N` in process (median over 200 pids) vs
//!    `detect-secrets scan` of one file (process start included, which is
//!    what a per-host run of it costs);
//! 3. detection: planted secrets found (recall) and hits on anything else
//!    (false positives), the look-alike lines counted apart.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use squatch::host::Host;
use squatch::settings::Settings;
use squatch::table::{Operator, QueryContext};

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn pick(&mut self, alphabet: &str, n: usize) -> String {
        let a = alphabet.as_bytes();
        (0..n)
            .map(|_| a[(self.next() % a.len() as u64) as usize] as char)
            .collect()
    }
}

const ALNUM: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const UPPER: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const B64: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const HEX: &str = "0123456789abcdef";
const LETTERS: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// One planted secret: (variable, value). Built from pieces at run time.
fn planted(kind: usize, r: &mut Rng) -> Vec<(String, String)> {
    let v = |n: &str, s: String| vec![(n.to_string(), s)];
    match kind {
        0 => vec![
            (
                "AWS_ACCESS_KEY_ID".into(),
                format!("{}{}", "AK".to_owned() + "IA", r.pick(UPPER, 16)),
            ),
            ("AWS_SECRET_ACCESS_KEY".into(), r.pick(B64, 40)),
        ],
        1 => v(
            "HF_TOKEN",
            format!("{}{}", "hf".to_owned() + "_", r.pick(LETTERS, 34)),
        ),
        2 => v(
            "GITHUB_TOKEN",
            format!("{}{}", "ghp".to_owned() + "_", r.pick(ALNUM, 36)),
        ),
        3 => v(
            "OPENAI_API_KEY",
            format!(
                "sk-proj-{}{}{}",
                r.pick(ALNUM, 58),
                "T3Blbk".to_owned() + "FJ",
                r.pick(ALNUM, 58)
            ),
        ),
        4 => v(
            "ANTHROPIC_API_KEY",
            format!("{}{}AA", "sk-ant".to_owned() + "-api03-", r.pick(ALNUM, 93)),
        ),
        5 => v(
            "PYPI_TOKEN",
            format!(
                "{}{}",
                "pypi-AgEIcHlwaS5v".to_owned() + "cmc",
                r.pick(ALNUM, 120)
            ),
        ),
        6 => v(
            "SLACK_BOT_TOKEN",
            format!(
                "{}-{}-{}-{}",
                "xo".to_owned() + "xb",
                r.pick("0123456789", 12),
                r.pick("0123456789", 13),
                r.pick(ALNUM, 24)
            ),
        ),
        7 => v(
            "GITLAB_TOKEN",
            format!("{}{}", "glp".to_owned() + "at-", r.pick(ALNUM, 20)),
        ),
        8 => v(
            "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
            format!(
                "{}{}.{}{}.{}",
                "ey".to_owned() + "J",
                r.pick(ALNUM, 36),
                "ey".to_owned() + "J",
                r.pick(ALNUM, 120),
                r.pick(ALNUM, 43)
            ),
        ),
        9 => v(
            "PIP_INDEX_URL",
            format!(
                "https://ci:{}@pypi.corp.example.invalid/simple",
                r.pick(ALNUM, 24)
            ),
        ),
        10 => v("WANDB_API_KEY", r.pick(HEX, 40)),
        11 => v("DATABASE_PASSWORD", r.pick(ALNUM, 20)),
        12 => v(
            "AZURE_CLIENT_SECRET",
            format!(
                "{}{}Q~{}",
                r.pick(ALNUM, 3),
                r.pick("0123456789", 1),
                r.pick(ALNUM, 34)
            ),
        ),
        _ => v(
            "GOOGLE_API_KEY",
            format!("{}{}", "AI".to_owned() + "za", r.pick(ALNUM, 35)),
        ),
    }
}

const KINDS: usize = 14;

/// The look-alikes the issue names (must stay silent).
fn look_alikes(kind: usize) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = vec![
        ("AWS_REGION".into(), "us-east-1".into()),
        ("AWS_DEFAULT_REGION".into(), "us-east-1".into()),
        ("HF_HOME".into(), "/data/hf".into()),
        (
            "TOKEN_URL".into(),
            "https://auth.example.invalid/oauth/token".into(),
        ),
        (
            "GITHUB_TOKEN_FILE".into(),
            "/run/secrets/github_token".into(),
        ),
        (
            "HF_TOKEN_PATH".into(),
            "/home/user/.cache/huggingface/token".into(),
        ),
    ];
    if kind != 1 {
        v.push(("HF_TOKEN".into(), String::new()));
    }
    if kind != 0 {
        v.push((
            "AWS_ACCESS_KEY_ID".into(),
            "AK".to_owned() + "IAIOSFODNN7EXAMPLE",
        ));
        v.push((
            "AWS_SECRET_ACCESS_KEY".into(),
            "wJalrXUtnFEMI/K7MDENG/".to_owned() + "bPxRfiCYEXAMPLEKEY",
        ));
    }
    if kind != 9 {
        v.push(("PIP_INDEX_URL".into(), "https://pypi.org/simple".into()));
    }
    v
}

/// An ordinary session's variables (neither secret nor look-alike by intent).
fn ordinary(pid: u32, r: &mut Rng) -> Vec<(String, String)> {
    let mut ls = String::from("rs=0:di=01;34:ln=01;36:mh=00:pi=40;33:so=01;35:do=01;35:bd=40;33;01:cd=40;33;01:or=40;31;01:mi=00:su=37;41:sg=30;43:ca=00:tw=30;42:ow=34;42:st=37;44:ex=01;32");
    for ext in [
        "tar", "tgz", "arc", "arj", "taz", "lha", "lz4", "lzh", "lzma", "tlz", "txz", "tzo", "t7z",
        "zip", "z", "dz", "gz", "lrz", "lz", "lzo", "xz", "zst", "tzst", "bz2", "bz", "tbz",
        "tbz2", "tz", "deb", "rpm", "jar", "war", "ear", "sar", "rar", "alz", "ace", "zoo", "cpio",
        "7z", "rz", "cab", "wim", "swm", "dwm", "esd", "avif", "jpg", "jpeg", "mjpg", "mjpeg",
        "gif", "bmp", "pbm", "pgm", "ppm", "tga", "xbm", "xpm", "tif", "tiff", "png", "svg",
        "svgz", "mng", "pcx", "mov", "mpg", "mpeg", "m2v", "mkv", "webm", "webp", "ogm", "mp4",
        "m4v", "mp4v", "vob", "qt", "nuv", "wmv", "asf", "rm", "rmvb", "flc", "avi", "fli", "flv",
        "gl", "dl", "xcf", "xwd", "yuv", "cgm", "emf", "ogv", "ogx",
    ] {
        ls.push_str(&format!(":*.{ext}=01;31"));
    }
    vec![
        ("SHELL".into(), "/bin/bash".into()),
        ("PWD".into(), format!("/home/user{pid}/work")),
        ("LOGNAME".into(), format!("user{pid}")),
        ("HOME".into(), format!("/home/user{pid}")),
        ("LANG".into(), "en_US.UTF-8".into()),
        ("LS_COLORS".into(), ls),
        ("PATH".into(), format!("/home/user{pid}/miniconda3/envs/train/bin:/home/user{pid}/miniconda3/condabin:/usr/local/cuda/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/snap/bin")),
        ("XDG_RUNTIME_DIR".into(), format!("/run/user/{pid}")),
        ("XDG_SESSION_ID".into(), format!("{}", pid % 97)),
        ("DBUS_SESSION_BUS_ADDRESS".into(), format!("unix:path=/run/user/{pid}/bus")),
        ("SSH_CLIENT".into(), "192.0.2.10 52144 22".into()),
        ("SSH_CONNECTION".into(), "192.0.2.10 52144 198.51.100.7 22".into()),
        ("SSH_AUTH_SOCK".into(), format!("/tmp/ssh-{}/agent.{pid}", r.pick(ALNUM, 10))),
        ("INVOCATION_ID".into(), r.pick(HEX, 32)),
        ("JOURNAL_STREAM".into(), format!("8:{}", 10000 + pid)),
        ("GIT_COMMIT".into(), r.pick(HEX, 40)),
        ("CUDA_VISIBLE_DEVICES".into(), "0,1,2,3".into()),
        ("CUDA_HOME".into(), "/usr/local/cuda-12.4".into()),
        ("LD_LIBRARY_PATH".into(), "/usr/local/cuda/lib64:/usr/local/cuda/extras/CUPTI/lib64".into()),
        ("CONDA_PREFIX".into(), format!("/home/user{pid}/miniconda3/envs/train")),
        ("CONDA_DEFAULT_ENV".into(), "train".into()),
        ("CONDA_EXE".into(), format!("/home/user{pid}/miniconda3/bin/conda")),
        ("VIRTUAL_ENV_PROMPT".into(), "(train)".into()),
        ("TRANSFORMERS_CACHE".into(), "/data/hf/transformers".into()),
        ("WANDB_MODE".into(), "offline".into()),
        ("WANDB_PROJECT".into(), "llm-finetune".into()),
        ("MLFLOW_TRACKING_URI".into(), "https://mlflow.example.invalid".into()),
        ("PYTHONHASHSEED".into(), "0".into()),
        ("OMP_NUM_THREADS".into(), "8".into()),
        ("NCCL_DEBUG".into(), "WARN".into()),
        ("TERM".into(), "xterm-256color".into()),
        ("EDITOR".into(), "vim".into()),
        ("LESSOPEN".into(), "| /usr/bin/lesspipe %s".into()),
        ("HISTCONTROL".into(), "ignoredups:erasedups".into()),
        ("SESSION_MANAGER".into(), format!("local/gpu-node:@/tmp/.ICE-unix/{pid},unix/gpu-node:/tmp/.ICE-unix/{pid}")),
    ]
}

/// Everything laid out for one process.
struct Proc {
    pid: u32,
    vars: Vec<(String, String)>,
    planted: BTreeSet<String>,
    look_alike: BTreeSet<String>,
}

fn build(root: &Path, n: u32) -> Vec<Proc> {
    let mut r = Rng(0x5eed_5ec2_e75a_b1e5);
    let files = root.join("envfiles");
    std::fs::create_dir_all(&files).unwrap();
    let mut out = Vec::new();
    for i in 0..n {
        let pid = 1000 + i;
        let kind = i as usize % KINDS;
        let mut vars = ordinary(pid, &mut r);
        let la = look_alikes(kind);
        let pl = planted(kind, &mut r);
        let look_alike: BTreeSet<String> = la.iter().map(|(k, _)| k.clone()).collect();
        let planted_names: BTreeSet<String> = pl.iter().map(|(k, _)| k.clone()).collect();
        // Shuffle the secret and the look-alikes into the session.
        for e in la.into_iter().chain(pl) {
            let at = (r.next() % (vars.len() as u64 + 1)) as usize;
            vars.insert(at, e);
        }
        let dir = root.join(format!("proc/{pid}"));
        std::fs::create_dir_all(&dir).unwrap();
        let mut environ = Vec::new();
        let mut envfile = String::new();
        for (k, v) in &vars {
            environ.extend_from_slice(format!("{k}={v}").as_bytes());
            environ.push(0);
            envfile.push_str(&format!("{k}={v}\n"));
        }
        std::fs::write(dir.join("environ"), &environ).unwrap();
        std::fs::write(
            dir.join("status"),
            format!("Name:\tpython3\nUmask:\t0022\nState:\tS (sleeping)\nPid:\t{pid}\nUid:\t{pid}\t{pid}\t{pid}\t{pid}\n"),
        )
        .unwrap();
        std::fs::write(dir.join("cmdline"), b"python3\0train.py\0").unwrap();
        std::fs::write(dir.join("comm"), b"python3\n").unwrap();
        std::fs::write(files.join(format!("{pid}.env")), envfile).unwrap();
        out.push(Proc {
            pid,
            vars,
            planted: planted_names,
            look_alike,
        });
    }
    out
}

/// CPU time (user + system) this thread has used: unlike wall time, it does
/// not grow when other processes share the cores.
fn thread_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// CPU time (user + system) of every waited-for child so far.
fn children_cpu() -> Duration {
    // SAFETY: an all-zero rusage is valid for getrusage to fill.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `ru` is a valid, writable rusage.
    unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut ru) };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1e3)
}

fn find_detect_secrets() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("DETECT_SECRETS") {
        return (p != "none").then(|| PathBuf::from(p));
    }
    for c in ["detect-secrets"] {
        if Command::new(c)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
        {
            return Some(PathBuf::from(c));
        }
    }
    None
}

/// Detection score: planted found, planted total, false positives (of which
/// on look-alikes).
#[derive(Default, Debug)]
struct Score {
    found: usize,
    planted: usize,
    fp: usize,
    fp_look_alike: usize,
}

/// detect-secrets' figures.
struct Peer {
    whole: Duration,
    one: Duration,
    score: Score,
    cpu: Duration,
}

fn score(procs: &[Proc], hits: &BTreeMap<u32, BTreeSet<String>>) -> Score {
    let mut s = Score::default();
    for p in procs {
        s.planted += p.planted.len();
        let got = hits.get(&p.pid).cloned().unwrap_or_default();
        s.found += p.planted.intersection(&got).count();
        for v in got.difference(&p.planted) {
            s.fp += 1;
            if p.look_alike.contains(v) {
                s.fp_look_alike += 1;
            }
        }
    }
    s
}

fn main() {
    let n: u32 = std::env::var("BENCH_PROCS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let repeat: usize = std::env::var("BENCH_REPEAT")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("host");
    let state = tmp.path().join("state");
    let procs = build(&root, n);
    let env_bytes: usize = procs
        .iter()
        .map(|p| {
            p.vars
                .iter()
                .map(|(k, v)| k.len() + v.len() + 2)
                .sum::<usize>()
        })
        .sum();
    println!(
        "secret_exposure vs detect-secrets: {n} processes, {:.0} bytes of environment each on average",
        env_bytes as f64 / n as f64
    );

    let settings = Settings {
        state_dir: state.clone(),
        ..Settings::default()
    };
    let table = squatch::tables::registry_with(Arc::new(Host::new(&root)), &settings)
        .into_iter()
        .find(|t| t.name() == "secret_exposure")
        .unwrap();

    // squatch: whole table in process.
    let all = QueryContext::all();
    let rows = table.generate(&all).unwrap();
    let mut times = Vec::new();
    let mut cpu = Vec::new();
    for _ in 0..repeat {
        let (t, c) = (Instant::now(), thread_cpu());
        let r = table.generate(&all).unwrap();
        times.push(t.elapsed());
        cpu.push(thread_cpu() - c);
        assert_eq!(r.len(), rows.len());
    }
    let whole = median(times);
    let whole_cpu = median(cpu);
    // The columns a pack query reads (no command line to read and redact).
    let narrow = QueryContext::all().using(&[
        "pid",
        "variable",
        "secret_kind",
        "credential_lifetime",
        "fingerprint",
    ]);
    let mut times = Vec::new();
    for _ in 0..repeat {
        let t = Instant::now();
        table.generate(&narrow).unwrap();
        times.push(t.elapsed());
    }
    let whole_narrow = median(times);
    // One cold CLI process (what a responder's `squatch query` costs).
    let exe = env!("CARGO_BIN_EXE_squatch");
    let t = Instant::now();
    let out = Command::new(exe)
        .arg("--root")
        .arg(&root)
        .arg("--state-dir")
        .arg(&state)
        .args([
            "query",
            "--csv",
            "SELECT pid, variable FROM secret_exposure",
        ])
        .output()
        .unwrap();
    let cli = t.elapsed();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // squatch: WHERE pid = N.
    let mut times = Vec::new();
    for p in procs.iter().step_by((procs.len() / 200).max(1)) {
        let ctx = QueryContext::all().with("pid", Operator::Equals, p.pid.to_string());
        let t = Instant::now();
        let r = table.generate(&ctx).unwrap();
        times.push(t.elapsed());
        assert!(!r.is_empty());
    }
    let one = median(times);

    let mut squatch_hits: BTreeMap<u32, BTreeSet<String>> = BTreeMap::new();
    for r in &rows {
        if let (Some(pid), Some(var)) = (r.get("pid"), r.get("variable")) {
            if r.get("secret_kind").is_some() {
                squatch_hits
                    .entry(pid.parse().unwrap())
                    .or_default()
                    .insert(var.to_string());
            }
        }
    }
    let sq = score(&procs, &squatch_hits);

    // detect-secrets on the same environments as files.
    let ds = find_detect_secrets();
    let mut peer: Option<Peer> = None;
    if let Some(ds) = &ds {
        let files = root.join("envfiles");
        let c = children_cpu();
        let t = Instant::now();
        let out = Command::new(ds)
            .args(["scan", "--all-files", "."])
            .current_dir(&files)
            .output()
            .unwrap();
        let ds_whole = t.elapsed();
        let ds_cpu = children_cpu() - c;
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let mut hits: BTreeMap<u32, BTreeSet<String>> = BTreeMap::new();
        let by_pid: BTreeMap<u32, &Proc> = procs.iter().map(|p| (p.pid, p)).collect();
        if let Some(results) = v["results"].as_object() {
            for (file, list) in results {
                let pid: u32 = file
                    .trim_start_matches("./")
                    .trim_end_matches(".env")
                    .parse()
                    .unwrap();
                for h in list.as_array().unwrap() {
                    let line = h["line_number"].as_u64().unwrap() as usize;
                    let var = by_pid[&pid].vars[line - 1].0.clone();
                    hits.entry(pid).or_default().insert(var);
                }
            }
        }
        let mut one_times = Vec::new();
        for p in procs.iter().take(5) {
            let t = Instant::now();
            let o = Command::new(ds)
                .args(["scan", "--all-files", &format!("{}.env", p.pid)])
                .current_dir(&files)
                .output()
                .unwrap();
            one_times.push(t.elapsed());
            assert!(o.status.success());
        }
        peer = Some(Peer {
            whole: ds_whole,
            one: median(one_times),
            score: score(&procs, &hits),
            cpu: ds_cpu,
        });
    }

    println!();
    println!("{:<44} {:>16} {:>16}", "", "squatch", "detect-secrets");
    let peer_col = |f: &dyn Fn(&Peer) -> String| match &peer {
        Some(p) => f(p),
        None => "unavailable".to_string(),
    };
    println!(
        "{:<44} {:>16} {:>16}",
        "whole host (in process / one process)",
        ms(whole),
        peer_col(&|p| ms(p.whole))
    );
    println!(
        "{:<44} {:>16} {:>16}",
        "whole host, CPU time (user + system)",
        ms(whole_cpu),
        peer_col(&|p| ms(p.cpu))
    );
    println!(
        "{:<44} {:>16} {:>16}",
        "whole host, 5 columns, no cmdline",
        ms(whole_narrow),
        peer_col(&|p| ms(p.whole))
    );
    println!(
        "{:<44} {:>16} {:>16}",
        "whole host, cold CLI process",
        ms(cli),
        peer_col(&|p| ms(p.whole))
    );
    println!(
        "{:<44} {:>16} {:>16}",
        "one process (WHERE pid = / one file)",
        ms(one),
        peer_col(&|p| ms(p.one))
    );
    println!(
        "{:<44} {:>16} {:>16}",
        "planted secrets found (recall)",
        format!("{}/{}", sq.found, sq.planted),
        peer_col(&|p| format!("{}/{}", p.score.found, p.score.planted))
    );
    println!(
        "{:<44} {:>16} {:>16}",
        "false positives (variables not planted)",
        sq.fp,
        peer_col(&|p| p.score.fp.to_string())
    );
    println!(
        "{:<44} {:>16} {:>16}",
        "  of which on the named look-alikes",
        sq.fp_look_alike,
        peer_col(&|p| p.score.fp_look_alike.to_string())
    );
    if ds.is_none() {
        println!("detect-secrets not found: pip install detect-secrets into a venv and set DETECT_SECRETS");
    }
    println!(
        "targets: whole table < 50 ms: {} (wall), {} (CPU); WHERE pid < 1 ms: {}; every planted secret found: {}; no look-alike flagged: {}",
        whole < Duration::from_millis(50),
        whole_cpu < Duration::from_millis(50),
        one < Duration::from_millis(1),
        sq.found == sq.planted,
        sq.fp_look_alike == 0
    );
}
