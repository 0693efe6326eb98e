//! squatch: an osquery extension (and an embedded SQL tool) that lets a host
//! answer, in SQL, the questions a malicious Python package raises on an ML
//! machine. ARCHITECTURE.md describes the shape; README.md how to run it.
//!
//! Data flows one way: [`host::Host`] -> scanners -> [`tables`] -> adapters
//! ([`osquery`] for osqueryd/osqueryi, [`sql`] for `squatch query`).

#![warn(missing_docs)]

pub mod cache;
pub mod catalog;
pub mod check;
pub mod civil;
pub mod drill;
pub mod findings;
pub mod gpu;
pub mod hex;
pub mod hints;
pub mod host;
pub mod hunt;
pub mod osquery;
pub mod output;
pub mod packs;
pub mod persist;
pub mod python;
pub mod recon;
pub mod requirements;
pub mod secrets;
pub mod settings;
pub mod shell;
pub mod sql;
pub mod table;
pub mod tables;
pub mod typosquat;
