//! sdists and wheels read in memory, never extracted to disk.
//!
//! `.tar.gz`/`.tgz`/`.tar.bz2`/`.tbz2`/`.tar.xz`/`.tar` (sdists) and
//! `.zip`/`.whl` are opened from bytes. The format comes from the magic
//! bytes, never from the name (an xz tar named `.tar.gz` is read as xz; the
//! mismatch itself is a finding). xz is decoded by `lzma-rust2` (pure Rust,
//! a streaming reader with a dictionary memory limit) under the same limits
//! as gzip. A 0-byte archive and a stream that ends early are reported as
//! such (`archive-empty`, `archive-truncated`).
//! Hard limits keep a hostile archive from costing more than a bounded
//! amount of memory and time: entry count, bytes per scanned member, total
//! uncompressed bytes, and compression ratio. A member name that is absolute
//! or climbs with `..` is reported (it would escape the extraction root of a
//! careless installer) and never used as a path. Only members whose code can
//! run at install, import or start-up are scanned (`.py`, `.pyw`, `.pth`,
//! `pyproject.toml`, `setup.cfg`); packaging manifests (those plus a wheel's
//! `entry_points.txt`) are also read for console scripts and `cmdclass`
//! hooks ([`super::manifest`]). When `setup.cfg` names in-archive `cmdclass`
//! modules, a second pass (only then) rescans those as install code.

use std::io::{self, Read};

use super::manifest::{self, Manifest};
use super::scan::{scan_source, MAX_SCAN_BYTES};
use super::{sha256_hex, Category, Finding, Role, RuleSet, Severity};

/// Limits on what one archive may cost.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest archive file read at all.
    pub max_archive_bytes: u64,
    /// Most entries looked at.
    pub max_entries: usize,
    /// Most bytes read from one scanned member (the rest is skipped).
    pub max_member_bytes: u64,
    /// Most uncompressed bytes produced in all (tar streams included).
    pub max_total_bytes: u64,
    /// Largest uncompressed/compressed ratio accepted for a member or stream
    /// once it is past 1 MiB.
    pub max_ratio: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_archive_bytes: 2 * 1024 * 1024 * 1024,
            max_entries: 50_000,
            max_member_bytes: MAX_SCAN_BYTES as u64,
            max_total_bytes: 1024 * 1024 * 1024,
            max_ratio: 200,
        }
    }
}

/// One finding in one member of an archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberFinding {
    /// Member name as stored (lossy UTF-8), empty for the archive itself.
    pub member: String,
    /// SHA-256 of the member's bytes (absent for archive-level findings).
    pub sha256: Option<String>,
    /// The hit.
    pub finding: Finding,
}

/// What scanning an archive gave.
#[derive(Debug, Clone, Default)]
pub struct ArchiveScan {
    /// Findings, member by member.
    pub findings: Vec<MemberFinding>,
    /// Members scanned.
    pub scanned: usize,
    /// Name of the distribution, from the archive's file name when it
    /// follows the sdist/wheel naming rules.
    pub package: Option<String>,
}

/// The archive formats read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// gzip-compressed tar (sdist).
    TarGz,
    /// bzip2-compressed tar (older sdists).
    TarBz2,
    /// xz-compressed tar.
    TarXz,
    /// Uncompressed tar.
    Tar,
    /// zip (wheel or zip sdist).
    Zip,
}

/// Recognises an archive by its magic bytes.
pub fn sniff(bytes: &[u8]) -> Option<Format> {
    if bytes.starts_with(&[0x1f, 0x8b]) {
        Some(Format::TarGz)
    } else if bytes.len() >= 10
        && bytes.starts_with(b"BZh")
        && (b'1'..=b'9').contains(&bytes[3])
        && bytes[4..10] == [0x31, 0x41, 0x59, 0x26, 0x53, 0x59]
    {
        // "BZh" + block size + the first block's magic (pi in BCD).
        Some(Format::TarBz2)
    } else if bytes.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0x00]) {
        Some(Format::TarXz)
    } else if bytes.starts_with(b"PK\x03\x04") || bytes.starts_with(b"PK\x05\x06") {
        Some(Format::Zip)
    } else if bytes.len() > 262 && &bytes[257..262] == b"ustar" {
        Some(Format::Tar)
    } else {
        None
    }
}

/// File name endings of the archives this module reads.
const ARCHIVE_SUFFIXES: &[&str] = &[
    ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tbz", ".tar.xz", ".txz", ".tar", ".zip", ".whl",
];

/// The format a file name claims, if it names one.
fn claimed_format(name: &str) -> Option<Format> {
    let n = name.to_ascii_lowercase();
    if n.ends_with(".tar.gz") || n.ends_with(".tgz") {
        Some(Format::TarGz)
    } else if n.ends_with(".tar.bz2") || n.ends_with(".tbz2") || n.ends_with(".tbz") {
        Some(Format::TarBz2)
    } else if n.ends_with(".tar.xz") || n.ends_with(".txz") {
        Some(Format::TarXz)
    } else if n.ends_with(".zip") || n.ends_with(".whl") {
        Some(Format::Zip)
    } else if n.ends_with(".tar") {
        Some(Format::Tar)
    } else {
        None
    }
}

/// Dictionary memory the xz decoder may use (KiB): `xz -9` needs 64 MiB.
const XZ_MEM_LIMIT_KB: u32 = 96 * 1024;

/// True when a file name says it is an archive this module reads.
pub fn looks_like_archive(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    ARCHIVE_SUFFIXES.iter().any(|e| n.ends_with(e))
}

/// Whether a member is worth scanning, and the role of its code.
/// `wheel` says whether names are relative to site-packages (wheel) or to
/// an sdist's `name-version/` directory.
pub fn member_role(name: &str, wheel: bool) -> Option<Role> {
    let lower = name.to_ascii_lowercase();
    let interesting = [".py", ".pyw", ".pth"].iter().any(|e| lower.ends_with(e))
        || lower.ends_with("/pyproject.toml")
        || lower.ends_with("/setup.cfg")
        || lower == "pyproject.toml"
        || lower == "setup.cfg";
    if !interesting {
        return None;
    }
    let trimmed = name.trim_start_matches("./");
    let rel = if wheel {
        // `name.data/purelib/x` installs as `x`.
        match trimmed.split_once(".data/") {
            Some((_, rest)) => rest.split_once('/').map(|(_, r)| r).unwrap_or(rest),
            None => trimmed,
        }
    } else {
        trimmed.split_once('/').map(|(_, r)| r).unwrap_or(trimmed)
    };
    let role = Role::for_relative_path(rel);
    // A `.pth` only runs from the top of site-packages; deeper ones in an
    // sdist or wheel are data (often test fixtures).
    if role == Role::Startup && lower.ends_with(".pth") && (!wheel || rel.contains('/')) {
        return Some(Role::Peripheral);
    }
    Some(role)
}

/// True when a member name is absolute or climbs out with `..`.
pub fn escapes_root(name: &str) -> bool {
    name.starts_with('/')
        || name.starts_with('\\')
        || name.as_bytes().get(1) == Some(&b':')
        || name.split(['/', '\\']).any(|c| c == "..")
}

/// True when an absolute link target is an ordinary Python interpreter
/// (`/usr/bin/python3`, `/usr/local/bin/python3.12`, `/bin/python`,
/// `/opt/homebrew/bin/python3`): what a virtual environment's `bin/python`
/// points at.
pub fn interpreter_path(target: &str) -> bool {
    let Some((dir, file)) = target.rsplit_once('/') else {
        return false;
    };
    let version = file
        .strip_prefix("python")
        .is_some_and(|v| v.chars().all(|c| c.is_ascii_digit() || c == '.') && !v.contains(".."));
    let bin_dir = matches!(
        dir,
        "/bin" | "/usr/bin" | "/usr/local/bin" | "/opt/homebrew/bin" | "/opt/local/bin"
    ) || (dir.starts_with("/usr/local/opt/python") || dir.starts_with("/opt/python"))
        && dir.ends_with("/bin")
        && !dir.contains("..");
    version && bin_dir
}

/// True when a link at `name` pointing to `target` resolves outside the
/// archive's root (relative targets are resolved from the link's directory).
pub fn link_escapes(name: &str, target: &str) -> bool {
    if target.starts_with('/')
        || target.starts_with('\\')
        || target.as_bytes().get(1) == Some(&b':')
    {
        return true;
    }
    let mut depth: i64 = 0;
    let parent = name
        .trim_end_matches('/')
        .rsplit_once('/')
        .map(|(p, _)| p)
        .unwrap_or("");
    for c in parent.split('/').chain(target.split(['/', '\\'])) {
        match c {
            "" | "." => {}
            ".." => {
                depth -= 1;
                if depth < 0 {
                    return true;
                }
            }
            _ => depth += 1,
        }
    }
    false
}

fn archive_finding(rule_id: &str, severity: Severity, evidence: String, why: &str) -> Finding {
    Finding {
        rule_id: rule_id.to_string(),
        category: Category::Archive,
        severity,
        line: None,
        evidence,
        description: why.to_string(),
        role: Role::Install,
    }
}

/// A reader that fails once more than `limit` bytes have come through it, or
/// once the ratio to `compressed` exceeds `ratio` past 1 MiB.
struct Bounded<R> {
    inner: R,
    seen: u64,
    limit: u64,
    compressed: u64,
    ratio: u64,
}

impl<R: Read> Read for Bounded<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.seen += n as u64;
        if self.seen > self.limit {
            return Err(io::Error::other("uncompressed size over the limit"));
        }
        if self.seen > 1024 * 1024 && self.seen / self.compressed.max(1) > self.ratio {
            return Err(io::Error::other(
                "compression ratio over the limit (zip bomb?)",
            ));
        }
        Ok(n)
    }
}

/// The distribution name from an sdist or wheel file name
/// (`torch_utilites-0.1.tar.gz`, `pkg-1.0-py3-none-any.whl`).
pub fn package_from_file_name(file_name: &str) -> Option<String> {
    let lower = file_name.to_ascii_lowercase();
    let stem = ARCHIVE_SUFFIXES.iter().find_map(|e| {
        lower
            .strip_suffix(e)
            .map(|_| &file_name[..file_name.len() - e.len()])
    })?;
    let (name, _) = stem.split_once('-')?;
    (!name.is_empty()).then(|| name.to_string())
}

/// Scans an archive held in memory. `file_name` helps tell a wheel from a
/// zip sdist. Problems (a bomb, a traversal, a corrupt stream) become
/// findings of category `archive`; what was scanned before them is kept.
pub fn scan_archive(
    rules: &RuleSet,
    file_name: &str,
    bytes: &[u8],
    limits: &Limits,
) -> ArchiveScan {
    scan_archive_reader(rules, file_name, io::Cursor::new(bytes), limits)
}

/// Like [`scan_archive`], reading from a seekable source (an open file) so
/// that memory stays bounded by the per-member cap, not the archive's size.
pub fn scan_archive_reader<R: Read + io::Seek>(
    rules: &RuleSet,
    file_name: &str,
    mut reader: R,
    limits: &Limits,
) -> ArchiveScan {
    let mut out = ArchiveScan {
        package: package_from_file_name(file_name),
        ..ArchiveScan::default()
    };
    let is_wheel = file_name.to_ascii_lowercase().ends_with(".whl");
    let mut head = Vec::with_capacity(512);
    let len = reader.seek(io::SeekFrom::End(0)).unwrap_or(0);
    let sniffed = reader
        .seek(io::SeekFrom::Start(0))
        .and_then(|_| (&mut reader).take(512).read_to_end(&mut head))
        .and_then(|_| reader.seek(io::SeekFrom::Start(0)));
    if let Err(e) = sniffed {
        limit_hit(format!("unreadable archive: {e}"), &mut out);
        return out;
    }
    if len == 0 {
        out.findings.push(MemberFinding {
            member: String::new(),
            sha256: None,
            finding: archive_finding(
                "archive-empty",
                Severity::Medium,
                "0 bytes".to_string(),
                "the archive is empty (0 bytes): nothing to install, nothing to judge",
            ),
        });
        return out;
    }
    let Some(format) = sniff(&head) else {
        out.findings.push(MemberFinding {
            member: String::new(),
            sha256: None,
            finding: archive_finding(
                "archive-unreadable",
                Severity::Info,
                format!("{len} bytes"),
                "not a tar.gz, tar.bz2, tar.xz, tar or zip archive",
            ),
        });
        return out;
    };
    if let Some(claimed) = claimed_format(file_name).filter(|&c| c != format) {
        out.findings.push(MemberFinding {
            member: String::new(),
            sha256: None,
            finding: archive_finding(
                "archive-format-mismatch",
                Severity::Medium,
                format!("named {claimed:?}, magic bytes say {format:?}"),
                "the file name lies about the archive format (read by its magic bytes instead)",
            ),
        });
    }
    let mut manifests = Manifests::default();
    let pass = (format, len, is_wheel, limits);
    stream(rules, pass, &mut reader, &mut out, &mut manifests);
    // Modules a setup.cfg `cmdclass` names run at build/install: a second
    // pass (only then) scans them as install code, like setup.py.
    let hooks = manifests.hook_members();
    if !hooks.is_empty() && reader.seek(io::SeekFrom::Start(0)).is_ok() {
        let mut again = ArchiveScan::default();
        let mut only = Manifests {
            install_only: Some(hooks.clone()),
            ..Manifests::default()
        };
        stream(rules, pass, &mut reader, &mut again, &mut only);
        out.findings.retain(|f| !hooks.contains(&f.member));
        out.findings.extend(
            again
                .findings
                .into_iter()
                .filter(|f| hooks.contains(&f.member)),
        );
    }
    // A large opaque blob in a pure-Python package that no text of the
    // package names: a second pass (only then) looks for its name.
    let blobs = std::mem::take(&mut manifests.blobs);
    if !blobs.native && !blobs.found.is_empty() && reader.seek(io::SeekFrom::Start(0)).is_ok() {
        let keys: Vec<Vec<String>> = blobs.found.iter().map(|n| blob_names(n)).collect();
        let mut named = vec![false; keys.len()];
        for_each_text(pass, &mut reader, |member, data| {
            let text = String::from_utf8_lossy(data).to_ascii_lowercase();
            for (k, names) in keys.iter().enumerate() {
                if !named[k]
                    && names.iter().any(|n| text.contains(n.as_str()))
                    && !blobs.found[k].eq(member)
                {
                    named[k] = true;
                }
            }
        });
        for (_, member) in blobs.found.iter().enumerate().filter(|(k, _)| !named[*k]) {
            out.findings.push(MemberFinding {
                member: member.clone(),
                sha256: None,
                finding: archive_finding(
                    "archive-opaque-blob",
                    Severity::High,
                    super::redact::excerpt(member, 0),
                    "a large opaque (encrypted or compressed, no known format) file in a pure-Python package that no file of the package names: a payload shipped as data",
                ),
            });
        }
    }
    manifests.weigh(rules, &mut out);
    out
}

/// The spellings by which code or a manifest would name a blob: its file
/// name, its stem, and a glob on its extension (lowercase).
fn blob_names(member: &str) -> Vec<String> {
    let base = member
        .rsplit('/')
        .next()
        .unwrap_or(member)
        .to_ascii_lowercase();
    let mut out = vec![base.clone()];
    if let Some((stem, ext)) = base.rsplit_once('.') {
        if stem.len() >= 3 {
            out.push(stem.to_string());
        }
        if !ext.is_empty() {
            out.push(format!("*.{ext}"));
            out.push(format!("\".{ext}\""));
            out.push(format!("'.{ext}'"));
        }
    }
    out
}

/// Calls `f` with every small text member (code, manifests, configuration,
/// data listings) of an archive: the second pass of the blob check.
fn for_each_text<R: Read + io::Seek>(
    (format, len, _wheel, limits): (Format, u64, bool, &Limits),
    reader: R,
    mut f: impl FnMut(&str, &[u8]),
) {
    const TEXT: &[&str] = &[
        ".py", ".pyw", ".cfg", ".toml", ".in", ".txt", ".json", ".yaml", ".yml", ".ini",
    ];
    let wanted = |name: &str| {
        let lower = name.to_ascii_lowercase();
        TEXT.iter().any(|e| lower.ends_with(e))
    };
    let mut tar_pass = |r: &mut dyn Read| {
        let bounded = Bounded {
            inner: r,
            seen: 0,
            limit: limits.max_total_bytes,
            compressed: len,
            ratio: limits.max_ratio,
        };
        let mut archive = tar::Archive::new(bounded);
        let Ok(entries) = archive.entries() else {
            return;
        };
        for entry in entries {
            let Ok(mut entry) = entry else { return };
            let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
            if !entry.header().entry_type().is_file() || !wanted(&name) {
                continue;
            }
            let mut data = Vec::new();
            if (&mut entry)
                .take(limits.max_member_bytes)
                .read_to_end(&mut data)
                .is_err()
            {
                return;
            }
            f(&name, &data);
        }
    };
    match format {
        Format::TarGz => tar_pass(&mut flate2::read::GzDecoder::new(io::BufReader::new(
            reader,
        ))),
        Format::TarBz2 => tar_pass(&mut bzip2::read::MultiBzDecoder::new(io::BufReader::new(
            reader,
        ))),
        Format::TarXz => tar_pass(&mut lzma_rust2::XzReader::new_mem_limit(
            io::BufReader::new(reader),
            true,
            XZ_MEM_LIMIT_KB,
        )),
        Format::Tar => tar_pass(&mut io::BufReader::new(reader)),
        Format::Zip => {
            let Ok(mut zip) = zip::ZipArchive::new(reader) else {
                return;
            };
            for i in 0..zip.len().min(limits.max_entries) {
                let Ok(mut file) = zip.by_index(i) else {
                    continue;
                };
                let name = String::from_utf8_lossy(file.name_raw()).into_owned();
                let declared = file.size();
                if !file.is_file()
                    || !wanted(&name)
                    || declared > limits.max_member_bytes
                    || declared > 1024 * 1024
                        && declared / file.compressed_size().max(1) > limits.max_ratio
                {
                    continue;
                }
                let mut data = Vec::new();
                if (&mut file)
                    .take(limits.max_member_bytes)
                    .read_to_end(&mut data)
                    .is_ok()
                {
                    f(&name, &data);
                }
            }
        }
    }
}

/// Packaging manifests met while streaming an archive, and the project
/// paths of its members, weighed once the stream ends (a `cmdclass` in
/// `setup.cfg` may name a module that comes later in the archive).
#[derive(Default)]
struct Manifests {
    found: Vec<(String, Manifest, String, String)>,
    /// Project-relative path to member name.
    members: std::collections::HashMap<String, String>,
    /// Second pass: scan only these members, as install code.
    install_only: Option<std::collections::HashSet<String>>,
    /// Large opaque members and whether the package has native code.
    blobs: Blobs,
}

/// Smallest member looked at as a possible opaque blob.
const BLOB_MIN_BYTES: u64 = 256 * 1024;
/// Bytes of a member sampled for its entropy.
const BLOB_SAMPLE: u64 = 64 * 1024;
/// Entropy (bits per byte, times 100) from which a sample is opaque:
/// compressed or encrypted data without a format's magic bytes.
const BLOB_MIN_ENTROPY_X100: u32 = 760;

/// Large opaque members met while streaming: the raw material of
/// `archive-opaque-blob` (a payload shipped as data in a pure-Python
/// package that no file of the package names).
#[derive(Default)]
struct Blobs {
    /// Member names of opaque blobs.
    found: Vec<String>,
    /// True when the archive carries native code or its sources (then large
    /// binary members are expected).
    native: bool,
}

/// Magic bytes of data formats a package legitimately ships (images, fonts,
/// archives, documents, arrays, databases, media).
const KNOWN_MAGIC: &[&[u8]] = &[
    b"\x89PNG",
    b"\xff\xd8\xff",
    b"GIF8",
    b"PK",
    b"\x1f\x8b",
    b"BZh",
    b"\xfd7zXZ",
    b"%PDF",
    b"wOFF",
    b"wOF2",
    b"OTTO",
    b"\x00\x01\x00\x00",
    b"true",
    b"ttcf",
    b"RIFF",
    b"ID3",
    b"fLaC",
    b"OggS",
    b"\x93NUMPY",
    b"SQLite format",
    b"\x7fELF",
    b"MZ",
    b"\xcf\xfa\xed\xfe",
    b"\xca\xfe\xba\xbe",
    b"7z\xbc\xaf",
    b"\x28\xb5\x2f\xfd",
    b"\x80\x02",
    b"\x80\x03",
    b"\x80\x04",
    b"\x80\x05",
    b"HDF",
    b"\x89HDF",
    b"CDF",
    b"\x00asm",
    b"ONNX",
    b"\x08",
    b"II*\x00",
    b"MM\x00*",
    b"BM",
    b"\x00\x00\x01\x00",
    b"ftyp",
    b"\x1aE\xdf\xa3",
    b"gguf",
    b"GGUF",
    b"{",
    b"[",
    b"<",
];

/// Name endings of sources and binaries that make a package native.
const NATIVE_ENDINGS: &[&str] = &[
    ".c",
    ".cc",
    ".cpp",
    ".cxx",
    ".h",
    ".hpp",
    ".pyx",
    ".pxd",
    ".rs",
    ".f",
    ".f90",
    ".cu",
    ".so",
    ".pyd",
    ".dll",
    ".dylib",
    ".go",
    ".java",
    ".swift",
    "cmakelists.txt",
    "meson.build",
    "cargo.toml",
];

impl Blobs {
    /// Looks at a member that is not code: notes native code, and samples
    /// large members for opaque data.
    fn look<R: Read>(&mut self, name: &str, size: u64, reader: R) -> io::Result<()> {
        let lower = name.to_ascii_lowercase();
        if NATIVE_ENDINGS.iter().any(|e| lower.ends_with(e)) {
            self.native = true;
            return Ok(());
        }
        // Only what an install puts in the package: docs, tests and
        // release tooling are not installed.
        let rel = name
            .trim_start_matches("./")
            .split_once('/')
            .map_or(name, |(_, r)| r);
        if self.native
            || precompressed_asset(&lower)
            || size < BLOB_MIN_BYTES
            || self.found.len() >= 16
            || Role::for_relative_path(rel) == Role::Peripheral
        {
            return Ok(());
        }
        let mut sample = Vec::with_capacity(BLOB_SAMPLE as usize);
        reader.take(BLOB_SAMPLE).read_to_end(&mut sample)?;
        if opaque(&sample) {
            self.found.push(name.to_string());
        }
        Ok(())
    }
}

/// Web assets that servers ship precompressed next to the original.
const WEB_ASSETS: &[&str] = &[
    "js", "mjs", "cjs", "css", "html", "htm", "svg", "json", "map", "wasm", "txt", "xml", "ttf",
    "otf", "ico",
];

/// True when a (lowercase) member name is a precompressed web asset
/// (`chunk.js.br`, `app.css.gz`, `index.html.zst`): Brotli has no magic
/// bytes, so its name is what says it is data.
fn precompressed_asset(lower: &str) -> bool {
    let Some((stem, ext)) = lower.rsplit_once('.') else {
        return false;
    };
    matches!(ext, "br" | "gz" | "zst")
        && stem
            .rsplit_once('.')
            .is_some_and(|(base, inner)| !base.ends_with('/') && WEB_ASSETS.contains(&inner))
}

/// True when a sample has no known format's magic bytes and the entropy of
/// compressed or encrypted data.
pub fn opaque(sample: &[u8]) -> bool {
    if sample.len() < 4096 || KNOWN_MAGIC.iter().any(|m| sample.starts_with(m)) {
        return false;
    }
    if sample.len() > 8 && &sample[4..8] == b"ftyp" {
        return false;
    }
    let mut counts = [0u32; 256];
    for &b in sample {
        counts[b as usize] += 1;
    }
    let n = sample.len() as f64;
    let bits: f64 = counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = f64::from(c) / n;
            -p * p.log2()
        })
        .sum();
    (bits * 100.0) as u32 >= BLOB_MIN_ENTROPY_X100
}

/// Largest manifest parsed (they are a few KiB).
const MAX_MANIFEST_BYTES: usize = 1024 * 1024;

/// A member's path from the project root: a wheel's names already are; an
/// sdist's lose their `name-version/` directory.
fn project_rel(name: &str, wheel: bool) -> &str {
    let trimmed = name.trim_start_matches("./");
    if wheel {
        trimmed
    } else {
        trimmed.split_once('/').map(|(_, r)| r).unwrap_or(trimmed)
    }
}

impl Manifests {
    /// Notes a member; returns the manifest it is, if any.
    fn note(&mut self, name: &str, wheel: bool) -> Option<Manifest> {
        if self.install_only.is_some() {
            return None;
        }
        let rel = project_rel(name, wheel);
        self.members.insert(rel.to_string(), name.to_string());
        Manifest::at(rel)
    }

    /// The role of a member: [`member_role`], or in the second pass
    /// install code for the wanted members and nothing else.
    fn role(&self, name: &str, wheel: bool) -> Option<Role> {
        match &self.install_only {
            Some(wanted) => wanted.contains(name).then_some(Role::Install),
            None => member_role(name, wheel),
        }
    }

    /// Member names of the in-archive modules `setup.cfg`'s `cmdclass` names.
    fn hook_members(&self) -> std::collections::HashSet<String> {
        self.found
            .iter()
            .filter(|(_, m, _, _)| *m == Manifest::SetupCfg)
            .flat_map(|(_, _, text, _)| manifest::setup_cfg_cmdclass(text))
            .flat_map(|h| h.module_paths())
            .filter_map(|p| self.members.get(&p).cloned())
            .collect()
    }

    fn keep(&mut self, name: &str, manifest: Manifest, data: &[u8]) {
        let data = &data[..data.len().min(MAX_MANIFEST_BYTES)];
        self.found.push((
            name.to_string(),
            manifest,
            String::from_utf8_lossy(data).into_owned(),
            sha256_hex(data),
        ));
    }

    /// Console scripts that shadow trusted commands, and `setup.cfg`
    /// `cmdclass` hooks. The owner allowed to install a trusted command is
    /// the distribution the archive's file name says, else the one its
    /// manifests declare.
    fn weigh(self, rules: &RuleSet, out: &mut ArchiveScan) {
        let owner = out
            .package
            .as_deref()
            .map(crate::python::normalize_name)
            .or_else(|| {
                self.found
                    .iter()
                    .find_map(|(_, m, text, _)| manifest::declared_name(*m, text))
            });
        for (member, m, text, sha) in &self.found {
            let mut findings =
                manifest::shadowing_findings(rules, &m.scripts(text), owner.as_deref(), m.role());
            if *m == Manifest::SetupCfg {
                let hooks = manifest::setup_cfg_cmdclass(text);
                findings.extend(manifest::cmdclass_findings(&hooks, |p| {
                    self.members.contains_key(p)
                }));
            }
            for f in findings {
                out.findings.push(MemberFinding {
                    member: member.clone(),
                    sha256: Some(sha.clone()),
                    finding: f,
                });
            }
        }
    }
}

/// One streaming pass over an archive of a known format.
fn stream<R: Read + io::Seek>(
    rules: &RuleSet,
    (format, len, is_wheel, limits): (Format, u64, bool, &Limits),
    reader: R,
    out: &mut ArchiveScan,
    m: &mut Manifests,
) {
    match format {
        Format::Zip => scan_zip(rules, reader, is_wheel, limits, out, m),
        Format::TarGz => {
            let gz = flate2::read::GzDecoder::new(io::BufReader::new(reader));
            scan_tar(rules, gz, len, limits, out, m)
        }
        Format::TarBz2 => {
            // Multi-stream: `pbzip2` writes one bzip2 stream per block.
            let bz = bzip2::read::MultiBzDecoder::new(io::BufReader::new(reader));
            scan_tar(rules, bz, len, limits, out, m)
        }
        Format::TarXz => {
            let xz = lzma_rust2::XzReader::new_mem_limit(
                io::BufReader::new(reader),
                true,
                XZ_MEM_LIMIT_KB,
            );
            scan_tar(rules, xz, len, limits, out, m)
        }
        Format::Tar => scan_tar(rules, io::BufReader::new(reader), len, limits, out, m),
    }
}

fn scan_member(rules: &RuleSet, name: &str, data: &[u8], role: Role, out: &mut ArchiveScan) {
    let scan = scan_source(rules, data, role);
    out.scanned += 1;
    if scan.findings.is_empty() {
        return;
    }
    let sha = sha256_hex(data);
    for f in scan.findings {
        out.findings.push(MemberFinding {
            member: name.to_string(),
            sha256: Some(sha.clone()),
            finding: f,
        });
    }
}

fn traversal(name: &str, out: &mut ArchiveScan) {
    out.findings.push(MemberFinding {
        member: String::new(),
        sha256: None,
        finding: archive_finding(
            "archive-path-traversal",
            Severity::High,
            super::redact::excerpt(name, 0),
            "a member name is absolute or climbs out with '..' (writes outside the extraction root)",
        ),
    });
}

fn limit_hit(reason: String, out: &mut ArchiveScan) {
    // A stream that ends early is a truncated download or a damaged file,
    // not a broken limit: say so.
    let lower = reason.to_ascii_lowercase();
    if lower.contains("unexpected end of file")
        || lower.contains("unexpected eof")
        || lower.contains("failed to fill whole buffer")
        || lower.contains("truncated")
        || lower.contains("entire block")
        || lower.contains("incomplete")
        || lower.contains("eof")
    {
        out.findings.push(MemberFinding {
            member: String::new(),
            sha256: None,
            finding: archive_finding(
                "archive-truncated",
                Severity::Medium,
                reason,
                "the archive ends early (truncated or damaged); what came before was scanned",
            ),
        });
        return;
    }
    out.findings.push(MemberFinding {
        member: String::new(),
        sha256: None,
        finding: archive_finding(
            "archive-limit",
            Severity::Medium,
            reason,
            "the archive broke a size, count or ratio limit; the rest was not read",
        ),
    });
}

fn scan_tar<R: Read>(
    rules: &RuleSet,
    reader: R,
    compressed: u64,
    limits: &Limits,
    out: &mut ArchiveScan,
    manifests: &mut Manifests,
) {
    let bounded = Bounded {
        inner: reader,
        seen: 0,
        limit: limits.max_total_bytes,
        compressed,
        ratio: limits.max_ratio,
    };
    let mut archive = tar::Archive::new(bounded);
    let entries = match archive.entries() {
        Ok(e) => e,
        Err(e) => return limit_hit(format!("unreadable tar: {e}"), out),
    };
    // Symlinks to an ordinary interpreter path (a virtual environment
    // shipped by mistake): (link, target), until a member goes through one.
    let mut interpreter_links: Vec<(String, String)> = Vec::new();
    scan_tar_entries(
        rules,
        entries,
        limits,
        out,
        manifests,
        &mut interpreter_links,
    );
    for (link, target) in interpreter_links {
        out.findings.push(MemberFinding {
            member: String::new(),
            sha256: None,
            finding: archive_finding(
                "archive-interpreter-symlink",
                Severity::Low,
                super::redact::excerpt(&format!("{link} -> {target}"), 0),
                "a symlink to a system Python interpreter (a virtual environment shipped in the sdist): no member is written through it",
            ),
        });
    }
}

/// The entries of a tar stream (see [`scan_tar`]).
fn scan_tar_entries<R: Read>(
    rules: &RuleSet,
    entries: tar::Entries<'_, R>,
    limits: &Limits,
    out: &mut ArchiveScan,
    manifests: &mut Manifests,
    interpreter_links: &mut Vec<(String, String)>,
) {
    let mut count = 0usize;
    let mut wheel_like = false;
    for entry in entries {
        let mut entry = match entry {
            Ok(e) => e,
            Err(e) => return limit_hit(format!("tar stream: {e}"), out),
        };
        count += 1;
        if count > limits.max_entries {
            return limit_hit(format!("more than {} entries", limits.max_entries), out);
        }
        let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        if escapes_root(&name) {
            traversal(&name, out);
            continue;
        }
        // A later member written through an interpreter link is the attack
        // the link was for.
        if let Some(k) = interpreter_links.iter().position(|(link, _)| {
            name.trim_end_matches('/') == link.as_str()
                || name
                    .strip_prefix(link.as_str())
                    .is_some_and(|r| r.starts_with('/'))
        }) {
            let (link, target) = interpreter_links.swap_remove(k);
            traversal(&format!("{link} -> {target}, then {name}"), out);
        }
        let kind = entry.header().entry_type();
        if kind.is_symlink() || kind.is_hard_link() {
            if let Some(target) = entry.link_name_bytes() {
                let target = String::from_utf8_lossy(&target).into_owned();
                if link_escapes(&name, &target) {
                    if kind.is_symlink()
                        && interpreter_path(&target)
                        && interpreter_links.len() < 64
                    {
                        interpreter_links.push((name.trim_end_matches('/').to_string(), target));
                    } else {
                        traversal(&format!("{name} -> {target}"), out);
                    }
                }
            }
            continue;
        }
        if !kind.is_file() {
            continue;
        }
        wheel_like |= name.contains(".dist-info/");
        let manifest = manifests.note(&name, false);
        let role = manifests.role(&name, wheel_like && !name.contains('/'));
        if role.is_none() && manifest.is_none() {
            let size = entry.header().size().unwrap_or(0);
            if let Err(e) = manifests.blobs.look(&name, size, &mut entry) {
                return limit_hit(format!("{name}: {e}"), out);
            }
            continue;
        }
        let mut data = Vec::new();
        if let Err(e) = (&mut entry)
            .take(limits.max_member_bytes)
            .read_to_end(&mut data)
        {
            return limit_hit(format!("{name}: {e}"), out);
        }
        if let Some(role) = role {
            scan_member(rules, &name, &data, role, out);
        }
        if let Some(m) = manifest {
            manifests.keep(&name, m, &data);
        }
    }
}

fn scan_zip<R: Read + io::Seek>(
    rules: &RuleSet,
    reader: R,
    is_wheel: bool,
    limits: &Limits,
    out: &mut ArchiveScan,
    manifests: &mut Manifests,
) {
    let mut zip = match zip::ZipArchive::new(reader) {
        Ok(z) => z,
        Err(e) => return limit_hit(format!("unreadable zip: {e}"), out),
    };
    if zip.len() > limits.max_entries {
        return limit_hit(
            format!("{} entries, over {}", zip.len(), limits.max_entries),
            out,
        );
    }
    // A wheel renamed (or a zip that holds one) still installs as a wheel.
    let is_wheel = is_wheel || zip.file_names().any(|n| n.ends_with(".dist-info/WHEEL"));
    let mut total = 0u64;
    for i in 0..zip.len() {
        let mut file = match zip.by_index(i) {
            Ok(f) => f,
            Err(e) => {
                limit_hit(format!("entry {i}: {e}"), out);
                continue;
            }
        };
        let name = String::from_utf8_lossy(file.name_raw()).into_owned();
        if escapes_root(&name) || file.enclosed_name().is_none() {
            traversal(&name, out);
            continue;
        }
        if !file.is_file() {
            continue;
        }
        let manifest = manifests.note(&name, is_wheel);
        let role = manifests.role(&name, is_wheel);
        if role.is_none() && manifest.is_none() {
            let size = file.size();
            if size < 1024 * 1024 || size / file.compressed_size().max(1) <= limits.max_ratio {
                if let Err(e) = manifests.blobs.look(&name, size, &mut file) {
                    limit_hit(format!("{name}: {e}"), out);
                }
            }
            continue;
        }
        let declared = file.size();
        if declared > 1024 * 1024 && declared / file.compressed_size().max(1) > limits.max_ratio {
            limit_hit(
                format!("{name}: compression ratio over {}", limits.max_ratio),
                out,
            );
            continue;
        }
        let mut data = Vec::new();
        if let Err(e) = (&mut file)
            .take(limits.max_member_bytes)
            .read_to_end(&mut data)
        {
            limit_hit(format!("{name}: {e}"), out);
            continue;
        }
        total += data.len() as u64;
        if total > limits.max_total_bytes {
            return limit_hit(
                format!("over {} uncompressed bytes", limits.max_total_bytes),
                out,
            );
        }
        if let Some(role) = role {
            scan_member(rules, &name, &data, role, out);
        }
        if let Some(m) = manifest {
            manifests.keep(&name, m, &data);
        }
    }
}
