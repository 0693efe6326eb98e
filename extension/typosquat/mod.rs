//! Typosquat detection for Python package names: scores a name against the
//! most downloaded PyPI packages and the known-malicious names of the OpenSSF
//! malicious-packages data set, and lists the names an attacker would
//! register to imitate a popular package.
//!
//! Pure: no osquery, no SQLite, no host access. The tables
//! `python_typosquat_scores` and `python_typosquat_variants` are thin glue
//! over [`Index::assess`] and [`variants`].
//!
//! The reference data is embedded in the binary ([`data`]) and indexed once
//! per process ([`Index::embedded`]); [`regenerate`] rewrites it from newer
//! copies of its sources.

pub mod data;
mod index;
mod regenerate;
mod text;
mod variants;

pub use index::{Assessment, Index, DEFAULT_THRESHOLD, TWO_EDIT_MAX_RANK, TWO_EDIT_MIN_LEN};
pub use regenerate::{regenerate, RegenerateError, RegenerateReport};
pub use variants::{variants, Variant};

/// PEP 503 normalisation (lowercase, runs of `-`, `_`, `.` to one `-`).
///
/// Temporary private copy until the Python helper's
/// `crate::python::normalize_name` is merged; then this delegates to it.
pub(crate) fn normalize(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut in_sep = false;
    for c in name.trim().chars() {
        if matches!(c, '-' | '_' | '.') {
            in_sep = true;
            continue;
        }
        if in_sep && !out.is_empty() {
            out.push('-');
        }
        in_sep = false;
        out.extend(c.to_lowercase());
    }
    out
}
