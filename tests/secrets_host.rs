//! `secret_exposure` on a fake host with processes and every kind of
//! credential file, each beside a benign look-alike: checked row by row.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use common::secrets::{plant_every_kind, plant_seed_attack, plant_seed_benign, Planted};
use common::FakeHost;
use squatch::secrets::FingerprintKey;
use squatch::settings::Settings;
use squatch::table::{Operator, QueryContext, Row, Table};

struct Env {
    _state: tempfile::TempDir,
    table: Arc<dyn Table>,
    key: FingerprintKey,
}

/// The table on `fh` with a fleet key, so the test can compute the expected
/// fingerprints with the same key.
fn table(fh: &FakeHost) -> Env {
    let state = tempfile::tempdir().unwrap();
    let key_file = state.path().join("fleet.key");
    std::fs::write(&key_file, "test-fleet-key-0123456789abcdef\n").unwrap();
    let settings = Settings {
        state_dir: state.path().join("state"),
        fingerprint_key: Some(key_file.clone()),
        ..Settings::default()
    };
    let key = FingerprintKey::load(Some(&key_file), state.path(), Path::new("/"));
    let table = squatch::tables::registry_with(Arc::new(fh.host()), &settings)
        .into_iter()
        .find(|t| t.name() == "secret_exposure")
        .expect("secret_exposure is registered");
    Env {
        _state: state,
        table,
        key,
    }
}

fn secret_rows(rows: &[Row]) -> Vec<&Row> {
    rows.iter()
        .filter(|r| r.get("secret_kind").is_some())
        .collect()
}

fn key_of(r: &Row) -> (String, String) {
    (
        r.get("path").unwrap_or("").to_string(),
        r.get("variable").unwrap_or("").to_string(),
    )
}

/// Every expected row is there with the right columns, and nothing else.
fn check(env: &Env, planted: &Planted, rows: &[Row]) {
    let got: BTreeMap<(String, String), &Row> = secret_rows(rows)
        .into_iter()
        .map(|r| (key_of(r), r))
        .collect();
    let want: BTreeMap<(String, String), _> = planted
        .expected
        .iter()
        .map(|e| ((e.path.clone(), e.variable.clone()), e))
        .collect();
    let extra: Vec<_> = got.keys().filter(|k| !want.contains_key(*k)).collect();
    let missing: Vec<_> = want.keys().filter(|k| !got.contains_key(*k)).collect();
    assert!(
        extra.is_empty(),
        "unexpected rows (false positives): {extra:?}"
    );
    assert!(missing.is_empty(), "missing rows: {missing:?}");
    for (k, e) in want {
        let r = got[&k];
        assert_eq!(r.get("secret_kind"), Some(e.secret_kind), "{k:?}");
        assert_eq!(r.get("credential_lifetime"), Some(e.lifetime), "{k:?}");
        assert_eq!(
            r.get("fingerprint").map(str::to_string),
            e.value.as_ref().map(|v| env.key.fingerprint(v.as_bytes())),
            "{k:?}"
        );
        assert_eq!(r.get("fingerprint_scope"), Some("fleet"), "{k:?}");
        assert_eq!(
            r.get("pid").map(str::to_string),
            e.pid.map(|p| p.to_string()),
            "{k:?}"
        );
        assert_eq!(r.get("key_id").map(str::to_string), e.key_id, "{k:?}");
        if let Some(o) = e.readable_by_others {
            assert_eq!(r.get("source"), Some("file"), "{k:?}");
            assert_eq!(r.get("readable_by_others"), Some(o), "{k:?}");
            assert!(r.get("mode").is_some_and(|m| m.len() == 4), "{k:?}");
        } else {
            assert_eq!(r.get("source"), Some("process_env"), "{k:?}");
            assert!(r.get("process_name").is_some(), "{k:?}");
            assert!(r.get("uid").is_some(), "{k:?}");
        }
        assert_eq!(r.get("status"), Some("ok"), "{k:?}");
        assert!(r.get("detector").is_some(), "{k:?}");
    }
}

#[test]
fn every_kind_row_by_row_and_no_look_alike() {
    let fh = FakeHost::new();
    let planted = plant_every_kind(&fh);
    let env = table(&fh);
    let rows = env.table.generate(&QueryContext::all()).unwrap();
    check(&env, &planted, &rows);
    // The process whose environ is not a file is counted in a status row.
    let status: Vec<_> = rows
        .iter()
        .filter(|r| r.get("status") != Some("ok"))
        .collect();
    assert_eq!(status.len(), 1, "{status:?}");
    assert!(status[0]
        .get("status")
        .unwrap()
        .starts_with("not_regular: 1 process environment not examined"));
    // The seed's token in the environment and in the HF cache: one fingerprint.
    let fp = |path: &str, var: &str| {
        rows.iter()
            .find(|r| r.get("path") == Some(path) && r.get("variable") == Some(var))
            .and_then(|r| r.get("fingerprint"))
            .unwrap()
            .to_string()
    };
    assert_eq!(
        fp("/proc/4242/environ", "HF_TOKEN"),
        fp("/home/alice/.cache/huggingface/token", "token")
    );
    assert_eq!(
        fp("/proc/4242/environ", "AWS_SECRET_ACCESS_KEY"),
        fp(
            "/home/alice/.aws/credentials",
            "[default] aws_secret_access_key"
        )
    );
    // Expiry where the format says.
    let sso = rows
        .iter()
        .find(|r| r.get("variable") == Some("accessToken"))
        .unwrap();
    assert_eq!(sso.get("expires"), Some("1893553445"));
    let cp = rows
        .iter()
        .find(|r| r.get("secret_kind") == Some("aws_credential_process"))
        .unwrap();
    assert!(cp.get("note").unwrap().contains("credential_process"));
    let sa = rows
        .iter()
        .find(|r| r.get("path") == Some("/home/bob/keys/sa.json"))
        .unwrap();
    assert!(sa
        .get("note")
        .unwrap()
        .starts_with("named by GOOGLE_APPLICATION_CREDENTIALS of process 4500; service account "));
    // The command line is there, redacted.
    let pip = rows.iter().find(|r| r.get("pid") == Some("4300")).unwrap();
    assert_eq!(
        pip.get("cmdline"),
        Some("uv pip install -r requirements.txt")
    );
}

#[test]
fn where_pid_reads_only_that_process() {
    let fh = FakeHost::new();
    let planted = plant_every_kind(&fh);
    let env = table(&fh);
    // Make every other process unreadable: a scan that touched them would
    // report a status row.
    for pid in ["4300", "4400", "4600", "2"] {
        fh.remove(&Path::new("/proc").join(pid).join("environ"));
        fh.mkdir(Path::new("/proc").join(pid).join("environ"));
    }
    let rows = env
        .table
        .generate(&QueryContext::all().with("pid", Operator::Equals, "4242"))
        .unwrap();
    let mut p = planted.clone();
    p.expected.retain(|e| e.pid == Some(4242));
    check(&env, &p, &rows);
    assert!(rows.iter().all(|r| r.get("pid") == Some("4242")));
    // A process whose environment names a credential file: the file too.
    let rows = env
        .table
        .generate(&QueryContext::all().with("pid", Operator::Equals, "4500"))
        .unwrap();
    let mut p = planted.clone();
    p.expected.retain(|e| e.pid == Some(4500));
    check(&env, &p, &rows);
    // An unreadable one gives a status row for it.
    let rows = env
        .table
        .generate(&QueryContext::all().with("pid", Operator::Equals, "4600"))
        .unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].get("pid"), Some("4600"));
    assert!(rows[0].get("status").unwrap().starts_with("not_regular"));
}

#[test]
fn where_path_reads_only_that_file() {
    let fh = FakeHost::new();
    let planted = plant_every_kind(&fh);
    let env = table(&fh);
    for e in planted
        .expected
        .iter()
        .filter(|e| e.readable_by_others.is_some())
    {
        if e.pid.is_some() {
            continue;
        }
        let rows = env
            .table
            .generate(&QueryContext::all().with("path", Operator::Equals, e.path.clone()))
            .unwrap();
        let mut p = planted.clone();
        p.expected.retain(|x| x.path == e.path && x.pid.is_none());
        check(&env, &p, &rows);
        assert!(rows.iter().all(|r| r.get("path") == Some(e.path.as_str())));
    }
    // An environ path is a process.
    let rows = env
        .table
        .generate(&QueryContext::all().with("path", Operator::Equals, "/proc/4300/environ"))
        .unwrap();
    assert_eq!(secret_rows(&rows).len(), 3);
    // A file of no known kind: `.env` lines and shapes anywhere.
    let tok = common::secrets::github_pat(99);
    fh.write(
        "/srv/app/settings.yaml",
        format!("github:\n  token: {tok}\nregion: us-east-1\n"),
    );
    let rows = env
        .table
        .generate(&QueryContext::all().with("path", Operator::Equals, "/srv/app/settings.yaml"))
        .unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].get("secret_kind"), Some("github_pat"));
    assert_eq!(
        rows[0].get("fingerprint").map(str::to_string),
        Some(env.key.fingerprint(tok.as_bytes()))
    );
    // Missing, FIFO and directory: a status row each, with the path as asked.
    let missing = env
        .table
        .generate(&QueryContext::all().with("path", Operator::Equals, "/home/alice/nope"))
        .unwrap();
    assert!(missing[0].get("status").unwrap().starts_with("not_found"));
    let fifo = fh.real(Path::new("/home/alice/.netrc"));
    std::fs::remove_file(&fifo).unwrap();
    let c = std::ffi::CString::new(fifo.as_os_str().to_str().unwrap()).unwrap();
    // SAFETY: c is a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
    let rows = env
        .table
        .generate(&QueryContext::all().with("path", Operator::Equals, "/home/alice/.netrc"))
        .unwrap();
    assert_eq!(rows.len(), 1);
    assert!(rows[0].get("status").unwrap().starts_with("not_regular"));
    // ...and the whole-table scan reports it without blocking.
    let rows = env.table.generate(&QueryContext::all()).unwrap();
    assert!(rows
        .iter()
        .any(|r| r.get("path") == Some("/home/alice/.netrc")
            && r.get("status").unwrap().starts_with("not_regular")));
}

#[test]
fn seed_attack_fires_and_benign_twin_is_silent() {
    let fh = FakeHost::new();
    let planted = plant_seed_attack(&fh);
    let env = table(&fh);
    let rows = env.table.generate(&QueryContext::all()).unwrap();
    check(&env, &planted, &rows);
    let creds = rows
        .iter()
        .find(|r| r.get("path") == Some("/home/alice/.aws/credentials"))
        .unwrap();
    assert_eq!(creds.get("readable_by_others"), Some("1"));
    assert_eq!(creds.get("mode"), Some("0644"));

    let twin = FakeHost::new();
    plant_seed_benign(&twin);
    let env = table(&twin);
    let rows = env.table.generate(&QueryContext::all()).unwrap();
    assert!(rows.is_empty(), "{rows:?}");
}

#[test]
fn state_dir_inside_the_root_is_never_written() {
    let fh = FakeHost::new();
    plant_seed_attack(&fh);
    let settings = Settings {
        state_dir: fh.real(Path::new("/var/lib/squatch")),
        ..Settings::default()
    };
    let t = squatch::tables::registry_with(Arc::new(fh.host()), &settings)
        .into_iter()
        .find(|t| t.name() == "secret_exposure")
        .unwrap();
    let rows = t.generate(&QueryContext::all()).unwrap();
    assert_eq!(secret_rows(&rows).len(), 4);
    assert!(rows
        .iter()
        .filter(|r| r.get("secret_kind").is_some())
        .all(|r| r.get("fingerprint_scope") == Some("run")));
    assert!(!fh.real(Path::new("/var/lib/squatch")).exists());
}
