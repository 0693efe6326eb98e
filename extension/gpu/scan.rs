//! The gpu_driver_config scan: the inventory's files, each checked by the
//! module for its kind, with package ownership and digests.
//!
//! Cost: configuration files are small and read every time (their checks
//! need the text); modules, firmware and libraries are only `stat`ed unless
//! the query asks for `sha256` or `package_digest_match`, and then hashed
//! once per file version ([`DigestCache`]).

use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use super::digest::DigestCache;
use super::inventory::{classify, inventory, Candidate, Category};
use super::packages::{FileDigest, PackageCache, PackageIndex, PathFilter};
use super::rules::{builtin, GpuRules};
use super::{clip, envfiles, icd, ldso, modprobe, toolkit, units, Hit, CONFIG_READ_CAP};
use crate::cache::{Cache, FileKey};
use crate::host::Host;

/// What a query asks of the scan.
#[derive(Debug, Clone, Default)]
pub struct ScanOptions {
    /// `WHERE path = ...`: only these files (shown as given).
    pub paths: Option<Vec<String>>,
    /// `WHERE category = ...`: only these categories.
    pub categories: Option<Vec<Category>>,
    /// The query reads `sha256`: hash every file, large ones included.
    pub sha256: bool,
    /// The query reads `package_digest_match`: compare every owned file,
    /// large ones included (small ones are always compared, for findings).
    pub digest_match: bool,
}

/// Caches that make a repeated scan cheap; keep one per table.
#[derive(Debug, Default)]
pub struct ScanCaches {
    /// Digests by file version.
    pub digests: DigestCache,
    /// The package index by database version.
    pub packages: PackageCache,
    /// Whether a unit or rule mentions the GPU, by file version.
    pub mentions: MentionCache,
}

/// Whether a unit or udev rule belongs to the inventory, by file version
/// (a host has hundreds of units; most never change).
#[derive(Debug)]
pub struct MentionCache(Cache<FileKey, bool>);

impl Default for MentionCache {
    fn default() -> Self {
        MentionCache(Cache::new(20_000))
    }
}

/// One file on the loading path.
#[derive(Debug, Clone, Default)]
pub struct ConfigEntry {
    /// Host path as shown (the `WHERE path` value when one was given).
    pub path: String,
    /// Category word.
    pub category: &'static str,
    /// Where a symlink leads (resolved inside the root).
    pub target: Option<String>,
    /// Libraries a manifest loads (resolved as the loader would).
    pub loads: Vec<String>,
    /// Size in bytes (of the target, for a link).
    pub size: Option<u64>,
    /// Permission bits.
    pub mode: Option<u32>,
    /// Owner uid.
    pub uid: Option<u32>,
    /// Owner gid.
    pub gid: Option<u32>,
    /// Modification time, Unix seconds.
    pub mtime: Option<i64>,
    /// SHA-256 when asked for.
    pub sha256: Option<String>,
    /// Owning package.
    pub package: Option<String>,
    /// That package's installed version.
    pub package_version: Option<String>,
    /// 1 match, 0 mismatch, -1 unknown.
    pub package_digest_match: i8,
    /// Rule hits.
    pub hits: Vec<Hit>,
    /// `ok`, or why the file could not be examined.
    pub status: String,
}

/// Words in the paths whose package ownership the scan may ask about.
const NEEDLES: &[&str] = &[
    "nvidia",
    "cuda",
    "vulkan",
    "glvnd",
    "OpenCL",
    "egl",
    "modprobe.d",
    "ld.so",
    "udev",
    "systemd/system",
    "containers/oci",
    "/cdi",
    "profile.d",
    "environment",
    "pam_env",
    "libnvcuvid",
    "libnvoptix",
];

/// The paths whose package ownership the scan may ask about (keeps the
/// package index small), matched with one automaton pass.
pub struct Interesting(aho_corasick::AhoCorasick);

impl Interesting {
    /// The shared matcher.
    pub fn get() -> &'static Interesting {
        static M: OnceLock<Interesting> = OnceLock::new();
        M.get_or_init(|| {
            Interesting(aho_corasick::AhoCorasick::new(NEEDLES).expect("needles compile"))
        })
    }
}

impl PathFilter for Interesting {
    fn text_may_match(&self, text: &str) -> bool {
        self.0.is_match(text)
    }
    fn keep(&self, path: &Path) -> bool {
        self.0.is_match(path.as_os_str().as_encoded_bytes())
    }
}

/// True for paths whose package ownership the scan may ask about.
pub fn interesting(path: &Path) -> bool {
    Interesting::get().keep(path)
}

fn home_of(host: &Host, path: &Path) -> Option<PathBuf> {
    host.home_dirs()
        .into_iter()
        .map(|(h, _)| h)
        .find(|h| path.starts_with(h))
}

/// Runs the scan.
pub fn scan_driver_config(
    host: &Host,
    opts: &ScanOptions,
    caches: &ScanCaches,
) -> Vec<ConfigEntry> {
    let rules = builtin();
    let cats = opts.categories.as_deref();
    let mut candidates: Vec<(Candidate, String)> = Vec::new();
    let mut out = Vec::new();
    match &opts.paths {
        Some(paths) => {
            for p in paths {
                if let Some(c) = classify(host, Path::new(p)) {
                    if cats.is_none_or(|cs| cs.contains(&c.category)) {
                        candidates.push((c, p.clone()));
                    }
                }
            }
        }
        None => {
            let (found, problems) = inventory(host, cats);
            for (dir, cat, why) in problems {
                out.push(ConfigEntry {
                    path: dir.to_string_lossy().into_owned(),
                    category: cat.as_str(),
                    package_digest_match: -1,
                    status: format!("unreadable: {why}"),
                    ..Default::default()
                });
            }
            for c in found {
                let shown = c.path.to_string_lossy().into_owned();
                candidates.push((c, shown));
            }
        }
    }
    if candidates.is_empty() {
        return out;
    }
    let root_uid = host.metadata(Path::new("/")).map(|m| m.uid()).unwrap_or(0);
    let index = caches.packages.get(host, Interesting::get());
    let search = ldso::search_dirs(host);
    let mut ctx = Ctx {
        host,
        rules,
        opts,
        caches,
        index: &index,
        search: &search,
        root_uid,
    };
    for (c, shown) in candidates {
        if let Some(e) = ctx.entry(&c, shown) {
            out.push(e);
        }
    }
    attach_toolkit_version(&mut ctx, &mut out);
    out
}

struct Ctx<'a> {
    host: &'a Host,
    rules: &'a GpuRules,
    opts: &'a ScanOptions,
    caches: &'a ScanCaches,
    index: &'a Arc<PackageIndex>,
    search: &'a [PathBuf],
    root_uid: u32,
}

impl Ctx<'_> {
    fn entry(&mut self, c: &Candidate, shown: String) -> Option<ConfigEntry> {
        let host = self.host;
        let mut e = ConfigEntry {
            path: shown,
            category: c.category.as_str(),
            package_digest_match: -1,
            status: "ok".into(),
            ..Default::default()
        };
        // A listed file's directory is already resolved: one lstat.
        let parent = c.path.parent().unwrap_or(Path::new("/"));
        let name = c.path.file_name().unwrap_or_default();
        let lmd = if c.listed {
            host.child_symlink_metadata(parent, name)
        } else {
            host.symlink_metadata(&c.path)
        };
        let lmd = match lmd {
            Ok(m) => m,
            Err(err) if err.is_not_found() => return None,
            Err(err) => {
                e.status = format!("unreadable: {err}");
                return Some(e);
            }
        };
        let mut real_path = c.path.clone();
        let is_link = lmd.file_type().is_symlink();
        if is_link {
            match host.resolve(&c.path) {
                Ok(t) => {
                    e.target = Some(t.to_string_lossy().into_owned());
                    if self.rules.is_temp(&t) {
                        e.hits.push(Hit::file(
                            "library-temp-link",
                            format!("links to {}", clip(&t.to_string_lossy())),
                        ));
                    }
                    real_path = t;
                }
                Err(err) => {
                    e.status = format!("unreadable: {err}");
                    return Some(e);
                }
            }
        }
        // A link to /dev/null masks the file (systemd units, modprobe and
        // udev files): nothing is loaded from it.
        if is_link && real_path == Path::new("/dev/null") {
            return None;
        }
        let md = if is_link {
            match host.metadata(&c.path) {
                Ok(m) => m,
                Err(err) => {
                    e.status = format!("unreadable: {err}");
                    return Some(e);
                }
            }
        } else {
            lmd
        };
        if !md.is_file() {
            // A unit or rule that is not a file mentions nothing.
            if c.category.needs_mention() {
                return None;
            }
            e.status = format!("not a regular file: {}", c.path.display());
            return Some(e);
        }
        e.size = Some(md.size());
        e.mode = Some(md.mode() & 0o7777);
        e.uid = Some(md.uid());
        e.gid = Some(md.gid());
        e.mtime = Some(md.mtime());
        if !c.category.is_large() {
            let named = {
                let p = c.path.to_string_lossy().to_ascii_lowercase();
                p.contains("nvidia") || p.contains("cuda")
            };
            let key = FileKey::new(&c.path, &md);
            let screen = c.category.needs_mention() && !named;
            if screen && self.caches.mentions.0.get(&key) == Some(false) {
                return None;
            }
            let read = if c.listed && !is_link {
                read_child(host, parent, name)
            } else {
                host.read_to_string(&c.path, CONFIG_READ_CAP)
            };
            let text = match read {
                Ok(t) => t,
                Err(err) => {
                    if c.category.needs_mention() {
                        return None;
                    }
                    e.status = format!("unreadable: {err}");
                    String::new()
                }
            };
            if screen {
                let mentions = units::mentions_gpu(self.rules, &text);
                self.caches.mentions.0.insert(key, mentions);
                if !mentions {
                    return None;
                }
            }
            if e.status == "ok" {
                self.check_text(c, &text, &mut e);
            }
        }
        let other_write = md.mode() & 0o002 != 0;
        let foreign_owner = md.uid() != 0 && md.uid() != self.root_uid && !c.in_home;
        if other_write || foreign_owner {
            e.hits.push(Hit::file(
                "file-writable",
                format!("mode {:o}, owner uid {}", md.mode() & 0o7777, md.uid()),
            ));
        }
        // Package and digests.
        // A link's own path is usually listed without a digest; its
        // target carries it.
        let link_owner = self.index.owner(&c.path).cloned();
        let target_owner = if real_path != c.path {
            self.index.owner(&real_path).cloned()
        } else {
            None
        };
        let owner = match (link_owner, target_owner) {
            (Some(l), Some(t)) if l.digest.is_none() => Some(super::packages::Owner {
                package: l.package,
                digest: t.digest,
                conffile: t.conffile,
            }),
            (Some(l), _) => Some(l),
            (None, t) => t,
        };
        if let Some(o) = &owner {
            e.package = Some(o.package.clone());
            e.package_version = self.index.version(&o.package).map(str::to_string);
        }
        let large = c.category.is_large();
        let compare = owner
            .as_ref()
            .and_then(|o| o.digest.clone())
            .filter(|d| !matches!(d, FileDigest::Other) && (!large || self.opts.digest_match));
        let want_sha = self.opts.sha256 || matches!(compare, Some(FileDigest::Sha256(_)));
        let want_md5 = matches!(compare, Some(FileDigest::Md5(_)));
        if want_sha || want_md5 {
            match self.caches.digests.get(host, &c.path, &md, want_md5) {
                Ok(d) => {
                    if let Some(reference) = &compare {
                        let same = match reference {
                            FileDigest::Md5(m) => d.md5.as_deref() == Some(m.as_str()),
                            FileDigest::Sha256(s) => d.sha256 == *s,
                            FileDigest::Other => false,
                        };
                        e.package_digest_match = if same { 1 } else { 0 };
                        if !same {
                            let conffile = owner.as_ref().is_some_and(|o| o.conffile);
                            e.hits.push(Hit::file(
                                if conffile {
                                    "package-conffile-modified"
                                } else {
                                    "package-digest-mismatch"
                                },
                                format!(
                                    "differs from what {} installed",
                                    owner.as_ref().map(|o| o.package.as_str()).unwrap_or("?")
                                ),
                            ));
                        }
                    }
                    if self.opts.sha256 {
                        e.sha256 = Some(d.sha256);
                    }
                }
                Err(err) => e.status = format!("unreadable: {err}"),
            }
        }
        Some(e)
    }

    fn check_text(&self, c: &Candidate, text: &str, e: &mut ConfigEntry) {
        let rules = self.rules;
        let hits = match c.category {
            Category::LdPreload => ldso::check_preload(text),
            Category::LdConf => ldso::check_conf(self.host, rules, text, self.root_uid),
            Category::Modprobe => modprobe::check(rules, text),
            Category::VulkanIcd
            | Category::VulkanLayer
            | Category::EglVendor
            | Category::EglExternalPlatform
            | Category::OpenclIcd => {
                let libs = if c.category == Category::OpenclIcd {
                    Ok(icd::opencl_library(text).into_iter().collect())
                } else {
                    icd::parse_json(text)
                };
                match libs {
                    Ok(libs) => {
                        let home = if c.in_home {
                            home_of(self.host, &c.path)
                        } else {
                            None
                        };
                        let (hits, loads) = icd::check(
                            self.host,
                            rules,
                            &c.path,
                            &libs,
                            self.search,
                            home.as_deref(),
                        );
                        e.loads = loads;
                        hits
                    }
                    Err(h) => vec![h],
                }
            }
            Category::ContainerToolkit => {
                if c.path.file_name().is_some_and(|n| n == "config.toml") {
                    toolkit::check_config(rules, text).0
                } else {
                    Vec::new()
                }
            }
            Category::OciHook => toolkit::check_oci_hook(rules, text),
            Category::CdiSpec => {
                let name = c.path.to_string_lossy();
                toolkit::check_cdi(rules, text, !name.ends_with(".json"))
            }
            Category::UdevRule => units::check_udev(rules, text),
            Category::SystemdUnit => units::check_unit(rules, text),
            Category::Environment => envfiles::check(rules, text),
            Category::KernelModule | Category::Firmware | Category::Library => Vec::new(),
        };
        e.hits.extend(hits);
    }
}

/// Reads a listed configuration file through its resolved directory.
fn read_child(
    host: &Host,
    dir: &Path,
    name: &std::ffi::OsStr,
) -> Result<String, crate::host::HostError> {
    let (file, md) = host.open_child(dir, name)?;
    let path = dir.join(name);
    if md.len() > CONFIG_READ_CAP {
        return Err(crate::host::HostError::TooLarge {
            path,
            size: md.len(),
            cap: CONFIG_READ_CAP,
        });
    }
    let mut buf = Vec::with_capacity(md.len() as usize);
    file.take(CONFIG_READ_CAP + 1)
        .read_to_end(&mut buf)
        .map_err(|source| crate::host::HostError::Io { path, source })?;
    Ok(String::from_utf8(buf)
        .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()))
}

/// Puts the toolkit-version hits on the toolkit's config row (or, without
/// one, its first program's row).
fn attach_toolkit_version(ctx: &mut Ctx<'_>, out: &mut [ConfigEntry]) {
    let version = ctx
        .rules
        .toolkit
        .packages
        .iter()
        .find_map(|p| ctx.index.version(p).map(|v| (p.clone(), v.to_string())));
    let Some((package, version)) = version else {
        return;
    };
    let config = ctx
        .host
        .read_to_string(
            Path::new("/etc/nvidia-container-runtime/config.toml"),
            CONFIG_READ_CAP,
        )
        .map(|t| toolkit::check_config(ctx.rules, &t).1)
        .unwrap_or_default();
    let hits = toolkit::version_hits(ctx.rules, &version, &config);
    let target = out
        .iter()
        .position(|e| e.category == "container_toolkit" && e.path.ends_with("/config.toml"))
        .or_else(|| out.iter().position(|e| e.category == "container_toolkit"));
    if let Some(i) = target {
        let e = &mut out[i];
        if e.package.is_none() {
            e.package = Some(package);
            e.package_version = Some(version);
        }
        e.hits.extend(hits);
    }
}
