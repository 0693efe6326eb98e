//! Makes untrusted values safe to print: package names, paths and evidence
//! are chosen by an attacker, who can hide text with bidirectional overrides
//! (U+202E) or rewrite a terminal with escape sequences.

/// True for characters that must not reach a terminal or a rendered ticket
/// as themselves: control characters (C0, DEL, C1), bidirectional controls
/// and invisible separators.
fn is_hidden(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{061C}' | '\u{200B}'..='\u{200F}' | '\u{2028}'..='\u{202E}'
            | '\u{2060}'..='\u{2069}' | '\u{FEFF}')
}

/// Text output: every hidden character as `\u{XXXX}`, and `\` doubled so the
/// escape cannot be forged.
pub fn escape_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c == '\\' {
            out.push_str("\\\\");
        } else if is_hidden(c) {
            out.push_str(&format!("\\u{{{:04x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

/// Markdown output: the escaped text as an inline code span, fenced with
/// more backticks than the value holds in a row, so nothing in it renders.
pub fn escape_markdown_code(s: &str) -> String {
    let text = escape_text(s);
    if text.is_empty() {
        return String::new();
    }
    let mut longest = 0;
    let mut run = 0;
    for c in text.chars() {
        if c == '`' {
            run += 1;
            longest = longest.max(run);
        } else {
            run = 0;
        }
    }
    let fence = "`".repeat(longest + 1);
    let pad = if text.starts_with('`') || text.ends_with('`') || longest > 0 {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{text}{pad}{fence}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hides_controls_and_bidi() {
        assert_eq!(escape_text("a\u{202e}b"), "a\\u{202e}b");
        assert_eq!(escape_text("x\x1b[2Jy"), "x\\u{001b}[2Jy");
        assert_eq!(escape_text("l1\nl2\t"), "l1\\u{000a}l2\\u{0009}");
        assert_eq!(
            escape_text("\u{2066}\u{200b}\u{feff}\u{85}"),
            "\\u{2066}\\u{200b}\\u{feff}\\u{0085}"
        );
        assert_eq!(escape_text("c:\\u{202e}"), "c:\\\\u{202e}");
        assert_eq!(escape_text("torch-utilités /ok"), "torch-utilités /ok");
    }

    #[test]
    fn markdown_code_spans_cannot_be_closed_from_inside() {
        assert_eq!(escape_markdown_code("torch"), "`torch`");
        assert_eq!(escape_markdown_code("a`b"), "`` a`b ``");
        assert_eq!(escape_markdown_code("``x"), "``` ``x ```");
        assert_eq!(escape_markdown_code(""), "");
        assert_eq!(
            escape_markdown_code("[x](http://e.invalid)\u{202e}"),
            "`[x](http://e.invalid)\\u{202e}`"
        );
    }
}
