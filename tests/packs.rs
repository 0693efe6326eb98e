//! The packs: `packs/queries.toml` (the source of truth) against the files
//! written from it (osquery's `packs/squatch.conf`, Fleet's `packs/fleet/`),
//! osquery's real schema, and fake hosts.
//!
//! `SQUATCH_WRITE_PACKS=1 cargo test --test packs` rewrites the pack files
//! from the source. `--nocapture` prints each query's cost on its fake host.
//!
//! To add a query: add it to packs/queries.toml, add its attack and clean
//! twin to `tests/common/<area>.rs`, add one line to [`CASES`] (packs/README.md).

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use common::packs::{self as fx, Scene};
use squatch::host::Host;
use squatch::packs::{Kind, Pack, PackQuery, FLEET_LABEL_SQL};
use squatch::sql::Engine;
use yaml_rust2::{Yaml, YamlLoader};

/// osquery's columns for the built-in tables the packs may join (attributed
/// in tests/data/README.md).
const SCHEMAS: &str = include_str!("data/osquery-5.23.1-schemas.json");

/// Tables whose values are secrets in clear text: never named by a query.
const FORBIDDEN: &[&str] = &["process_envs", "docker_container_envs", "env_variables"];

/// One fixture pair per pack query: the attack it must fire on and the clean
/// twin it must stay silent on (`None`: the query does not read the host, so
/// it only has to return rows). Inventory queries' "attack" is a host that
/// has the thing inventoried.
struct Case {
    query: &'static str,
    attack: fn(&Scene),
    clean: Option<fn(&Scene)>,
}

const CASES: &[Case] = &[
    Case {
        query: "python_environments",
        attack: fx::typosquat_clean,
        clean: Some(|_| {}),
    },
    Case {
        query: "typosquat_variants_registered",
        attack: |_| {},
        clean: None,
    },
    Case {
        query: "typosquat_installed",
        attack: fx::typosquat_installed,
        clean: Some(fx::typosquat_clean),
    },
    Case {
        query: "install_findings_high",
        attack: fx::install_payload,
        clean: Some(fx::install_payload_clean),
    },
    Case {
        query: "pth_executable",
        attack: fx::pth_unowned,
        clean: Some(fx::pth_owned),
    },
    Case {
        query: "package_record_mismatch",
        attack: fx::record_tampered,
        clean: Some(fx::record_intact),
    },
    Case {
        query: "package_direct_url",
        attack: fx::direct_url_install,
        clean: Some(fx::index_install),
    },
    Case {
        query: "new_python_packages",
        attack: fx::index_install,
        clean: Some(|_| {}),
    },
    Case {
        query: "package_tool_network_outside_allowlist",
        attack: fx::pip_outbound,
        clean: Some(fx::pip_via_proxy),
    },
    Case {
        query: "gpu_loading_path_injection",
        attack: fx::gpu_loading_path_attack,
        clean: Some(fx::gpu_loading_path_clean),
    },
    Case {
        query: "gpu_driver_drift",
        attack: fx::gpu_driver_drifted,
        clean: Some(fx::gpu_loading_path_clean),
    },
    Case {
        query: "gpu_container_toolkit_vulnerable",
        attack: fx::gpu_toolkit_old,
        clean: Some(fx::gpu_loading_path_clean),
    },
    Case {
        query: "gpu_process_suspicious_exe",
        attack: fx::gpu_miner_host_only,
        clean: Some(fx::gpu_training_host_only),
    },
    Case {
        query: "gpu_busy_outside_training_jobs",
        attack: fx::gpu_miner,
        clean: Some(fx::gpu_training_only),
    },
    Case {
        query: "nvidia_gpus",
        attack: fx::gpu_present,
        clean: Some(|_| {}),
    },
    Case {
        query: "typosquat_in_dependency_files",
        attack: fx::deps_attack,
        clean: Some(fx::deps_clean),
    },
    Case {
        query: "requirements_unpinned_or_unhashed",
        attack: fx::deps_attack,
        clean: Some(fx::deps_clean),
    },
    Case {
        query: "requirements_pinning_rate",
        attack: fx::deps_attack,
        clean: Some(|_| {}),
    },
    Case {
        query: "package_index_risk",
        attack: fx::deps_attack,
        clean: Some(fx::deps_clean),
    },
    Case {
        query: "secret_long_lived_cloud_key_in_process_env",
        attack: fx::secrets_attack,
        clean: Some(fx::secrets_clean),
    },
    Case {
        query: "secret_credential_file_readable_by_others",
        attack: fx::secrets_attack,
        clean: Some(fx::secrets_clean),
    },
    Case {
        query: "secret_in_installer_or_ci_env",
        attack: fx::secrets_attack,
        clean: Some(fx::secrets_clean),
    },
    Case {
        query: "secret_same_fingerprint_in_several_places",
        attack: fx::secrets_attack,
        clean: Some(fx::secrets_clean),
    },
    Case {
        query: "drill_canary_planted",
        attack: fx::drill_canary,
        clean: Some(fx::drill_canary_clean),
    },
    Case {
        query: "record_unverifiable",
        attack: fx::record_missing,
        clean: Some(fx::index_install),
    },
];

fn pack() -> &'static Pack {
    Pack::embedded().expect("packs/queries.toml parses")
}

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn schemas() -> BTreeMap<String, Vec<(String, String)>> {
    let v: serde_json::Value = serde_json::from_str(SCHEMAS).unwrap();
    v.as_object()
        .unwrap()
        .iter()
        .map(|(t, cols)| {
            let cols = cols
                .as_array()
                .unwrap()
                .iter()
                .map(|c| {
                    (
                        c[0].as_str().unwrap().to_string(),
                        c[1].as_str().unwrap().to_string(),
                    )
                })
                .collect();
            (t.clone(), cols)
        })
        .collect()
}

/// Creates `table` as a plain SQLite table with osquery's columns.
fn create_builtin(engine: &Engine, table: &str) {
    let schemas = schemas();
    let cols = schemas
        .get(table)
        .unwrap_or_else(|| panic!("{table} is not in tests/data/osquery-5.23.1-schemas.json: copy its columns from osquery's spec"));
    let cols: Vec<String> = cols.iter().map(|(c, t)| format!("\"{c}\" {t}")).collect();
    engine
        .connection()
        .execute_batch(&format!("CREATE TEMP TABLE {table} ({})", cols.join(", ")))
        .unwrap();
}

fn insert(engine: &Engine, table: &str, values: &[(String, String)]) {
    let cols: Vec<String> = values.iter().map(|(c, _)| format!("\"{c}\"")).collect();
    let marks: Vec<String> = (1..=values.len()).map(|i| format!("?{i}")).collect();
    let sql = format!(
        "INSERT INTO {table} ({}) VALUES ({})",
        cols.join(", "),
        marks.join(", ")
    );
    let params: Vec<&dyn rusqlite::ToSql> = values.iter().map(|(_, v)| v as _).collect();
    engine
        .connection()
        .execute(&sql, params.as_slice())
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

fn engine_for(host: Host) -> Engine {
    Engine::new(&squatch::tables::registry(Arc::new(host))).unwrap()
}

fn engine_with(host: Host, settings: &squatch::settings::Settings) -> Engine {
    Engine::new(&squatch::tables::registry_with(Arc::new(host), settings)).unwrap()
}

/// An engine over the scene's host with the query's built-in tables
/// created and filled (users from the fake host's /etc/passwd).
fn scene_engine(scene: &Scene, q: &PackQuery) -> Engine {
    let engine = engine_with(scene.fh.host(), &scene.settings());
    for t in &q.needs {
        create_builtin(&engine, t);
    }
    if q.needs.iter().any(|t| t == "users") {
        for u in scene.fh.host().users() {
            insert(
                &engine,
                "users",
                &[
                    ("uid".into(), u.uid.to_string()),
                    ("gid".into(), u.gid.to_string()),
                    ("username".into(), u.name.clone()),
                    ("directory".into(), u.home.to_string_lossy().into_owned()),
                ],
            );
        }
    }
    for (table, values) in scene.rows() {
        assert!(
            q.needs.contains(&table),
            "{}: the fixture fills {table}, which the query's needs do not list",
            q.name
        );
        insert(&engine, &table, &values);
    }
    engine
}

fn rows(engine: &Engine, sql: &str) -> Vec<BTreeMap<String, String>> {
    let mut results = engine.query(sql).unwrap_or_else(|e| panic!("{e}\n{sql}"));
    assert_eq!(results.len(), 1, "{sql}");
    let r = results.remove(0);
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

fn words(sql: &str) -> BTreeSet<String> {
    sql.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty())
        .map(|w| w.to_ascii_lowercase())
        .collect()
}

// ------------------------------------------------------------ pack files

/// Entries of a written file by query name (osquery pack: its `queries`
/// map; Fleet files: each report/policy by name), as YAML values.
fn entries(path: &str, text: &str) -> BTreeMap<String, Yaml> {
    let docs = YamlLoader::load_from_str(text).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut out = BTreeMap::new();
    for doc in docs {
        if let Some(queries) = doc["queries"].as_hash() {
            for (k, v) in queries {
                out.insert(k.as_str().unwrap().to_string(), v.clone());
            }
        } else if let Some(list) = doc.as_vec() {
            for v in list {
                out.insert(v["name"].as_str().unwrap().to_string(), v.clone());
            }
        } else if !doc["spec"].is_badvalue() {
            let kind = doc["kind"].as_str().unwrap_or("?");
            out.insert(
                format!("{kind}:{}", doc["spec"]["name"].as_str().unwrap()),
                doc["spec"].clone(),
            );
        }
    }
    out
}

#[test]
fn committed_pack_files_match_the_source() {
    let write = std::env::var_os("SQUATCH_WRITE_PACKS").is_some();
    let mut problems = Vec::new();
    for (rel, generated) in pack().files() {
        let path = repo().join(rel);
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        if committed == generated {
            continue;
        }
        if write {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &generated).unwrap();
            eprintln!("wrote {rel}");
            continue;
        }
        let old = if committed.is_empty() {
            BTreeMap::new()
        } else {
            entries(rel, &committed)
        };
        let new = entries(rel, &generated);
        let names: BTreeSet<&String> = old.keys().chain(new.keys()).collect();
        let differ: Vec<&str> = names
            .into_iter()
            .filter(|n| old.get(*n) != new.get(*n))
            .map(|n| n.as_str())
            .collect();
        problems.push(format!(
            "{rel} differs from packs/queries.toml{}",
            if differ.is_empty() {
                " (outside any query)".to_string()
            } else {
                format!(" in: {}", differ.join(", "))
            }
        ));
    }
    assert!(
        problems.is_empty(),
        "{}\nrun `SQUATCH_WRITE_PACKS=1 cargo test --test packs` to rewrite them",
        problems.join("\n")
    );
}

#[test]
fn osquery_pack_and_fleet_files_parse_and_hold_the_same_queries() {
    let read = |rel: &str| std::fs::read_to_string(repo().join(rel)).unwrap();
    let conf: serde_json::Value = serde_json::from_str(&read("packs/squatch.conf")).unwrap();
    let osq = conf["queries"].as_object().unwrap();
    assert_eq!(conf["platform"], "linux");
    assert!(!conf["discovery"].as_array().unwrap().is_empty());
    let reports = entries("reports", &read("packs/fleet/lib/squatch.reports.yml"));
    let policies = entries("policies", &read("packs/fleet/lib/squatch.policies.yml"));
    let apply = entries("fleetctl", &read("packs/fleet/squatch.fleetctl.yml"));
    let labels = entries("labels", &read("packs/fleet/lib/squatch.labels.yml"));
    assert!(labels.contains_key("squatch installed"));

    let mut differ = BTreeSet::new();
    let osq_names: BTreeSet<&str> = osq.keys().map(|k| k.as_str()).collect();
    let fleet_names: BTreeSet<String> = reports
        .keys()
        .map(|k| k.strip_prefix("squatch_").unwrap_or(k).to_string())
        .collect();
    let apply_names: BTreeSet<String> = apply
        .keys()
        .filter_map(|k| k.strip_prefix("report:squatch_"))
        .map(str::to_string)
        .collect();
    for n in osq_names
        .iter()
        .map(|s| s.to_string())
        .chain(fleet_names.iter().cloned())
        .chain(apply_names.iter().cloned())
    {
        let o = &osq.get(&n);
        let f = reports.get(&format!("squatch_{n}"));
        let a = apply.get(&format!("report:squatch_{n}"));
        let (Some(o), Some(f), Some(a)) = (o, f, a) else {
            differ.insert(format!("{n} (missing somewhere)"));
            continue;
        };
        let osql = o["query"].as_str().unwrap().trim_end_matches(';');
        let same = osql == f["query"].as_str().unwrap()
            && osql == a["query"].as_str().unwrap()
            && o["interval"].as_u64().unwrap() as i64 == f["interval"].as_i64().unwrap()
            && f["interval"] == a["interval"]
            && o["platform"].as_str() == f["platform"].as_str()
            && f["logging"] == a["logging"]
            && match f["logging"].as_str().unwrap() {
                "snapshot" => o["snapshot"] == true,
                "differential" => o["removed"] == true,
                "differential_ignore_removals" => o["removed"] == false,
                _ => false,
            };
        if !same {
            differ.insert(n);
        }
    }
    assert!(
        differ.is_empty(),
        "the osquery pack and the Fleet files differ in: {differ:?}"
    );
    assert_eq!(osq.len(), pack().queries.len());
    // Policies: the GitOps file and the fleetctl file hold the same ones.
    for (name, p) in &policies {
        let a = apply
            .get(&format!("policy:{name}"))
            .unwrap_or_else(|| panic!("policy {name} missing from squatch.fleetctl.yml"));
        assert_eq!(p["query"], a["query"], "{name}");
        assert_eq!(p["critical"], a["critical"], "{name}");
        assert!(!p["resolution"].as_str().unwrap().is_empty());
    }
    let apply_policies = apply.keys().filter(|k| k.starts_with("policy:")).count();
    assert_eq!(apply_policies, policies.len());
}

// ------------------------------------------------------- SQL against schemas

#[test]
fn every_query_prepares_against_squatch_and_osquerys_real_schema() {
    let tmp = tempfile::tempdir().unwrap();
    let schemas = schemas();
    let builtins: BTreeSet<&str> = schemas.keys().map(|s| s.as_str()).collect();
    for q in &pack().queries {
        // With exactly the built-ins it declares: `needs` is complete.
        let engine = engine_for(Host::new(tmp.path()));
        for t in &q.needs {
            create_builtin(&engine, t);
        }
        let mut sqls = vec![("query", q.sql().to_string())];
        if let Some(p) = &q.policy {
            sqls.push(("policy", p.sql.clone()));
        }
        for (what, sql) in sqls {
            if let Err(e) = engine.connection().prepare(&format!("EXPLAIN {sql}")) {
                panic!("{} ({what}) does not prepare: {e}\n{sql}", q.name);
            }
        }
        // And `needs` lists nothing it does not name.
        let named = words(q.sql());
        for t in &q.needs {
            assert!(named.contains(t), "{} needs {t} but never names it", q.name);
            assert!(builtins.contains(t.as_str()), "{t} is not an osquery table");
        }
    }
    // The discovery queries and the Fleet label, against osquery's tables.
    let engine = engine_for(Host::new(tmp.path()));
    create_builtin(&engine, "osquery_registry");
    create_builtin(&engine, "osquery_extensions");
    for sql in pack()
        .pack
        .discovery
        .iter()
        .map(String::as_str)
        .chain([FLEET_LABEL_SQL])
    {
        engine
            .connection()
            .prepare(&format!("EXPLAIN {sql}"))
            .unwrap_or_else(|e| panic!("discovery does not prepare: {e}\n{sql}"));
    }
}

#[test]
fn discovery_runs_the_pack_only_where_squatch_registered() {
    let tmp = tempfile::tempdir().unwrap();
    let engine = engine_for(Host::new(tmp.path()));
    create_builtin(&engine, "osquery_registry");
    create_builtin(&engine, "osquery_extensions");
    let all_pass = |engine: &Engine| {
        pack()
            .pack
            .discovery
            .iter()
            .all(|sql| !rows(engine, sql).is_empty())
    };
    // A host with osquery alone.
    insert(
        &engine,
        "osquery_extensions",
        &[
            ("uuid".into(), "0".into()),
            ("name".into(), "core".into()),
            ("type".into(), "core".into()),
        ],
    );
    insert(
        &engine,
        "osquery_registry",
        &[
            ("registry".into(), "table".into()),
            ("name".into(), "processes".into()),
            ("owner_uuid".into(), "0".into()),
            ("active".into(), "1".into()),
        ],
    );
    assert!(!all_pass(&engine), "the pack would run without squatch");
    // squatch registered, with every table of the registry.
    insert(
        &engine,
        "osquery_extensions",
        &[
            ("uuid".into(), "7".into()),
            ("name".into(), "squatch".into()),
            ("type".into(), "extension".into()),
        ],
    );
    for t in squatch::tables::registry(Arc::new(Host::new(tmp.path()))) {
        insert(
            &engine,
            "osquery_registry",
            &[
                ("registry".into(), "table".into()),
                ("name".into(), t.name().into()),
                ("owner_uuid".into(), "7".into()),
                ("active".into(), "1".into()),
            ],
        );
    }
    assert!(all_pass(&engine), "the pack would not run with squatch");
}

#[test]
fn every_squatch_table_has_a_pack_query() {
    let tmp = tempfile::tempdir().unwrap();
    let named: BTreeSet<String> = pack().queries.iter().flat_map(|q| words(q.sql())).collect();
    let missing: Vec<&str> = squatch::tables::registry(Arc::new(Host::new(tmp.path())))
        .iter()
        .map(|t| t.name())
        .filter(|n| !named.contains(*n))
        .collect();
    assert!(
        missing.is_empty(),
        "tables with no pack query (add one to packs/queries.toml): {missing:?}"
    );
}

#[test]
fn no_query_reads_environment_values() {
    for q in &pack().queries {
        let mut w = words(q.sql());
        if let Some(p) = &q.policy {
            w.extend(words(&p.sql));
        }
        for f in FORBIDDEN {
            assert!(!w.contains(*f), "{} names {f}", q.name);
        }
    }
}

#[test]
fn finding_queries_return_the_columns_hunt_reads() {
    let tmp = tempfile::tempdir().unwrap();
    for q in pack().queries.iter().filter(|q| q.kind != Kind::Inventory) {
        let engine = engine_for(Host::new(tmp.path()));
        for t in &q.needs {
            create_builtin(&engine, t);
        }
        let stmt = engine.connection().prepare(q.sql()).unwrap();
        let cols: BTreeSet<&str> = stmt.column_names().into_iter().collect();
        for c in ["path", "package", "environment", "detail"] {
            assert!(cols.contains(c), "{} returns no {c} column", q.name);
        }
    }
}

// ------------------------------------------------------------ fake hosts

#[test]
fn every_query_has_a_fixture_case() {
    let cased: BTreeSet<&str> = CASES.iter().map(|c| c.query).collect();
    let missing: Vec<&str> = pack()
        .queries
        .iter()
        .map(|q| q.name.as_str())
        .filter(|n| !cased.contains(n))
        .collect();
    assert!(
        missing.is_empty(),
        "queries with no fixture in tests/packs.rs CASES: {missing:?}"
    );
    for c in CASES {
        assert!(
            pack().get(c.query).is_some(),
            "CASES names unknown query {}",
            c.query
        );
    }
}

fn run_case(q: &PackQuery, plant: fn(&Scene)) -> (Vec<BTreeMap<String, String>>, f64) {
    let scene = Scene::new();
    plant(&scene);
    let engine = scene_engine(&scene, q);
    let start = Instant::now();
    let r = rows(&engine, q.sql());
    (r, start.elapsed().as_secs_f64() * 1000.0)
}

#[test]
fn every_query_fires_on_its_attack_and_stays_silent_on_the_clean_twin() {
    for case in CASES {
        let q = pack().get(case.query).unwrap();
        let (hits, ms) = run_case(q, case.attack);
        eprintln!(
            "cost {:<40} {ms:>8.2} ms on its fake host ({} rows)",
            q.name,
            hits.len()
        );
        assert!(!hits.is_empty(), "{} does not fire on its attack", q.name);
        if q.kind != Kind::Inventory {
            for h in &hits {
                assert!(
                    !h["detail"].is_empty(),
                    "{}: a row without detail: {h:?}",
                    q.name
                );
            }
        }
        if let Some(clean) = case.clean {
            let (quiet, _) = run_case(q, clean);
            assert!(
                quiet.is_empty(),
                "{} fires on the clean twin: {quiet:#?}",
                q.name
            );
        }
    }
}

#[test]
fn policies_fail_on_the_attack_and_pass_on_the_clean_twin() {
    for q in pack().queries.iter().filter(|q| q.policy.is_some()) {
        let case = CASES.iter().find(|c| c.query == q.name).unwrap();
        let policy = q.policy.as_ref().unwrap();
        let run = |plant: fn(&Scene)| {
            let scene = Scene::new();
            plant(&scene);
            rows(&scene_engine(&scene, q), &policy.sql)
        };
        assert!(
            run(case.attack).is_empty(),
            "policy {} passes on the attack",
            policy.name
        );
        let clean = case.clean.expect("a policy's query has a clean twin");
        assert_eq!(
            run(clean).len(),
            1,
            "policy {} fails on the clean twin",
            policy.name
        );
    }
}

#[test]
fn a_file_copied_into_two_environments_is_flagged_in_both_with_one_digest() {
    let q = pack().get("install_findings_high").unwrap();
    let (hits, _) = run_case(q, fx::install_payload);
    let envs: BTreeSet<&str> = hits.iter().map(|h| h["environment"].as_str()).collect();
    let shas: BTreeSet<&str> = hits.iter().map(|h| h["sha256"].as_str()).collect();
    assert_eq!(envs.len(), 2, "{hits:#?}");
    assert_eq!(shas.len(), 1, "{hits:#?}");
    assert!(hits.iter().all(|h| h["package"] == "fast-loader"));
}

#[test]
fn readme_names_every_query_in_its_stage_table() {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let missing: Vec<&str> = pack()
        .queries
        .iter()
        .filter(|q| {
            !readme
                .lines()
                .any(|l| l.starts_with(&format!("| {} | `{}`", q.stage().name(), q.name)))
        })
        .map(|q| q.name.as_str())
        .collect();
    assert!(
        missing.is_empty(),
        "README's stage table lacks (or puts in another stage): {missing:?}"
    );
}
