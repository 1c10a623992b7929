#!/usr/bin/env bash
# Validates docker-compose.yml (with .env) as `docker compose config` would, and checks
# observability/tempo/tempo.yaml and observability/loki/loki.yaml as strict YAML, on machines
# without a Docker engine. Builds scripts/compose-check outside the repo, keyed by its compose-go
# version: ${DICE_STACK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/dice-stack}/bin/compose-check-<version>/
#
# Usage: scripts/compose-check/check.sh [-q] [--env-file FILE]   (-q: no normalized config on stdout)
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
CACHE_ROOT="${DICE_STACK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/dice-stack}"

version=$(cd "$HERE" && go list -m -f '{{.Version}}' github.com/compose-spec/compose-go/v2)
bin_dir="$CACHE_ROOT/bin/compose-check-${version#v}"
mkdir -p "$bin_dir"
# Always rebuilt: the Go build cache makes it a no-op when nothing changed, and a stale binary
# after an edit to main.go would validate with old rules.
(cd "$HERE" && GOWORK=off go build -o "$bin_dir/compose-check" .)

exec "$bin_dir/compose-check" -f "$ROOT/docker-compose.yml" "$@" \
  "$ROOT/observability/tempo/tempo.yaml" "$ROOT/observability/loki/loki.yaml"
