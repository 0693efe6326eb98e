//! Property tests for the parsers of untrusted bytes in `findings`: the
//! scanner, the evidence excerpt/redaction and the archive reader never
//! panic, stay bounded, and never let a token-shaped secret through.

use proptest::prelude::*;
use squatch::findings::archive::{scan_archive, Limits};
use squatch::findings::redact::{excerpt, redact, MAX_EVIDENCE_CHARS};
use squatch::findings::{scan_source_with_floor, Role, RuleSet, Severity};

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn scanner_never_panics_and_reports_real_lines(bytes in proptest::collection::vec(any::<u8>(), 0..4096)) {
        let scan = scan_source_with_floor(RuleSet::builtin(), &bytes, Role::Install, Severity::Info);
        let lines = bytes.iter().filter(|&&b| b == b'\n').count() as u64 + 1;
        for f in &scan.findings {
            prop_assert!(f.line.unwrap_or(1) >= 1 && f.line.unwrap_or(1) <= lines);
            prop_assert!(f.evidence.chars().count() <= MAX_EVIDENCE_CHARS + 2);
        }
    }

    #[test]
    fn scanner_on_code_like_text(text in "(exec|eval|urlopen|requests\\.post|os\\.environ|AWS_SECRET_ACCESS_KEY|b64decode|\\(|\\)|\\.| |\n|[a-z]{1,6}|'|\"){0,200}") {
        let scan = scan_source_with_floor(RuleSet::builtin(), text.as_bytes(), Role::Module, Severity::Info);
        for f in &scan.findings {
            prop_assert!(!f.rule_id.is_empty());
        }
    }

    #[test]
    fn excerpt_is_bounded_and_char_safe(line in "\\PC{0,600}", at in 0usize..700) {
        let ex = excerpt(&line, at);
        prop_assert!(ex.chars().count() <= MAX_EVIDENCE_CHARS + 2);
    }

    #[test]
    fn token_shapes_never_survive(prefix in "[ a-z=(\"']{0,20}", body in "[A-Za-z0-9]{36}", suffix in "[ )\"']{0,10}") {
        for token in [format!("ghp_{body}"), format!("hf_{body}"), format!("AKIA{}", &body.to_ascii_uppercase()[..16])] {
            let text = format!("{prefix}{token}{suffix}");
            let out = redact(&text);
            prop_assert!(!out.contains(&token), "{} -> {}", text, out);
            let ex = excerpt(&text, prefix.len());
            prop_assert!(!ex.contains(&token), "{} -> {}", text, ex);
        }
    }

    #[test]
    fn manifest_parsers_never_panic(text in r#"(console_scripts|cmdclass|entry_points|\[options\.entry_points\]|\[options\]|\[project\.scripts\]|\[console_scripts\]|name=|\[|\]|'''|"""|'|"|=|:|,| |\t|\n|[a-z]{1,6}|é){0,200}"#) {
        use squatch::findings::manifest::{self, Manifest};
        for m in [Manifest::SetupPy, Manifest::SetupCfg, Manifest::Pyproject, Manifest::EntryPointsTxt] {
            let lines = text.lines().count() as u64 + 1;
            for s in m.scripts(&text) {
                prop_assert!(!s.name.is_empty());
                prop_assert!(s.line.unwrap_or(1) >= 1 && s.line.unwrap_or(1) <= lines);
            }
            let _ = manifest::declared_name(m, &text);
        }
        let hooks = manifest::setup_cfg_cmdclass(&text);
        let _ = manifest::cmdclass_findings(&hooks, |_| true);
    }

    #[test]
    fn archive_reader_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..2048), kind in 0u8..4) {
        let mut data = match kind {
            0 => vec![0x1f, 0x8b],
            1 => b"PK\x03\x04".to_vec(),
            2 => b"BZh91AY&SY".to_vec(),
            _ => Vec::new(),
        };
        data.extend(bytes);
        let _ = scan_archive(RuleSet::builtin(), "x-1.0.tar.gz", &data, &Limits::default());
    }
}
