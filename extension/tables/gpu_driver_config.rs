//! `gpu_driver_config`: one row per file on the NVIDIA driver's loading path
//! and per rule hit in it (a file without hits has one row with no
//! `rule_id`).

use std::sync::Arc;

use crate::gpu::rules::builtin;
use crate::gpu::{scan_driver_config, Category, ConfigEntry, ScanCaches, ScanOptions};
use crate::host::Host;
use crate::table::{Column, QueryContext, Row, Stage, Table, TableError};

const COLUMNS: &[Column] = &[
    Column::text("path", "File on the loading path (WHERE path = ... examines only that file)").index(),
    Column::text("category", "ld_preload, ld_conf, modprobe, vulkan_icd, vulkan_layer, egl_vendor, egl_external_platform, opencl_icd, container_toolkit, oci_hook, cdi_spec, udev_rule, systemd_unit, environment, kernel_module, firmware or library (WHERE category = ... scans only that)").additional(),
    Column::text("sha256", "SHA-256 of the file (of its target, for a link); computed only when selected, cached by file version"),
    Column::bigint("size", "Size in bytes"),
    Column::text("mode", "Permission bits, octal"),
    Column::bigint("uid", "Owner uid"),
    Column::bigint("gid", "Owner gid"),
    Column::bigint("mtime", "Modification time, Unix seconds"),
    Column::text("package", "Package that installed the file (dpkg or rpm); empty when none owns it"),
    Column::text("package_version", "Installed version of that package"),
    Column::integer("package_digest_match", "1 when the file matches the package's digest, 0 when it differs, -1 when unknown (no package, no digest, or a large file whose digest was not asked for)"),
    Column::text("rule_id", "Rule that fired (extension/gpu/rules.toml); empty when none"),
    Column::text("finding", "What was found, in words"),
    Column::text("severity", "info, low, medium, high or critical"),
    Column::integer("line", "Line of the file the finding is on"),
    Column::text("target", "Where a symbolic link leads, inside the examined root"),
    Column::text("library", "Libraries a loader manifest makes the loader open, resolved as the loader would, ':'-separated"),
    Column::text("status", "ok, or why the file could not be examined"),
];

/// The `gpu_driver_config` table.
pub struct GpuDriverConfig {
    host: Arc<Host>,
    caches: ScanCaches,
}

impl GpuDriverConfig {
    /// The table for a host.
    pub fn new(host: Arc<Host>) -> Self {
        GpuDriverConfig {
            host,
            caches: ScanCaches::default(),
        }
    }

    /// The caches (for benchmarks and tests).
    pub fn caches(&self) -> &ScanCaches {
        &self.caches
    }
}

fn rows_of(e: ConfigEntry, category_shown: &str) -> Vec<Row> {
    let rules = builtin();
    let mut base = Row::new();
    base.set("path", e.path.clone())
        .set("category", category_shown.to_string())
        .opt("sha256", e.sha256.clone())
        .opt("size", e.size.map(|v| v.to_string()))
        .opt("mode", e.mode.map(|m| format!("{m:04o}")))
        .opt("uid", e.uid.map(|v| v.to_string()))
        .opt("gid", e.gid.map(|v| v.to_string()))
        .opt("mtime", e.mtime.map(|v| v.to_string()))
        .opt("package", e.package.clone())
        .opt("package_version", e.package_version.clone())
        .int("package_digest_match", e.package_digest_match as i64)
        .opt("target", e.target.clone())
        .set("status", e.status.clone());
    if !e.loads.is_empty() {
        base.set("library", e.loads.join(":"));
    }
    if e.hits.is_empty() {
        return vec![base];
    }
    e.hits
        .iter()
        .map(|h| {
            let mut r = base.clone();
            let rationale = rules
                .get(h.rule_id)
                .map(|r| r.rationale.as_str())
                .unwrap_or("");
            r.set("rule_id", h.rule_id)
                .set("finding", format!("{rationale}: {}", h.detail))
                .set("severity", rules.severity(h.rule_id).as_str())
                .opt("line", h.line.map(|l| l.to_string()));
            r
        })
        .collect()
}

impl Table for GpuDriverConfig {
    fn name(&self) -> &'static str {
        "gpu_driver_config"
    }

    fn description(&self) -> &'static str {
        "Files on the NVIDIA driver's loading path (ld.so.preload, modprobe.d, Vulkan/EGL/OpenCL manifests, container toolkit, OCI hooks, CDI specs, udev/systemd, environment files, modules, firmware, libraries), their package and digest match, and rule hits."
    }

    fn stage(&self) -> Stage {
        Stage::Expose
    }

    fn columns(&self) -> &'static [Column] {
        COLUMNS
    }

    fn generate(&self, ctx: &QueryContext) -> Result<Vec<Row>, TableError> {
        let categories = match ctx.equals("category") {
            Some(words) => {
                let cats: Vec<Category> = words.iter().filter_map(|w| Category::parse(w)).collect();
                if cats.is_empty() {
                    return Ok(Vec::new());
                }
                Some(cats)
            }
            None => None,
        };
        let opts = ScanOptions {
            paths: ctx.equals("path"),
            categories,
            sha256: ctx.is_used("sha256"),
            digest_match: ctx.is_used("package_digest_match"),
        };
        let entries = scan_driver_config(&self.host, &opts, &self.caches);
        Ok(entries
            .into_iter()
            .flat_map(|e| {
                let cat = e.category;
                rows_of(e, cat)
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::Operator;

    #[test]
    fn schema_has_the_contract_columns() {
        let names: Vec<&str> = COLUMNS.iter().map(|c| c.name).collect();
        for c in [
            "path",
            "category",
            "sha256",
            "size",
            "mode",
            "uid",
            "mtime",
            "package",
            "package_digest_match",
            "finding",
            "severity",
            "rule_id",
            "status",
        ] {
            assert!(names.contains(&c), "{c}");
        }
    }

    #[test]
    fn constraints_scan_only_what_they_name() {
        let dir = tempfile::tempdir().unwrap();
        let r = dir.path();
        std::fs::create_dir_all(r.join("etc/modprobe.d")).unwrap();
        std::fs::write(r.join("etc/ld.so.preload"), "/tmp/x.so\n").unwrap();
        std::fs::write(
            r.join("etc/modprobe.d/nvidia.conf"),
            "install nvidia modprobe -i nvidia-current $CMDLINE_OPTS\n",
        )
        .unwrap();
        let t = GpuDriverConfig::new(Arc::new(Host::new(r)));
        let all = t.generate(&QueryContext::all()).unwrap();
        assert_eq!(all.len(), 2);
        let only = t
            .generate(&QueryContext::all().with("category", Operator::Equals, "modprobe"))
            .unwrap();
        assert_eq!(only.len(), 1);
        assert_eq!(only[0].get("category"), Some("modprobe"));
        assert_eq!(only[0].get("rule_id"), None);
        let p = t
            .generate(&QueryContext::all().with("path", Operator::Equals, "/etc/ld.so.preload"))
            .unwrap();
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].get("rule_id"), Some("ld-preload-entry"));
        assert_eq!(p[0].get("severity"), Some("high"));
        assert!(t
            .generate(&QueryContext::all().with("category", Operator::Equals, "nonsense"))
            .unwrap()
            .is_empty());
    }
}
