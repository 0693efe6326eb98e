//! `nvidia_gpus`: one row per GPU NVML sees. No driver, no GPU, an NVML
//! that fails to start, or a `--root` other than `/` without `--nvml-lib`:
//! no rows, and the log says why.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use crate::gpu::nvml::{NvmlSource, Snapshot};
use crate::host::Host;
use crate::table::{Column, QueryContext, Row, Stage, Table, TableError};

/// NVML's utilisation figures cover its last sample period, which its
/// documentation puts between 1/6 s and 1 s depending on the product.
pub const UTILIZATION_WINDOW: &str = "last NVML sample period (1/6 s to 1 s, product-dependent)";

const COLUMNS: &[Column] = &[
    Column::integer("index", "NVML device index").index(),
    Column::text("uuid", "GPU UUID (GPU-...)"),
    Column::text("name", "Product name"),
    Column::text("driver_version", "NVIDIA driver version"),
    Column::text("cuda_version", "CUDA driver API version (major.minor)"),
    Column::integer(
        "utilization_gpu",
        "Percent of the sample period a kernel was running",
    ),
    Column::integer(
        "utilization_memory",
        "Percent of the sample period device memory was read or written",
    ),
    Column::text(
        "utilization_window",
        "The period the utilisation figures cover",
    ),
    Column::bigint("memory_used", "Device memory in use, bytes"),
    Column::bigint("memory_total", "Device memory, bytes"),
    Column::bigint("power_usage", "Power draw, milliwatts"),
    Column::integer("temperature", "GPU core temperature, degrees Celsius"),
    Column::text("nvml_library", "The NVML library that was loaded"),
    Column::text("status", "ok, or which readings NVML refused"),
];

/// Reads NVML for the GPU tables; shared so a join initialises it once.
#[derive(Debug)]
pub struct NvmlReader {
    host: Arc<Host>,
    library: Option<PathBuf>,
    source: NvmlSource,
    last_reason: Mutex<Option<String>>,
}

impl NvmlReader {
    /// A reader for `host`, with `--nvml-lib` when given.
    pub fn new(host: Arc<Host>, library: Option<PathBuf>) -> Self {
        NvmlReader {
            host,
            library,
            source: NvmlSource::default(),
            last_reason: Mutex::new(None),
        }
    }

    /// The current snapshot, or `None` (logged) when NVML cannot give one.
    pub fn snapshot(&self) -> Option<Snapshot> {
        match self.source.snapshot(&self.host, self.library.as_deref()) {
            Ok(s) => {
                if let Ok(mut l) = self.last_reason.lock() {
                    *l = None;
                }
                Some(s)
            }
            Err(reason) => {
                // Said once at info level; repeats (every scheduled query)
                // at debug.
                let repeat = self
                    .last_reason
                    .lock()
                    .map(|mut l| {
                        let same = l.as_deref() == Some(reason.as_str());
                        *l = Some(reason.clone());
                        same
                    })
                    .unwrap_or(false);
                // No driver, or an image: expected, said at info level. A
                // driver whose NVML fails is worth a warning.
                let expected = reason.starts_with("no NVIDIA driver")
                    || reason.starts_with("NVML describes the running machine");
                if repeat {
                    log::debug!("nvidia tables empty: {reason}");
                } else if expected {
                    log::info!("nvidia tables empty: {reason}");
                } else {
                    log::warn!("nvidia tables empty: {reason}");
                }
                None
            }
        }
    }
}

/// The `nvidia_gpus` table.
pub struct NvidiaGpus {
    reader: Arc<NvmlReader>,
}

impl NvidiaGpus {
    /// The table, reading through `reader`.
    pub fn new(reader: Arc<NvmlReader>) -> Self {
        NvidiaGpus { reader }
    }
}

impl Table for NvidiaGpus {
    fn name(&self) -> &'static str {
        "nvidia_gpus"
    }

    fn description(&self) -> &'static str {
        "NVIDIA GPUs seen through NVML: utilisation, memory, power, temperature, driver and CUDA versions."
    }

    fn stage(&self) -> Stage {
        Stage::Expose
    }

    fn columns(&self) -> &'static [Column] {
        COLUMNS
    }

    fn generate(&self, ctx: &QueryContext) -> Result<Vec<Row>, TableError> {
        let Some(snap) = self.reader.snapshot() else {
            return Ok(Vec::new());
        };
        let wanted = ctx.equals("index");
        Ok(snap
            .gpus
            .into_iter()
            .filter(|g| {
                wanted
                    .as_ref()
                    .is_none_or(|w| w.contains(&g.index.to_string()))
            })
            .map(|g| {
                let mut r = Row::new();
                r.int("index", g.index as i64)
                    .set("uuid", g.uuid)
                    .opt("name", g.name)
                    .opt("driver_version", g.driver_version)
                    .opt("cuda_version", g.cuda_version)
                    .opt("utilization_gpu", g.utilization_gpu.map(|v| v.to_string()))
                    .opt(
                        "utilization_memory",
                        g.utilization_memory.map(|v| v.to_string()),
                    )
                    .set("utilization_window", UTILIZATION_WINDOW)
                    .opt("memory_used", g.memory_used.map(|v| v.to_string()))
                    .opt("memory_total", g.memory_total.map(|v| v.to_string()))
                    .opt("power_usage", g.power_usage.map(|v| v.to_string()))
                    .opt("temperature", g.temperature.map(|v| v.to_string()))
                    .set("nvml_library", snap.library.to_string_lossy())
                    .set("status", g.status);
                r
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_image_without_nvml_lib_gives_no_rows_not_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let reader = Arc::new(NvmlReader::new(Arc::new(Host::new(dir.path())), None));
        let t = NvidiaGpus::new(reader);
        assert!(t.generate(&QueryContext::all()).unwrap().is_empty());
    }
}
