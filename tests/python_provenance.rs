//! `python_package_provenance` and `python_environments` on fake hosts,
//! through `Table::generate`: every column, every source kind, RECORD and
//! dpkg verification, tampering, and hostile metadata.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use common::{as_unprivileged, generate, FakeHost};
use squatch::python::{distributions, Verifier};
use squatch::table::{Operator, QueryContext};
use squatch::tables::python_environments::PythonEnvironments;
use squatch::tables::python_package_provenance::PythonPackageProvenance;

type Rows = Vec<BTreeMap<String, String>>;

fn provenance(fh: &FakeHost) -> PythonPackageProvenance {
    PythonPackageProvenance::new(Arc::new(fh.host()))
}

fn all(fh: &FakeHost) -> Rows {
    generate(&provenance(fh), &QueryContext::all())
}

fn row<'a>(rows: &'a Rows, name: &str) -> &'a BTreeMap<String, String> {
    rows.iter()
        .find(|r| r["normalized_name"] == name)
        .unwrap_or_else(|| panic!("no row for {name}: {rows:#?}"))
}

fn get<'a>(r: &'a BTreeMap<String, String>, col: &str) -> Option<&'a str> {
    r.get(col).map(String::as_str)
}

fn no_secret_anywhere(rows: &Rows) {
    for r in rows {
        for (k, v) in r {
            assert!(
                !v.contains("FAKE_PASSWORD") && !v.contains("ghp_FAKE") && !v.contains("FAKESIG"),
                "secret leaked in {k}: {v}"
            );
        }
    }
}

#[test]
fn every_column_of_a_pip_install() {
    let fh = FakeHost::new();
    let site = fh.venv("/opt/app/venv", "3.12.3", false);
    let d = fh
        .dist(&site, "Torch_Utilites", "0.1.0")
        .file("torch_utilites/__init__.py", b"import os\n")
        .file("../../../bin/torch-utils", b"#!/opt/app/venv/bin/python\n")
        .field("Summary", "Utilities: for torch")
        .field("Author", "Mallory Example")
        .field("Author-email", "mallory@example.invalid")
        .field("Home-page", "https://example.invalid:8443/torch-utilites")
        .field("License", "MIT")
        .field("Requires-Python", ">=3.8")
        .installer("pip")
        .requested()
        .write();
    fh.set_mtime(d.meta("RECORD"), 1_700_000_000);
    let rows = all(&fh);
    assert_eq!(rows.len(), 1);
    let r = &rows[0];
    let expect = [
        ("name", "Torch_Utilites"),
        ("normalized_name", "torch-utilites"),
        ("version", "0.1.0"),
        ("environment", "/opt/app/venv"),
        ("environment_kind", "venv"),
        (
            "site_packages",
            "/opt/app/venv/lib/python3.12/site-packages",
        ),
        (
            "metadata_path",
            "/opt/app/venv/lib/python3.12/site-packages/Torch_Utilites-0.1.0.dist-info",
        ),
        ("format", "dist-info"),
        ("installer", "pip"),
        ("requested", "1"),
        ("source_kind", "index"),
        ("install_time", "1700000000"),
        ("author", "Mallory Example"),
        ("author_email", "mallory@example.invalid"),
        ("home_page", "https://example.invalid:8443/torch-utilites"),
        ("summary", "Utilities: for torch"),
        ("license", "MIT"),
        ("requires_python", ">=3.8"),
        ("record_status", "ok"),
        ("record_reference", "record"),
        ("files_modified", "0"),
        ("files_missing", "0"),
        ("files_unrecorded", "0"),
        ("files_outside_environment", "0"),
        ("files_unverifiable", "0"),
        ("files_checked", "6"),
    ];
    for (k, v) in expect {
        assert_eq!(get(r, k), Some(v), "column {k}");
    }
    // SAFETY: geteuid has no preconditions.
    let uid = unsafe { libc::geteuid() }.to_string();
    assert_eq!(get(r, "owner_uid"), Some(uid.as_str()));
    assert_eq!(get(r, "direct_url"), None);
    assert_eq!(get(r, "error"), None);
}

#[test]
fn source_kinds_and_credentials_are_stripped() {
    let fh = FakeHost::new();
    let site = fh.venv("/home/a/v", "3.11", false);
    fh.dist(&site, "arch", "1").file("arch.py", b"").installer("pip")
        .direct_url(r#"{"url":"https://bob:FAKE_PASSWORD@files.example.invalid/arch-1.whl?sig=FAKESIG","archive_info":{"hashes":{"sha256":"00"}}}"#)
        .write();
    fh.dist(&site, "vcs", "2").file("vcs.py", b"").installer("pip")
        .direct_url(r#"{"url":"git+https://ghp_FAKEEXAMPLETOKEN0000@github.com/o/vcs.git","vcs_info":{"vcs":"git","commit_id":"0123abcd"}}"#)
        .write();
    fh.dist(&site, "dir", "3")
        .file("dir.py", b"")
        .installer("pip")
        .direct_url(r#"{"url":"file:///home/a/src/dir","dir_info":{}}"#)
        .write();
    fh.dist(&site, "edit", "4")
        .file("__editable__.edit-4.pth", b"/home/a/src/edit\n")
        .installer("pip")
        .direct_url(r#"{"url":"file:///home/a/src/edit","dir_info":{"editable":true}}"#)
        .write();
    fh.dist(&site, "idx", "5")
        .file("idx.py", b"")
        .installer_raw(b"uv")
        .write();
    fh.dist(&site, "nobody", "6").file("nobody.py", b"").write();
    // Legacy `setup.py develop`: an .egg-link to a project with an egg-info.
    fh.write(site.join("legacy.egg-link"), "/home/a/src/legacy\n.\n");
    fh.write(
        "/home/a/src/legacy/legacy.egg-info/PKG-INFO",
        "Metadata-Version: 1.0\nName: legacy\nVersion: 0.9\n",
    );

    let rows = all(&fh);
    no_secret_anywhere(&rows);
    let kinds: Vec<(&str, &str)> = rows
        .iter()
        .map(|r| (r["normalized_name"].as_str(), r["source_kind"].as_str()))
        .collect();
    assert_eq!(
        kinds,
        vec![
            ("arch", "archive"),
            ("dir", "directory"),
            ("edit", "editable"),
            ("idx", "index"),
            ("legacy", "editable"),
            ("nobody", "unknown"),
            ("vcs", "vcs"),
        ]
    );
    assert_eq!(
        get(row(&rows, "arch"), "direct_url"),
        Some("https://files.example.invalid/arch-1.whl?sig=REDACTED")
    );
    assert_eq!(
        get(row(&rows, "vcs"), "direct_url"),
        Some("git+https://github.com/o/vcs.git")
    );
    assert_eq!(get(row(&rows, "vcs"), "vcs_commit_id"), Some("0123abcd"));
    assert_eq!(get(row(&rows, "idx"), "installer"), Some("uv"));
    assert_eq!(get(row(&rows, "legacy"), "version"), Some("0.9"));
    assert_eq!(
        get(row(&rows, "legacy"), "direct_url"),
        Some("file:///home/a/src/legacy")
    );
    assert_eq!(get(row(&rows, "edit"), "record_status"), Some("ok"));
}

#[test]
fn tampering_is_surfaced_and_the_cache_notices_changes() {
    let fh = FakeHost::new();
    let site = fh.venv("/opt/v", "3.12", false);
    let d = fh
        .dist(&site, "victim", "1.0")
        .file("victim/__init__.py", b"print('hello')\n")
        .file("victim/core.py", b"def f():\n    return 1\n")
        .file("victim/sub/deep.py", b"x = 2\n")
        .file("../../../bin/victim", b"#!/bin/sh\n")
        .installer("pip")
        .write();
    fh.dist(&site, "bystander", "2.0")
        .file("bystander.py", b"")
        .installer("pip")
        .write();
    let table = provenance(&fh);
    let q = QueryContext::all();
    let r = generate(&table, &q);
    assert_eq!(get(row(&r, "victim"), "record_status"), Some("ok"));

    // Same size, different content: must be caught (not just a size check),
    // including through the digest cache of the first query.
    fh.modify(&d.file("victim/core.py"), b"def f():\n    return 2\n");
    let r = generate(&table, &q);
    let v = row(&r, "victim");
    assert_eq!(get(v, "record_status"), Some("modified"));
    assert_eq!(get(v, "files_modified"), Some("1"));
    assert!(get(v, "changed_files")
        .unwrap()
        .contains("modified:/opt/v/lib/python3.12/site-packages/victim/core.py"));
    assert_eq!(get(row(&r, "bystander"), "record_status"), Some("ok"));

    fh.remove(&d.file("../../../bin/victim"));
    fh.add_unrecorded(&d.file("victim/sub/implant.py"), b"import socket\n");
    // Byte-compiled caches are not unrecorded files.
    fh.write(d.file("victim/__pycache__/core.cpython-312.pyc"), b"\x00");
    let r = generate(&table, &q);
    let v = row(&r, "victim");
    assert_eq!(get(v, "files_missing"), Some("1"));
    assert_eq!(get(v, "files_unrecorded"), Some("1"));
    assert_eq!(get(v, "record_status"), Some("modified"));

    // Put the content back: modified clears, missing wins, then unrecorded.
    fh.modify(&d.file("victim/core.py"), b"def f():\n    return 1\n");
    let r = generate(&table, &q);
    assert_eq!(get(row(&r, "victim"), "record_status"), Some("missing"));
    fh.write(d.file("../../../bin/victim"), b"#!/bin/sh\n");
    let r = generate(&table, &q);
    let v = row(&r, "victim");
    assert_eq!(get(v, "record_status"), Some("unrecorded"));
    assert!(get(v, "changed_files")
        .unwrap()
        .ends_with("unrecorded:/opt/v/lib/python3.12/site-packages/victim/sub/implant.py"));
}

#[test]
fn hashing_happens_only_when_a_record_column_is_selected() {
    let fh = FakeHost::new();
    let site = fh.venv("/opt/v", "3.12", false);
    let d = fh
        .dist(&site, "p", "1")
        .file("p/__init__.py", b"a")
        .installer("pip")
        .write();
    fh.modify(&d.file("p/__init__.py"), b"b");
    let table = provenance(&fh);
    let cheap = generate(
        &table,
        &QueryContext::all().using(&["name", "version", "environment"]),
    );
    assert_eq!(get(&cheap[0], "name"), Some("p"));
    assert_eq!(get(&cheap[0], "record_status"), None);
    assert_eq!(get(&cheap[0], "files_modified"), None);
    let dear = generate(
        &table,
        &QueryContext::all().using(&["name", "files_modified"]),
    );
    assert_eq!(get(&dear[0], "files_modified"), Some("1"));
    // The verifier's digest cache fills only when asked to verify.
    let verifier = Verifier::new();
    assert_eq!(verifier.cached_digests(), 0);
    let dist = &distributions(&fh.host(), &site)[0];
    let v = verifier.verify(&fh.host(), dist);
    assert_eq!(v.files_modified, 1);
    assert!(verifier.cached_digests() > 0);
}

#[test]
fn record_entries_outside_the_environment_are_flagged_not_hashed() {
    let fh = FakeHost::new();
    let site = fh.venv("/opt/v", "3.12", false);
    fh.write("/etc/shadow", b"root:*:1:0:99999:7:::\n");
    let d = fh
        .dist(&site, "hostile", "1")
        .file("hostile.py", b"")
        .installer("pip")
        .write();
    // Append entries that climb out of the environment and out of the root.
    let record = d.meta("RECORD");
    let mut text = std::fs::read_to_string(fh.real(&record)).unwrap();
    text.push_str(
        "../../../../../../../../../../etc/shadow,sha256=AAAA,5\n/etc/passwd,sha256=BBBB,1\n",
    );
    fh.modify(&record, text);
    let r = all(&fh);
    let h = row(&r, "hostile");
    assert_eq!(get(h, "files_outside_environment"), Some("2"));
    assert_eq!(get(h, "files_modified"), Some("0"));
    assert_eq!(get(h, "record_status"), Some("ok"));
    assert!(get(h, "error").unwrap().contains("outside the environment"));
}

#[test]
fn debian_dist_packages_verify_against_dpkg_md5sums() {
    let fh = FakeHost::new();
    fh.symlink("python3.11", "/usr/bin/python3");
    fh.write("/usr/bin/python3.11", b"ELF");
    let site = fh.system_site("/usr/lib/python3/dist-packages");
    // Debian-built: no INSTALLER, and a RECORD from the build tree whose
    // hashes no longer match (the .so was stripped after the wheel was built).
    let d = fh
        .dist(&site, "yaml", "6.0")
        .file("yaml/__init__.py", b"__version__ = '6.0'\n")
        .file(
            "yaml/_yaml.cpython-311-x86_64-linux-gnu.so",
            b"unstripped ELF with symbols",
        )
        .dir_name("PyYAML-6.0.dist-info")
        .write();
    fh.modify(
        &d.file("yaml/_yaml.cpython-311-x86_64-linux-gnu.so"),
        b"stripped ELF",
    );
    let mut owned: Vec<_> = d.files.clone();
    owned.push(fh.write("/usr/share/doc/python3-yaml/copyright", b"MIT\n"));
    fh.dpkg("python3-yaml", &owned);
    // And one Debian-built dist that dpkg does not know.
    fh.dist(&site, "orphan", "1")
        .file("orphan/__init__.py", b"")
        .write();

    let r = all(&fh);
    let y = row(&r, "yaml");
    assert_eq!(
        get(y, "environment"),
        Some("/usr/lib/python3/dist-packages")
    );
    assert_eq!(get(y, "environment_kind"), Some("system"));
    assert_eq!(get(y, "record_reference"), Some("dpkg"));
    assert_eq!(get(y, "dpkg_package"), Some("python3-yaml"));
    assert_eq!(get(y, "record_status"), Some("ok"), "{y:#?}");
    assert_eq!(get(y, "source_kind"), Some("unknown"));
    let o = row(&r, "orphan");
    assert_eq!(get(o, "record_reference"), Some("none"));
    assert_eq!(get(o, "record_status"), Some("unverified"));
    assert!(get(o, "error").unwrap().contains("dpkg"));

    // Tampering with a Debian-owned file is caught through md5sums.
    fh.modify(&d.file("yaml/__init__.py"), b"import os; os.system('id')\n");
    let r = generate(&provenance(&fh), &QueryContext::all());
    let y = row(&r, "yaml");
    assert_eq!(get(y, "record_status"), Some("modified"));
    assert_eq!(get(y, "files_modified"), Some("1"));

    let envs = generate(
        &PythonEnvironments::new(Arc::new(fh.host())),
        &QueryContext::all(),
    );
    assert_eq!(get(&envs[0], "python_version"), Some("3.11"));
}

#[test]
fn pip_vendored_cacert_rewrite_is_surfaced_and_vendored_dists_are_not_rows() {
    let fh = FakeHost::new();
    let site = fh.venv("/opt/v", "3.12", false);
    let d = fh
        .dist(&site, "pip", "24.0")
        .file("pip/__init__.py", b"")
        .file(
            "pip/_vendor/certifi/cacert.pem",
            b"-----BEGIN CERTIFICATE-----\nAAAA\n",
        )
        .file(
            "pip/_vendor/rich-13.7.dist-info/METADATA",
            b"Name: rich\nVersion: 13.7\n",
        )
        .installer("pip")
        .write();
    fh.modify(
        &d.file("pip/_vendor/certifi/cacert.pem"),
        b"-----BEGIN CERTIFICATE-----\nBBBB\nextra\n",
    );
    let r = all(&fh);
    assert_eq!(r.len(), 1, "vendored dist-info must not be a row: {r:#?}");
    let p = row(&r, "pip");
    assert_eq!(get(p, "record_status"), Some("modified"));
    assert!(get(p, "changed_files").unwrap().contains("cacert.pem"));
}

#[test]
fn egg_info_conda_user_site_and_include_system_venv() {
    let fh = FakeHost::new();
    fh.passwd(&[("alice", 1000, "/home/alice")]);
    let user = fh.user_site("/home/alice", "3.12");
    fh.dist(&user, "usertool", "1.0")
        .file("usertool.py", b"")
        .installer("pip")
        .write();
    let conda = fh.conda("/opt/conda", "3.11.5");
    fh.dist(&conda, "numpy", "1.26.4")
        .file("numpy/__init__.py", b"")
        .installer("conda")
        .write();
    let eggs = fh.venv("/home/alice/old", "3.8", true);
    let e = fh
        .dist(&eggs, "legacy-thing", "0.3")
        .file("legacy_thing/__init__.py", b"")
        .egg_info()
        .write();
    // A distutils-style single-file .egg-info.
    fh.write(
        eggs.join("single-1.0-py3.8.egg-info"),
        "Metadata-Version: 1.0\nName: single\nVersion: 1.0\n",
    );

    let r = all(&fh);
    let u = row(&r, "usertool");
    assert_eq!(get(u, "environment_kind"), Some("user"));
    assert_eq!(
        get(u, "environment"),
        Some("/home/alice/.local/lib/python3.12/site-packages")
    );
    let n = row(&r, "numpy");
    assert_eq!(
        (get(n, "environment_kind"), get(n, "installer")),
        (Some("conda"), Some("conda"))
    );
    let l = row(&r, "legacy-thing");
    assert_eq!(get(l, "format"), Some("egg-info"));
    assert_eq!(get(l, "record_reference"), Some("installed_files"));
    // Paths only, no hashes: present files cannot prove content.
    assert_eq!(get(l, "record_status"), Some("unverified"));
    fh.remove(&e.file("legacy_thing/__init__.py"));
    let r = all(&fh);
    assert_eq!(
        get(row(&r, "legacy-thing"), "record_status"),
        Some("missing")
    );
    let s = row(&r, "single");
    assert_eq!(get(s, "record_reference"), Some("none"));
    assert_eq!(
        get(s, "metadata_path"),
        Some("/home/alice/old/lib/python3.8/site-packages/single-1.0-py3.8.egg-info")
    );

    let envs = generate(
        &PythonEnvironments::new(Arc::new(fh.host())),
        &QueryContext::all(),
    );
    let old = envs
        .iter()
        .find(|e| e["path"] == "/home/alice/old")
        .unwrap();
    assert_eq!(get(old, "include_system_site_packages"), Some("1"));
    // The venv's own packages only: the system's are listed under the system.
    assert_eq!(get(old, "package_count"), Some("2"));
    let c = envs.iter().find(|e| e["path"] == "/opt/conda").unwrap();
    assert_eq!(
        (get(c, "kind"), get(c, "python_version")),
        (Some("conda"), Some("3.11.5"))
    );
    let u = envs.iter().find(|e| e["kind"] == "user").unwrap();
    assert_eq!(
        get(u, "owner_uid"),
        Some(unsafe { libc::geteuid() }.to_string().as_str())
    );
}

#[test]
fn constraints_scan_only_what_was_asked() {
    let fh = FakeHost::new();
    let a = fh.venv("/opt/a", "3.12", false);
    let b = fh.venv("/opt/b", "3.12", false);
    fh.dist(&a, "one", "1")
        .file("one.py", b"")
        .installer("pip")
        .write();
    fh.dist(&a, "Two_Pkg", "1")
        .file("two.py", b"")
        .installer("pip")
        .write();
    fh.dist(&b, "three", "1")
        .file("three.py", b"")
        .installer("pip")
        .write();
    // Garbage in /opt/b's site: a query on /opt/a must not even look there.
    fh.write(b.join("junk-1.dist-info/METADATA"), b"\xff\xfe\x00junk");
    let t = provenance(&fh);
    let r = generate(
        &t,
        &QueryContext::all().with("environment", Operator::Equals, "/opt/a"),
    );
    let mut names: Vec<&str> = r.iter().map(|r| r["normalized_name"].as_str()).collect();
    names.sort();
    assert_eq!(names, vec!["one", "two-pkg"]);
    let r = generate(
        &t,
        &QueryContext::all().with("name", Operator::Equals, "two.pkg"),
    );
    assert_eq!(r.len(), 1);
    assert_eq!(r[0]["name"], "Two_Pkg");
    let r = generate(
        &t,
        &QueryContext::all().with("site_packages", Operator::Equals, b.to_str().unwrap()),
    );
    assert_eq!(r.len(), 2);
    let r = generate(
        &t,
        &QueryContext::all().with("environment", Operator::Equals, "/nowhere"),
    );
    assert!(r.is_empty());
}

#[test]
fn corrupt_and_hostile_metadata_give_rows_not_failures() {
    let fh = FakeHost::new();
    let site = fh.venv("/opt/v", "3.12", false);
    fh.dist(&site, "nometa", "1.0")
        .file("nometa.py", b"")
        .installer("pip")
        .no_metadata()
        .write();
    fh.dist(&site, "junk", "2.0")
        .installer("pip")
        .metadata_raw(
            (0..5000u32)
                .map(|i| (i.wrapping_mul(2654435761u32) >> 13) as u8)
                .collect::<Vec<u8>>(),
        )
        .write();
    // 100 MB METADATA: headers, then a huge (sparse) body. Only a prefix is read.
    let big = fh.dist(&site, "huge", "3.0").installer("pip").write();
    let f = std::fs::OpenOptions::new()
        .append(true)
        .open(fh.real(&big.meta("METADATA")))
        .unwrap();
    f.set_len(100 * 1024 * 1024).unwrap();
    // 100 MB with no blank line: headers never end within the cap.
    let hdr = fh
        .dist(&site, "allheader", "4.0")
        .installer("pip")
        .metadata_raw(b"Name: allheader\nVersion: 4.0\nX: ")
        .write();
    let f = std::fs::OpenOptions::new()
        .append(true)
        .open(fh.real(&hdr.meta("METADATA")))
        .unwrap();
    f.set_len(100 * 1024 * 1024).unwrap();
    // Symlink loops in a package and as a RECORD target.
    let lp = fh
        .dist(&site, "loopy", "5.0")
        .file("loopy/__init__.py", b"")
        .installer("pip")
        .write();
    fh.symlink(".", "/opt/v/lib/python3.12/site-packages/loopy/self");
    fh.symlink("b", "/opt/v/lib/python3.12/site-packages/loopy/a");
    fh.symlink("a", "/opt/v/lib/python3.12/site-packages/loopy/b");
    let mut rec = std::fs::read_to_string(fh.real(&lp.meta("RECORD"))).unwrap();
    rec.push_str("loopy/a,sha256=AAAA,1\n");
    fh.modify(&lp.meta("RECORD"), rec);
    // A RECORD of binary junk, a direct_url.json that is not JSON.
    let bad = fh
        .dist(&site, "badrecord", "6.0")
        .installer("pip")
        .direct_url("{not json")
        .write();
    fh.modify(
        &bad.meta("RECORD"),
        b"\x00\xff,\n\"unterminated,sha256=,x\n,,,\n",
    );
    // A non-UTF-8 file name at the top level and in a package.
    use std::os::unix::ffi::OsStrExt;
    let weird = std::ffi::OsStr::from_bytes(b"caf\xe9-1.0.dist-info");
    fh.write(
        site.join(weird).join("METADATA"),
        "Name: cafe\nVersion: 1.0\n",
    );

    let start = std::time::Instant::now();
    let r = all(&fh);
    assert!(
        start.elapsed().as_secs() < 20,
        "hostile input must not stall the scan"
    );
    assert_eq!(r.len(), 7, "{r:#?}");

    let n = row(&r, "nometa");
    assert_eq!(get(n, "version"), Some("1.0"));
    assert!(get(n, "error").unwrap().contains("METADATA"));
    let j = row(&r, "junk");
    assert_eq!(
        get(j, "version"),
        Some("2.0"),
        "falls back to the directory name"
    );
    assert!(get(j, "error").unwrap().contains("no Name/Version"));
    let h = row(&r, "huge");
    assert_eq!((get(h, "version"), get(h, "error")), (Some("3.0"), None));
    // The RECORD hash of the grown METADATA no longer matches.
    assert_eq!(get(h, "record_status"), Some("modified"));
    let a = row(&r, "allheader");
    assert!(get(a, "error").unwrap().contains("truncated"));
    let l = row(&r, "loopy");
    assert_eq!(get(l, "files_unverifiable"), Some("1"));
    // The planted links `self` and `b` are files nobody recorded; the walk
    // does not follow `self` (no loop).
    assert_eq!(get(l, "files_unrecorded"), Some("2"));
    assert_eq!(get(l, "record_status"), Some("unrecorded"));
    let b = row(&r, "badrecord");
    assert!(get(b, "error").unwrap().contains("direct_url.json"));
    assert_eq!(get(b, "source_kind"), Some("index"));
    assert!(r.iter().any(|r| r["name"] == "cafe"));
}

#[test]
fn unreadable_directories_are_reported_and_the_scan_goes_on() {
    let fh = FakeHost::new();
    let site = fh.venv("/opt/v", "3.12", false);
    let ok = fh.venv("/opt/w", "3.12", false);
    let d = fh
        .dist(&site, "locked", "1.0")
        .file("locked/__init__.py", b"")
        .installer("pip")
        .write();
    fh.dist(&ok, "fine", "1.0")
        .file("fine.py", b"")
        .installer("pip")
        .write();
    fh.chmod(&d.metadata_path, 0o000);
    fh.chmod(d.file("locked"), 0o000);
    let r = as_unprivileged(&fh, || all(&fh));
    fh.chmod(&d.metadata_path, 0o755);
    fh.chmod(d.file("locked"), 0o755);
    assert_eq!(r.len(), 2);
    assert_eq!(get(row(&r, "fine"), "record_status"), Some("ok"));
    let l = row(&r, "locked");
    assert_eq!(get(l, "version"), Some("1.0"));
    assert!(
        get(l, "error").unwrap().contains("ermission denied"),
        "{l:#?}"
    );
    assert_eq!(get(l, "record_status"), Some("unverified"));
}

#[test]
fn environments_table_every_column_and_path_constraint() {
    let fh = FakeHost::new();
    fh.passwd(&[("alice", 1000, "/home/alice")]);
    let site = fh.venv("/home/alice/.virtualenvs/ml", "3.10.12", false);
    fh.dist(&site, "a", "1").write();
    fh.dist(&site, "b", "1").egg_info().write();
    fh.symlink("lib", "/home/alice/.virtualenvs/ml/lib64");
    let t = PythonEnvironments::new(Arc::new(fh.host()));
    let r = generate(
        &t,
        &QueryContext::all().with("path", Operator::Equals, "/home/alice/.virtualenvs/ml"),
    );
    assert_eq!(r.len(), 1);
    let e = &r[0];
    let uid = unsafe { libc::geteuid() }.to_string();
    for (k, v) in [
        ("path", "/home/alice/.virtualenvs/ml"),
        ("kind", "virtualenvwrapper"),
        ("python_version", "3.10.12"),
        (
            "site_packages",
            "/home/alice/.virtualenvs/ml/lib/python3.10/site-packages",
        ),
        (
            "all_site_packages",
            "/home/alice/.virtualenvs/ml/lib/python3.10/site-packages",
        ),
        ("owner_uid", uid.as_str()),
        ("package_count", "2"),
        ("include_system_site_packages", "0"),
    ] {
        assert_eq!(get(e, k), Some(v), "{k}");
    }
    assert!(generate(
        &t,
        &QueryContext::all().with("path", Operator::Equals, "/home/alice")
    )
    .is_empty());
    let _ = Path::new("/");
}

#[test]
fn repeated_queries_see_installs_upgrades_edits_and_hardlinks() {
    let fh = FakeHost::new();
    let a = fh.venv("/opt/a", "3.12", false);
    let b = fh.venv("/opt/b", "3.12", false);
    let d = fh
        .dist(&a, "pkg", "1.0")
        .file("pkg.py", b"")
        .installer("uv")
        .write();
    let t = provenance(&fh);
    let q = QueryContext::all().using(&["name", "version", "environment", "installer"]);
    let names = |rows: &Rows| -> Vec<(String, String, String)> {
        let mut v: Vec<_> = rows
            .iter()
            .map(|r| {
                (
                    r["environment"].clone(),
                    r["name"].clone(),
                    r["version"].clone(),
                )
            })
            .collect();
        v.sort();
        v
    };
    assert_eq!(
        names(&generate(&t, &q)),
        vec![("/opt/a".into(), "pkg".into(), "1.0".into())]
    );
    // In-place edit of METADATA (same inode): the cache must notice.
    std::fs::write(
        fh.real(&d.meta("METADATA")),
        "Metadata-Version: 2.1\nName: pkg\nVersion: 6.6.6\n",
    )
    .unwrap();
    assert_eq!(
        names(&generate(&t, &q)),
        vec![("/opt/a".into(), "pkg".into(), "6.6.6".into())]
    );
    // A new install appears; a removal disappears.
    fh.dist(&a, "newer", "2.0").write();
    assert_eq!(generate(&t, &q).len(), 2);
    std::fs::remove_dir_all(fh.real(&d.metadata_path)).unwrap();
    assert_eq!(
        names(&generate(&t, &q)),
        vec![("/opt/a".into(), "newer".into(), "2.0".into())]
    );
    // uv hardlinks files from its cache: the same METADATA inode in two
    // venvs must still give two rows, each in its own environment.
    let newer = a.join("newer-2.0.dist-info");
    std::fs::create_dir_all(fh.real(&b.join("newer-2.0.dist-info"))).unwrap();
    std::fs::hard_link(
        fh.real(&newer.join("METADATA")),
        fh.real(&b.join("newer-2.0.dist-info/METADATA")),
    )
    .unwrap();
    let rows = generate(&t, &q);
    assert_eq!(
        names(&rows),
        vec![
            ("/opt/a".into(), "newer".into(), "2.0".into()),
            ("/opt/b".into(), "newer".into(), "2.0".into()),
        ]
    );
    let b_row = rows.iter().find(|r| r["environment"] == "/opt/b").unwrap();
    assert_eq!(
        get(b_row, "installer"),
        None,
        "INSTALLER belongs to /opt/a's copy only"
    );
}

#[test]
fn a_names_only_query_does_not_poison_the_cache_for_provenance_columns() {
    let fh = FakeHost::new();
    let site = fh.venv("/opt/a", "3.12", false);
    fh.dist(&site, "pkg", "1.0")
        .installer("pip")
        .requested()
        .direct_url(r#"{"url":"file:///src/pkg","dir_info":{"editable":true}}"#)
        .write();
    let t = provenance(&fh);
    let cheap = generate(&t, &QueryContext::all().using(&["name", "version"]));
    assert_eq!(get(&cheap[0], "version"), Some("1.0"));
    assert_eq!(get(&cheap[0], "installer"), None);
    let full = generate(
        &t,
        &QueryContext::all().using(&[
            "name",
            "installer",
            "requested",
            "source_kind",
            "direct_url",
        ]),
    );
    assert_eq!(get(&full[0], "installer"), Some("pip"));
    assert_eq!(get(&full[0], "requested"), Some("1"));
    assert_eq!(get(&full[0], "source_kind"), Some("editable"));
    assert_eq!(get(&full[0], "direct_url"), Some("file:///src/pkg"));
}

#[test]
fn memoised_verifications_are_reused_only_while_nothing_they_rest_on_changed() {
    let fh = FakeHost::new();
    let site = fh.venv("/opt/m", "3.12", false);
    let d = fh
        .dist(&site, "owner", "1.0")
        .file("owner/__init__.py", b"a = 1\n")
        .file("owner/core.py", b"b = 2\n")
        .installer("pip")
        .write();
    // A plugin distribution that installs one file into owner's package
    // directory: while it is installed, that file is recorded.
    let plugin = fh
        .dist(&site, "plugin", "1.0")
        .file("owner/plugin.py", b"c = 3\n")
        .installer("pip")
        .write();
    let host = fh.host();
    let verifier = Verifier::new();
    let verify = |v: &Verifier| {
        let dists = distributions(&host, &site);
        let wanted = vec![true; dists.len()];
        let out = v.verify_site(&host, &dists, &wanted);
        dists
            .iter()
            .zip(out)
            .map(|(d, v)| (d.normalized_name.clone(), v.expect("wanted")))
            .collect::<BTreeMap<_, _>>()
    };
    let r = verify(&verifier);
    assert_eq!(r["owner"].status.as_str(), "ok");
    assert_eq!(verifier.reused_verifications(), 0);
    let again = verify(&verifier);
    assert_eq!(verifier.reused_verifications(), 2, "nothing changed");
    assert_eq!(r, again);

    // In-place edit, same size: the file's identity changes, so owner is
    // verified again (and hashed), plugin is still reused.
    fh.modify(&d.file("owner/core.py"), b"b = 9\n");
    let r = verify(&verifier);
    assert_eq!(r["owner"].status.as_str(), "modified");
    assert_eq!(r["plugin"].status.as_str(), "ok");
    assert_eq!(verifier.reused_verifications(), 3);
    fh.modify(&d.file("owner/core.py"), b"b = 2\n");
    assert_eq!(verify(&verifier)["owner"].status.as_str(), "ok");

    // A hardlink swap: same content elsewhere, then different content
    // linked in place of the original.
    let other = fh.write("/tmp/evil.py", b"b = 7\n");
    std::fs::remove_file(fh.real(&d.file("owner/core.py"))).unwrap();
    std::fs::hard_link(fh.real(&other), fh.real(&d.file("owner/core.py"))).unwrap();
    assert_eq!(verify(&verifier)["owner"].status.as_str(), "modified");
    std::fs::remove_file(fh.real(&d.file("owner/core.py"))).unwrap();
    fh.write(d.file("owner/core.py"), b"b = 2\n");
    assert_eq!(verify(&verifier)["owner"].status.as_str(), "ok");

    // Uninstalling plugin leaves its file behind without touching owner's
    // directory or files: only the site's references changed, and the
    // file is now unrecorded for owner.
    std::fs::remove_dir_all(fh.real(&plugin.metadata_path)).unwrap();
    let r = verify(&verifier);
    assert_eq!(r["owner"].status.as_str(), "unrecorded");
    assert_eq!(r["owner"].files_unrecorded, 1);

    // A RECORD rewritten (here: the file now listed again) is read anew.
    let record = d.meta("RECORD");
    let mut text = std::fs::read_to_string(fh.real(&record)).unwrap();
    let line = format!("owner/plugin.py,sha256={},6\n", {
        use base64::Engine;
        use sha2::Digest;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(b"c = 3\n"))
    });
    text.push_str(&line);
    std::fs::write(fh.real(&record), text).unwrap();
    assert_eq!(verify(&verifier)["owner"].status.as_str(), "ok");
    // And a missing file that comes back is noticed.
    fh.remove(&d.file("owner/plugin.py"));
    assert_eq!(verify(&verifier)["owner"].status.as_str(), "missing");
    fh.write(d.file("owner/plugin.py"), b"c = 3\n");
    assert_eq!(verify(&verifier)["owner"].status.as_str(), "ok");
}
