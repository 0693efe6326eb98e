//! `python_typosquat_scores` and `python_typosquat_variants` on fake hosts,
//! through `Table::generate` and through the embedded SQL engine (constraint
//! pushdown of `name = ...`, `IN (...)`, `target = ...`).

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;

use common::{generate, FakeHost};
use squatch::sql::Engine;
use squatch::table::{Operator, QueryContext};
use squatch::tables::python_typosquat_scores::PythonTyposquatScores;
use squatch::tables::python_typosquat_variants::PythonTyposquatVariants;

type Rows = Vec<BTreeMap<String, String>>;

/// Two environments: a project venv with the seed scenario's typosquat, and a
/// conda env sharing one name with it.
fn ml_host() -> FakeHost {
    let fh = FakeHost::new();
    fh.passwd(&[("alice", 1000, "/home/alice")]);
    let venv = fh.venv("/home/alice/proj/.venv", "3.12", false);
    for (name, version) in [
        ("torch", "2.5.1"),
        ("torchvision", "0.20.1"),
        ("torch-utilites", "0.1.0"),
        ("reqeusts", "2.31.0"),
        ("Requests", "2.32.3"),
        ("tensorflow_gpu", "2.11.0"),
    ] {
        fh.dist(&venv, name, version).installer("pip").write();
    }
    let conda = fh.conda("/opt/conda", "3.11");
    for (name, version) in [("numpy", "2.1.0"), ("reqeusts", "2.31.0")] {
        fh.dist(&conda, name, version).write();
    }
    fh
}

fn row<'a>(rows: &'a Rows, normalized: &str) -> &'a BTreeMap<String, String> {
    rows.iter()
        .find(|r| r["normalized_name"] == normalized)
        .unwrap_or_else(|| panic!("no row for {normalized}: {rows:#?}"))
}

#[test]
fn one_row_per_distinct_installed_name() {
    let fh = ml_host();
    let table = PythonTyposquatScores::new(Arc::new(fh.host()));
    let rows = generate(&table, &QueryContext::all());
    let names: Vec<&str> = rows.iter().map(|r| r["normalized_name"].as_str()).collect();
    assert_eq!(
        names,
        [
            "numpy",
            "reqeusts",
            "requests",
            "tensorflow-gpu",
            "torch",
            "torch-utilites",
            "torchvision"
        ]
    );

    let r = row(&rows, "reqeusts");
    assert_eq!(r["target"], "requests");
    assert_eq!(r["technique"], "swapped \"eu\" -> \"ue\"");
    assert_eq!(r["distance"], "1");
    assert_eq!(r["flagged"], "1");
    assert_eq!(r["installed"], "1");
    let envs: Vec<&str> = r["environments"].split(':').collect();
    assert_eq!(envs.len(), 2, "{envs:?}");
    assert!(envs.contains(&"/opt/conda"));

    let t = row(&rows, "torch-utilites");
    assert_eq!(t["target"], "torch");
    assert!(
        t["technique"].contains("\"utilites\""),
        "{}",
        t["technique"]
    );
    assert!(t["score"].parse::<f64>().unwrap() >= 0.8);
    assert_eq!(
        t["target_rank"],
        squatch::typosquat::Index::embedded()
            .rank_of("torch")
            .unwrap()
            .to_string()
    );

    // Legitimate neighbours and families are not flagged.
    for legit in [
        "torch",
        "torchvision",
        "numpy",
        "requests",
        "tensorflow-gpu",
    ] {
        let r = row(&rows, legit);
        assert_eq!(r["flagged"], "0", "{legit}: {r:?}");
        assert_eq!(r["known_malicious"], "0");
    }
    assert_eq!(
        row(&rows, "requests")["name"],
        "Requests",
        "name as installed"
    );
    assert_eq!(row(&rows, "torch")["is_popular"], "1");
    assert_eq!(row(&rows, "tensorflow-gpu")["is_popular"], "0");
}

#[test]
fn named_names_are_scored_whether_installed_or_not() {
    let fh = ml_host();
    let table = PythonTyposquatScores::new(Arc::new(fh.host()));
    let ctx = QueryContext::all()
        .with("name", Operator::Equals, "tensorfllow")
        .with("name", Operator::Equals, "torch-utilites")
        .using(&["name", "score", "known_malicious", "installed", "target"]);
    let rows = generate(&table, &ctx);
    assert_eq!(rows.len(), 2);
    let tf = row(&rows, "tensorfllow");
    assert_eq!(tf["installed"], "0");
    assert_eq!(
        tf["known_malicious"], "1",
        "tensorfllow is an OpenSSF MAL- entry"
    );
    assert_eq!(tf["score"], "1");
    assert_eq!(tf["target"], "tensorflow");
    assert!(tf["malicious_ids"].starts_with("MAL-"));
    assert_eq!(row(&rows, "torch-utilites")["installed"], "1");
}

#[test]
fn environment_constraint_scans_only_that_environment() {
    let fh = ml_host();
    let table = PythonTyposquatScores::new(Arc::new(fh.host()));
    let ctx = QueryContext::all().with("environment", Operator::Equals, "/opt/conda");
    let rows = generate(&table, &ctx);
    let names: Vec<&str> = rows.iter().map(|r| r["normalized_name"].as_str()).collect();
    assert_eq!(names, ["numpy", "reqeusts"]);
    assert!(rows.iter().all(|r| r["environment"] == "/opt/conda"));
}

#[test]
fn an_empty_host_gives_no_rows_and_no_error() {
    let fh = FakeHost::new();
    let table = PythonTyposquatScores::new(Arc::new(fh.host()));
    assert!(generate(&table, &QueryContext::all()).is_empty());
}

#[test]
fn variants_say_which_are_installed_and_taken() {
    let fh = ml_host();
    let table = PythonTyposquatVariants::new(Arc::new(fh.host()));
    let ctx = QueryContext::all().with("target", Operator::Equals, "requests");
    let rows = generate(&table, &ctx);
    let v = |name: &str| {
        rows.iter()
            .find(|r| r["variant"] == name)
            .unwrap_or_else(|| panic!("no variant {name}"))
    };
    let r = v("reqeusts");
    assert_eq!(r["technique"], "swapped \"eu\" -> \"ue\"");
    assert_eq!(r["installed"], "1");
    assert_eq!(r["distance"], "1");
    let r = v("reqests");
    assert_eq!(r["installed"], "0");
    // `requests2` is a known-malicious name: registered, by an attacker.
    let taken = rows.iter().filter(|r| r["known_malicious"] == "1").count();
    assert!(taken >= 3, "known-malicious variants of requests: {taken}");
    assert!(rows.iter().all(|r| r["target"] == "requests"));
}

#[test]
fn through_sql_in_lists_and_required_target() {
    let fh = ml_host();
    let host = Arc::new(fh.host());
    let engine = Engine::new(&squatch::tables::registry(host)).unwrap();
    let res = engine
        .query(
            "SELECT name, target, technique, flagged FROM python_typosquat_scores \
             WHERE name IN ('reqeusts', 'torchvision', 'python-torch') ORDER BY name",
        )
        .unwrap();
    let rows = &res[0].rows;
    assert_eq!(rows.len(), 3, "{rows:?}");
    let get = |i: usize, j: usize| rows[i][j].as_deref().unwrap_or("");
    assert_eq!(
        (get(0, 0), get(0, 1), get(0, 3)),
        ("python-torch", "torch", "1")
    );
    assert_eq!(
        (get(1, 0), get(1, 1), get(1, 3)),
        ("reqeusts", "requests", "1")
    );
    assert_eq!((get(2, 0), get(2, 3)), ("torchvision", "0"));

    let res = engine
        .query("SELECT count(*) FROM python_typosquat_variants WHERE target = 'torch' AND variant = 'torch-gpu'")
        .unwrap();
    assert_eq!(res[0].rows[0][0].as_deref(), Some("1"));
    assert!(engine
        .query("SELECT * FROM python_typosquat_variants")
        .is_err());
}
