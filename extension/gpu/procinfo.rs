//! What `<root>/proc` says about a process using a GPU: its name, its
//! executable, and whether that executable was deleted or lives in a
//! world-writable directory (the ultralytics 8.3.41 miner ran from
//! `/tmp/ultralytics_runner`). Command lines are not read: they may hold
//! secrets.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::host::Host;

/// Directories that are world-writable on any stock system, for an
/// executable whose directory cannot be `stat`ed (deleted, or an image).
const WORLD_WRITABLE: &[&str] = &[
    "/tmp",
    "/var/tmp",
    "/dev/shm",
    "/run/shm",
    "/run/lock",
    "/var/lock",
];

/// One process, as `/proc` shows it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProcInfo {
    /// `/proc/<pid>/comm`.
    pub name: Option<String>,
    /// `/proc/<pid>/exe`'s target, without a ` (deleted)` suffix.
    pub exe: Option<String>,
    /// True when the executable was deleted after it started.
    pub exe_deleted: bool,
    /// True when the executable's directory is world-writable.
    pub exe_in_world_writable_dir: bool,
    /// Real uid (`/proc/<pid>/status`).
    pub uid: Option<u32>,
    /// `ok`, or why `/proc` could not tell.
    pub status: String,
}

/// Reads a process's name and executable from the host's `/proc`.
pub fn process_info(host: &Host, pid: u32) -> ProcInfo {
    let dir = PathBuf::from(format!("/proc/{pid}"));
    let mut info = ProcInfo {
        status: "ok".into(),
        ..Default::default()
    };
    match host.read_to_string(&dir.join("comm"), 4096) {
        Ok(s) => info.name = Some(s.trim_end_matches('\n').to_string()),
        Err(e) => {
            info.status = if e.is_not_found() {
                format!("no /proc/{pid} (process gone, or in another pid namespace)")
            } else {
                format!("unreadable: {e}")
            };
            return info;
        }
    }
    if let Ok(text) = host.read_to_string(&dir.join("status"), 64 * 1024) {
        info.uid = text
            .lines()
            .find_map(|l| l.strip_prefix("Uid:"))
            .and_then(|r| r.split_whitespace().next())
            .and_then(|u| u.parse().ok());
    }
    // `exe` is a link to read, never to follow (on a live host it is a
    // magic link to the running file).
    let link = match host.resolve(&dir) {
        Ok(d) => host.real_path(&d).join("exe"),
        Err(e) => {
            info.status = format!("unreadable: {e}");
            return info;
        }
    };
    match std::fs::read_link(&link) {
        Ok(target) => {
            let t = target.to_string_lossy().into_owned();
            let (path, deleted) = match t.strip_suffix(" (deleted)") {
                Some(p) => (p.to_string(), true),
                None => (t, false),
            };
            let parent = Path::new(&path).parent().map(Path::to_path_buf);
            info.exe_in_world_writable_dir = parent.is_some_and(|p| match host.metadata(&p) {
                Ok(md) if !deleted => md.mode() & 0o002 != 0,
                _ => WORLD_WRITABLE.iter().any(|w| p.starts_with(w)),
            });
            info.exe_deleted = deleted;
            info.exe = Some(path);
        }
        Err(e) => {
            info.status = format!("unreadable: /proc/{pid}/exe: {e}");
        }
    }
    info
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn reads_name_exe_and_flags() {
        let dir = tempfile::tempdir().unwrap();
        let r = dir.path();
        std::fs::create_dir_all(r.join("proc/42")).unwrap();
        std::fs::create_dir_all(r.join("tmp")).unwrap();
        std::fs::set_permissions(r.join("tmp"), std::fs::Permissions::from_mode(0o1777)).unwrap();
        std::fs::write(r.join("proc/42/comm"), "ultralytics_run\n").unwrap();
        std::fs::write(
            r.join("proc/42/status"),
            "Name:\tx\nUid:\t1000\t1000\t1000\t1000\n",
        )
        .unwrap();
        std::os::unix::fs::symlink("/tmp/ultralytics_runner", r.join("proc/42/exe")).unwrap();
        let host = Host::new(r);
        let i = process_info(&host, 42);
        assert_eq!(i.name.as_deref(), Some("ultralytics_run"));
        assert_eq!(i.exe.as_deref(), Some("/tmp/ultralytics_runner"));
        assert!(i.exe_in_world_writable_dir && !i.exe_deleted);
        assert_eq!(i.uid, Some(1000));
        std::fs::create_dir_all(r.join("proc/43")).unwrap();
        std::fs::write(r.join("proc/43/comm"), "x\n").unwrap();
        std::os::unix::fs::symlink("/dev/shm/.x/run (deleted)", r.join("proc/43/exe")).unwrap();
        let i = process_info(&host, 43);
        assert!(i.exe_deleted && i.exe_in_world_writable_dir);
        assert_eq!(i.exe.as_deref(), Some("/dev/shm/.x/run"));
        assert!(process_info(&host, 7).status.contains("no /proc/7"));
    }
}
