//! The GPUs and their processes through NVML (`nvml-wrapper`).
//!
//! NVML is loaded only by absolute path: `--nvml-lib` when given, else the
//! first `libnvidia-ml.so.1` found in the system library directories of the
//! live host, whose links must stay inside them. A bare-name `dlopen` would
//! let `LD_LIBRARY_PATH` or a planted library decide what squatch runs, so
//! it is never done. With another `--root` NVML would describe this
//! machine, not the image: the tables say so in the log and stay empty.
//!
//! No driver, no GPU, or an init failure is not an error of the query: the
//! reason is logged and the tables are empty.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use nvml_wrapper::enum_wrappers::device::TemperatureSensor;
use nvml_wrapper::enums::device::UsedGpuMemory;
use nvml_wrapper::Nvml;

use super::rules::builtin;
use crate::host::Host;

/// Where drivers install NVML (Debian/Ubuntu multiarch, Debian's
/// alternatives directory, Fedora/RHEL, Arch, WSL).
pub const NVML_CANDIDATES: &[&str] = &[
    "/usr/lib/x86_64-linux-gnu/libnvidia-ml.so.1",
    "/usr/lib/aarch64-linux-gnu/libnvidia-ml.so.1",
    "/usr/lib/x86_64-linux-gnu/nvidia/current/libnvidia-ml.so.1",
    "/usr/lib64/libnvidia-ml.so.1",
    "/usr/lib/libnvidia-ml.so.1",
    "/lib/x86_64-linux-gnu/libnvidia-ml.so.1",
    "/lib64/libnvidia-ml.so.1",
    "/usr/lib/wsl/lib/libnvidia-ml.so.1",
];

/// One GPU.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GpuInfo {
    /// NVML index.
    pub index: u32,
    /// `GPU-...` UUID.
    pub uuid: String,
    /// Product name.
    pub name: Option<String>,
    /// Driver version.
    pub driver_version: Option<String>,
    /// CUDA driver version, `major.minor`.
    pub cuda_version: Option<String>,
    /// Percent of the last sample period a kernel ran.
    pub utilization_gpu: Option<u32>,
    /// Percent of the last sample period memory was read or written.
    pub utilization_memory: Option<u32>,
    /// Bytes of memory in use.
    pub memory_used: Option<u64>,
    /// Bytes of memory.
    pub memory_total: Option<u64>,
    /// Milliwatts.
    pub power_usage: Option<u32>,
    /// Degrees Celsius.
    pub temperature: Option<u32>,
    /// `ok`, or which readings failed.
    pub status: String,
}

/// One process on a GPU.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GpuProcess {
    /// The GPU's UUID.
    pub gpu_uuid: String,
    /// The GPU's index.
    pub gpu_index: u32,
    /// Process id (in the host's pid namespace).
    pub pid: u32,
    /// `compute` or `graphics`.
    pub kind: &'static str,
    /// Bytes of GPU memory, when NVML knows.
    pub used_memory: Option<u64>,
}

/// What NVML showed at one moment.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    /// The library that was loaded.
    pub library: PathBuf,
    /// Every GPU.
    pub gpus: Vec<GpuInfo>,
    /// Every process on any GPU.
    pub processes: Vec<GpuProcess>,
}

/// The NVML library to load for `host`, or why there is none.
pub fn library_path(host: &Host, override_path: Option<&Path>) -> Result<PathBuf, String> {
    if let Some(p) = override_path {
        if !p.is_absolute() {
            return Err(format!(
                "--nvml-lib {} is not an absolute path; refusing a search-path load",
                p.display()
            ));
        }
        return Ok(p.to_path_buf());
    }
    if !host.is_live() {
        return Err(format!(
            "NVML describes the running machine, not --root {}; give --nvml-lib to read it anyway",
            host.root().display()
        ));
    }
    let rules = builtin();
    for c in NVML_CANDIDATES {
        let p = Path::new(c);
        let Ok(real) = std::fs::canonicalize(p) else {
            continue;
        };
        if !rules.is_system_lib(&real) {
            return Err(format!(
                "{c} leads to {}, outside the system library directories; not loading it",
                real.display()
            ));
        }
        return Ok(p.to_path_buf());
    }
    Err("no NVIDIA driver: libnvidia-ml.so.1 is in none of the system library directories".into())
}

/// Loaded NVML, kept between queries (initialisation can take a second).
#[derive(Default)]
pub struct NvmlSource {
    loaded: Mutex<Option<(PathBuf, Nvml)>>,
}

impl std::fmt::Debug for NvmlSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NvmlSource")
    }
}

fn opt<T>(
    r: Result<T, nvml_wrapper::error::NvmlError>,
    what: &str,
    failed: &mut Vec<String>,
) -> Option<T> {
    match r {
        Ok(v) => Some(v),
        Err(nvml_wrapper::error::NvmlError::NotSupported) => None,
        Err(e) => {
            failed.push(format!("{what}: {e}"));
            None
        }
    }
}

impl NvmlSource {
    /// A snapshot of the GPUs, or why NVML could not give one (logged by
    /// the caller).
    pub fn snapshot(&self, host: &Host, override_path: Option<&Path>) -> Result<Snapshot, String> {
        let lib = library_path(host, override_path)?;
        let mut slot = self
            .loaded
            .lock()
            .map_err(|_| "NVML lock poisoned".to_string())?;
        if slot.as_ref().is_some_and(|(p, _)| *p != lib) {
            *slot = None;
        }
        if slot.is_none() {
            let nvml = Nvml::builder()
                .lib_path(OsStr::new(lib.as_os_str()))
                .init()
                .map_err(|e| format!("NVML ({}) did not initialise: {e}", lib.display()))?;
            *slot = Some((lib.clone(), nvml));
        }
        let Some((_, nvml)) = slot.as_ref() else {
            return Err("NVML not loaded".into());
        };
        match read(nvml, &lib) {
            Ok(s) => Ok(s),
            Err(e) => {
                // Driver reloaded or GPU lost: start afresh next time.
                *slot = None;
                Err(e)
            }
        }
    }
}

fn read(nvml: &Nvml, lib: &Path) -> Result<Snapshot, String> {
    let count = nvml
        .device_count()
        .map_err(|e| format!("NVML device count: {e}"))?;
    let driver = nvml.sys_driver_version().ok();
    let cuda = nvml.sys_cuda_driver_version().ok().map(|v| {
        format!(
            "{}.{}",
            nvml_wrapper::cuda_driver_version_major(v),
            nvml_wrapper::cuda_driver_version_minor(v)
        )
    });
    let mut snap = Snapshot {
        library: lib.to_path_buf(),
        ..Default::default()
    };
    for index in 0..count {
        let mut failed = Vec::new();
        let dev = match nvml.device_by_index(index) {
            Ok(d) => d,
            Err(e) => {
                snap.gpus.push(GpuInfo {
                    index,
                    status: format!("device {index}: {e}"),
                    ..Default::default()
                });
                continue;
            }
        };
        let uuid = opt(dev.uuid(), "uuid", &mut failed).unwrap_or_default();
        let util = opt(dev.utilization_rates(), "utilization", &mut failed);
        let mem = opt(dev.memory_info(), "memory", &mut failed);
        let gpu = GpuInfo {
            index,
            uuid: uuid.clone(),
            name: opt(dev.name(), "name", &mut failed),
            driver_version: driver.clone(),
            cuda_version: cuda.clone(),
            utilization_gpu: util.as_ref().map(|u| u.gpu),
            utilization_memory: util.as_ref().map(|u| u.memory),
            memory_used: mem.as_ref().map(|m| m.used),
            memory_total: mem.as_ref().map(|m| m.total),
            power_usage: opt(dev.power_usage(), "power", &mut failed),
            temperature: opt(
                dev.temperature(TemperatureSensor::Gpu),
                "temperature",
                &mut failed,
            ),
            status: String::new(),
        };
        for (kind, procs) in [
            (
                "compute",
                opt(
                    dev.running_compute_processes(),
                    "compute processes",
                    &mut failed,
                ),
            ),
            (
                "graphics",
                opt(
                    dev.running_graphics_processes(),
                    "graphics processes",
                    &mut failed,
                ),
            ),
        ] {
            for p in procs.unwrap_or_default() {
                snap.processes.push(GpuProcess {
                    gpu_uuid: uuid.clone(),
                    gpu_index: index,
                    pid: p.pid,
                    kind,
                    used_memory: match p.used_gpu_memory {
                        UsedGpuMemory::Used(b) => Some(b),
                        UsedGpuMemory::Unavailable => None,
                    },
                });
            }
        }
        let status = if failed.is_empty() {
            "ok".to_string()
        } else {
            failed.join("; ")
        };
        snap.gpus.push(GpuInfo { status, ..gpu });
    }
    Ok(snap)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_a_bare_name_and_not_for_an_image() {
        let h = Host::new("/");
        assert!(library_path(&h, Some(Path::new("libnvidia-ml.so.1")))
            .unwrap_err()
            .contains("not an absolute path"));
        let img = Host::new("/mnt/image");
        assert!(library_path(&img, None)
            .unwrap_err()
            .contains("--root /mnt/image"));
        assert_eq!(
            library_path(&img, Some(Path::new("/opt/stub/libnvidia-ml.so.1"))).unwrap(),
            Path::new("/opt/stub/libnvidia-ml.so.1")
        );
    }
}
