//! Dependency files, package indexes and the CI gate, end to end: the
//! fixture files of every format (tests/data/requirements), the seed's
//! attack and its benign twin on a fake host through `squatch query`,
//! `squatch check`'s exit status for each gate, and its SARIF output checked
//! against the SARIF 2.1.0 schema (tests/data/sarif).

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use common::deps::{plant_benign_twin, plant_seed_attack, PROJECT};
use common::FakeHost;
use serde_json::Value;
use squatch::host::Host;
use squatch::table::{Operator, QueryContext, Table};
use squatch::tables::python_requirements::PythonRequirements;

fn data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data")
}

type Rows = Vec<BTreeMap<String, String>>;

fn fixture_rows() -> Rows {
    let t = PythonRequirements::new(Arc::new(Host::new(data())));
    t.generate(&QueryContext::all().with("directory", Operator::Equals, "/requirements"))
        .unwrap()
        .into_iter()
        .map(|r| {
            r.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        })
        .collect()
}

fn find<'a>(rows: &'a Rows, path: &str, name: &str) -> &'a BTreeMap<String, String> {
    rows.iter()
        .find(|r| r["path"] == path && r.get("name").map(String::as_str) == Some(name))
        .unwrap_or_else(|| panic!("{path} {name}: {rows:#?}"))
}

#[test]
fn every_format_gives_rows_with_lines() {
    let rows = fixture_rows();
    assert!(rows.iter().all(|r| r["directory"] == "/requirements"));
    let req = "/requirements/requirements.txt";
    let torch = find(&rows, req, "torch");
    assert_eq!(
        (
            torch["line"].as_str(),
            torch["pinned"].as_str(),
            torch["hashed"].as_str()
        ),
        ("3", "1", "1")
    );
    assert_eq!(torch["index_url"], "https://pypi.org/simple");
    let typo = find(&rows, req, "torch-utilites");
    assert_eq!(
        (
            typo["line"].as_str(),
            typo["pinned"].as_str(),
            typo["hashed"].as_str()
        ),
        ("6", "1", "0")
    );
    assert_eq!(typo["typosquat_target"], "torch");
    let tr = find(&rows, req, "transformers");
    assert_eq!(
        (tr["pinned"].as_str(), tr["specifier"].as_str()),
        ("0", ">=4.40")
    );
    let np = find(&rows, req, "numpy");
    assert_eq!(np["markers"], "python_full_version >= '3.10'");
    assert_eq!(np["hashed"], "1");
    assert_eq!(find(&rows, req, "tooling")["source"], "editable");
    // Includes: followed, each once; the cycle and the missing file are
    // error rows at the include's line.
    assert_eq!(
        find(&rows, "/requirements/includes/base.txt", "requests")["hashed"],
        "1"
    );
    assert_eq!(
        find(&rows, "/requirements/includes/nested.txt", "pyyaml")["hashed"],
        "0"
    );
    assert_eq!(
        find(&rows, "/requirements/includes/constraints.txt", "urllib3")["specifier"],
        "<3"
    );
    let errors: Vec<_> = rows.iter().filter(|r| r.contains_key("error")).collect();
    let cycle = errors
        .iter()
        .find(|r| r["error"].starts_with("include cycle"))
        .expect("cycle row");
    assert_eq!(cycle["path"], "/requirements/includes/nested.txt");
    assert_eq!(cycle["line"], "2");
    assert!(errors
        .iter()
        .any(|r| r["path"] == req && r["line"] == "13" && r["error"].contains("not found")));
    // pyproject.toml: PEP 621, extras, PEP 735 groups, uv dev-dependencies.
    let py = "/requirements/pyproject.toml";
    assert_eq!(find(&rows, py, "torch-utilites")["line"], "6");
    assert_eq!(find(&rows, py, "pytest")["group"], "test");
    assert_eq!(find(&rows, py, "ruff")["group"], "dev");
    assert_eq!(find(&rows, py, "ipython")["group"], "dev");
    assert_eq!(
        find(&rows, "/requirements/setup.cfg", "reqeusts")["typosquat_target"],
        "requests"
    );
    assert_eq!(
        find(&rows, "/requirements/setup.cfg", "nvidia-ml-py")["group"],
        "gpu"
    );
    // Lock files.
    let pl = find(&rows, "/requirements/locks/poetry.lock", "torch-utilites");
    assert_eq!(
        (
            pl["format"].as_str(),
            pl["pinned"].as_str(),
            pl["hashed"].as_str()
        ),
        ("poetry.lock", "1", "0")
    );
    assert_eq!(pl["index_url"], "https://pkgs.corp.example/simple");
    let pt = find(&rows, "/requirements/locks/poetry.lock", "torch");
    assert_eq!(
        (pt["hashed"].as_str(), pt["is_direct"].as_str()),
        ("1", "1"),
        "declared in the pyproject beside it"
    );
    let uvn = find(&rows, "/requirements/locks/uv.lock", "numpy");
    assert_eq!(
        (
            uvn["line"].as_str(),
            uvn["hashed"].as_str(),
            uvn["is_direct"].as_str()
        ),
        ("13", "1", "1")
    );
    assert_eq!(
        find(&rows, "/requirements/locks/uv.lock", "colorama")["is_direct"],
        "0"
    );
    let st = find(&rows, "/requirements/locks/pylock.toml", "safetensors");
    assert_eq!(
        (st["version"].as_str(), st["hashed"].as_str()),
        ("0.4.3", "1")
    );
    let tl = find(&rows, "/requirements/locks/pylock.toml", "tooling");
    assert_eq!((tl["source"].as_str(), tl["pinned"].as_str()), ("vcs", "1"));
    let pf = find(&rows, "/requirements/locks/Pipfile.lock", "pytest");
    assert_eq!(
        (
            pf["group"].as_str(),
            pf["hashed"].as_str(),
            pf["line"].as_str()
        ),
        ("develop", "0", "19")
    );
    assert_eq!(
        find(&rows, "/requirements/locks/pdm.lock", "huggingface-hub")["hashed"],
        "1"
    );
    // Malformed files: one row each with an error, never a failed table.
    for f in ["pyproject.toml", "uv.lock", "Pipfile.lock"] {
        let p = format!("/requirements/malformed/{f}");
        let r = rows
            .iter()
            .find(|r| r["path"] == p)
            .unwrap_or_else(|| panic!("{p}"));
        assert!(r["status"].starts_with("unreadable"), "{r:?}");
        assert!(!r["error"].is_empty());
    }
    let bad = rows
        .iter()
        .find(|r| {
            r["path"] == "/requirements/malformed/requirements.txt" && r.contains_key("error")
        })
        .unwrap();
    assert_eq!((bad["line"].as_str(), bad["status"].as_str()), ("2", "ok"));
}

/// The detection queries proposed for the packs.
const UNPINNED_OR_UNHASHED: &str = "SELECT path, line, name, specifier, pinned, hashed FROM python_requirements WHERE format = 'requirements.txt' AND error IS NULL AND (pinned = 0 OR hashed = 0)";
const TYPOSQUAT_IN_FILES: &str = "SELECT path, line, name, typosquat_target, typosquat_score, known_malicious FROM python_requirements WHERE typosquat_score >= 0.5 OR known_malicious = 1";
const CONFUSION_INDEXES: &str = "SELECT path, pid, process_name, tool, setting, url, risk FROM python_package_indexes WHERE risk LIKE '%dependency confusion%'";

fn query(fh: &FakeHost, sql: &str) -> Vec<Value> {
    common::query_json(fh.root(), &[], sql)
}

#[test]
fn pack_queries_fire_on_the_attack_and_not_on_its_twin() {
    let attack = FakeHost::new();
    plant_seed_attack(&attack);
    let twin = FakeHost::new();
    plant_benign_twin(&twin);
    let req = format!("{PROJECT}/requirements.txt");

    let a = query(&attack, UNPINNED_OR_UNHASHED);
    assert_eq!(a.len(), 1, "{a:?}");
    assert_eq!(a[0]["name"], "torch-utilites");
    assert_eq!(a[0]["path"], req.as_str());
    assert_eq!(a[0]["line"], "4");
    assert!(query(&twin, UNPINNED_OR_UNHASHED).is_empty());

    let t = query(&attack, TYPOSQUAT_IN_FILES);
    assert_eq!(t.len(), 1, "{t:?}");
    assert_eq!(t[0]["typosquat_target"], "torch");
    assert!(query(&twin, TYPOSQUAT_IN_FILES).is_empty());

    let c = query(&attack, CONFUSION_INDEXES);
    assert_eq!(c.len(), 1, "{c:?}");
    assert_eq!(c[0]["path"], "/home/alice/.config/pip/pip.conf");
    assert_eq!(c[0]["url"], "https://pypi.org/simple");
    assert!(query(&twin, CONFUSION_INDEXES).is_empty());
}

// ---- squatch check ----

struct Repo {
    dir: tempfile::TempDir,
}

impl Repo {
    fn new(files: &[(&str, &str)]) -> Repo {
        let dir = tempfile::tempdir().unwrap();
        for (p, t) in files {
            let f = dir.path().join(p);
            std::fs::create_dir_all(f.parent().unwrap()).unwrap();
            std::fs::write(f, t).unwrap();
        }
        Repo { dir }
    }

    fn check(&self, args: &[&str]) -> (i32, String, String) {
        let out = common::squatch_command()
            .arg("check")
            .args(args)
            .current_dir(self.dir.path())
            .output()
            .expect("run squatch check");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }
}

const H1: &str = "--hash=sha256:0000000000000000000000000000000000000000000000000000000000000001";

fn clean_req() -> String {
    format!("torch==2.3.1 {H1}\nnumpy==1.26.4 {H1}\n")
}

/// Runs `check` on a requirements file (and optional extra files/policy)
/// and returns (exit code, rules reported).
fn gate(req: &str, extra: &[(&str, &str)], args: &[&str]) -> (i32, Vec<String>, String) {
    let mut files = vec![("requirements.txt", req)];
    files.extend_from_slice(extra);
    let repo = Repo::new(&files);
    let (code, out, err) = repo.check(args);
    let rules = out
        .lines()
        .filter_map(|l| l.split(": ").nth(1))
        .filter(|r| !r.contains(' '))
        .map(str::to_string)
        .collect();
    (code, rules, format!("{out}{err}"))
}

#[test]
fn clean_repository_exits_0() {
    let (code, rules, out) = gate(&clean_req(), &[], &[]);
    assert_eq!((code, rules.len()), (0, 0), "{out}");
    let (code, _, out) = gate(
        &clean_req(),
        &[("policy.toml", "require_hashes = true\nallow = [\"torch\", \"numpy\"]\nindex_url = \"https://pkgs.corp.example/simple\"\n")],
        &["--policy", "policy.toml"],
    );
    assert_eq!(code, 0, "{out}");
}

#[test]
fn typosquat_and_known_malicious_gates() {
    let (code, rules, out) = gate("torch-utilites==0.1.0\n", &[], &[]);
    assert_eq!((code, rules), (1, vec!["typosquat".to_string()]), "{out}");
    assert!(
        out.starts_with("requirements.txt:1: typosquat: torch-utilites"),
        "{out}"
    );
    let (code, rules, out) = gate(
        "torch-utilites==0.1.0\n",
        &[("p.toml", "ignore = [\"torch_utilites\"]\n")],
        &["--policy", "p.toml"],
    );
    assert_eq!((code, rules.len()), (0, 0), "ignore list: {out}");
    let malicious = squatch::typosquat::data::MALICIOUS_TSV
        .lines()
        .find(|l| !l.starts_with('#'))
        .and_then(|l| l.split('\t').next())
        .unwrap();
    let (code, rules, out) = gate(&format!("{malicious}==1.0\n"), &[], &[]);
    assert_eq!(
        (code, rules),
        (1, vec!["known-malicious".to_string()]),
        "{out}"
    );
}

#[test]
fn pin_and_hash_gates() {
    let (code, rules, out) = gate("torch>=2\n", &[], &[]);
    assert_eq!((code, rules), (1, vec!["unpinned".to_string()]), "{out}");
    let (code, _, out) = gate("torch==2.3.1\n", &[], &[]);
    assert_eq!(code, 0, "hashes not required by default: {out}");
    let pol = [("p.toml", "require_hashes = true\n")];
    let (code, rules, out) = gate("torch==2.3.1\n", &pol, &["--policy", "p.toml"]);
    assert_eq!((code, rules), (1, vec!["unhashed".to_string()]), "{out}");
    let (code, _, out) = gate(
        &format!("torch==2.3.1 {H1}\n"),
        &pol,
        &["--policy", "p.toml"],
    );
    assert_eq!(code, 0, "{out}");
    // pyproject ranges are not pin-gated by default.
    let (code, _, out) = gate(
        &clean_req(),
        &[(
            "pyproject.toml",
            "[project]\ndependencies = [\"torch>=2\"]\n",
        )],
        &[],
    );
    assert_eq!(code, 0, "{out}");
}

#[test]
fn allow_list_and_baseline_gates() {
    let pol = [("p.toml", "allow = [\"torch\"]\n")];
    let (code, rules, out) = gate(&clean_req(), &pol, &["--policy", "p.toml"]);
    assert_eq!((code, rules), (1, vec!["not-allowed".to_string()]), "{out}");
    assert!(
        out.contains("requirements.txt:2: not-allowed: numpy"),
        "{out}"
    );
    let base = [("old/requirements.txt", "torch==2.3.0\n")];
    let (code, rules, out) = gate(
        &clean_req(),
        &base,
        &["requirements.txt", "--baseline", "old/requirements.txt"],
    );
    assert_eq!(
        (code, rules),
        (1, vec!["new-dependency".to_string()]),
        "{out}"
    );
    let base = [("old/uv.lock", "version = 1\n[[package]]\nname = \"torch\"\nversion = \"2.3.0\"\n[[package]]\nname = \"numpy\"\nversion = \"1.26.0\"\n")];
    let (code, _, out) = gate(
        &clean_req(),
        &base,
        &["requirements.txt", "--baseline", "old/uv.lock"],
    );
    assert_eq!(code, 0, "{out}");
}

#[test]
fn index_gates() {
    let req = format!("--index-url https://pypi.org/simple\n{}", clean_req());
    let pol = [(
        "p.toml",
        "index_url = \"https://pkgs.corp.example/simple\"\n",
    )];
    let (code, rules, out) = gate(&req, &pol, &["--policy", "p.toml"]);
    assert_eq!(
        (code, rules),
        (1, vec!["index-not-allowed".to_string()]),
        "{out}"
    );
    let ok = format!("-i https://pkgs.corp.example/simple/\n{}", clean_req());
    let (code, _, out) = gate(&ok, &pol, &["--policy", "p.toml"]);
    assert_eq!(code, 0, "{out}");

    let req = format!(
        "--extra-index-url https://pkgs.corp.example/simple\n{}",
        clean_req()
    );
    let (code, rules, out) = gate(&req, &[], &[]);
    assert_eq!((code, rules), (1, vec!["extra-index".to_string()]), "{out}");
    assert!(out.contains("dependency confusion"), "{out}");
    let (code, _, out) = gate(
        &req,
        &[("p.toml", "allow_extra_indexes = true\n")],
        &["--policy", "p.toml"],
    );
    assert_eq!(code, 0, "{out}");

    let req = format!("--trusted-host pkgs.corp.example\n{}", clean_req());
    let (code, rules, out) = gate(&req, &[], &[]);
    assert_eq!(
        (code, rules),
        (1, vec!["insecure-index".to_string()]),
        "{out}"
    );

    let req = format!(
        "-i https://ci:s3cr3tT0ken@pkgs.corp.example/simple\n{}",
        clean_req()
    );
    let (code, rules, out) = gate(&req, &[], &[]);
    assert_eq!(
        (code, rules),
        (1, vec!["credentials-in-url".to_string()]),
        "{out}"
    );
    assert!(!out.contains("s3cr3tT0ken"), "{out}");

    // A pip.conf committed to the repository is read too.
    let conf = [("pip.conf", "[global]\nindex-url = https://pkgs.corp.example/simple\nextra-index-url = https://pypi.org/simple\n")];
    let (code, rules, out) = gate(&clean_req(), &conf, &[]);
    assert_eq!((code, rules), (1, vec!["extra-index".to_string()]), "{out}");
    assert!(out.contains("pip.conf:3: extra-index"), "{out}");
}

#[test]
fn usage_and_parse_errors_exit_2() {
    let (code, _, out) = gate("torch >=>= 2\n", &[], &[]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("requirements.txt:1: parse-error"), "{out}");
    let (code, _, out) = gate(&clean_req(), &[("pyproject.toml", "[project\n")], &[]);
    assert_eq!(code, 2, "{out}");
    let (code, _, out) = gate(
        &clean_req(),
        &[("p.toml", "require_hash = true\n")],
        &["--policy", "p.toml"],
    );
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("unknown field"), "{out}");
    let (code, _, _) = gate(&clean_req(), &[], &["missing.txt"]);
    assert_eq!(code, 2);
    let (code, _, _) = gate(&clean_req(), &[], &["--format", "xml"]);
    assert_eq!(code, 2);
    let (code, _, _) = gate(&clean_req(), &[], &["--baseline", "nope.lock"]);
    assert_eq!(code, 2);
}

#[test]
fn json_report_lists_findings() {
    let (code, out, _) =
        Repo::new(&[("requirements.txt", "torch-utilites\n")]).check(&["--format", "json"]);
    assert_eq!(code, 1);
    let v: Value = serde_json::from_str(&out).unwrap();
    let rules: Vec<&str> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule"].as_str().unwrap())
        .collect();
    assert_eq!(rules, vec!["typosquat", "unpinned"]);
    assert_eq!(v["findings"][0]["line"], 1);
    assert_eq!(v["dependencies"], 1);
}

// ---- SARIF against the SARIF 2.1.0 schema ----

/// A JSON-Schema (draft-07) validator for the keywords the SARIF schema
/// uses: $ref (local), type, enum, properties, required,
/// additionalProperties, items, minItems, uniqueItems, minimum, maximum,
/// pattern, anyOf, oneOf, format (uri, uri-reference: no spaces). Returns
/// the errors, each with the instance path.
fn validate(root: &Value, schema: &Value, v: &Value, at: &str, errors: &mut Vec<String>) {
    let Some(s) = schema.as_object() else { return };
    if let Some(r) = s.get("$ref").and_then(Value::as_str) {
        let target = r
            .strip_prefix("#/")
            .map(|p| p.split('/').fold(root, |acc, k| &acc[k]))
            .unwrap_or(&Value::Null);
        assert!(!target.is_null(), "unresolved $ref {r}");
        validate(root, target, v, at, errors);
    }
    if let Some(t) = s.get("type") {
        let types: Vec<&str> = match t {
            Value::String(x) => vec![x.as_str()],
            Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
            _ => vec![],
        };
        let ok = types.iter().any(|t| match *t {
            "object" => v.is_object(),
            "array" => v.is_array(),
            "string" => v.is_string(),
            "integer" => v.is_i64() || v.is_u64(),
            "number" => v.is_number(),
            "boolean" => v.is_boolean(),
            "null" => v.is_null(),
            _ => false,
        });
        if !ok {
            errors.push(format!("{at}: expected {types:?}, got {v}"));
            return;
        }
    }
    if let Some(e) = s.get("enum").and_then(Value::as_array) {
        if !e.contains(v) {
            errors.push(format!("{at}: {v} not in {e:?}"));
        }
    }
    if let (Some(m), Some(n)) = (s.get("minimum").and_then(Value::as_f64), v.as_f64()) {
        if n < m {
            errors.push(format!("{at}: {n} < minimum {m}"));
        }
    }
    if let (Some(m), Some(n)) = (s.get("maximum").and_then(Value::as_f64), v.as_f64()) {
        if n > m {
            errors.push(format!("{at}: {n} > maximum {m}"));
        }
    }
    if let (Some(p), Some(text)) = (s.get("pattern").and_then(Value::as_str), v.as_str()) {
        if !regex::Regex::new(p).unwrap().is_match(text) {
            errors.push(format!("{at}: {text:?} does not match {p}"));
        }
    }
    if let (Some(f), Some(text)) = (s.get("format").and_then(Value::as_str), v.as_str()) {
        if f.starts_with("uri") && text.contains(' ') {
            errors.push(format!("{at}: {text:?} is not a {f}"));
        }
    }
    if let Some(obj) = v.as_object() {
        let props = s.get("properties").and_then(Value::as_object);
        for req in s
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let k = req.as_str().unwrap();
            if !obj.contains_key(k) {
                errors.push(format!("{at}: missing required {k}"));
            }
        }
        for (k, val) in obj {
            let sub = format!("{at}/{k}");
            match props.and_then(|p| p.get(k)) {
                Some(ps) => validate(root, ps, val, &sub, errors),
                None => match s.get("additionalProperties") {
                    Some(Value::Bool(false)) => errors.push(format!("{sub}: not allowed")),
                    Some(ap @ Value::Object(_)) => validate(root, ap, val, &sub, errors),
                    _ => {}
                },
            }
        }
    }
    if let Some(arr) = v.as_array() {
        if let Some(m) = s.get("minItems").and_then(Value::as_u64) {
            if (arr.len() as u64) < m {
                errors.push(format!("{at}: fewer than {m} items"));
            }
        }
        if s.get("uniqueItems") == Some(&Value::Bool(true)) {
            for (i, a) in arr.iter().enumerate() {
                if arr[..i].contains(a) {
                    errors.push(format!("{at}: duplicate item {a}"));
                }
            }
        }
        if let Some(items) = s.get("items") {
            for (i, item) in arr.iter().enumerate() {
                validate(root, items, item, &format!("{at}/{i}"), errors);
            }
        }
    }
    for (kw, need_one) in [("anyOf", false), ("oneOf", true)] {
        if let Some(alts) = s.get(kw).and_then(Value::as_array) {
            let passing = alts
                .iter()
                .filter(|alt| {
                    let mut e = Vec::new();
                    validate(root, alt, v, at, &mut e);
                    e.is_empty()
                })
                .count();
            if passing == 0 || (need_one && passing != 1) {
                errors.push(format!("{at}: {kw} matched {passing} alternatives"));
            }
        }
    }
}

fn schema() -> Value {
    let text = std::fs::read_to_string(data().join("sarif/sarif-schema-2.1.0.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

#[test]
fn sarif_output_is_valid_sarif_2_1_0_with_findings_on_their_lines() {
    let repo = Repo::new(&[
        (
            "svc/requirements.txt",
            "# deps\ntorch==2.3.1\n--extra-index-url https://pkgs.corp.example/simple\ntorch-utilites\n",
        ),
        ("svc/bad/pyproject.toml", "[project\n"),
    ]);
    let (code, out, err) = repo.check(&["--format", "sarif"]);
    assert_eq!(code, 2, "the malformed file is a parse error: {err}");
    let sarif: Value = serde_json::from_str(&out).unwrap();
    let schema = schema();
    let mut errors = Vec::new();
    validate(&schema, &schema, &sarif, "", &mut errors);
    assert!(errors.is_empty(), "{errors:#?}");

    let run = &sarif["runs"][0];
    let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
    assert_eq!(rules.len(), squatch::check::rules().len());
    assert!(rules
        .iter()
        .all(|r| !r["help"]["text"].as_str().unwrap().is_empty()));
    let results = run["results"].as_array().unwrap();
    let at = |rule: &str| {
        let r = results
            .iter()
            .find(|r| r["ruleId"] == rule)
            .unwrap_or_else(|| panic!("{rule}: {results:#?}"));
        let loc = &r["locations"][0]["physicalLocation"];
        (
            loc["artifactLocation"]["uri"].as_str().unwrap().to_string(),
            loc["region"]["startLine"].as_u64().unwrap_or(0),
            r["ruleIndex"].as_u64(),
        )
    };
    let (uri, line, idx) = at("typosquat");
    assert_eq!((uri.as_str(), line), ("svc/requirements.txt", 4));
    assert_eq!(rules[idx.unwrap() as usize]["id"], "typosquat");
    assert_eq!(at("extra-index").1, 3);
    assert_eq!(at("unpinned").1, 4);
    assert_eq!(at("parse-error").0, "svc/bad/pyproject.toml");
}

#[test]
fn the_validator_rejects_broken_sarif() {
    let schema = schema();
    let mut bad: Value = serde_json::json!({
        "version": "2.0.0",
        "runs": [{ "tool": { "driver": { "name": "x" } },
                   "results": [{ "message": { "text": "m" },
                                 "locations": [{ "physicalLocation": { "artifactLocation": { "uri": "r.txt" }, "region": { "startLine": 0 } } }] }] }]
    });
    let mut errors = Vec::new();
    validate(&schema, &schema, &bad, "", &mut errors);
    assert!(errors.iter().any(|e| e.contains("version")), "{errors:?}");
    assert!(errors.iter().any(|e| e.contains("minimum")), "{errors:?}");
    bad["version"] = "2.1.0".into();
    bad["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"]["startLine"] =
        1.into();
    let mut errors = Vec::new();
    validate(&schema, &schema, &bad, "", &mut errors);
    assert!(errors.is_empty(), "{errors:?}");
}
