#!/usr/bin/env python3
"""Side by side: squatch's python_install_findings vs GuardDog, same archives.

Malware: the tune split of lxyeternal/pypi_malregistry (see extract_corpus.py).
Benign: newest sdists of the 400 most downloaded projects (fetch_benign.py).
Archives are only read, never built, installed or executed.

A package counts as flagged by squatch when `WHERE path = '<archive>'` gives a
high or critical row, by GuardDog when `guarddog pypi scan ARCHIVE
--output-format json` gives risk_score.score >= 5.0.

GuardDog takes seconds per archive, so it runs on a seeded random sample of
each set (--sample); its verdicts are cached per archive sha256 in --cache so
that a re-run only re-times what is asked (--retime N re-runs GuardDog on the
first N sampled archives of each set in this run, for the speed ratio).
squatch runs on the sample *and* on the full sets in the same run.

GuardDog may be limited to the first N archives of each (sorted) sample
(--guarddog-limit): its figures, and squatch's beside them, are then on those
N archives of each set.

usage: compare.py --malware LIST --benign LIST [--sample 400] [--retime 40]
                  [--guarddog-limit N]
"""
import argparse
import hashlib
import json
import os
import random
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ARCHIVES = (".tar.gz", ".tgz", ".zip", ".whl", ".tar")


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def guarddog(gd, path, cache, force=False):
    key = os.path.join(cache, sha256(path) + ".json")
    if not force and os.path.exists(key):
        with open(key) as f:
            return json.load(f)
    start = time.perf_counter()
    proc = subprocess.run([gd, "pypi", "scan", path, "--output-format", "json"],
                          capture_output=True, text=True, timeout=900)
    secs = time.perf_counter() - start
    score = None
    try:
        out = json.loads(proc.stdout)
        score = out.get("risk_score", {}).get("score")
    except (json.JSONDecodeError, AttributeError):
        pass
    res = {"score": score, "seconds": secs, "rc": proc.returncode}
    with open(key, "w") as f:
        json.dump(res, f)
    return res


def squatch(binary, paths):
    start = time.perf_counter()
    proc = subprocess.run([binary], input="\n".join(paths) + "\n", capture_output=True,
                          text=True, check=True)
    wall = time.perf_counter() - start
    rows = {}
    for line in proc.stdout.splitlines():
        r = json.loads(line)
        rows[r["path"]] = r
    return rows, wall


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--malware", required=True)
    ap.add_argument("--benign", required=True)
    ap.add_argument("--sample", type=int, default=400)
    ap.add_argument("--retime", type=int, default=40)
    ap.add_argument("--seed", type=int, default=20261125)
    ap.add_argument("--guarddog", default="guarddog")
    ap.add_argument("--squatch", default=os.path.join(HERE, "..", "target", "release", "examples", "findings_scan"))
    ap.add_argument("--cache", default="/tmp/guarddog-cache")
    ap.add_argument("--skip-guarddog", action="store_true")
    ap.add_argument("--guarddog-limit", type=int, default=0,
                    help="run GuardDog on the first N archives of each sorted sample only")
    a = ap.parse_args()
    os.makedirs(a.cache, exist_ok=True)
    sets = {}
    for name, lst in (("malware", a.malware), ("benign", a.benign)):
        paths = [l.strip() for l in open(lst) if l.strip()]
        rng = random.Random(a.seed)
        sample = sorted(rng.sample(paths, min(a.sample, len(paths))))
        # Only archives count as packages (the corpus also holds a few loose
        # files); dropped after sampling so that the sample stays the one a
        # list with them gives.
        paths = [p for p in paths if p.endswith(ARCHIVES)]
        sample = [p for p in sample if p.endswith(ARCHIVES)]
        sets[name] = (paths, sample)

    report = {}
    for name, (paths, sample) in sets.items():
        full, full_wall = squatch(a.squatch, paths)
        samp, samp_wall = squatch(a.squatch, sample)
        r = {
            "full_n": len(paths),
            "full_squatch_flagged": sum(full[p]["flagged"] for p in paths),
            "full_squatch_wall_s": full_wall,
            "sample_n": len(sample),
            "sample_squatch_flagged": sum(samp[p]["flagged"] for p in sample),
            "sample_squatch_wall_s": samp_wall,
            "sample_squatch_mean_ms": sum(samp[p]["ms"] for p in sample) / len(sample),
        }
        if not a.skip_guarddog:
            gd = {}
            if a.guarddog_limit:
                sample = sample[: a.guarddog_limit]
                samp, _ = squatch(a.squatch, sample)
                r["gd_n"] = len(sample)
                r["gd_squatch_flagged"] = sum(samp[p]["flagged"] for p in sample)
                r["gd_squatch_mean_ms"] = sum(samp[p]["ms"] for p in sample) / len(sample)
            for i, p in enumerate(sample):
                gd[p] = guarddog(a.guarddog, p, a.cache, force=i < a.retime)
                if (i + 1) % 50 == 0:
                    print(f"  guarddog {name}: {i + 1}/{len(sample)}", file=sys.stderr, flush=True)
            timed = sample[: a.retime]
            r["gd_n"] = len(sample)
            r["sample_guarddog_flagged"] = sum((gd[p]["score"] or 0) >= 5.0 for p in sample)
            r["sample_guarddog_mean_s"] = sum(gd[p]["seconds"] for p in sample) / len(sample)
            r["sample_guarddog_errors"] = sum(gd[p]["score"] is None for p in sample)
            r["retimed_n"] = len(timed)
            r["retimed_guarddog_s"] = sum(gd[p]["seconds"] for p in timed)
            _, t_wall = squatch(a.squatch, timed)
            r["retimed_squatch_s"] = t_wall
            r["speedup"] = r["retimed_guarddog_s"] / max(t_wall, 1e-9)
        report[name] = r

    m, b = report["malware"], report["benign"]
    print(json.dumps(report, indent=2))
    print()
    print(f"squatch  full sets : recall {100*m['full_squatch_flagged']/m['full_n']:.1f}% "
          f"({m['full_squatch_flagged']}/{m['full_n']}), top packages flagged "
          f"{100*b['full_squatch_flagged']/b['full_n']:.1f}% ({b['full_squatch_flagged']}/{b['full_n']})")
    print(f"squatch  sample    : recall {100*m['sample_squatch_flagged']/m['sample_n']:.1f}%, "
          f"flagged {100*b['sample_squatch_flagged']/b['sample_n']:.1f}%")
    if "sample_guarddog_flagged" in m:
        if "gd_squatch_flagged" in m:
            print(f"squatch  first {m['gd_n']}/{b['gd_n']} of the samples: recall "
                  f"{100*m['gd_squatch_flagged']/m['gd_n']:.1f}%, flagged {100*b['gd_squatch_flagged']/b['gd_n']:.1f}%")
        print(f"guarddog same archives: recall {100*m['sample_guarddog_flagged']/m['gd_n']:.1f}%, "
              f"flagged {100*b['sample_guarddog_flagged']/b['gd_n']:.1f}% "
              f"(errors: {m['sample_guarddog_errors']} malware, {b['sample_guarddog_errors']} benign; "
              f"mean {m['sample_guarddog_mean_s']:.1f}s / {b['sample_guarddog_mean_s']:.1f}s per package)")
        for name in ("malware", "benign"):
            r = report[name]
            print(f"speed ({name}, {r['retimed_n']} archives, same run): guarddog "
                  f"{r['retimed_guarddog_s']:.1f}s, squatch {r['retimed_squatch_s']:.3f}s "
                  f"(process wall incl. start) => {r['speedup']:.0f}x")


if __name__ == "__main__":
    main()
