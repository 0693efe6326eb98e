//! Project names as PEP 503 compares them.

/// Normalises a project name the way PEP 503 does: lowercase, with every run
/// of `-`, `_` and `.` collapsed into a single `-`. `Torch_Utils`,
/// `torch.utils` and `torch--utils` all become `torch-utils`, which is the form
/// an index uses and the one to compare names in.
pub fn normalize_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut in_sep = false;
    for ch in name.trim().chars() {
        if matches!(ch, '-' | '_' | '.') {
            if !in_sep {
                out.push('-');
                in_sep = true;
            }
        } else {
            out.extend(ch.to_lowercase());
            in_sep = false;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pep503_examples() {
        for n in [
            "friendly-bard",
            "Friendly-Bard",
            "FRIENDLY-BARD",
            "friendly.bard",
            "friendly_bard",
            "friendly--bard",
            "FrIeNdLy-._.-bArD",
        ] {
            assert_eq!(normalize_name(n), "friendly-bard", "{n}");
        }
        assert_eq!(normalize_name("torch_utilites"), "torch-utilites");
        assert_eq!(normalize_name(""), "");
    }
}
