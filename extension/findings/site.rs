//! The default scan: every environment of a host. Per site directory:
//! - every `.pth` directly in it (the files `site.py` runs), with its RECORD
//!   owner deciding whether a benign-looking shape is what it claims;
//! - `sitecustomize.py` / `usercustomize.py`, in site directories and in
//!   the interpreter's standard-library directory (`<prefix>/lib/pythonX.Y`,
//!   Debian's `/etc/pythonX.Y` behind its symlink), since `site.py` imports
//!   them from anywhere on `sys.path`;
//! - the Python code of every installed distribution (per RECORD), weighed by
//!   where it runs (`__init__`, entry-point modules, tests, vendored code);
//! - files inside a distribution's import packages that no RECORD lists,
//!   and recorded files whose sha256 no longer matches RECORD;
//! - console scripts (`[console_scripts]` only) that shadow system or
//!   trusted commands;
//! - a top-level import name also provided by another installed distribution
//!   or owned by a popular package.
//!
//! Environments, distributions, RECORD and entry points come from
//! [`crate::python`]; this module only weighs them.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::hash::{BuildHasher, RandomState};
use std::path::{Path, PathBuf};

use base64::Engine;

use std::sync::Arc;

use crate::cache::FileKey;
use crate::host::Host;
use crate::persist::{deps_digest, now_ns, MEMO_SLACK_NS};
use crate::python::{self, Environment};

use super::site_view::{self, SiteDist};
use crate::python::distribution;

use super::pth::Owner;
use super::target::{ScanProblem, Scanner, TargetScan};
use super::{Category, Finding, Located, Role, Severity};

/// Most files looked at below one distribution's import packages when
/// hunting for unrecorded files.
const MAX_UNRECORDED_WALK: usize = 20_000;

/// Deepest directory level walked below an import package when hunting for
/// unrecorded files; a deeper directory is a row that says it was not
/// looked into (Python could still import from it).
pub const MAX_UNRECORDED_DEPTH: usize = 32;

/// Top-level names that many distributions ship by mistake; a collision on
/// them says nothing.
const COMMON_TOP_LEVEL: &[&str] = &[
    "tests",
    "test",
    "docs",
    "doc",
    "examples",
    "benchmarks",
    "scripts",
    "build",
    "src",
    "_",
];

fn finding(
    rule_id: &str,
    category: Category,
    severity: Severity,
    evidence: String,
    why: String,
    role: Role,
) -> Finding {
    Finding {
        rule_id: rule_id.to_string(),
        category,
        severity,
        line: None,
        evidence,
        description: why,
        role,
    }
}

/// Scans every environment the host has (or those given), each site
/// directory once.
///
/// Site directories are scanned by up to [`Scanner::threads`] threads at
/// once, each site whole by one thread, and their rows put together in the
/// order a single thread gives them: the rows are the same whatever the
/// number of threads.
pub fn scan_environments(host: &Host, scanner: &Scanner, envs: &[Environment]) -> TargetScan {
    let mut out = TargetScan::default();
    let mut seen_sites = BTreeSet::new();
    let mut sites: Vec<(&Path, &Path)> = Vec::new();
    for env in envs {
        for site in &env.site_packages {
            if seen_sites.insert(site.clone()) {
                sites.push((&env.path, site));
            }
        }
    }
    let threads = scanner.threads.clamp(1, sites.len().max(1));
    if threads == 1 {
        for (env, site) in &sites {
            scan_site_memoised(host, scanner, env, site, &mut out);
        }
    } else {
        let next = std::sync::atomic::AtomicUsize::new(0);
        let parts: Vec<std::sync::Mutex<Option<TargetScan>>> =
            sites.iter().map(|_| std::sync::Mutex::new(None)).collect();
        std::thread::scope(|s| {
            for _ in 0..threads {
                s.spawn(|| loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some((env, site)) = sites.get(i) else {
                        break;
                    };
                    let mut part = TargetScan::default();
                    scan_site_memoised(host, scanner, env, site, &mut part);
                    if let Ok(mut slot) = parts[i].lock() {
                        *slot = Some(part);
                    }
                });
            }
        });
        for part in parts {
            let part = part.into_inner().ok().flatten().unwrap_or_default();
            out.findings.extend(part.findings);
            out.problems.extend(part.problems);
        }
    }
    let mut seen_files = BTreeSet::new();
    for env in envs {
        for dir in stdlib_dirs(host, env) {
            scan_stdlib_customize(
                host,
                scanner,
                env,
                &dir,
                &seen_sites,
                &mut seen_files,
                &mut out,
            );
        }
    }
    out
}

/// [`scan_site`], reusing a whole earlier scan of the site kept in the
/// scanner's persistent cache when every file and directory it rested on
/// still has its identity (see [`memo_of`]); else scanning afresh and
/// keeping the result for the next process.
fn scan_site_memoised(
    host: &Host,
    scanner: &Scanner,
    env: &Path,
    site: &Path,
    out: &mut TargetScan,
) {
    let persist = scanner
        .persistent_cache()
        .filter(|_| scanner.rules.is_builtin());
    let Some(persist) = persist else {
        return scan_site(host, scanner, env, site, out);
    };
    let dir = host.open_dir(site).ok();
    if let (Some(dir), Some(memo)) = (&dir, persist.site_memo(env, site)) {
        if memo_holds(dir, &memo) {
            persist.site_hit();
            replay(env, &memo, out);
            return;
        }
    }
    let started = now_ns();
    let mut part = TargetScan::default();
    scan_site(host, scanner, env, site, &mut part);
    let memo = dir
        .as_ref()
        .and_then(|d| memo_of(host, scanner, d, env, site, &part, started));
    persist.put_site_memo(env, site, memo);
    out.findings.extend(part.findings);
    out.problems.extend(part.problems);
}

/// Most paths one site memo rests on; a bigger site is scanned each time.
const MEMO_MAX_DEPS: usize = 2_000_000;

/// The files of a metadata directory whose content a site's scan reads.
/// INSTALLER and direct_url.json are not among them: no finding depends
/// on them (the light reading never opens them), and each would be one
/// more `fstatat` per distribution on every restart. METADATA and PKG-INFO
/// count only where the scan read the name ([`SiteDist::name_read`]).
const META_FILES: [&str; 6] = [
    "METADATA",
    "PKG-INFO",
    "RECORD",
    "installed-files.txt",
    "top_level.txt",
    "entry_points.txt",
];

/// True when the site directory and every path `memo` rests on keep the
/// identities they had when it was made.
fn memo_holds(dir: &crate::host::HostDir, memo: &crate::persist::SiteMemo) -> bool {
    let same_dir = dir
        .stat_self()
        .is_ok_and(|id| crate::persist::Ident::from_stat_id(&id) == memo.site);
    same_dir
        && deps_digest(dir, memo.deps.split('\n').filter(|d| !d.is_empty()), None)
            .is_some_and(|d| d == memo.digest)
}

/// The rows a memo holds, as a fresh scan of its site would give them.
fn replay(env: &Path, memo: &crate::persist::SiteMemo, out: &mut TargetScan) {
    for (path, member, package, sha, f) in &memo.findings {
        out.findings.push(Located {
            path: PathBuf::from(path),
            member: member.clone(),
            environment: Some(env.to_path_buf()),
            package: package.clone(),
            file_sha256: sha.clone(),
            finding: f.clone(),
        });
    }
    for (path, member, message) in &memo.problems {
        out.problems.push(ScanProblem {
            path: PathBuf::from(path),
            member: member.clone(),
            message: message.clone(),
        });
    }
}

/// What a later process needs to reuse `part`, the scan of `site` just
/// made, or `None` when it cannot be revalidated by `stat` alone.
///
/// It rests on: the site directory (its listing: every `.pth`, start-up
/// module and distribution added, removed or renamed), each metadata
/// directory and the files of it the scan reads ([`META_FILES`]), each
/// `.pth` and start-up module of the site, and below every top-level name a
/// RECORD lists, every directory (any file added, removed or renamed there,
/// so a file a RECORD lists that appears later, and every unrecorded file)
/// and every Python file (scanned as code or as an unrecorded file). A
/// symlink anywhere among them (the scan follows links inside the root),
/// an `.egg`/`.egg-link` install (read from elsewhere), a path that is not
/// UTF-8, a problem row (it may be passing) or anything changed since
/// `started` (it may have changed while it was read) means no memo.
fn memo_of(
    host: &Host,
    scanner: &Scanner,
    dir: &crate::host::HostDir,
    env: &Path,
    site: &Path,
    part: &TargetScan,
    started: i128,
) -> Option<crate::persist::SiteMemo> {
    // A problem may be passing (an I/O error, a file vanishing mid-scan):
    // such a site is scanned again next time rather than its problem kept.
    if !part.problems.is_empty() {
        return None;
    }
    let idx = scanner.sites.get(&site.to_path_buf())?;
    // Names some distribution imports as: the unrecorded-file search walks
    // those (and only those) of the recorded top-level names.
    let imported: HashSet<&str> = idx.top_level.iter().flatten().map(String::as_str).collect();
    // Metadata directories whose METADATA this scan never opened (a light
    // reading no row or rule asked a name of): their METADATA is no
    // dependency, one `fstatat` fewer per distribution on every restart.
    let name_unread: HashSet<&std::ffi::OsStr> = idx
        .dists
        .iter()
        .filter(|d| !d.name_read())
        .filter_map(|d| d.light_entry())
        .collect();
    let mut deps: BTreeSet<String> = BTreeSet::new();
    let entries = scanner.list_dir(host, site).ok()?;
    let py = |n: &str| {
        let l = n.to_ascii_lowercase();
        l.ends_with(".py") || l.ends_with(".pyw")
    };
    for e in entries.iter() {
        let Some(name) = e.name.to_str() else {
            continue; // not a metadata entry, a .pth or a start-up module
        };
        let meta = [".dist-info", ".egg-info", ".egg", ".egg-link"]
            .iter()
            .any(|x| name.ends_with(x));
        let site_level = name.ends_with(".pth") || CUSTOMIZE.contains(&name);
        let top = idx.recorded_tops.contains(name);
        if !(meta || site_level || top) {
            continue;
        }
        if e.file_type.is_symlink() || name.ends_with(".egg") || name.ends_with(".egg-link") {
            return None;
        }
        if e.file_type.is_dir() {
            if meta {
                deps.insert(name.to_string());
                let unread = name_unread.contains(std::ffi::OsStr::new(name));
                for f in META_FILES {
                    if unread && (f == "METADATA" || f == "PKG-INFO") {
                        continue;
                    }
                    let rel = format!("{name}/{f}");
                    match dir.stat_id(Path::new(&rel)) {
                        Ok(id) if id.mode & libc::S_IFMT == libc::S_IFLNK => return None,
                        Ok(_) => {
                            deps.insert(rel);
                        }
                        Err(e) if e.is_not_found() => {}
                        Err(_) => return None,
                    }
                }
            }
            // A metadata directory's own files are above; its Python files
            // matter only when it is also searched for unrecorded files
            // (listed code files are added below in any case).
            if top && (!meta || imported.contains(name)) {
                walk_deps(host, scanner, site, name, 0, &mut deps)?;
            }
        } else if e.file_type.is_file() && (meta || site_level || py(name)) {
            deps.insert(name.to_string());
        }
        if deps.len() > MEMO_MAX_DEPS {
            return None;
        }
    }
    // Every code file scanned, and the directories above it (one below a
    // directory the walk skips, such as `__pycache__`).
    for code in idx.code.iter().flatten() {
        let rel = code.rel.to_str()?;
        let mut at = 0;
        while let Some(i) = rel[at..].find('/') {
            deps.insert(rel[..at + i].to_string());
            at += i + 1;
        }
        deps.insert(rel.to_string());
    }
    if deps.len() > MEMO_MAX_DEPS || deps.iter().any(|d| d.contains('\n')) {
        return None;
    }
    let site_id = dir.stat_self().ok()?;
    if site_id.ctime_ns >= started - MEMO_SLACK_NS {
        return None;
    }
    let digest = deps_digest(dir, deps.iter().map(String::as_str), Some(started))?;
    let mut findings = Vec::with_capacity(part.findings.len());
    for l in &part.findings {
        if l.environment.as_deref() != Some(env) {
            return None;
        }
        findings.push((
            l.path.to_str()?.to_string(),
            l.member.clone(),
            l.package.clone(),
            l.file_sha256.clone(),
            l.finding.clone(),
        ));
    }
    let mut problems = Vec::with_capacity(part.problems.len());
    for p in &part.problems {
        problems.push((
            p.path.to_str()?.to_string(),
            p.member.clone(),
            p.message.clone(),
        ));
    }
    let deps: Vec<String> = deps.into_iter().collect();
    Some(crate::persist::SiteMemo {
        site: crate::persist::Ident::from_stat_id(&site_id),
        deps: deps.join("\n"),
        digest,
        findings,
        problems,
    })
}

/// Adds `rel` (a directory below the site) and everything below it that a
/// scan depends on to `deps`: each directory (but `__pycache__`) and each
/// Python file. `None` on a symlink, an unlistable directory, a name with a
/// newline or not UTF-8, or more depth or paths than a memo holds.
fn walk_deps(
    host: &Host,
    scanner: &Scanner,
    site: &Path,
    rel: &str,
    depth: usize,
    deps: &mut BTreeSet<String>,
) -> Option<()> {
    if depth > MAX_UNRECORDED_DEPTH + 1 || deps.len() > MEMO_MAX_DEPS || rel.contains('\n') {
        return None;
    }
    deps.insert(rel.to_string());
    let entries = scanner.list_dir(host, &site.join(rel)).ok()?;
    for e in entries.iter() {
        let name = e.name.to_str()?;
        if e.file_type.is_symlink() {
            return None;
        }
        if e.file_type.is_dir() {
            if name != "__pycache__" {
                walk_deps(
                    host,
                    scanner,
                    site,
                    &format!("{rel}/{name}"),
                    depth + 1,
                    deps,
                )?;
            }
        } else if e.file_type.is_file() {
            let l = name.to_ascii_lowercase();
            if l.ends_with(".py") || l.ends_with(".pyw") {
                if name.contains('\n') {
                    return None;
                }
                deps.insert(format!("{rel}/{name}"));
            }
        }
    }
    Some(())
}

/// The start-up modules `site.py` imports from anywhere on `sys.path`.
const CUSTOMIZE: [&str; 2] = ["sitecustomize.py", "usercustomize.py"];

/// `X.Y` from `X.Y` or `X.Y.Z`.
fn short_version(v: &str) -> Option<String> {
    let mut parts = v.split('.');
    let (major, minor) = (parts.next()?, parts.next()?);
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    (digits(major) && digits(minor)).then(|| format!("{major}.{minor}"))
}

/// The standard-library directories (`<prefix>/lib/pythonX.Y`) of the
/// interpreter an environment runs, plus Debian's `/etc/pythonX.Y` for a
/// `/usr` interpreter. A venv's comes from `pyvenv.cfg`'s `home` (the base
/// interpreter's `bin`); a conda, pyenv or system prefix's from its site
/// directory (`.../lib/pythonX.Y/site-packages`, or Debian's
/// `/usr/lib/python3/dist-packages` with the environment's version). A user
/// site has no interpreter of its own (the system's is scanned as such).
pub fn stdlib_dirs(host: &Host, env: &Environment) -> Vec<PathBuf> {
    use python::EnvironmentKind as K;
    let version = env.python_version.as_deref().and_then(short_version);
    let mut dirs: Vec<PathBuf> = Vec::new();
    match env.kind {
        K::User => {}
        K::System | K::Conda | K::Pyenv => {
            for site in &env.site_packages {
                let Some(parent) = site.parent() else {
                    continue;
                };
                let name = parent
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                if name
                    .strip_prefix("python")
                    .and_then(short_version)
                    .is_some()
                {
                    dirs.push(parent.to_path_buf());
                } else if name == "python3" {
                    if let Some(v) = &version {
                        dirs.push(parent.with_file_name(format!("python{v}")));
                    }
                }
            }
        }
        _ => {
            let cfg = host
                .read_to_string(&env.path.join("pyvenv.cfg"), 64 * 1024)
                .map(|t| python::environment::PyvenvCfg::parse(&t))
                .unwrap_or_default();
            let prefix = cfg
                .home
                .as_deref()
                .map(Path::new)
                .filter(|h| h.is_absolute())
                .and_then(Path::parent);
            if let (Some(prefix), Some(v)) = (prefix, &version) {
                dirs.push(Host::normalize(&prefix.join(format!("lib/python{v}"))));
            }
        }
    }
    let etc: Vec<PathBuf> = dirs
        .iter()
        .filter(|d| d.parent() == Some(Path::new("/usr/lib")))
        .filter_map(|d| d.file_name())
        .map(|n| Path::new("/etc").join(n))
        .collect();
    dirs.extend(etc);
    dirs.dedup();
    dirs
}

/// True when a dpkg package of the interpreter (`/var/lib/dpkg/info/
/// [lib]pythonX.Y[-minimal|-stdlib][:arch].list`) lists `path`: Debian's
/// own `/etc/pythonX.Y/sitecustomize.py` and its `/usr/lib` link belong to
/// `libpythonX.Y-minimal` (Debian 12) or `pythonX.Y-minimal` (Ubuntu).
fn dpkg_python_owns(host: &Host, scanner: &Scanner, paths: &[&Path]) -> bool {
    let Ok(entries) = scanner.list_dir(host, Path::new("/var/lib/dpkg/info")) else {
        return false;
    };
    entries.iter().any(|e| {
        let name = e.name_lossy();
        // Only the interpreter's own packages (`python3.11-minimal.list`,
        // `python3.11:amd64.list`), not every `python3-*` library's list.
        let interpreter = name
            .strip_prefix("lib")
            .unwrap_or(&name)
            .strip_prefix("python")
            .and_then(|r| r.strip_suffix(".list"))
            .map(|r| r.split(':').next().unwrap_or(r))
            .map(|r| {
                r.strip_suffix("-minimal")
                    .or_else(|| r.strip_suffix("-stdlib"))
                    .unwrap_or(r)
            })
            .and_then(short_version)
            .is_some();
        interpreter
            && host
                .read_to_string(&e.path, 8 * 1024 * 1024)
                .is_ok_and(|t| t.lines().any(|l| paths.iter().any(|p| Path::new(l) == *p)))
    })
}

/// `sitecustomize.py` / `usercustomize.py` in one standard-library (or
/// `/etc/pythonX.Y`) directory. A symlink is resolved inside the root
/// through the [`Host`] (never out of it) and the file it resolves to is
/// reported, once, whichever directory reached it.
#[allow(clippy::too_many_arguments)]
fn scan_stdlib_customize(
    host: &Host,
    scanner: &Scanner,
    env: &Environment,
    dir: &Path,
    sites: &BTreeSet<PathBuf>,
    seen: &mut BTreeSet<PathBuf>,
    out: &mut TargetScan,
) {
    for name in CUSTOMIZE {
        let path = dir.join(name);
        if scanner.stat(host, &path).is_err() {
            continue; // absent (the usual case), or a dangling/looping link
        }
        let real = match host.resolve(&path) {
            Ok(r) => r,
            Err(e) => {
                out.problems.push(ScanProblem {
                    path: path.clone(),
                    member: String::new(),
                    message: e.to_string(),
                });
                continue;
            }
        };
        // Already scanned as a site-level file, or reached by another link.
        if real.parent().is_some_and(|p| sites.contains(p)) || !seen.insert(real.clone()) {
            continue;
        }
        let via = (real != path).then(|| path.clone());
        let owned = dpkg_python_owns(host, scanner, &[&path, &real]);
        match scanner.scan_file(host, &real, Role::Startup) {
            Ok(s) => {
                let mut evidence = name.to_string();
                if let Some(link) = &via {
                    evidence.push_str(&format!(" (via {})", link.display()));
                }
                let why = format!(
                    "{name} in the interpreter's standard-library path runs on every interpreter start{}",
                    if owned {
                        ""
                    } else {
                        "; no dpkg package of the interpreter lists it"
                    }
                );
                let head = finding(
                    "startup-customize",
                    Category::Startup,
                    if owned {
                        Severity::Low
                    } else {
                        Severity::Medium
                    },
                    evidence,
                    why,
                    Role::Startup,
                );
                for f in std::iter::once(head).chain(s.scan.findings.iter().cloned()) {
                    out.findings.push(Located {
                        path: real.clone(),
                        member: String::new(),
                        environment: Some(env.path.clone()),
                        package: None,
                        file_sha256: s.sha256.clone(),
                        finding: f,
                    });
                }
            }
            Err(e) => out.problems.push(ScanProblem {
                path: real.clone(),
                member: String::new(),
                message: e.to_string(),
            }),
        }
    }
}

/// RECORD's `sha256=<urlsafe base64>` digest, decoded.
fn record_digest(b64: &str) -> Option<Box<[u8]>> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(b64.trim_end_matches('='))
        .ok()
        .map(Vec::into_boxed_slice)
}

/// One listed Python file of a distribution that exists below the site,
/// kept compact for the life of the site index (a host has tens of
/// thousands): its path relative to the site and RECORD's sha256, decoded.
/// Files RECORD places outside the environment are not kept.
#[derive(Debug)]
struct CodeFile {
    /// Below the site directory (the host path is `site.join(rel)`).
    rel: Box<Path>,
    /// RECORD's sha256 (raw bytes), when it gives one that decodes.
    sha256: Option<Box<[u8]>>,
    /// Its directory's listing showed a regular file (not a symlink): it
    /// is opened relative to the site directory ([`Scanner::scan_file_at`]).
    regular: bool,
}

impl CodeFile {
    fn new(rel: &Path, hash: Option<(&str, &str)>, regular: bool) -> Self {
        CodeFile {
            regular,
            rel: rel.into(),
            sha256: hash
                .filter(|(alg, _)| *alg == "sha256")
                .and_then(|(_, d)| record_digest(d)),
        }
    }
}

/// The directories of one site listed during one scan of it, each listed
/// once, relative to the site directory held open (`openat2` beneath it and
/// `getdents64`: no walk of the whole path, no `lstat` per file), and
/// shared by the RECORD index's existence checks and the unrecorded-file
/// search. A symlink on the way is listed the fully checked way
/// ([`Scanner::list_dir`], resolved inside the root).
struct SiteDirs<'a> {
    host: &'a Host,
    scanner: &'a Scanner,
    site: &'a Path,
    /// The site directory held open (`None` when it cannot be opened).
    dir: Option<crate::host::HostDir>,
    /// Listings made so far, by path relative to the site ("" for itself).
    listed: std::cell::RefCell<ListingMap>,
}

/// Whether a path names a Python source file (`.py`/`.pyw`, any case).
fn is_python_file(rel: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let b = rel.as_os_str().as_bytes();
    let ends = |x: &[u8]| b.len() >= x.len() && b[b.len() - x.len()..].eq_ignore_ascii_case(x);
    ends(b".py") || ends(b".pyw")
}

/// Most directory listings one scan of a site keeps at once.
const MAX_SITE_LISTINGS: usize = 100_000;

/// A listing's entries, or why the directory could not be listed.
type Listed = Result<std::rc::Rc<Vec<RawEntry>>, std::rc::Rc<crate::host::HostError>>;
type ListingMap = HashMap<PathBuf, Listed>;

use crate::host::{EntryType, RawEntry};

impl<'a> SiteDirs<'a> {
    fn new(host: &'a Host, scanner: &'a Scanner, site: &'a Path) -> Self {
        SiteDirs {
            host,
            scanner,
            site,
            dir: host.open_dir(site).ok(),
            listed: std::cell::RefCell::new(HashMap::new()),
        }
    }

    /// The host path of `rel` below the site.
    fn path(&self, rel: &Path) -> PathBuf {
        if rel.as_os_str().is_empty() {
            self.site.to_path_buf()
        } else {
            self.site.join(rel)
        }
    }

    /// The entries of the directory `rel` below the site, sorted by name.
    fn list(&self, rel: &Path) -> Listed {
        if let Some(hit) = self.listed.borrow().get(rel) {
            return hit.clone();
        }
        let path = self.path(rel);
        let beneath = self.dir.as_ref().map(|d| d.list_beneath(rel));
        let got = match beneath {
            Some(Ok(Some(entries))) => Ok(entries),
            // Named as the checked way names it: below the site as given.
            Some(Err(crate::host::HostError::Io { source, .. })) => {
                Err(crate::host::HostError::Io { path, source })
            }
            Some(Err(e)) => Err(e),
            _ => self.scanner.list_dir(self.host, &path).map(|es| {
                es.iter()
                    .map(|e| RawEntry {
                        name: e.name.clone(),
                        kind: if e.file_type.is_symlink() {
                            EntryType::Symlink
                        } else if e.file_type.is_dir() {
                            EntryType::Dir
                        } else if e.file_type.is_file() {
                            EntryType::File
                        } else {
                            EntryType::Other
                        },
                    })
                    .collect()
            }),
        };
        let got: Listed = got.map(std::rc::Rc::new).map_err(std::rc::Rc::new);
        // Kept: listings of directories that exist (bounded by the disk).
        // Not kept: failures, so that a RECORD naming a million missing
        // directories costs time, not memory.
        let mut listed = self.listed.borrow_mut();
        if got.is_ok() && listed.len() < MAX_SITE_LISTINGS {
            listed.insert(rel.to_path_buf(), got.clone());
        }
        got
    }

    /// The type of `name` in the listing `entries`, if it is there.
    fn kind_in(entries: &[RawEntry], name: &std::ffi::OsStr) -> Option<EntryType> {
        use std::os::unix::ffi::OsStrExt;
        entries
            .binary_search_by(|e| e.name.as_bytes().cmp(name.as_bytes()))
            .ok()
            .map(|k| entries[k].kind)
    }

    /// The [`FileKey`] of `path` as [`Scanner::stat`] gives it; for a file
    /// of a metadata directory listed in the site as a real directory (a
    /// RECORD), one `fstatat` relative to the site held open.
    fn key(&self, path: &Path) -> Option<FileKey> {
        use std::os::unix::ffi::OsStrExt;
        let rel = python::record::below(self.site, path).filter(|rel| {
            let b = rel.as_os_str().as_bytes();
            b.iter().filter(|c| **c == b'/').count() == 1
                && rel
                    .components()
                    .all(|c| matches!(c, std::path::Component::Normal(_)))
        });
        if let (Some(dir), Some(rel)) = (&self.dir, rel) {
            let first = rel.components().next().map(|c| c.as_os_str());
            let real_dir = first.is_some_and(|f| {
                self.list(Path::new(""))
                    .is_ok_and(|es| Self::kind_in(&es, f) == Some(EntryType::Dir))
            });
            if real_dir {
                match dir.stat_id(rel) {
                    Ok(id) if id.mode & libc::S_IFMT != libc::S_IFLNK => {
                        return Some(FileKey {
                            path: path.to_path_buf(),
                            dev: id.dev,
                            ino: id.ino,
                            size: id.size,
                            mtime_ns: id.mtime_ns,
                            ctime_ns: id.ctime_ns,
                        })
                    }
                    Err(e) if e.is_not_found() => return None,
                    _ => {}
                }
            }
        }
        let md = self.scanner.stat(self.host, path).ok()?;
        Some(FileKey::new(path, &md))
    }

    /// Whether the file `rel` below the site exists, as
    /// [`Scanner::stat`] would say, from its directory's listing: `None`
    /// when it does not, `Some(true)` for a regular file, `Some(false)` for
    /// anything else that exists (a symlink resolving inside the root, a
    /// directory, a FIFO). Where the directory cannot be listed, `stat`
    /// decides.
    fn existing(&self, rel: &Path) -> Option<bool> {
        let name = rel.file_name()?;
        let parent = rel.parent().unwrap_or(Path::new(""));
        let by_stat = || {
            self.scanner
                .stat(self.host, &self.path(rel))
                .is_ok()
                .then_some(false)
        };
        match self.list(parent) {
            Ok(entries) => match Self::kind_in(&entries, name)? {
                EntryType::File => Some(true),
                EntryType::Symlink => by_stat(),
                EntryType::Dir | EntryType::Other => Some(false),
            },
            Err(_) => by_stat(),
        }
    }
}

struct Site<'a> {
    env: &'a Path,
    site: &'a Path,
}

impl Site<'_> {
    fn locate(
        &self,
        path: &Path,
        package: Option<&str>,
        sha: Option<String>,
        f: Finding,
    ) -> Located {
        Located {
            path: path.to_path_buf(),
            member: String::new(),
            environment: Some(self.env.to_path_buf()),
            package: package.map(str::to_string),
            file_sha256: sha,
            finding: f,
        }
    }
}

/// Most code files kept per distribution for scanning; past it the rest is
/// not scanned and a row says so.
pub const MAX_CODE_FILES_PER_DIST: usize = 100_000;

/// What a site directory holds, as the findings scan reads it
/// ([`super::site_view`]): kept per site and reused while the site
/// directory and every RECORD are unchanged, so a repeated query re-parses
/// no metadata.
///
/// Built by streaming each RECORD once, and bounded by what is on disk, not
/// by what a RECORD claims (an attacker can pad one to any length): only
/// listed Python files that exist are kept, files directly in the site
/// directory only when the site holds them, and every other listed path as
/// a keyed 128-bit hash, only when its first component exists in the site.
#[derive(Debug)]
pub struct SiteIndex {
    /// The site's distributions, read lightly where the site allows it
    /// (see [`super::site_view`]), else the full way (the shared
    /// distribution cache's own copies when the scanner has one).
    dists: Vec<SiteDist>,
    /// Per distribution: the listed Python files that exist below the site.
    code: Vec<Vec<CodeFile>>,
    /// Per distribution: it has a non-empty file list.
    has_list: Vec<bool>,
    /// Owner of each listed file directly in the site directory.
    owner_of: HashMap<PathBuf, usize>,
    /// Keyed hashes of the listed paths below a name the site holds, by
    /// their bytes relative to the site.
    listed: HashSet<u128, crate::cache::PreHashed>,
    hash_keys: (RandomState, RandomState),
    top_level: Vec<Vec<String>>,
    entry_points: Vec<Vec<(String, String, String)>>,
    /// First path components (under the site) of the recorded files that
    /// exist in the site directory.
    recorded_tops: HashSet<String>,
    /// Where the index could not see everything (unreadable or oversized
    /// file lists), as rows.
    problems: Vec<ScanProblem>,
    /// The version of the site directory and of each RECORD it was built from.
    keys: Vec<Option<FileKey>>,
}

impl SiteIndex {
    /// The keyed hash of a path relative to the site (normalised: plain
    /// names joined by single `/`).
    fn hash(&self, rel: &Path) -> u128 {
        use std::os::unix::ffi::OsStrExt;
        let b = rel.as_os_str().as_bytes();
        (u128::from(self.hash_keys.0.hash_one(b)) << 64) | u128::from(self.hash_keys.1.hash_one(b))
    }

    /// Whether some RECORD lists `rel`, a path below the site with at least
    /// two components (a file directly in the site is in `owner_of`).
    fn is_listed(&self, rel: &Path) -> bool {
        self.listed.contains(&self.hash(rel))
    }
}

/// The file whose change means a distribution's file list changed.
fn record_file(site: &Path, d: &SiteDist) -> PathBuf {
    match d.format() {
        python::DistFormat::DistInfo => d.metadata_path(site).join("RECORD"),
        _ => d.metadata_path(site).join("installed-files.txt"),
    }
}

fn site_keys(dirs: &SiteDirs<'_>, dists: &[SiteDist]) -> Vec<Option<FileKey>> {
    std::iter::once(dirs.site.to_path_buf())
        .chain(dists.iter().map(|d| record_file(dirs.site, d)))
        .map(|p| dirs.key(&p))
        .collect()
}

/// What one RECORD's entries add to a site index (see [`SiteIndex`]).
struct Indexing<'a, 'b> {
    idx: &'a mut SiteIndex,
    dirs: &'a SiteDirs<'b>,
    /// The site's entries (sorted by name), to tell what the site holds.
    present: Option<&'a [RawEntry]>,
    /// Which distribution.
    i: usize,
    code: Vec<CodeFile>,
    any: bool,
    dropped: u64,
    /// The import names RECORD gives, when it is to tell them (no
    /// `top_level.txt`), and the names seen.
    tops: Option<(Vec<String>, HashSet<String>)>,
    /// The last first component looked up, and whether the site holds it.
    last_first: Option<(Vec<u8>, bool)>,
}

impl Indexing<'_, '_> {
    /// Whether the site directory holds an entry `name`.
    fn present(&mut self, name: &[u8]) -> bool {
        use std::os::unix::ffi::OsStrExt;
        if let Some((last, hit)) = &self.last_first {
            if last.as_slice() == name {
                return *hit;
            }
        }
        let hit = self
            .present
            .is_some_and(|es| es.binary_search_by(|e| e.name.as_bytes().cmp(name)).is_ok());
        self.last_first = Some((name.to_vec(), hit));
        hit
    }

    /// One entry: `rel`, its path below the site (normalised), when it is
    /// below it; `hash` RECORD's; `outside` when it resolves outside the
    /// environment.
    fn add(&mut self, rel: Option<&Path>, hash: Option<(&str, &str)>, outside: bool) {
        use std::os::unix::ffi::OsStrExt;
        self.any = true;
        let Some(rel) = rel else {
            return;
        };
        let b = rel.as_os_str().as_bytes();
        let (first, single) = match memchr::memchr(b'/', b) {
            Some(i) => (&b[..i], false),
            None => (b, true),
        };
        if first.is_empty() || !self.present(first) {
            return; // not in the site: nothing to scan, own or walk
        }
        if let Some((names, seen)) = &mut self.tops {
            if let Some(name) = distribution::record_top_name(rel) {
                if seen.insert(name.clone()) {
                    names.push(name);
                }
            }
        }
        if single {
            self.idx
                .owner_of
                .entry(self.dirs.path(rel))
                .or_insert(self.i);
        } else {
            let h = self.idx.hash(rel);
            self.idx.listed.insert(h);
        }
        // Most entries share their first component: no copy of it when it
        // is known already.
        let first = std::ffi::OsStr::from_bytes(first);
        if !first
            .to_str()
            .is_some_and(|f| self.idx.recorded_tops.contains(f))
        {
            self.idx
                .recorded_tops
                .insert(first.to_string_lossy().into_owned());
        }
        if !is_python_file(rel) || outside {
            return;
        }
        if self.code.len() >= MAX_CODE_FILES_PER_DIST {
            self.dropped += 1;
            return;
        }
        // From its directory's listing (listed once for all its files, and
        // again of use to the unrecorded-file search).
        if let Some(regular) = self.dirs.existing(rel) {
            self.code.push(CodeFile::new(rel, hash, regular));
        }
    }
}

/// Streams the RECORD of the lightly read `.dist-info` directory `entry`
/// of the site (normalised path `site`) held open as `dir` into `ix`,
/// each entry's path resolved as [`python::record::for_each_record_entry`]
/// resolves it. Also gives the RECORD's version (from the open file).
fn stream_light_record(
    host: &Host,
    dir: &crate::host::HostDir,
    site: &Path,
    entry: &std::ffi::OsStr,
    ix: &mut Indexing<'_, '_>,
) -> (
    Result<Option<python::record::RecordStats>, crate::host::HostError>,
    Option<Option<FileKey>>,
) {
    use python::record::{below, is_normal_absolute, is_plain_relative, resolve_entry, within};
    let path = site.join(entry).join("RECORD");
    let (file, md) = match site_view::open_meta_file(host, dir, &Path::new(entry).join("RECORD")) {
        Ok(Some(f)) => f,
        Ok(None) => return (Ok(None), Some(None)),
        Err(e) => return (Err(e), None),
    };
    let key = Some(Some(FileKey::new(&path, &md)));
    let root = python::record::environment_root(site);
    let plain_site = is_normal_absolute(site);
    let mut on_line = |line: &str| {
        let Some((p, hash, _)) = python::record::parse_record_fields(line) else {
            return;
        };
        let hash = hash.as_ref().map(|(a, d)| (a.as_ref(), d.as_ref()));
        if plain_site && is_plain_relative(&p) {
            // Below the site, hence inside the environment.
            ix.add(Some(Path::new(p.as_ref())), hash, false);
        } else {
            let full = resolve_entry(site, &p);
            ix.add(below(site, &full), hash, !within(&root, &full));
        }
    };
    let stats = if md.len() <= site_view::RECORD_WHOLE_CAP {
        match crate::host::read_known_size(file, &md, site_view::RECORD_WHOLE_CAP) {
            Ok((bytes, _)) => Ok(python::record::for_each_line_in(&bytes, &mut on_line)),
            Err(source) => Err(crate::host::HostError::Io { path, source }),
        }
    } else {
        python::record::for_each_line(file, &path, &mut on_line)
    };
    (stats.map(Some), key)
}

fn site_index(host: &Host, scanner: &Scanner, dirs: &SiteDirs<'_>) -> Arc<SiteIndex> {
    let site = dirs.site;
    if let Some(idx) = scanner.sites.get(&site.to_path_buf()) {
        if site_keys(dirs, &idx.dists) == idx.keys {
            return idx;
        }
    }
    let site_entries = dirs.list(Path::new("")).ok();
    let norm_site = Host::normalize(site);
    let light = match (&dirs.dir, &site_entries) {
        (Some(_), Some(es)) => site_view::light_distributions(es),
        _ => None,
    };
    let dists: Vec<SiteDist> = match light {
        Some(d) => d,
        None => match scanner.distribution_cache() {
            Some(cache) => python::distributions_shared(host, site, cache),
            None => python::distributions(host, site)
                .into_iter()
                .map(Arc::new)
                .collect(),
        }
        .into_iter()
        .map(SiteDist::Full)
        .collect(),
    };
    let present: Option<&[RawEntry]> = site_entries.as_deref().map(Vec::as_slice);
    let names: std::cell::OnceCell<HashSet<std::ffi::OsString>> = std::cell::OnceCell::new();
    let names = || {
        names.get_or_init(|| {
            present
                .map(|es| es.iter().map(|e| e.name.clone()).collect())
                .unwrap_or_default()
        })
    };
    let mut idx = SiteIndex {
        code: Vec::with_capacity(dists.len()),
        has_list: Vec::with_capacity(dists.len()),
        owner_of: HashMap::new(),
        listed: HashSet::default(),
        hash_keys: (RandomState::new(), RandomState::new()),
        top_level: Vec::with_capacity(dists.len()),
        entry_points: Vec::with_capacity(dists.len()),
        recorded_tops: HashSet::new(),
        problems: Vec::new(),
        keys: Vec::with_capacity(dists.len() + 1),
        dists: Vec::new(),
    };
    idx.keys.push(dirs.key(site));
    // RECORDs are opened relative to the site directory held open (no
    // walk of the whole path per distribution).
    let site_dir = dirs.dir.as_ref();
    for (i, d) in dists.iter().enumerate() {
        let light = d.light_entry().zip(site_dir);
        // A lightly read distribution's import names: top_level.txt, else
        // those its RECORD gives (told in the same pass over it).
        let (top_txt, eps) = match light {
            Some((entry, dir)) => (
                Some(
                    site_view::read_meta_text(
                        host,
                        dir,
                        entry,
                        "top_level.txt",
                        distribution::TOP_LEVEL_CAP,
                    )
                    .and_then(|t| distribution::parse_top_level(&t)),
                ),
                site_view::read_meta_text(
                    host,
                    dir,
                    entry,
                    "entry_points.txt",
                    distribution::ENTRY_POINTS_CAP,
                )
                .map(|t| distribution::parse_entry_points(&t))
                .unwrap_or_default(),
            ),
            None => (None, Vec::new()),
        };
        let mut ix = Indexing {
            idx: &mut idx,
            dirs,
            present,
            i,
            code: Vec::new(),
            any: false,
            dropped: 0,
            tops: matches!(top_txt, Some(None)).then(|| (Vec::new(), HashSet::new())),
            last_first: None,
        };
        let (streamed, key) = match (light, d) {
            (Some((entry, dir)), _) => {
                let (stats, key) = stream_light_record(host, dir, &norm_site, entry, &mut ix);
                (
                    stats.map(|s| s.map(|s| (python::record::RecordSource::Record, s))),
                    key,
                )
            }
            (None, SiteDist::Full(full)) => (
                python::record::for_each_record_entry(host, full, site_dir, &mut |e| {
                    let rel = python::record::below(site, &e.path);
                    let hash = e.hash.as_ref().map(|(a, d)| (a.as_str(), d.as_str()));
                    ix.add(rel, hash, e.outside_environment);
                }),
                None,
            ),
            (None, SiteDist::Light(_)) => (Ok(None), None),
        };
        let Indexing {
            code,
            any,
            dropped,
            tops,
            ..
        } = ix;
        match streamed {
            Ok(Some((_, stats))) if stats.overlong > 0 => {
                let msg = format!(
                    "{} line(s) longer than {} bytes skipped",
                    stats.overlong,
                    python::record::MAX_RECORD_LINE
                );
                log::warn!("{}: {msg}", record_file(site, d).display());
                idx.problems.push(ScanProblem {
                    path: record_file(site, d),
                    member: String::new(),
                    message: msg,
                });
            }
            Ok(_) => {}
            Err(e) => {
                log::warn!("{e}: {}'s files not scanned", d.name(host, site_dir));
                idx.problems.push(ScanProblem {
                    path: record_file(site, d),
                    member: String::new(),
                    message: format!("unreadable: {e}; the distribution's code was not scanned"),
                });
            }
        }
        if dropped > 0 {
            let msg = format!(
                "too_many_files: {} lists more than {MAX_CODE_FILES_PER_DIST} Python files; {dropped} not scanned",
                d.name(host, site_dir)
            );
            log::warn!("{}: {msg}", record_file(site, d).display());
            idx.problems.push(ScanProblem {
                path: record_file(site, d),
                member: String::new(),
                message: msg,
            });
        }
        idx.code.push(code);
        idx.has_list.push(any);
        let top_level = match (top_txt, tops, d) {
            (Some(Some(names)), _, _) => names,
            (Some(None), Some((names, _)), _) => names,
            (_, _, SiteDist::Full(full)) => {
                python::distribution::top_level_names_at(host, full, names(), site_dir)
            }
            _ => Vec::new(),
        };
        idx.top_level.push(top_level);
        let eps = match d {
            SiteDist::Full(full) => python::distribution::entry_points_at(host, full, site_dir),
            SiteDist::Light(_) => eps,
        };
        idx.entry_points.push(eps);
        idx.keys
            .push(key.unwrap_or_else(|| dirs.key(&record_file(site, d))));
    }
    idx.dists = dists;
    let idx = Arc::new(idx);
    scanner.sites.insert(site.to_path_buf(), idx.clone());
    idx
}

/// Scans one site directory of the environment at `env`.
pub fn scan_site(host: &Host, scanner: &Scanner, env: &Path, site: &Path, out: &mut TargetScan) {
    let ctx = Site { env, site };
    let dirs = SiteDirs::new(host, scanner, site);
    let idx = site_index(host, scanner, &dirs);
    let (dists, owner_of) = (&idx.dists, &idx.owner_of);
    out.problems.extend(idx.problems.iter().cloned());

    // When some distribution here has no RECORD (installed by dpkg, rpm or
    // conda from egg-info), a file no RECORD lists may still be owned.
    let all_recorded = idx.has_list.iter().all(|r| *r);
    scan_site_level(
        host,
        scanner,
        &ctx,
        dirs.dir.as_ref(),
        dists,
        owner_of,
        all_recorded,
        out,
    );

    let mut import_owners: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    // By the bytes of each normalised relative path (equal paths, equal bytes).
    let mut scanned: HashSet<&std::ffi::OsStr> = HashSet::new();
    let sd = dirs.dir.as_ref();
    for (i, dist) in dists.iter().enumerate() {
        let entry_modules =
            scan_entry_points(host, scanner, &ctx, sd, dist, &idx.entry_points[i], out);
        for name in &idx.top_level[i] {
            import_owners.entry(name.clone()).or_default().push(i);
        }
        for entry in &idx.code[i] {
            if !scanned.insert(entry.rel.as_os_str()) {
                continue;
            }
            let rel = &*entry.rel;
            if !is_python_file(rel) {
                continue;
            }
            let rel_b = rel.as_os_str().as_encoded_bytes();
            if !rel_b.contains(&b'/')
                && (rel_b.eq_ignore_ascii_case(b"sitecustomize.py")
                    || rel_b.eq_ignore_ascii_case(b"usercustomize.py"))
            {
                continue; // scanned as a site-level file
            }
            let path = site.join(rel);
            let rel_s = rel.to_string_lossy();
            let role = if entry_modules.contains(rel_s.as_ref()) {
                Role::Entry
            } else {
                Role::for_relative_path(&rel_s)
            };
            scan_one(host, scanner, &ctx, &dirs, &path, role, dist, entry, out);
        }
        if idx.has_list[i] {
            scan_unrecorded(
                host,
                scanner,
                &ctx,
                &dirs,
                dist,
                &idx.top_level[i],
                &idx,
                out,
            );
        }
    }
    check_import_names(host, scanner, &ctx, sd, dists, &import_owners, out);
}

#[allow(clippy::too_many_arguments)]
fn scan_one(
    host: &Host,
    scanner: &Scanner,
    ctx: &Site<'_>,
    dirs: &SiteDirs<'_>,
    path: &Path,
    role: Role,
    dist: &SiteDist,
    entry: &CodeFile,
    out: &mut TargetScan,
) {
    // Read (METADATA) only for a row.
    let package = || Some(dist.name(host, dirs.dir.as_ref()));
    let scanned = match &dirs.dir {
        Some(dir) if entry.regular => scanner.scan_file_at(host, dir, &entry.rel, path, role),
        _ => scanner.scan_file(host, path, role),
    };
    match scanned {
        Ok(s) => {
            for f in &s.scan.findings {
                out.findings
                    .push(ctx.locate(path, package(), s.sha256.clone(), f.clone()));
            }
            if let (Some(want), Some(got)) = (entry.sha256.as_deref(), s.sha256.as_ref()) {
                if !s.scan.truncated && !crate::hex::is_encoding_of(want, got) {
                    let want = crate::hex::encode(want);
                    out.findings.push(ctx.locate(
                        path,
                        package(),
                        Some(got.clone()),
                        finding(
                            "record-hash-mismatch",
                            Category::Tampering,
                            Severity::Medium,
                            // A RECORD digest may decode to fewer than 6 bytes.
                            format!(
                                "RECORD sha256 {}…, file sha256 {}…",
                                want.get(..12).unwrap_or(&want),
                                got.get(..12).unwrap_or(got)
                            ),
                            "an installed file no longer matches the digest its RECORD gives (modified after install)".into(),
                            role,
                        ),
                    ));
                }
            }
        }
        Err(e) if e.is_not_found() => {} // missing files are provenance's business
        Err(e) => out.problems.push(ScanProblem {
            path: path.to_path_buf(),
            member: String::new(),
            message: e.to_string(),
        }),
    }
}

#[allow(clippy::too_many_arguments)]
fn scan_site_level(
    host: &Host,
    scanner: &Scanner,
    ctx: &Site<'_>,
    sd: Option<&crate::host::HostDir>,
    dists: &[SiteDist],
    owner_of: &HashMap<PathBuf, usize>,
    all_recorded: bool,
    out: &mut TargetScan,
) {
    let entries = match scanner.list_dir(host, ctx.site) {
        Ok(e) => e,
        Err(e) => {
            out.problems.push(ScanProblem {
                path: ctx.site.to_path_buf(),
                member: String::new(),
                message: e.to_string(),
            });
            return;
        }
    };
    for entry in entries.iter() {
        // site.py follows symlinked .pth files too; the Host resolves them
        // inside the root.
        if entry.file_type.is_dir() {
            continue;
        }
        let name = entry.name_lossy();
        let owner_idx = owner_of.get(&entry.path).copied();
        let package = || owner_idx.map(|i| dists[i].name(host, sd));
        let result = if name.ends_with(".pth") {
            let owner = match owner_idx {
                Some(i) => Owner::Dist(dists[i].normalized_name(host, sd)),
                None if all_recorded => Owner::Unowned,
                None => Owner::Unknown,
            };
            scanner
                .scan_pth_file(host, &entry.path, owner)
                .map(|s| (s.sha256, s.scan.findings))
        } else if name == "sitecustomize.py" || name == "usercustomize.py" {
            scanner
                .scan_file(host, &entry.path, Role::Startup)
                .map(|s| {
                    let mut f = s.scan.findings.clone();
                    f.insert(
                        0,
                        finding(
                            "startup-customize",
                            Category::Startup,
                            if owner_idx.is_some() {
                                Severity::Low
                            } else {
                                Severity::Medium
                            },
                            name.clone(),
                            format!(
                                "{name} runs on every interpreter start{}",
                                if owner_idx.is_some() {
                                    ""
                                } else {
                                    "; no installed distribution's RECORD owns it"
                                }
                            ),
                            Role::Startup,
                        ),
                    );
                    (s.sha256.clone(), f)
                })
        } else {
            continue;
        };
        match result {
            Ok((sha, findings)) => {
                for f in findings {
                    out.findings
                        .push(ctx.locate(&entry.path, package(), sha.clone(), f));
                }
            }
            Err(e) => out.problems.push(ScanProblem {
                path: entry.path.clone(),
                member: String::new(),
                message: e.to_string(),
            }),
        }
    }
}

/// Flags shadowing console scripts and returns the site-relative paths of
/// the modules that entry points run (so they are scanned as `entry_point`).
fn scan_entry_points(
    host: &Host,
    scanner: &Scanner,
    ctx: &Site<'_>,
    sd: Option<&crate::host::HostDir>,
    dist: &SiteDist,
    entry_points: &[(String, String, String)],
    out: &mut TargetScan,
) -> BTreeSet<String> {
    let mut modules = BTreeSet::new();
    if entry_points.is_empty() {
        return modules;
    }
    let ep_path = dist.metadata_path(ctx.site).join("entry_points.txt");
    for (group, name, value) in entry_points {
        if group != "console_scripts" && group != "gui_scripts" {
            continue;
        }
        let module = value.split(':').next().unwrap_or("").trim();
        if !module.is_empty() {
            let base = module.replace('.', "/");
            modules.insert(format!("{base}.py"));
            modules.insert(format!("{base}/__init__.py"));
            modules.insert(format!("{base}/__main__.py"));
        }
        if group != "console_scripts" {
            continue;
        }
        let cmd = name.trim();
        if super::manifest::shadows_trusted(
            scanner.rules,
            cmd,
            Some(dist.normalized_name(host, sd)),
        ) {
            out.findings.push(ctx.locate(
                &ep_path,
                Some(dist.name(host, sd)),
                None,
                finding(
                    "entry-point-shadows-command",
                    Category::Shadowing,
                    Severity::High,
                    super::redact::excerpt(&format!("{cmd} = {value}"), 0),
                    format!("console script '{cmd}' takes over a system or trusted command"),
                    Role::Entry,
                ),
            ));
        }
    }
    modules
}

/// Files inside the distribution's import packages that no RECORD lists.
/// Directories are listed through `dirs` (the listings the RECORD index
/// made, reused).
#[allow(clippy::too_many_arguments)]
fn scan_unrecorded(
    host: &Host,
    scanner: &Scanner,
    ctx: &Site<'_>,
    dirs: &SiteDirs<'_>,
    dist: &SiteDist,
    tops: &[String],
    idx: &SiteIndex,
    out: &mut TargetScan,
) {
    let mut walked = 0usize;
    let sd = dirs.dir.as_ref();
    let site_entries = dirs.list(Path::new("")).ok();
    for top in tops {
        if COMMON_TOP_LEVEL.contains(&top.as_str()) || !idx.recorded_tops.contains(top) {
            continue;
        }
        // A directory (a symlink to one followed inside the root, as
        // `Scanner::stat` does), else nothing to search.
        let plain = !top.is_empty() && !top.contains('/') && top != "." && top != "..";
        let listed = site_entries
            .as_ref()
            .filter(|_| plain)
            .map(|es| SiteDirs::kind_in(es, std::ffi::OsStr::new(top)));
        let is_dir = match listed {
            Some(Some(EntryType::Dir)) => true,
            Some(None | Some(EntryType::File | EntryType::Other)) => false,
            _ => scanner
                .stat(host, &ctx.site.join(top))
                .is_ok_and(|m| m.is_dir()),
        };
        if !is_dir {
            continue;
        }
        let mut stack = vec![(PathBuf::from(top), 0usize)];
        while let Some((rel_dir, depth)) = stack.pop() {
            let d = dirs.path(&rel_dir);
            let entries = match dirs.list(&rel_dir) {
                Ok(e) => e,
                Err(e) => {
                    log::warn!("{e}: not searched for unrecorded files");
                    out.problems.push(ScanProblem {
                        path: d.clone(),
                        member: String::new(),
                        message: format!("unreadable: {e}"),
                    });
                    continue;
                }
            };
            for e in entries.iter() {
                walked += 1;
                if walked > MAX_UNRECORDED_WALK {
                    let msg = format!(
                        "walk_limit: stopped after {MAX_UNRECORDED_WALK} entries below {}'s package directories; the rest was not searched for unrecorded files",
                        dist.name(host, sd)
                    );
                    log::warn!("{}: {msg}", ctx.site.display());
                    out.problems.push(ScanProblem {
                        path: d.clone(),
                        member: String::new(),
                        message: msg,
                    });
                    return;
                }
                let name = e.name.to_string_lossy();
                if e.kind == EntryType::Dir {
                    if name == "__pycache__" {
                        continue;
                    }
                    if depth + 1 > MAX_UNRECORDED_DEPTH {
                        let msg = format!(
                            "too_deep: directory nested more than {MAX_UNRECORDED_DEPTH} levels below {top}; not searched"
                        );
                        let path = d.join(&e.name);
                        log::warn!("{}: {msg}", path.display());
                        out.problems.push(ScanProblem {
                            path,
                            member: String::new(),
                            message: msg,
                        });
                        continue;
                    }
                    stack.push((rel_dir.join(&e.name), depth + 1));
                    continue;
                }
                if name.ends_with(".pyc") {
                    continue;
                }
                let rel_path = rel_dir.join(&e.name);
                if idx.is_listed(&rel_path) {
                    continue;
                }
                let path = d.join(&e.name);
                let rel = rel_path.to_string_lossy().into_owned();
                let code = [".py", ".pyw", ".so", ".pth", ".sh"]
                    .iter()
                    .any(|x| name.ends_with(x));
                out.findings.push(ctx.locate(
                    &path,
                    Some(dist.name(host, sd)),
                    None,
                    finding(
                        "unrecorded-file",
                        Category::Tampering,
                        if code { Severity::High } else { Severity::Medium },
                        rel.clone(),
                        format!("a file in {}'s package directory that no RECORD lists (dropped after install)", dist.name(host, sd)),
                        Role::for_relative_path(&rel),
                    ),
                ));
                if name.ends_with(".py") {
                    let role = Role::for_relative_path(&rel);
                    if let Ok(s) = scanner.scan_file(host, &path, role) {
                        for f in &s.scan.findings {
                            out.findings.push(ctx.locate(
                                &path,
                                Some(dist.name(host, sd)),
                                s.sha256.clone(),
                                f.clone(),
                            ));
                        }
                    }
                }
            }
        }
    }
}

fn check_import_names(
    host: &Host,
    scanner: &Scanner,
    ctx: &Site<'_>,
    sd: Option<&crate::host::HostDir>,
    dists: &[SiteDist],
    import_owners: &BTreeMap<String, Vec<usize>>,
    out: &mut TargetScan,
) {
    for (name, owners) in import_owners {
        if COMMON_TOP_LEVEL.contains(&name.as_str()) {
            continue;
        }
        let popular = scanner.rules.owned_imports.iter().find(|o| o.name == *name);
        if popular.is_some_and(|p| p.owners.iter().any(|o| o == "*")) {
            continue;
        }
        for &i in owners {
            // One owner and no popular owner: nothing to weigh, and no
            // name (METADATA) to read.
            if popular.is_none() && owners.len() == 1 {
                continue;
            }
            let dist = &dists[i];
            let norm = dist.normalized_name(host, sd);
            let others: Vec<&str> = owners
                .iter()
                .filter(|&&j| j != i && dists[j].normalized_name(host, sd) != norm)
                .map(|&j| dists[j].name(host, sd))
                .collect();
            let hijack = popular.is_some_and(|p| !p.owners.iter().any(|o| o == norm));
            if !hijack && others.is_empty() {
                continue;
            }
            let why = if hijack {
                format!("installs the import name '{name}', which belongs to a popular package")
            } else {
                format!(
                    "installs the import name '{name}', also installed by {}",
                    others.join(", ")
                )
            };
            out.findings.push(ctx.locate(
                &dist.metadata_path(ctx.site),
                Some(dist.name(host, sd)),
                None,
                finding(
                    "import-name-shadowing",
                    Category::Shadowing,
                    if hijack {
                        Severity::High
                    } else {
                        Severity::Medium
                    },
                    name.clone(),
                    why,
                    Role::Import,
                ),
            ));
        }
    }
}
