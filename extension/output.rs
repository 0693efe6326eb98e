//! Query output in osqueryi's formats: a pretty table (the default), `--json`
//! (an array of objects, every value a string), `--csv` and `--line`.

use std::fmt::Write as _;

use crate::sql::QueryResult;

/// How to print a query result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// A boxed table, as osqueryi prints by default.
    #[default]
    Pretty,
    /// A JSON array of objects with every value a string (NULL as `""`), as
    /// `osqueryi --json` prints.
    Json,
    /// Comma-separated values with a header line (RFC 4180 quoting).
    Csv,
    /// One `column = value` line per column, a blank line between rows.
    Line,
}

/// Renders a result in the given format.
pub fn render(result: &QueryResult, format: Format) -> String {
    match format {
        Format::Pretty => pretty(result),
        Format::Json => json(result),
        Format::Csv => csv(result),
        Format::Line => line(result),
    }
}

fn cell(v: &Option<String>) -> &str {
    v.as_deref().unwrap_or("")
}

/// Replaces control characters so a hostile value (a file name with a
/// newline or an escape sequence) cannot forge lines or drive the terminal.
fn printable(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

fn pretty(r: &QueryResult) -> String {
    let cells: Vec<Vec<String>> = r
        .rows
        .iter()
        .map(|row| row.iter().map(|v| printable(cell(v))).collect())
        .collect();
    let mut widths: Vec<usize> = r.columns.iter().map(|c| c.chars().count()).collect();
    for row in &cells {
        for (i, v) in row.iter().enumerate() {
            widths[i] = widths[i].max(v.chars().count());
        }
    }
    let sep: String = {
        let mut s = String::from("+");
        for w in &widths {
            s.push_str(&"-".repeat(w + 2));
            s.push('+');
        }
        s.push('\n');
        s
    };
    let fmt_row = |vals: &[String]| {
        let mut s = String::from("|");
        for (v, w) in vals.iter().zip(&widths) {
            let pad = w - v.chars().count();
            let _ = write!(s, " {v}{} |", " ".repeat(pad));
        }
        s.push('\n');
        s
    };
    let mut out = sep.clone();
    let header: Vec<String> = r.columns.iter().map(|c| printable(c)).collect();
    out.push_str(&fmt_row(&header));
    out.push_str(&sep);
    for row in &cells {
        out.push_str(&fmt_row(row));
    }
    if !cells.is_empty() {
        out.push_str(&sep);
    }
    out
}

fn json(r: &QueryResult) -> String {
    let rows: Vec<serde_json::Value> = r
        .rows
        .iter()
        .map(|row| {
            let obj: serde_json::Map<String, serde_json::Value> = r
                .columns
                .iter()
                .zip(row)
                .map(|(c, v)| (c.clone(), serde_json::Value::String(cell(v).to_string())))
                .collect();
            serde_json::Value::Object(obj)
        })
        .collect();
    let mut s = serde_json::to_string_pretty(&rows).unwrap_or_else(|_| "[]".to_string());
    s.push('\n');
    s
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn csv(r: &QueryResult) -> String {
    let mut out = String::new();
    let header: Vec<String> = r.columns.iter().map(|c| csv_field(c)).collect();
    out.push_str(&header.join(","));
    out.push('\n');
    for row in &r.rows {
        let vals: Vec<String> = row.iter().map(|v| csv_field(cell(v))).collect();
        out.push_str(&vals.join(","));
        out.push('\n');
    }
    out
}

fn line(r: &QueryResult) -> String {
    let width = r
        .columns
        .iter()
        .map(|c| c.chars().count())
        .max()
        .unwrap_or(0);
    let mut out = String::new();
    for (i, row) in r.rows.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        for (c, v) in r.columns.iter().zip(row) {
            let _ = writeln!(out, "{c:>width$} = {}", printable(cell(v)));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> QueryResult {
        QueryResult {
            columns: vec!["name".into(), "n".into()],
            rows: vec![
                vec![Some("a,\"b\"".into()), Some("1".into())],
                vec![Some("x\ny".into()), None],
            ],
        }
    }

    #[test]
    fn json_values_are_all_strings() {
        let v: serde_json::Value = serde_json::from_str(&render(&sample(), Format::Json)).unwrap();
        assert_eq!(v[0]["n"], "1");
        assert_eq!(v[1]["n"], "");
        assert_eq!(v[1]["name"], "x\ny");
    }

    #[test]
    fn csv_quotes_and_pretty_escapes_controls() {
        let c = render(&sample(), Format::Csv);
        assert!(
            c.starts_with("name,n\n\"a,\"\"b\"\"\",1\n\"x\ny\",\n"),
            "{c}"
        );
        let p = render(&sample(), Format::Pretty);
        assert!(p.contains("| x?y "), "{p}");
        assert_eq!(p.lines().count(), 6);
    }

    #[test]
    fn line_mode_aligns_names() {
        let l = render(&sample(), Format::Line);
        assert!(
            l.starts_with("name = a,\"b\"\n   n = 1\n\nname = x?y\n"),
            "{l}"
        );
    }
}
