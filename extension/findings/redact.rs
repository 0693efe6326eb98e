//! Evidence excerpts that never carry a secret value.
//!
//! Three passes over the (already short) excerpt: known token shapes (AWS key
//! ids, Hugging Face, GitHub, OpenAI/Anthropic, Slack, Google, Telegram,
//! Discord webhook tokens), the value of a credential-looking assignment, and
//! any long high-entropy run (which also hides half a token cut by the
//! excerpt's edge). Token shapes follow the public formats documented by each
//! vendor and used by secret scanners (gitleaks/trufflehog rule names).

use std::sync::OnceLock;

use regex::Regex;

/// What replaces a removed value.
pub const REDACTED: &str = "<redacted>";

/// Longest excerpt kept, in characters.
pub const MAX_EVIDENCE_CHARS: usize = 160;

fn token_shapes() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(concat!(
            r"(?:A3T[A-Z0-9]|AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)[A-Z0-9]{12,}",
            r"|hf_[A-Za-z0-9]{16,}",
            r"|gh[pousr]_[A-Za-z0-9]{16,}",
            r"|github_pat_[A-Za-z0-9_]{16,}",
            r"|sk-(?:proj-|ant-|live_|test_)?[A-Za-z0-9_\-]{16,}",
            r"|xox[abprs]-[A-Za-z0-9\-]{10,}",
            r"|AIza[0-9A-Za-z_\-]{30,}",
            r"|\b\d{8,10}:[A-Za-z0-9_\-]{30,}",
            r"|glpat-[A-Za-z0-9_\-]{16,}",
            r"|npm_[A-Za-z0-9]{30,}",
            r"|pypi-[A-Za-z0-9_\-]{30,}",
        ))
        .expect("token regex is valid")
    })
}

fn webhook_token() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(
            r"(?i)(/api/webhooks/\d+/|/bot\d+:|hooks\.slack\.com/services/)[A-Za-z0-9_\-/:]+",
        )
        .expect("webhook regex is valid")
    })
}

fn assignment() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(
            r#"(?i)((?:key|secret|token|passw(?:or)?d|pwd|auth|credential)[A-Za-z0-9_]*["']?\s*[:=]\s*[bfru]?["'])([^"'\s]{6,})(["'])"#,
        )
        .expect("assignment regex is valid")
    })
}

fn long_run() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| Regex::new(r"[A-Za-z0-9+/=_\-]{32,}").expect("run regex is valid"))
}

/// Shannon entropy of a string in bits per character.
pub fn entropy(s: &str) -> f64 {
    let mut counts = [0u32; 256];
    let mut n = 0u32;
    for b in s.bytes() {
        counts[b as usize] += 1;
        n += 1;
    }
    if n == 0 {
        return 0.0;
    }
    let n = f64::from(n);
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = f64::from(c) / n;
            -p * p.log2()
        })
        .sum()
}

/// True when a string looks like an environment variable *name* or a plain
/// word, not a secret value (`AWS_SECRET_ACCESS_KEY`, `token_path`).
fn looks_like_name(v: &str) -> bool {
    v.bytes()
        .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
        || (v
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b == b'_' || b == b'.' || b == b'-')
            && v.len() < 32)
        || v.starts_with('/')
        || v.starts_with('~')
        || v.starts_with('{')
        || v.starts_with('$')
}

/// Removes every secret-looking value from `text`.
pub fn redact(text: &str) -> String {
    let s = token_shapes().replace_all(text, REDACTED);
    let s = webhook_token().replace_all(&s, |c: &regex::Captures| format!("{}{REDACTED}", &c[1]));
    let s = assignment().replace_all(&s, |c: &regex::Captures| {
        if looks_like_name(&c[2]) || c[2].contains(REDACTED) {
            c[0].to_string()
        } else {
            format!("{}{REDACTED}{}", &c[1], &c[3])
        }
    });
    let s = long_run().replace_all(&s, |c: &regex::Captures| {
        let run = &c[0];
        if entropy(run) >= 3.5 && !looks_like_name(run) {
            REDACTED.to_string()
        } else {
            run.to_string()
        }
    });
    s.into_owned()
}

/// An evidence excerpt of `line` around byte offset `at`: whitespace
/// collapsed at the ends, at most [`MAX_EVIDENCE_CHARS`] characters,
/// secrets redacted.
pub fn excerpt(line: &str, at: usize) -> String {
    let line = line.trim_end_matches(['\r', '\n']);
    // Work on a bounded window first so that a 1 MB minified line costs
    // little; the window is wider than the result so that redaction sees
    // whole tokens.
    let lo = floor_char(line, at.saturating_sub(400));
    let hi = floor_char(line, (at + 400).min(line.len()));
    let window = redact(&line[lo..hi]);
    let window = window.trim();
    let chars: Vec<char> = window.chars().collect();
    if chars.len() <= MAX_EVIDENCE_CHARS {
        return window.to_string();
    }
    // Centre on the hit (its offset moved by the window start).
    let rel = at.saturating_sub(lo).min(window.len());
    let centre = window[..floor_char(window, rel)].chars().count();
    let start = centre.saturating_sub(MAX_EVIDENCE_CHARS / 3);
    let end = (start + MAX_EVIDENCE_CHARS).min(chars.len());
    let start = end.saturating_sub(MAX_EVIDENCE_CHARS);
    let mut out = String::new();
    if start > 0 {
        out.push('…');
    }
    out.extend(&chars[start..end]);
    if end < chars.len() {
        out.push('…');
    }
    // Cutting may have split a token: redact again on the result.
    redact(&out)
}

fn floor_char(s: &str, mut i: usize) -> usize {
    i = i.min(s.len());
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_shapes_are_removed() {
        for secret in [
            "AKIAIOSFODNN7EXAMPLE",
            "hf_FAKEexampleTOKENabcdefghijklmnop",
            "ghp_FAKEexampleTOKEN0123456789abcdefghij",
            "sk-proj-FAKEexampleKEY0123456789abcdef",
        ] {
            let out = redact(&format!("x = call('{secret}')"));
            assert!(!out.contains(secret), "{out}");
            assert!(out.contains(REDACTED), "{out}");
        }
    }

    #[test]
    fn assignments_lose_their_value_but_names_stay() {
        let out = redact(r#"aws_secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY""#);
        assert!(!out.contains("wJalrXUtnFEMI"), "{out}");
        let out = redact(r#"key = os.environ["AWS_SECRET_ACCESS_KEY"]"#);
        assert!(out.contains("AWS_SECRET_ACCESS_KEY"), "{out}");
        let out = redact(r#"token_file = "~/.cache/huggingface/token""#);
        assert!(out.contains("huggingface/token"), "{out}");
    }

    #[test]
    fn webhook_tokens_are_removed() {
        let out =
            redact("hook='https://discord.com/api/webhooks/123456789/FAKEwebhookTOKENexample-abc'");
        assert!(!out.contains("FAKEwebhookTOKEN"), "{out}");
        assert!(out.contains("/api/webhooks/123456789/"), "{out}");
    }

    #[test]
    fn excerpt_is_short_and_redacted_even_when_cut() {
        let line = format!(
            "{}requests.post(u, data='hf_FAKEexampleTOKENabcdefghijklmnopqrst'){}",
            "a = 1; ".repeat(60),
            " + pad".repeat(60)
        );
        let at = line.find("requests").unwrap();
        let ex = excerpt(&line, at);
        assert!(ex.chars().count() <= MAX_EVIDENCE_CHARS + 2, "{ex}");
        assert!(ex.contains("requests.post"), "{ex}");
        assert!(!ex.contains("FAKEexampleTOKEN"), "{ex}");
    }

    #[test]
    fn entropy_tells_words_from_keys() {
        assert!(entropy("aaaaaaaa") < 1.0);
        assert!(entropy("wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY") > 4.0);
    }
}
