//! System-wide environment files (`/etc/environment`, `/etc/profile.d/*`,
//! `/etc/security/pam_env.conf`, `/etc/systemd/system.conf.d/*`,
//! `/etc/environment.d/*`) that set a variable making the dynamic linker,
//! CUDA, Vulkan, EGL or OpenCL load a library.
//!
//! `LD_PRELOAD`, `LD_AUDIT`, `CUDA_INJECTION64_PATH` and the layer list are
//! findings whatever their value. Search-path variables (`LD_LIBRARY_PATH`,
//! the manifest lists) are findings only when an entry lies outside the
//! system library and data directories: `export
//! LD_LIBRARY_PATH=/usr/local/cuda/lib64${LD_LIBRARY_PATH:+:...}` is what
//! CUDA's install guide says to do.

use std::path::Path;

use super::rules::GpuRules;
use super::{clip, Hit};

/// Variables that are a finding whatever they hold.
const ALWAYS: &[&str] = &[
    "LD_PRELOAD",
    "LD_AUDIT",
    "CUDA_INJECTION64_PATH",
    "VK_INSTANCE_LAYERS",
];

/// Data directories where loader manifests legitimately live.
const DATA_DIRS: &[&str] = &["/usr/share", "/usr/local/share", "/etc"];

/// Removes `${...}` (nested) and `$NAME` expansions from a value.
pub fn strip_expansions(value: &str) -> String {
    let b = value.as_bytes();
    let mut out = String::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'$' && i + 1 < b.len() && b[i + 1] == b'{' {
            let mut depth = 0usize;
            while i < b.len() {
                match b[i] {
                    b'{' => depth += 1,
                    b'}' => {
                        depth -= 1;
                        if depth == 0 {
                            i += 1;
                            break;
                        }
                    }
                    _ => {}
                }
                i += 1;
            }
            // An expansion stands between list entries.
            out.push(':');
            continue;
        }
        if b[i] == b'$' {
            i += 1;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                i += 1;
            }
            out.push(':');
            continue;
        }
        let ch = value[i..].chars().next().unwrap_or(' ');
        out.push(ch);
        i += ch.len_utf8();
    }
    out
}

fn value_at(rest: &str) -> String {
    let mut out = String::new();
    let mut quote: Option<char> = None;
    for c in rest.chars() {
        match (quote, c) {
            (None, '"' | '\'') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, c) if c.is_whitespace() || c == ';' => break,
            (_, c) => out.push(c),
        }
    }
    out
}

/// Every loader variable a line assigns, with why it is a finding (`None`:
/// a search path of system directories only).
pub fn loader_assignments(rules: &GpuRules, line: &str) -> Vec<(String, Option<String>)> {
    let mut out = Vec::new();
    let trimmed = line.trim_start();
    if trimmed.starts_with('#') || trimmed.starts_with("unset ") {
        return out;
    }
    for var in &rules.paths.loader_variables {
        let mut from = 0;
        while let Some(pos) = line[from..].find(var.as_str()) {
            let start = from + pos;
            let end = start + var.len();
            from = end;
            let before_ok = line[..start]
                .chars()
                .next_back()
                .is_none_or(|c| !(c.is_ascii_alphanumeric() || c == '_'));
            if !before_ok {
                continue;
            }
            let after = &line[end..];
            let value = if let Some(v) = after.strip_prefix('=') {
                Some(value_at(v))
            } else if after.starts_with([' ', '\t']) {
                let a = after.trim_start();
                if let Some(v) = a
                    .strip_prefix("DEFAULT=")
                    .or_else(|| a.strip_prefix("OVERRIDE="))
                {
                    Some(value_at(v))
                } else if line[..start].trim_end().ends_with("setenv") {
                    Some(value_at(a))
                } else {
                    None
                }
            } else {
                None
            };
            let Some(value) = value else { continue };
            let reason = if ALWAYS.contains(&var.as_str()) {
                Some(format!("sets {var}"))
            } else {
                let stripped = strip_expansions(&value);
                let bad: Vec<&str> = stripped
                    .split([':', ';', ','])
                    .filter(|e| !e.is_empty())
                    .filter(|e| {
                        let p = Path::new(e);
                        !p.is_absolute()
                            || rules.is_temp(p)
                            || !(rules.is_system_lib(p)
                                || DATA_DIRS.iter().any(|d| p.starts_with(d)))
                    })
                    .collect();
                if bad.is_empty() {
                    None
                } else {
                    Some(format!("sets {var} to include {}", clip(bad[0])))
                }
            };
            out.push((var.clone(), reason));
        }
    }
    out
}

/// Checks one environment file.
pub fn check(rules: &GpuRules, text: &str) -> Vec<Hit> {
    let mut hits = Vec::new();
    for (i, line) in text.lines().enumerate() {
        for (_, reason) in loader_assignments(rules, line) {
            if let Some(r) = reason {
                hits.push(Hit::at("env-loader-variable", i + 1, r));
            }
        }
    }
    hits
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gpu::rules::builtin;

    #[test]
    fn cuda_guide_lines_are_clean() {
        let text = "export PATH=/usr/local/cuda-12.4/bin${PATH:+:${PATH}}\n\
                    export LD_LIBRARY_PATH=/usr/local/cuda-12.4/lib64${LD_LIBRARY_PATH:+:${LD_LIBRARY_PATH}}\n\
                    # LD_PRELOAD=/tmp/x\n\
                    unset LD_PRELOAD\n";
        assert!(
            check(builtin(), text).is_empty(),
            "{:?}",
            check(builtin(), text)
        );
    }

    #[test]
    fn loader_variables_are_flagged_in_every_syntax() {
        for line in [
            "LD_PRELOAD=/usr/lib/libx.so",
            "export LD_PRELOAD=\"/tmp/.x/hook.so\"",
            "LD_PRELOAD DEFAULT=/dev/shm/h.so",
            "setenv CUDA_INJECTION64_PATH /opt/x/inj.so",
            "DefaultEnvironment=\"A=b\" \"LD_LIBRARY_PATH=/tmp/lib\"",
            "VK_ICD_FILENAMES=/home/u/icd.json",
            "export LD_LIBRARY_PATH=/opt/evil:$LD_LIBRARY_PATH",
        ] {
            let h = check(builtin(), line);
            assert_eq!(h.len(), 1, "{line}: {h:?}");
        }
        assert!(check(builtin(), "MY_LD_PRELOAD=/tmp/x\n").is_empty());
    }
}
