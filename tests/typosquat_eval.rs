//! Evaluation of the typosquat scorer on labelled public data
//! (`tests/data/typosquat/`, see the headers there for how it was built).
//!
//! Typosquats are scored by shape alone: the index is built *without* the
//! known-malicious list (otherwise every labelled typosquat would score 1.0
//! by lookup). The assertions pin the figures reached so they cannot fall
//! silently; the report quotes them.

use squatch::typosquat::{data, judge, Index, Verdict, DEFAULT_THRESHOLD};

const POSITIVES: &str = include_str!("data/typosquat/positives.tsv");
const LEGIT: &str = include_str!("data/typosquat/legit.tsv");
const UNRANKED: &str = include_str!("data/typosquat/unranked_sample.tsv");

fn rows(text: &str) -> Vec<Vec<&str>> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| l.split('\t').collect())
        .collect()
}

struct Figures {
    tp: usize,
    fn_: usize,
    fp: usize,
    tn: usize,
    target_agrees: usize,
}

impl Figures {
    fn precision(&self) -> f64 {
        self.tp as f64 / (self.tp + self.fp).max(1) as f64
    }
    fn recall(&self) -> f64 {
        self.tp as f64 / (self.tp + self.fn_).max(1) as f64
    }
}

fn evaluate(index: &Index) -> Figures {
    let mut f = Figures {
        tp: 0,
        fn_: 0,
        fp: 0,
        tn: 0,
        target_agrees: 0,
    };
    let positives = rows(POSITIVES);
    let legit = rows(LEGIT);
    assert_eq!(
        positives.len(),
        legit.len(),
        "the two classes must be balanced"
    );
    for r in &positives {
        let a = index.assess(r[0]);
        if a.score >= DEFAULT_THRESHOLD {
            f.tp += 1;
            if a.target.as_deref() == Some(r[1]) {
                f.target_agrees += 1;
            }
        } else {
            f.fn_ += 1;
            eprintln!(
                "missed  {:<32} {:.2} {:?} {}",
                r[0], a.score, a.target, a.technique
            );
        }
    }
    for r in &legit {
        let a = index.assess(r[0]);
        if a.score >= DEFAULT_THRESHOLD {
            f.fp += 1;
            eprintln!(
                "flagged {:<32} {:.2} {:?} {}",
                r[0], a.score, a.target, a.technique
            );
        } else {
            f.tn += 1;
        }
    }
    f
}

#[test]
fn precision_and_recall_on_labelled_public_data() {
    let index = Index::from_tsv(data::TOP_TSV, "", data::CURATED_TSV);
    let f = evaluate(&index);
    eprintln!(
        "typosquat eval: tp={} fn={} fp={} tn={} precision={:.3} recall={:.3} target agreement={}/{}",
        f.tp, f.fn_, f.fp, f.tn, f.precision(), f.recall(), f.target_agrees, f.tp
    );
    assert!(
        f.precision() >= PRECISION_FLOOR,
        "precision {:.3}",
        f.precision()
    );
    assert!(f.recall() >= RECALL_FLOOR, "recall {:.3}", f.recall());
    assert!(
        f.target_agrees as f64 >= TARGET_AGREEMENT_FLOOR * f.tp as f64,
        "target agreement {}/{}",
        f.target_agrees,
        f.tp
    );
}

/// A harder check of false positives: the legitimate neighbours scored as
/// if they had not made the top list (their own entries removed, their
/// neighbours kept), so only the rank gap and the technique keep them apart.
#[test]
fn legit_neighbours_without_their_own_popularity() {
    let legit: std::collections::HashSet<&str> = rows(LEGIT).iter().map(|r| r[0]).collect();
    let top: String = data::TOP_TSV
        .lines()
        .filter(|l| l.split('\t').nth(1).is_none_or(|n| !legit.contains(n)))
        .map(|l| format!("{l}\n"))
        .collect();
    let index = Index::from_tsv(&top, "", data::CURATED_TSV);
    let flagged = legit
        .iter()
        .filter(|n| index.assess(n).score >= DEFAULT_THRESHOLD)
        .count();
    let rate = flagged as f64 / legit.len() as f64;
    eprintln!(
        "legit neighbours flagged once unranked: {flagged}/{} ({rate:.3})",
        legit.len()
    );
    assert!(rate <= UNRANKED_NEIGHBOUR_RATE_CEILING, "rate {rate:.3}");
}

/// The alert rate on a random sample of PyPI names outside the top list and
/// outside the malicious list (mostly legitimate long-tail packages): what a
/// fleet would see on unpopular installed packages.
#[test]
fn alert_rate_on_long_tail_pypi_names() {
    let index = Index::from_tsv(data::TOP_TSV, "", data::CURATED_TSV);
    let names: Vec<&str> = rows(UNRANKED).iter().map(|r| r[0]).collect();
    assert!(names.len() >= 1000);
    let flagged = names
        .iter()
        .filter(|n| index.assess(n).score >= DEFAULT_THRESHOLD)
        .count();
    let rate = flagged as f64 / names.len() as f64;
    eprintln!(
        "long-tail alert rate: {flagged}/{} ({rate:.3})",
        names.len()
    );
    assert!(rate <= LONG_TAIL_RATE_CEILING, "rate {rate:.3}");
}

/// A fixed split of a set by name: FNV-1a (64-bit) of the name as written,
/// even hashes in half A (where the verdict rules were tuned), odd in half
/// B (held out).
fn half_a(name: &str) -> bool {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h.is_multiple_of(2)
}

/// A malware name held out of all tuning: one starting with n-z.
fn held_out(name: &str) -> bool {
    name.starts_with(|c: char| ('n'..='z').contains(&c))
}

/// The verdict on names alone (no installed metadata: the signals a host
/// adds are absent, and the index holds no known-malicious names, so only
/// the shape speaks): `typosquat` must stay rare on the long tail, the
/// labelled typosquats must be `typosquat`, never a legitimate neighbour,
/// and the known ML squats must stay `typosquat`. Figures for the whole
/// sets and for each half (A: where the rules were tuned; B: held out).
#[test]
fn verdicts_on_names_alone() {
    let index = Index::from_tsv(data::TOP_TSV, "", data::CURATED_TSV);
    let verdict = |n: &str| judge(&index.assess(n), None).verdict;
    let unranked: Vec<&str> = rows(UNRANKED).iter().map(|r| r[0]).collect();
    let positives = rows(POSITIVES);
    let legit = rows(LEGIT);
    let n = positives.len() as f64;
    let mut whole = (0, 0, 0, 0, 0); // unranked typosquat, tp, fp, alert tp, alert fp
    for (label, keep) in [("A", true), ("B", false)] {
        let typo_unranked: Vec<&str> = unranked
            .iter()
            .copied()
            .filter(|n| half_a(n) == keep && verdict(n) == Verdict::Typosquat)
            .collect();
        let total = unranked.iter().filter(|n| half_a(n) == keep).count();
        let pos: Vec<&Vec<&str>> = positives.iter().filter(|r| half_a(r[0]) == keep).collect();
        let leg: Vec<&Vec<&str>> = legit.iter().filter(|r| half_a(r[0]) == keep).collect();
        let count = |rs: &[&Vec<&str>], v: &dyn Fn(Verdict) -> bool| {
            rs.iter().filter(|r| v(verdict(r[0]))).count()
        };
        let tp = count(&pos, &|v| v == Verdict::Typosquat);
        let fp = count(&leg, &|v| v == Verdict::Typosquat);
        let alert_tp = count(&pos, &|v| v != Verdict::Ok);
        let alert_fp = count(&leg, &|v| v != Verdict::Ok);
        for r in &pos {
            // Misses are listed by name only for the tuning part (names
            // starting 0-9 or a-m); a held-out name (n-z) is counted below,
            // never shown, so reading this output cannot tune on it.
            if verdict(r[0]) != Verdict::Typosquat && !held_out(r[0]) {
                let a = index.assess(r[0]);
                eprintln!(
                    "half {label} not typosquat: {:<28} {:.3} {}",
                    r[0], a.score, a.technique
                );
            }
        }
        eprintln!(
            "half {label}: long-tail verdict=typosquat {}/{total} ({:.4}) {typo_unranked:?}; labelled typosquat tp={tp}/{} fp={fp}/{} recall={:.3}; verdict != ok tp={alert_tp} fp={alert_fp}",
            typo_unranked.len(),
            typo_unranked.len() as f64 / total as f64,
            pos.len(),
            leg.len(),
            tp as f64 / pos.len() as f64,
        );
        assert!(
            typo_unranked.len() as f64 / total as f64 <= VERDICT_LONG_TAIL_HALF_CEILING,
            "half {label}: {typo_unranked:?}"
        );
        assert!(
            tp as f64 / pos.len() as f64 >= VERDICT_TYPOSQUAT_RECALL_HALF_FLOOR,
            "half {label}: typosquat recall {tp}/{}",
            pos.len()
        );
        whole.0 += typo_unranked.len();
        whole.1 += tp;
        whole.2 += fp;
        whole.3 += alert_tp;
        whole.4 += alert_fp;
    }
    // The labelled typosquats by first letter: those starting n-z are the
    // malware names kept out of the tuning of the attacked-target list.
    for (label, n_z) in [("0-9, a-m", false), ("n-z", true)] {
        let part: Vec<&Vec<&str>> = positives.iter().filter(|r| held_out(r[0]) == n_z).collect();
        let tp = part
            .iter()
            .filter(|r| verdict(r[0]) == Verdict::Typosquat)
            .count();
        eprintln!(
            "labelled typosquats starting {label}: verdict=typosquat {tp}/{} ({:.3})",
            part.len(),
            tp as f64 / part.len() as f64
        );
    }
    let (typo_unranked, typo_tp, typo_fp, alert_tp, alert_fp) = whole;
    let rate = typo_unranked as f64 / unranked.len() as f64;
    eprintln!(
        "whole: long-tail verdict=typosquat {typo_unranked}/{} ({rate:.4}); verdict != ok: tp={alert_tp} fp={alert_fp} recall={:.3}; verdict = typosquat: tp={typo_tp} fp={typo_fp} recall={:.3}",
        unranked.len(),
        alert_tp as f64 / n,
        typo_tp as f64 / n
    );
    assert!(rate <= VERDICT_LONG_TAIL_CEILING, "rate {rate:.4}");
    assert_eq!(alert_fp, 0, "precision of verdict != ok");
    assert_eq!(typo_fp, 0, "precision of verdict = typosquat");
    assert!(alert_tp as f64 / n >= RECALL_FLOOR, "recall {alert_tp}");
    assert!(
        typo_tp as f64 / n >= VERDICT_TYPOSQUAT_RECALL_FLOOR,
        "typosquat recall {typo_tp}"
    );

    // The known ML squats: named ones, and the labelled tensorflow, keras,
    // huggingface and pytorch families that the shape catches.
    let embedded = Index::embedded();
    for name in ["torch-utilites", "torchtriton"] {
        assert_eq!(
            judge(&embedded.assess(name), None).verdict,
            Verdict::Typosquat,
            "{name}"
        );
        assert_eq!(verdict(name), Verdict::Typosquat, "{name} on shape alone");
    }
    let ml: Vec<&str> = positives
        .iter()
        .filter(|r| {
            ["tensorflow", "keras", "huggingface", "pytorch", "torch"]
                .iter()
                .any(|f| r[1].contains(f))
        })
        .filter(|r| index.assess(r[0]).score >= DEFAULT_THRESHOLD)
        .map(|r| r[0])
        .collect();
    assert!(ml.len() >= 14, "{ml:?}");
    for name in ml {
        assert_eq!(verdict(name), Verdict::Typosquat, "{name}");
    }
}

// The figures reached (see the report); tighten them when the scorer
// improves, never loosen them to make a change pass.
// Reached: tp=306 fn=26 fp=0 tn=332 -> precision 1.000, recall 0.922.
const PRECISION_FLOOR: f64 = 1.0;
const RECALL_FLOOR: f64 = 0.921;
// Reached: 295 of 306 detected typosquats name the labelled target.
const TARGET_AGREEMENT_FLOOR: f64 = 0.96;
// Reached: 73/332 (0.220).
const UNRANKED_NEIGHBOUR_RATE_CEILING: f64 = 0.22;
// Reached: 54/2000 (0.027).
const LONG_TAIL_RATE_CEILING: f64 = 0.0275;
// Verdicts on names alone (was 19/2000 typosquat on the long tail and
// 233/332 labelled typosquats before the name-only shape rules of
// verdict.rs; then 15/2000 and 294/332 before the attacked-target,
// impersonation-word and vowel rules, derived from the malware corpus's
// tuning split; then 16/2000 and 298/332 before the two-slip, moved-letter
// and edition-word rules of the fourth session). Reached: 16/2000 (0.0080)
// typosquat on the long tail (half A 9/1010, half B 7/990), within the
// issue's 1%.
const VERDICT_LONG_TAIL_CEILING: f64 = 0.008;
// Reached: 302/332 (0.910) labelled typosquats are `typosquat` on their
// names alone (half A 145/162 = 0.895, half B 157/170 = 0.924; 0-9/a-m
// 98/102, n-z held out 204/230), none of the 332 legitimate neighbours;
// 314/332 are at least `suspicious`.
const VERDICT_TYPOSQUAT_RECALL_FLOOR: f64 = 0.909;
// Each half (A: the rules were tuned on it; B: held out).
const VERDICT_LONG_TAIL_HALF_CEILING: f64 = 0.009;
const VERDICT_TYPOSQUAT_RECALL_HALF_FLOOR: f64 = 0.89;

/// The tuning split only, for working on the verdict rules without seeing
/// the held-out names: labelled typosquats starting with a digit or a-m,
/// every legitimate neighbour, half A of the long tail. Prints each name's
/// verdict and reason as TSV (set, name, score, target, rank, technique,
/// verdict, evidence) to the file named by `TYPOSQUAT_TUNING_DUMP`.
#[test]
#[ignore = "a tuning aid: run by hand with TYPOSQUAT_TUNING_DUMP=path"]
fn verdicts_tuning_split_dump() {
    let Ok(path) = std::env::var("TYPOSQUAT_TUNING_DUMP") else {
        return;
    };
    let index = Index::from_tsv(data::TOP_TSV, "", data::CURATED_TSV);
    let tuning = |n: &str| n.starts_with(|c: char| c.is_ascii_digit() || ('a'..='m').contains(&c));
    let mut out = String::new();
    let sets: [(&str, Vec<&str>); 3] = [
        (
            "pos",
            rows(POSITIVES)
                .iter()
                .map(|r| r[0])
                .filter(|n| tuning(n))
                .collect(),
        ),
        ("legit", rows(LEGIT).iter().map(|r| r[0]).collect()),
        (
            "tailA",
            rows(UNRANKED)
                .iter()
                .map(|r| r[0])
                .filter(|n| half_a(n))
                .collect(),
        ),
    ];
    for (set, names) in &sets {
        for n in names {
            let a = index.assess(n);
            let j = judge(&a, None);
            out.push_str(&format!(
                "{set}\t{n}\t{:.3}\t{}\t{}\t{}\t{}\t{}\n",
                a.score,
                a.target.as_deref().unwrap_or(""),
                a.target_rank.map(|r| r.to_string()).unwrap_or_default(),
                a.technique,
                j.verdict.as_str(),
                j.evidence.join(" | ")
            ));
        }
    }
    std::fs::write(path, out).unwrap();
}
