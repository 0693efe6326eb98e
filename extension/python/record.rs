//! RECORD (PEP 376/627) and egg-info `installed-files.txt`: the files a
//! distribution installed, with their hashes and sizes.
//!
//! RECORD is CSV: `path,hash,size`, the path relative to the site directory
//! (it may climb with `..` to `bin/` or `share/`, or be absolute), the hash
//! `sha256=<urlsafe base64, no padding>`. Paths are resolved *lexically*
//! ([`Host::normalize`]): never above the host root, and an entry that lands
//! outside the environment's prefix is flagged rather than trusted.

use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};

use super::distribution::{DistFormat, Distribution};
use crate::host::{Host, HostDir, HostError};

/// One file a distribution says it installed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordEntry {
    /// The host path it resolves to.
    pub path: PathBuf,
    /// `(algorithm, digest)` as written (`("sha256", "<urlsafe b64>")`), when
    /// RECORD gives one.
    pub hash: Option<(String, String)>,
    /// The recorded size in bytes.
    pub size: Option<u64>,
    /// The path resolves outside the environment's prefix (a RECORD that
    /// points at `/etc/...` or climbs too far with `..`).
    pub outside_environment: bool,
}

/// Where the file list came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordSource {
    /// A dist-info `RECORD` (with hashes).
    Record,
    /// An egg-info `installed-files.txt` (paths only).
    InstalledFiles,
}

/// The files a distribution recorded. Empty when it recorded none (an
/// egg-info without `installed-files.txt`) or RECORD cannot be read.
///
/// Holds the whole list in memory: code that may meet an attacker's RECORD
/// (which can be padded to any length) streams it with
/// [`for_each_record_entry`] instead.
pub fn record_entries(host: &Host, dist: &Distribution) -> Vec<RecordEntry> {
    match read_record(host, dist) {
        Ok(Some((_, entries))) => entries,
        _ => Vec::new(),
    }
}

/// Like [`record_entries`], but says whether there was a list at all
/// (`Ok(None)`), which kind, and why it could not be read.
pub fn read_record(
    host: &Host,
    dist: &Distribution,
) -> Result<Option<(RecordSource, Vec<RecordEntry>)>, HostError> {
    read_record_at(host, dist, None)
}

/// [`read_record`], reading RECORD below `site_dir` (the distribution's site
/// directory held open) when given, which saves resolving its whole path.
/// Holds every entry in memory: scanners use [`for_each_record_entry`].
pub fn read_record_at(
    host: &Host,
    dist: &Distribution,
    site_dir: Option<&HostDir>,
) -> Result<Option<(RecordSource, Vec<RecordEntry>)>, HostError> {
    let mut entries = Vec::new();
    let read = for_each_record_entry(host, dist, site_dir, &mut |e| entries.push(e))?;
    Ok(read.map(|(source, _)| (source, entries)))
}

/// Longest RECORD (or `installed-files.txt`) line taken; a longer one is
/// skipped and counted (no real path is anywhere near it: `PATH_MAX` is
/// 4096 bytes), so a line without a newline cannot make memory grow.
pub const MAX_RECORD_LINE: usize = 64 * 1024;

/// What streaming a file list saw besides its entries.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RecordStats {
    /// Lines read.
    pub lines: u64,
    /// Lines over [`MAX_RECORD_LINE`] bytes, skipped.
    pub overlong: u64,
}

/// Streams the files a distribution recorded to `f`, one entry at a time,
/// in bounded memory and with no size limit (a RECORD padded to any size is
/// still read to its end, so there is no size at which verification stops).
/// `Ok(None)`: the distribution has no file list.
pub fn for_each_record_entry(
    host: &Host,
    dist: &Distribution,
    site_dir: Option<&HostDir>,
    f: &mut dyn FnMut(RecordEntry),
) -> Result<Option<(RecordSource, RecordStats)>, HostError> {
    let root = environment_root(&dist.site_packages);
    match dist.format {
        DistFormat::DistInfo => {
            let path = dist.metadata_path.join("RECORD");
            let rel = dist
                .metadata_path
                .strip_prefix(&dist.site_packages)
                .ok()
                .filter(|r| r.components().count() == 1)
                .filter(|_| dist.link_target.is_none());
            let opened = match (site_dir, rel) {
                (Some(d), Some(rel)) => host.open_file_at(d, &rel.join("RECORD")),
                _ => host.open_file(&path),
            };
            let file = match opened {
                Ok((file, _)) => file,
                Err(e) if e.is_not_found() => return Ok(None),
                Err(e) => return Err(e),
            };
            let stats = for_each_line(file, &path, &mut |line| {
                if let Some((p, hash, size)) = parse_record_line(line) {
                    let path = resolve_entry(&dist.site_packages, &p);
                    f(RecordEntry {
                        outside_environment: !within(&root, &path),
                        path,
                        hash,
                        size,
                    });
                }
            })?;
            Ok(Some((RecordSource::Record, stats)))
        }
        DistFormat::EggInfo => {
            if !host.is_dir(&dist.metadata_path) {
                return Ok(None);
            }
            let path = dist.metadata_path.join("installed-files.txt");
            let file = match host.open_file(&path) {
                Ok((file, _)) => file,
                Err(e) if e.is_not_found() => return Ok(None),
                Err(e) => return Err(e),
            };
            let stats = for_each_line(file, &path, &mut |line| {
                let l = line.trim();
                if l.is_empty() {
                    return;
                }
                let path = resolve_entry(&dist.metadata_path, l);
                f(RecordEntry {
                    outside_environment: !within(&root, &path),
                    path,
                    hash: None,
                    size: None,
                });
            })?;
            Ok(Some((RecordSource::InstalledFiles, stats)))
        }
    }
}

/// Calls `f` with each line of `file` (lossy UTF-8, without its `\n`),
/// holding at most [`MAX_RECORD_LINE`] bytes of it at a time.
pub fn for_each_line(
    file: impl std::io::Read,
    path: &Path,
    f: &mut dyn FnMut(&str),
) -> Result<RecordStats, HostError> {
    use std::io::BufRead;
    let mut reader = std::io::BufReader::with_capacity(64 * 1024, file);
    let mut line: Vec<u8> = Vec::new();
    let mut overlong = false;
    let mut stats = RecordStats::default();
    let mut emit = |line: &mut Vec<u8>, overlong: &mut bool, stats: &mut RecordStats| {
        stats.lines += 1;
        if *overlong {
            stats.overlong += 1;
        } else {
            f(&String::from_utf8_lossy(line));
        }
        line.clear();
        *overlong = false;
    };
    loop {
        let buf = match reader.fill_buf() {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(source) => {
                return Err(HostError::Io {
                    path: path.to_path_buf(),
                    source,
                })
            }
        };
        if buf.is_empty() {
            if !line.is_empty() || overlong {
                emit(&mut line, &mut overlong, &mut stats);
            }
            return Ok(stats);
        }
        let (chunk, done) = match memchr::memchr(b'\n', buf) {
            Some(i) => (&buf[..i], Some(i + 1)),
            None => (buf, None),
        };
        if !overlong {
            if line.len() + chunk.len() > MAX_RECORD_LINE {
                overlong = true;
                line.clear();
            } else {
                line.extend_from_slice(chunk);
            }
        }
        let used = done.unwrap_or(buf.len());
        reader.consume(used);
        if done.is_some() {
            emit(&mut line, &mut overlong, &mut stats);
        }
    }
}

/// [`for_each_line`] over bytes already in memory (a RECORD read whole):
/// the same lines, the same statistics, nothing copied but what is not
/// UTF-8.
pub fn for_each_line_in(bytes: &[u8], f: &mut dyn FnMut(&str)) -> RecordStats {
    let mut stats = RecordStats::default();
    // A RECORD is almost always UTF-8: checked once, its lines are then
    // borrowed as they are (a newline is always a character boundary).
    let text = std::str::from_utf8(bytes).ok();
    let mut rest = bytes;
    while !rest.is_empty() {
        let start = bytes.len() - rest.len();
        let (line, next) = match memchr::memchr(b'\n', rest) {
            Some(i) => (&rest[..i], &rest[i + 1..]),
            None => (rest, &rest[rest.len()..]),
        };
        rest = next;
        stats.lines += 1;
        if line.len() > MAX_RECORD_LINE {
            stats.overlong += 1;
        } else if let Some(text) = text {
            f(&text[start..start + line.len()]);
        } else {
            f(&String::from_utf8_lossy(line));
        }
    }
    stats
}

/// `path` relative to `base` when it lies strictly below it, by a byte
/// comparison of two normalised host paths (much cheaper than
/// [`Path::strip_prefix`]'s component walk, which shows on a RECORD of a
/// million lines).
pub fn below<'a>(base: &Path, path: &'a Path) -> Option<&'a Path> {
    use std::os::unix::ffi::OsStrExt;
    let b = base.as_os_str().as_bytes();
    let p = path.as_os_str().as_bytes();
    let rest = p.strip_prefix(b)?;
    let rest = if b.ends_with(b"/") {
        rest
    } else {
        rest.strip_prefix(b"/")?
    };
    (!rest.is_empty()).then(|| Path::new(std::ffi::OsStr::from_bytes(rest)))
}

/// True when the normalised host path `path` is `base` or below it.
pub(crate) fn within(base: &Path, path: &Path) -> bool {
    path == base || below(base, path).is_some()
}

/// Resolves a RECORD path against `base` lexically (`..` never climbs above
/// `/`); an absolute path is taken as a host path.
pub fn resolve_entry(base: &Path, rel: &str) -> PathBuf {
    // The usual line (`pkg/mod.py` below a normalised base) needs no
    // normalising: one allocation instead of a component walk.
    if is_plain_relative(rel) && is_normal_absolute(base) {
        use std::os::unix::ffi::OsStrExt;
        let b = base.as_os_str().as_bytes();
        let mut out = Vec::with_capacity(b.len() + 1 + rel.len());
        out.extend_from_slice(b);
        if !b.ends_with(b"/") {
            out.push(b'/');
        }
        out.extend_from_slice(rel.as_bytes());
        return PathBuf::from(std::ffi::OsString::from_vec(out));
    }
    let rel = rel.replace('\\', "/");
    if rel.starts_with('/') {
        Host::normalize(Path::new(&rel))
    } else {
        Host::normalize(&base.join(rel))
    }
}

/// True when `rel` is relative and every component is a plain name: no
/// backslash, no empty, `.` or `..` component (so joining it to a
/// normalised path gives a normalised path).
pub(crate) fn is_plain_relative(rel: &str) -> bool {
    let b = rel.as_bytes();
    !b.is_empty()
        && memchr::memchr(b'\\', b).is_none()
        && b.split(|c| *c == b'/')
            .all(|c| !c.is_empty() && c != b"." && c != b"..")
}

/// True when `p` is what [`Host::normalize`] gives: absolute, and every
/// component a plain name.
pub(crate) fn is_normal_absolute(p: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let b = p.as_os_str().as_bytes();
    match b.strip_prefix(b"/") {
        Some([]) => true,
        Some(rest) => rest
            .split(|c| *c == b'/')
            .all(|c| !c.is_empty() && c != b"." && c != b".."),
        None => false,
    }
}

/// The prefix an environment's files may live under, from its site
/// directory: `<prefix>/lib/pythonX.Y/site-packages` and
/// `/usr/lib/python3/dist-packages` give `<prefix>`, `<prefix>/Lib/site-packages`
/// gives `<prefix>`; anything else is its own root.
pub fn environment_root(site: &Path) -> PathBuf {
    let parent = site.parent();
    let pname = parent
        .and_then(Path::file_name)
        .map(|n| n.to_string_lossy().into_owned());
    let grand = parent.and_then(Path::parent);
    let gname = grand
        .and_then(Path::file_name)
        .map(|n| n.to_string_lossy().into_owned());
    match (pname.as_deref(), gname.as_deref()) {
        (Some(p), Some("lib" | "lib64")) if p.starts_with("python") => grand
            .and_then(Path::parent)
            .unwrap_or(Path::new("/"))
            .to_path_buf(),
        (Some("Lib"), _) => grand.unwrap_or(Path::new("/")).to_path_buf(),
        _ => site.to_path_buf(),
    }
}

/// One RECORD line: the path as written, `(algorithm, digest)`, size.
pub type RecordLine = (String, Option<(String, String)>, Option<u64>);

/// One RECORD line's fields as [`parse_record_line`] gives them, borrowed
/// from the line where nothing had to be unquoted or lowercased (the usual
/// line): the path as written, `(algorithm, digest)`, size.
pub type RecordFields<'a> = (
    Cow<'a, str>,
    Option<(Cow<'a, str>, Cow<'a, str>)>,
    Option<u64>,
);

use std::borrow::Cow;

/// Parses one RECORD line (CSV with `"` quoting) into path, hash and size.
/// Blank and malformed lines give `None`.
pub fn parse_record_line(line: &str) -> Option<RecordLine> {
    let (path, hash, size) = parse_record_fields(line)?;
    Some((
        path.into_owned(),
        hash.map(|(a, d)| (a.into_owned(), d.into_owned())),
        size,
    ))
}

/// [`parse_record_line`] without copying what needs no unquoting: the
/// streaming scans read every line of every RECORD of a host.
pub fn parse_record_fields(line: &str) -> Option<RecordFields<'_>> {
    let line = line.strip_suffix('\r').unwrap_or(line);
    if line.trim().is_empty() {
        return None;
    }
    fn lower(s: Cow<'_, str>) -> Cow<'_, str> {
        if s.bytes().any(|b| b.is_ascii_uppercase()) {
            Cow::Owned(s.to_ascii_lowercase())
        } else {
            s
        }
    }
    fn hash_of(h: Cow<'_, str>) -> Option<(Cow<'_, str>, Cow<'_, str>)> {
        let i = memchr::memchr(b'=', h.as_bytes())?;
        if i + 1 == h.len() {
            return None;
        }
        Some(match h {
            Cow::Borrowed(b) => (lower(Cow::Borrowed(&b[..i])), Cow::Borrowed(&b[i + 1..])),
            Cow::Owned(o) => (
                Cow::Owned(o[..i].to_ascii_lowercase()),
                Cow::Owned(o[i + 1..].to_string()),
            ),
        })
    }
    // The usual line has no quotes: its fields are borrowed, not copied.
    if memchr::memchr(b'"', line.as_bytes()).is_none() {
        // Split at the first two commas (a comma is ASCII: the cuts are
        // char boundaries); whatever follows a third comma is not read.
        let mut commas = memchr::memchr_iter(b',', line.as_bytes());
        let (c1, c2, c3) = (commas.next(), commas.next(), commas.next());
        let path = &line[..c1.unwrap_or(line.len())];
        if path.is_empty() {
            return None;
        }
        let hash = c1
            .map(|a| &line[a + 1..c2.unwrap_or(line.len())])
            .map(Cow::Borrowed)
            .and_then(hash_of);
        let size = c2
            .map(|b| &line[b + 1..c3.unwrap_or(line.len())])
            .and_then(|s| s.trim().parse().ok());
        return Some((Cow::Borrowed(path), hash, size));
    }
    let mut fields = split_csv(line).into_iter();
    let path = fields.next()?;
    if path.is_empty() {
        return None;
    }
    let hash = fields.next().map(Cow::Owned).and_then(hash_of);
    let size = fields.next().and_then(|s| s.trim().parse().ok());
    Some((Cow::Owned(path), hash, size))
}

fn split_csv(line: &str) -> Vec<String> {
    if !line.contains('"') {
        return line.split(',').map(str::to_string).collect();
    }
    let mut fields = Vec::with_capacity(3);
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            '"' => quoted = !quoted,
            ',' if !quoted => fields.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    fields.push(cur);
    fields
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_quoted_and_plain_lines() {
        let (p, h, s) = parse_record_line("pkg/__init__.py,sha256=abc_-,12").unwrap();
        assert_eq!(p, "pkg/__init__.py");
        assert_eq!(h, Some(("sha256".into(), "abc_-".into())));
        assert_eq!(s, Some(12));
        let (p, h, s) = parse_record_line("\"odd,\"\"name\"\".py\",,\r").unwrap();
        assert_eq!(p, "odd,\"name\".py");
        assert_eq!((h, s), (None, None));
        assert!(parse_record_line("").is_none());
        assert!(parse_record_line(",sha256=x,1").is_none());
    }

    #[test]
    fn plain_lines_split_at_their_first_three_commas() {
        let fields = |l: &str| {
            let (p, h, s) = parse_record_fields(l).unwrap();
            let h = h.map(|(a, d)| format!("{a}={d}"));
            (p.into_owned(), h, s)
        };
        // A field past the third is not read; the size ends at the third comma.
        assert_eq!(
            fields("a.py,sha256=x,12,extra,more"),
            ("a.py".into(), Some("sha256=x".into()), Some(12))
        );
        // Only a path; a path and an empty hash; a hash with no size.
        assert_eq!(fields("a.py"), ("a.py".into(), None, None));
        assert_eq!(fields("a.py,"), ("a.py".into(), None, None));
        assert_eq!(fields("a.py,,"), ("a.py".into(), None, None));
        assert_eq!(
            fields("a.py,SHA256=Ab"),
            ("a.py".into(), Some("sha256=Ab".into()), None)
        );
        // A digest that is empty after '=' is no hash; '=' in the digest stays.
        assert_eq!(fields("a.py,sha256=,3"), ("a.py".into(), None, Some(3)));
        assert_eq!(
            fields("a.py,md5=a=b,3"),
            ("a.py".into(), Some("md5=a=b".into()), Some(3))
        );
        // The size is trimmed; a size that is no number is none.
        assert_eq!(
            fields("a.py,sha256=x, 7 \r"),
            ("a.py".into(), Some("sha256=x".into()), Some(7))
        );
        assert_eq!(
            fields("a.py,sha256=x,seven"),
            ("a.py".into(), Some("sha256=x".into()), None)
        );
        // Non-ASCII paths split at the commas, not inside a character.
        assert_eq!(
            fields("é,sha256=x,1"),
            ("é".into(), Some("sha256=x".into()), Some(1))
        );
        assert!(parse_record_fields(" \r").is_none());
    }

    #[test]
    fn plain_relative_paths_have_only_plain_components() {
        for ok in ["a.py", "pkg/a.py", "a/b/c", "..a/b", "a./b"] {
            assert!(is_plain_relative(ok), "{ok}");
        }
        for bad in [
            "", "/a", "a/", "a//b", "./a", "a/./b", "../a", "a/..", "a\\b",
        ] {
            assert!(!is_plain_relative(bad), "{bad}");
        }
    }

    #[test]
    fn entries_resolve_lexically_and_roots_are_prefixes() {
        let site = Path::new("/v/lib/python3.12/site-packages");
        assert_eq!(
            resolve_entry(site, "../../../bin/tool"),
            Path::new("/v/bin/tool")
        );
        assert_eq!(
            resolve_entry(site, "../../../../../../../../etc/passwd"),
            Path::new("/etc/passwd")
        );
        assert_eq!(
            resolve_entry(site, "/usr/share/x"),
            Path::new("/usr/share/x")
        );
        assert_eq!(
            resolve_entry(site, "pkg/mod.py"),
            Path::new("/v/lib/python3.12/site-packages/pkg/mod.py")
        );
        for (rel, want) in [
            (
                "pkg//./mod.py",
                "/v/lib/python3.12/site-packages/pkg/mod.py",
            ),
            ("pkg\\mod.py", "/v/lib/python3.12/site-packages/pkg/mod.py"),
            ("pkg/../x.py", "/v/lib/python3.12/site-packages/x.py"),
            ("./x.py", "/v/lib/python3.12/site-packages/x.py"),
        ] {
            assert_eq!(resolve_entry(site, rel), Path::new(want), "{rel}");
        }
        assert_eq!(
            resolve_entry(Path::new("/v/./s"), "x.py"),
            Path::new("/v/s/x.py")
        );
        assert_eq!(resolve_entry(Path::new("/"), "x.py"), Path::new("/x.py"));
        assert_eq!(environment_root(site), Path::new("/v"));
        assert_eq!(
            environment_root(Path::new("/usr/lib/python3/dist-packages")),
            Path::new("/usr")
        );
        assert_eq!(
            environment_root(Path::new("/c/Lib/site-packages")),
            Path::new("/c")
        );
        assert_eq!(
            environment_root(Path::new("/weird/site")),
            Path::new("/weird/site")
        );
    }

    #[test]
    fn lines_are_streamed_and_overlong_ones_skipped() {
        let mut text = b"a\r\nb\n".to_vec();
        text.extend(std::iter::repeat_n(b'x', MAX_RECORD_LINE + 10));
        text.extend(b"\nc");
        let mut seen = Vec::new();
        let stats = for_each_line(&text[..], Path::new("/r"), &mut |l| {
            seen.push(l.to_string())
        })
        .unwrap();
        assert_eq!(seen, vec!["a\r", "b", "c"]);
        assert_eq!(
            stats,
            RecordStats {
                lines: 4,
                overlong: 1
            }
        );
    }

    #[test]
    fn lines_in_memory_are_the_streamed_lines_utf8_or_not() {
        let long = "x".repeat(MAX_RECORD_LINE + 1);
        let texts: Vec<Vec<u8>> = vec![
            b"".to_vec(),
            b"\n".to_vec(),
            b"a/b.py,sha256=x,1\r\nc\n\n".to_vec(),
            "caf\u{e9}/m.py,,\n\u{1f40d}.py\nlast".as_bytes().to_vec(),
            format!("a\n{long}\nb\n").into_bytes(),
            // Not UTF-8: the bad line is read lossily, the others as they are.
            b"ok.py,,\nbad\xff.py,,\n\xc3\n".to_vec(),
        ];
        for t in &texts {
            let (mut streamed, mut in_memory) = (Vec::new(), Vec::new());
            let a = for_each_line(&t[..], Path::new("/r"), &mut |l| {
                streamed.push(l.to_string())
            })
            .unwrap();
            let b = for_each_line_in(t, &mut |l| in_memory.push(l.to_string()));
            assert_eq!(in_memory, streamed, "{t:?}");
            assert_eq!(a, b);
        }
    }
}
