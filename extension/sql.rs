//! Embedded SQL adapter: every [`Table`] as an SQLite virtual table.
//!
//! This is how `squatch query` and `squatch hunt` run the same tables that
//! osquery runs, on a host with no osquery. Constraints are pushed down the
//! same way osquery does it: `best_index` offers every usable constraint to
//! the table, `filter` turns them into a [`QueryContext`] (with `colsUsed`),
//! and a REQUIRED column without `=`/`IN` is a clear error rather than an
//! empty result. An `IN (...)` list reaches the table as one `filter` per
//! value, each a single EQUALS constraint.

use std::ffi::c_int;
use std::sync::Arc;

use rusqlite::types::{FromSql, FromSqlResult, ValueRef};
use rusqlite::vtab::{
    eponymous_only_module, Context, Filters, IndexConstraintOp, IndexInfo, VTab, VTabConnection,
    VTabCursor,
};
use rusqlite::Connection;

use crate::host::bytes_to_column;
use crate::table::{check_required, ColumnOptions, ColumnType, Operator, QueryContext, Row, Table};

/// An error from the embedded SQL engine.
#[derive(Debug, thiserror::Error)]
pub enum SqlError {
    /// SQLite refused the statement or a table failed while producing rows;
    /// the text is SQLite's (or the table's) own message.
    #[error("{0}")]
    Sqlite(String),
    /// Writing the result out failed (e.g. a closed pipe).
    #[error("writing output: {0}")]
    Output(std::io::Error),
    /// The SQL holds no statement (only blanks, `;` and comments).
    #[error("{}", crate::hints::EMPTY_STATEMENT)]
    Empty,
}

impl From<rusqlite::Error> for SqlError {
    fn from(e: rusqlite::Error) -> Self {
        SqlError::Sqlite(match e {
            rusqlite::Error::SqlInputError { msg, offset, .. } => {
                format!("{msg} (at offset {offset})")
            }
            rusqlite::Error::SqliteFailure(_, Some(msg)) => msg,
            rusqlite::Error::ModuleError(msg) => msg,
            other => other.to_string(),
        })
    }
}

/// The result of one statement: column names and rows of values.
#[derive(Debug, Clone, Default)]
pub struct QueryResult {
    /// Column names, in order.
    pub columns: Vec<String>,
    /// Rows; each value is `None` for SQL NULL, else its text form (integers
    /// in decimal, as osquery returns them).
    pub rows: Vec<Vec<Option<String>>>,
}

/// An in-memory SQLite database with every given table registered as an
/// eponymous virtual table (usable by name, no `CREATE VIRTUAL TABLE`).
pub struct Engine {
    conn: Connection,
    /// The registered tables' names, for error hints.
    names: Vec<&'static str>,
}

impl Engine {
    /// Opens an in-memory database and registers `tables`.
    pub fn new(tables: &[Arc<dyn Table>]) -> Result<Self, SqlError> {
        let conn = Connection::open_in_memory()?;
        for table in tables {
            conn.create_module(
                table.name(),
                eponymous_only_module::<SquatchVTab>(),
                Some(table.clone()),
            )?;
        }
        let names = tables.iter().map(|t| t.name()).collect();
        Ok(Engine { conn, names })
    }

    /// The underlying connection (for callers that need rusqlite directly).
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    /// Runs one or more `;`-separated statements and returns the result of
    /// each statement that produces columns.
    pub fn query(&self, sql: &str) -> Result<Vec<QueryResult>, SqlError> {
        let mut collect = Collect::default();
        self.run(sql, &mut collect)?;
        Ok(collect.results)
    }

    /// Runs one or more `;`-separated statements, handing each result's
    /// columns and then its rows, one at a time, to `sink`, so that a large
    /// result can be written out without being held in memory whole.
    pub fn run(&self, sql: &str, sink: &mut dyn ResultSink) -> Result<(), SqlError> {
        if crate::hints::is_blank(sql) {
            return Err(SqlError::Empty);
        }
        let mut rest = sql;
        while !rest.trim().is_empty() {
            let (stmt_sql, tail) = split_first_statement(rest);
            rest = tail;
            if stmt_sql.trim().is_empty() {
                continue;
            }
            let mut stmt = self.conn.prepare(stmt_sql).map_err(|e| self.explain(e))?;
            let columns: Vec<String> = stmt.column_names().iter().map(|c| c.to_string()).collect();
            let n = columns.len();
            if n > 0 {
                sink.begin(&columns)?;
            }
            let mut it = stmt.query([])?;
            while let Some(row) = it.next()? {
                let mut out = Vec::with_capacity(n);
                for i in 0..n {
                    out.push(value_text(row.get_ref(i)?));
                }
                sink.row(out)?;
            }
            if n > 0 {
                sink.end()?;
            }
        }
        Ok(())
    }
}

impl Engine {
    /// SQLite's error, with a hint when it names an unknown table.
    fn explain(&self, e: rusqlite::Error) -> SqlError {
        match SqlError::from(e) {
            SqlError::Sqlite(msg) => SqlError::Sqlite(
                crate::hints::explain_sqlite_message(&msg, &self.names).unwrap_or(msg),
            ),
            other => other,
        }
    }
}

/// Receives query results as they are produced (see [`Engine::run`]).
pub trait ResultSink {
    /// A statement's result starts, with these column names.
    fn begin(&mut self, columns: &[String]) -> std::io::Result<()>;
    /// One row of the current result.
    fn row(&mut self, row: Vec<Option<String>>) -> std::io::Result<()>;
    /// The current result is complete.
    fn end(&mut self) -> std::io::Result<()>;
}

impl From<std::io::Error> for SqlError {
    fn from(e: std::io::Error) -> Self {
        SqlError::Output(e)
    }
}

/// A sink that keeps every result in memory.
#[derive(Default)]
struct Collect {
    results: Vec<QueryResult>,
}

impl ResultSink for Collect {
    fn begin(&mut self, columns: &[String]) -> std::io::Result<()> {
        self.results.push(QueryResult {
            columns: columns.to_vec(),
            rows: Vec::new(),
        });
        Ok(())
    }
    fn row(&mut self, row: Vec<Option<String>>) -> std::io::Result<()> {
        if let Some(r) = self.results.last_mut() {
            r.rows.push(row);
        }
        Ok(())
    }
    fn end(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Splits off the first complete SQL statement (SQLite decides where it ends,
/// so `;` inside strings is handled).
fn split_first_statement(sql: &str) -> (&str, &str) {
    // sqlite3_complete tells whether a prefix is a whole statement; walk the
    // semicolons until one closes a complete statement.
    for (i, ch) in sql.char_indices() {
        if ch == ';' {
            let candidate = &sql[..=i];
            if is_complete(candidate) {
                return (&sql[..i], &sql[i + 1..]);
            }
        }
    }
    (sql, "")
}

/// True when `sql` ends a complete statement (SQLite's `sqlite3_complete`:
/// a `;` outside strings, comments and triggers); the shell uses it to know
/// when a multi-line statement is done.
pub fn is_complete(sql: &str) -> bool {
    let Ok(c) = std::ffi::CString::new(sql) else {
        return false;
    };
    // SAFETY: `c` is a valid NUL-terminated string that outlives the call;
    // sqlite3_complete only reads it.
    unsafe { rusqlite::ffi::sqlite3_complete(c.as_ptr()) != 0 }
}

/// The text form of a value SQLite hands over: integers in decimal, NULL as
/// `None`, text and blobs as [`bytes_to_column`] writes them (UTF-8 as is,
/// any other byte as `\xNN`), so nothing SQLite holds can make a read fail.
fn value_text(v: ValueRef<'_>) -> Option<String> {
    match v {
        ValueRef::Null => None,
        ValueRef::Integer(v) => Some(v.to_string()),
        ValueRef::Real(v) => Some(v.to_string()),
        ValueRef::Text(b) => Some(match std::str::from_utf8(b) {
            Ok(s) => s.to_string(),
            Err(_) => bytes_to_column(b),
        }),
        ValueRef::Blob(b) => Some(match std::str::from_utf8(b) {
            Ok(s) => s.to_string(),
            Err(_) => bytes_to_column(b),
        }),
    }
}

/// A filter argument read without any conversion that can fail.
struct RawValue(Option<String>);

impl FromSql for RawValue {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        Ok(RawValue(value_text(value)))
    }
}

/// Runs a virtual-table callback so that a panic in it (a table's bug)
/// becomes an SQL error instead of unwinding into SQLite, which would abort
/// the process.
fn guard<T>(what: &str, f: impl FnOnce() -> rusqlite::Result<T>) -> rusqlite::Result<T> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(p) => {
            let msg = p
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| p.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            log::error!("{what}: internal error: {msg}");
            Err(rusqlite::Error::ModuleError(format!(
                "{what}: internal error: {msg}"
            )))
        }
    }
}

/// The virtual table: SQLite's base struct first, then the squatch table.
#[repr(C)]
struct SquatchVTab {
    base: rusqlite::vtab::sqlite3_vtab,
    table: Arc<dyn Table>,
}

fn op_from_sqlite(op: IndexConstraintOp) -> Option<Operator> {
    Some(match op {
        IndexConstraintOp::SQLITE_INDEX_CONSTRAINT_EQ
        | IndexConstraintOp::SQLITE_INDEX_CONSTRAINT_IS => Operator::Equals,
        IndexConstraintOp::SQLITE_INDEX_CONSTRAINT_GT => Operator::GreaterThan,
        IndexConstraintOp::SQLITE_INDEX_CONSTRAINT_LE => Operator::LessThanOrEquals,
        IndexConstraintOp::SQLITE_INDEX_CONSTRAINT_LT => Operator::LessThan,
        IndexConstraintOp::SQLITE_INDEX_CONSTRAINT_GE => Operator::GreaterThanOrEquals,
        IndexConstraintOp::SQLITE_INDEX_CONSTRAINT_MATCH => Operator::Match,
        IndexConstraintOp::SQLITE_INDEX_CONSTRAINT_LIKE => Operator::Like,
        IndexConstraintOp::SQLITE_INDEX_CONSTRAINT_GLOB => Operator::Glob,
        IndexConstraintOp::SQLITE_INDEX_CONSTRAINT_REGEXP => Operator::Regexp,
        _ => return None,
    })
}

// SAFETY: SquatchVTab is #[repr(C)] with sqlite3_vtab as its first field, as
// rusqlite's VTab contract requires.
unsafe impl<'vtab> VTab<'vtab> for SquatchVTab {
    type Aux = Arc<dyn Table>;
    type Cursor = SquatchCursor;

    fn connect(
        _db: &mut VTabConnection,
        aux: Option<&Self::Aux>,
        _args: &[&[u8]],
    ) -> rusqlite::Result<(String, Self)> {
        guard("connect", || {
            let table = aux
                .cloned()
                .ok_or_else(|| rusqlite::Error::ModuleError("squatch table without data".into()))?;
            let cols: Vec<String> = table
                .columns()
                .iter()
                .map(|c| {
                    let hidden = if c.options.contains(ColumnOptions::HIDDEN) {
                        " HIDDEN"
                    } else {
                        ""
                    };
                    format!("\"{}\" {}{}", c.name, c.kind.sql_name(), hidden)
                })
                .collect();
            let schema = format!("CREATE TABLE x({})", cols.join(", "));
            Ok((
                schema,
                SquatchVTab {
                    base: rusqlite::vtab::sqlite3_vtab::default(),
                    table,
                },
            ))
        })
    }

    fn best_index(&self, info: &mut IndexInfo) -> rusqlite::Result<()> {
        guard("best_index", || {
            let columns = self.table.columns();
            let mut used: Vec<(usize, Operator)> = Vec::new();
            let mut eq_cols = Vec::new();
            let mut plan: Vec<(usize, usize, Operator)> = Vec::new();
            for (i, c) in info.constraints().enumerate() {
                if !c.is_usable() {
                    continue;
                }
                let Ok(col) = usize::try_from(c.column()) else {
                    continue; // rowid
                };
                if col >= columns.len() {
                    continue;
                }
                if let Some(op) = op_from_sqlite(c.operator()) {
                    plan.push((i, col, op));
                }
            }
            for (argv, (i, col, op)) in plan.iter().enumerate() {
                let mut usage = info.constraint_usage(*i);
                usage.set_argv_index(argv as c_int + 1);
                used.push((*col, *op));
                if *op == Operator::Equals {
                    eq_cols.push(*col);
                }
            }
            // Cost: a REQUIRED column without `=` is a plan SQLite must avoid; an
            // indexed/additional column with `=` makes the scan much cheaper.
            let mut cost = 1_000_000.0;
            for (i, c) in columns.iter().enumerate() {
                let has_eq = eq_cols.contains(&i);
                if c.options.contains(ColumnOptions::REQUIRED) && !has_eq {
                    cost *= 1e6;
                }
                if has_eq
                    && (c.options.contains(ColumnOptions::INDEX)
                        || c.options.contains(ColumnOptions::ADDITIONAL)
                        || c.options.contains(ColumnOptions::REQUIRED))
                {
                    cost /= 1000.0;
                }
            }
            info.set_estimated_cost(cost);
            let idx: Vec<String> = used
                .iter()
                .map(|(col, op)| format!("{col}:{}", op.code()))
                .collect();
            info.set_idx_str(&format!("{}|{}", info.col_used(), idx.join(",")));
            Ok(())
        })
    }

    fn open(&'vtab mut self) -> rusqlite::Result<SquatchCursor> {
        Ok(SquatchCursor {
            base: rusqlite::vtab::sqlite3_vtab_cursor::default(),
            table: self.table.clone(),
            rows: Vec::new(),
            pos: 0,
        })
    }
}

/// A cursor over the rows one `filter` call produced.
#[repr(C)]
struct SquatchCursor {
    base: rusqlite::vtab::sqlite3_vtab_cursor,
    table: Arc<dyn Table>,
    rows: Vec<Row>,
    pos: usize,
}

impl SquatchCursor {
    fn context(&self, idx_str: Option<&str>, args: &Filters<'_>) -> rusqlite::Result<QueryContext> {
        let columns = self.table.columns();
        let mut ctx = QueryContext::all();
        let idx_str = idx_str.unwrap_or("");
        let (mask, plan) = idx_str.split_once('|').unwrap_or(("", ""));
        if let Ok(mask) = mask.parse::<u64>() {
            // Bit 63 stands for "column 63 or later".
            let used = columns
                .iter()
                .enumerate()
                .filter(|(i, _)| {
                    let bit = (*i).min(63);
                    mask & (1u64 << bit) != 0
                })
                .map(|(_, c)| c.name.to_string())
                .collect();
            ctx.set_cols_used(Some(used));
        }
        for (argv, item) in plan.split(',').filter(|s| !s.is_empty()).enumerate() {
            let (col, op) = item.split_once(':').unwrap_or(("", ""));
            let (Ok(col), Some(op)) = (
                col.parse::<usize>(),
                op.parse::<i64>().ok().and_then(Operator::from_code),
            ) else {
                continue;
            };
            let Some(column) = columns.get(col) else {
                continue;
            };
            if argv >= args.len() {
                break;
            }
            // Read as raw bytes: rusqlite's `String` conversion panics on
            // text that is not UTF-8, and a panic here would abort.
            let RawValue(text) = args.get(argv)?;
            let Some(text) = text else {
                continue; // `col = NULL` matches nothing anyway
            };
            ctx.add(column.name, op, text);
        }
        Ok(ctx)
    }
}

// SAFETY: SquatchCursor is #[repr(C)] with sqlite3_vtab_cursor first.
unsafe impl VTabCursor for SquatchCursor {
    fn filter(
        &mut self,
        _idx_num: c_int,
        idx_str: Option<&str>,
        args: &Filters<'_>,
    ) -> rusqlite::Result<()> {
        guard("filter", || {
            let ctx = self.context(idx_str, args)?;
            check_required(self.table.as_ref(), &ctx).map_err(|e| {
                rusqlite::Error::ModuleError(crate::hints::missing_required(
                    self.table.as_ref(),
                    &e,
                ))
            })?;
            // The previous statement's rows are gone: give their pages back
            // before this one allocates (peak RSS of a long script).
            self.rows = Vec::new();
            crate::cache::trim_heap();
            self.rows = self
                .table
                .generate(&ctx)
                .map_err(|e| rusqlite::Error::ModuleError(format!("{}: {e}", self.table.name())))?;
            self.pos = 0;
            Ok(())
        })
    }

    fn next(&mut self) -> rusqlite::Result<()> {
        // SQLite never revisits a row, so free it now: with the engine's own
        // copy of the result, keeping both would double the peak memory of a
        // `SELECT *` over a large host.
        if let Some(row) = self.rows.get_mut(self.pos) {
            *row = Row::default();
        }
        self.pos += 1;
        Ok(())
    }

    fn eof(&self) -> bool {
        self.pos >= self.rows.len()
    }

    fn column(&self, ctx: &mut Context, i: c_int) -> rusqlite::Result<()> {
        guard("column", || {
            let columns = self.table.columns();
            let (Some(row), Some(col)) = (
                self.rows.get(self.pos),
                usize::try_from(i).ok().and_then(|i| columns.get(i)),
            ) else {
                return ctx.set_result(&rusqlite::types::Null);
            };
            match row.get(col.name) {
                None => ctx.set_result(&rusqlite::types::Null),
                Some(v) => match col.kind {
                    ColumnType::Integer | ColumnType::BigInt => match v.parse::<i64>() {
                        Ok(n) => ctx.set_result(&n),
                        Err(_) if v.is_empty() => ctx.set_result(&rusqlite::types::Null),
                        Err(_) => ctx.set_result(&v),
                    },
                    ColumnType::Double => match v.parse::<f64>() {
                        Ok(n) => ctx.set_result(&n),
                        Err(_) if v.is_empty() => ctx.set_result(&rusqlite::types::Null),
                        Err(_) => ctx.set_result(&v),
                    },
                    ColumnType::Text => ctx.set_result(&v),
                },
            }
        })
    }

    fn rowid(&self) -> rusqlite::Result<i64> {
        Ok(self.pos as i64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::{Column, Stage, TableError};
    use std::sync::Mutex;

    /// A table that records the contexts it was called with.
    struct Probe {
        seen: Mutex<Vec<QueryContext>>,
    }

    const PROBE_COLUMNS: &[Column] = &[
        Column::text("path", "a path").index(),
        Column::integer("size", "a size"),
        Column::text("digest", "expensive"),
        Column::text("secret_col", "hidden").hidden(),
    ];

    impl Table for Probe {
        fn name(&self) -> &'static str {
            "probe"
        }
        fn description(&self) -> &'static str {
            "test table"
        }
        fn stage(&self) -> Stage {
            Stage::Evaluation
        }
        fn columns(&self) -> &'static [Column] {
            PROBE_COLUMNS
        }
        fn generate(&self, ctx: &QueryContext) -> Result<Vec<Row>, TableError> {
            self.seen.lock().unwrap().push(ctx.clone());
            let paths = ctx
                .equals("path")
                .unwrap_or_else(|| vec!["/a".into(), "/b".into()]);
            Ok(paths
                .into_iter()
                .enumerate()
                .map(|(i, p)| {
                    let mut r = Row::new();
                    r.set("path", p).int("size", i as i64 * 10);
                    if ctx.is_used("digest") {
                        r.set("digest", "abc");
                    }
                    r
                })
                .collect())
        }
    }

    struct NeedsTarget;
    const NEEDS_COLUMNS: &[Column] = &[
        Column::text("target", "required").required(),
        Column::text("variant", "out"),
    ];
    impl Table for NeedsTarget {
        fn name(&self) -> &'static str {
            "needs_target"
        }
        fn description(&self) -> &'static str {
            "test"
        }
        fn stage(&self) -> Stage {
            Stage::Reconnaissance
        }
        fn columns(&self) -> &'static [Column] {
            NEEDS_COLUMNS
        }
        fn generate(&self, ctx: &QueryContext) -> Result<Vec<Row>, TableError> {
            Ok(ctx
                .equals("target")
                .unwrap_or_default()
                .into_iter()
                .map(|t| {
                    let mut r = Row::new();
                    r.set("target", t.clone()).set("variant", format!("{t}x"));
                    r
                })
                .collect())
        }
    }

    fn engine() -> (Arc<Probe>, Engine) {
        let probe = Arc::new(Probe {
            seen: Mutex::new(Vec::new()),
        });
        let tables: Vec<Arc<dyn Table>> = vec![probe.clone(), Arc::new(NeedsTarget)];
        (probe, Engine::new(&tables).unwrap())
    }

    #[test]
    fn equality_is_pushed_down_and_cols_used_is_passed() {
        let (probe, engine) = engine();
        let r = engine
            .query("SELECT path, size FROM probe WHERE path = '/x'")
            .unwrap();
        assert_eq!(r[0].rows, vec![vec![Some("/x".into()), Some("0".into())]]);
        let seen = probe.seen.lock().unwrap();
        assert_eq!(seen[0].equals("path").unwrap(), vec!["/x"]);
        assert!(!seen[0].is_used("digest"));
    }

    #[test]
    fn in_list_reaches_the_table_as_equals() {
        let (probe, engine) = engine();
        let r = engine
            .query("SELECT path FROM probe WHERE path IN ('/x', '/y') ORDER BY path")
            .unwrap();
        assert_eq!(r[0].rows.len(), 2);
        let seen = probe.seen.lock().unwrap();
        let all: Vec<String> = seen
            .iter()
            .flat_map(|c| c.equals("path").unwrap())
            .collect();
        assert!(all.contains(&"/x".to_string()) && all.contains(&"/y".to_string()));
    }

    #[test]
    fn hidden_columns_are_not_in_select_star() {
        let (_, engine) = engine();
        let r = engine.query("SELECT * FROM probe").unwrap();
        assert_eq!(r[0].columns, vec!["path", "size", "digest"]);
    }

    #[test]
    fn other_operators_are_passed_and_sqlite_still_filters() {
        let (probe, engine) = engine();
        let r = engine
            .query("SELECT path FROM probe WHERE size > 5")
            .unwrap();
        assert_eq!(r[0].rows, vec![vec![Some("/b".into())]]);
        let seen = probe.seen.lock().unwrap();
        assert_eq!(seen[0].constraints("size")[0].op, Operator::GreaterThan);
    }

    #[test]
    fn required_column_missing_is_a_clear_error() {
        let (_, engine) = engine();
        let err = engine.query("SELECT * FROM needs_target").unwrap_err();
        assert!(
            err.to_string()
                .contains("requires a constraint on column target"),
            "{err}"
        );
        let ok = engine
            .query("SELECT variant FROM needs_target WHERE target = 'torch'")
            .unwrap();
        assert_eq!(ok[0].rows, vec![vec![Some("torchx".into())]]);
    }

    #[test]
    fn required_column_satisfied_through_a_join() {
        let (_, engine) = engine();
        let r = engine
            .query("SELECT n.target, n.variant FROM probe p JOIN needs_target n ON n.target = p.path ORDER BY 1")
            .unwrap();
        assert_eq!(r[0].rows.len(), 2);
    }

    #[test]
    fn several_statements_and_sql_errors() {
        let (_, engine) = engine();
        let r = engine.query("SELECT 1; SELECT ';' AS s;").unwrap();
        assert_eq!(r.len(), 2);
        assert_eq!(r[1].rows[0][0].as_deref(), Some(";"));
        assert!(engine.query("SELEC nonsense").is_err());
        assert!(engine.query("SELECT * FROM no_such_table").is_err());
    }

    struct Panics;
    impl Table for Panics {
        fn name(&self) -> &'static str {
            "panics"
        }
        fn description(&self) -> &'static str {
            "test"
        }
        fn stage(&self) -> Stage {
            Stage::Reconnaissance
        }
        fn columns(&self) -> &'static [Column] {
            PROBE_COLUMNS
        }
        fn generate(&self, _: &QueryContext) -> Result<Vec<Row>, TableError> {
            panic!("a table bug")
        }
    }

    #[test]
    fn a_panicking_table_is_an_sql_error_not_an_abort() {
        let engine = Engine::new(&[Arc::new(Panics) as Arc<dyn Table>]).unwrap();
        let err = engine.query("SELECT * FROM panics").unwrap_err();
        assert!(err.to_string().contains("a table bug"), "{err}");
        // The engine is still usable.
        assert_eq!(engine.query("SELECT 1").unwrap()[0].rows.len(), 1);
    }

    #[test]
    fn text_that_is_not_utf8_is_read_with_escapes() {
        let (probe, engine) = engine();
        let r = engine.query("SELECT CAST(X'61FF5C' AS TEXT)").unwrap();
        assert_eq!(r[0].rows[0][0].as_deref(), Some("a\\xff\\\\"));
        let _ = engine
            .query("SELECT * FROM probe WHERE path = CAST(X'2F78FF' AS TEXT)")
            .unwrap();
        let seen = probe.seen.lock().unwrap();
        assert_eq!(seen[0].equals("path").unwrap(), vec!["/x\\xff"]);
    }
}
