//! The Python scanner's public API on fake hosts: discovery of every kind of
//! environment, dist-info/egg-info parsing, RECORD entries, entry points.

mod common;

use std::path::{Path, PathBuf};

use common::FakeHost;
use squatch::python::{
    discover_environments, distributions, entry_points, environment_at, record_entries,
    top_level_names, DistFormat, EnvironmentKind, SourceKind,
};

fn kinds(fh: &FakeHost) -> Vec<(PathBuf, String)> {
    discover_environments(&fh.host())
        .into_iter()
        .map(|e| (e.path, e.kind.to_string()))
        .collect()
}

#[test]
fn discovers_every_kind_of_environment() {
    let fh = FakeHost::new();
    fh.passwd(&[
        ("root", 0, "/root"),
        ("alice", 1000, "/home/alice"),
        ("bob", 1001, "/home/bob"),
    ]);
    fh.system_site("/usr/lib/python3/dist-packages");
    fh.system_site("/usr/local/lib/python3.12/dist-packages");
    fh.user_site("/home/alice", "3.12");
    fh.venv("/home/alice/src/proj/.venv", "3.12.3", false);
    fh.venv("/home/alice/.local/share/pipx/venvs/black", "3.12", false);
    fh.venv("/home/alice/.local/share/uv/tools/ruff", "3.11", false);
    fh.venv(
        "/home/bob/.cache/pypoetry/virtualenvs/app-Xy12-py3.12",
        "3.12",
        false,
    );
    fh.venv(
        "/home/bob/.local/share/virtualenvs/app-abc123",
        "3.12",
        false,
    );
    fh.venv("/home/bob/.virtualenvs/work", "3.10", true);
    fh.mkdir("/home/bob/.pyenv/versions/3.11.9/lib/python3.11/site-packages");
    fh.conda("/home/bob/miniconda3", "3.11.5");
    fh.conda("/home/bob/miniconda3/envs/train", "3.10.14");
    fh.venv("/opt/app/venv", "3.12", false);
    fh.venv("/srv/svc/env", "3.12", false);
    // Too deep for the walk: not found (depth limit, not a full-disk walk).
    fh.venv("/home/alice/a/b/c/d/e/f/g/deep", "3.12", false);

    let found = kinds(&fh);
    let expect = [
        ("/home/alice/.local/lib/python3.12/site-packages", "user"),
        ("/home/alice/.local/share/pipx/venvs/black", "pipx"),
        ("/home/alice/.local/share/uv/tools/ruff", "uv_tool"),
        ("/home/alice/src/proj/.venv", "venv"),
        (
            "/home/bob/.cache/pypoetry/virtualenvs/app-Xy12-py3.12",
            "poetry",
        ),
        ("/home/bob/.local/share/virtualenvs/app-abc123", "pipenv"),
        ("/home/bob/.pyenv/versions/3.11.9", "pyenv"),
        ("/home/bob/.virtualenvs/work", "virtualenvwrapper"),
        ("/home/bob/miniconda3", "conda"),
        ("/home/bob/miniconda3/envs/train", "conda"),
        ("/opt/app/venv", "venv"),
        ("/srv/svc/env", "venv"),
        ("/usr/lib/python3/dist-packages", "system"),
        ("/usr/local/lib/python3.12/dist-packages", "system"),
    ];
    let expect: Vec<(PathBuf, String)> = expect
        .iter()
        .map(|(p, k)| (PathBuf::from(p), k.to_string()))
        .collect();
    assert_eq!(found, expect);

    let envs = discover_environments(&fh.host());
    let work = envs.iter().find(|e| e.path.ends_with("work")).unwrap();
    assert!(work.include_system_site_packages);
    assert_eq!(work.python_version.as_deref(), Some("3.10"));
    let proj = envs.iter().find(|e| e.path.ends_with(".venv")).unwrap();
    assert_eq!(proj.python_version.as_deref(), Some("3.12.3"));
    assert_eq!(
        proj.site_packages,
        vec![PathBuf::from(
            "/home/alice/src/proj/.venv/lib/python3.12/site-packages"
        )]
    );
    let conda = envs.iter().find(|e| e.path.ends_with("train")).unwrap();
    assert_eq!(conda.python_version.as_deref(), Some("3.10.14"));
    let pyenv = envs
        .iter()
        .find(|e| e.kind == EnvironmentKind::Pyenv)
        .unwrap();
    assert_eq!(pyenv.python_version.as_deref(), Some("3.11.9"));
}

#[test]
fn discovery_does_not_follow_symlinks_or_loop() {
    let fh = FakeHost::new();
    fh.passwd(&[("alice", 1000, "/home/alice")]);
    fh.venv("/home/alice/real/.venv", "3.12", false);
    // A loop and a link to the venv: neither adds an environment or hangs.
    fh.symlink("/home/alice", "/home/alice/loop");
    fh.symlink("../real", "/home/alice/again");
    fh.symlink("/", "/home/alice/rootlink");
    let found = kinds(&fh);
    assert_eq!(
        found,
        vec![(PathBuf::from("/home/alice/real/.venv"), "venv".to_string())]
    );
}

#[test]
fn lib64_symlink_is_deduplicated() {
    let fh = FakeHost::new();
    fh.passwd(&[]);
    let site = fh.venv("/opt/v", "3.12", false);
    fh.symlink("lib", "/opt/v/lib64");
    let env = environment_at(&fh.host(), Path::new("/opt/v")).unwrap();
    assert_eq!(env.site_packages, vec![site]);
}

#[test]
fn environment_at_answers_only_for_environments() {
    let fh = FakeHost::new();
    fh.venv("/opt/v", "3.12", false);
    let host = fh.host();
    assert_eq!(
        environment_at(&host, Path::new("/opt/v")).unwrap().kind,
        EnvironmentKind::Venv
    );
    assert!(environment_at(&host, Path::new("/opt")).is_none());
    assert!(environment_at(&host, Path::new("/nope")).is_none());
    let site = environment_at(&host, Path::new("/opt/v/lib/python3.12/site-packages")).unwrap();
    assert_eq!(site.kind, EnvironmentKind::System);
}

#[test]
fn parses_dist_info_and_egg_info() {
    let fh = FakeHost::new();
    let site = fh.venv("/opt/v", "3.12", false);
    fh.dist(&site, "Torch_Utilites", "0.1.0")
        .file("torch_utilites/__init__.py", b"x = 1\n")
        .file("../../../bin/torch-utils", b"#!/bin/sh\n")
        .field("Summary", "Utilities: for torch")
        .field("Home-page", "https://example.invalid:8443/tu")
        .field("Author", "Mallory")
        .field("Author-email", "m@example.invalid")
        .installer_raw(b"uv")
        .requested()
        .direct_url(
            r#"{"url":"https://bob:FAKE_PASSWORD@example.invalid/tu.whl","archive_info":{}}"#,
        )
        .entry_points(
            "[console_scripts]\ntorch-utils = torch_utilites.cli:main\n# c\n[gui_scripts]\ng=x:y\n",
        )
        .write();
    fh.dist(&site, "oldie", "2.0")
        .file("oldie.py", b"pass\n")
        .egg_info()
        .write();
    // Vendored dist-info below the top level is not an installed distribution.
    fh.write(
        site.join("pip/_vendor/rich-13.0.dist-info/METADATA"),
        "Name: rich\nVersion: 13.0\n",
    );

    let host = fh.host();
    let dists = distributions(&host, &site);
    assert_eq!(dists.len(), 2, "{dists:#?}");
    let d = dists
        .iter()
        .find(|d| d.format == DistFormat::DistInfo)
        .unwrap();
    assert_eq!(d.name, "Torch_Utilites");
    assert_eq!(d.normalized_name, "torch-utilites");
    assert_eq!(d.version, "0.1.0");
    assert_eq!(d.format, DistFormat::DistInfo);
    assert_eq!(d.installer.as_deref(), Some("uv"));
    assert!(d.requested);
    assert_eq!(d.metadata.summary.as_deref(), Some("Utilities: for torch"));
    assert_eq!(
        d.metadata.home_page.as_deref(),
        Some("https://example.invalid:8443/tu")
    );
    let du = d.direct_url.as_ref().unwrap();
    assert_eq!(du.url, "https://example.invalid/tu.whl");
    assert_eq!(d.source_kind(), SourceKind::Archive);
    assert!(d.error.is_none());
    assert_eq!(
        entry_points(&host, d),
        vec![
            (
                "console_scripts".into(),
                "torch-utils".into(),
                "torch_utilites.cli:main".into()
            ),
            ("gui_scripts".into(), "g".into(), "x:y".into()),
        ]
    );
    assert_eq!(
        top_level_names(&host, d),
        vec!["torch_utilites".to_string()]
    );
    let rec = record_entries(&host, d);
    let bin = rec
        .iter()
        .find(|e| e.path == Path::new("/opt/v/bin/torch-utils"))
        .unwrap();
    assert!(!bin.outside_environment);
    assert!(bin.hash.as_ref().is_some_and(|(a, _)| a == "sha256"));
    assert_eq!(bin.size, Some(10));

    let egg = dists
        .iter()
        .find(|d| d.format == DistFormat::EggInfo)
        .unwrap();
    assert_eq!((egg.name.as_str(), egg.version.as_str()), ("oldie", "2.0"));
    assert_eq!(egg.format, DistFormat::EggInfo);
    assert_eq!(egg.source_kind(), SourceKind::Unknown);
    let rec = record_entries(&host, egg);
    assert!(rec
        .iter()
        .any(|e| e.path == site.join("oldie.py") && e.hash.is_none()));
    assert_eq!(top_level_names(&host, egg), vec!["oldie".to_string()]);
}
