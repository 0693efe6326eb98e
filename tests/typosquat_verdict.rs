//! `python_typosquat_scores.verdict` and `evidence` on fake hosts: the same
//! near name is a typosquat when it copies its target's identity and ok when
//! it has its own (builders in `tests/common/typosquat.rs`).

mod common;

use std::sync::Arc;

use common::typosquat::{plant_copycat_typosquat, plant_distinct_near_name, project_venv};
use common::FakeHost;
use squatch::sql::Engine;

fn verdicts(fh: &FakeHost, sql: &str) -> Vec<Vec<String>> {
    let engine = Engine::new(&squatch::tables::registry(Arc::new(fh.host()))).unwrap();
    let res = engine.query(sql).unwrap();
    res[0]
        .rows
        .iter()
        .map(|r| r.iter().map(|v| v.clone().unwrap_or_default()).collect())
        .collect()
}

const SQL: &str = "SELECT name, score, verdict, evidence FROM python_typosquat_scores \
                   WHERE verdict != 'ok' ORDER BY name";

#[test]
fn copycat_near_name_is_a_typosquat_with_its_reasons() {
    let fh = FakeHost::new();
    let site = project_venv(&fh);
    plant_copycat_typosquat(&fh, &site);
    let rows = verdicts(&fh, SQL);
    assert_eq!(rows.len(), 1, "{rows:?}");
    let r = &rows[0];
    assert_eq!(r[0], "pyprod");
    assert!(r[1].parse::<f64>().unwrap() < 0.7, "weak shape: {}", r[1]);
    assert_eq!(r[2], "typosquat");
    for reason in [
        "summary copies pyproj's",
        "project URL points at pyproj's project",
        "installed recently, not requested, nothing depends on it",
        "install-time findings: ",
    ] {
        assert!(r[3].contains(reason), "{reason}: {}", r[3]);
    }
}

#[test]
fn near_name_with_its_own_identity_stays_ok() {
    let fh = FakeHost::new();
    let site = project_venv(&fh);
    plant_distinct_near_name(&fh, &site);
    assert!(verdicts(&fh, SQL).is_empty());
    let all = verdicts(
        &fh,
        "SELECT name, flagged, verdict, evidence FROM python_typosquat_scores WHERE name = 'pyprod' AND installed = 1",
    );
    assert_eq!(all.len(), 1, "{all:?}");
    assert_eq!(all[0][1], "1", "the shape alone flags it");
    assert_eq!(all[0][2], "ok");
    assert!(
        all[0][3].contains("own summary and own project URL"),
        "{:?}",
        all[0]
    );
}

#[test]
fn named_names_get_a_verdict_without_the_host() {
    let fh = FakeHost::new();
    let rows = verdicts(
        &fh,
        "SELECT name, verdict FROM python_typosquat_scores \
         WHERE name IN ('reqeusts', 'pyprod', 'requests', 'torchtriton') ORDER BY name",
    );
    let got: Vec<(&str, &str)> = rows
        .iter()
        .map(|r| (r[0].as_str(), r[1].as_str()))
        .collect();
    assert_eq!(
        got,
        [
            ("pyprod", "suspicious"),
            ("reqeusts", "typosquat"),
            ("requests", "ok"),
            ("torchtriton", "typosquat")
        ]
    );
}

/// The detection queries proposed for the packs, run with `squatch query`
/// on the attack host and its benign twin.
const PACK_QUERIES: &[(&str, &str)] = &[
    (
        "installed_typosquat_verdict",
        "SELECT name, target, score, verdict, evidence, environments FROM python_typosquat_scores WHERE verdict = 'typosquat'",
    ),
    (
        "typosquat_copies_target_identity",
        "SELECT name, target, score, evidence, environments FROM python_typosquat_scores WHERE verdict != 'ok' AND (evidence LIKE '%summary copies%' OR evidence LIKE '%points at%')",
    ),
    (
        "typosquat_with_install_time_code",
        "SELECT s.name, s.target, s.verdict, f.path, f.rule_id, f.severity FROM python_typosquat_scores s JOIN python_install_findings f ON f.package = s.name WHERE s.verdict != 'ok' AND f.severity IN ('high', 'critical')",
    ),
    (
        "typosquat_unrequested_recent_install",
        "SELECT name, target, score, verdict, evidence, environments FROM python_typosquat_scores WHERE verdict != 'ok' AND evidence LIKE '%not requested, nothing depends on it%'",
    ),
];

fn squatch_query(fh: &FakeHost, sql: &str) -> Vec<serde_json::Value> {
    common::query_json(fh.root(), &[], sql)
}

#[test]
fn proposed_pack_queries_fire_on_the_attack_only() {
    let attack = FakeHost::new();
    let site = project_venv(&attack);
    plant_copycat_typosquat(&attack, &site);
    let benign = FakeHost::new();
    let site = project_venv(&benign);
    plant_distinct_near_name(&benign, &site);
    for (name, sql) in PACK_QUERIES {
        let hits = squatch_query(&attack, sql);
        assert!(!hits.is_empty(), "{name} silent on the attack");
        assert!(
            hits.iter().all(|r| r["name"] == "pyprod"),
            "{name}: {hits:?}"
        );
        assert!(
            squatch_query(&benign, sql).is_empty(),
            "{name} fires on the benign twin"
        );
    }
}

/// Not a check: writes the shape-only reading of every name of
/// `$TYPOSQUAT_SHAPE_DUMP_IN` (one a line) to `$TYPOSQUAT_SHAPE_DUMP_OUT` as
/// `name, score, target, target rank, distance, technique, verdict, strong,
/// reason` (TSV), the index built without the known-malicious list: the
/// input `benches/attacked_targets.py` reads to find slip targets.
/// `cargo test --test typosquat_verdict -- --ignored shape_dump`.
#[test]
#[ignore]
fn shape_dump() {
    use squatch::typosquat::{data, judge, verdict::read_shape, Index};
    let (Ok(input), Ok(output)) = (
        std::env::var("TYPOSQUAT_SHAPE_DUMP_IN"),
        std::env::var("TYPOSQUAT_SHAPE_DUMP_OUT"),
    ) else {
        panic!("set TYPOSQUAT_SHAPE_DUMP_IN and TYPOSQUAT_SHAPE_DUMP_OUT");
    };
    let index = Index::from_tsv(data::TOP_TSV, "", data::CURATED_TSV);
    let mut out = String::new();
    for n in std::fs::read_to_string(input).unwrap().lines() {
        let a = index.assess(n);
        let r = read_shape(&a);
        out.push_str(&format!(
            "{n}\t{:.3}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\n",
            a.score,
            a.target.clone().unwrap_or_default(),
            a.target_rank.map(|r| r.to_string()).unwrap_or_default(),
            a.distance.map(|r| r.to_string()).unwrap_or_default(),
            a.technique,
            judge(&a, None).verdict.as_str(),
            r.strong,
            r.reason.unwrap_or_default()
        ));
    }
    std::fs::write(output, out).unwrap();
}
