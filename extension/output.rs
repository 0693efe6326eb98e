//! Query output in osqueryi's formats: a pretty table (the default), `--json`
//! (an array of objects, every value a string), `--csv` and `--line`.

use std::fmt::Write as _;
use std::io::{self, Write};

use crate::sql::{QueryResult, ResultSink};

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
    let mut out = Vec::new();
    let mut printer = Printer::new(&mut out, format);
    let write = (|| {
        printer.begin(&result.columns)?;
        for row in &result.rows {
            printer.row(row.clone())?;
        }
        printer.end()
    })();
    debug_assert!(write.is_ok(), "writing to a Vec cannot fail");
    String::from_utf8(out).unwrap_or_default()
}

/// Writes results to `W` as they arrive. JSON, CSV and line output stream
/// row by row; the pretty table needs every row for its column widths, so
/// it holds one result at a time.
pub struct Printer<W: Write> {
    w: W,
    format: Format,
    columns: Vec<String>,
    pending: Vec<Vec<Option<String>>>,
    rows_written: usize,
}

impl<W: Write> Printer<W> {
    /// A printer of `format` writing to `w`.
    pub fn new(w: W, format: Format) -> Self {
        Printer {
            w,
            format,
            columns: Vec::new(),
            pending: Vec::new(),
            rows_written: 0,
        }
    }
}

impl<W: Write> ResultSink for Printer<W> {
    fn begin(&mut self, columns: &[String]) -> io::Result<()> {
        self.columns = columns.to_vec();
        self.rows_written = 0;
        match self.format {
            Format::Json => self.w.write_all(b"["),
            Format::Csv => {
                let header: Vec<String> = columns.iter().map(|c| csv_field(c)).collect();
                writeln!(self.w, "{}", header.join(","))
            }
            Format::Pretty | Format::Line => Ok(()),
        }
    }

    fn row(&mut self, row: Vec<Option<String>>) -> io::Result<()> {
        let first = self.rows_written == 0;
        self.rows_written += 1;
        match self.format {
            Format::Pretty => {
                self.pending.push(row);
                Ok(())
            }
            Format::Json => {
                let obj: serde_json::Map<String, serde_json::Value> = self
                    .columns
                    .iter()
                    .zip(&row)
                    .map(|(c, v)| (c.clone(), serde_json::Value::String(cell(v).to_string())))
                    .collect();
                let text = serde_json::to_string(&obj).map_err(io::Error::other)?;
                write!(self.w, "{}\n  {text}", if first { "" } else { "," })
            }
            Format::Csv => {
                let vals: Vec<String> = row.iter().map(|v| csv_field(cell(v))).collect();
                writeln!(self.w, "{}", vals.join(","))
            }
            Format::Line => {
                if !first {
                    self.w.write_all(b"\n")?;
                }
                let width = self
                    .columns
                    .iter()
                    .map(|c| c.chars().count())
                    .max()
                    .unwrap_or(0);
                for (c, v) in self.columns.iter().zip(&row) {
                    writeln!(self.w, "{c:>width$} = {}", printable(cell(v)))?;
                }
                Ok(())
            }
        }
    }

    fn end(&mut self) -> io::Result<()> {
        match self.format {
            Format::Pretty => {
                let result = QueryResult {
                    columns: std::mem::take(&mut self.columns),
                    rows: std::mem::take(&mut self.pending),
                };
                self.w.write_all(pretty(&result).as_bytes())?;
            }
            Format::Json => self.w.write_all(b"\n]\n")?,
            Format::Csv | Format::Line => {}
        }
        self.w.flush()
    }
}

fn cell(v: &Option<String>) -> &str {
    v.as_deref().unwrap_or("")
}

/// True for a character that must not reach a terminal raw: C0/C1 control
/// characters and DEL, bidirectional embeddings, overrides, isolates and
/// marks (which reorder what follows: "Trojan Source", CVE-2021-42574),
/// zero-width and other invisible format characters (which hide text or make
/// two different names look the same), line/paragraph separators, Hangul
/// fillers, variation selectors and tag characters. The format characters
/// follow Unicode's general category Cf.
pub fn is_unsafe_char(c: char) -> bool {
    let u = c as u32;
    c.is_control()
        || matches!(
            u,
            0x00AD
                | 0x034F
                | 0x061C
                | 0x115F
                | 0x1160
                | 0x17B4
                | 0x17B5
                | 0x180B..=0x180F
                | 0x200B..=0x200F
                | 0x2028..=0x202E
                | 0x2060..=0x206F
                | 0x3164
                | 0xFE00..=0xFE0F
                | 0xFEFF
                | 0xFFA0
                | 0xFFF9..=0xFFFB
                | 0x0600..=0x0605
                | 0x06DD
                | 0x070F
                | 0x0890..=0x0891
                | 0x08E2
                | 0x110BD
                | 0x110CD
                | 0x13430..=0x1343F
                | 0x1BCA0..=0x1BCA3
                | 0x1D173..=0x1D17A
                | 0xE0000..=0xE0FFF
        )
}

/// Makes a value safe to print on a terminal: every [`is_unsafe_char`]
/// becomes a visible escape (`\x1b` for an ASCII control, `\u{202e}` for
/// anything else), so a hostile file name can neither forge lines, drive the
/// terminal, nor reorder or hide what is shown. Characters listed in `keep`
/// pass through (CSV keeps its quoted newlines and tabs).
pub fn escape_for_terminal(s: &str, keep: &[char]) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if !is_unsafe_char(c) || keep.contains(&c) {
            out.push(c);
        } else if (c as u32) < 0x80 {
            let _ = write!(out, "\\x{:02x}", c as u32);
        } else {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        }
    }
    out
}

fn printable(s: &str) -> String {
    escape_for_terminal(s, &[])
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

fn csv_field(s: &str) -> String {
    let s = &escape_for_terminal(s, &['\n', '\t']);
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
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
        assert!(p.contains("| x\\x0ay "), "{p}");
        assert_eq!(p.lines().count(), 6);
    }

    #[test]
    fn line_mode_aligns_names() {
        let l = render(&sample(), Format::Line);
        assert!(
            l.starts_with("name = a,\"b\"\n   n = 1\n\nname = x\\x0ay\n"),
            "{l}"
        );
    }

    #[test]
    fn every_human_format_escapes_controls_bidi_and_invisibles() {
        let evil = "a\u{1b}[2Jb\u{7}c\u{202e}d\u{2066}e\u{200b}f\u{feff}g\rh";
        let r = QueryResult {
            columns: vec!["name".into()],
            rows: vec![vec![Some(evil.into())]],
        };
        for f in [Format::Pretty, Format::Line, Format::Csv] {
            let out = render(&r, f);
            assert!(
                !out.chars().any(|c| is_unsafe_char(c) && c != '\n'),
                "{f:?}: {out:?}"
            );
            assert!(
                out.contains("a\\x1b[2Jb\\x07c\\u{202e}d\\u{2066}e\\u{200b}f\\u{feff}g\\x0dh"),
                "{f:?}: {out}"
            );
        }
        let j: serde_json::Value = serde_json::from_str(&render(&r, Format::Json)).unwrap();
        assert_eq!(j[0]["name"], evil, "JSON stays exact");
    }
}
