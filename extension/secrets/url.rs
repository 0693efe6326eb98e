//! The one redactor for every URL-shaped value squatch prints (`direct_url`,
//! `home_page`, index URLs, command lines).
//!
//! A URL can carry a secret in four places, and each is cleaned:
//! - the userinfo (`https://user:pass@host`, `https://TOKEN@host`) is removed,
//!   except the two forms PEP 610 lets stay: `git@` and a `${VAR}` reference;
//! - a path segment that holds a secret shape (the `secret_exposure`
//!   detectors), or that is a long random-looking token on its own (private
//!   indexes put tokens there: `https://pypi.fury.io/TOKEN/user/`), becomes
//!   `REDACTED`;
//! - a query value becomes `REDACTED` when its key sounds secret (`token`,
//!   `sig`, `password`, ...) or its value holds a secret shape;
//! - the fragment gets the same treatment as the query (`#token=...`).
//!
//! Nothing else changes, so a clean URL comes back byte for byte.

use super::detectors::{entropy, Detectors};

/// What replaces a removed secret.
pub const REDACTED: &str = "REDACTED";

/// Query or fragment keys whose values are treated as secrets.
const SECRET_KEYS: &[&str] = &[
    "token",
    "key",
    "secret",
    "password",
    "passwd",
    "pwd",
    "auth",
    "sig",
    "signature",
    "credential",
    "access",
    "session",
];

/// The URL with its credentials removed (see the module docs).
pub fn redact_url(url: &str) -> String {
    let d = Detectors::builtin();
    let (scheme, rest) = match url.find("://") {
        Some(i) => (&url[..i + 3], &url[i + 3..]),
        None => ("", url),
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let authority = match authority.rfind('@') {
        Some(at) if !scheme.is_empty() || authority.contains(':') => {
            let userinfo = &authority[..at];
            let keep = userinfo == "git"
                || (userinfo.starts_with("${")
                    && userinfo.ends_with('}')
                    && !userinfo.contains(':'));
            if keep {
                authority.to_string()
            } else {
                authority[at + 1..].to_string()
            }
        }
        _ => authority.to_string(),
    };
    let (before_fragment, fragment) = match tail.split_once('#') {
        Some((a, f)) => (a, Some(f)),
        None => (tail, None),
    };
    let (path, query) = match before_fragment.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (before_fragment, None),
    };
    let mut out = String::with_capacity(url.len());
    out.push_str(scheme);
    out.push_str(&authority);
    let segments: Vec<String> = path
        .split('/')
        .map(|seg| {
            if segment_is_secret(d, seg) {
                REDACTED.to_string()
            } else {
                seg.to_string()
            }
        })
        .collect();
    out.push_str(&segments.join("/"));
    if let Some(q) = query {
        out.push('?');
        out.push_str(&redact_pairs(d, q));
    }
    if let Some(f) = fragment {
        out.push('#');
        out.push_str(&redact_pairs(d, f));
    }
    out
}

/// `a=1&token=x` with every secret value replaced.
fn redact_pairs(d: &Detectors, pairs: &str) -> String {
    pairs
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((k, v)) if is_secret_key(k) || holds_secret(d, v) => format!("{k}={REDACTED}"),
            Some(_) => pair.to_string(),
            None if holds_secret(d, pair) => REDACTED.to_string(),
            None => pair.to_string(),
        })
        .collect::<Vec<_>>()
        .join("&")
}

fn is_secret_key(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    SECRET_KEYS.iter().any(|s| k.contains(s))
}

/// A value holds a secret shape (percent-encoding undone for the check).
fn holds_secret(d: &Detectors, v: &str) -> bool {
    if v.is_empty() {
        return false;
    }
    if !d.shapes_in(v).is_empty() {
        return true;
    }
    v.contains('%') && !d.shapes_in(&percent_decode(v)).is_empty()
}

/// A path segment is a secret when it holds a secret shape, or when it is a
/// token on its own: 20 or more characters of `[A-Za-z0-9_-]` with upper,
/// lower case and digits and at least 3.5 bits of entropy per character.
/// File names (with a dot), versions, words and hex digests do not qualify.
fn segment_is_secret(d: &Detectors, seg: &str) -> bool {
    if seg.is_empty() {
        return false;
    }
    if holds_secret(d, seg) {
        return true;
    }
    seg.len() >= 20
        && seg
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        && seg.bytes().any(|b| b.is_ascii_uppercase())
        && seg.bytes().any(|b| b.is_ascii_lowercase())
        && seg.bytes().any(|b| b.is_ascii_digit())
        && entropy(seg) >= 3.5
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let hex = std::str::from_utf8(&b[i + 1..i + 3]).ok();
            if let Some(v) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hf() -> String {
        format!("hf_{}", "Fake".repeat(8) + "Zz")
    }

    #[test]
    fn userinfo_is_removed_except_git_and_variables() {
        assert_eq!(
            redact_url("https://alice:FAKEPASSWORD@example.invalid/simple/x.whl"),
            "https://example.invalid/simple/x.whl"
        );
        assert_eq!(
            redact_url("https://user:password@home.example.invalid/"),
            "https://home.example.invalid/"
        );
        assert_eq!(
            redact_url("git+ssh://git@github.com/o/r.git"),
            "git+ssh://git@github.com/o/r.git"
        );
        assert_eq!(
            redact_url("https://${PIP_USER}@example.invalid/x"),
            "https://${PIP_USER}@example.invalid/x"
        );
        assert_eq!(redact_url("https://h.invalid/a@b"), "https://h.invalid/a@b");
    }

    #[test]
    fn tokens_in_the_path_are_replaced() {
        let url = format!("https://pkgs.example.invalid/{}/simple/torch/", hf());
        assert_eq!(
            redact_url(&url),
            "https://pkgs.example.invalid/REDACTED/simple/torch/"
        );
        // A bare random token segment (Gemfury-style) without a known shape.
        let url = "https://pypi.fury.invalid/Xk29fQm3Lp0ZwR7tYb5N/acme/";
        assert_eq!(redact_url(url), "https://pypi.fury.invalid/REDACTED/acme/");
    }

    #[test]
    fn tokens_in_the_fragment_are_replaced() {
        let url = format!("https://h.invalid/x.whl#token={}", "anything-at-all");
        assert_eq!(redact_url(&url), "https://h.invalid/x.whl#token=REDACTED");
        let url = format!("https://h.invalid/x.whl#egg=x&creds={}", hf());
        assert_eq!(
            redact_url(&url),
            "https://h.invalid/x.whl#egg=x&creds=REDACTED"
        );
        let url = format!("https://h.invalid/x#{}", hf());
        assert_eq!(redact_url(&url), "https://h.invalid/x#REDACTED");
    }

    #[test]
    fn secret_shapes_under_innocent_query_keys_are_replaced() {
        let url = format!("https://h.invalid/simple?user=bob&q={}&v=2", hf());
        assert_eq!(
            redact_url(&url),
            "https://h.invalid/simple?user=bob&q=REDACTED&v=2"
        );
        let url = format!("https://h.invalid/?x={}", hf().replace('_', "%5F"));
        assert_eq!(redact_url(&url), "https://h.invalid/?x=REDACTED");
        assert_eq!(
            redact_url("https://h.invalid/x.tar.gz?X-Amz-Signature=FAKE&v=1#sha256=ab"),
            "https://h.invalid/x.tar.gz?X-Amz-Signature=REDACTED&v=1#sha256=ab"
        );
    }

    #[test]
    fn clean_urls_come_back_unchanged() {
        for u in [
            "https://github.com/pytorch/pytorch",
            "https://download.pytorch.org/whl/cu121/torch-2.3.0%2Bcu121-cp311-cp311-linux_x86_64.whl#sha256=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
            "git+https://github.com/o/r.git@4f1c2e3d4b5a69788796a5b4c3d2e1f0a9b8c7d6#subdirectory=pkg",
            "file:///home/a/proj",
            "https://pypi.org/project/requests/?page=2#history",
            "",
            "not a url at all",
        ] {
            assert_eq!(redact_url(u), u);
        }
    }

    #[test]
    fn percent_decode_tolerates_junk() {
        assert_eq!(percent_decode("%41%4"), "A%4");
        assert_eq!(percent_decode("%"), "%");
        assert_eq!(percent_decode("%zz%e9"), "%zz\u{fffd}");
    }
}
