//! `nvidia_gpu_processes`: one row per process NVML says runs on a GPU,
//! with its name and executable from `<root>/proc`.

use std::sync::Arc;

use super::nvidia_gpus::NvmlReader;
use crate::gpu::procinfo::process_info;
use crate::host::Host;
use crate::table::{Column, QueryContext, Row, Stage, Table, TableError};

const COLUMNS: &[Column] = &[
    Column::text("gpu_uuid", "UUID of the GPU"),
    Column::integer("gpu_index", "NVML index of the GPU"),
    Column::bigint("pid", "Process id").index(),
    Column::text("process_name", "Process name (/proc/<pid>/comm)"),
    Column::text(
        "path",
        "Executable (/proc/<pid>/exe), without the ' (deleted)' suffix",
    ),
    Column::integer(
        "exe_deleted",
        "1 when the executable was deleted after it started",
    ),
    Column::integer(
        "exe_in_world_writable_dir",
        "1 when the executable's directory is world-writable (/tmp, /dev/shm, ...)",
    ),
    Column::bigint("uid", "Real uid of the process"),
    Column::bigint("used_memory", "GPU memory the process uses, bytes"),
    Column::text("kind", "compute or graphics"),
    Column::text("status", "ok, or why /proc could not tell more"),
];

/// The `nvidia_gpu_processes` table.
pub struct NvidiaGpuProcesses {
    host: Arc<Host>,
    reader: Arc<NvmlReader>,
}

impl NvidiaGpuProcesses {
    /// The table, reading through `reader` and the host's `/proc`.
    pub fn new(host: Arc<Host>, reader: Arc<NvmlReader>) -> Self {
        NvidiaGpuProcesses { host, reader }
    }
}

impl Table for NvidiaGpuProcesses {
    fn name(&self) -> &'static str {
        "nvidia_gpu_processes"
    }

    fn description(&self) -> &'static str {
        "Processes running on NVIDIA GPUs (NVML), with name and executable from /proc: spot a miner that is not a training job."
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
        let wanted = ctx.equals("pid");
        let proc_cols = ctx.any_used(&[
            "process_name",
            "path",
            "exe_deleted",
            "exe_in_world_writable_dir",
            "uid",
            "status",
        ]);
        Ok(snap
            .processes
            .into_iter()
            .filter(|p| {
                wanted
                    .as_ref()
                    .is_none_or(|w| w.contains(&p.pid.to_string()))
            })
            .map(|p| {
                let mut r = Row::new();
                r.set("gpu_uuid", p.gpu_uuid)
                    .int("gpu_index", p.gpu_index as i64)
                    .int("pid", p.pid as i64)
                    .opt("used_memory", p.used_memory.map(|v| v.to_string()))
                    .set("kind", p.kind);
                if proc_cols {
                    let info = process_info(&self.host, p.pid);
                    r.opt("process_name", info.name)
                        .opt("path", info.exe.clone())
                        .bool("exe_deleted", info.exe_deleted)
                        .bool("exe_in_world_writable_dir", info.exe_in_world_writable_dir)
                        .opt("uid", info.uid.map(|u| u.to_string()))
                        .set("status", info.status);
                }
                r
            })
            .collect())
    }
}
