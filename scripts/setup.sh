#!/usr/bin/env bash
# Everything the test suites need on a fresh machine, as one visible step (`npm run setup`, the
# first step of `npm run test:all`): Debian packages, a check of Go, and the backend binaries and
# deployment tools (helm, kube-validate, telemetrygen) built from their Go modules at the .env
# versions (scripts/native/build-backends.sh, cached outside the repository). Safe to re-run: what
# is already there is only checked, so a warm run takes seconds.
set -Eeuo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

started=$SECONDS
step() { printf '\n== setup: %s (+%ss)\n' "$1" "$((SECONDS - started))" >&2; }
fail() { printf '\n!! setup: %s\n' "$*" >&2; exit 1; }

# command -> the Debian package that provides it
declare -A PACKAGE=(
  [haproxy]=haproxy             # the load balancer of the native stack (same config as compose)
  [dnsmasq]=dnsmasq-base        # the DNS server the native HAProxy resolves replicas through
  [unshare]=util-linux          # private mount namespaces: each service sees the compose host names
  [flock]=util-linux
  [taskset]=util-linux          # the benchmark pins the server to one core
  [python3]=python3             # schemathesis (e2e fuzz) and the reference Flask app (benchmark)
  # npm run test:compose, when the machine has no Docker Engine 25+ (scripts/compose/engine.sh):
  [containerd]=containerd       # the engine's container supervisor (dockerd and runc are built)
  [iptables]=iptables           # dockerd's NAT and isolation rules
  [nft]=nftables                # engine.sh snapshots the firewall before dockerd and restores it after
  [debootstrap]=debootstrap     # the Debian base of the stand-in images (scripts/compose/images.sh)
  [busybox]=busybox-static      # the busybox stand-in image
)

step "system packages"
missing=()
for cmd in "${!PACKAGE[@]}"; do command -v "$cmd" >/dev/null || missing+=("${PACKAGE[$cmd]}"); done
command -v python3 >/dev/null && ! python3 -c 'import ensurepip, venv' 2>/dev/null && missing+=(python3-venv)
[[ -e /usr/include/seccomp.h ]] || missing+=(libseccomp-dev) # runc's seccomp support is built with cgo
if ((${#missing[@]})); then
  mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
  if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null; then
    fail "missing ${missing[*]}; install them as root (Debian: apt-get install -y ${missing[*]}) and re-run"
  fi
  printf 'installing %s with apt-get\n' "${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
printf '%s; %s; %s\n' "$(haproxy -v | head -1)" "$(dnsmasq --version | head -1)" "$(python3 --version)" >&2

step "docker CLI"
# The client of npm run test:compose; the engine and the compose plugin are built below when the
# machine has none of the required versions.
command -v docker >/dev/null || fail "the docker CLI is not on PATH: install Docker's (docker-ce-cli) or Debian's docker.io client"
printf '%s\n' "$(docker --version)" >&2

step "Go"
command -v go >/dev/null || fail "Go is not on PATH: the backends are built from their Go modules; install Go >= 1.26"
go_version=$(go env GOVERSION)
[[ "$go_version" =~ ^go1\.(2[6-9]|[3-9][0-9]) ]] || fail "$go_version is too old to build the backends; install Go >= 1.26"
printf '%s, GOCACHE %s, GOMODCACHE %s\n' "$go_version" "$(go env GOCACHE)" "$(go env GOMODCACHE)" >&2

step "who runs the tests"
# The e2e, fault and benchmark suites start the native stack: private mount namespaces (so every
# service sees the compose host names) and port 80 need root. Say so now, not 15 minutes in.
[[ $(id -u) -eq 0 ]] || fail "the e2e and fault suites start the native stack, which needs root (mount namespaces, port 80); run as root, e.g. in a VM or a disposable container"
printf 'root: yes\n' >&2

# From empty Go caches on 2 busy cores: about 13 min for the backends, then helm 7.5, kube-validate
# 8 (its Go tests included) and telemetrygen 1.5 (measured 2026-11-28, load average 7-15).
# kube-dryrun (kube-apiserver 1.37.2 + etcd, built with kube-validate in one module) adds 417 CPU-s
# (7 CPU-min, downloads included) to kube-validate's 329 from empty caches; measured 2026-12-06 at
# nice 19 and load average 8-13, where that took 22.7 min of wall (kube-validate alone 11.5); about
# 4 min on 2 idle cores (estimated, not measured). Warm Go caches, after a source change: 2.3 min for both.
step "backend binaries and deployment tools (scripts/native/build-backends.sh; about 30 min from empty caches on 2 cores, seconds when cached)"
bash scripts/native/build-backends.sh

# HAProxy of compose's branch (3.2) for test/config/haproxy.test.ts: Debian ships it only in unstable,
# unpacked with its own libraries, not installed (about 35 s the first time).
step "HAProxy of compose's branch from Debian unstable (scripts/native/haproxy-debian.sh)"
bash scripts/native/haproxy-debian.sh >/dev/null

# The label contract of npm run test:deploy: prometheus-operator's and Prometheus's own code, so it
# builds after kube-validate, whose k8s.io packages it reuses (about 4 min then from empty caches;
# 11 min without them, 2026-12-06).
step "label-contract (deploy/tools/label-contract/build.sh)"
bash deploy/tools/label-contract/build.sh

step "done in $((SECONDS - started)) s"
