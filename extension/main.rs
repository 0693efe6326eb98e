//! The `squatch` command: an osquery extension when started by osqueryd, and
//! an embedded SQL tool for incident responders on hosts without osquery.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context as _};
use clap::{Parser, Subcommand};

use squatch::host::Host;
use squatch::osquery::server::{self, ExtensionOptions};
use squatch::output::{self, Format};
use squatch::sql::{Engine, SqlError};
use squatch::table::Table;
use squatch::tables;

/// squatch: ask a host, in SQL, what a malicious Python package did to it.
///
/// Started by osqueryd (or `osqueryi --extension`) it serves its tables to
/// osquery. With a subcommand it runs the same tables through embedded SQLite.
#[derive(Parser, Debug)]
#[command(name = "squatch", version, about, long_about = None)]
struct Cli {
    /// Filesystem root of the host to examine: `/`, a mounted disk image, or a
    /// test's fake host.
    #[arg(long, global = true, env = "SQUATCH_ROOT", default_value = "/")]
    root: PathBuf,

    /// Where squatch keeps its own state (fingerprint key, caches, shell
    /// history); never inside --root.
    #[arg(long, global = true, env = "SQUATCH_STATE_DIR", default_value = squatch::settings::DEFAULT_STATE_DIR)]
    state_dir: PathBuf,

    /// A fingerprint key file shared across a fleet, so one secret has one
    /// fingerprint on every host (default: a per-host key in --state-dir).
    #[arg(long, global = true, env = "SQUATCH_FINGERPRINT_KEY")]
    fingerprint_key: Option<PathBuf>,

    /// Load NVML from this file instead of the system library directories.
    #[arg(long, global = true, env = "SQUATCH_NVML_LIB")]
    nvml_lib: Option<PathBuf>,

    /// Do not keep file scans and digests between runs (in --state-dir/cache).
    #[arg(long, global = true, env = "SQUATCH_NO_CACHE")]
    no_cache: bool,

    /// Most threads scanning site directories at once for
    /// python_install_findings (default: 1 in extension mode, where a
    /// scheduled query should stay gentle; otherwise the CPUs, at most 4).
    #[arg(long, global = true, env = "SQUATCH_SCAN_THREADS", value_parser = clap::value_parser!(u16).range(1..=64))]
    scan_threads: Option<u16>,

    /// Extension mode: osquery's extension manager socket (passed by osqueryd).
    #[arg(long)]
    socket: Option<PathBuf>,

    /// Extension mode: seconds to wait for the socket to appear.
    #[arg(long, default_value_t = 3)]
    timeout: u64,

    /// Extension mode: seconds between pings of osquery.
    #[arg(long, default_value_t = 3)]
    interval: u64,

    /// Log more (debug level) to stderr; RUST_LOG overrides.
    #[arg(long, short, global = true)]
    verbose: bool,

    #[command(subcommand)]
    command: Option<Command>,
}

const QUERY_EXAMPLES: &str = "\
Examples:
  squatch query \"SELECT name, version, installer, source_kind FROM python_package_provenance\"
  squatch query --json \"SELECT name, target, score FROM python_typosquat_scores WHERE flagged = 1\"
  squatch query \"SELECT variant, registered FROM python_typosquat_variants WHERE target = 'torch'\"
  squatch --root /mnt/image query -f my-queries.sql
  echo 'SELECT path, kind FROM python_environments;' | squatch query -f -

`squatch tables NAME` shows a table's columns, what narrows its scan and an
example query; `squatch shell` is an interactive shell over the same tables.";

#[derive(Subcommand, Debug)]
enum Command {
    /// Run SQL against squatch's tables through embedded SQLite.
    #[command(after_help = QUERY_EXAMPLES)]
    Query {
        /// Print a JSON array of objects, every value a string (as osqueryi --json).
        #[arg(long, group = "fmt")]
        json: bool,
        /// Print CSV with a header line.
        #[arg(long, group = "fmt")]
        csv: bool,
        /// Print one `column = value` line per column.
        #[arg(long, group = "fmt")]
        line: bool,
        /// Read the SQL from this file (`-` for standard input) instead.
        #[arg(long, short = 'f', conflicts_with = "sql")]
        file: Option<PathBuf>,
        /// The SQL: one or more `;`-separated statements.
        #[arg(allow_hyphen_values = true, required_unless_present = "file")]
        sql: Option<String>,
    },
    /// List every table with its columns, types and a one-line description.
    ///
    /// With a NAME: that table's stage, the columns that narrow its scan and
    /// an example query.
    Tables {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
        /// Describe only this table.
        name: Option<String>,
    },
    /// An interactive SQL shell over the same tables, as osqueryi.
    ///
    /// `.tables`, `.schema`, `.mode`, `.help`, `.quit`; statements end with
    /// `;` and may span lines; Ctrl-C cancels a running query. Not on a
    /// terminal, it reads statements from stdin and prints only results.
    /// `squatch` alone on a terminal starts it too.
    Shell,
    /// Run every detection query of the packs that needs no osquery and print
    /// the findings by stage, most severe first. Exit 0: nothing at or above
    /// --min-severity; 1: something; 2: an error.
    Hunt(squatch::hunt::HuntArgs),
    /// CI gate: check dependency files against a policy (typosquats,
    /// known-malicious names, pins, hashes, allow-list, baseline, indexes).
    /// Exit status 0 clean, 1 findings, 2 usage or parse error.
    Check {
        /// Dependency files or directories (default: the current directory).
        paths: Vec<PathBuf>,
        /// Policy TOML file (README: "squatch check (CI gate)").
        #[arg(long)]
        policy: Option<PathBuf>,
        /// Report format.
        #[arg(long, default_value = "text", value_parser = ["text", "json", "sarif"])]
        format: String,
        /// A previous lock or requirements file: names not in it are new.
        #[arg(long)]
        baseline: Option<PathBuf>,
    },
    /// Ask a package index (network, opt-in) which typosquat variants of
    /// your dependencies are registered, and whether each dependency exists,
    /// when it was uploaded and who maintains it.
    Recon(squatch::recon::ReconArgs),
    /// The purple-team drill: plant a harmless canary package, watch the
    /// packs detect it, report the time to detect and the gaps, clean up.
    Drill {
        #[command(subcommand)]
        action: squatch::drill::DrillCommand,
    },
    /// Maintain the reference data shipped in the binary.
    Data {
        #[command(subcommand)]
        action: DataAction,
    },
    /// Write squatch's man pages (squatch.1 and one per subcommand, e.g.
    /// squatch-query.1), generated from this `--help`, into a directory; the
    /// packages ship them.
    #[command(hide = true)]
    Man {
        /// The directory to write the pages into (created if missing).
        dir: PathBuf,
    },
}

#[derive(Subcommand, Debug)]
enum DataAction {
    /// Regenerate the popular-package and known-malicious lists from newer
    /// copies of their sources, then rebuild squatch to embed them.
    Refresh {
        /// Top PyPI packages: hugovk's top-pypi-packages JSON or CSV, or a TSV
        /// with name and rank columns.
        #[arg(long)]
        top: PathBuf,
        /// A checkout of the OpenSSF malicious-packages data set (its
        /// `osv/malicious/pypi` directory, or any directory above it).
        #[arg(long)]
        malicious: PathBuf,
        /// Where to write the data files (the repository's `extension/data`).
        #[arg(long, default_value = "extension/data")]
        out: PathBuf,
    },
}

fn init_logging(verbose: bool, default: &str) {
    let level = if verbose { "debug" } else { default };
    let env = env_logger::Env::default().default_filter_or(level);
    let _ = env_logger::Builder::from_env(env)
        .target(env_logger::Target::Stderr)
        .try_init();
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // hunt's and check's exit 1 means "found something": their errors exit 2.
    let failure = match cli.command {
        Some(Command::Hunt(_) | Command::Check { .. }) => ExitCode::from(2),
        _ => ExitCode::FAILURE,
    };
    let result = run(cli);
    // The end of a query, hunt or shell session: keep what was scanned.
    squatch::persist::save_all();
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("squatch: error: {e:#}");
            failure
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    if !cli.root.is_dir() {
        bail!(
            "--root {} is not a directory; give the mount point of the host to examine",
            cli.root.display()
        );
    }
    let host = Arc::new(Host::new(cli.root.clone()));
    let settings = squatch::settings::Settings {
        state_dir: cli.state_dir.clone(),
        fingerprint_key: cli.fingerprint_key.clone(),
        nvml_lib: cli.nvml_lib.clone(),
        persistent_cache: !cli.no_cache,
        scan_threads: cli
            .scan_threads
            .map(usize::from)
            .or(cli.socket.is_some().then_some(1)),
    };
    let tables = tables::registry_with(host.clone(), &settings);

    if let Some(socket) = cli.socket.clone() {
        if cli.command.is_some() {
            bail!("--socket starts extension mode and takes no subcommand");
        }
        init_logging(cli.verbose, "info");
        return run_extension(&cli, socket, tables);
    }
    // Every other command is one run and then the process ends: the
    // tables' caches (an entry per file scanned, a listing per directory)
    // are left to the exit rather than freed one by one, which took 2.4%
    // of a whole-host scan's user time (benches/README.md). What is kept
    // across runs is written by `persist::save_all`, not by a drop.
    let tables = std::mem::ManuallyDrop::new(tables);

    match cli.command {
        None if std::io::IsTerminal::is_terminal(&std::io::stdin()) => {
            init_logging(cli.verbose, "warn");
            run_shell(&cli, &tables)
        }
        None => {
            use clap::CommandFactory;
            Cli::command().print_help()?;
            Ok(ExitCode::from(2))
        }
        Some(Command::Shell) => {
            init_logging(cli.verbose, "warn");
            run_shell(&cli, &tables)
        }
        Some(Command::Query {
            json,
            csv,
            line,
            file,
            sql,
        }) => {
            init_logging(cli.verbose, "warn");
            let sql = match (sql, file) {
                (Some(sql), _) => sql,
                (None, Some(path)) if path.as_os_str() == "-" => {
                    std::io::read_to_string(std::io::stdin()).context("reading SQL from stdin")?
                }
                (None, Some(path)) => std::fs::read_to_string(&path)
                    .with_context(|| format!("reading SQL from {}", path.display()))?,
                (None, None) => bail!("give the SQL as an argument or with --file"),
            };
            let format = if json {
                Format::Json
            } else if csv {
                Format::Csv
            } else if line {
                Format::Line
            } else {
                Format::Pretty
            };
            let engine = Engine::new(&tables).context("starting the embedded SQL engine")?;
            let stdout = std::io::stdout().lock();
            let mut printer = output::Printer::new(std::io::BufWriter::new(stdout), format);
            match engine.run(&sql, &mut printer) {
                // A reader that went away (`| head`) is not an error.
                Err(SqlError::Output(e)) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
                other => other?,
            }
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Data {
            action:
                DataAction::Refresh {
                    top,
                    malicious,
                    out,
                },
        }) => {
            init_logging(cli.verbose, "info");
            let report = squatch::typosquat::regenerate(&top, &malicious, &out)?;
            println!(
                "wrote {} popular and {} known-malicious names ({} OSV files skipped) to {}; rebuild squatch to embed them",
                report.popular,
                report.malicious,
                report.skipped_osv_files,
                out.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Man { dir }) => {
            use clap::CommandFactory;
            std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
            clap_mangen::generate_to(Cli::command(), &dir)
                .with_context(|| format!("writing man pages to {}", dir.display()))?;
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Check {
            paths,
            policy,
            format,
            baseline,
        }) => Ok(ExitCode::from(squatch::check::run_cli(
            &squatch::check::CheckOptions {
                paths,
                policy,
                format: squatch::check::OutputFormat::parse(&format)
                    .unwrap_or(squatch::check::OutputFormat::Text),
                baseline,
            },
        ))),
        Some(Command::Hunt(args)) => {
            init_logging(cli.verbose, "warn");
            Ok(squatch::hunt::main(&host, &tables, &args))
        }
        Some(Command::Recon(args)) => Ok(squatch::recon::main(
            &args,
            &Host::new(cli.root.clone()),
            &cli.state_dir,
        )),
        Some(Command::Drill { action }) => {
            init_logging(cli.verbose, "warn");
            Ok(squatch::drill::main(&host, &tables, &settings, &action))
        }
        Some(Command::Tables { json, name }) => {
            init_logging(cli.verbose, "warn");
            print!(
                "{}",
                squatch::catalog::describe(&tables, name.as_deref(), json)?
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn run_shell(cli: &Cli, tables: &[Arc<dyn Table>]) -> anyhow::Result<ExitCode> {
    let opts = squatch::shell::ShellOptions {
        root: cli.root.clone(),
        state_dir: cli.state_dir.clone(),
    };
    let errors = squatch::shell::run(tables, &opts)?;
    Ok(if errors == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn run_extension(
    cli: &Cli,
    socket: PathBuf,
    tables: Vec<Arc<dyn Table>>,
) -> anyhow::Result<ExitCode> {
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        signal_hook::flag::register(sig, stop.clone())
            .with_context(|| format!("installing a handler for signal {sig}"))?;
    }
    let opts = ExtensionOptions {
        socket,
        timeout: Duration::from_secs(cli.timeout),
        interval: Duration::from_secs(cli.interval.max(1)),
        name: "squatch".to_string(),
        version: env!("CARGO_PKG_VERSION").to_string(),
    };
    squatch::persist::spawn_periodic_save(Duration::from_secs(600));
    server::run(&opts, tables, stop)?;
    Ok(ExitCode::SUCCESS)
}
