//! Typosquat detection for Python package names: scores a name against the
//! most downloaded PyPI packages and the known-malicious names of the OpenSSF
//! malicious-packages data set, and lists the names an attacker would
//! register to imitate a popular package.
//!
//! Pure: no osquery, no SQLite, no host access. The tables
//! `python_typosquat_scores` and `python_typosquat_variants` are thin glue
//! over [`Index::assess`] and [`variants`].
//!
//! The reference data is embedded in the binary ([`data`]), packed into
//! lookup tables at compile time by `build.rs` and read in place
//! ([`Index::embedded`]); [`regenerate`] rewrites it from newer copies of its
//! sources.

pub mod data;
mod detect;
mod index;
mod keys;
mod pack;
mod regenerate;
mod text;
mod variants;
pub mod verdict;

pub use index::{
    Assessment, Index, DEFAULT_THRESHOLD, MAX_SCORED_LEN, TWO_EDIT_MAX_LEN, TWO_EDIT_MAX_RANK,
    TWO_EDIT_MIN_LEN,
};
pub use regenerate::{regenerate, RegenerateError, RegenerateReport};
pub use variants::{variants, Variant};
pub use verdict::{judge, HostEvidence, Judgement, Verdict, STRONG_THRESHOLD};

/// PEP 503 normalisation, the Python helper's (one normaliser in the tree).
pub(crate) use crate::python::normalize_name as normalize;
