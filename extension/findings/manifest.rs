//! Build and packaging metadata read as data, not code: the console scripts
//! a source tree, sdist or wheel would install (`[project.scripts]` in
//! `pyproject.toml`, `[options.entry_points]` in `setup.cfg`, a wheel's
//! `.dist-info/entry_points.txt`, and `entry_points={'console_scripts':
//! [...]}` literals in `setup.py`), and the `cmdclass` overrides `setup.cfg`
//! points at in-tree modules.
//!
//! A console script that takes the name of a system or trusted command
//! (`pip`, `sudo`, `aws`, ...) is reported as `entry-point-shadows-command`,
//! exactly as the installed-distribution check in [`super::site`] does.
//!
//! The `setup.py` scan is literal: it sees string literals in a list (or one
//! string) after a `console_scripts` key. It cannot see names built at run
//! time (concatenation, f-strings, `.format`, a list read from a file or
//! returned by a function), nor scripts passed through variables defined in
//! another module.

use super::redact::excerpt;
use super::{Category, Finding, Role, RuleSet, Severity};

/// One console script: command name, `module:function` target, and the
/// 1-based line it was declared on (when known).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleScript {
    /// The command name installed on `PATH`.
    pub name: String,
    /// What it runs (`module:attr`).
    pub target: String,
    /// 1-based line of the declaration.
    pub line: Option<u64>,
}

/// A `cmdclass` override declared in `setup.cfg`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CmdclassHook {
    /// The setuptools command replaced (`install`, `build_py`, ...).
    pub command: String,
    /// The class that replaces it (`pkg.mod:Class` or `pkg.mod.Class`).
    pub target: String,
    /// 1-based line of the declaration.
    pub line: u64,
}

impl CmdclassHook {
    /// The dotted module the class lives in.
    pub fn module(&self) -> &str {
        match self.target.split_once(':') {
            Some((m, _)) => m.trim(),
            None => self
                .target
                .rsplit_once('.')
                .map(|(m, _)| m)
                .unwrap_or(&self.target)
                .trim(),
        }
    }

    /// Relative paths (from the project root) the module may live at, with
    /// and without a `src/` layout.
    pub fn module_paths(&self) -> Vec<String> {
        let base = self.module().replace('.', "/");
        if base.is_empty() {
            return Vec::new();
        }
        let mut out = Vec::new();
        for prefix in ["", "src/"] {
            out.push(format!("{prefix}{base}.py"));
            out.push(format!("{prefix}{base}/__init__.py"));
        }
        out
    }
}

/// Commands malicious packages override so that their code runs on
/// `pip install` (the same set `hook-install-override` looks for in setup.py).
const INSTALL_COMMANDS: &[&str] = &["install", "develop", "egg_info", "easy_install"];

/// One `key = value` of an INI file with its continuation lines.
struct IniValue<'a> {
    section: String,
    /// The key as written (a script name in `entry_points.txt`).
    name: String,
    /// The key lowercased (`configparser` option names).
    key: String,
    /// Value pieces: the text after the separator and each continuation
    /// line, with 1-based line numbers.
    lines: Vec<(&'a str, u64)>,
}

/// Parses INI text the way `configparser` (setuptools, `entry_points.txt`)
/// does for what matters here: `[section]`, `key = value` or `key: value`,
/// indented continuation lines, `#`/`;` comments.
fn parse_ini(text: &str) -> Vec<IniValue<'_>> {
    let mut out: Vec<IniValue<'_>> = Vec::new();
    let mut section = String::new();
    let mut open = false;
    for (i, raw) in text.lines().enumerate() {
        let n = i as u64 + 1;
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with(';') {
            continue;
        }
        let indented = raw.starts_with([' ', '\t']);
        if indented && open {
            if let Some(last) = out.last_mut() {
                last.lines.push((trimmed, n));
            }
            continue;
        }
        if let Some(name) = trimmed.strip_prefix('[').and_then(|t| t.strip_suffix(']')) {
            section = name.trim().to_string();
            open = false;
            continue;
        }
        let sep = trimmed.find(['=', ':']);
        let (key, value) = match sep {
            Some(at) => (&trimmed[..at], trimmed[at + 1..].trim()),
            None => (trimmed, ""),
        };
        let mut lines = Vec::new();
        if !value.is_empty() {
            lines.push((value, n));
        }
        out.push(IniValue {
            section: section.clone(),
            name: key.trim().to_string(),
            key: key.trim().to_ascii_lowercase(),
            lines,
        });
        open = true;
    }
    out
}

/// `name = target` pieces as console scripts.
fn scripts_from_pieces<'a>(pieces: impl Iterator<Item = (&'a str, u64)>) -> Vec<ConsoleScript> {
    pieces
        .filter_map(|(piece, n)| {
            let (name, target) = piece.split_once('=')?;
            let name = name.trim();
            (!name.is_empty()).then(|| ConsoleScript {
                name: name.to_string(),
                target: target.trim().to_string(),
                line: Some(n),
            })
        })
        .collect()
}

/// Console scripts of an `entry_points.txt` (`[console_scripts]`).
pub fn entry_points_txt_scripts(text: &str) -> Vec<ConsoleScript> {
    parse_ini(text)
        .iter()
        .filter(|v| v.section == "console_scripts" && !v.name.is_empty())
        .filter_map(|v| {
            let (target, n) = v.lines.first()?;
            Some(ConsoleScript {
                name: v.name.clone(),
                target: target.to_string(),
                line: Some(*n),
            })
        })
        .collect()
}

/// Console scripts of `setup.cfg`'s `[options.entry_points]`.
pub fn setup_cfg_scripts(text: &str) -> Vec<ConsoleScript> {
    let values = parse_ini(text);
    scripts_from_pieces(
        values
            .iter()
            .filter(|v| v.section == "options.entry_points" && v.key == "console_scripts")
            .flat_map(|v| v.lines.iter().copied()),
    )
}

/// `cmdclass` overrides in `setup.cfg`'s `[options]` or `[global]`.
pub fn setup_cfg_cmdclass(text: &str) -> Vec<CmdclassHook> {
    parse_ini(text)
        .iter()
        .filter(|v| (v.section == "options" || v.section == "global") && v.key == "cmdclass")
        .flat_map(|v| v.lines.iter().copied())
        .filter_map(|(piece, n)| {
            let (command, target) = piece.split_once('=')?;
            let (command, target) = (command.trim(), target.trim());
            (!command.is_empty() && !target.is_empty()).then(|| CmdclassHook {
                command: command.to_string(),
                target: target.to_string(),
                line: n,
            })
        })
        .collect()
}

/// Console scripts of `pyproject.toml`'s `[project.scripts]`. Invalid TOML
/// gives none (pip would refuse to build it).
pub fn pyproject_scripts(text: &str) -> Vec<ConsoleScript> {
    let Ok(doc) = text.parse::<toml::Table>() else {
        return Vec::new();
    };
    let Some(scripts) = doc
        .get("project")
        .and_then(|p| p.get("scripts"))
        .and_then(|s| s.as_table())
    else {
        return Vec::new();
    };
    scripts
        .iter()
        .filter_map(|(name, v)| {
            let target = v.as_str()?;
            let line = text.lines().position(|l| {
                let l = l.trim_start();
                let l = l.trim_start_matches(['"', '\'']);
                l.starts_with(name.as_str())
                    && l[name.len()..]
                        .trim_start_matches(['"', '\''])
                        .trim_start()
                        .starts_with('=')
            });
            Some(ConsoleScript {
                name: name.clone(),
                target: target.to_string(),
                line: line.map(|l| l as u64 + 1),
            })
        })
        .collect()
}

/// Console scripts written as string literals after a `console_scripts`
/// key in `setup.py` (see the module docs for what this cannot see).
pub fn setup_py_scripts(text: &str) -> Vec<ConsoleScript> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let line_of = |at: usize| Some(memchr::memchr_iter(b'\n', &bytes[..at]).count() as u64 + 1);
    for hit in memchr::memmem::find_iter(bytes, b"console_scripts") {
        let mut i = hit + "console_scripts".len();
        // Past the key's closing quote and the `:` (dict) or `=` (kwarg).
        let quoted = hit > 0 && matches!(bytes[hit - 1], b'"' | b'\'');
        if quoted && bytes.get(i) == Some(&bytes[hit - 1]) {
            i += 1;
        }
        while i < bytes.len() && matches!(bytes[i], b' ' | b'\t' | b':' | b'=') {
            i += 1;
        }
        let in_list = bytes.get(i) == Some(&b'[');
        if in_list {
            i += 1;
        }
        // String literals until the list (or the single string) ends.
        loop {
            while i < bytes.len() && matches!(bytes[i], b' ' | b'\t' | b'\r' | b'\n' | b',') {
                i += 1;
            }
            let Some(&q) = bytes.get(i) else { break };
            if q != b'"' && q != b'\'' {
                break;
            }
            let triple = bytes[i..].starts_with(&[q, q, q]);
            let open = if triple { 3 } else { 1 };
            let start = i + open;
            let close: &[u8] = if triple {
                &bytes[i..i + 3]
            } else {
                &bytes[i..i + 1]
            };
            let Some(len) = memchr::memmem::find(&bytes[start..], close) else {
                break;
            };
            let body = &text[start..start + len];
            let mut at = start;
            for piece in body.split('\n') {
                if let Some((name, target)) = piece.split_once('=') {
                    let name = name.trim();
                    if !name.is_empty() && !name.contains(char::is_whitespace) {
                        out.push(ConsoleScript {
                            name: name.to_string(),
                            target: target.trim().to_string(),
                            line: line_of(at),
                        });
                    }
                }
                at += piece.len() + 1;
            }
            i = start + len + open;
            if !in_list {
                break;
            }
        }
    }
    out
}

/// True when `command` is a system or trusted command that `owner` (a
/// normalized distribution name, if known) may not install.
pub fn shadows_trusted(rules: &RuleSet, command: &str, owner: Option<&str>) -> bool {
    let cmd = command.trim();
    let stem = cmd.trim_end_matches(|c: char| c.is_ascii_digit() || c == '.');
    rules.trusted_commands.iter().any(|t| {
        t.names.iter().any(|n| n == cmd || n == stem)
            && !owner.is_some_and(|o| t.owners.iter().any(|w| w == o))
    })
}

/// `entry-point-shadows-command` findings for the scripts that take over a
/// trusted command, in a file of `role`.
pub fn shadowing_findings(
    rules: &RuleSet,
    scripts: &[ConsoleScript],
    owner: Option<&str>,
    role: Role,
) -> Vec<Finding> {
    scripts
        .iter()
        .filter(|s| shadows_trusted(rules, &s.name, owner))
        .map(|s| Finding {
            rule_id: "entry-point-shadows-command".into(),
            category: Category::Shadowing,
            severity: Severity::High,
            line: s.line,
            evidence: excerpt(&format!("{} = {}", s.name, s.target), 0),
            description: format!(
                "console script '{}' takes over a system or trusted command",
                s.name
            ),
            role,
        })
        .collect()
}

/// `hook-cfg-cmdclass` findings. `in_tree` says whether a module path
/// (relative to the project root) exists in the tree or archive: an
/// override of an install command by in-tree code is medium (its code runs
/// on `pip install`, as a setup.py `cmdclass` does), another in-tree
/// override low, one pointing outside the tree (a build helper package)
/// info.
pub fn cmdclass_findings(hooks: &[CmdclassHook], in_tree: impl Fn(&str) -> bool) -> Vec<Finding> {
    hooks
        .iter()
        .map(|h| {
            let local = h.module_paths().iter().any(|p| in_tree(p));
            let install = INSTALL_COMMANDS.contains(&h.command.as_str());
            let severity = match (local, install) {
                (true, true) => Severity::Medium,
                (true, false) => Severity::Low,
                (false, _) => Severity::Info,
            };
            Finding {
                rule_id: "hook-cfg-cmdclass".into(),
                category: Category::InstallHook,
                severity,
                line: Some(h.line),
                evidence: excerpt(&format!("{} = {}", h.command, h.target), 0),
                description: format!(
                    "setup.cfg replaces the '{}' command with {} code that runs at build/install",
                    h.command,
                    if local { "in-tree" } else { "external" }
                ),
                role: Role::Config,
            }
        })
        .collect()
}

/// Which manifest a file is, from its path relative to the project root
/// (`setup.py`, `setup.cfg`, `pyproject.toml` at the top) or to a wheel's
/// root (`*.dist-info/entry_points.txt`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Manifest {
    /// `setup.py` at the project root.
    SetupPy,
    /// `setup.cfg` at the project root.
    SetupCfg,
    /// `pyproject.toml` at the project root.
    Pyproject,
    /// `<name>-<version>.dist-info/entry_points.txt` at a wheel's root, or
    /// the `<name>.egg-info/entry_points.txt` setuptools writes into an
    /// sdist (at its root or under `src/`): the scripts as built, which
    /// also shows those a `setup.py` computes at run time.
    EntryPointsTxt,
}

impl Manifest {
    /// The manifest at `rel` (a `/`-separated path from the project root),
    /// if it is one.
    pub fn at(rel: &str) -> Option<Manifest> {
        let rel = rel.trim_start_matches("./");
        match rel {
            "setup.py" => Some(Manifest::SetupPy),
            "setup.cfg" => Some(Manifest::SetupCfg),
            "pyproject.toml" => Some(Manifest::Pyproject),
            _ => {
                let dir = rel.strip_suffix("/entry_points.txt")?;
                let dir = dir.strip_prefix("src/").unwrap_or(dir);
                (!dir.contains('/') && metadata_dir_owner(dir).is_some())
                    .then_some(Manifest::EntryPointsTxt)
            }
        }
    }

    /// The console scripts it declares.
    pub fn scripts(self, text: &str) -> Vec<ConsoleScript> {
        match self {
            Manifest::SetupPy => setup_py_scripts(text),
            Manifest::SetupCfg => setup_cfg_scripts(text),
            Manifest::Pyproject => pyproject_scripts(text),
            Manifest::EntryPointsTxt => entry_points_txt_scripts(text),
        }
    }

    /// The role findings on it carry.
    pub fn role(self) -> Role {
        match self {
            Manifest::SetupPy => Role::Install,
            Manifest::SetupCfg | Manifest::Pyproject => Role::Config,
            Manifest::EntryPointsTxt => Role::Entry,
        }
    }
}

/// The normalized distribution name of a `.dist-info` or `.egg-info`
/// directory name (`torch_utilites-0.1.dist-info`, `torch_utilites.egg-info`).
pub fn metadata_dir_owner(dir: &str) -> Option<String> {
    let stem = dir
        .strip_suffix(".dist-info")
        .or_else(|| dir.strip_suffix(".egg-info"))?;
    let name = stem.split('-').next().unwrap_or(stem);
    (!name.is_empty()).then(|| crate::python::normalize_name(name))
}

/// The distribution name a manifest declares (`[project] name`,
/// `[metadata] name`, or a `name="..."` literal in setup.py), normalized.
pub fn declared_name(manifest: Manifest, text: &str) -> Option<String> {
    let raw = match manifest {
        Manifest::Pyproject => text
            .parse::<toml::Table>()
            .ok()?
            .get("project")?
            .get("name")?
            .as_str()?
            .to_string(),
        Manifest::SetupCfg => parse_ini(text)
            .iter()
            .find(|v| v.section == "metadata" && v.key == "name")?
            .lines
            .first()?
            .0
            .to_string(),
        Manifest::SetupPy => {
            let at = memchr::memmem::find(text.as_bytes(), b"name=")?;
            let rest = text[at + 5..].trim_start();
            let q = rest.chars().next().filter(|c| *c == '"' || *c == '\'')?;
            rest[1..].split(q).next()?.to_string()
        }
        Manifest::EntryPointsTxt => return None,
    };
    let n = crate::python::normalize_name(raw.trim());
    (!n.is_empty()).then_some(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn setup_cfg_entry_points_and_cmdclass() {
        let cfg = "[metadata]\nname = Evil_Pkg\n\n[options]\ncmdclass =\n    install = evil_pkg.hooks:PostInstall\n    build_py = evil_pkg._build.BuildPy\n\n[options.entry_points]\nconsole_scripts =\n    pip = evil_pkg.cli:main\n    evil-tool = evil_pkg.cli:tool\ngui_scripts =\n    sudo = evil_pkg.gui:main\n";
        let s = setup_cfg_scripts(cfg);
        assert_eq!(s.len(), 2, "{s:?}");
        assert_eq!(s[0].name, "pip");
        assert_eq!(s[0].target, "evil_pkg.cli:main");
        assert_eq!(s[0].line, Some(11));
        let h = setup_cfg_cmdclass(cfg);
        assert_eq!(h.len(), 2);
        assert_eq!(h[0].module(), "evil_pkg.hooks");
        assert_eq!(h[1].module(), "evil_pkg._build");
        assert!(h[0]
            .module_paths()
            .contains(&"src/evil_pkg/hooks.py".to_string()));
        assert_eq!(
            declared_name(Manifest::SetupCfg, cfg).as_deref(),
            Some("evil-pkg")
        );
    }

    #[test]
    fn setup_py_literals_list_and_string() {
        let py = "setup(\n    name='x',\n    entry_points={\n        'console_scripts': [\n            'sudo=x.cli:main',\n            \"x-tool = x.cli:tool\",\n        ],\n    },\n)\nother = dict(console_scripts=\"\"\"\nssh = x.s:main\n\"\"\")\n";
        let s = setup_py_scripts(py);
        let names: Vec<(&str, Option<u64>)> = s.iter().map(|c| (c.name.as_str(), c.line)).collect();
        assert_eq!(
            names,
            vec![("sudo", Some(5)), ("x-tool", Some(6)), ("ssh", Some(11))]
        );
        // Built at run time: not seen (a stated limit).
        assert!(setup_py_scripts("entry_points={'console_scripts': [NAME + '=x:m']}").is_empty());
        assert_eq!(declared_name(Manifest::SetupPy, py).as_deref(), Some("x"));
    }

    #[test]
    fn pyproject_and_entry_points_txt() {
        let t = "[project]\nname = \"pkg\"\n\n[project.scripts]\npip3 = \"pkg.cli:main\"\n\"kubectl\" = 'pkg.k:main'\n";
        let s = pyproject_scripts(t);
        assert_eq!(s.len(), 2);
        let k = s.iter().find(|c| c.name == "kubectl").unwrap();
        assert_eq!(k.line, Some(6));
        assert!(pyproject_scripts("not [ toml").is_empty());
        let e = entry_points_txt_scripts(
            "[console_scripts]\naws = pkg.a:main\n[gui_scripts]\nls = pkg:g\n",
        );
        assert_eq!(e.len(), 1);
        assert_eq!((e[0].name.as_str(), e[0].line), ("aws", Some(2)));
    }

    #[test]
    fn trusted_command_owners() {
        let rules = RuleSet::builtin();
        assert!(shadows_trusted(rules, "pip3", Some("evil")));
        assert!(!shadows_trusted(rules, "pip3", Some("pip")));
        assert!(shadows_trusted(rules, "pip", None));
        assert!(shadows_trusted(rules, "python3.12", None));
        assert!(!shadows_trusted(rules, "pip-tools", None));
        assert!(!shadows_trusted(rules, "aws", Some("awscli")));
    }

    #[test]
    fn manifests_by_path() {
        assert_eq!(Manifest::at("setup.py"), Some(Manifest::SetupPy));
        assert_eq!(Manifest::at("pkg/setup.py"), None);
        assert_eq!(
            Manifest::at("x-1.0.dist-info/entry_points.txt"),
            Some(Manifest::EntryPointsTxt)
        );
        assert_eq!(Manifest::at("x/entry_points.txt"), None);
        assert_eq!(
            Manifest::at("src/x.egg-info/entry_points.txt"),
            Some(Manifest::EntryPointsTxt)
        );
        assert_eq!(Manifest::at("a/b/x.egg-info/entry_points.txt"), None);
        assert_eq!(
            metadata_dir_owner("Torch_Utilites.egg-info").as_deref(),
            Some("torch-utilites")
        );
        assert_eq!(
            metadata_dir_owner("pip-24.0.dist-info").as_deref(),
            Some("pip")
        );
    }
}
