#!/usr/bin/env bash
# Debian's HAProxy of compose's branch (HAPROXY_VERSION in .env, 3.2), runnable on this Debian 12 machine
# without installing it: test/config/haproxy.test.ts runs haproxy.cfg in it as well as in the native
# 2.6 (HAPROXY_NATIVE_VERSION), since the two answer malformed and slow requests differently.
# Only Debian unstable ships that branch, built against a newer glibc (2.38+) and OpenSSL (3.2+) than
# bookworm's: the package and the libraries it links are unpacked (`dpkg -x`, no install) into
#   ${DICE_STACK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/dice-stack}/haproxy-debian/<version>/
# and bin/haproxy there runs it through that glibc's own loader. Debian keeps only the current package
# in its archive, so the version is the newest of the branch there (the exact one when Debian has it);
# the cache keeps what was fetched.
#
# Usage: scripts/native/haproxy-debian.sh               # fetch if needed; print the wrapper's path
#        scripts/native/haproxy-debian.sh --print-path  # the cached wrapper's path, or exit 1 (fetches nothing)
set -Eeuo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$SCRIPT_DIR/../.." && pwd)
CACHE_ROOT="${DICE_STACK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/dice-stack}"
BASE="$CACHE_ROOT/haproxy-debian"
SUITE=sid
# haproxy's Depends (its libc, libssl, lua, jemalloc, pcre2, opentracing) and theirs, from the same suite.
LIBS=(libc6 libssl3t64 liblua5.4-0 libjemalloc2 libpcre2-8-0 libopentracing-c-wrapper0t64 libopentracing1
  libstdc++6 libgcc-s1 libcrypt1 zlib1g libzstd1)

log() { printf '%s\n' "$*" >&2; }
fail() { log "haproxy-debian: $*"; exit 1; }

COMPOSE_VERSION=$(sed -n 's/^HAPROXY_VERSION=//p' "$REPO_ROOT/.env")
[[ $COMPOSE_VERSION =~ ^([0-9]+\.[0-9]+)\. ]] || fail "HAPROXY_VERSION in .env is '$COMPOSE_VERSION', not x.y.z"
BRANCH=${BASH_REMATCH[1]}

# The newest cached wrapper of the branch that runs.
cached() {
  local wrapper
  for wrapper in $(ls -d "$BASE/$BRANCH".*/bin/haproxy 2>/dev/null | sort -rV); do
    "$wrapper" -v >/dev/null 2>&1 && { printf '%s\n' "$wrapper"; return 0; }
  done
  return 1
}

if [[ ${1:-} == --print-path ]]; then
  cached || fail "no HAProxy $BRANCH cached under $BASE: run bash scripts/native/haproxy-debian.sh"
  exit 0
elif [[ -n ${1:-} ]]; then
  sed -n '2,14p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
  exit 2
fi

if wrapper=$(cached); then
  log "haproxy-debian: cached: $("$wrapper" -v | head -1)"
  printf '%s\n' "$wrapper"
  exit 0
fi

start=$SECONDS
mkdir -p "$BASE"
work=$(mktemp -d "$BASE/.work.XXXXXX")
trap 'rm -rf "$work"' EXIT
# A private apt configuration (its own sources, lists and downloads): the machine's apt is left as it is.
mkdir -p "$work/apt/etc/apt.conf.d" "$work/apt/etc/preferences.d" "$work/apt/etc/sources.list.d" \
  "$work/apt/state/lists/partial" "$work/apt/cache/archives/partial" "$work/debs"
cat >"$work/apt/etc/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: http://deb.debian.org/debian
Suites: $SUITE
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
cat >"$work/apt/apt.conf" <<EOF
Dir::Etc "$work/apt/etc";
Dir::Etc::sourcelist "/dev/null";
Dir::Etc::sourceparts "$work/apt/etc/sources.list.d";
Dir::State "$work/apt/state";
Dir::State::status "/dev/null";
Dir::Cache "$work/apt/cache";
APT::Sandbox::User "root";
// Unstable's Release file says it expires within a week; a mirror that lags behind would be refused.
// The signature is still checked.
Acquire::Check-Valid-Until "false";
EOF
export APT_CONFIG="$work/apt/apt.conf"
log "haproxy-debian: reading Debian $SUITE's package list (HAProxy $BRANCH for compose's $COMPOSE_VERSION)"
out=$(apt-get update -qq 2>&1) || fail "apt-get update of Debian $SUITE failed: $out"
# `madison` lists the suite's versions; unstable carries one per package.
version_of() { apt-cache madison "$1" | awk -F'|' '{gsub(/ /, "", $2); print $2; exit}'; }
version=$(version_of haproxy)
[[ -n $version ]] || fail "Debian $SUITE lists no haproxy (was its package list fetched? see the apt-get messages above)"
upstream=${version%%-*}
[[ $upstream == "$BRANCH".* ]] ||
  fail "Debian $SUITE has haproxy $version, not of compose's branch $BRANCH (HAPROXY_VERSION=$COMPOSE_VERSION): nothing of that branch to fetch"
[[ $upstream == "$COMPOSE_VERSION" ]] ||
  log "haproxy-debian: Debian $SUITE has $version, not $COMPOSE_VERSION itself: the newest of the same branch"

(
  cd "$work/debs"
  for package in haproxy "${LIBS[@]}"; do
    v=$(version_of "$package")
    [[ -n $v ]] || fail "Debian $SUITE lists no $package (haproxy's dependencies changed? see LIBS in this script)"
    log "haproxy-debian: downloading $package $v"
    out=$(apt-get download -qq "$package=$v" 2>&1) || fail "apt-get download $package=$v failed: $out"
  done
)
dest="$BASE/$upstream"
rm -rf "$dest.partial"
mkdir -p "$dest.partial/root" "$dest.partial/bin"
for deb in "$work"/debs/*.deb; do dpkg-deb -x "$deb" "$dest.partial/root"; done
lib="$dest.partial/root/usr/lib/x86_64-linux-gnu"
[[ -x $lib/ld-linux-x86-64.so.2 && -x $dest.partial/root/usr/sbin/haproxy ]] || fail "the unpacked packages hold no loader or no haproxy under $dest.partial"
# The wrapper runs the binary through the unpacked glibc's loader, with only the unpacked libraries.
cat >"$dest.partial/bin/haproxy" <<EOF
#!/bin/sh
# Debian $SUITE's haproxy $version with its own libraries (scripts/native/haproxy-debian.sh).
root=\$(cd "\$(dirname "\$0")/../root" && pwd)
lib=\$root/usr/lib/x86_64-linux-gnu
exec "\$lib/ld-linux-x86-64.so.2" --library-path "\$lib" "\$root/usr/sbin/haproxy" "\$@"
EOF
chmod 755 "$dest.partial/bin/haproxy"
"$dest.partial/bin/haproxy" -v >/dev/null 2>&1 || fail "the unpacked haproxy does not run: $("$dest.partial/bin/haproxy" -v 2>&1 | head -3)"
rm -rf "$dest"
mv "$dest.partial" "$dest"
log "haproxy-debian: $("$dest/bin/haproxy" -v | head -1) ready in $((SECONDS - start)) s: $dest/bin/haproxy"
printf '%s\n' "$dest/bin/haproxy"
