//! The `squatch` command line: formats, exit codes and error messages.

use std::process::Command;

fn squatch(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_squatch"))
        .args(args)
        .env_remove("SQUATCH_ROOT")
        .output()
        .unwrap()
}

#[test]
fn json_output_is_an_array_of_string_valued_objects() {
    let out = squatch(&["query", "--json", "SELECT 1 AS n, 'a' AS s, NULL AS z"]);
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v, serde_json::json!([{"n": "1", "s": "a", "z": ""}]));
}

#[test]
fn csv_line_and_pretty_formats() {
    let sql = "SELECT 1 AS n, 'x,y' AS s";
    let csv = String::from_utf8(squatch(&["query", "--csv", sql]).stdout).unwrap();
    assert_eq!(csv, "n,s\n1,\"x,y\"\n");
    let line = String::from_utf8(squatch(&["query", "--line", sql]).stdout).unwrap();
    assert_eq!(line, "n = 1\ns = x,y\n");
    let pretty = String::from_utf8(squatch(&["query", sql]).stdout).unwrap();
    assert!(pretty.contains("| 1 | x,y |"), "{pretty}");
}

#[test]
fn sql_error_prints_sqlites_message_and_exits_non_zero() {
    let out = squatch(&["query", "SELECT * FROM no_such_table"]);
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("no such table: no_such_table"), "{err}");
    assert!(out.stdout.is_empty());
}

#[test]
fn formats_are_mutually_exclusive() {
    let out = squatch(&["query", "--json", "--csv", "SELECT 1"]);
    assert!(!out.status.success());
}

#[test]
fn a_root_that_is_not_a_directory_is_refused_with_advice() {
    let out = squatch(&["--root", "/definitely/not/here", "query", "SELECT 1"]);
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("is not a directory"), "{err}");
}

#[test]
fn tables_lists_every_table_with_columns() {
    let out = squatch(&["tables", "--json"]);
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for t in v.as_array().unwrap() {
        assert!(!t["description"].as_str().unwrap().is_empty());
        assert!(!t["columns"].as_array().unwrap().is_empty());
        for c in t["columns"].as_array().unwrap() {
            assert!(
                !c["description"].as_str().unwrap().is_empty(),
                "{} has an undocumented column {}",
                t["name"],
                c["name"]
            );
        }
    }
}

#[test]
fn no_arguments_prints_help_and_fails() {
    let out = squatch(&[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8(out.stdout).unwrap().contains("Usage"));
}
