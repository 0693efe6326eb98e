//! URL-shaped metadata goes through the one redactor: `home_page` and
//! `direct_url` of `python_package_provenance` lose userinfo, and tokens in
//! the path, the query (under any key) and the fragment.

mod common;

use std::sync::Arc;

use common::secrets::{github_pat, hf_token, opaque};
use common::FakeHost;
use squatch::table::{QueryContext, Table};

#[test]
fn provenance_urls_are_redacted() {
    let fh = FakeHost::new();
    let site = fh.venv("/opt/app/.venv", "3.12", false);
    let pw = opaque(1, 20);
    let path_tok = hf_token(2);
    let q_tok = github_pat(3);
    let frag = opaque(4, 24);
    fh.dist(&site, "private-helper", "1.0")
        .field(
            "Home-page",
            &format!("https://alice:{pw}@home.example.invalid/helper"),
        )
        .direct_url(&format!(
            r#"{{"url":"https://pkgs.example.invalid/{path_tok}/simple/h-1.0.whl?page=2&q={q_tok}#token={frag}","archive_info":{{}}}}"#
        ))
        .write();
    fh.dist(&site, "plain", "2.0")
        .field("Home-page", "https://github.com/example/plain")
        .direct_url(r#"{"url":"git+https://github.com/example/plain.git","vcs_info":{"vcs":"git","commit_id":"0123456789abcdef0123456789abcdef01234567"}}"#)
        .write();
    let t = squatch::tables::python_package_provenance::PythonPackageProvenance::new(Arc::new(
        fh.host(),
    ));
    let rows = t.generate(&QueryContext::all()).unwrap();
    let row = |name: &str| {
        rows.iter()
            .find(|r| r.get("name") == Some(name))
            .unwrap()
            .clone()
    };
    let h = row("private-helper");
    assert_eq!(
        h.get("home_page"),
        Some("https://home.example.invalid/helper")
    );
    assert_eq!(
        h.get("direct_url"),
        Some("https://pkgs.example.invalid/REDACTED/simple/h-1.0.whl?page=2&q=REDACTED#token=REDACTED")
    );
    let p = row("plain");
    assert_eq!(p.get("home_page"), Some("https://github.com/example/plain"));
    assert_eq!(
        p.get("direct_url"),
        Some("git+https://github.com/example/plain.git")
    );
    for r in &rows {
        for (_, v) in r.iter() {
            for s in [&pw, &path_tok, &q_tok, &frag] {
                assert!(!v.contains(s.as_str()));
            }
        }
    }
}
