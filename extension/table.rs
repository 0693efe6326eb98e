//! The table contract shared by every squatch table and both adapters.
//!
//! A [`Table`] declares its columns and turns a [`QueryContext`] (the
//! constraints of a query and the columns it uses) into rows. It knows nothing
//! of osquery or SQLite: `osquery.rs` and `sql.rs` adapt every table to each.
//!
//! The context is parsed from osquery's own JSON (the `context` field of a
//! `generate` request) so that the embedded SQL adapter and osquery hand tables
//! exactly the same thing.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

/// The SQL type of a column, as osquery names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    /// Text.
    Text,
    /// 32-bit integer (osquery `INTEGER`).
    Integer,
    /// 64-bit integer (osquery `BIGINT`).
    BigInt,
    /// Floating point (osquery `DOUBLE`).
    Double,
}

impl ColumnType {
    /// The type's name in osquery's and SQLite's schema text.
    pub fn sql_name(self) -> &'static str {
        match self {
            ColumnType::Text => "TEXT",
            ColumnType::Integer => "INTEGER",
            ColumnType::BigInt => "BIGINT",
            ColumnType::Double => "DOUBLE",
        }
    }
}

/// Column options, with osquery's bit values (`ColumnOptions` in osquery's
/// `tables.h`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ColumnOptions(pub u32);

impl ColumnOptions {
    /// No option.
    pub const DEFAULT: ColumnOptions = ColumnOptions(0);
    /// The column is an index: constraining it narrows the scan.
    pub const INDEX: ColumnOptions = ColumnOptions(1);
    /// A query must constrain this column with `=` or `IN`.
    pub const REQUIRED: ColumnOptions = ColumnOptions(2);
    /// Constraining the column narrows the scan (osquery's `ADDITIONAL`).
    pub const ADDITIONAL: ColumnOptions = ColumnOptions(4);
    /// Not shown by `SELECT *`.
    pub const HIDDEN: ColumnOptions = ColumnOptions(16);

    /// True when every bit of `other` is set.
    pub fn contains(self, other: ColumnOptions) -> bool {
        self.0 & other.0 == other.0 && other.0 != 0
    }
}

impl std::ops::BitOr for ColumnOptions {
    type Output = ColumnOptions;
    fn bitor(self, rhs: Self) -> Self {
        ColumnOptions(self.0 | rhs.0)
    }
}

/// One column of a table's schema.
#[derive(Debug, Clone, Copy)]
pub struct Column {
    /// Column name.
    pub name: &'static str,
    /// SQL type.
    pub kind: ColumnType,
    /// Index/required/hidden flags.
    pub options: ColumnOptions,
    /// One line saying what the column holds, for `squatch tables` and docs.
    pub description: &'static str,
}

impl Column {
    /// A text column.
    pub const fn text(name: &'static str, description: &'static str) -> Column {
        Column {
            name,
            kind: ColumnType::Text,
            options: ColumnOptions::DEFAULT,
            description,
        }
    }

    /// A 32-bit integer column (also used for booleans, 1/0).
    pub const fn integer(name: &'static str, description: &'static str) -> Column {
        Column {
            name,
            kind: ColumnType::Integer,
            options: ColumnOptions::DEFAULT,
            description,
        }
    }

    /// A 64-bit integer column (sizes, times).
    pub const fn bigint(name: &'static str, description: &'static str) -> Column {
        Column {
            name,
            kind: ColumnType::BigInt,
            options: ColumnOptions::DEFAULT,
            description,
        }
    }

    /// A floating point column.
    pub const fn double(name: &'static str, description: &'static str) -> Column {
        Column {
            name,
            kind: ColumnType::Double,
            options: ColumnOptions::DEFAULT,
            description,
        }
    }

    /// The same column marked as an index (constraining it narrows the scan).
    pub const fn index(mut self) -> Column {
        self.options = ColumnOptions(self.options.0 | ColumnOptions::INDEX.0);
        self
    }

    /// The same column marked as required (`WHERE col = ...` is mandatory).
    pub const fn required(mut self) -> Column {
        self.options = ColumnOptions(self.options.0 | ColumnOptions::REQUIRED.0);
        self
    }

    /// The same column marked as additional (constraining narrows the scan).
    pub const fn additional(mut self) -> Column {
        self.options = ColumnOptions(self.options.0 | ColumnOptions::ADDITIONAL.0);
        self
    }

    /// The same column hidden from `SELECT *`.
    pub const fn hidden(mut self) -> Column {
        self.options = ColumnOptions(self.options.0 | ColumnOptions::HIDDEN.0);
        self
    }
}

/// A constraint operator, with osquery's numeric codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operator {
    /// `UNIQUE` (1).
    Unique,
    /// `=` (2); an `IN (...)` list arrives as one of these per value.
    Equals,
    /// `>` (4).
    GreaterThan,
    /// `<=` (8).
    LessThanOrEquals,
    /// `<` (16).
    LessThan,
    /// `>=` (32).
    GreaterThanOrEquals,
    /// `MATCH` (64).
    Match,
    /// `LIKE` (65).
    Like,
    /// `GLOB` (66).
    Glob,
    /// `REGEXP` (67).
    Regexp,
}

impl Operator {
    /// Maps osquery's numeric operator code.
    pub fn from_code(code: i64) -> Option<Operator> {
        Some(match code {
            1 => Operator::Unique,
            2 => Operator::Equals,
            4 => Operator::GreaterThan,
            8 => Operator::LessThanOrEquals,
            16 => Operator::LessThan,
            32 => Operator::GreaterThanOrEquals,
            64 => Operator::Match,
            65 => Operator::Like,
            66 => Operator::Glob,
            67 => Operator::Regexp,
            _ => return None,
        })
    }

    /// osquery's numeric code for the operator.
    pub fn code(self) -> i64 {
        match self {
            Operator::Unique => 1,
            Operator::Equals => 2,
            Operator::GreaterThan => 4,
            Operator::LessThanOrEquals => 8,
            Operator::LessThan => 16,
            Operator::GreaterThanOrEquals => 32,
            Operator::Match => 64,
            Operator::Like => 65,
            Operator::Glob => 66,
            Operator::Regexp => 67,
        }
    }
}

/// One constraint on one column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Constraint {
    /// The operator.
    pub op: Operator,
    /// The right-hand side, as text.
    pub expr: String,
}

/// What a query asks of a table: constraints per column and which columns it
/// reads. Tables use it to scan only what was asked and to skip expensive
/// columns nobody selected.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueryContext {
    constraints: BTreeMap<String, Vec<Constraint>>,
    /// `None` means "all columns" (osquery before 4.x sends no `colsUsed`).
    cols_used: Option<BTreeSet<String>>,
}

/// An error in a query context that osquery or SQLite handed over.
#[derive(Debug, thiserror::Error)]
pub enum ContextError {
    /// The context is not JSON of the expected shape.
    #[error("invalid query context: {0}")]
    Invalid(String),
}

impl QueryContext {
    /// A context with no constraints that uses every column.
    pub fn all() -> Self {
        QueryContext::default()
    }

    /// Adds a constraint (builder style, for tests and the SQL adapter).
    pub fn with(mut self, column: &str, op: Operator, expr: impl Into<String>) -> Self {
        self.add(column, op, expr);
        self
    }

    /// Adds a constraint.
    pub fn add(&mut self, column: &str, op: Operator, expr: impl Into<String>) {
        self.constraints
            .entry(column.to_string())
            .or_default()
            .push(Constraint {
                op,
                expr: expr.into(),
            });
    }

    /// Restricts the used columns (builder style).
    pub fn using(mut self, columns: &[&str]) -> Self {
        self.cols_used = Some(columns.iter().map(|c| c.to_string()).collect());
        self
    }

    /// Sets the used columns; `None` means all.
    pub fn set_cols_used(&mut self, cols: Option<BTreeSet<String>>) {
        self.cols_used = cols;
    }

    /// Parses osquery's context JSON:
    /// `{"constraints":[{"name":..,"list":[{"op":2,"expr":".."}],"affinity":".."}],"colsUsed":[..]}`.
    /// Also accepts the pre-3.0 form in which `list` is a JSON *string* holding
    /// the array, and `op`/`expr` given as strings. An empty string gives an
    /// empty context.
    pub fn from_osquery_json(text: &str) -> Result<Self, ContextError> {
        let mut ctx = QueryContext::default();
        if text.trim().is_empty() {
            return Ok(ctx);
        }
        let v: Value =
            serde_json::from_str(text).map_err(|e| ContextError::Invalid(e.to_string()))?;
        if let Some(list) = v.get("constraints").and_then(Value::as_array) {
            for c in list {
                let name = c
                    .get("name")
                    .and_then(Value::as_str)
                    .ok_or_else(|| ContextError::Invalid("constraint without a name".into()))?;
                let items: Vec<Value> = match c.get("list") {
                    Some(Value::Array(a)) => a.clone(),
                    Some(Value::String(s)) if s.is_empty() => Vec::new(),
                    Some(Value::String(s)) => serde_json::from_str(s)
                        .map_err(|e| ContextError::Invalid(format!("constraint list: {e}")))?,
                    Some(Value::Null) | None => Vec::new(),
                    Some(other) => {
                        return Err(ContextError::Invalid(format!(
                            "constraint list of unexpected type: {other}"
                        )))
                    }
                };
                for item in items {
                    let op = match item.get("op") {
                        Some(Value::Number(n)) => n.as_i64(),
                        Some(Value::String(s)) => s.parse().ok(),
                        _ => None,
                    }
                    .and_then(Operator::from_code);
                    let Some(op) = op else {
                        log::debug!("ignoring constraint with unknown op on {name}: {item}");
                        continue;
                    };
                    let expr = match item.get("expr") {
                        Some(Value::String(s)) => s.clone(),
                        Some(Value::Null) | None => String::new(),
                        Some(other) => other.to_string(),
                    };
                    ctx.add(name, op, expr);
                }
            }
        }
        if let Some(cols) = v.get("colsUsed").and_then(Value::as_array) {
            ctx.cols_used = Some(
                cols.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect(),
            );
        }
        Ok(ctx)
    }

    /// Serialises to osquery's context JSON (used by tests and the fake
    /// extension manager).
    pub fn to_osquery_json(&self) -> String {
        let constraints: Vec<Value> = self
            .constraints
            .iter()
            .map(|(name, list)| {
                serde_json::json!({
                    "name": name,
                    "list": list.iter().map(|c| serde_json::json!({"op": c.op.code(), "expr": c.expr})).collect::<Vec<_>>(),
                    "affinity": "TEXT",
                })
            })
            .collect();
        let mut v = serde_json::json!({ "constraints": constraints });
        if let Some(cols) = &self.cols_used {
            v["colsUsed"] = serde_json::json!(cols);
        }
        v.to_string()
    }

    /// Every constraint on `column`.
    pub fn constraints(&self, column: &str) -> &[Constraint] {
        self.constraints
            .get(column)
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    /// The distinct values of `column = ...` / `column IN (...)`, in the order
    /// given, or `None` when the column has no equality constraint (meaning
    /// "everything").
    pub fn equals(&self, column: &str) -> Option<Vec<String>> {
        let mut seen = BTreeSet::new();
        let vals: Vec<String> = self
            .constraints(column)
            .iter()
            .filter(|c| c.op == Operator::Equals)
            .filter(|c| seen.insert(c.expr.clone()))
            .map(|c| c.expr.clone())
            .collect();
        if vals.is_empty() {
            None
        } else {
            Some(vals)
        }
    }

    /// True when the query reads `column` (always true without `colsUsed`).
    pub fn is_used(&self, column: &str) -> bool {
        match &self.cols_used {
            None => true,
            Some(cols) => cols.contains(column),
        }
    }

    /// True when the query reads any of `columns`.
    pub fn any_used(&self, columns: &[&str]) -> bool {
        columns.iter().any(|c| self.is_used(c))
    }
}

/// One output row: column name to value, every value as text, as osquery
/// returns them (integers as decimal, booleans as `1`/`0`). A column that is
/// absent from the row reads as NULL in SQL and as `""` in osquery.
///
/// Compact on purpose: a table such as `python_package_provenance` holds
/// tens of thousands of rows of ~40 columns at once, so a row keeps all of
/// its values in one text buffer, with one `(column, end offset)` cell per
/// set column, rather than a map node and a `String` per value (a third of
/// the memory). Rows are small, so a lookup is a short linear scan.
#[derive(Clone, Default)]
pub struct Row {
    /// Every value, back to back, in the order the columns were set.
    text: String,
    /// The columns set, each with the end of its value in `text` (its start
    /// is the previous cell's end).
    cells: Vec<(&'static str, usize)>,
}

impl Row {
    /// An empty row.
    pub fn new() -> Self {
        Row::default()
    }

    /// Sets a text value (replacing an earlier value of the same column).
    pub fn set(&mut self, column: &'static str, value: impl Into<String>) -> &mut Self {
        self.put(column, &value.into());
        self
    }

    /// Sets an integer value.
    pub fn int(&mut self, column: &'static str, value: i64) -> &mut Self {
        self.put(column, &value.to_string());
        self
    }

    /// Sets a boolean value as `1`/`0`.
    pub fn bool(&mut self, column: &'static str, value: bool) -> &mut Self {
        self.put(column, if value { "1" } else { "0" });
        self
    }

    /// Sets a floating point value.
    pub fn double(&mut self, column: &'static str, value: f64) -> &mut Self {
        self.put(column, &format!("{value}"));
        self
    }

    /// Sets a value when there is one; leaves the column NULL otherwise.
    pub fn opt(&mut self, column: &'static str, value: Option<impl Into<String>>) -> &mut Self {
        if let Some(v) = value {
            self.put(column, &v.into());
        }
        self
    }

    /// The value of a column, if set.
    pub fn get(&self, column: &str) -> Option<&str> {
        let i = self.cells.iter().position(|(c, _)| *c == column)?;
        Some(self.value(i))
    }

    /// Every set column with its value, in the order they were set.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, &str)> + '_ {
        (0..self.cells.len()).map(|i| (self.cells[i].0, self.value(i)))
    }

    /// Every set column with its value, sorted by column name (the order a
    /// map would give; for comparisons and stable output).
    pub fn sorted(&self) -> Vec<(&'static str, &str)> {
        let mut pairs: Vec<_> = self.iter().collect();
        pairs.sort_unstable_by_key(|(c, _)| *c);
        pairs
    }

    /// The value of cell `i`.
    fn value(&self, i: usize) -> &str {
        let start = if i == 0 { 0 } else { self.cells[i - 1].1 };
        &self.text[start..self.cells[i].1]
    }

    /// Appends `value` for `column`, first dropping an earlier value of the
    /// same column (rare: rebuilds the buffer).
    fn put(&mut self, column: &'static str, value: &str) {
        if let Some(i) = self.cells.iter().position(|(c, _)| *c == column) {
            let old: Vec<(&'static str, String)> = self
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != i)
                .map(|(_, (c, v))| (c, v.to_string()))
                .collect();
            self.text.clear();
            self.cells.clear();
            for (c, v) in old {
                self.push(c, &v);
            }
        }
        self.push(column, value);
    }

    fn push(&mut self, column: &'static str, value: &str) {
        self.text.push_str(value);
        self.cells.push((column, self.text.len()));
    }
}

impl PartialEq for Row {
    /// Equal when the same columns hold the same values, whatever the order
    /// they were set in.
    fn eq(&self, other: &Self) -> bool {
        self.cells.len() == other.cells.len() && self.sorted() == other.sorted()
    }
}

impl Eq for Row {}

impl std::fmt::Debug for Row {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(self.sorted()).finish()
    }
}

/// Why a table could not produce rows at all. Row-level problems are columns
/// (`status`, `error`), never one of these.
#[derive(Debug, thiserror::Error)]
pub enum TableError {
    /// A required column was not constrained with `=` or `IN`.
    #[error("table {table} requires a constraint on column {column} (WHERE {column} = ...)")]
    MissingRequired {
        /// Table name.
        table: &'static str,
        /// Column name.
        column: &'static str,
    },
    /// The query asked for something the table cannot do.
    #[error("{0}")]
    Invalid(String),
    /// A failure of the host or of a scanner.
    #[error("{0}")]
    Failed(String),
}

/// The Reconnaissance/Evaluation/Fortify/Limit/Expose/eXercise stage a table
/// or query serves (the seed guide's order of defence).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Stage {
    /// Know what is there and what an attacker would imitate.
    Reconnaissance,
    /// Judge whether what is there is what it claims to be.
    Evaluation,
    /// Harden the paths an attacker would use.
    Fortify,
    /// Limit what a compromise can reach (secrets, credentials).
    Limit,
    /// Expose a compromise in progress.
    Expose,
    /// Exercise the defences (drills, CI gates).
    Exercise,
}

impl Stage {
    /// The stage's name.
    pub fn name(self) -> &'static str {
        match self {
            Stage::Reconnaissance => "Reconnaissance",
            Stage::Evaluation => "Evaluation",
            Stage::Fortify => "Fortify",
            Stage::Limit => "Limit",
            Stage::Expose => "Expose",
            Stage::Exercise => "eXercise",
        }
    }
}

/// A squatch table: a schema and a way to generate rows.
pub trait Table: Send + Sync {
    /// The table's name; never one of osquery's built-in names.
    fn name(&self) -> &'static str;
    /// One line saying what a row is.
    fn description(&self) -> &'static str;
    /// The stage the table serves.
    fn stage(&self) -> Stage;
    /// The schema.
    fn columns(&self) -> &'static [Column];
    /// Produces the rows for a query.
    fn generate(&self, ctx: &QueryContext) -> Result<Vec<Row>, TableError>;
    /// Example queries for `squatch tables NAME` and error hints; empty means
    /// "make one from the schema" (see `crate::catalog::examples`).
    fn examples(&self) -> &'static [&'static str] {
        &[]
    }
}

/// Checks that every `REQUIRED` column of `table` has an equality constraint,
/// as osquery does before calling a table.
pub fn check_required(table: &dyn Table, ctx: &QueryContext) -> Result<(), TableError> {
    for col in table.columns() {
        if col.options.contains(ColumnOptions::REQUIRED) && ctx.equals(col.name).is_none() {
            return Err(TableError::MissingRequired {
                table: table.name(),
                column: col.name,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_current_osquery_context() {
        let ctx = QueryContext::from_osquery_json(
            r#"{"colsUsed":["name","version"],"colsUsedBitset":3,"constraints":[{"name":"environment","list":[{"op":2,"expr":"/a"},{"op":2,"expr":"/b"},{"op":2,"expr":"/a"}],"affinity":"TEXT"},{"name":"size","list":[{"op":4,"expr":"10"}],"affinity":"BIGINT"}]}"#,
        )
        .unwrap();
        assert_eq!(ctx.equals("environment").unwrap(), vec!["/a", "/b"]);
        assert_eq!(ctx.constraints("size")[0].op, Operator::GreaterThan);
        assert!(ctx.equals("size").is_none());
        assert!(ctx.is_used("name"));
        assert!(!ctx.is_used("record_status"));
    }

    #[test]
    fn parses_pre_3_0_string_list() {
        let ctx = QueryContext::from_osquery_json(
            r#"{"constraints":[{"name":"path","list":"[{\"op\":\"2\",\"expr\":\"/x\"}]","affinity":"TEXT"}]}"#,
        )
        .unwrap();
        assert_eq!(ctx.equals("path").unwrap(), vec!["/x"]);
        assert!(ctx.is_used("anything"));
    }

    #[test]
    fn every_operator_code_round_trips() {
        for code in [1, 2, 4, 8, 16, 32, 64, 65, 66, 67] {
            assert_eq!(Operator::from_code(code).unwrap().code(), code);
        }
        assert!(Operator::from_code(3).is_none());
    }

    #[test]
    fn unknown_ops_are_ignored_and_garbage_is_an_error() {
        let ctx = QueryContext::from_osquery_json(
            r#"{"constraints":[{"name":"path","list":[{"op":3,"expr":"x"}]}]}"#,
        )
        .unwrap();
        assert!(ctx.constraints("path").is_empty());
        assert!(QueryContext::from_osquery_json("{not json").is_err());
        assert_eq!(
            QueryContext::from_osquery_json("").unwrap(),
            QueryContext::all()
        );
    }

    #[test]
    fn json_round_trip() {
        let ctx = QueryContext::all()
            .with("target", Operator::Equals, "torch")
            .using(&["variant"]);
        let back = QueryContext::from_osquery_json(&ctx.to_osquery_json()).unwrap();
        assert_eq!(back, ctx);
    }

    #[test]
    fn row_values_are_found_replaced_and_compared_by_column() {
        let mut a = Row::new();
        a.set("name", "torch")
            .int("size", -3)
            .bool("ok", true)
            .set("empty", "")
            .opt("none", None::<String>);
        assert_eq!(a.get("name"), Some("torch"));
        assert_eq!(a.get("size"), Some("-3"));
        assert_eq!(a.get("ok"), Some("1"));
        assert_eq!(a.get("empty"), Some(""));
        assert_eq!(a.get("none"), None);
        a.set("size", "12345");
        assert_eq!(a.get("size"), Some("12345"));
        assert_eq!(a.get("name"), Some("torch"));
        assert_eq!(a.get("empty"), Some(""));
        assert_eq!(a.iter().count(), 4);

        let mut b = Row::new();
        b.set("empty", "").set("ok", "1").set("size", "12345");
        assert_ne!(a, b);
        b.set("name", "torch");
        assert_eq!(
            a, b,
            "equality does not depend on the order columns were set"
        );
        assert_eq!(
            a.sorted(),
            vec![
                ("empty", ""),
                ("name", "torch"),
                ("ok", "1"),
                ("size", "12345")
            ]
        );
    }
}
