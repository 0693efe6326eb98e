//! The loading-path inventory: where, on a Linux host, a file edit makes the
//! NVIDIA driver (or the loaders around it) run code or load a library, and
//! which files are there now, by category.
//!
//! Locations are data ([`LOCATIONS`]); `$HOME` stands for every user's home.
//! Directories reached twice (a merged `/usr`, where `/lib` links to
//! `usr/lib`) are listed once.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::host::Host;

/// What part of the loading path a file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Category {
    /// `/etc/ld.so.preload`.
    LdPreload,
    /// `/etc/ld.so.conf` and `/etc/ld.so.conf.d/*.conf`.
    LdConf,
    /// `modprobe.d/*.conf`.
    Modprobe,
    /// Vulkan ICD manifests.
    VulkanIcd,
    /// Vulkan implicit and explicit layer manifests.
    VulkanLayer,
    /// glvnd EGL vendor manifests.
    EglVendor,
    /// EGL external platform manifests (the Wayland/GBM glue).
    EglExternalPlatform,
    /// OpenCL ICD files.
    OpenclIcd,
    /// The container toolkit's config and programs.
    ContainerToolkit,
    /// OCI hook manifests.
    OciHook,
    /// CDI specs.
    CdiSpec,
    /// udev rules that mention the GPU.
    UdevRule,
    /// systemd units and drop-ins that mention the GPU or a loader variable.
    SystemdUnit,
    /// System-wide environment files.
    Environment,
    /// NVIDIA kernel modules.
    KernelModule,
    /// GSP firmware.
    Firmware,
    /// Driver user-space libraries.
    Library,
}

impl Category {
    /// Every category, in row order.
    pub const ALL: [Category; 17] = [
        Category::LdPreload,
        Category::LdConf,
        Category::Modprobe,
        Category::VulkanIcd,
        Category::VulkanLayer,
        Category::EglVendor,
        Category::EglExternalPlatform,
        Category::OpenclIcd,
        Category::ContainerToolkit,
        Category::OciHook,
        Category::CdiSpec,
        Category::UdevRule,
        Category::SystemdUnit,
        Category::Environment,
        Category::KernelModule,
        Category::Firmware,
        Category::Library,
    ];

    /// The word in the `category` column.
    pub fn as_str(self) -> &'static str {
        match self {
            Category::LdPreload => "ld_preload",
            Category::LdConf => "ld_conf",
            Category::Modprobe => "modprobe",
            Category::VulkanIcd => "vulkan_icd",
            Category::VulkanLayer => "vulkan_layer",
            Category::EglVendor => "egl_vendor",
            Category::EglExternalPlatform => "egl_external_platform",
            Category::OpenclIcd => "opencl_icd",
            Category::ContainerToolkit => "container_toolkit",
            Category::OciHook => "oci_hook",
            Category::CdiSpec => "cdi_spec",
            Category::UdevRule => "udev_rule",
            Category::SystemdUnit => "systemd_unit",
            Category::Environment => "environment",
            Category::KernelModule => "kernel_module",
            Category::Firmware => "firmware",
            Category::Library => "library",
        }
    }

    /// Parses a `category` word.
    pub fn parse(word: &str) -> Option<Category> {
        Category::ALL.into_iter().find(|c| c.as_str() == word)
    }

    /// True for binaries (modules, firmware, libraries, toolkit programs'
    /// category excluded): hashed only when a query asks for a digest.
    pub fn is_large(self) -> bool {
        matches!(
            self,
            Category::KernelModule | Category::Firmware | Category::Library
        )
    }

    /// True when only files whose path or text mentions the GPU (or whose
    /// text names a loader variable) belong to the category.
    pub fn needs_mention(self) -> bool {
        matches!(self, Category::UdevRule | Category::SystemdUnit)
    }
}

/// Which names of a directory belong to the inventory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Names {
    /// One file (the location's `dir` is the file).
    Exact,
    /// Every regular file or link.
    Any,
    /// Names ending with the suffix.
    Suffix(&'static str),
    /// Names ending with either suffix.
    Suffixes(&'static [&'static str]),
    /// systemd unit files and drop-in `*.d/*.conf`.
    Units,
    /// NVIDIA kernel modules, at any depth (`nvidia*.ko*`).
    KernelModules,
    /// GSP firmware, at any depth (`gsp*`).
    GspFirmware,
    /// NVIDIA driver libraries (`libnvidia-*.so*`, `libcuda.so*`, ...).
    DriverLibraries,
    /// The container toolkit's programs.
    ToolkitPrograms,
}

/// One place files of a category live.
#[derive(Debug, Clone, Copy)]
pub struct Location {
    /// Host path of the directory (or the file, for [`Names::Exact`]);
    /// `$HOME` for each home, `$TRIPLET` for each multiarch directory name.
    pub dir: &'static str,
    /// What the files there are.
    pub category: Category,
    /// Which names count.
    pub names: Names,
}

const fn loc(dir: &'static str, category: Category, names: Names) -> Location {
    Location {
        dir,
        category,
        names,
    }
}

use Category as C;
use Names as N;

/// Every location on the loading path.
pub const LOCATIONS: &[Location] = &[
    loc("/etc/ld.so.preload", C::LdPreload, N::Exact),
    loc("/etc/ld.so.conf", C::LdConf, N::Exact),
    loc("/etc/ld.so.conf.d", C::LdConf, N::Suffix(".conf")),
    loc("/etc/modprobe.d", C::Modprobe, N::Suffix(".conf")),
    loc("/run/modprobe.d", C::Modprobe, N::Suffix(".conf")),
    loc("/usr/local/lib/modprobe.d", C::Modprobe, N::Suffix(".conf")),
    loc("/usr/lib/modprobe.d", C::Modprobe, N::Suffix(".conf")),
    loc("/lib/modprobe.d", C::Modprobe, N::Suffix(".conf")),
    loc("/etc/vulkan/icd.d", C::VulkanIcd, N::Suffix(".json")),
    loc("/usr/share/vulkan/icd.d", C::VulkanIcd, N::Suffix(".json")),
    loc(
        "/usr/local/share/vulkan/icd.d",
        C::VulkanIcd,
        N::Suffix(".json"),
    ),
    loc("/etc/xdg/vulkan/icd.d", C::VulkanIcd, N::Suffix(".json")),
    loc(
        "$HOME/.local/share/vulkan/icd.d",
        C::VulkanIcd,
        N::Suffix(".json"),
    ),
    loc(
        "$HOME/.config/vulkan/icd.d",
        C::VulkanIcd,
        N::Suffix(".json"),
    ),
    loc(
        "/etc/vulkan/implicit_layer.d",
        C::VulkanLayer,
        N::Suffix(".json"),
    ),
    loc(
        "/usr/share/vulkan/implicit_layer.d",
        C::VulkanLayer,
        N::Suffix(".json"),
    ),
    loc(
        "/usr/local/share/vulkan/implicit_layer.d",
        C::VulkanLayer,
        N::Suffix(".json"),
    ),
    loc(
        "/etc/xdg/vulkan/implicit_layer.d",
        C::VulkanLayer,
        N::Suffix(".json"),
    ),
    loc(
        "$HOME/.local/share/vulkan/implicit_layer.d",
        C::VulkanLayer,
        N::Suffix(".json"),
    ),
    loc(
        "$HOME/.config/vulkan/implicit_layer.d",
        C::VulkanLayer,
        N::Suffix(".json"),
    ),
    loc(
        "/etc/vulkan/explicit_layer.d",
        C::VulkanLayer,
        N::Suffix(".json"),
    ),
    loc(
        "/usr/share/vulkan/explicit_layer.d",
        C::VulkanLayer,
        N::Suffix(".json"),
    ),
    loc(
        "/usr/local/share/vulkan/explicit_layer.d",
        C::VulkanLayer,
        N::Suffix(".json"),
    ),
    loc(
        "/etc/xdg/vulkan/explicit_layer.d",
        C::VulkanLayer,
        N::Suffix(".json"),
    ),
    loc(
        "$HOME/.local/share/vulkan/explicit_layer.d",
        C::VulkanLayer,
        N::Suffix(".json"),
    ),
    loc(
        "$HOME/.config/vulkan/explicit_layer.d",
        C::VulkanLayer,
        N::Suffix(".json"),
    ),
    loc("/etc/glvnd/egl_vendor.d", C::EglVendor, N::Suffix(".json")),
    loc(
        "/usr/share/glvnd/egl_vendor.d",
        C::EglVendor,
        N::Suffix(".json"),
    ),
    loc(
        "/etc/egl/egl_external_platform.d",
        C::EglExternalPlatform,
        N::Suffix(".json"),
    ),
    loc(
        "/usr/share/egl/egl_external_platform.d",
        C::EglExternalPlatform,
        N::Suffix(".json"),
    ),
    loc("/etc/OpenCL/vendors", C::OpenclIcd, N::Suffix(".icd")),
    loc(
        "/etc/nvidia-container-runtime/config.toml",
        C::ContainerToolkit,
        N::Exact,
    ),
    loc("/usr/bin", C::ContainerToolkit, N::ToolkitPrograms),
    loc(
        "/usr/share/containers/oci/hooks.d",
        C::OciHook,
        N::Suffix(".json"),
    ),
    loc(
        "/etc/containers/oci/hooks.d",
        C::OciHook,
        N::Suffix(".json"),
    ),
    loc(
        "/etc/cdi",
        C::CdiSpec,
        N::Suffixes(&[".json", ".yaml", ".yml"]),
    ),
    loc(
        "/var/run/cdi",
        C::CdiSpec,
        N::Suffixes(&[".json", ".yaml", ".yml"]),
    ),
    loc(
        "/run/cdi",
        C::CdiSpec,
        N::Suffixes(&[".json", ".yaml", ".yml"]),
    ),
    loc("/etc/udev/rules.d", C::UdevRule, N::Suffix(".rules")),
    loc("/run/udev/rules.d", C::UdevRule, N::Suffix(".rules")),
    loc("/usr/lib/udev/rules.d", C::UdevRule, N::Suffix(".rules")),
    loc("/lib/udev/rules.d", C::UdevRule, N::Suffix(".rules")),
    loc("/etc/systemd/system", C::SystemdUnit, N::Units),
    loc("/run/systemd/system", C::SystemdUnit, N::Units),
    loc("/usr/local/lib/systemd/system", C::SystemdUnit, N::Units),
    loc("/usr/lib/systemd/system", C::SystemdUnit, N::Units),
    loc("/lib/systemd/system", C::SystemdUnit, N::Units),
    loc("/etc/environment", C::Environment, N::Exact),
    loc("/etc/profile.d", C::Environment, N::Any),
    loc("/etc/security/pam_env.conf", C::Environment, N::Exact),
    loc(
        "/etc/systemd/system.conf.d",
        C::Environment,
        N::Suffix(".conf"),
    ),
    loc("/etc/environment.d", C::Environment, N::Suffix(".conf")),
    loc("/usr/lib/modules", C::KernelModule, N::KernelModules),
    loc("/lib/modules", C::KernelModule, N::KernelModules),
    loc("/usr/lib/firmware/nvidia", C::Firmware, N::GspFirmware),
    loc("/lib/firmware/nvidia", C::Firmware, N::GspFirmware),
    loc("/usr/lib/$TRIPLET", C::Library, N::DriverLibraries),
    loc(
        "/usr/lib/$TRIPLET/nvidia/current",
        C::Library,
        N::DriverLibraries,
    ),
    loc("/usr/lib/$TRIPLET/gbm", C::Library, N::DriverLibraries),
    loc("/lib/$TRIPLET", C::Library, N::DriverLibraries),
    loc("/usr/lib64", C::Library, N::DriverLibraries),
    loc("/usr/lib64/gbm", C::Library, N::DriverLibraries),
    loc("/usr/lib", C::Library, N::DriverLibraries),
    loc("/lib64", C::Library, N::DriverLibraries),
    loc(
        "/usr/lib/xorg/modules/drivers",
        C::Library,
        N::DriverLibraries,
    ),
    loc(
        "/usr/lib/xorg/modules/extensions",
        C::Library,
        N::DriverLibraries,
    ),
    loc(
        "/usr/lib64/xorg/modules/drivers",
        C::Library,
        N::DriverLibraries,
    ),
    loc(
        "/usr/lib64/xorg/modules/extensions",
        C::Library,
        N::DriverLibraries,
    ),
];

/// The container toolkit's programs.
pub const TOOLKIT_PROGRAMS: &[&str] = &[
    "nvidia-container-runtime",
    "nvidia-container-runtime-hook",
    "nvidia-container-toolkit",
    "nvidia-container-cli",
    "nvidia-ctk",
    "nvidia-cdi-hook",
];

/// Deepest a recursive location (kernel modules, firmware) is walked.
const MAX_DEPTH: usize = 8;

impl Names {
    /// True when a file called `name` belongs to the location.
    pub fn matches(self, name: &str) -> bool {
        match self {
            Names::Exact | Names::Any => !name.starts_with('.'),
            Names::Suffix(s) => name.ends_with(s),
            Names::Suffixes(list) => list.iter().any(|s| name.ends_with(s)),
            Names::Units => {
                const KINDS: &[&str] = &[
                    ".service", ".socket", ".timer", ".path", ".mount", ".target",
                ];
                KINDS.iter().any(|k| name.ends_with(k))
            }
            Names::KernelModules => {
                name.starts_with("nvidia")
                    && [".ko", ".ko.xz", ".ko.zst", ".ko.gz"]
                        .iter()
                        .any(|s| name.ends_with(s))
            }
            Names::GspFirmware => name.starts_with("gsp"),
            Names::DriverLibraries => is_driver_library(name),
            Names::ToolkitPrograms => TOOLKIT_PROGRAMS.contains(&name),
        }
    }

    fn recursive(self) -> bool {
        matches!(self, Names::KernelModules | Names::GspFirmware)
    }
}

/// True for the file names of NVIDIA's user-space driver libraries.
pub fn is_driver_library(name: &str) -> bool {
    if !name.contains(".so") {
        return false;
    }
    name.starts_with("libnvidia-")
        || name.starts_with("libcuda.so")
        || name.starts_with("libcudadebugger.so")
        || name.starts_with("libnvcuvid.so")
        || name.starts_with("libnvoptix.so")
        || name.starts_with("libEGL_nvidia.so")
        || name.starts_with("libGLX_nvidia.so")
        || name.starts_with("libGLESv1_CM_nvidia.so")
        || name.starts_with("libGLESv2_nvidia.so")
        || name.starts_with("libglxserver_nvidia.so")
        || name.starts_with("nvidia_drv.so")
        || name.starts_with("nvidia-drm_gbm.so")
}

/// One file of the inventory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// Host path, as the row shows it.
    pub path: PathBuf,
    /// Its category.
    pub category: Category,
    /// True when the file lies in a user's home (owned by that user).
    pub in_home: bool,
    /// True when the path's directory was resolved by the listing (no
    /// symlink in it), so the file can be reached with one `lstat`.
    pub listed: bool,
}

/// A location with `$HOME`/`$TRIPLET` expanded.
#[derive(Debug, Clone)]
struct Expanded {
    dir: PathBuf,
    category: Category,
    names: Names,
    in_home: bool,
}

fn triplets(host: &Host) -> Vec<String> {
    let mut out = BTreeSet::new();
    for base in ["/usr/lib", "/lib"] {
        if let Ok(entries) = host.read_dir(Path::new(base)) {
            for e in entries {
                let n = e.name_lossy();
                if n.contains("-linux-gnu") && !n.starts_with('.') {
                    out.insert(n);
                }
            }
        }
    }
    out.into_iter().collect()
}

fn expand(host: &Host, categories: Option<&[Category]>) -> Vec<Expanded> {
    let wanted = |c: Category| categories.is_none_or(|cs| cs.contains(&c));
    let needs_home = LOCATIONS
        .iter()
        .any(|l| wanted(l.category) && l.dir.starts_with("$HOME"));
    let homes: Vec<PathBuf> = if needs_home {
        host.home_dirs().into_iter().map(|(h, _)| h).collect()
    } else {
        Vec::new()
    };
    let needs_triplet = LOCATIONS
        .iter()
        .any(|l| wanted(l.category) && l.dir.contains("$TRIPLET"));
    let trips = if needs_triplet {
        triplets(host)
    } else {
        Vec::new()
    };
    let mut out = Vec::new();
    for l in LOCATIONS.iter().filter(|l| wanted(l.category)) {
        if let Some(rest) = l.dir.strip_prefix("$HOME/") {
            for h in &homes {
                out.push(Expanded {
                    dir: h.join(rest),
                    category: l.category,
                    names: l.names,
                    in_home: true,
                });
            }
        } else if l.dir.contains("$TRIPLET") {
            for t in &trips {
                out.push(Expanded {
                    dir: PathBuf::from(l.dir.replace("$TRIPLET", t)),
                    category: l.category,
                    names: l.names,
                    in_home: false,
                });
            }
        } else {
            out.push(Expanded {
                dir: PathBuf::from(l.dir),
                category: l.category,
                names: l.names,
                in_home: false,
            });
        }
    }
    out
}

/// Every file on the loading path of the given categories (all when `None`),
/// in location order, each directory listed once however many links lead
/// to it. Unreadable directories are returned in `problems` with the reason.
pub fn inventory(
    host: &Host,
    categories: Option<&[Category]>,
) -> (Vec<Candidate>, Vec<(PathBuf, Category, String)>) {
    let mut out = Vec::new();
    let mut problems = Vec::new();
    let mut seen_dirs = BTreeSet::new();
    let mut seen_files = BTreeSet::new();
    for loc in expand(host, categories) {
        if loc.names == Names::Exact {
            if host.symlink_metadata(&loc.dir).is_ok() && seen_files.insert(loc.dir.clone()) {
                out.push(Candidate {
                    path: loc.dir.clone(),
                    category: loc.category,
                    in_home: loc.in_home,
                    listed: false,
                });
            }
            continue;
        }
        let resolved = match host.resolve(&loc.dir) {
            Ok(r) => r,
            Err(e) => {
                problems.push((loc.dir.clone(), loc.category, e.to_string()));
                continue;
            }
        };
        if !seen_dirs.insert((resolved.clone(), loc.category)) {
            continue;
        }
        walk(
            host,
            &resolved,
            &loc,
            0,
            &mut out,
            &mut problems,
            &mut seen_files,
        );
    }
    (out, problems)
}

fn walk(
    host: &Host,
    dir: &Path,
    loc: &Expanded,
    depth: usize,
    out: &mut Vec<Candidate>,
    problems: &mut Vec<(PathBuf, Category, String)>,
    seen: &mut BTreeSet<PathBuf>,
) {
    let entries = match host.read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.is_not_found() => return,
        Err(e) => {
            if depth == 0 || e.is_permission_denied() {
                problems.push((dir.to_path_buf(), loc.category, e.to_string()));
            }
            return;
        }
    };
    for e in entries {
        let name = e.name_lossy();
        if e.file_type.is_dir() {
            let descend = loc.names.recursive()
                || (loc.names == Names::Units && name.ends_with(".d") && depth == 0);
            if descend && depth < MAX_DEPTH {
                let mut sub = loc.clone();
                if loc.names == Names::Units {
                    sub.names = Names::Suffix(".conf");
                }
                walk(host, &e.path, &sub, depth + 1, out, problems, seen);
            }
            continue;
        }
        if !(e.file_type.is_file() || e.file_type.is_symlink()) {
            continue;
        }
        if loc.names.matches(&name) && seen.insert(e.path.clone()) {
            out.push(Candidate {
                path: e.path,
                category: loc.category,
                in_home: loc.in_home,
                listed: true,
            });
        }
    }
}

/// The category of a host path, when it lies on the loading path (for
/// `WHERE path = ...`, which looks at that file only). The path is matched
/// as given and, failing that, with its directory's links resolved.
pub fn classify(host: &Host, path: &Path) -> Option<Candidate> {
    let norm = Host::normalize(path);
    let name = norm.file_name()?.to_string_lossy().into_owned();
    let parent = norm.parent()?.to_path_buf();
    let resolved_parent = host.resolve(&parent).ok();
    for loc in expand(host, None) {
        let hit = if loc.names == Names::Exact {
            loc.dir == norm
        } else if loc.names.recursive() {
            let dir_res = host.resolve(&loc.dir).ok();
            (norm.starts_with(&loc.dir)
                || matches!((&resolved_parent, &dir_res), (Some(p), Some(d)) if p.starts_with(d)))
                && loc.names.matches(&name)
        } else {
            let same_dir = parent == loc.dir
                || matches!((&resolved_parent, host.resolve(&loc.dir).ok()), (Some(p), Some(d)) if *p == d);
            let drop_in = loc.names == Names::Units
                && parent.parent() == Some(loc.dir.as_path())
                && parent.to_string_lossy().ends_with(".d")
                && name.ends_with(".conf");
            (same_dir && loc.names.matches(&name)) || drop_in
        };
        if hit {
            return Some(Candidate {
                path: norm,
                category: loc.category,
                in_home: loc.in_home,
                listed: false,
            });
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(Names::KernelModules.matches("nvidia-uvm.ko.zst"));
        assert!(!Names::KernelModules.matches("nouveau.ko"));
        assert!(Names::DriverLibraries.matches("libnvidia-ml.so.1"));
        assert!(Names::DriverLibraries.matches("libcuda.so.535.183.01"));
        assert!(!Names::DriverLibraries.matches("libcudart.so.12"));
        assert!(Names::Units.matches("nvidia-persistenced.service"));
        assert!(Category::ALL
            .iter()
            .all(|c| Category::parse(c.as_str()) == Some(*c)));
    }

    #[test]
    fn merged_usr_is_listed_once_and_classify_finds_both_spellings() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("usr/lib/modprobe.d")).unwrap();
        std::os::unix::fs::symlink("usr/lib", root.join("lib")).unwrap();
        std::fs::write(root.join("usr/lib/modprobe.d/nvidia.conf"), "x").unwrap();
        let host = Host::new(root);
        let (c, _) = inventory(&host, Some(&[Category::Modprobe]));
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].path, Path::new("/usr/lib/modprobe.d/nvidia.conf"));
        let k = classify(&host, Path::new("/lib/modprobe.d/nvidia.conf")).unwrap();
        assert_eq!(k.category, Category::Modprobe);
        assert!(classify(&host, Path::new("/etc/passwd")).is_none());
        assert!(classify(&host, Path::new("/etc/modprobe.d/readme.txt")).is_none());
    }
}
