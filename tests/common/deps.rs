//! Dependency files and index settings on a fake host: the seed's attack
//! (a typo in requirements.txt, installed unhashed; a pip.conf that mixes a
//! private index with PyPI) and its benign twin (hashed, pinned, one
//! private index), for the table tests and the packs' tests.
#![allow(dead_code)]

use std::path::PathBuf;

use super::FakeHost;

/// The project directory both plants use.
pub const PROJECT: &str = "/home/alice/ml-service";

/// The private index both plants name.
pub const PRIVATE_INDEX: &str = "https://pkgs.corp.example/simple";

fn hash(n: u32) -> String {
    format!("sha256:{n:064x}")
}

fn base(fh: &FakeHost) {
    if !fh.real(std::path::Path::new("/etc/passwd")).exists() {
        fh.passwd(&[("alice", 1000, "/home/alice")]);
    }
}

/// The seed's attack: `requirements.txt` naming `torch-utilites`
/// (unpinned, unhashed) beside a hashed torch pin, and a user pip.conf whose
/// `extra-index-url` puts public PyPI beside the private index (dependency
/// confusion). Returns `(requirements.txt, pip.conf)`.
pub fn plant_seed_attack(fh: &FakeHost) -> (PathBuf, PathBuf) {
    base(fh);
    let req = fh.write(
        format!("{PROJECT}/requirements.txt"),
        format!(
            "# ML service\ntorch==2.3.1 \\\n    --hash={}\ntorch-utilites\n",
            hash(1)
        ),
    );
    let conf = fh.write(
        "/home/alice/.config/pip/pip.conf",
        format!(
            "[global]\nindex-url = {PRIVATE_INDEX}\nextra-index-url = https://pypi.org/simple\n"
        ),
    );
    (req, conf)
}

/// The benign twin: every requirement pinned and hashed, the right names,
/// and a pip.conf with one private index. Returns `(requirements.txt,
/// pip.conf)`.
pub fn plant_benign_twin(fh: &FakeHost) -> (PathBuf, PathBuf) {
    base(fh);
    let req = fh.write(
        format!("{PROJECT}/requirements.txt"),
        format!(
            "# ML service\ntorch==2.3.1 \\\n    --hash={}\nnumpy==1.26.4 --hash={}\n",
            hash(1),
            hash(2)
        ),
    );
    let conf = fh.write(
        "/home/alice/.config/pip/pip.conf",
        format!("[global]\nindex-url = {PRIVATE_INDEX}\n"),
    );
    (req, conf)
}
