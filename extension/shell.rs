//! `squatch shell`: an interactive SQL shell over the embedded engine, in
//! osqueryi's manner.
//!
//! On a terminal it edits lines (rustyline), keeps a history under the state
//! directory (never inside `--root`; none when that is not writable), shows
//! `--root` in the prompt, runs a statement once a line ends it with `;`, and
//! turns Ctrl-C during a query into SQLite's interrupt, so the query stops
//! and the shell stays. On a pipe it reads the same statements and
//! dot-commands from stdin and prints only their results, as
//! `echo '.tables' | osqueryi` does.

use std::io::{self, BufRead, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::catalog;
use crate::output::{Format, Printer};
use crate::sql::{is_complete, Engine, SqlError};
use crate::table::Table;

/// An error that stops the shell itself (a statement's error does not: it is
/// printed and the shell goes on).
#[derive(Debug, thiserror::Error)]
pub enum ShellError {
    /// The embedded engine could not start.
    #[error("starting the embedded SQL engine: {0}")]
    Engine(#[from] SqlError),
    /// The terminal could not be set up or read.
    #[error("terminal: {0}")]
    Terminal(String),
    /// Standard input could not be read or standard output written.
    #[error("{0}")]
    Io(#[from] io::Error),
}

/// What the shell needs besides the tables.
#[derive(Debug, Clone)]
pub struct ShellOptions {
    /// The examined root, shown in the prompt; history is never kept inside
    /// it (unless it is `/`, the live host).
    pub root: PathBuf,
    /// Where the history file lives (`Settings::state_dir`).
    pub state_dir: PathBuf,
}

/// The name of the history file under the state directory.
pub const HISTORY_FILE: &str = "shell_history";

const HELP: &str = "\
.tables [PATTERN]  list squatch's tables (those whose name contains PATTERN)
.schema [TABLE]    the CREATE TABLE statement of TABLE, or of every table
.mode [MODE]       show or set the output mode: pretty (default), line, csv, json
.help              this text
.quit, .exit       leave the shell (Ctrl-D too)

A statement ends with `;` and may span lines. Ctrl-C cancels a running query,
or clears the statement being typed. `squatch tables NAME` describes a table:
its stage, the constraints that narrow its scan and an example query.
";

/// What the shell does after a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Read the next line.
    Continue,
    /// `.quit` / `.exit`: leave.
    Quit,
}

/// The state of one shell: the engine, the output mode, the statement being
/// typed, and whether anything failed. Terminal and pipe drive the same
/// session line by line.
pub struct Session<'a> {
    engine: Engine,
    tables: &'a [Arc<dyn Table>],
    format: Format,
    buffer: String,
    errors: usize,
    cancelled: Arc<AtomicBool>,
}

fn parse_mode(name: &str) -> Option<Format> {
    Some(match name {
        "pretty" => Format::Pretty,
        "line" => Format::Line,
        "csv" => Format::Csv,
        "json" => Format::Json,
        _ => return None,
    })
}

fn mode_name(f: Format) -> &'static str {
    match f {
        Format::Pretty => "pretty",
        Format::Line => "line",
        Format::Csv => "csv",
        Format::Json => "json",
    }
}

impl<'a> Session<'a> {
    /// A session over `tables`, in pretty mode.
    pub fn new(tables: &'a [Arc<dyn Table>]) -> Result<Self, ShellError> {
        Ok(Session {
            engine: Engine::new(tables)?,
            tables,
            format: Format::Pretty,
            buffer: String::new(),
            errors: 0,
            cancelled: Arc::new(AtomicBool::new(false)),
        })
    }

    /// How many statements or commands failed so far.
    pub fn errors(&self) -> usize {
        self.errors
    }

    /// True while a statement is being typed over several lines.
    pub fn in_statement(&self) -> bool {
        !self.buffer.trim().is_empty()
    }

    /// Drops the statement being typed (Ctrl-C at the prompt).
    pub fn clear(&mut self) {
        self.buffer.clear();
    }

    /// Takes one line of input: a dot-command (at the start of a statement),
    /// or part of a statement, run once it is complete.
    pub fn line(&mut self, line: &str, out: &mut dyn Write, err: &mut dyn Write) -> Step {
        let trimmed = line.trim();
        if !self.in_statement() && trimmed.starts_with('.') {
            self.buffer.clear();
            return self.command(trimmed, out, err);
        }
        if !self.buffer.is_empty() {
            self.buffer.push('\n');
        }
        self.buffer.push_str(line);
        if is_complete(&self.buffer) {
            let sql = std::mem::take(&mut self.buffer);
            self.statement(&sql, out, err);
        }
        Step::Continue
    }

    /// Runs what is left in the buffer at the end of input (a last statement
    /// without its `;`).
    pub fn finish(&mut self, out: &mut dyn Write, err: &mut dyn Write) {
        let sql = std::mem::take(&mut self.buffer);
        if !sql.trim().is_empty() {
            self.statement(&sql, out, err);
        }
    }

    fn fail(&mut self, err: &mut dyn Write, msg: &str) {
        self.errors += 1;
        let _ = writeln!(err, "Error: {msg}");
        let _ = err.flush();
    }

    /// Runs one or more statements, printing each result in the current
    /// mode; an error (or a cancel) is printed and the session goes on.
    pub fn statement(&mut self, sql: &str, out: &mut dyn Write, err: &mut dyn Write) {
        self.cancelled.store(false, Ordering::SeqCst);
        let mut printer = Printer::new(&mut *out, self.format);
        let result = self.engine.run(sql, &mut printer);
        drop(printer);
        let _ = out.flush();
        match result {
            Ok(()) => {}
            Err(_) if self.cancelled.swap(false, Ordering::SeqCst) => {
                // A half-written result may not end its line.
                let _ = writeln!(out);
                let _ = out.flush();
                self.fail(err, "query cancelled (Ctrl-C)");
            }
            Err(e) => self.fail(err, &e.to_string()),
        }
    }

    fn command(&mut self, line: &str, out: &mut dyn Write, err: &mut dyn Write) -> Step {
        let mut parts = line.split_whitespace();
        let cmd = parts.next().unwrap_or("");
        let arg = parts.next();
        if parts.next().is_some() {
            self.fail(err, &format!("{cmd}: too many arguments (see .help)"));
            return Step::Continue;
        }
        let written = match (cmd, arg) {
            (".quit" | ".exit", None) => return Step::Quit,
            (".help", None) => out.write_all(HELP.as_bytes()),
            (".tables", pattern) => {
                let pattern = pattern.map(str::to_ascii_lowercase);
                let mut text = String::new();
                for t in catalog::sorted(self.tables) {
                    if pattern.as_deref().is_none_or(|p| t.name().contains(p)) {
                        text.push_str(&format!("  => {}\n", t.name()));
                    }
                }
                out.write_all(text.as_bytes())
            }
            (".schema", None) => {
                let text: String = catalog::sorted(self.tables)
                    .iter()
                    .map(|t| catalog::schema_sql(t.as_ref()) + "\n")
                    .collect();
                out.write_all(text.as_bytes())
            }
            (".schema", Some(name)) => match catalog::find(self.tables, name) {
                Some(t) => writeln!(out, "{}", catalog::schema_sql(t.as_ref())),
                None => {
                    let names: Vec<&str> = self.tables.iter().map(|t| t.name()).collect();
                    self.fail(err, &crate::hints::unknown_table(name, &names));
                    Ok(())
                }
            },
            (".mode", None) => writeln!(out, "current output mode: {}", mode_name(self.format)),
            (".mode", Some(m)) => match parse_mode(m) {
                Some(f) => {
                    self.format = f;
                    Ok(())
                }
                None => {
                    self.fail(
                        err,
                        &format!("unknown mode {m}: use pretty, line, csv or json"),
                    );
                    Ok(())
                }
            },
            (".quit" | ".exit" | ".help", Some(_)) => {
                self.fail(err, &format!("{cmd} takes no argument"));
                Ok(())
            }
            _ => {
                self.fail(
                    err,
                    &format!("unknown command {cmd}: .help lists the commands"),
                );
                Ok(())
            }
        };
        if let Err(e) = written.and_then(|_| out.flush()) {
            self.fail(err, &format!("writing output: {e}"));
        }
        Step::Continue
    }
}

/// Runs the shell: interactive when stdin is a terminal, else reading
/// stdin to its end. Returns how many statements or commands read from a
/// pipe failed (its caller exits non-zero when any did); 0 on a terminal.
pub fn run(tables: &[Arc<dyn Table>], opts: &ShellOptions) -> Result<usize, ShellError> {
    use std::io::IsTerminal;
    if io::stdin().is_terminal() {
        interactive(tables, opts)
    } else {
        piped(
            tables,
            io::stdin().lock(),
            &mut io::stdout(),
            &mut io::stderr(),
        )
    }
}

/// Reads statements and dot-commands from `input` to its end (or `.quit`),
/// printing only results to `out` and errors to `err`.
pub fn piped(
    tables: &[Arc<dyn Table>],
    mut input: impl BufRead,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<usize, ShellError> {
    let mut session = Session::new(tables)?;
    let mut raw = Vec::new();
    loop {
        raw.clear();
        if input.read_until(b'\n', &mut raw)? == 0 {
            break;
        }
        let line = String::from_utf8_lossy(&raw);
        let line = line.trim_end_matches(['\n', '\r']);
        if session.line(line, out, err) == Step::Quit {
            return Ok(session.errors());
        }
    }
    session.finish(out, err);
    Ok(session.errors())
}

/// The history file to use, or `None` (no history, no error) when the state
/// directory lies inside an examined root other than `/`, or cannot be
/// created or written.
pub fn history_path(state_dir: &Path, root: &Path) -> Option<PathBuf> {
    let root = root.canonicalize().ok()?;
    if root != Path::new("/") {
        // The nearest existing ancestor tells where the directory would land.
        let mut probe = state_dir.to_path_buf();
        let resolved = loop {
            if let Ok(p) = probe.canonicalize() {
                break p;
            }
            if !probe.pop() {
                return None;
            }
        };
        if resolved.starts_with(&root) {
            return None;
        }
    }
    {
        use std::os::unix::fs::DirBuilderExt;
        let _ = std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(state_dir);
    }
    let path = state_dir.join(HISTORY_FILE);
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o600)
        .open(&path)
        .ok()?;
    Some(path)
}

/// The prompt: the examined root, control characters replaced so an odd
/// mount point cannot drive the terminal.
fn prompts(root: &Path) -> (String, String) {
    let root: String = root
        .to_string_lossy()
        .chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    let main = format!("squatch {root}> ");
    let more = format!("{:>w$}> ", "...", w = main.chars().count() - 2);
    (main, more)
}

/// Ctrl-C while a query runs: a thread turns SIGINT into SQLite's interrupt
/// (the terminal is in raw mode while a line is edited, so then Ctrl-C is a
/// key that rustyline reports instead).
struct InterruptOnSigint {
    handle: signal_hook::iterator::Handle,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl InterruptOnSigint {
    fn install(session: &Session<'_>) -> Result<Self, ShellError> {
        let mut signals = signal_hook::iterator::Signals::new([signal_hook::consts::SIGINT])
            .map_err(|e| ShellError::Terminal(format!("installing the Ctrl-C handler: {e}")))?;
        let handle = signals.handle();
        let interrupt = session.engine.connection().get_interrupt_handle();
        let cancelled = session.cancelled.clone();
        let thread = std::thread::spawn(move || {
            for _ in signals.forever() {
                cancelled.store(true, Ordering::SeqCst);
                interrupt.interrupt();
            }
        });
        Ok(InterruptOnSigint {
            handle,
            thread: Some(thread),
        })
    }
}

impl Drop for InterruptOnSigint {
    fn drop(&mut self) {
        self.handle.close();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn interactive(tables: &[Arc<dyn Table>], opts: &ShellOptions) -> Result<usize, ShellError> {
    use rustyline::error::ReadlineError;
    use rustyline::history::{FileHistory, History as _};

    let mut session = Session::new(tables)?;
    let config = rustyline::Config::builder()
        .auto_add_history(false)
        .max_history_size(2000)
        .map_err(|e| ShellError::Terminal(e.to_string()))?
        .history_ignore_dups(true)
        .map_err(|e| ShellError::Terminal(e.to_string()))?
        .build();
    let mut editor: rustyline::Editor<(), FileHistory> =
        rustyline::Editor::with_config(config).map_err(|e| ShellError::Terminal(e.to_string()))?;
    let history = history_path(&opts.state_dir, &opts.root);
    if let Some(path) = &history {
        // An empty or unreadable file is no history yet.
        let _ = editor.load_history(path);
    }
    let _sigint = InterruptOnSigint::install(&session)?;
    let (prompt, more) = prompts(&opts.root);
    let mut out = io::stdout();
    let mut err = io::stderr();
    let _ = writeln!(
        out,
        "squatch {}: SQL over this host's tables. Statements end with `;`; .help for help, .quit to leave.",
        env!("CARGO_PKG_VERSION")
    );
    let mut statement_lines: Vec<String> = Vec::new();
    loop {
        let p = if session.in_statement() {
            &more
        } else {
            &prompt
        };
        match editor.readline(p) {
            Ok(line) => {
                if !line.trim().is_empty() {
                    statement_lines.push(line.trim().to_string());
                }
                let step = session.line(&line, &mut out, &mut err);
                if !session.in_statement() && !statement_lines.is_empty() {
                    let _ = editor.history_mut().add(&statement_lines.join(" "));
                    statement_lines.clear();
                }
                if step == Step::Quit {
                    break;
                }
            }
            Err(ReadlineError::Interrupted) => {
                session.clear();
                statement_lines.clear();
            }
            Err(ReadlineError::Eof) => break,
            Err(e) => return Err(ShellError::Terminal(e.to_string())),
        }
    }
    if let Some(path) = &history {
        // Not writable any more: no history, no error.
        let _ = editor.save_history(path);
    }
    // As osqueryi and sqlite3: a typed statement that failed was already
    // answered; leaving the shell is a success.
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_piped(input: &str) -> (String, String, usize) {
        let tables: Vec<Arc<dyn Table>> = Vec::new();
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let n = piped(&tables, input.as_bytes(), &mut out, &mut err).unwrap();
        (
            String::from_utf8(out).unwrap(),
            String::from_utf8(err).unwrap(),
            n,
        )
    }

    #[test]
    fn multi_line_statements_and_modes() {
        let (out, err, n) = run_piped("SELECT 1\n  AS n\n;\n.mode csv\nSELECT 'a;b' AS s;\n");
        assert_eq!(n, 0, "{err}");
        assert!(out.contains("| n |\n") && out.contains("| 1 |\n"), "{out}");
        assert!(out.ends_with("s\na;b\n"), "{out}");
    }

    #[test]
    fn errors_go_on_and_are_counted() {
        let (out, err, n) = run_piped(";\n.bogus\n.mode nope\nSELECT 2 AS x;\n.quit\nSELECT 3;\n");
        assert_eq!(n, 3, "{err}");
        assert!(err.contains("Error: empty statement"), "{err}");
        assert!(err.contains("unknown command .bogus"), "{err}");
        assert!(err.contains("unknown mode nope"), "{err}");
        assert!(out.contains("| 2 |") && !out.contains("| 3 |"), "{out}");
    }

    #[test]
    fn last_statement_without_semicolon_runs_at_end_of_input() {
        let (out, _, n) = run_piped(".mode line\nSELECT 7 AS seven");
        assert_eq!((out.as_str(), n), ("seven = 7\n", 0));
    }

    #[test]
    fn prompt_shows_the_root() {
        let (main, more) = prompts(Path::new("/mnt/im\x1bage"));
        assert_eq!(main, "squatch /mnt/im?age> ");
        assert_eq!(more.chars().count(), main.chars().count());
        assert!(more.ends_with("...> "));
    }

    #[test]
    fn history_is_never_inside_the_examined_root() {
        let root = tempfile::tempdir().unwrap();
        let inside = root.path().join("var/lib/squatch");
        assert_eq!(history_path(&inside, root.path()), None);
        assert!(!inside.exists(), "nothing may be written inside --root");
        let state = tempfile::tempdir().unwrap();
        let dir = state.path().join("sub");
        let p = history_path(&dir, root.path()).unwrap();
        assert_eq!(p, dir.join(HISTORY_FILE));
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&dir).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
        assert_eq!(
            std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }

    #[test]
    fn unwritable_state_dir_means_no_history() {
        let root = tempfile::tempdir().unwrap();
        // A regular file where the directory should be: never writable, even
        // for root.
        let blocker = tempfile::NamedTempFile::new().unwrap();
        assert_eq!(
            history_path(&blocker.path().join("state"), root.path()),
            None
        );
    }
}
