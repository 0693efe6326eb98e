//! Loader manifests that name a library: Vulkan ICDs and layers, glvnd EGL
//! vendors, EGL external platforms (JSON with `library_path`) and OpenCL
//! ICDs (a text file holding the library). A library outside the system
//! library directories is a finding, and high in a temporary or home
//! directory. A bare name is resolved as `ld.so` would resolve it; a
//! relative path with a `/` against the manifest's directory, as the Vulkan
//! loader does.

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::rules::GpuRules;
use super::{clip, Hit};
use crate::host::Host;

/// The libraries a JSON manifest names (`ICD.library_path`,
/// `layer.library_path`, `layers[].library_path`, and any other
/// `library_path` below the top level).
pub fn json_libraries(doc: &Value) -> Vec<String> {
    let mut out = Vec::new();
    fn walk(v: &Value, out: &mut Vec<String>, depth: usize) {
        if depth > 6 {
            return;
        }
        match v {
            Value::Object(map) => {
                for (k, v) in map {
                    if k == "library_path" || k == "library_path_32" || k == "library_path_64" {
                        if let Some(s) = v.as_str() {
                            out.push(s.to_string());
                        }
                    } else {
                        walk(v, out, depth + 1);
                    }
                }
            }
            Value::Array(a) => a.iter().for_each(|v| walk(v, out, depth + 1)),
            _ => {}
        }
    }
    walk(doc, &mut out, 0);
    out
}

/// The library an OpenCL `.icd` file names: its first non-empty line.
pub fn opencl_library(text: &str) -> Option<String> {
    text.lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
}

/// Where a manifest's library resolves (a host path), or `None` for a bare
/// name the loader would not find.
pub fn resolve_library(
    host: &Host,
    manifest: &Path,
    library: &str,
    search: &[PathBuf],
) -> Option<PathBuf> {
    if library.contains('/') {
        let p = if library.starts_with('/') {
            PathBuf::from(library)
        } else {
            manifest.parent().unwrap_or(Path::new("/")).join(library)
        };
        Some(Host::normalize(&p))
    } else {
        super::ldso::resolve_bare(host, search, library)
    }
}

/// Checks the libraries of one manifest. `home` is the user's home when the
/// manifest lives in one. Returns the hits and the resolved libraries.
pub fn check(
    host: &Host,
    rules: &GpuRules,
    manifest: &Path,
    libraries: &[String],
    search: &[PathBuf],
    home: Option<&Path>,
) -> (Vec<Hit>, Vec<String>) {
    let mut hits = Vec::new();
    let mut loads = Vec::new();
    for lib in libraries {
        let resolved = resolve_library(host, manifest, lib, search);
        let Some(res) = resolved else {
            hits.push(Hit::file(
                "icd-library-missing",
                format!("{} is not in the loader's search path", clip(lib)),
            ));
            loads.push(lib.clone());
            continue;
        };
        // A link in a system directory that leads to /tmp counts as /tmp.
        let real = host.resolve(&res).unwrap_or_else(|_| res.clone());
        loads.push(res.to_string_lossy().into_owned());
        let own_home = home.is_some_and(|h| res.starts_with(h) && real.starts_with(h));
        let shown = if real != res {
            format!(
                "{} (-> {})",
                clip(&res.to_string_lossy()),
                clip(&real.to_string_lossy())
            )
        } else {
            clip(&res.to_string_lossy())
        };
        if (rules.is_temp(&res) || rules.is_temp(&real)) && !own_home {
            hits.push(Hit::file("icd-library-temp", format!("loads {shown}")));
        } else if !rules.is_system_lib(&res) || !rules.is_system_lib(&real) {
            hits.push(Hit::file("icd-library-nonsystem", format!("loads {shown}")));
        }
    }
    (hits, loads)
}

/// Parses a JSON manifest's libraries, or the hit that says it could not.
pub fn parse_json(text: &str) -> Result<Vec<String>, Hit> {
    match serde_json::from_str::<Value>(text) {
        Ok(v) => Ok(json_libraries(&v)),
        Err(e) => Err(Hit::file(
            "icd-manifest-unreadable",
            format!("invalid JSON: {}", clip(&e.to_string())),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_library_paths_in_every_shape() {
        let v: Value = serde_json::from_str(
            r#"{"file_format_version":"1.2.0","layers":[{"name":"a","library_path":"/tmp/a.so"},{"name":"b","library_path":"libb.so"}],"ICD":{"library_path":"libGLX_nvidia.so.0"}}"#,
        )
        .unwrap();
        let mut l = json_libraries(&v);
        l.sort();
        assert_eq!(l, ["/tmp/a.so", "libGLX_nvidia.so.0", "libb.so"]);
        assert_eq!(
            opencl_library("\nlibnvidia-opencl.so.1\n").as_deref(),
            Some("libnvidia-opencl.so.1")
        );
    }
}
