#!/usr/bin/env bash
# A container engine for `npm run test:compose` on machines that have none of the required versions
# (Engine 25+, Compose 2.24+): dockerd and docker-proxy (moby), runc and the compose plugin, all built
# from their Go modules by scripts/native/build-backends.sh, on Debian's containerd. It runs beside
# anything else: its own sockets under /run/dice-engine, its data under the cache, its own bridges.
#
# Usage: scripts/compose/engine.sh start    # use the machine's engine if it is recent enough, else
#                                           # start ours; prints the environment to use it (eval it)
#        scripts/compose/engine.sh stop     # stop ours; remove its bridges, restore the firewall
#                                           # and ip_forward as they were before `start`
#        scripts/compose/engine.sh env      # the environment lines alone (DOCKER_HOST, DOCKER_CONFIG)
#        scripts/compose/engine.sh status
# Environment: DICE_STACK_CACHE (cache root), DICE_ENGINE=own|machine (skip the machine check),
# DICE_ENGINE_POOL (the address pool of compose networks, default 10.213.0.0/16).
set -Eeuo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$SCRIPT_DIR/../.." && pwd)
CACHE_ROOT="${DICE_STACK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/dice-stack}"
STATE="$CACHE_ROOT/engine"            # images, volumes, build cache: kept between runs
RUN_DIR=/run/dice-engine               # sockets, pids, the firewall snapshot: gone at reboot
SOCK="$RUN_DIR/docker.sock"
# containerd listens where a standard Docker host has it, when nothing else does: cAdvisor's docker
# handler reads containers through it (container/docker at v0.55.1 dials /run/containerd).
CTRD_STANDARD=/run/containerd/containerd.sock
CTRD_SOCK="$RUN_DIR/containerd/containerd.sock"
[[ -e "$RUN_DIR/owns-containerd-socket" ]] && CTRD_SOCK=$CTRD_STANDARD
DOCKER_CONFIG_DIR="$STATE/docker-config" # holds cli-plugins/docker-compose for the docker CLI
# Explicit, so that the engine never picks a range the host routes elsewhere: the default bridge
# (docker0, unused by compose) and the pool compose networks are carved from.
BRIDGE_CIDR="${DICE_ENGINE_BRIDGE:-10.212.0.1/24}"
POOL="${DICE_ENGINE_POOL:-10.213.0.0/16}"
# The oldest engine and compose plugin that run docker-compose.yml (healthcheck start_interval):
# Docker Engine 25, told by its API version (moby's own builds number themselves v2.x).
MIN_ENGINE_MAJOR=25
MIN_API="1.44"
MIN_COMPOSE="2.24.0"

log() { printf '[engine] %s\n' "$*" >&2; }
fail() { printf '[engine] !! %s\n' "$*" >&2; exit 1; }

# bin_of NAME: its path in `built` (build-backends.sh --print-paths, read once by the caller)
bin_of() { sed -n "s/^$1=//p" <<<"$built"; }

# version_ge A B: A >= B, both X.Y.Z (a leading v and a -suffix are ignored)
version_ge() {
  local a=${1#v} b=${2#v}
  a=${a%%-*}; b=${b%%-*}
  [[ "$(printf '%s\n%s\n' "$a" "$b" | sort -V | head -n 1)" == "$b" ]]
}

print_env() {
  printf 'export DOCKER_HOST=%q\n' "$1"
  [[ -z "${2:-}" ]] || printf 'export DOCKER_CONFIG=%q\n' "$2"
}

# The machine's own engine, when it answers and is recent enough (and so is its compose plugin).
machine_engine_ok() {
  command -v docker >/dev/null || return 1
  local server api compose
  # Our own engine, when it answers at the standard socket, is not the machine's.
  [[ ! -e "$RUN_DIR/owns-var-run-socket" ]] || return 1
  server=$(env -u DOCKER_HOST -u DOCKER_CONFIG timeout 10 docker version --format '{{.Server.Version}} {{.Server.APIVersion}}' 2>/dev/null) || return 1
  read -r server api <<<"$server"
  compose=$(env -u DOCKER_HOST -u DOCKER_CONFIG timeout 10 docker compose version --short 2>/dev/null) || return 1
  version_ge "$api.0" "$MIN_API.0" || return 1
  version_ge "$compose" "$MIN_COMPOSE" || return 1
  log "using this machine's engine: Docker Engine $server (API $api), Compose $compose"
}

own_running() { [[ -S "$SOCK" ]] && DOCKER_HOST="unix://$SOCK" timeout 5 docker version >/dev/null 2>&1; }

start_own() {
  [[ $(id -u) -eq 0 ]] || fail "starting an engine needs root (bridges, cgroups, mounts); run as root or use a machine with Docker Engine $MIN_ENGINE_MAJOR+"
  local dockerd docker_proxy runc compose built
  built=$(bash "$REPO_ROOT/scripts/native/build-backends.sh" --print-paths)
  dockerd=$(bin_of dockerd); docker_proxy=$(bin_of docker-proxy); runc=$(bin_of runc); compose=$(bin_of docker-compose)
  for b in "$dockerd" "$docker_proxy" "$runc" "$compose"; do
    [[ -x "$b" ]] || fail "$b is not built: run npm run setup (or bash scripts/native/build-backends.sh --only engine)"
  done
  command -v containerd >/dev/null || fail "containerd is not installed: run npm run setup (Debian: apt-get install containerd)"
  command -v docker >/dev/null || fail "the docker CLI is not on PATH: run npm run setup (Debian: apt-get install docker-cli)"

  mkdir -p "$RUN_DIR/containerd" "$STATE/containerd" "$STATE/docker" "$STATE/logs" "$DOCKER_CONFIG_DIR/cli-plugins"
  ln -sfn "$compose" "$DOCKER_CONFIG_DIR/cli-plugins/docker-compose"

  # What stop restores: the firewall as it was, and ip_forward (dockerd turns it on and leaves it).
  if [[ ! -e "$RUN_DIR/nft-before.txt" ]]; then
    nft list ruleset >"$RUN_DIR/nft-before.txt"
    cat /proc/sys/net/ipv4/ip_forward >"$RUN_DIR/ip_forward-before"
  fi

  # Our runc first on PATH: containerd's shim runs `runc` from it. Debian's runc 1.1.5 fails on this
  # kernel with `namespace {"time" ""} does not exist`.
  local path="$(dirname "$runc"):$(dirname "$dockerd"):$PATH"
  if [[ ! -e "$CTRD_STANDARD" ]]; then
    CTRD_SOCK=$CTRD_STANDARD
    mkdir -p "$(dirname "$CTRD_STANDARD")"
    : >"$RUN_DIR/owns-containerd-socket"
  else
    log "another containerd owns $CTRD_STANDARD: ours listens at $CTRD_SOCK, and cAdvisor will see no container"
  fi
  cat >"$RUN_DIR/containerd.toml" <<EOF
version = 2
root = "$STATE/containerd"
state = "$RUN_DIR/containerd/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$CTRD_SOCK"
EOF
  log "starting containerd ($(containerd --version | cut -d' ' -f3))"
  PATH=$path nohup containerd --config "$RUN_DIR/containerd.toml" >>"$STATE/logs/containerd.log" 2>&1 &
  echo $! >"$RUN_DIR/containerd.pid"
  local t0=$SECONDS
  until [[ -S "$CTRD_SOCK" ]]; do
    ((SECONDS - t0 < 30)) || fail "containerd did not open $CTRD_SOCK in 30 s; see $STATE/logs/containerd.log"
    sleep 0.2
  done

  # cAdvisor (compose mounts /var/run) finds the engine at the standard socket, as on any Docker
  # host; we answer there too when no other engine does, and remove it on stop.
  local hosts=(--host "unix://$SOCK")
  if [[ ! -e /var/run/docker.sock ]]; then
    hosts+=(--host unix:///var/run/docker.sock)
    : >"$RUN_DIR/owns-var-run-socket"
  fi
  log "starting dockerd ($("$dockerd" --version)), bridge $BRIDGE_CIDR, pool $POOL"
  PATH=$path nohup "$dockerd" \
    "${hosts[@]}" \
    --containerd "$CTRD_SOCK" \
    --data-root "$STATE/docker" \
    --exec-root "$RUN_DIR/docker" \
    --pidfile "$RUN_DIR/dockerd.pid" \
    --bip "$BRIDGE_CIDR" \
    --default-address-pool "base=$POOL,size=24" \
    --userland-proxy-path "$docker_proxy" \
    --exec-opt native.cgroupdriver=cgroupfs \
    --log-level warn \
    >>"$STATE/logs/dockerd.log" 2>&1 &
  echo $! >"$RUN_DIR/dockerd.launcher.pid"
  t0=$SECONDS
  until own_running; do
    kill -0 "$(cat "$RUN_DIR/dockerd.launcher.pid")" 2>/dev/null || {
      tail -n 20 "$STATE/logs/dockerd.log" | sed 's/^/[engine]   | /' >&2
      fail "dockerd exited; see $STATE/logs/dockerd.log"
    }
    ((SECONDS - t0 < 60)) || fail "dockerd did not answer on $SOCK in 60 s; see $STATE/logs/dockerd.log"
    sleep 0.5
  done
  log "engine up in $((SECONDS - t0))s: $(DOCKER_HOST="unix://$SOCK" docker version --format 'Engine {{.Server.Version}}, API {{.Server.APIVersion}}')," \
    "$(DOCKER_HOST="unix://$SOCK" DOCKER_CONFIG="$DOCKER_CONFIG_DIR" docker compose version)"
}

# stop_process NAME PIDFILE SECONDS: SIGTERM, up to SECONDS for it to exit, then SIGKILL.
stop_process() {
  local name=$1 pidfile=$2 seconds=$3 pid
  [[ -e "$pidfile" ]] || return 0
  pid=$(cat "$pidfile")
  if kill -0 "$pid" 2>/dev/null; then
    log "stopping $name (pid $pid)"
    kill -TERM "$pid"
    for _ in $(seq 1 $((seconds * 2))); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -0 "$pid" 2>/dev/null && { log "$name still running after $seconds s: SIGKILL"; kill -KILL "$pid"; }
  fi
  rm -f "$pidfile"
}

stop_own() {
  # dockerd first: it stops the containers it runs, through containerd.
  stop_process dockerd "$RUN_DIR/dockerd.launcher.pid" 30
  stop_process containerd "$RUN_DIR/containerd.pid" 10
  # Shims outlive containerd by design (live restore); ours must not outlive the tests.
  pkill -f "containerd-shim-runc-v2 .*-address $CTRD_SOCK" 2>/dev/null || true
  # Mounts dockerd leaves when killed hard: overlay layers and the netns files under exec-root.
  { grep -E " ($STATE/docker|$RUN_DIR)[^ ]* " /proc/self/mounts || true; } | cut -d' ' -f2 | sort -r | while read -r m; do
    umount -l "$m" 2>/dev/null || true
  done
  if [[ -e "$RUN_DIR/owns-containerd-socket" ]]; then
    # containerd's sockets, and the directory its shims' sockets were in (empty once they exited)
    rm -f "$CTRD_STANDARD" "$CTRD_STANDARD.ttrpc" "$RUN_DIR/owns-containerd-socket"
    rmdir "$(dirname "$CTRD_STANDARD")/s" "$(dirname "$CTRD_STANDARD")" 2>/dev/null || true
  fi
  if [[ -e "$RUN_DIR/owns-var-run-socket" ]]; then
    rm -f /var/run/docker.sock "$RUN_DIR/owns-var-run-socket"
  fi
  # Bridges: docker0 and the br-<id> of each compose network whose address is in our ranges.
  local dev
  for dev in $( (ip -o -4 addr show || true) | awk -v b="${BRIDGE_CIDR%.*}." -v p="${POOL%%.0.0/*}." '$4 ~ "^"b || $4 ~ "^"p {print $2}' | sort -u); do
    log "removing bridge $dev"
    ip link delete "$dev" 2>/dev/null || true
  done
  if [[ -e "$RUN_DIR/nft-before.txt" ]]; then
    log "restoring the firewall and net.ipv4.ip_forward as they were before start"
    { echo 'flush ruleset'; cat "$RUN_DIR/nft-before.txt"; } | nft -f - || log "could not restore the nft ruleset from $RUN_DIR/nft-before.txt"
    cat "$RUN_DIR/ip_forward-before" >/proc/sys/net/ipv4/ip_forward
    rm -f "$RUN_DIR/nft-before.txt" "$RUN_DIR/ip_forward-before"
  fi
}

case "${1:-}" in
  start)
    if [[ "${DICE_ENGINE:-}" != own ]] && machine_engine_ok; then
      print_env "${DOCKER_HOST:-unix:///var/run/docker.sock}"
    elif own_running; then
      log "our engine is already running on $SOCK"
      print_env "unix://$SOCK" "$DOCKER_CONFIG_DIR"
    else
      [[ "${DICE_ENGINE:-}" != machine ]] || fail "DICE_ENGINE=machine, but this machine has no Docker Engine $MIN_ENGINE_MAJOR+ with Compose $MIN_COMPOSE+"
      start_own
      print_env "unix://$SOCK" "$DOCKER_CONFIG_DIR"
    fi
    ;;
  env)
    if own_running; then print_env "unix://$SOCK" "$DOCKER_CONFIG_DIR"; else print_env "${DOCKER_HOST:-unix:///var/run/docker.sock}"; fi
    ;;
  stop) stop_own ;;
  status)
    if own_running; then
      log "ours, on $SOCK: $(DOCKER_HOST="unix://$SOCK" docker version --format 'Engine {{.Server.Version}}')"
    else
      log "ours is not running"
      exit 1
    fi
    ;;
  *) sed -n '2,16p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
