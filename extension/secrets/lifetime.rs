//! How long a found credential stays usable: the `credential_lifetime` and
//! `expires` columns.
//!
//! `temporary` for AWS `ASIA` ids, a key beside a session token, SSO/CLI cache
//! entries and any format with an expiry; `long_lived` for `AKIA` ids, classic
//! GitHub PATs, Hugging Face and PyPI tokens (the detectors' data says which);
//! `unknown` otherwise.

use serde::Deserialize;

/// The `credential_lifetime` column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Lifetime {
    /// Valid until someone revokes or rotates it.
    LongLived,
    /// Expires by itself (STS, SSO, CI job tokens, anything with an expiry).
    Temporary,
    /// The format does not say.
    Unknown,
}

impl Lifetime {
    /// The column's word.
    pub fn as_str(self) -> &'static str {
        match self {
            Lifetime::LongLived => "long_lived",
            Lifetime::Temporary => "temporary",
            Lifetime::Unknown => "unknown",
        }
    }
}

/// The lifetime of an AWS secret key from what sits beside it: a session
/// token or an `ASIA` key id makes it temporary, an `AKIA` id long-lived.
pub fn aws_pair(key_id: Option<&str>, has_session_token: bool) -> Lifetime {
    if has_session_token {
        return Lifetime::Temporary;
    }
    match key_id.map(|k| k.get(..4).unwrap_or("")) {
        Some("ASIA") => Lifetime::Temporary,
        Some("AKIA") | Some("ABIA") | Some("ACCA") => Lifetime::LongLived,
        _ => Lifetime::Unknown,
    }
}

/// The `exp` claim (Unix seconds) of a JSON Web Token, read from its
/// payload without verifying anything. `None` when it has none.
pub fn jwt_expiry(token: &str) -> Option<i64> {
    use base64::Engine;
    let payload = token.split('.').nth(1)?;
    if payload.len() > 64 * 1024 {
        return None;
    }
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    let v: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    let exp = v.get("exp")?;
    exp.as_i64().or_else(|| exp.as_f64().map(|f| f as i64))
}

/// Parses an RFC 3339 / ISO 8601 UTC-or-offset timestamp
/// (`2024-05-01T12:00:00Z`, `2024-05-01T12:00:00.123+02:00`,
/// `2024-05-01T12:00:00UTC`) into Unix seconds. `None` for anything else.
pub fn parse_timestamp(s: &str) -> Option<i64> {
    let s = s.trim();
    let b = s.as_bytes();
    if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || !(b[10] == b'T' || b[10] == b' ') {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let t = s.get(r)?;
        if t.bytes().all(|c| c.is_ascii_digit()) {
            t.parse().ok()
        } else {
            None
        }
    };
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    let mut rest = &s[19..];
    if let Some(r) = rest.strip_prefix('.') {
        let n = r.bytes().take_while(u8::is_ascii_digit).count();
        rest = &r[n..];
    }
    let offset = match rest {
        "" | "Z" | "z" | "UTC" => 0,
        _ => {
            let sign = match rest.as_bytes()[0] {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let r = rest[1..].replace(':', "");
            if r.len() != 4 || !r.bytes().all(|c| c.is_ascii_digit()) {
                return None;
            }
            let oh: i64 = r[..2].parse().ok()?;
            let om: i64 = r[2..].parse().ok()?;
            sign * (oh * 3600 + om * 60)
        }
    };
    Some(crate::civil::days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + sec - offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aws_pairs() {
        assert_eq!(aws_pair(Some("AKIAxxxx"), false), Lifetime::LongLived);
        assert_eq!(aws_pair(Some("AKIAxxxx"), true), Lifetime::Temporary);
        assert_eq!(aws_pair(Some("ASIAxxxx"), false), Lifetime::Temporary);
        assert_eq!(aws_pair(None, false), Lifetime::Unknown);
        assert_eq!(aws_pair(Some("é"), false), Lifetime::Unknown);
    }

    #[test]
    fn jwt_exp() {
        use base64::Engine;
        let enc = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
        let t = format!(
            "{}.{}.sig",
            enc(r#"{"alg":"none"}"#),
            enc(r#"{"exp":1714564800,"sub":"x"}"#)
        );
        assert_eq!(jwt_expiry(&t), Some(1_714_564_800));
        let t = format!("{}.{}.sig", enc("{}"), enc(r#"{"sub":"x"}"#));
        assert_eq!(jwt_expiry(&t), None);
        assert_eq!(jwt_expiry("not.a!jwt"), None);
        assert_eq!(jwt_expiry("nodots"), None);
    }

    #[test]
    fn timestamps() {
        assert_eq!(parse_timestamp("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_timestamp("2024-05-01T12:00:00Z"), Some(1_714_564_800));
        assert_eq!(
            parse_timestamp("2024-05-01T14:00:00.123+02:00"),
            Some(1_714_564_800)
        );
        assert_eq!(
            parse_timestamp("2024-05-01T12:00:00UTC"),
            Some(1_714_564_800)
        );
        assert_eq!(parse_timestamp("2000-02-29 00:00:00Z"), Some(951_782_400));
        assert_eq!(parse_timestamp("yesterday"), None);
        assert_eq!(parse_timestamp("2024-13-01T00:00:00Z"), None);
        assert_eq!(parse_timestamp("2024-05-01T12:00:00+0"), None);
        assert_eq!(parse_timestamp("2024-05-01T12:00:00é"), None);
    }
}
