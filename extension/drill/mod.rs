//! `squatch drill`: the purple-team drill of the seed guide's eXercise stage
//! as four commands.
//!
//! - `plant` lays out a harmless canary distribution (a look-alike name, a
//!   `.pth` and a module whose only action is to append a marker to
//!   `/tmp/security-drill.txt`, an sdist whose `setup.py` does the same, a
//!   requirements file naming it) with no pip, no network and no Python run,
//!   and keeps a manifest of what it wrote with digests.
//! - `watch` runs the packs' detection queries (the same SQL `squatch hunt`
//!   runs) until each expected detection fires, and records the time to
//!   detect of each; what never fires is a gap.
//! - `report` prints what was planted, what fired and when, the worst-case
//!   time to detect under the packs' intervals, and a blameless post-mortem
//!   template with the gaps as action items.
//! - `clean` removes every planted file that still matches its digest and
//!   says what it left.
//!
//! The target is a scratch venv squatch creates (default: the host path
//! `/tmp/squatch-drill` under `--root`) or, with `--env PATH`, an existing
//! environment (never a system one without `--force`). Paths are host paths,
//! resolved under `--root` like every other path squatch reads; `plant` and
//! `clean` are the only commands that write inside the root, and only the
//! files listed in the manifest.

mod canary;
mod clean;
mod manifest;
mod report;
mod watch;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

pub use canary::{module_name, record_hash, CanarySpec, DRILL_FILE, SUMMARY_PREFIX};
pub use clean::{clean, CleanResult};
pub use manifest::{sha256_hex, Manifest, PlantedFile, Store};
pub use report::{build_report, DrillReport};
pub use watch::{watch, Detection, WatchOptions, WatchResult};

use crate::host::Host;
use crate::python::{self, EnvironmentKind};
use crate::settings::Settings;
use crate::table::Table;

/// The default canary name (the seed guide's example).
pub const DEFAULT_NAME: &str = "pytorch-utilz";

/// The default scratch directory (a host path under `--root`).
pub const DEFAULT_SCRATCH: &str = "/tmp/squatch-drill";

/// An error that stops a drill command.
#[derive(Debug, thiserror::Error)]
pub enum DrillError {
    /// A file operation failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What failed.
        source: std::io::Error,
    },
    /// No manifest where the target says.
    #[error("no drill planted here (no manifest at {0}); run `squatch drill plant` with the same --scratch/--env")]
    NoDrill(PathBuf),
    /// The manifest or watch file does not parse.
    #[error("{path}: {message}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// The parser's message.
        message: String,
    },
    /// The target refuses the drill.
    #[error("{0}")]
    Refused(String),
    /// A bad option value.
    #[error("{0}")]
    Usage(String),
    /// The SQL engine failed.
    #[error("SQL engine: {0}")]
    Sql(#[from] crate::sql::SqlError),
}

impl DrillError {
    fn io(path: &Path, source: std::io::Error) -> DrillError {
        DrillError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// Where a drill is: `--scratch DIR` or `--env PATH` (host paths).
#[derive(Debug, Clone, clap::Args)]
pub struct TargetArgs {
    /// A scratch directory (host path) for a venv layout squatch creates
    /// (default /tmp/squatch-drill under --root).
    #[arg(long, conflicts_with = "env")]
    pub scratch: Option<PathBuf>,
    /// An existing Python environment (host path) to plant into instead.
    #[arg(long)]
    pub env: Option<PathBuf>,
}

/// `squatch drill plant`'s options.
#[derive(Debug, Clone, clap::Args)]
pub struct PlantArgs {
    /// Where to plant.
    #[command(flatten)]
    pub target: TargetArgs,
    /// The canary's distribution name.
    #[arg(long, default_value = DEFAULT_NAME)]
    pub name: String,
    /// The drill marker written in every file (letters, digits, - _ .;
    /// default: SQUATCH-DRILL- and 12 random hex digits).
    #[arg(long)]
    pub marker: Option<String>,
    /// A DNS name you control that the canary resolves if it ever runs.
    #[arg(long)]
    pub dns_canary: Option<String>,
    /// Plant into a system environment (kind system, or under /usr) anyway.
    #[arg(long)]
    pub force: bool,
}

/// `squatch drill watch`'s options.
#[derive(Debug, Clone, clap::Args)]
pub struct WatchArgs {
    /// Where the drill is.
    #[command(flatten)]
    pub target: TargetArgs,
    /// Give up after this many seconds.
    #[arg(long, default_value_t = 300)]
    pub timeout: u64,
    /// Seconds between rounds of queries.
    #[arg(long, default_value_t = 5)]
    pub poll: u64,
}

/// `squatch drill report`'s options.
#[derive(Debug, Clone, clap::Args)]
pub struct ReportArgs {
    /// Where the drill is.
    #[command(flatten)]
    pub target: TargetArgs,
    /// Print one JSON document.
    #[arg(long, group = "drill_fmt")]
    pub json: bool,
    /// Print a blameless post-mortem template in Markdown.
    #[arg(long, group = "drill_fmt")]
    pub markdown: bool,
}

/// `squatch drill`'s subcommands.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum DrillCommand {
    /// Lay out a harmless canary package (no pip, no network, nothing run).
    Plant(PlantArgs),
    /// Run the packs' detection queries until each expected detection fires;
    /// print the time to detect of each and the gaps. Exit 1 on a gap.
    Watch(WatchArgs),
    /// What was planted, what fired and when, the worst case under the
    /// packs' schedule, and a post-mortem template.
    Report(ReportArgs),
    /// Remove every planted file that still matches its digest; say what was
    /// left. Exit 1 when something was left.
    Clean(TargetArgs),
}

/// Resolves the target to (environment host path, is scratch, store).
fn locate(
    host: &Host,
    settings: &Settings,
    target: &TargetArgs,
) -> (Option<PathBuf>, PathBuf, Store) {
    match &target.env {
        Some(env) => {
            let env = Host::normalize(&absolute(env));
            let store = Store::env(&settings.state_dir, host.root(), &env);
            (Some(env.clone()), env, store)
        }
        None => {
            let scratch = Host::normalize(&absolute(
                target
                    .scratch
                    .as_deref()
                    .unwrap_or(Path::new(DEFAULT_SCRATCH)),
            ));
            let store = Store::scratch(&real_path(host, &scratch));
            (None, scratch, store)
        }
    }
}

fn absolute(p: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        Path::new("/").join(p)
    }
}

/// The real path of a (normalised) host path under the root.
pub fn real_path(host: &Host, host_path: &Path) -> PathBuf {
    let rel = host_path.strip_prefix("/").unwrap_or(host_path);
    host.root().join(rel)
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

fn random_marker() -> String {
    let seed = format!(
        "{}-{}-{:?}",
        now_ms(),
        std::process::id(),
        std::time::Instant::now()
    );
    format!("SQUATCH-DRILL-{}", &sha256_hex(seed.as_bytes())[..12])
}

/// Refuses a host path whose existing components (below the root) include a
/// symlink: a write must never leave the root.
fn check_no_symlink(host: &Host, host_path: &Path) -> Result<(), DrillError> {
    let mut cur = host.root().to_path_buf();
    for comp in host_path
        .strip_prefix("/")
        .unwrap_or(host_path)
        .components()
    {
        cur.push(comp);
        match std::fs::symlink_metadata(&cur) {
            Ok(m) if m.file_type().is_symlink() => {
                return Err(DrillError::Refused(format!(
                    "{} is a symlink: squatch drill writes only real paths under --root",
                    cur.display()
                )))
            }
            Ok(_) => {}
            Err(_) => break,
        }
    }
    Ok(())
}

/// Plants the canary; returns the manifest (also saved in the store).
pub fn plant(host: &Host, settings: &Settings, args: &PlantArgs) -> Result<Manifest, DrillError> {
    if !canary::valid_name(&args.name) {
        return Err(DrillError::Usage(format!(
            "--name {:?}: use letters, digits, '-', '_' and '.'",
            args.name
        )));
    }
    let marker = args.marker.clone().unwrap_or_else(random_marker);
    if !canary::valid_name(&marker) {
        return Err(DrillError::Usage(format!(
            "--marker {marker:?}: use letters, digits, '-', '_' and '.' (at most 64)"
        )));
    }
    if let Some(n) = &args.dns_canary {
        if !canary::valid_dns_name(n) {
            return Err(DrillError::Usage(format!(
                "--dns-canary {n:?}: give a DNS name (letters, digits, '-', '.')"
            )));
        }
    }
    let (env_arg, place, store) = locate(host, settings, &args.target);
    if store.manifest.exists() {
        return Err(DrillError::Refused(format!(
            "a drill is already planted there ({}); run `squatch drill clean` first",
            store.manifest.display()
        )));
    }
    let spec = CanarySpec {
        name: args.name.clone(),
        marker: marker.clone(),
        dns_canary: args.dns_canary.clone(),
    };
    let mut files = Vec::new();
    let (environment, kind, site, extras) = match env_arg {
        Some(env_path) => {
            let env = python::environment_at(host, &env_path).ok_or_else(|| {
                DrillError::Refused(format!(
                    "{}: not a Python environment squatch recognises (no pyvenv.cfg, conda-meta or site directory)",
                    env_path.display()
                ))
            })?;
            let system = env.kind == EnvironmentKind::System || env_path.starts_with("/usr");
            if system && !args.force {
                return Err(DrillError::Refused(format!(
                    "{} is a system environment ({}): the drill plants there only with --force; prefer a scratch venv (--scratch) or a venv of your own",
                    env_path.display(),
                    env.kind.as_str()
                )));
            }
            let site = env.site_packages.first().cloned().ok_or_else(|| {
                DrillError::Refused(format!("{}: no site directory", env_path.display()))
            })?;
            let extras = env_path.join("squatch-drill");
            (env_path, env.kind.as_str().to_string(), site, extras)
        }
        None => {
            let real = real_path(host, &place);
            if let Ok(meta) = std::fs::symlink_metadata(&real) {
                use std::os::unix::fs::MetadataExt;
                // SAFETY: geteuid has no preconditions and cannot fail.
                let me = unsafe { libc::geteuid() };
                if meta.uid() != me {
                    return Err(DrillError::Refused(format!(
                        "scratch directory {} exists and belongs to uid {}, not to you: give a new --scratch",
                        place.display(),
                        meta.uid()
                    )));
                }
            }
            if let Ok(mut entries) = std::fs::read_dir(&real) {
                if entries.next().is_some() {
                    return Err(DrillError::Refused(format!(
                        "scratch directory {} exists and is not empty; give a new --scratch",
                        place.display()
                    )));
                }
            }
            let venv = place.join("venv");
            files.extend(canary::scratch_venv_files(&venv, &marker));
            (
                venv.clone(),
                "venv".to_string(),
                venv.join("lib/python3.12/site-packages"),
                place.clone(),
            )
        }
    };
    let layout = canary::Layout {
        site: site.clone(),
        extras,
    };
    let can = canary::build(&spec, &layout);
    files.extend(can.files.iter().cloned());

    // Nothing may exist yet, and no path may pass through a symlink.
    for f in &files {
        check_no_symlink(host, &f.path)?;
        let real = real_path(host, &f.path);
        if std::fs::symlink_metadata(&real).is_ok() {
            return Err(DrillError::Refused(format!(
                "{} already exists: the drill never overwrites a file",
                f.path.display()
            )));
        }
    }
    if !store.in_scratch {
        if let Some(parent) = store.manifest.parent() {
            use std::os::unix::fs::DirBuilderExt;
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(parent)
                .map_err(|e| DrillError::io(parent, e))?;
        }
    }

    let mut manifest = Manifest {
        marker,
        name: args.name.clone(),
        version: canary::VERSION.to_string(),
        dns_canary: args.dns_canary.clone(),
        target: if store.in_scratch { "scratch" } else { "env" }.to_string(),
        environment: environment.to_string_lossy().into_owned(),
        environment_kind: kind,
        site: site.to_string_lossy().into_owned(),
        pth: can.pth.to_string_lossy().into_owned(),
        sdist: can.sdist.to_string_lossy().into_owned(),
        requirements: can.requirements.to_string_lossy().into_owned(),
        dist_info: can.dist_info.to_string_lossy().into_owned(),
        planted_at_ms: 0,
        root: host.root().to_string_lossy().into_owned(),
        files: Vec::new(),
        dirs_created: Vec::new(),
    };
    if let Err(e) = write_all(
        host,
        &files,
        &mut manifest,
        store.in_scratch.then_some(&place),
    ) {
        // Undo a partial plant: remove exactly what was written.
        let _ = clean::remove_planted(host, &manifest);
        return Err(e);
    }
    manifest.planted_at_ms = now_ms();
    if let Err(e) = store.write_json(&store.manifest, &manifest) {
        let _ = clean::remove_planted(host, &manifest);
        return Err(e);
    }
    Ok(manifest)
}

fn write_all(
    host: &Host,
    files: &[canary::PlannedFile],
    manifest: &mut Manifest,
    scratch: Option<&PathBuf>,
) -> Result<(), DrillError> {
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(s) = scratch {
        make_dirs(host, s, manifest)?;
    }
    for f in files {
        if let Some(parent) = f.path.parent() {
            make_dirs(host, parent, manifest)?;
        }
        let real = real_path(host, &f.path);
        let mut out = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o644)
            .open(&real)
            .map_err(|e| DrillError::io(&f.path, e))?;
        manifest.files.push(PlantedFile {
            path: f.path.to_string_lossy().into_owned(),
            sha256: sha256_hex(&f.bytes),
            size: f.bytes.len() as u64,
            role: f.role.to_string(),
        });
        out.write_all(&f.bytes)
            .map_err(|e| DrillError::io(&f.path, e))?;
    }
    Ok(())
}

/// Creates the missing directories of a host path, recording each.
fn make_dirs(host: &Host, dir: &Path, manifest: &mut Manifest) -> Result<(), DrillError> {
    let mut missing = Vec::new();
    let mut cur = dir.to_path_buf();
    loop {
        let real = real_path(host, &cur);
        match std::fs::symlink_metadata(&real) {
            Ok(m) if m.is_dir() => break,
            Ok(_) => {
                return Err(DrillError::Refused(format!(
                    "{} exists and is not a directory",
                    cur.display()
                )))
            }
            Err(_) => missing.push(cur.clone()),
        }
        match cur.parent() {
            Some(p) if p != cur => cur = p.to_path_buf(),
            _ => break,
        }
    }
    for d in missing.into_iter().rev() {
        let real = real_path(host, &d);
        std::fs::create_dir(&real).map_err(|e| DrillError::io(&d, e))?;
        manifest.dirs_created.push(d.to_string_lossy().into_owned());
    }
    Ok(())
}

/// Runs a drill subcommand and prints its result; returns the exit status
/// (0 done, 1 a gap or something left, 2 an error).
pub fn main(
    host: &Host,
    tables: &[Arc<dyn Table>],
    settings: &Settings,
    cmd: &DrillCommand,
) -> ExitCode {
    match run(host, tables, settings, cmd) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("squatch drill: error: {e}");
            ExitCode::from(2)
        }
    }
}

fn run(
    host: &Host,
    tables: &[Arc<dyn Table>],
    settings: &Settings,
    cmd: &DrillCommand,
) -> Result<u8, DrillError> {
    let mut out = std::io::stdout().lock();
    let mut say = |s: String| {
        let _ = out.write_all(s.as_bytes());
        let _ = out.flush();
    };
    match cmd {
        DrillCommand::Plant(args) => {
            let m = plant(host, settings, args)?;
            let (_, _, store) = locate(host, settings, &args.target);
            let mut s = format!(
                "planted security-drill canary {} {} (marker {}) in {} ({}):\n",
                m.name, m.version, m.marker, m.environment, m.environment_kind
            );
            for f in &m.files {
                s.push_str(&format!("  {}  ({})\n", f.path, f.role));
            }
            s.push_str(&format!(
                "manifest: {}\nnothing was run. Next: squatch drill watch{}; then report and clean.\n",
                store.manifest.display(),
                target_flags(&args.target)
            ));
            say(s);
            Ok(0)
        }
        DrillCommand::Watch(args) => {
            let (_, _, store) = locate(host, settings, &args.target);
            let m = store.load()?;
            let opts = WatchOptions {
                timeout: Duration::from_secs(args.timeout),
                poll: Duration::from_secs(args.poll.max(1)),
            };
            let result = watch(host, tables, &m, &opts, &mut |line| {
                eprintln!("squatch drill watch: {line}")
            })?;
            store.write_json(&store.watch, &result)?;
            let pack = crate::packs::Pack::embedded().ok();
            let r = build_report(&m, Some(&result), pack);
            say(report::text(&r));
            Ok(if r.gaps.is_empty() { 0 } else { 1 })
        }
        DrillCommand::Report(args) => {
            let (_, _, store) = locate(host, settings, &args.target);
            let m = store.load()?;
            let result: Option<WatchResult> = match std::fs::read_to_string(&store.watch) {
                Ok(t) => Some(serde_json::from_str(&t).map_err(|e| DrillError::Corrupt {
                    path: store.watch.clone(),
                    message: e.to_string(),
                })?),
                Err(_) => None,
            };
            let pack = crate::packs::Pack::embedded().ok();
            let r = build_report(&m, result.as_ref(), pack);
            say(if args.json {
                report::json(&r)
            } else if args.markdown {
                report::markdown(&r)
            } else {
                report::text(&r)
            });
            Ok(0)
        }
        DrillCommand::Clean(target) => {
            let (_, _, store) = locate(host, settings, target);
            let m = store.load()?;
            let r = clean(host, &m, &store);
            say(clean::text(&r));
            Ok(if r.left.is_empty() { 0 } else { 1 })
        }
    }
}

fn target_flags(t: &TargetArgs) -> String {
    match (&t.env, &t.scratch) {
        (Some(e), _) => format!(" --env {}", e.display()),
        (None, Some(s)) => format!(" --scratch {}", s.display()),
        _ => String::new(),
    }
}
