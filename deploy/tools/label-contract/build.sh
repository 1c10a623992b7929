#!/usr/bin/env bash
# Builds label-contract (this directory: the labels a series gets on Kubernetes, from prometheus-operator
# v0.93.1 and Prometheus v0.314.0 = 3.14.0) for `npm run test:deploy`, into the backends' cache. k8s.io
# modules at v0.37.2 and -tags netgo as kube-validate's build, so that it reuses those compiled packages.
#   bash deploy/tools/label-contract/build.sh            build unless the binary matches these sources
#   bash deploy/tools/label-contract/build.sh --check    exit 1 (saying what to run) if not built or stale
#   bash deploy/tools/label-contract/build.sh --print-path
set -euo pipefail
SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CACHE_ROOT="${DICE_STACK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/dice-stack}"
# Named after a hash of every file of the module: any change to a source or go.sum is a new binary.
STAMP="$(cd "$SRC" && cat go.mod go.sum ./*.go | sha256sum | cut -c1-12)"
OUT="$CACHE_ROOT/bin/label-contract-$STAMP/label-contract"

case "${1:-}" in
  --print-path) echo "$OUT"; exit 0 ;;
  --check)
    if [[ -x "$OUT" ]]; then exit 0; fi
    echo "label-contract is not built (or stale): run bash deploy/tools/label-contract/build.sh" >&2
    exit 1 ;;
  "") ;;
  *) echo "usage: $0 [--check|--print-path]" >&2; exit 2 ;;
esac

if [[ -x "$OUT" ]]; then echo "label-contract up to date: $OUT"; exit 0; fi
mkdir -p "$(dirname "$OUT")"
echo "building label-contract (prometheus-operator v0.93.1, prometheus v0.314.0) -> $OUT"
start=$SECONDS
(cd "$SRC" && GOWORK=off GOFLAGS=-mod=readonly go build -p "${DICE_STACK_BUILD_JOBS:-2}" -tags netgo -o "$OUT.tmp" .)
mv "$OUT.tmp" "$OUT"
echo "built label-contract in $((SECONDS - start)) s"
