#!/usr/bin/env python3
"""Derives extension/data/typosquat_attacked.tsv: the popular names that
attackers repeatedly build malicious names on, from the TUNING split of a
malware corpus only.

Inputs (paths as arguments):
  MALREG_NAMES  one malicious package name a line: the top-level folders of
                lxyeternal/pypi_malregistry (ASE 2023, "An Empirical Study of
                Malicious Code In PyPI Ecosystem"), e.g. `git ls-tree -d
                --name-only HEAD` of its commit b11283f0.
  SLIP_DUMP     TSV name<TAB>score<TAB>target<TAB>...<TAB>technique (column 6)
                of the tuning-split names scored by squatch's shape-only index
                (known-malicious list left out), to find slip targets:
                  grep -i '^[0-9a-m]' MALREG_NAMES > am.txt
                  TYPOSQUAT_SHAPE_DUMP_IN=am.txt TYPOSQUAT_SHAPE_DUMP_OUT=dump.tsv \
                    cargo test --test typosquat_verdict -- --ignored shape_dump
  PYPI_TSV      a PyPI package list (name first, a header line), for how many
                legitimate names use each target as a word.
  TOP_TSV       extension/data/pypi_top.tsv.
  EXCLUDE...    TSV files whose first column names are left out of the
                corpus (tests/data/typosquat/*.tsv: the evaluation sets).

Only malicious names that start with a digit or a-m are read: names n-z are
kept untouched for evaluation and never used here. Output on stdout.
"""
import collections
import re
import sys

SLIP_MIN = 3  # distinct tuning-split malicious names one slip from the target
COMBO_MIN = 3  # distinct tuning-split malicious names holding the target as a word
COMBO_RATIO = 0.25  # ... per legitimate PyPI name (same a-m split) holding it


def norm(s):
    return re.sub(r"[-_.]+", "-", s).lower()


def tuning(n):
    return re.match(r"[0-9a-m]", n) is not None


def main(malreg, dump, pypi, top_tsv, *exclude):
    top = {}
    for line in open(top_tsv):
        if not line.startswith("#"):
            rank, name = line.rstrip("\n").split("\t")[:2]
            top[name] = int(rank)
    excl = set()
    for path in exclude:
        for line in open(path):
            if not line.startswith("#"):
                excl.add(norm(line.split("\t")[0].strip()))
    mal = {norm(l.strip()) for l in open(malreg) if l.strip()}
    mal = {n for n in mal if tuning(n) and n not in top and n not in excl}
    slips = collections.Counter()
    for line in open(dump):
        f = line.rstrip("\n").split("\t")
        n = norm(f[0])
        if n in mal and f[2] and float(f[1]) >= 0.5 and not f[5].startswith("combosquat"):
            slips[f[2]] += 1
    combos = collections.Counter()
    for n in mal:
        for t in set(n.split("-")):
            if t in top and len(t) >= 4 and t != n:
                combos[t] += 1
    legit = collections.Counter()
    with open(pypi) as f:
        next(f)
        for line in f:
            n = norm(line.split("\t")[0])
            if n in top or not tuning(n) or n in mal or n in excl:
                continue
            for t in set(n.split("-")):
                if combos[t] >= COMBO_MIN:
                    legit[t] += 1
    print("# Popular names attackers repeatedly imitate: target<TAB>how<TAB>malicious names<TAB>legitimate names.")
    print("# how = slip: at least %d distinct malicious names score 0.5 or more against the target, not as a combosquat (shape-only index);" % SLIP_MIN)
    print("#       combo: at least %d distinct malicious names hold the target as a whole word, and that is at least" % COMBO_MIN)
    print("#       %.2f per legitimate PyPI name (same first letters) holding it (legitimate names: column 4)." % COMBO_RATIO)
    print("# Source: malicious names of lxyeternal/pypi_malregistry (ASE 2023) at b11283f0, TUNING split only: names")
    print("# starting with a digit or a-m (n-z are held out and never read), less every name of tests/data/typosquat (the evaluation);")
    print("# legitimate names: the workplace PyPI package list taken 2026-11-25, same split. Made by benches/attacked_targets.py.")
    for t in sorted(slips):
        if slips[t] >= SLIP_MIN:
            print(f"{t}\tslip\t{slips[t]}\t")
    for t in sorted(combos):
        c = combos[t]
        if c >= COMBO_MIN and c / max(legit[t], 1) >= COMBO_RATIO:
            print(f"{t}\tcombo\t{c}\t{legit[t]}")


if __name__ == "__main__":
    main(*sys.argv[1:])
