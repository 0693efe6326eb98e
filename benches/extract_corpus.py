#!/usr/bin/env python3
"""Extract one split of the pypi_malregistry corpus from a bare git mirror.

The corpus (lxyeternal/pypi_malregistry) holds real malicious sdists. They are
written as files only, never unpacked, never executed, and never go inside a
git worktree. Split rule (fixed before any look at the data): package names
starting with a digit or a..m are the *tune* split; n..z and anything else is
the *holdout* split, kept aside for an independent check.

usage: extract_corpus.py MIRROR_GIT_DIR OUT_DIR {tune|holdout}
"""
import os
import subprocess
import sys


def in_tune(name: str) -> bool:
    c = name[:1].lower()
    return c.isdigit() or ("a" <= c <= "m")


def main() -> int:
    mirror, out, split = sys.argv[1], sys.argv[2], sys.argv[3]
    listing = subprocess.run(
        ["git", "--git-dir", mirror, "ls-tree", "-r", "-z", "HEAD"],
        check=True, capture_output=True).stdout
    ok = missing = 0
    for entry in listing.split(b"\0"):
        if not entry:
            continue
        meta, path = entry.split(b"\t", 1)
        path = path.decode("utf-8", "replace")
        _mode, kind, sha = meta.split()
        if kind != b"blob" or "/" not in path:
            continue
        top = path.split("/", 1)[0]
        if in_tune(top) != (split == "tune"):
            continue
        blob = subprocess.run(["git", "--git-dir", mirror, "cat-file", "blob", sha],
                              capture_output=True)
        if blob.returncode != 0:
            missing += 1
            continue
        dest = os.path.join(out, path)
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        with open(dest, "wb") as f:
            f.write(blob.stdout)
        ok += 1
    print(f"{split}: wrote {ok} archives, {missing} absent from the mirror")
    return 0


if __name__ == "__main__":
    sys.exit(main())
