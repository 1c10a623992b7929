#!/usr/bin/env bash
# Runs `.ci/run` (or the command given) as a new user would on a fresh machine: in a clean clone of
# HEAD, with the backend cache, Go's build and module caches and npm's cache all pointed at empty
# directories, and times it. Warm caches hide cold-machine failures; run this after touching builds
# or test set-up. Usage: scripts/cold-run.sh [command...]   (default: bash .ci/run)
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
work=$(mktemp -d /tmp/dice-cold.XXXXXX)
echo "cold run in $work (clone of $(git -C "$repo" rev-parse --short HEAD); remove it when done)" >&2
git clone -q "$repo" "$work/repo"
mkdir -p "$work/cache/dice-stack" "$work/cache/go-build" "$work/cache/go-mod" "$work/cache/npm"
export DICE_STACK_CACHE="$work/cache/dice-stack" GOCACHE="$work/cache/go-build" GOMODCACHE="$work/cache/go-mod"
export npm_config_cache="$work/cache/npm" CI="${CI:-true}"
cd "$work/repo"
((${#@})) || set -- bash .ci/run
started=$SECONDS
status=0
"$@" </dev/null || status=$?
echo "cold run of '$*': exit $status after $(((SECONDS - started) / 60)) min $(((SECONDS - started) % 60)) s" >&2
# Go writes its module cache read-only; make it removable.
chmod -R u+w "$work/cache/go-mod" 2>/dev/null || true
exit "$status"
