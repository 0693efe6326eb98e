//! Typosquat scoring speed, side by side with `typomania` (the Rust
//! Foundation's typosquat toolbox, run by crates.io) on the same names and
//! the same popular list, in one run, both single-threaded.
//!
//! `cargo bench --bench typosquat`
//!
//! The 10,000 names: 4,000 known-malicious PyPI names (the shipped OpenSSF
//! list), 3,000 one-edit mutations of popular names, and 3,000 popular names
//! themselves (what a fleet mostly has installed). Both tools check each name
//! against the same 14,985 popular names. typomania runs every check it ships
//! (repeated, swapped characters, version, bit flips, omitted, swapped words,
//! keyboard typos); squatch runs its whole scorer (those techniques plus
//! look-alikes, combosquats, prefixes, distance 2 and the known-malicious
//! lookup).
//!
//! Times are the best of five runs, wall clock and the thread's CPU time
//! (the steadier figure on a shared machine; the load average is printed
//! beside it). `TYPOSQUAT_DUMP=FILE` writes every assessment instead (see
//! `dump`), to check that a speed change moves no score.

use std::collections::HashMap;
use std::hint::black_box;
use std::time::{Duration, Instant};

use squatch::typosquat::{data, judge, variants, Index, Verdict, DEFAULT_THRESHOLD};
use typomania::checks::{Bitflips, Omitted, SwappedWords, Typos};
use typomania::{AuthorSet, Corpus, Harness, Package};

const RUNS: usize = 5;

struct Pkg;

impl Package for Pkg {
    fn authors(&self) -> &dyn AuthorSet {
        self
    }
    fn description(&self) -> Option<&str> {
        None
    }
    fn shared_authors(&self, _other: &dyn AuthorSet) -> bool {
        false
    }
}

impl AuthorSet for Pkg {
    fn contains(&self, _author: &str) -> bool {
        false
    }
}

struct Top(HashMap<String, Pkg>);

impl Corpus for Top {
    fn contains_name(&self, name: &str) -> typomania::Result<bool> {
        Ok(self.0.contains_key(name))
    }
    fn get(&self, name: &str) -> typomania::Result<Option<&dyn Package>> {
        Ok(self.0.get(name).map(|p| p as &dyn Package))
    }
}

/// QWERTY neighbours for typomania's keyboard check (same layout squatch uses).
fn keyboard() -> Vec<(char, Vec<String>)> {
    let rows = ["1234567890-", "qwertyuiop", "asdfghjkl", "zxcvbnm"];
    let offs = [0.0f32, 0.5, 0.75, 1.25];
    let mut keys = Vec::new();
    for (r, row) in rows.iter().enumerate() {
        for (c, ch) in row.chars().enumerate() {
            keys.push((ch, r, offs[r] + c as f32));
        }
    }
    keys.iter()
        .map(|&(ch, r, x)| {
            let n = keys
                .iter()
                .filter(|&&(o, r2, x2)| {
                    o != ch
                        && ((r2 == r && (x2 - x).abs() <= 1.0)
                            || (r2.abs_diff(r) == 1 && (x2 - x).abs() < 1.0))
                })
                .map(|&(o, _, _)| o.to_string())
                .collect();
            (ch, n)
        })
        .collect()
}

/// A small deterministic generator (no `rand` dependency for a bench).
struct Lcg(u64);
impl Lcg {
    fn next(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 33) as usize) % n.max(1)
    }
}

fn names(popular: &[String], malicious: &[String]) -> Vec<String> {
    let mut rng = Lcg(2026);
    let mut out: Vec<String> = malicious.iter().take(4_000).cloned().collect();
    let alphabet = b"abcdefghijklmnopqrstuvwxyz0123456789";
    while out.len() < 7_000 {
        let p = popular[rng.next(popular.len().min(5_000))]
            .as_bytes()
            .to_vec();
        if p.len() < 3 {
            continue;
        }
        let i = rng.next(p.len());
        let mut v = p.clone();
        match rng.next(4) {
            0 => {
                v.remove(i);
            }
            1 => v.insert(i, v[i]),
            2 if i + 1 < v.len() => v.swap(i, i + 1),
            _ => v[i] = alphabet[rng.next(alphabet.len())],
        }
        if let Ok(s) = String::from_utf8(v) {
            out.push(s);
        }
    }
    while out.len() < 10_000 {
        out.push(popular[rng.next(popular.len())].clone());
    }
    out
}

/// CPU time of the calling thread: on a shared, loaded machine the steadier
/// figure (a preempted thread's wall clock keeps running; its CPU clock
/// does not).
fn thread_cpu() -> Duration {
    // SAFETY: clock_gettime writes into the zeroed struct we pass.
    let mut t: libc::timespec = unsafe { std::mem::zeroed() };
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut t) };
    Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
}

fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

/// Best wall time and best thread CPU time of [`RUNS`] runs.
fn best_of<T>(mut f: impl FnMut() -> T) -> (Duration, T) {
    let (wall, _, r) = best_of_cpu(&mut f);
    (wall, r)
}

/// Best wall time, best thread CPU time and the result of [`RUNS`] runs.
fn best_of_cpu<T>(mut f: impl FnMut() -> T) -> (Duration, Duration, T) {
    let mut best = Duration::MAX;
    let mut best_cpu = Duration::MAX;
    let mut last = None;
    for _ in 0..RUNS {
        let c = thread_cpu();
        let t = Instant::now();
        let r = f();
        best = best.min(t.elapsed());
        best_cpu = best_cpu.min(thread_cpu().saturating_sub(c));
        last = Some(r);
    }
    (best, best_cpu, last.expect("RUNS > 0"))
}

/// `TYPOSQUAT_DUMP=FILE cargo bench --bench typosquat`: writes every field
/// of the assessment of each bench name, each labelled name, each popular
/// and each known-malicious name (with the full index and with the
/// shape-only one) and the variants of the top 300 names to FILE, then
/// exits. Diff two dumps to prove a speed change leaves every score alone.
fn dump(path: &std::ffi::OsStr, index: &Index, bench_names: &[String]) {
    use std::fmt::Write as _;
    let shape_only = Index::from_tsv(data::TOP_TSV, "", data::CURATED_TSV);
    let first_col = |text: &'static str| -> Vec<String> {
        text.lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .filter_map(|l| l.split('\t').next())
            .map(str::to_string)
            .collect()
    };
    let mut all: Vec<String> = bench_names.to_vec();
    all.extend(first_col(include_str!(
        "../tests/data/typosquat/positives.tsv"
    )));
    all.extend(first_col(include_str!("../tests/data/typosquat/legit.tsv")));
    all.extend(first_col(include_str!(
        "../tests/data/typosquat/unranked_sample.tsv"
    )));
    all.extend(first_col(data::MALICIOUS_TSV));
    all.extend(index.popular().iter().map(|p| p.name.clone()));
    all.extend(first_col(data::CURATED_TSV));
    // Odd strings: the unit tests' hostile-name sweep, longer.
    let alphabet: Vec<char> = "ab-_.01rnmé中ωо torchequsnpy".chars().collect();
    let mut x: u64 = 7;
    for _ in 0..5_000 {
        let mut s = String::new();
        x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
        for k in 0..(x >> 59) as usize + 1 {
            let r = (x >> (k % 50)) as usize;
            s.push(alphabet[r % alphabet.len()]);
        }
        all.push(s);
    }
    all.push("a".repeat(200));
    let mut out = String::new();
    for n in &all {
        let _ = writeln!(out, "full\t{:?}", index.assess(n));
        let _ = writeln!(out, "shape\t{:?}", shape_only.assess(n));
    }
    for p in index.popular().iter().take(300) {
        for v in variants(index, &p.name) {
            let _ = writeln!(out, "variant\t{v:?}");
        }
    }
    std::fs::write(path, out).expect("write dump");
    println!("dumped {} names to {}", all.len(), path.to_string_lossy());
}

/// `TYPOSQUAT_PROFILE=SECONDS cargo bench --bench typosquat`: scores the
/// bench names with squatch alone, over and over for about SECONDS, for a
/// profiler (`perf record --call-graph dwarf`, `perf stat`) to watch
/// without typomania's run in the samples.
fn profile(index: &Index, names: &[String], secs: &std::ffi::OsStr) {
    let secs: f64 = secs.to_string_lossy().parse().unwrap_or(10.0);
    // TYPOSQUAT_PROFILE_KIND=malicious|mutations|popular: one kind only.
    let names = match std::env::var("TYPOSQUAT_PROFILE_KIND").as_deref() {
        Ok("malicious") => &names[..4_000],
        Ok("mutations") => &names[4_000..7_000],
        Ok("popular") => &names[7_000..],
        _ => names,
    };
    let start = Instant::now();
    let c = thread_cpu();
    let mut rounds = 0u32;
    while start.elapsed().as_secs_f64() < secs {
        for n in names {
            black_box(index.assess(n));
        }
        rounds += 1;
    }
    let cpu = thread_cpu().saturating_sub(c);
    println!(
        "profiled {rounds} rounds of {} names: {:.2?} CPU a name",
        names.len(),
        cpu / (rounds.max(1) * names.len() as u32)
    );
    // The three kinds of bench names (see `names`), each alone.
    for (kind, part) in [
        ("known malicious", &names[..4_000.min(names.len())]),
        (
            "one-edit mutations",
            &names[4_000.min(names.len())..7_000.min(names.len())],
        ),
        ("popular", &names[7_000.min(names.len())..]),
    ] {
        if part.is_empty() {
            continue;
        }
        let (_, cpu, _) = best_of_cpu(|| {
            for n in part {
                black_box(index.assess(n));
            }
        });
        println!("  {kind:>20}: {:.2?} CPU a name", cpu / part.len() as u32);
    }
}

fn main() {
    // The shipped index is packed at compile time (build.rs): what a
    // process pays before its first score is reading the table headers.
    let t = Instant::now();
    let index = Index::embedded();
    let squatch_build = t.elapsed();
    let t = Instant::now();
    let runtime_packed = Index::from_tsv(data::TOP_TSV, data::MALICIOUS_TSV, data::CURATED_TSV);
    let squatch_pack = t.elapsed();
    drop(runtime_packed);
    let popular: Vec<String> = index.popular().iter().map(|p| p.name.clone()).collect();
    let malicious: Vec<String> = data::MALICIOUS_TSV
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split('\t').next())
        .map(str::to_string)
        .collect();
    let names = names(&popular, &malicious);
    if let Some(path) = std::env::var_os("TYPOSQUAT_DUMP") {
        dump(&path, index, &names);
        return;
    }
    if let Some(secs) = std::env::var_os("TYPOSQUAT_PROFILE") {
        profile(index, &names, &secs);
        return;
    }

    let t = Instant::now();
    let corpus = Top(popular.iter().map(|n| (n.clone(), Pkg)).collect());
    let alphabet = "abcdefghijklmnopqrstuvwxyz1234567890-_";
    let harness = Harness::builder()
        .with_check(Bitflips::new(alphabet, popular.iter().map(String::as_str)))
        .with_check(Omitted::new(alphabet))
        .with_check(SwappedWords::new("-_."))
        .with_check(Typos::new(keyboard().into_iter()))
        .build(corpus);
    let typomania_build = t.elapsed();

    let (typomania_time, typomania_cpu, typomania_flagged) = best_of_cpu(|| {
        names
            .iter()
            .filter(|n| {
                harness
                    .check_package(n, Box::new(Pkg))
                    .map(|s| !s.is_empty())
                    .unwrap_or(false)
            })
            .count()
    });
    let (squatch_time, squatch_cpu, squatch_flagged) = best_of_cpu(|| {
        names
            .iter()
            .filter(|n| black_box(index.assess(n)).score >= DEFAULT_THRESHOLD)
            .count()
    });

    // The verdict on top of the score (names alone: what a `WHERE name =`
    // query or a requirements file gets).
    let (verdict_time, squatch_typosquat) = best_of(|| {
        names
            .iter()
            .filter(|n| judge(&black_box(index.assess(n)), None).verdict == Verdict::Typosquat)
            .count()
    });

    // Single lookups, as a scheduled query does them after the first build.
    let mut lat: Vec<Duration> = names
        .iter()
        .step_by(10)
        .map(|n| {
            let t = Instant::now();
            black_box(index.assess(n));
            t.elapsed()
        })
        .collect();
    if std::env::var_os("SLOWEST").is_some() {
        let mut each: Vec<(Duration, &String)> = names
            .iter()
            .map(|n| {
                let d = (0..5)
                    .map(|_| {
                        let t = Instant::now();
                        black_box(index.assess(n));
                        t.elapsed()
                    })
                    .min()
                    .unwrap_or_default();
                (d, n)
            })
            .collect();
        each.sort();
        for (d, n) in each.iter().rev().take(15) {
            println!("  slow: {d:?} {n}");
        }
    }
    lat.sort();
    let pct = |p: f64| lat[((lat.len() - 1) as f64 * p) as usize];

    println!(
        "typosquat bench: {} names against {} popular names, best of {RUNS}, one thread",
        names.len(),
        popular.len()
    );
    println!(
        "  index ready   squatch {:>9.1?}   typomania {:>9.1?}   (squatch: packed at compile time; packing the same data at run time takes {:.1?})",
        squatch_build, typomania_build, squatch_pack
    );
    println!(
        "  score 10,000  squatch {:>9.1?}   typomania {:>9.1?}   ratio typomania/squatch = {:.2}",
        squatch_time,
        typomania_time,
        typomania_time.as_secs_f64() / squatch_time.as_secs_f64()
    );
    println!(
        "  per name      squatch {:>9.2?}   typomania {:>9.2?}",
        squatch_time / names.len() as u32,
        typomania_time / names.len() as u32
    );
    println!(
        "  CPU per name  squatch {:>9.2?}   typomania {:>9.2?}   (thread CPU time, best of {RUNS}; load average {})",
        squatch_cpu / names.len() as u32,
        typomania_cpu / names.len() as u32,
        load()
    );
    println!(
        "  score+verdict squatch {:>9.1?}   ({:.2?} a name)",
        verdict_time,
        verdict_time / names.len() as u32
    );
    println!(
        "  single lookup squatch p50 {:.2?} p99 {:.2?} max {:.2?}",
        pct(0.5),
        pct(0.99),
        pct(1.0)
    );
    println!("  names flagged squatch {squatch_flagged}   typomania {typomania_flagged} (any squat found)   squatch verdict=typosquat {squatch_typosquat}");

    // Detection on the labelled set of tests/typosquat_eval.rs, both tools
    // by shape alone (squatch without its known-malicious list).
    let shape_only = Index::from_tsv(data::TOP_TSV, "", data::CURATED_TSV);
    let labelled = |text: &'static str| -> Vec<&'static str> {
        text.lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .filter_map(|l| l.split('\t').next())
            .collect()
    };
    let positives = labelled(include_str!("../tests/data/typosquat/positives.tsv"));
    let legit = labelled(include_str!("../tests/data/typosquat/legit.tsv"));
    let squatch_hit = |n: &str| shape_only.assess(n).score >= DEFAULT_THRESHOLD;
    let typomania_hit = |n: &str| {
        harness
            .check_package(n, Box::new(Pkg))
            .map(|s| !s.is_empty())
            .unwrap_or(false)
    };
    for (tool, hit) in [
        ("squatch  ", &squatch_hit as &dyn Fn(&str) -> bool),
        ("typomania", &typomania_hit),
    ] {
        let tp = positives.iter().filter(|n| hit(n)).count();
        let fp = legit.iter().filter(|n| hit(n)).count();
        println!(
            "  labelled set  {tool} recall {:.3} ({tp}/{}) precision {:.3} ({tp}/{})",
            tp as f64 / positives.len() as f64,
            positives.len(),
            tp as f64 / (tp + fp).max(1) as f64,
            tp + fp
        );
    }
    let long_tail = labelled(include_str!("../tests/data/typosquat/unranked_sample.tsv"));
    println!(
        "  long-tail alert rate (2,000 unranked PyPI names)  squatch {:.3}  typomania {:.3}",
        long_tail.iter().filter(|n| squatch_hit(n)).count() as f64 / long_tail.len() as f64,
        long_tail.iter().filter(|n| typomania_hit(n)).count() as f64 / long_tail.len() as f64
    );
    let typosquat_verdict =
        |n: &str| judge(&shape_only.assess(n), None).verdict == Verdict::Typosquat;
    println!(
        "  long-tail verdict=typosquat (names alone)  squatch {:.4}; labelled set verdict=typosquat recall {:.3} precision {}",
        long_tail.iter().filter(|n| typosquat_verdict(n)).count() as f64 / long_tail.len() as f64,
        positives.iter().filter(|n| typosquat_verdict(n)).count() as f64 / positives.len() as f64,
        if legit.iter().any(|n| typosquat_verdict(n)) { "< 1" } else { "1.000" }
    );
    // The same on the fixed halves of tests/typosquat_eval.rs (FNV-1a of
    // the name, even = A, where the verdict rules were tuned; odd = B).
    let half_a = |n: &str| {
        n.bytes()
            .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
                (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
            })
            .is_multiple_of(2)
    };
    for (label, keep) in [("A (tuned)", true), ("B (held out)", false)] {
        let tail: Vec<&str> = long_tail
            .iter()
            .copied()
            .filter(|n| half_a(n) == keep)
            .collect();
        let pos: Vec<&str> = positives
            .iter()
            .copied()
            .filter(|n| half_a(n) == keep)
            .collect();
        println!(
            "    half {label}: long-tail verdict=typosquat {}/{}; labelled recall {}/{}",
            tail.iter().filter(|n| typosquat_verdict(n)).count(),
            tail.len(),
            pos.iter().filter(|n| typosquat_verdict(n)).count(),
            pos.len()
        );
    }
}
