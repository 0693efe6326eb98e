//! Packs the typosquat index at compile time: the shipped popular and
//! known-malicious names with every lookup table over them
//! (extension/typosquat/pack.rs), written to OUT_DIR and embedded by
//! `Index::embedded`, so that no process spends its start-up building them.
//! The packing, key and parsing code is the runtime's own, included here.

#[allow(dead_code)]
#[path = "extension/typosquat/data.rs"]
mod data;
#[allow(dead_code)]
#[path = "extension/typosquat/keys.rs"]
mod keys;
#[allow(dead_code)]
#[path = "extension/python/name.rs"]
mod name;
#[allow(dead_code)]
#[path = "extension/typosquat/pack.rs"]
mod pack;

use std::path::PathBuf;

fn main() {
    for f in [
        "build.rs",
        "extension/data/pypi_top.tsv",
        "extension/data/pypi_malicious.tsv",
        "extension/typosquat/data.rs",
        "extension/typosquat/keys.rs",
        "extension/typosquat/pack.rs",
        "extension/python/name.rs",
    ] {
        println!("cargo:rerun-if-changed={f}");
    }
    let (top, bad_top) = data::parse_top(data::TOP_TSV, name::normalize_name);
    let (malicious, bad_mal) = data::parse_malicious(data::MALICIOUS_TSV, name::normalize_name);
    if bad_top + bad_mal > 0 {
        println!(
            "cargo:warning=typosquat data: skipped {bad_top} popular and {bad_mal} malicious malformed lines"
        );
    }
    let packed = pack::pack(top, malicious);
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    std::fs::write(out.join("typosquat_pool.txt"), packed.pool).expect("write the name pool");
    std::fs::write(out.join("typosquat_tables.bin"), packed.tables).expect("write the tables");
}
