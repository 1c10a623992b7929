#!/usr/bin/env bash
# Rolls a code change out to the compose stack one replica at a time, so no request fails:
# `docker compose up -d --build` would recreate both replicas at once and the balancer would answer
# 503 until one is ready. Builds the image once, then recreates dice-api-1, waits until it is healthy
# and HAProxy routes to it again, then does the same for dice-api-2.
#
# Usage: scripts/compose/rollout.sh [docker compose options, e.g. -f docker-compose.yml -p NAME]
set -Eeuo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

# HAProxy marks a server UP after `rise 2` checks at `inter 1s` (observability/haproxy/haproxy.cfg):
# waiting this long after Docker says healthy keeps the other replica in service until then.
HAPROXY_RISE_SECONDS=3
TIMEOUT=${ROLLOUT_TIMEOUT:-180}

dc() { docker compose "$@"; }
say() { printf '[rollout] %s\n' "$*" >&2; }

say "building the dice-api image"
dc "$@" build dice-api-1
for replica in dice-api-1 dice-api-2; do
  say "recreating $replica (it drains first: SIGTERM, readiness fails, in-flight requests finish)"
  # --force-recreate: compose compares the image of a service that builds, not of dice-api-2, which
  # only names the tag; without it dice-api-2 kept running the old image.
  dc "$@" up -d --no-deps --no-build --force-recreate "$replica"
  id=$(dc "$@" ps -q "$replica")
  t0=$SECONDS
  until [[ "$(docker inspect --format '{{.State.Health.Status}}' "$id")" == healthy ]]; do
    if ((SECONDS - t0 > TIMEOUT)); then
      say "$replica is not healthy after ${TIMEOUT}s; the other replica still serves. Look at: docker compose logs $replica"
      exit 1
    fi
    sleep 1
  done
  sleep "$HAPROXY_RISE_SECONDS"
  say "$replica healthy after $((SECONDS - t0))s"
done
say "done"
