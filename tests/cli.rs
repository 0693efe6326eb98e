//! The `squatch` command line: formats, exit codes and error messages.

mod common;

fn squatch(args: &[&str]) -> std::process::Output {
    common::squatch_command()
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

#[test]
fn data_refresh_regenerates_both_reference_files() {
    let dir = tempfile::tempdir().unwrap();
    let top = dir.path().join("top.tsv");
    std::fs::write(
        &top,
        "name\tversion\tmonth\trank_among_15000_most_downloaded\tsummary\nboto3\t1\t2026-01\t1\tx\nRequests\t2\t2026-01\t2\ty\nobscure\t1\t2020-01\t\tz\n",
    )
    .unwrap();
    let osv = dir.path().join("osv/malicious/pypi/reqeusts");
    std::fs::create_dir_all(&osv).unwrap();
    std::fs::write(
        osv.join("MAL-2099-1.json"),
        r#"{"id":"MAL-2099-1","affected":[{"package":{"ecosystem":"PyPI","name":"Reqeusts"}}]}"#,
    )
    .unwrap();
    let out = dir.path().join("data");
    let o = squatch(&[
        "data",
        "refresh",
        "--top",
        top.to_str().unwrap(),
        "--malicious",
        dir.path().join("osv").to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let top_out = std::fs::read_to_string(out.join("pypi_top.tsv")).unwrap();
    assert!(top_out.contains("1\tboto3\n2\trequests\n"), "{top_out}");
    assert!(!top_out.contains("obscure"));
    let mal_out = std::fs::read_to_string(out.join("pypi_malicious.tsv")).unwrap();
    assert!(mal_out.contains("reqeusts\tMAL-2099-1"), "{mal_out}");
}
