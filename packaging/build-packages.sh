#!/usr/bin/env bash
# Builds squatch's .deb and .rpm from Cargo.toml's [package.metadata.deb] and
# [package.metadata.generate-rpm]: the `dist` profile binary (release,
# stripped), its man pages, then both packages without rebuilding.
#
#   packaging/build-packages.sh [OUT_DIR]     (default: target/packages)
#
# SQUATCH_MAINTAINER="Name <address>" sets the .deb's Maintainer and the
# .rpm's Vendor to the team that ships the package (Cargo.toml carries a
# placeholder address: set this for any package you publish).
#
# Needs cargo-deb and cargo-generate-rpm:
#   cargo install --locked cargo-deb cargo-generate-rpm
set -euo pipefail
cd "$(dirname "$0")/.."

out=${1:-target/packages}
# cargo-deb and cargo-generate-rpm read `target/release/...` asset paths and
# map them to the profile's directory under the target dir.
target_dir=$(cargo metadata --format-version 1 --no-deps |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')

for tool in deb generate-rpm; do
    if ! cargo "$tool" --version >/dev/null 2>&1; then
        echo "cargo $tool not found: cargo install --locked cargo-deb cargo-generate-rpm" >&2
        exit 1
    fi
done

cargo build --locked --profile dist --bin squatch
bin="$target_dir/dist/squatch"

# Man pages from the binary's own --help (clap_mangen): squatch.1 and one per
# subcommand. The asset lists read them from target/packaging/man/.
man=target/packaging/man
rm -rf "$man"
mkdir -p "$man"
"$bin" man "$man"

mkdir -p "$out"
rm -f "$out"/squatch*.deb "$out"/squatch*.rpm
deb_args=()
rpm_args=()
if [ -n "${SQUATCH_MAINTAINER:-}" ]; then
    deb_args=(--maintainer "$SQUATCH_MAINTAINER")
    rpm_args=(--set-metadata "vendor = $(python3 -c 'import json, sys; print(json.dumps(sys.argv[1]))' "$SQUATCH_MAINTAINER")")
fi
cargo deb --no-build --profile dist --output "$out/" "${deb_args[@]}"
cargo generate-rpm --profile dist --output "$out/" "${rpm_args[@]}"
ls -l "$out"/squatch*.deb "$out"/squatch*.rpm
