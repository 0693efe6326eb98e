#!/usr/bin/env bash
# Builds squatch's .deb and .rpm, inspects both, installs the .deb, checks
# what osquery needs from it, removes it and checks that only the operator's
# lines are left. Runs as root on a Debian machine (CI: .ci/run); needs
# dpkg, rpm, readelf (binutils), cargo-deb and cargo-generate-rpm.
#
#   sudo packaging/test-packages.sh
#
# Safe to rerun: it first purges a squatch left installed by an earlier run,
# and puts the machine's own /etc/osquery back as it found it.
set -euo pipefail
cd "$(dirname "$0")/.."

ext=/usr/lib/squatch/squatch.ext
load=/etc/osquery/extensions.load
state=/var/lib/squatch
out=target/packages
work=$(mktemp -d)

step() { echo "== test-packages: $*"; }
fail() {
    echo "test-packages: FAIL: $*" >&2
    exit 1
}

[ "$(id -u)" = 0 ] || fail "run as root (it installs and removes the package)"
for tool in dpkg dpkg-deb rpm readelf; do
    command -v "$tool" >/dev/null || fail "$tool not found (apt-get install dpkg rpm binutils)"
done

# A squatch left installed (or half-installed) by an earlier run.
if dpkg -s squatch >/dev/null 2>&1 || dpkg -l squatch 2>/dev/null | grep -q '^[a-z][a-zA-Z] '; then
    step "purging a squatch left by an earlier run"
    dpkg --purge squatch
fi
[ ! -e "$ext" ] || fail "$ext exists but no squatch package owns it: remove it by hand"

# The machine's own /etc/osquery, restored on exit whatever happens.
had_etc=0
if [ -d /etc/osquery ]; then
    had_etc=1
    cp -a /etc/osquery "$work/etc-osquery"
fi
restore() {
    rc=$?
    if dpkg -s squatch >/dev/null 2>&1; then
        dpkg --purge squatch >/dev/null 2>&1 || true
    fi
    rm -rf /etc/osquery
    if [ "$had_etc" = 1 ]; then
        cp -a "$work/etc-osquery" /etc/osquery
    fi
    rm -rf "$work"
    exit "$rc"
}
trap restore EXIT

# ---------------------------------------------------------------------------
step "osquery-hookup on scratch files"
hook() {
    SQUATCH_EXTENSIONS_LOAD="$work/h/etc/extensions.load" SQUATCH_STATE_DIR="$work/h/state" \
        packaging/osquery-hookup "$@"
}
hfile="$work/h/etc/extensions.load"
mkdir -p "$work/h/etc"
# Operator lines: a comment naming our path, blanks, no final newline.
printf '# %s (commented out by the operator)\n/opt/a.ext\n\n  /opt/b.ext  ' "$ext" >"$hfile"
chmod 0640 "$hfile"
cp "$hfile" "$work/h/original"
hook add
hook add
[ "$(grep -cxF "$ext" "$hfile")" = 1 ] || fail "add twice: want our line once: $(cat "$hfile")"
cmp -s -n "$(stat -c %s "$work/h/original")" "$hfile" "$work/h/original" ||
    fail "add changed the operator's lines"
[ "$(tail -n 2 "$hfile")" = "$(printf '  /opt/b.ext  \n%s' "$ext")" ] || fail "our line glued onto the operator's"
hook remove
cmp "$hfile" "$work/h/original" || fail "remove did not give the operator's file back byte for byte"
[ "$(stat -c %a "$hfile")" = 640 ] || fail "remove changed the operator's mode"
# Our line with blanks around it, twice: ours, both go; add does not add a third.
printf '/opt/a.ext\n  %s \n%s\n' "$ext" "$ext" >"$hfile"
hook add
[ "$(grep -c squatch.ext "$hfile")" = 2 ] || fail "add duplicated a line it already had"
hook remove
[ "$(cat "$hfile")" = /opt/a.ext ] || fail "remove left: $(cat "$hfile")"
# No file, no directory: both created, both gone on remove.
rm -rf "$work/h/etc"
hook add
[ "$(cat "$hfile")" = "$ext" ] || fail "created file holds: $(cat "$hfile")"
hook remove
[ ! -e "$work/h/etc" ] || fail "remove left the directory it created"
# Created, then the operator added a line: file stays with their line.
hook add
echo /opt/c.ext >>"$hfile"
hook remove
[ "$(cat "$hfile")" = /opt/c.ext ] || fail "remove took the operator's later line"

# ---------------------------------------------------------------------------
step "building the packages"
maintainer="squatch CI <ci@squatch.invalid>"
SQUATCH_MAINTAINER="$maintainer" packaging/build-packages.sh "$out"
deb=$(ls "$out"/squatch_*.deb)
rpmf=$(ls "$out"/squatch-*.rpm)
ls -l "$deb" "$rpmf"

# The packs ship in both packages (packs/queries.toml writes them).
[ -f packs/squatch.conf ] || fail "packs/squatch.conf is missing from the tree"
have_packs=1

# ---------------------------------------------------------------------------
step "inspecting $deb"
dpkg-deb -I "$deb"
dpkg-deb -c "$deb" | tee "$work/deb.list"
# mode owner path [-> target]
awk '{ p = $6; if ($7 == "->") p = p " -> " $8; print $1, $2, p }' "$work/deb.list" >"$work/deb.entries"
want_deb() {
    grep -qxF -e "$1" "$work/deb.entries" || fail ".deb lacks '$1'"
}
want_deb "-rwxr-xr-x 0/0 ./usr/lib/squatch/squatch.ext"
want_deb "drwxr-xr-x 0/0 ./usr/lib/squatch/"
want_deb "drwxr-xr-x 0/0 ./usr/lib/"
want_deb "lrwxrwxrwx 0/0 ./usr/bin/squatch -> ../lib/squatch/squatch.ext"
want_deb "-rwxr-xr-x 0/0 ./usr/lib/squatch/osquery-hookup"
want_deb "-rw-r--r-- 0/0 ./usr/share/man/man1/squatch.1.gz"
want_deb "-rw-r--r-- 0/0 ./usr/share/man/man1/squatch-query.1.gz"
want_deb "-rw-r--r-- 0/0 ./usr/share/doc/squatch/osquery.flags.example"
want_deb "-rw-r--r-- 0/0 ./usr/share/doc/squatch/copyright"
if [ "$have_packs" = 1 ]; then
    want_deb "-rw-r--r-- 0/0 ./usr/share/squatch/packs/squatch.conf"
    grep -q ' \./usr/share/squatch/packs/fleet/' "$work/deb.entries" || fail ".deb lacks the Fleet packs"
else
    echo "note: packs/squatch.conf is not in this tree yet; not looking for packs in the packages"
fi
# Everything root's, nothing group/other-writable but symlinks, only /usr.
awk '$2 != "0/0" { print "owner: " $0 }
     $1 !~ /^l/ && (substr($1, 6, 1) == "w" || substr($1, 9, 1) == "w") { print "writable: " $0 }
     $3 !~ /^\.\/(usr\/|$)/ { print "outside /usr: " $0 }' "$work/deb.entries" >"$work/deb.bad"
[ ! -s "$work/deb.bad" ] || fail "bad .deb entries: $(cat "$work/deb.bad")"
[ "$(dpkg-deb -f "$deb" Package)" = squatch ] || fail "package name"
dpkg-deb -f "$deb" Depends | grep -q 'libc6' || fail "Depends lacks libc6: $(dpkg-deb -f "$deb" Depends)"
[ "$(dpkg-deb -f "$deb" Maintainer)" = "$maintainer" ] ||
    fail "Maintainer is not SQUATCH_MAINTAINER: $(dpkg-deb -f "$deb" Maintainer)"
for script in postinst prerm postrm; do
    dpkg-deb -I "$deb" "$script" >/dev/null || fail ".deb has no $script"
done
# Stripped: no symbol table, no DWARF (the dist profile).
dpkg-deb -x "$deb" "$work/deb-root"
if readelf -S "$work/deb-root$ext" | grep -Eq '\.(symtab|debug_info)'; then
    fail "the packaged binary carries symbols or debug info"
fi

# ---------------------------------------------------------------------------
step "inspecting $rpmf"
rpm -qpi "$rpmf"
rpm -qlpv "$rpmf" | tee "$work/rpm.list"
awk '{ print $1, $3, $4, $NF }' "$work/rpm.list" >"$work/rpm.entries"
want_rpm() {
    grep -qxF -e "$1" "$work/rpm.entries" || fail ".rpm lacks '$1'"
}
want_rpm "-rwxr-xr-x root root /usr/lib/squatch/squatch.ext"
want_rpm "-rwxr-xr-x root root /usr/bin/squatch"
want_rpm "-rwxr-xr-x root root /usr/lib/squatch/osquery-hookup"
want_rpm "-rw-r--r-- root root /usr/share/man/man1/squatch.1"
want_rpm "-rw-r--r-- root root /usr/share/doc/squatch/osquery.flags.example"
if [ "$have_packs" = 1 ]; then
    want_rpm "-rw-r--r-- root root /usr/share/squatch/packs/squatch.conf"
    grep -q ' /usr/share/squatch/packs/fleet/' "$work/rpm.entries" || fail ".rpm lacks the Fleet packs"
fi
awk '$2 != "root" || $3 != "root" { print "owner: " $0 }
     substr($1, 6, 1) == "w" || substr($1, 9, 1) == "w" { print "writable: " $0 }
     $4 !~ /^\/usr\// { print "outside /usr: " $0 }' "$work/rpm.entries" >"$work/rpm.bad"
[ ! -s "$work/rpm.bad" ] || fail "bad .rpm entries: $(cat "$work/rpm.bad")"
rpm -qp --scripts "$rpmf" >"$work/rpm.scripts"
grep -q 'osquery-hookup add' "$work/rpm.scripts" || fail ".rpm %post does not add the line"
grep -q 'osquery-hookup remove' "$work/rpm.scripts" || fail ".rpm %preun does not remove the line"
rpm -qp --requires "$rpmf" | grep -q '^libc.so.6' || fail ".rpm requires no libc"
[ "$(rpm -qp --qf '%{VENDOR}' "$rpmf")" = "$maintainer" ] ||
    fail "Vendor is not SQUATCH_MAINTAINER: $(rpm -qp --qf '%{VENDOR}' "$rpmf")"

# ---------------------------------------------------------------------------
step "dpkg -i beside the operator's extensions.load"
rm -rf /etc/osquery
mkdir -p /etc/osquery
printf '# operator: our own extensions\n/opt/acme/acme.ext\n/opt/acme/other.ext' >"$load"
chmod 0644 "$load"
cp "$load" "$work/operator.load"
dpkg -i "$deb"
[ "$(grep -cxF "$ext" "$load")" = 1 ] || fail "extensions.load lacks our line: $(cat "$load")"
[ "$(grep -c . "$load")" = 4 ] || fail "extensions.load: $(cat "$load")"
# Reinstalling (an upgrade to the same version) keeps exactly one line.
dpkg -i "$deb"
[ "$(grep -cxF "$ext" "$load")" = 1 ] || fail "reinstall duplicated our line"

step "running the installed binaries"
"$ext" --version | tee "$work/version"
grep -qx "squatch $(dpkg-deb -f "$deb" Version | sed 's/-[^-]*$//')" "$work/version" || fail "--version"
[ "$(readlink -f /usr/bin/squatch)" = "$ext" ] || fail "/usr/bin/squatch does not lead to $ext"
[ "$(command -v squatch)" = /usr/bin/squatch ] || fail "squatch is not /usr/bin/squatch on PATH"
# A fake host with one venv and one package, examined through --root.
fake="$work/fake"
site="$fake/srv/app/.venv/lib/python3.11/site-packages"
mkdir -p "$fake/etc" "$site/torch_utilites-0.1.0.dist-info"
echo 'root:x:0:0:root:/root:/bin/sh' >"$fake/etc/passwd"
printf 'home = /usr/bin\nversion = 3.11.2\n' >"$fake/srv/app/.venv/pyvenv.cfg"
printf 'Metadata-Version: 2.1\nName: torch-utilites\nVersion: 0.1.0\n' \
    >"$site/torch_utilites-0.1.0.dist-info/METADATA"
squatch --root "$fake" query --csv \
    "SELECT name, version, environment FROM python_package_provenance" | tee "$work/q.csv"
grep -qx 'torch-utilites,0.1.0,/srv/app/.venv' "$work/q.csv" || fail "squatch query on the fake host"
squatch query --json "SELECT target, variant FROM python_typosquat_variants WHERE target = 'requests' LIMIT 3" |
    grep -q '"target": *"requests"' || fail "squatch query on this host"
man -w squatch >/dev/null 2>&1 || [ -f /usr/share/man/man1/squatch.1.gz ] || fail "man page"

step "osquery's safe-permissions rules for autoloading $ext"
# osquery (isFileSafe/safePermissions) autoloads only a root-owned file that
# ends in .ext, is not writable by group or others, in a directory chain that
# is root-owned, not writable by group or others, and not sticky.
case "$ext" in *.ext) ;; *) fail "$ext does not end in .ext" ;; esac
[ -f "$ext" ] && [ ! -L "$ext" ] || fail "$ext is not a regular file"
p=$ext
while :; do
    read -r uid mode <<<"$(stat -c '%u %a' "$p")"
    [ "$uid" = 0 ] || fail "$p is owned by uid $uid, not root"
    perm=$((8#$mode))
    [ $((perm & 8#022)) = 0 ] || fail "$p is writable by group or others (mode $mode)"
    [ $((perm & 8#1000)) = 0 ] || fail "$p is sticky (mode $mode)"
    [ "$p" = / ] && break
    p=$(dirname "$p")
done
[ "$(stat -c %a "$ext")" = 755 ] || fail "$ext mode $(stat -c %a "$ext"), want 755"
[ "$(stat -c '%u %a' "$state")" = "0 700" ] || fail "$state: $(stat -c '%u %a' "$state"), want root 700"

step "dpkg -r, then dpkg --purge"
dpkg -r squatch
cmp "$load" "$work/operator.load" || fail "after dpkg -r, extensions.load is not the operator's: $(cat "$load")"
[ ! -e "$ext" ] && [ ! -e /usr/bin/squatch ] && [ ! -e /usr/lib/squatch ] || fail "files left after dpkg -r"
[ -d "$state" ] || fail "dpkg -r removed $state (only purge should)"
dpkg --purge squatch
[ ! -e "$state" ] || fail "dpkg --purge left $state"
cmp "$load" "$work/operator.load" || fail "after purge, extensions.load is not the operator's"
[ -z "$(find /etc/osquery -mindepth 1 ! -path "$load")" ] || fail "left in /etc/osquery: $(ls -A /etc/osquery)"

step "dpkg -i and --purge on a host without /etc/osquery"
rm -rf /etc/osquery
dpkg -i "$deb"
[ "$(cat "$load")" = "$ext" ] || fail "created extensions.load holds: $(cat "$load")"
dpkg --purge squatch
[ ! -e /etc/osquery ] || fail "purge left the /etc/osquery it created: $(ls -A /etc/osquery)"
[ ! -e "$state" ] && [ ! -e /usr/lib/squatch ] || fail "purge left files"

step "all package checks passed ($(stat -c %s "$deb") byte .deb, $(stat -c %s "$rpmf") byte .rpm)"
