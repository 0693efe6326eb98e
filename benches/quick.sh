#!/bin/sh
# Quick recall / false-positive figures for squatch alone (tune split and
# benign set); the side-by-side run with GuardDog is benches/compare.py.
set -e
BIN=${BIN:-target/release/examples/findings_scan}
cargo build --release --example findings_scan 2>&1 | grep -E "^(error|warning)" -A5 || true
$BIN < "${TUNE_LIST:?set TUNE_LIST to the tune split list (benches/README.md)}" > /tmp/tune.out
$BIN < "${BENIGN_LIST:?set BENIGN_LIST to the benign archive list (benches/README.md)}" > /tmp/benign.out
python3 - <<'PY'
import json, collections
for name, f in [("malware(tune)", "/tmp/tune.out"), ("benign", "/tmp/benign.out")]:
    rows = [json.loads(l) for l in open(f)]
    fl = sum(r["flagged"] for r in rows)
    c = collections.Counter(x for r in rows for x in r["rules"])
    print(f"{name}: {fl}/{len(rows)} flagged = {100*fl/len(rows):.1f}%  mean {sum(r['ms'] for r in rows)/len(rows):.2f} ms")
    print("   ", c.most_common(12))
PY
