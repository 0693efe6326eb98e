//! The dynamic linker's configuration: `/etc/ld.so.preload` (any entry
//! loads a library into every program) and `/etc/ld.so.conf` with its
//! `include`d files (directories searched for libraries), and the search a
//! bare library name goes through, as `ld.so` would do it.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::rules::GpuRules;
use super::{clip, Hit};
use crate::host::Host;

/// Checks `/etc/ld.so.preload`: every entry (after comments) is a hit.
pub fn check_preload(text: &str) -> Vec<Hit> {
    let mut hits = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("");
        for lib in line.split([' ', '\t', ':']).filter(|s| !s.is_empty()) {
            hits.push(Hit::at(
                "ld-preload-entry",
                i + 1,
                format!("preloads {}", clip(lib)),
            ));
        }
    }
    hits
}

/// One directive of an ld.so.conf file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfLine {
    /// A directory to search.
    Dir(String),
    /// An `include` glob.
    Include(String),
    /// `hwcap` (ignored by modern glibc).
    Other,
}

/// Parses ld.so.conf text into (line number, directive).
pub fn parse_conf(text: &str) -> Vec<(usize, ConfLine)> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        if let Some(rest) = line.strip_prefix("include") {
            if rest.starts_with([' ', '\t']) {
                for g in rest.split_whitespace() {
                    out.push((i + 1, ConfLine::Include(g.to_string())));
                }
                continue;
            }
        }
        if line.starts_with("hwcap") {
            out.push((i + 1, ConfLine::Other));
            continue;
        }
        for d in line.split([' ', '\t', ':', ',']).filter(|s| !s.is_empty()) {
            // `dir=TYPE` (old libc5 syntax): the directory is before '='.
            let d = d.split('=').next().unwrap_or(d);
            out.push((i + 1, ConfLine::Dir(d.to_string())));
        }
    }
    out
}

/// Checks one ld.so.conf file: directories in temp/home places, outside the
/// system library directories, or writable by non-root; includes outside
/// `/etc/ld.so.conf.d`.
pub fn check_conf(host: &Host, rules: &GpuRules, text: &str, root_uid: u32) -> Vec<Hit> {
    let mut hits = Vec::new();
    for (line, d) in parse_conf(text) {
        match d {
            ConfLine::Dir(dir) => {
                let p = Path::new(&dir);
                if rules.is_temp(p) || !p.is_absolute() {
                    hits.push(Hit::at(
                        "ld-conf-temp-dir",
                        line,
                        format!("searches {}", clip(&dir)),
                    ));
                } else if !rules.is_system_lib(p) {
                    hits.push(Hit::at(
                        "ld-conf-nonsystem-dir",
                        line,
                        format!("searches {}", clip(&dir)),
                    ));
                }
                if let Ok(md) = host.metadata(p) {
                    if md.mode() & 0o002 != 0 || (md.uid() != root_uid && md.uid() != 0) {
                        hits.push(Hit::at(
                            "ld-conf-writable-dir",
                            line,
                            format!(
                                "{} is mode {:o}, owner uid {}",
                                clip(&dir),
                                md.mode() & 0o7777,
                                md.uid()
                            ),
                        ));
                    }
                }
            }
            ConfLine::Include(g) => {
                let inside = Path::new(&g).parent() == Some(Path::new("/etc/ld.so.conf.d"))
                    || (!g.starts_with('/') && !g.contains('/'));
                if !inside {
                    hits.push(Hit::at(
                        "ld-conf-include",
                        line,
                        format!("includes {}", clip(&g)),
                    ));
                }
            }
            ConfLine::Other => {}
        }
    }
    hits
}

/// Matches a file name against a glob with `*` and `?` only.
pub fn glob_match(pattern: &str, name: &str) -> bool {
    fn go(p: &[u8], n: &[u8]) -> bool {
        match (p.first(), n.first()) {
            (None, None) => true,
            (Some(b'*'), _) => go(&p[1..], n) || (!n.is_empty() && go(p, &n[1..])),
            (Some(b'?'), Some(_)) => go(&p[1..], &n[1..]),
            (Some(a), Some(b)) if a == b => go(&p[1..], &n[1..]),
            _ => false,
        }
    }
    go(pattern.as_bytes(), name.as_bytes())
}

/// The directories `ld.so` searches for a bare library name: those of
/// `/etc/ld.so.conf` (following includes, one level of globbing), then the
/// default ones, without duplicates.
pub fn search_dirs(host: &Host) -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    let mut files = vec![PathBuf::from("/etc/ld.so.conf")];
    let mut read = 0;
    while let Some(f) = files.pop() {
        read += 1;
        if read > 256 {
            break;
        }
        let Ok(text) = host.read_to_string(&f, super::CONFIG_READ_CAP) else {
            continue;
        };
        let mut includes = Vec::new();
        for (_, d) in parse_conf(&text) {
            match d {
                ConfLine::Dir(d) => dirs.push(PathBuf::from(d)),
                ConfLine::Include(g) => {
                    let g = if g.starts_with('/') {
                        PathBuf::from(g)
                    } else {
                        Path::new("/etc").join(g)
                    };
                    let (Some(parent), Some(pat)) = (g.parent(), g.file_name()) else {
                        continue;
                    };
                    let pat = pat.to_string_lossy();
                    if let Ok(entries) = host.read_dir(parent) {
                        for e in entries {
                            if glob_match(&pat, &e.name_lossy()) {
                                includes.push(e.path);
                            }
                        }
                    }
                }
                ConfLine::Other => {}
            }
        }
        // Included files are read in name order, before what follows.
        includes.reverse();
        files.extend(includes);
    }
    for t in ["/lib", "/usr/lib"] {
        if let Ok(entries) = host.read_dir(Path::new(t)) {
            for e in entries {
                if e.name_lossy().contains("-linux-gnu") {
                    dirs.push(e.path);
                }
            }
        }
    }
    for d in ["/lib64", "/usr/lib64", "/lib", "/usr/lib"] {
        dirs.push(PathBuf::from(d));
    }
    let mut seen = std::collections::BTreeSet::new();
    dirs.retain(|d| seen.insert(d.clone()));
    dirs
}

/// Where `ld.so` would find a bare library name: the first search
/// directory holding it, resolved inside the root.
pub fn resolve_bare(host: &Host, dirs: &[PathBuf], name: &str) -> Option<PathBuf> {
    dirs.iter()
        .map(|d| d.join(name))
        .find(|p| host.is_file(p))
        .map(|p| host.resolve(&p).unwrap_or(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preload_entries_and_comments() {
        assert!(check_preload("# nothing\n\n").is_empty());
        let h = check_preload("/tmp/.x/libhook.so  /lib/a.so\n");
        assert_eq!(h.len(), 2);
        assert_eq!(h[0].line, Some(1));
        assert!(h[0].detail.contains("/tmp/.x/libhook.so"));
    }

    #[test]
    fn conf_parsing() {
        let l = parse_conf("include /etc/ld.so.conf.d/*.conf\n/usr/local/lib # x\n");
        assert_eq!(l[0].1, ConfLine::Include("/etc/ld.so.conf.d/*.conf".into()));
        assert_eq!(l[1], (2, ConfLine::Dir("/usr/local/lib".into())));
    }

    #[test]
    fn globbing() {
        assert!(glob_match("*.conf", "cuda-12-4.conf"));
        assert!(!glob_match("*.conf", "cuda.conf.bak"));
        assert!(glob_match("a?c", "abc"));
    }
}
