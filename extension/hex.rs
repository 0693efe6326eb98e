//! Lowercase hex, the way osquery's `hash` table, `sha256sum` and dpkg's
//! `md5sums` write digests, and back. One place for it: the findings and
//! provenance tables, the GPU config hashes, the persistent cache and the
//! drill's manifest all write digests.

const DIGITS: &[u8; 16] = b"0123456789abcdef";

/// `bytes` as lowercase hex digits, two per byte.
pub fn encode(bytes: &[u8]) -> String {
    let out: Vec<u8> = bytes
        .iter()
        .flat_map(|b| [DIGITS[usize::from(b >> 4)], DIGITS[usize::from(b & 15)]])
        .collect();
    // Only ASCII digits went in.
    String::from_utf8(out).unwrap_or_default()
}

/// True when `hex` is [`encode`] of `bytes`, compared in place with no
/// string made (a RECORD digest against a file's, once per installed file).
/// Uppercase digits do not match: a digest squatch wrote is lowercase.
pub fn is_encoding_of(bytes: &[u8], hex: &str) -> bool {
    hex.len() == 2 * bytes.len()
        && bytes
            .iter()
            .zip(hex.as_bytes().chunks_exact(2))
            .all(|(b, h)| {
                h[0] == DIGITS[usize::from(b >> 4)] && h[1] == DIGITS[usize::from(b & 15)]
            })
}

/// The bytes hex digits stand for (either case); `None` for an odd length
/// or anything but a digit (no sign, no space, no `0x`).
pub fn decode(hex: &str) -> Option<Vec<u8>> {
    fn digit(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            b'A'..=b'F' => Some(c - b'A' + 10),
            _ => None,
        }
    }
    let h = hex.as_bytes();
    if !h.len().is_multiple_of(2) {
        return None;
    }
    h.chunks_exact(2)
        .map(|p| Some(digit(p[0])? << 4 | digit(p[1])?))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_is_two_lowercase_digits_a_byte() {
        assert_eq!(encode(&[0x00, 0x0f, 0xa5, 0xff]), "000fa5ff");
        assert_eq!(encode(&[]), "");
    }

    #[test]
    fn is_encoding_of_wants_the_same_bytes_in_lowercase() {
        let d = [0xde, 0xad, 0xbe, 0xef];
        assert!(is_encoding_of(&d, "deadbeef"));
        assert!(!is_encoding_of(&d, "DEADBEEF"));
        assert!(!is_encoding_of(&d, "deadbee"));
        assert!(!is_encoding_of(&d[..3], "deadbeef"));
        assert!(!is_encoding_of(&d, "deadbeee"));
        assert!(is_encoding_of(&[], ""));
    }

    #[test]
    fn decode_takes_either_case_and_refuses_the_rest() {
        assert_eq!(decode("00ff10"), Some(vec![0, 255, 16]));
        assert_eq!(decode("DEADbeef"), Some(vec![0xde, 0xad, 0xbe, 0xef]));
        assert_eq!(decode(""), Some(vec![]));
        assert_eq!(decode("abc"), None);
        assert_eq!(decode("0g"), None);
        // u8::from_str_radix takes a sign: "+f" is 15 there, not here.
        assert_eq!(decode("+f"), None);
        assert_eq!(decode(" f"), None);
        for b in 0..=255u8 {
            assert_eq!(decode(&encode(&[b])), Some(vec![b]));
        }
    }
}
