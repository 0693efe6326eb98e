//! The canary distribution: every file `squatch drill plant` lays out, as
//! bytes, with no pip, no network and no Python run.
//!
//! The files are shaped like what an installer leaves behind (a `.dist-info`
//! with METADATA, INSTALLER, REQUESTED, WHEEL and a RECORD whose hashes are
//! right, a module, a `.pth`), plus an sdist tree whose `setup.py` is the
//! install-time hook, and a requirements file that names the package. Every
//! file (but RECORD, which is CSV of paths and hashes) carries the drill
//! marker and a comment saying it is a drill. The
//! only action any of it has, if an interpreter ever runs it, is to append
//! the marker to [`DRILL_FILE`] (or, with a DNS canary, to resolve that name):
//! squatch itself never runs it.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use sha2::{Digest, Sha256};

/// The file a canary writes if it is ever run (the seed guide's choice).
pub const DRILL_FILE: &str = "/tmp/security-drill.txt";

/// The prefix of the canary's METADATA `Summary`: the packs' canary query
/// finds a planted drill on any host by it.
pub const SUMMARY_PREFIX: &str = "SQUATCH-DRILL";

/// The canary's version.
pub const VERSION: &str = "0.0.1";

/// What to plant.
#[derive(Debug, Clone)]
pub struct CanarySpec {
    /// Distribution name (`pytorch-utilz`).
    pub name: String,
    /// The drill marker (also in every file).
    pub marker: String,
    /// A DNS name the canary resolves instead of only writing the file.
    pub dns_canary: Option<String>,
}

/// Where the pieces go (host paths).
#[derive(Debug, Clone)]
pub struct Layout {
    /// The environment's site directory.
    pub site: PathBuf,
    /// Directory that receives the sdist tree and the requirements file.
    pub extras: PathBuf,
}

/// One file to write.
#[derive(Debug, Clone)]
pub struct PlannedFile {
    /// Host path.
    pub path: PathBuf,
    /// Contents.
    pub bytes: Vec<u8>,
    /// What it is, in words (for the plant summary and the report).
    pub role: &'static str,
}

/// The canary's files and the paths the watcher looks for.
#[derive(Debug, Clone)]
pub struct Canary {
    /// Every file, in the order to write them.
    pub files: Vec<PlannedFile>,
    /// The `.pth` file.
    pub pth: PathBuf,
    /// The sdist tree (the directory holding `setup.py`).
    pub sdist: PathBuf,
    /// The requirements file.
    pub requirements: PathBuf,
    /// The `.dist-info` directory.
    pub dist_info: PathBuf,
}

/// The module name of a distribution name (`pytorch-utilz` -> `pytorch_utilz`).
pub fn module_name(name: &str) -> String {
    name.to_ascii_lowercase().replace(['-', '.'], "_")
}

/// RECORD's hash of some bytes, as pip writes it: `sha256=` and the
/// URL-safe base64 digest without padding.
pub fn record_hash(bytes: &[u8]) -> String {
    format!(
        "sha256={}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(bytes))
    )
}

/// True for a name that can be a project name and a file name: ASCII
/// letters, digits, `-`, `_`, `.`, starting and ending with a letter or digit.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        && name.as_bytes()[0].is_ascii_alphanumeric()
        && name.as_bytes()[name.len() - 1].is_ascii_alphanumeric()
}

/// True for a DNS name made of letters, digits, `-` and `.`.
pub fn valid_dns_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-.".contains(&b))
}

fn header(spec: &CanarySpec) -> String {
    format!(
        "# SECURITY DRILL ({SUMMARY_PREFIX} {marker}): planted by `squatch drill plant`; harmless.\n\
         # If this ever runs it only appends the marker to {DRILL_FILE}{dns}.\n\
         # Remove it with `squatch drill clean`.\n",
        marker = spec.marker,
        dns = match &spec.dns_canary {
            Some(n) => format!(" and resolves {n}"),
            None => String::new(),
        }
    )
}

/// The one action, as Python source lines (no indentation).
fn action(spec: &CanarySpec) -> String {
    let mut s = format!(
        "with open({DRILL_FILE:?}, \"a\") as _drill:\n    _drill.write({:?} + \"\\n\")\n",
        spec.marker
    );
    if let Some(n) = &spec.dns_canary {
        s.push_str(&format!(
            "try:\n    socket.gethostbyname({n:?})  # the drill's DNS canary\nexcept OSError:\n    pass\n"
        ));
    }
    s
}

/// Lays out the canary under `layout` (computes bytes only; writes nothing).
pub fn build(spec: &CanarySpec, layout: &Layout) -> Canary {
    let module = module_name(&spec.name);
    let head = header(spec);
    let dist_info_name = format!("{module}-{VERSION}.dist-info");
    let mut site_files: Vec<(String, Vec<u8>, &'static str)> = Vec::new();

    // The module: at import it does the one action.
    let module_src = format!(
        "{head}\"\"\"Security-drill canary {name} ({marker}): not a real package.\"\"\"\n\
         DRILL_MARKER = {marker:?}\n{imports}\n\ndef canary():\n    \"\"\"Append the drill marker to {DRILL_FILE} (the drill's only action).\"\"\"\n{body}\n\ncanary()\n",
        name = spec.name,
        marker = spec.marker,
        imports = if spec.dns_canary.is_some() {
            "import socket"
        } else {
            ""
        },
        body = indent(&action(spec), 4),
    );
    site_files.push((
        format!("{module}/__init__.py"),
        module_src.into_bytes(),
        "module (runs the canary on import)",
    ));

    // The .pth: site.py runs its `import` line at every interpreter start.
    let pth_line = match &spec.dns_canary {
        Some(n) => format!(
            "import socket; open({DRILL_FILE:?}, \"a\").write({m:?} + \"\\n\"); socket.gethostbyname({n:?})  # SECURITY DRILL {m}\n",
            m = spec.marker
        ),
        None => format!(
            "import os; open({DRILL_FILE:?}, \"a\").write({m:?} + \"\\n\")  # SECURITY DRILL {m}\n",
            m = spec.marker
        ),
    };
    let pth_name = format!("{module}_drill.pth");
    site_files.push((
        pth_name.clone(),
        format!("{head}{pth_line}").into_bytes(),
        ".pth (runs at every interpreter start)",
    ));

    // The metadata.
    let metadata = format!(
        "Metadata-Version: 2.1\nName: {name}\nVersion: {VERSION}\n\
         Summary: {SUMMARY_PREFIX} {marker}: harmless security-drill canary planted by squatch drill; remove with squatch drill clean\n\
         Home-page: https://drill.invalid/{marker}\nAuthor: squatch drill\nLicense: CC0-1.0\n\n\
         SECURITY DRILL {marker}. This distribution was laid out by `squatch drill plant`\n\
         to test detection; it was never downloaded or installed by pip.\n",
        name = spec.name,
        marker = spec.marker,
    );
    site_files.push((
        format!("{dist_info_name}/METADATA"),
        metadata.into_bytes(),
        "METADATA",
    ));
    // INSTALLER: tools read its first line; the marker goes on the second.
    site_files.push((
        format!("{dist_info_name}/INSTALLER"),
        format!("pip\n# SECURITY DRILL {}\n", spec.marker).into_bytes(),
        "INSTALLER",
    ));
    // REQUESTED may hold a short comment (PEP 376).
    site_files.push((
        format!("{dist_info_name}/REQUESTED"),
        format!("SECURITY DRILL {}\n", spec.marker).into_bytes(),
        "REQUESTED",
    ));
    site_files.push((
        format!("{dist_info_name}/WHEEL"),
        format!(
            "Wheel-Version: 1.0\nGenerator: squatch-drill ({marker})\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
            marker = spec.marker
        )
        .into_bytes(),
        "WHEEL",
    ));

    // RECORD: every file above with its hash and size, itself without.
    let mut record = String::new();
    for (rel, bytes, _) in &site_files {
        record.push_str(&format!("{rel},{},{}\n", record_hash(bytes), bytes.len()));
    }
    record.push_str(&format!("{dist_info_name}/RECORD,,\n"));
    site_files.push((
        format!("{dist_info_name}/RECORD"),
        record.into_bytes(),
        "RECORD",
    ));

    let mut files: Vec<PlannedFile> = site_files
        .into_iter()
        .map(|(rel, bytes, role)| PlannedFile {
            path: layout.site.join(rel),
            bytes,
            role,
        })
        .collect();

    // The sdist: setup.py is the install-time hook.
    let sdist = layout.extras.join(format!("{}-{VERSION}", spec.name));
    let setup = format!(
        "{head}# The install-time hook of the drill: pip would run this file when\n\
         # building the sdist. It only appends the marker to {DRILL_FILE}.\n\
         import socket  # the drill's DNS canary (used only when one was given)\n\
         from setuptools import setup\n\n{action}\n\
         setup(name={name:?}, version={VERSION:?}, packages=[{module:?}],\n      \
         description={summary:?})\n",
        action = action(spec),
        name = spec.name,
        summary = format!(
            "{SUMMARY_PREFIX} {}: harmless security-drill canary",
            spec.marker
        ),
    );
    files.push(PlannedFile {
        path: sdist.join("setup.py"),
        bytes: setup.into_bytes(),
        role: "sdist setup.py (install-time hook)",
    });
    files.push(PlannedFile {
        path: sdist.join("PKG-INFO"),
        bytes: format!(
            "Metadata-Version: 2.1\nName: {}\nVersion: {VERSION}\nSummary: {SUMMARY_PREFIX} {}: harmless security-drill canary\n",
            spec.name, spec.marker
        )
        .into_bytes(),
        role: "sdist PKG-INFO",
    });
    files.push(PlannedFile {
        path: sdist.join(format!("{module}/__init__.py")),
        bytes: format!("{head}DRILL_MARKER = {:?}\n", spec.marker).into_bytes(),
        role: "sdist module",
    });

    let requirements = layout.extras.join("requirements.txt");
    files.push(PlannedFile {
        path: requirements.clone(),
        bytes: format!(
            "{head}# The drill's dependency file: a CI gate should refuse it.\n{}=={VERSION}\n",
            spec.name
        )
        .into_bytes(),
        role: "requirements file naming the canary",
    });

    Canary {
        files,
        pth: layout.site.join(pth_name),
        sdist,
        requirements,
        dist_info: layout.site.join(dist_info_name),
    }
}

fn indent(text: &str, n: usize) -> String {
    let pad = " ".repeat(n);
    text.lines()
        .map(|l| format!("{pad}{l}\n"))
        .collect::<String>()
}

/// The scratch venv's own files (only for a scratch target): `pyvenv.cfg`,
/// so that squatch sees a venv there. No interpreter is created.
pub fn scratch_venv_files(venv: &Path, marker: &str) -> Vec<PlannedFile> {
    vec![PlannedFile {
        path: venv.join("pyvenv.cfg"),
        bytes: format!(
            "# SECURITY DRILL ({SUMMARY_PREFIX} {marker}): scratch venv laid out by squatch drill; it has no interpreter.\n\
             home = /nonexistent-squatch-drill\ninclude-system-site-packages = false\nversion = 3.12\n"
        )
        .into_bytes(),
        role: "scratch venv pyvenv.cfg",
    }]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(dns: Option<&str>) -> CanarySpec {
        CanarySpec {
            name: "pytorch-utilz".into(),
            marker: "SQUATCH-DRILL-T1".into(),
            dns_canary: dns.map(str::to_string),
        }
    }

    fn layout() -> Layout {
        Layout {
            site: "/v/lib/python3.12/site-packages".into(),
            extras: "/x".into(),
        }
    }

    #[test]
    fn every_file_carries_the_marker_and_says_drill() {
        let c = build(&spec(Some("c.drill.invalid")), &layout());
        for f in &c.files {
            let text = String::from_utf8_lossy(&f.bytes);
            // RECORD is CSV of paths and hashes: a comment row would name a
            // missing file.
            if f.path.ends_with("RECORD") {
                continue;
            }
            assert!(text.contains("SQUATCH-DRILL-T1"), "{}", f.path.display());
            assert!(
                text.to_ascii_uppercase().contains("DRILL"),
                "{}",
                f.path.display()
            );
        }
    }

    #[test]
    fn record_lists_every_site_file_with_its_hash() {
        let c = build(&spec(None), &layout());
        let record = c.files.iter().find(|f| f.path.ends_with("RECORD")).unwrap();
        let text = String::from_utf8(record.bytes.clone()).unwrap();
        let site = &layout().site;
        for f in c.files.iter().filter(|f| f.path.starts_with(site)) {
            let rel = f.path.strip_prefix(site).unwrap().to_string_lossy();
            if rel.ends_with("RECORD") {
                assert!(text.contains(&format!("{rel},,")));
            } else {
                assert!(text.contains(&format!(
                    "{rel},{},{}",
                    record_hash(&f.bytes),
                    f.bytes.len()
                )));
            }
        }
        assert_eq!(
            record_hash(b""),
            "sha256=47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU"
        );
    }

    #[test]
    fn names_are_checked() {
        assert!(valid_name("pytorch-utilz"));
        assert!(!valid_name("../x"));
        assert!(!valid_name("a b"));
        assert!(!valid_name("-x"));
        assert!(valid_dns_name("c.drill.invalid"));
        assert!(!valid_dns_name("a\"; import os"));
    }
}
