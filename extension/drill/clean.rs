//! `squatch drill clean`: removes every planted file that still matches the
//! digest the manifest recorded, then the directories the drill created when
//! they are empty; a file changed since planting (or replaced by something
//! that is not a plain file) is left where it is and reported.

use std::path::Path;

use serde::Serialize;

use super::manifest::{sha256_hex, Manifest, Store};
use super::real_path;
use crate::host::Host;

/// Files larger than this cannot be a planted file (all are small): left.
const MAX_PLANTED: u64 = 1 << 20;

/// What `clean` did.
#[derive(Debug, Clone, Serialize, Default)]
pub struct CleanResult {
    /// Files removed (host paths).
    pub removed: Vec<String>,
    /// Directories removed.
    pub dirs_removed: Vec<String>,
    /// Files or directories left, with why.
    pub left: Vec<(String, String)>,
    /// Planted files that were already gone.
    pub already_gone: Vec<String>,
    /// True when the manifest was removed too.
    pub manifest_removed: bool,
}

/// Removes the planted files that match their digests (no directories,
/// no manifest); what was left is in `left`.
pub fn remove_planted(host: &Host, m: &Manifest) -> CleanResult {
    let mut r = CleanResult::default();
    for f in m.files.iter().rev() {
        let real = real_path(host, Path::new(&f.path));
        let meta = match std::fs::symlink_metadata(&real) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                r.already_gone.push(f.path.clone());
                continue;
            }
            Err(e) => {
                r.left
                    .push((f.path.clone(), format!("cannot look at it: {e}")));
                continue;
            }
        };
        if !meta.file_type().is_file() {
            r.left
                .push((f.path.clone(), "no longer a plain file".to_string()));
            continue;
        }
        if meta.len() != f.size || meta.len() > MAX_PLANTED {
            r.left.push((
                f.path.clone(),
                format!("changed since planting (size {} != {})", meta.len(), f.size),
            ));
            continue;
        }
        match std::fs::read(&real) {
            Ok(bytes) if sha256_hex(&bytes) == f.sha256 => match std::fs::remove_file(&real) {
                Ok(()) => r.removed.push(f.path.clone()),
                Err(e) => r.left.push((f.path.clone(), format!("cannot remove: {e}"))),
            },
            Ok(_) => r.left.push((
                f.path.clone(),
                "changed since planting (sha256 differs)".to_string(),
            )),
            Err(e) => r.left.push((f.path.clone(), format!("cannot read: {e}"))),
        }
    }
    r
}

fn remove_dirs(host: &Host, m: &Manifest, r: &mut CleanResult) {
    for d in m.dirs_created.iter().rev() {
        let real = real_path(host, Path::new(d));
        match std::fs::remove_dir(&real) {
            Ok(()) => r.dirs_removed.push(d.clone()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(_) => r
                .left
                .push((d.clone(), "directory not empty: kept".to_string())),
        }
    }
}

/// Cleans the drill: planted files that match, then the store (when nothing
/// was left), then the directories the drill created that are empty.
pub fn clean(host: &Host, m: &Manifest, store: &Store) -> CleanResult {
    let mut r = remove_planted(host, m);
    let files_left = !r.left.is_empty();
    if !files_left {
        store.remove();
        r.manifest_removed = true;
    }
    remove_dirs(host, m, &mut r);
    r
}

/// What `clean` prints.
pub fn text(r: &CleanResult) -> String {
    let mut s = format!(
        "removed {} planted file(s) and {} directory(ies) the drill created\n",
        r.removed.len(),
        r.dirs_removed.len()
    );
    if !r.already_gone.is_empty() {
        s.push_str(&format!(
            "already gone: {}\n",
            r.already_gone
                .iter()
                .map(|p| crate::output::escape_for_terminal(p, &[]))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if r.left.is_empty() {
        s.push_str("nothing left; the manifest is removed\n");
    } else {
        s.push_str("LEFT (look at these by hand; the manifest is kept so clean can run again):\n");
        for (p, why) in &r.left {
            s.push_str(&format!(
                "  {}: {}\n",
                crate::output::escape_for_terminal(p, &[]),
                why
            ));
        }
    }
    s
}
