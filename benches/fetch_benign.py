#!/usr/bin/env python3
"""Download the newest sdist of popular PyPI projects for a benign set.

Uses the registry's Simple API (PEP 691 JSON), picks the newest non-yanked
sdist (.tar.gz or .zip) of the highest version that has one, downloads it and
checks its sha256 against the index. Nothing is built or installed (so not
`pip download --no-binary`, which runs each package's build backend).

Two ways to say which projects:

  fetch_benign.py top400.txt OUT_DIR
      every project of a rank<TAB>name list (benches/top400.txt: ranks 1-400).

  fetch_benign.py --ranked extension/data/pypi_top.tsv --ranks 801-3000 \
      --sample 400 --seed 20261201 --names-out benches/sample801_3000.txt OUT_DIR
      a seeded sample from a rank range of the ranked top list: the ranks are
      shuffled with the seed and taken in that order until --sample projects
      with an sdist are downloaded; the chosen rank<TAB>name lines go to
      --names-out (sorted by rank), so that the set can be fetched again with
      the first form. Ranks 401-800 are refused: they are an untouched check.
      --exclude LIST (repeatable) never samples a project of LIST: a fresh
      evaluation sample leaves out every name already used for tuning
      (benches/sample801_3000.txt, benches/sample801_3000_dev.txt).
"""
import argparse
import hashlib
import json
import os
import random
import sys
import urllib.request

from packaging.utils import parse_sdist_filename

INDEX = os.environ.get("PIP_INDEX_URL", "https://pypi.org/simple").rstrip("/")
# Ranks kept for an independent check: never sampled, never fetched here.
RESERVED = range(401, 801)


def get(url, accept=None):
    req = urllib.request.Request(url, headers={"Accept": accept} if accept else {})
    with urllib.request.urlopen(req, timeout=60) as r:
        return r.read()


def newest_sdist(name):
    data = json.loads(get(f"{INDEX}/{name}/", "application/vnd.pypi.simple.v1+json"))
    best = None
    for f in data.get("files", []):
        fn = f["filename"]
        if f.get("yanked") or not (fn.endswith(".tar.gz") or fn.endswith(".zip")):
            continue
        try:
            _, ver = parse_sdist_filename(fn)
        except Exception:
            continue
        if ver.is_prerelease:
            continue
        if best is None or ver > best[0]:
            best = (ver, f)
    return best[1] if best else None


def fetch(name, out):
    """Downloads NAME's newest sdist into OUT; returns 'ok', 'none' or 'bad'."""
    try:
        f = newest_sdist(name)
    except Exception as e:
        print(f"{name}: index error {e}", flush=True)
        return "bad"
    if f is None:
        print(f"{name}: no sdist", flush=True)
        return "none"
    dest = os.path.join(out, f["filename"])
    if not os.path.exists(dest):
        try:
            body = get(f["url"])
        except Exception as e:
            print(f"{name}: download error {e}", flush=True)
            return "bad"
        if hashlib.sha256(body).hexdigest() != f["hashes"].get("sha256"):
            print(f"{name}: sha256 mismatch, dropped", flush=True)
            return "bad"
        with open(dest, "wb") as fh:
            fh.write(body)
    return "ok"


def read_ranked(path):
    rows = []
    for line in open(path):
        if not line.strip() or line.startswith("#"):
            continue
        rank, name = line.rstrip("\n").split("\t")[:2]
        rows.append((int(rank), name.strip()))
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("names", nargs="?", help="rank<TAB>name list: fetch every project in it")
    ap.add_argument("out")
    ap.add_argument("--ranked", help="ranked top list to sample from (rank<TAB>name)")
    ap.add_argument("--ranks", help="LO-HI, inclusive")
    ap.add_argument("--sample", type=int, default=400)
    ap.add_argument("--seed", type=int, default=20261201)
    ap.add_argument("--names-out", help="where to write the chosen rank<TAB>name lines")
    ap.add_argument("--exclude", action="append", default=[],
                    help="rank<TAB>name list never to sample from (a set already used, e.g. an earlier "
                    "evaluation or tuning sample of the same ranks); repeatable")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    got = none = bad = 0
    if a.ranked:
        lo, hi = (int(x) for x in a.ranks.split("-"))
        skip = {n for path in a.exclude for _, n in read_ranked(path)}
        pool = [(r, n) for r, n in read_ranked(a.ranked) if lo <= r <= hi and n not in skip]
        if any(r in RESERVED for r, _ in pool):
            sys.exit("ranks 401-800 are reserved for an independent check")
        random.Random(a.seed).shuffle(pool)
        chosen = []
        for rank, name in pool:
            if len(chosen) >= a.sample:
                break
            res = fetch(name, a.out)
            if res == "ok":
                chosen.append((rank, name))
                got += 1
            elif res == "none":
                none += 1
            else:
                bad += 1
        if a.names_out:
            with open(a.names_out, "w") as fh:
                fh.write(f"# {len(chosen)} projects with an sdist, seeded sample (seed {a.seed}) of ranks "
                         f"{lo}-{hi} of extension/data/pypi_top.tsv, chosen by benches/fetch_benign.py "
                         f"(rank<TAB>name).\n")
                for rank, name in sorted(chosen):
                    fh.write(f"{rank}\t{name}\n")
    else:
        for line in open(a.names):
            if not line.strip() or line.startswith("#"):
                continue
            rank, name = line.split("\t")[:2]
            if int(rank) in RESERVED:
                sys.exit("ranks 401-800 are reserved for an independent check")
            res = fetch(name.strip(), a.out)
            got += res == "ok"
            none += res == "none"
            bad += res == "bad"
    print(f"benign: {got} sdists, {none} projects without an sdist, {bad} errors")


if __name__ == "__main__":
    main()
