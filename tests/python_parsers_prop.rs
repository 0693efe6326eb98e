//! Property tests for the Python parsers of untrusted bytes: core metadata,
//! RECORD lines, direct_url.json and credential stripping. None may panic,
//! and credentials must never survive stripping.

use proptest::prelude::*;
use squatch::python::direct_url::{strip_credentials, DirectUrl};
use squatch::python::metadata::Metadata;
use squatch::python::normalize_name;
use squatch::python::record::{parse_record_line, resolve_entry};
use std::path::Path;

proptest! {
    #[test]
    fn metadata_parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..4096), truncated in any::<bool>()) {
        let _ = Metadata::parse(&bytes, truncated);
    }

    #[test]
    fn metadata_round_trips_simple_headers(
        name in "[A-Za-z][A-Za-z0-9._-]{0,30}",
        version in "[0-9]{1,3}(\\.[0-9]{1,3}){0,3}",
        summary in "[ -~]{0,60}",
    ) {
        let text = format!("Metadata-Version: 2.1\nName: {name}\nVersion: {version}\nSummary: {summary}\n\nbody: x\n");
        let md = Metadata::parse(text.as_bytes(), false);
        prop_assert_eq!(md.name.as_deref(), Some(name.as_str()));
        prop_assert_eq!(md.version.as_deref(), Some(version.as_str()));
        let s = summary.trim();
        if s.is_empty() || s.eq_ignore_ascii_case("unknown") {
            prop_assert_eq!(md.summary, None);
        } else {
            prop_assert_eq!(md.summary.as_deref(), Some(s));
        }
    }

    #[test]
    fn record_lines_never_panic_and_resolve_inside_the_root(line in "\\PC{0,200}") {
        if let Some((path, _, _)) = parse_record_line(&line) {
            let p = resolve_entry(Path::new("/v/lib/python3.12/site-packages"), &path);
            prop_assert!(p.is_absolute());
            prop_assert!(!p.components().any(|c| matches!(c, std::path::Component::ParentDir)));
        }
    }

    #[test]
    fn direct_url_parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = DirectUrl::parse(&bytes);
    }

    #[test]
    fn userinfo_secrets_never_survive(
        scheme in "(https|http|git\\+https|git\\+ssh|svn\\+https)",
        user in "[A-Za-z0-9_.~-]{1,20}",
        secret in "SECRET[A-Za-z0-9_~-]{4,30}",
        host in "[a-z]{1,10}\\.(invalid|example)",
        path in "(/[A-Za-z0-9_.-]{0,12}){0,4}",
        query in "(\\?(token|key|sig|x)=SECRET[A-Za-z0-9]{1,8})?",
    ) {
        for url in [
            format!("{scheme}://{user}:{secret}@{host}{path}{query}"),
            format!("{scheme}://{secret}@{host}{path}"),
        ] {
            let stripped = strip_credentials(&url);
            if !query.contains("x=") {
                prop_assert!(!stripped.contains("SECRET"), "{} -> {}", url, stripped);
            }
            prop_assert!(stripped.contains(&host));
            let json = format!(r#"{{"url":"{url}","archive_info":{{}}}}"#);
            if let Ok(d) = DirectUrl::parse(json.as_bytes()) {
                prop_assert!(!d.url.contains(&secret));
            }
        }
    }

    #[test]
    fn normalized_names_are_a_fixed_point(name in "\\PC{0,40}") {
        let once = normalize_name(&name);
        prop_assert_eq!(normalize_name(&once), once.clone());
        prop_assert!(!once.contains("--") && !once.contains('_') && !once.contains('.'));
    }
}
