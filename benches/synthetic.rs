//! The synthetic host of the benchmarks (50 venvs x 200 distributions by
//! default) and the helpers that run a child and read its peak RSS; shared
//! by `provenance.rs` and `restart.rs`.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use sha2::{Digest, Sha256};

pub struct Rng(pub u64);
impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        let mut v = Vec::with_capacity(n + 8);
        while v.len() < n {
            v.extend_from_slice(&self.next().to_le_bytes());
        }
        v.truncate(n);
        v
    }
}

pub fn record_hash(b: &[u8]) -> String {
    format!(
        "sha256={}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(b))
    )
}

pub fn write(root: &Path, host_path: &str, bytes: &[u8]) {
    let p = root.join(host_path.trim_start_matches('/'));
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, bytes).unwrap();
}

/// Lays out the synthetic host; returns (env, site) pairs, the real paths of
/// every hashed file, and their total size.
pub fn build(
    root: &Path,
    venvs: usize,
    dists: usize,
) -> (Vec<(String, String)>, Vec<PathBuf>, u64) {
    let marker = root.join(format!(".built-{venvs}x{dists}"));
    let fresh = !marker.exists();
    let mut rng = Rng(0x9E3779B97F4A7C15);
    let mut pairs = Vec::new();
    let mut files = Vec::new();
    let mut total = 0u64;
    if fresh {
        let users: String = (0..5)
            .map(|u| {
                format!(
                    "user{u}:x:{}:{}::/home/user{u}:/bin/bash\n",
                    1000 + u,
                    1000 + u
                )
            })
            .collect();
        write(root, "/etc/passwd", users.as_bytes());
    }
    let description = "This project provides helpers.\n".repeat(100);
    for v in 0..venvs {
        let env = format!("/home/user{}/proj{v}/.venv", v % 5);
        let site = format!("{env}/lib/python3.11/site-packages");
        pairs.push((env.clone(), site.clone()));
        if fresh {
            write(
                root,
                &format!("{env}/pyvenv.cfg"),
                b"home = /usr/bin\ninclude-system-site-packages = false\nversion = 3.11.7\n",
            );
        }
        for d in 0..dists {
            let name = format!("pkg{d}_{v}");
            let pkg_files: Vec<(String, Vec<u8>)> = vec![
                (
                    format!("{name}/__init__.py"),
                    format!("from .core import *\n# {name}\n")
                        .repeat(30)
                        .into_bytes(),
                ),
                (
                    format!("{name}/core.py"),
                    "def f(x):\n    return x * 2\n".repeat(300).into_bytes(),
                ),
                (
                    format!("{name}/utils.py"),
                    "import os\nimport sys\n".repeat(200).into_bytes(),
                ),
                (
                    format!("{name}/_native.cpython-311-x86_64-linux-gnu.so"),
                    rng.bytes(64 * 1024),
                ),
            ];
            let di = format!("{name}-1.{d}.0.dist-info");
            let metadata = format!(
                "Metadata-Version: 2.1\nName: {name}\nVersion: 1.{d}.0\nSummary: Synthetic package {d}: for benchmarks\nHome-page: https://example.invalid/{name}\nAuthor: Bench Author\nAuthor-email: bench@example.invalid\nLicense: MIT\nClassifier: Programming Language :: Python :: 3\nClassifier: License :: OSI Approved :: MIT License\nClassifier: Operating System :: OS Independent\nRequires-Python: >=3.8\nRequires-Dist: numpy>=1.20\nRequires-Dist: requests (>=2)\nDescription-Content-Type: text/markdown\n\n{description}"
            );
            let meta_files: Vec<(String, Vec<u8>)> = vec![
                (format!("{di}/METADATA"), metadata.into_bytes()),
                (format!("{di}/WHEEL"), b"Wheel-Version: 1.0\nGenerator: bench\nRoot-Is-Purelib: false\nTag: cp311-cp311-linux_x86_64\n".to_vec()),
                (format!("{di}/INSTALLER"), b"pip\n".to_vec()),
                (format!("{di}/top_level.txt"), format!("{name}\n").into_bytes()),
            ];
            let mut record = String::new();
            for (rel, bytes) in pkg_files.iter().chain(&meta_files) {
                record.push_str(&format!("{rel},{},{}\n", record_hash(bytes), bytes.len()));
                let real = root.join(site.trim_start_matches('/')).join(rel);
                total += bytes.len() as u64;
                if fresh {
                    write(root, &format!("{site}/{rel}"), bytes);
                }
                files.push(real);
            }
            record.push_str(&format!("{di}/RECORD,,\n"));
            if fresh {
                write(root, &format!("{site}/{di}/RECORD"), record.as_bytes());
            }
        }
    }
    if fresh {
        std::fs::write(&marker, b"").unwrap();
    }
    (pairs, files, total)
}

/// Runs a command, draining stdout; returns (wall time, stdout, stderr, maxrss KiB).
/// The child is reaped with `wait4` (for its own rusage), not `Child::wait`.
pub fn run_child(cmd: &mut Command) -> (Duration, Vec<u8>, String, i64) {
    let (wall, out, err, rss, _) = run_child_cpu(cmd);
    (wall, out, err, rss)
}

/// [`run_child`], also giving the child's CPU time (user + system), which
/// a machine shared with other jobs disturbs less than wall time.
#[allow(clippy::zombie_processes)]
pub fn run_child_cpu(cmd: &mut Command) -> (Duration, Vec<u8>, String, i64, Duration) {
    let start = Instant::now();
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut out = Vec::new();
    let mut err = String::new();
    let mut so = child.stdout.take().unwrap();
    let mut se = child.stderr.take().unwrap();
    let t = std::thread::spawn(move || {
        let mut e = String::new();
        let _ = se.read_to_string(&mut e);
        e
    });
    so.read_to_end(&mut out).unwrap();
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value for wait4 to fill.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: pid is our child; status and ru point to live locals.
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut ru) };
    let wall = start.elapsed();
    assert_eq!(r, pid, "wait4");
    err.push_str(&t.join().unwrap());
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "child failed: {err}"
    );
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    let cpu = tv(ru.ru_utime) + tv(ru.ru_stime);
    (wall, out, err, ru.ru_maxrss, cpu)
}

pub fn children_maxrss() -> i64 {
    // SAFETY: as above.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut ru) };
    ru.ru_maxrss
}

pub fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
