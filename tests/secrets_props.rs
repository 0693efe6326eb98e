//! Property tests: random environment blocks (non-UTF-8 bytes, entries
//! without `=`, huge values, stray NULs) never panic the secret table and
//! never come back in a row; random text through the detectors and the URL
//! redactor never panics, and a token placed anywhere in a URL is removed.

mod common;

use std::sync::Arc;

use proptest::prelude::*;
use squatch::secrets::{redact_url, Detectors};
use squatch::settings::Settings;
use squatch::table::{QueryContext, Row};

use common::FakeHost;

/// One environment entry: a name (often a secret's) and value bytes.
fn entry() -> impl Strategy<Value = Vec<u8>> {
    let name = prop_oneof![
        Just(b"HF_TOKEN".to_vec()),
        Just(b"AWS_SECRET_ACCESS_KEY".to_vec()),
        Just(b"AWS_ACCESS_KEY_ID".to_vec()),
        Just(b"PIP_INDEX_URL".to_vec()),
        Just(b"MY_API_KEY".to_vec()),
        Just(b"GOOGLE_APPLICATION_CREDENTIALS".to_vec()),
        proptest::collection::vec(any::<u8>(), 0..24),
    ];
    let value = prop_oneof![
        4 => proptest::collection::vec(any::<u8>(), 0..200),
        2 => "[A-Za-z0-9_+/=-]{12,80}".prop_map(|s| s.into_bytes()),
        1 => proptest::collection::vec(any::<u8>(), 20_000..120_000),
        1 => "(https?://[a-z]{1,8}:[A-Za-z0-9]{12,30}@[a-z.]{3,20}/simple)".prop_map(|s| s.into_bytes()),
    ];
    (name, any::<bool>(), value).prop_map(|(mut n, eq, v)| {
        if eq {
            n.push(b'=');
        }
        n.extend(v);
        n
    })
}

fn block() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec((entry(), 0usize..3), 0..12).prop_map(|es| {
        let mut b = Vec::new();
        for (e, nuls) in es {
            b.extend(e);
            b.extend(std::iter::repeat_n(0u8, nuls));
        }
        b
    })
}

/// The values of a block as the table sees them (lossy UTF-8), those long
/// enough to be recognisable; AWS key ids are identifiers squatch may show.
fn values(block: &[u8]) -> Vec<String> {
    block
        .split(|&b| b == 0)
        .filter_map(|e| {
            let eq = e.iter().position(|&b| b == b'=')?;
            let v = String::from_utf8_lossy(&e[eq + 1..]).into_owned();
            Some(v)
        })
        .filter(|v| v.trim().chars().count() >= 12)
        .filter(|v| {
            let t = v.trim();
            !(t.len() == 20 && t.starts_with(['A']) && t.bytes().all(|b| b.is_ascii_alphanumeric()))
        })
        .collect()
}

fn windows(v: &str, step: usize) -> Vec<String> {
    let chars: Vec<char> = v.trim().chars().collect();
    if chars.len() < 12 {
        return Vec::new();
    }
    (0..=chars.len() - 12)
        .step_by(step.max(1))
        .map(|i| chars[i..i + 12].iter().collect())
        .collect()
}

fn run_table(fh: &FakeHost, state: &std::path::Path) -> Vec<Row> {
    let settings = Settings {
        state_dir: state.to_path_buf(),
        ..Settings::default()
    };
    let t = squatch::tables::registry_with(Arc::new(fh.host()), &settings)
        .into_iter()
        .find(|t| t.name() == "secret_exposure")
        .unwrap();
    t.generate(&QueryContext::all()).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn random_environments_never_panic_nor_echo(b in block()) {
        let fh = FakeHost::new();
        let state = tempfile::tempdir().unwrap();
        fh.write("/proc/7/environ", &b);
        fh.write("/proc/7/status", "Name:\tpython3\nUid:\t0\t0\t0\t0\n");
        fh.write("/proc/7/cmdline", b"python3\0");
        let rows = run_table(&fh, state.path());
        let text: Vec<String> = rows
            .iter()
            .flat_map(|r| r.iter().map(|(_, v)| v.to_string()).collect::<Vec<_>>())
            .collect();
        // Names are shown by design; a window that is part of a name (the
        // generator can glue a name onto a value) says nothing.
        let names: Vec<String> = b
            .split(|&c| c == 0)
            .filter_map(|e| e.iter().position(|&c| c == b'=').map(|i| String::from_utf8_lossy(&e[..i]).into_owned()))
            .collect();
        for v in values(&b) {
            let step = if v.len() > 1000 { 257 } else { 1 };
            for w in windows(&v, step) {
                for t in &text {
                    if t.contains(&w) {
                        prop_assert!(
                            names.iter().any(|n| n.contains(&w)),
                            "a value came back in a row"
                        );
                    }
                }
            }
        }
        for r in &rows {
            prop_assert!(r.get("pid") == Some("7") || r.get("source") == Some("file"));
        }
    }

    #[test]
    fn detectors_never_panic_and_spans_are_sound(name in ".{0,40}", value in ".{0,400}") {
        let d = Detectors::builtin();
        for h in d.match_entry(&name, &value) {
            prop_assert!(h.span.end <= value.len());
            prop_assert!(value.get(h.span.clone()).is_some());
        }
        for h in d.shapes_in(&value) {
            prop_assert!(value.get(h.span.clone()).is_some());
        }
    }

    #[test]
    fn redact_url_never_panics_and_removes_a_planted_token(
        junk in ".{0,200}",
        place in 0usize..5,
        host in "[a-z]{1,10}\\.invalid",
        tail in "[A-Za-z]{34}",
    ) {
        let _ = redact_url(&junk);
        let token = format!("{}{}", "hf".to_owned() + "_", tail);
        let url = match place {
            0 => format!("https://user:{token}@{host}/simple/"),
            1 => format!("https://{token}@{host}/simple/"),
            2 => format!("https://{host}/{token}/simple/"),
            3 => format!("https://{host}/simple/?innocent={token}&page=2"),
            _ => format!("https://{host}/x.whl#token={token}"),
        };
        let out = redact_url(&url);
        prop_assert!(!out.contains(&token), "{}", out);
        prop_assert!(out.contains(&host));
    }
}
