#!/usr/bin/env python3
"""Download the newest sdist of each project in top400.txt for the benign set.

Uses the registry's Simple API (PEP 691 JSON), picks the newest non-yanked
sdist (.tar.gz or .zip) of the highest version that has one, downloads it and
checks its sha256 against the index. Nothing is built or installed (so not
`pip download --no-binary`, which runs each package's build backend).

usage: fetch_benign.py top400.txt OUT_DIR
"""
import hashlib
import json
import os
import sys
import urllib.request

from packaging.version import InvalidVersion, Version
from packaging.utils import parse_sdist_filename

INDEX = os.environ.get("PIP_INDEX_URL", "https://pypi.org/simple").rstrip("/")


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


def main():
    src, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    names = [l.split("\t")[1].strip() for l in open(src) if l.strip() and not l.startswith("#")]
    got = none = bad = 0
    for name in names:
        try:
            f = newest_sdist(name)
        except Exception as e:
            print(f"{name}: index error {e}", flush=True)
            bad += 1
            continue
        if f is None:
            print(f"{name}: no sdist", flush=True)
            none += 1
            continue
        dest = os.path.join(out, f["filename"])
        if not os.path.exists(dest):
            body = get(f["url"])
            if hashlib.sha256(body).hexdigest() != f["hashes"].get("sha256"):
                print(f"{name}: sha256 mismatch, dropped", flush=True)
                bad += 1
                continue
            with open(dest, "wb") as fh:
                fh.write(body)
        got += 1
    print(f"benign: {got} sdists, {none} projects without an sdist, {bad} errors")


if __name__ == "__main__":
    main()
