#!/bin/sh
# Quick recall / false-positive figures for squatch alone (tune split and
# benign sets); the side-by-side run with GuardDog is benches/compare.py.
# TUNE_LIST and BENIGN_LIST are required; EXTRA_LISTS (space-separated
# name=list pairs, e.g. "b801=$WORK/b801.list") adds more benign sets.
# Every flagged benign archive is printed with its high/critical rules.
set -e
BIN=${BIN:-target/release/examples/findings_scan}
OUT=${OUT:-/tmp/squatch-quick}
mkdir -p "$OUT"
[ -n "$NO_BUILD" ] || cargo build --release --example findings_scan 2>&1 | grep -E "^(error|warning)" -A5 || true
$BIN < "${TUNE_LIST:?set TUNE_LIST to the tune split list (benches/README.md)}" > "$OUT/tune.out"
$BIN < "${BENIGN_LIST:?set BENIGN_LIST to the benign archive list (benches/README.md)}" > "$OUT/benign.out"
SETS="malware(tune)=$OUT/tune.out benign=$OUT/benign.out"
for pair in $EXTRA_LISTS; do
    name=${pair%%=*}
    $BIN < "${pair#*=}" > "$OUT/$name.out"
    SETS="$SETS $name=$OUT/$name.out"
done
python3 - $SETS <<'PY'
import json, collections, os, sys
for arg in sys.argv[1:]:
    name, f = arg.split("=", 1)
    rows = [json.loads(l) for l in open(f)]
    fl = sum(r["flagged"] for r in rows)
    # 0-byte and truncated archives are reported as such, not judged.
    unjudged = sum(1 for r in rows if os.path.getsize(r["path"]) == 0)
    c = collections.Counter(x for r in rows for x in r["rules"])
    print(f"{name}: {fl}/{len(rows)} flagged = {100*fl/len(rows):.1f}%  mean {sum(r['ms'] for r in rows)/len(rows):.2f} ms"
          f"  (0-byte files: {unjudged})")
    print("   ", c.most_common(12))
    if not name.startswith("malware"):
        for r in rows:
            if r["flagged"]:
                print("    flagged:", os.path.basename(r["path"]), r["rules"])
PY
