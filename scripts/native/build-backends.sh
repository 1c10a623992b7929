#!/usr/bin/env bash
# Builds the stack's backend binaries from their Go modules, at exactly the versions in .env,
# for machines without a Docker engine (tests, CI):
#   otelcol     otelcol-dice (custom OpenTelemetry Collector, ocb + otel-collector/builder-config.yaml)
#   prometheus  prometheus, promtool
#   alertmanager alertmanager, amtool
#   node_exporter node_exporter
#   helm        helm (Kubernetes chart lint/template, npm run test:deploy), HELM_VERSION
#   kube-validate kube-validate (deploy/tools/kube-validate: rendered manifests checked as a
#               kube-apiserver would) and kube-dryrun (its cmd/kube-dryrun: a real kube-apiserver and
#               etcd in one process, server-side apply with dryRun=All; one module, so both share
#               the k8s.io packages' compilation) plus the prometheus-operator CRDs they load, at
#               PROMETHEUS_OPERATOR_VERSION
#   telemetrygen telemetrygen (collector-contrib's OTLP load generator), at OTELCOL_VERSION
#   engine      dockerd, docker-proxy (github.com/moby/moby/v2), at MOBY_VERSION: the engine
#               npm run test:compose starts when the machine has none (scripts/compose/engine.sh)
#   runc        runc (with seccomp: needs cgo and libseccomp-dev), at RUNC_VERSION
#   compose     docker-compose (the CLI plugin, github.com/docker/compose/v5), at COMPOSE_VERSION
#   cadvisor    cadvisor, scripts/compose/cadvisor: cAdvisor's library at CADVISOR_VERSION (its
#               cmd module is not served by the Go proxy), for the compose stand-in image
#   sloth       sloth (SLO rule generator; npm run test:config diffs our SLO rules against its),
#               SLOTH_VERSION, plus oslo (OpenSLO's validator) at the version Sloth's go.mod pins;
#               from empty Go caches 14.3 min for both on 2 cores at load average 21-30 (3.8
#               CPU-minutes; measured 2026-12-06 with --only sloth)
# Binaries are cached outside the repo, keyed by version:
#   ${DICE_STACK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/dice-stack}/bin/<name>-<version>/
# A component whose cached binaries exist and answer --version is skipped, so re-running is cheap.
#
# Usage: scripts/native/build-backends.sh [--only NAME]... [--force] [--verbose]
#        scripts/native/build-backends.sh --check          # exit 1 naming what is not built yet
#        scripts/native/build-backends.sh --print-dir      # cache bin dir, for other scripts
#        scripts/native/build-backends.sh --print-paths    # NAME=/abs/path/to/binary, one a line
set -Eeuo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$SCRIPT_DIR/../.." && pwd)
ENV_FILE="$REPO_ROOT/.env"
MANIFEST="$REPO_ROOT/otel-collector/builder-config.yaml"
CACHE_ROOT="${DICE_STACK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/dice-stack}"
BIN_DIR="$CACHE_ROOT/bin"
LOG_DIR="$CACHE_ROOT/logs"
TMP_ROOT="$CACHE_ROOT/tmp"
JOBS="${DICE_STACK_BUILD_JOBS:-2}"
ALL_COMPONENTS=(otelcol prometheus alertmanager node_exporter helm kube-validate telemetrygen sloth engine runc compose cadvisor)

usage() {
  sed -n '2,30p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
  cat <<EOF

Options:
  --only NAME    build only NAME (${ALL_COMPONENTS[*]}); repeatable
  --force        rebuild even if the cached binaries work
  --verbose      stream the go/ocb output instead of only writing it to $LOG_DIR
  --check        build nothing; exit 1 and name each component that is missing or stale (with
                 --only: just those)
  --print-dir    print the cache bin dir and exit (builds nothing)
  --print-paths  print NAME=path for every binary at the .env versions and exit (builds nothing)
Environment: DICE_STACK_CACHE (cache root), DICE_STACK_BUILD_JOBS (go build -p, default 2).
EOF
}

# ---------- messages, timing, failure reporting ----------
STEP="starting"
HINT=""
LOG_FILE=""
log() { printf '%s\n' "$*" >&2; }
step() { STEP="$1"; HINT="${2:-}"; log "    - $STEP"; }
fmt_secs() { local s=$1; if ((s >= 60)); then printf '%dm%02ds' $((s / 60)) $((s % 60)); else printf '%ds' "$s"; fi; }

on_err() {
  local rc=$1 line=$2
  trap - ERR
  # a failing ( subshell ) reports once, in the parent
  ((BASH_SUBSHELL == 0)) || exit "$rc"
  log ""
  log "!! FAILED (exit $rc, line $line) while: $STEP"
  if [[ -n "$LOG_FILE" && -s "$LOG_FILE" ]]; then
    log "!! last lines of $LOG_FILE:"
    tail -n 25 "$LOG_FILE" | sed 's/^/   | /' >&2
  fi
  [[ -n "$HINT" ]] && log "!! try: $HINT"
  log "!! general: check network access to the Go module proxy (go env GOPROXY), disk space (df -h $CACHE_ROOT),"
  log "!!   re-run with --verbose --only NAME; a version that is not served can be changed in $ENV_FILE."
  exit "$rc"
}
trap 'on_err $? $LINENO' ERR

WORK=""
cleanup() {
  if [[ -n "$WORK" && -d "$WORK" ]]; then
    chmod -R u+w "$WORK" 2>/dev/null || true
    rm -rf "$WORK"
  fi
}
trap cleanup EXIT

# run CMD...: output goes to the component's log file (and to stderr with --verbose). Without
# --verbose a cold go build is silent for minutes, so a heartbeat says every HEARTBEAT seconds what
# is running, for how long, and the log's last line: CI logs and terminals both show progress.
VERBOSE=0
HEARTBEAT="${DICE_STACK_BUILD_HEARTBEAT:-30}"
run() {
  if ((VERBOSE)); then
    "$@" 2>&1 | tee -a "$LOG_FILE" >&2
    return
  fi
  local pid rc=0 t0=$SECONDS next=$HEARTBEAT last seen=""
  "$@" >>"$LOG_FILE" 2>&1 &
  pid=$!
  while kill -0 "$pid" 2>/dev/null; do
    sleep 1
    if ((SECONDS - t0 >= next)); then
      next=$((next + HEARTBEAT))
      # the log's newest line, when it is new (go build itself prints nothing until it ends)
      last=$(tail -n 1 "$LOG_FILE" 2>/dev/null | cut -c1-110)
      [[ "$last" == "$seen" ]] && last="" || seen=$last
      log "      ... $(fmt_secs $((SECONDS - t0))) into: $STEP${last:+ | log: $last}"
    fi
  done
  wait "$pid" || rc=$?
  return "$rc"
}

# ---------- arguments ----------
ONLY=()
FORCE=0
PRINT=""
while (($#)); do
  case "$1" in
    --only) [[ $# -ge 2 ]] || { log "--only needs a NAME"; exit 2; }; ONLY+=("$2"); shift 2 ;;
    --only=*) ONLY+=("${1#--only=}"); shift ;;
    --force) FORCE=1; shift ;;
    --verbose | -v) VERBOSE=1; shift ;;
    --print-dir) PRINT=dir; shift ;;
    --print-paths) PRINT=paths; shift ;;
    --check) PRINT=check; shift ;;
    -h | --help) usage; exit 0 ;;
    *) log "unknown argument: $1"; usage >&2; exit 2 ;;
  esac
done

canon_name() { # NAME -> sets CANON
  case "$1" in
    otelcol | otelcol-dice | collector | otel-collector) CANON=otelcol ;;
    prometheus | promtool) CANON=prometheus ;;
    alertmanager | amtool) CANON=alertmanager ;;
    node_exporter | node-exporter) CANON=node_exporter ;;
    helm) CANON=helm ;;
    kube-validate | kube_validate | kube-dryrun) CANON=kube-validate ;;
    telemetrygen) CANON=telemetrygen ;;
    engine | dockerd | docker-proxy | moby) CANON=engine ;;
    runc) CANON=runc ;;
    compose | docker-compose) CANON=compose ;;
    cadvisor) CANON=cadvisor ;;
    sloth) CANON=sloth ;;
    *) log "unknown component '$1' (expected one of: ${ALL_COMPONENTS[*]})"; exit 2 ;;
  esac
}

# ---------- versions from .env (read, not sourced) ----------
env_version() {
  local key=$1 val
  [[ -f "$ENV_FILE" ]] || { log "missing $ENV_FILE"; exit 1; }
  val=$(sed -n "s/^[[:space:]]*${key}[[:space:]]*=[[:space:]]*//p" "$ENV_FILE" | tail -n 1 |
    sed -e 's/[[:space:]]*#.*$//' -e 's/[[:space:]]*$//' -e 's/^["'\'']//' -e 's/["'\'']$//')
  [[ "$val" =~ ^[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.]+)?$ ]] || { log "$key in $ENV_FILE is '$val', expected X.Y.Z"; exit 1; }
  echo "$val"
}
OTELCOL_VERSION=$(env_version OTELCOL_VERSION)
PROMETHEUS_VERSION=$(env_version PROMETHEUS_VERSION)
ALERTMANAGER_VERSION=$(env_version ALERTMANAGER_VERSION)
NODE_EXPORTER_VERSION=$(env_version NODE_EXPORTER_VERSION)
HELM_VERSION=$(env_version HELM_VERSION)
PROMETHEUS_OPERATOR_VERSION=$(env_version PROMETHEUS_OPERATOR_VERSION)
MOBY_VERSION=$(env_version MOBY_VERSION)
RUNC_VERSION=$(env_version RUNC_VERSION)
COMPOSE_VERSION=$(env_version COMPOSE_VERSION)
CADVISOR_VERSION=$(env_version CADVISOR_VERSION)
CADVISOR_SRC="$REPO_ROOT/scripts/compose/cadvisor"
SLOTH_VERSION=$(env_version SLOTH_VERSION)
KUBE_VALIDATE_SRC="$REPO_ROOT/deploy/tools/kube-validate"
# kube-validate is named after the Kubernetes release its go.mod pins (k8s.io/apimachinery v0.X.Y is
# Kubernetes 1.X.Y); its sources and the CRD version are in its recipe hash.
KUBE_VALIDATE_VERSION=$(sed -n 's/^[[:space:]]*k8s\.io\/apimachinery v0\.\([0-9]*\.[0-9]*\)$/1.\1/p' "$KUBE_VALIDATE_SRC/go.mod" 2>/dev/null | head -n 1)
[[ -n "$KUBE_VALIDATE_VERSION" ]] || { log "no k8s.io/apimachinery v0.X.Y in $KUBE_VALIDATE_SRC/go.mod"; exit 1; }

comp_version() {
  case "$1" in
    otelcol) echo "$OTELCOL_VERSION" ;;
    prometheus) echo "$PROMETHEUS_VERSION" ;;
    alertmanager) echo "$ALERTMANAGER_VERSION" ;;
    node_exporter) echo "$NODE_EXPORTER_VERSION" ;;
    helm) echo "$HELM_VERSION" ;;
    kube-validate) echo "$KUBE_VALIDATE_VERSION" ;;
    telemetrygen) echo "$OTELCOL_VERSION" ;;
    engine) echo "$MOBY_VERSION" ;;
    runc) echo "$RUNC_VERSION" ;;
    compose) echo "$COMPOSE_VERSION" ;;
    cadvisor) echo "$CADVISOR_VERSION" ;;
    sloth) echo "$SLOTH_VERSION" ;;
  esac
}
comp_dirname() { case "$1" in otelcol) echo otelcol-dice ;; *) echo "$1" ;; esac; }
comp_binaries() {
  case "$1" in
    otelcol) echo otelcol-dice ;;
    prometheus) echo prometheus promtool ;;
    alertmanager) echo alertmanager amtool ;;
    node_exporter) echo node_exporter ;;
    engine) echo dockerd docker-proxy ;;
    compose) echo docker-compose ;;
    sloth) echo sloth oslo ;;
    kube-validate) echo kube-validate kube-dryrun ;;
    *) echo "$1" ;;
  esac
}
# version_args BINARY: how a binary says it works (helm and sloth have a version subcommand; telemetrygen has
# no version at all, so --help: its version is the module version in the install dir name)
version_args() {
  case "$1" in
    helm) echo "version --short" ;;
    sloth | docker-compose) echo version ;;
    telemetrygen | docker-proxy | cadvisor) echo --help ;;
    *) echo --version ;;
  esac
}
install_dir() { echo "$BIN_DIR/$(comp_dirname "$1")-$(comp_version "$1")"; }

if [[ "$PRINT" == dir ]]; then
  echo "$BIN_DIR"
  exit 0
fi
if [[ "$PRINT" == paths ]]; then
  for c in "${ALL_COMPONENTS[@]}"; do
    for b in $(comp_binaries "$c"); do echo "$b=$(install_dir "$c")/$b"; done
  done
  exit 0
fi

# ---------- go environment ----------
command -v go >/dev/null || { log "go is not on PATH; install Go >= 1.26"; exit 1; }
# Keep GOMODCACHE/GOCACHE at their defaults (they persist and make rebuilds fast).
export GOWORK=off
export CGO_ENABLED=0
export GOFLAGS="${GOFLAGS:+$GOFLAGS }-trimpath -buildvcs=false -p=$JOBS"
LDFLAGS_STRIP="-s -w"


# recipe_hash NAME: what a cached build was made from: this script (flags, tags, patches), the
# version and, for the collector, its manifest; for kube-validate, every file of its module (sources,
# go.mod, go.sum, test fixtures) and the prometheus-operator version of its CRDs. A change to any of
# them rebuilds (a minute or two with Go's caches warm), so a warm machine never tests other
# binaries than a cold one builds.
recipe_hash() {
  {
    cat "$SCRIPT_DIR/build-backends.sh"
    echo "$1=$(comp_version "$1")"
    [[ "$1" != otelcol ]] || cat "$MANIFEST"
    if [[ "$1" == cadvisor ]]; then
      (cd "$CADVISOR_SRC" && find . -type f \( -name '*.go' -o -name go.mod -o -name go.sum \) -print0 | LC_ALL=C sort -z | xargs -0 sha256sum)
    fi
    if [[ "$1" == kube-validate ]]; then
      echo "PROMETHEUS_OPERATOR_VERSION=$PROMETHEUS_OPERATOR_VERSION"
      # what the module is built and tested from (not a stray binary of a local `go build`)
      (cd "$KUBE_VALIDATE_SRC" && find . -type f \( -name '*.go' -o -name go.mod -o -name go.sum -o -path '*/testdata/*' \) -print0 |
        LC_ALL=C sort -z | xargs -0 sha256sum)
    fi
  } | sha256sum | cut -d' ' -f1
}

# cached_ok NAME: every binary exists, answers --version and was built from this recipe
cached_ok() {
  local c=$1 d b
  d=$(install_dir "$c")
  [[ -d "$d" ]] || return 1
  for b in $(comp_binaries "$c"); do
    [[ -x "$d/$b" ]] || return 1
    # shellcheck disable=SC2046 # version_args is words
    timeout 30 "$d/$b" $(version_args "$b") >/dev/null 2>&1 || return 1
  done
  [[ "$(cat "$d/recipe.sha256" 2>/dev/null)" == "$(recipe_hash "$c")" ]]
}

# prom_ldflags VERSION REVISION: the version stamp that promu would set
prom_ldflags() {
  local p=github.com/prometheus/common/version
  echo "$LDFLAGS_STRIP -X $p.Version=$1 -X $p.Revision=$2 -X $p.Branch=HEAD" \
    "-X $p.BuildUser=$(id -un)@${HOSTNAME:-$(uname -n)} -X $p.BuildDate=$(date -u +%Y%m%d-%H:%M:%S)"
}

# fetch_module MODULE@VERSION DEST: download into GOMODCACHE, copy to DEST (writable); sets MOD_SUM (h1 sum)
MOD_SUM=""
fetch_module() {
  local modver=$1 dest=$2 json dir sum
  step "downloading module $modver" \
    "go mod download -json $modver   (is this version served? go list -m -versions ${modver%@*})"
  json=$(cd "$WORK" && GOFLAGS='' go mod download -json "$modver" 2>>"$LOG_FILE") || {
    printf '%s\n' "$json" >>"$LOG_FILE"; false
  }
  dir=$(printf '%s\n' "$json" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",*$/\1/p')
  sum=$(printf '%s\n' "$json" | sed -n 's/^[[:space:]]*"Sum": "h1:\(.*\)",*$/\1/p')
  [[ -n "$dir" && -d "$dir" ]] || { printf '%s\n' "$json" >>"$LOG_FILE"; false; }
  step "copying $dir to a writable temp dir"
  cp -R "$dir" "$dest"
  chmod -R u+w "$dest"
  MOD_SUM=$sum
}

check_version_file() { # SRC WANT: the module's VERSION file must match .env
  local got
  step "checking the module's VERSION file" "the module version derived from .env does not match; check .env"
  got=$(tr -d '[:space:]' <"$1/VERSION" 2>/dev/null || true)
  [[ -z "$got" || "$got" == "$2" ]] || { log "    ! VERSION file says $got, .env says $2"; false; }
}

# go_build SRC VERSION REVISION OUTDIR PKG...: GOWORK=off build with version stamp; build tags are
# netgo plus $EXTRA_TAGS
EXTRA_TAGS=""
go_build() {
  local src=$1 ver=$2 rev=$3 out=$4 tags="netgo${EXTRA_TAGS:+,$EXTRA_TAGS}"
  shift 4
  step "go build -tags $tags $* (-p $JOBS)" \
    "cd into a copy of the module and run: GOWORK=off go build -p $JOBS -tags $tags $*   (needs a newer Go? see go.mod's go line)"
  (cd "$src" && run go build -p "$JOBS" -tags "$tags" -ldflags "$(prom_ldflags "$ver" "$rev")" -o "$out/" "$@")
}

# install_stage NAME STAGE: atomically replace the cached dir with STAGE
install_stage() {
  local c=$1 stage=$2 d
  d=$(install_dir "$c")
  step "installing into $d"
  rm -rf "$d.old"
  [[ -e "$d" ]] && mv "$d" "$d.old"
  mv "$stage" "$d"
  rm -rf "$d.old"
}

verify() { # NAME: every binary answers --version (helm: version)
  local c=$1 d b out
  d=$(install_dir "$c")
  for b in $(comp_binaries "$c"); do
    step "checking $b --version" "run $d/$b --version by hand"
    # shellcheck disable=SC2046
    out=$(timeout 30 "$d/$b" $(version_args "$b") 2>&1)
    log "      ${out%%$'\n'*}"
  done
}

# ---------- components ----------

build_otelcol() {
  local v=$OTELCOL_VERSION stage bdir builder manifest_out
  stage="$WORK/stage"; mkdir -p "$stage"
  bdir="$BIN_DIR/builder-$v"
  builder="$bdir/builder"
  if [[ -x "$builder" ]] && "$builder" version >/dev/null 2>&1; then
    step "ocb builder v$v already in $bdir"
  else
    step "go install go.opentelemetry.io/collector/cmd/builder@v$v (into $bdir)" \
      "GOBIN=$bdir go install go.opentelemetry.io/collector/cmd/builder@v$v   (is it served? go list -m -versions go.opentelemetry.io/collector/cmd/builder)"
    rm -rf "$bdir.tmp"; mkdir -p "$bdir.tmp"
    (cd "$WORK" && GOBIN="$bdir.tmp" run go install -ldflags "$LDFLAGS_STRIP" "go.opentelemetry.io/collector/cmd/builder@v$v")
    rm -rf "$bdir"; mv "$bdir.tmp" "$bdir"
  fi

  step "rendering $MANIFEST for v$v"
  manifest_out="$WORK/builder-config.yaml"
  # every v0.x component version -> v$OTELCOL_VERSION; dist.version and dist.output_path -> ours
  sed -E \
    -e "s#^([[:space:]]*-[[:space:]]*gomod:[[:space:]]*[^[:space:]]+)[[:space:]]+v0\.[0-9]+\.[0-9]+#\1 v$v#" \
    -e "s#^([[:space:]]+version:).*#\1 $v#" \
    -e "s#^([[:space:]]+output_path:).*#\1 $WORK/otelcol-dice#" \
    "$MANIFEST" >"$manifest_out"
  if grep -Eq 'gomod:.* v1\.' "$manifest_out"; then
    log "    ! the manifest pins a v1.x module: check it matches collector v$v by hand"
  fi

  step "ocb: fetching collector v$v and contrib modules, go mod tidy, go build" \
    "$builder --config=$manifest_out --verbose; a contrib module that fails at v$v: see /work/.library/env/packages/go-partial.tsv or pick another OTELCOL_VERSION in .env"
  (cd "$WORK" && run "$builder" --config="$manifest_out" --verbose)
  cp "$WORK/otelcol-dice/otelcol-dice" "$stage/"
  cp "$manifest_out" "$stage/builder-config.rendered.yaml"
  step "saving 'otelcol-dice components' to components.yaml"
  "$stage/otelcol-dice" components >"$stage/components.yaml" 2>>"$LOG_FILE"
  install_stage otelcol "$stage"
}

build_prometheus() {
  local v=$PROMETHEUS_VERSION major minor patch modv src sum stage
  IFS=. read -r major minor patch <<<"$v"
  modv=$(printf 'v0.%d%02d.%d' "$major" "$minor" "$patch") # 3.14.0 -> v0.314.0
  src="$WORK/prometheus"; stage="$WORK/stage"; mkdir -p "$stage"
  fetch_module "github.com/prometheus/prometheus@$modv" "$src"
  sum=$MOD_SUM
  check_version_file "$src" "$v"
  # No builtinassets tag: the web UI is not embedded (the HTTP API works without it).
  # remove_all_sd leaves out the cloud service discoveries (AWS, Azure, GCE, ...: about half of a
  # cold build) and keeps static, file and HTTP discovery, all prometheus.yml uses; a config that
  # adds another SD fails `promtool check config` here, by name (upstream README, "Building").
  EXTRA_TAGS=remove_all_sd
  go_build "$src" "$v" "gomod-${modv}-h1:${sum:0:12}" "$stage" ./cmd/prometheus ./cmd/promtool
  EXTRA_TAGS=""
  install_stage prometheus "$stage"
}

build_alertmanager() {
  local v=$ALERTMANAGER_VERSION src sum stage
  src="$WORK/alertmanager"; stage="$WORK/stage"; mkdir -p "$stage"
  fetch_module "github.com/prometheus/alertmanager@v$v" "$src"
  sum=$MOD_SUM
  check_version_file "$src" "$v"
  # ui/web.go has //go:embed app/dist, a generated (Elm/npm) dir missing from the module zip
  if [[ ! -e "$src/ui/app/dist" ]]; then
    step "adding placeholder ui/app/dist/index.html (web UI not built; API unaffected)"
    mkdir -p "$src/ui/app/dist"
    printf '%s\n' '<!doctype html><title>Alertmanager</title><p>Web UI not built in this native build; use the API under /api/v2/.</p>' \
      >"$src/ui/app/dist/index.html"
  fi
  go_build "$src" "$v" "gomod-v${v}-h1:${sum:0:12}" "$stage" ./cmd/alertmanager ./cmd/amtool
  install_stage alertmanager "$stage"
}

build_node_exporter() {
  local v=$NODE_EXPORTER_VERSION src sum stage
  src="$WORK/node_exporter"; stage="$WORK/stage"; mkdir -p "$stage"
  fetch_module "github.com/prometheus/node_exporter@v$v" "$src"
  sum=$MOD_SUM
  check_version_file "$src" "$v"
  go_build "$src" "$v" "gomod-v${v}-h1:${sum:0:12}" "$stage" .
  install_stage node_exporter "$stage"
}

build_helm() {
  local v=$HELM_VERSION src stage k8s_minor x=helm.sh/helm/v3 ldflags
  src="$WORK/helm"; stage="$WORK/stage"; mkdir -p "$stage"
  fetch_module "helm.sh/helm/v3@v$v" "$src"
  # The -X flags of helm's Makefile (v3.22.0). Without the k8sVersion pair, helm template's
  # .Capabilities.KubeVersion and helm lint's deprecation check default to Kubernetes 1.20
  # (pkg/chartutil/capabilities.go); the release binaries take them from the client-go version.
  step "reading helm's k8s.io/client-go version (the Kubernetes version helm templates for)"
  k8s_minor=$(sed -n 's/^[[:space:]]*k8s\.io\/client-go v0\.\([0-9]*\)\.[0-9]*$/\1/p' "$src/go.mod" | head -n 1)
  [[ -n "$k8s_minor" ]] || { log "    ! no k8s.io/client-go v0.X.Y in helm's go.mod"; false; }
  ldflags="$LDFLAGS_STRIP -X $x/internal/version.version=v$v -X $x/internal/version.metadata="
  ldflags+=" -X $x/internal/version.gitTreeState=clean"
  ldflags+=" -X $x/pkg/lint/rules.k8sVersionMajor=1 -X $x/pkg/lint/rules.k8sVersionMinor=$k8s_minor"
  ldflags+=" -X $x/pkg/chartutil.k8sVersionMajor=1 -X $x/pkg/chartutil.k8sVersionMinor=$k8s_minor"
  step "go build ./cmd/helm (Kubernetes 1.$k8s_minor capabilities, -p $JOBS)" \
    "cd into a copy of helm.sh/helm/v3@v$v and run: GOWORK=off go build -p $JOBS ./cmd/helm"
  (cd "$src" && run go build -p "$JOBS" -tags netgo -ldflags "$ldflags" -o "$stage/" ./cmd/helm)
  install_stage helm "$stage"
}

build_kube_validate() {
  local stage crds json dir
  stage="$WORK/stage"; mkdir -p "$stage"
  # CRDs: the operator's example/prometheus-operator-crd (the set its bundle.yaml installs), from
  # its Go module; installed next to the binary, which loads ./crds by default.
  step "go mod download github.com/prometheus-operator/prometheus-operator@v$PROMETHEUS_OPERATOR_VERSION (its CRDs)" \
    "go mod download -json github.com/prometheus-operator/prometheus-operator@v$PROMETHEUS_OPERATOR_VERSION   (the proxy serves few versions of this root module; see .env.example)"
  json=$(cd "$WORK" && GOFLAGS='' go mod download -json "github.com/prometheus-operator/prometheus-operator@v$PROMETHEUS_OPERATOR_VERSION" 2>>"$LOG_FILE") || {
    printf '%s\n' "$json" >>"$LOG_FILE"; false
  }
  dir=$(printf '%s\n' "$json" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",*$/\1/p')
  [[ -n "$dir" && -d "$dir/example/prometheus-operator-crd" ]] || { printf '%s\n' "$json" >>"$LOG_FILE"; false; }
  crds="$stage/crds/prometheus-operator-v$PROMETHEUS_OPERATOR_VERSION"
  mkdir -p "$crds"
  cp "$dir"/example/prometheus-operator-crd/*.yaml "$crds/"
  chmod -R u+w "$stage/crds"
  # Its own tests first, with the build's flags (so they share its cache): a validator that fails
  # them is not installed.
  step "go test ./... in deploy/tools/kube-validate (-p $JOBS)" \
    "cd deploy/tools/kube-validate && KUBE_VALIDATE_CRDS=<crd dir> GOWORK=off go test ./..."
  (cd "$KUBE_VALIDATE_SRC" && KUBE_VALIDATE_CRDS="$crds" run go test -p "$JOBS" -tags netgo -count=1 ./...)
  step "go build deploy/tools/kube-validate and its cmd/kube-dryrun (k8s.io/kubernetes, etcd; -p $JOBS)" \
    "cd deploy/tools/kube-validate && GOWORK=off go build . ./cmd/kube-dryrun"
  (cd "$KUBE_VALIDATE_SRC" && run go build -p "$JOBS" -tags netgo -ldflags "$LDFLAGS_STRIP" -o "$stage/" . ./cmd/kube-dryrun)
  install_stage kube-validate "$stage"
}

build_telemetrygen() {
  local v=$OTELCOL_VERSION src stage
  src="$WORK/telemetrygen"; stage="$WORK/stage"; mkdir -p "$stage"
  fetch_module "github.com/open-telemetry/opentelemetry-collector-contrib/cmd/telemetrygen@v$v" "$src"
  step "go build telemetrygen (-p $JOBS)" \
    "cd into a copy of the module and run: GOWORK=off go build -p $JOBS ."
  (cd "$src" && run go build -p "$JOBS" -tags netgo -ldflags "$LDFLAGS_STRIP" -o "$stage/" .)
  install_stage telemetrygen "$stage"
}

# The engine npm run test:compose starts where the machine has none: dockerd and docker-proxy as
# moby's hack/make/.binary builds them (static, version stamped), minus the btrfs graph driver (cgo).
build_engine() {
  local v=$MOBY_VERSION src stage x=github.com/moby/moby/v2/dockerversion
  src="$WORK/moby"; stage="$WORK/stage"; mkdir -p "$stage"
  fetch_module "github.com/moby/moby/v2@v$v" "$src"
  step "go build ./cmd/dockerd ./cmd/docker-proxy (-p $JOBS)" \
    "cd into a copy of github.com/moby/moby/v2@v$v and run: CGO_ENABLED=0 GOWORK=off go build ./cmd/dockerd"
  (cd "$src" && run go build -p "$JOBS" -tags netgo,exclude_graphdriver_btrfs \
    -ldflags "$LDFLAGS_STRIP -X $x.Version=$v -X $x.GitCommit=gomod-h1:${MOD_SUM:0:12} -X $x.PlatformName=dice-stack-tests" \
    -o "$stage/" ./cmd/dockerd ./cmd/docker-proxy)
  install_stage engine "$stage"
}

# runc with seccomp, as its Makefile builds it, less libpathrs (a Rust library not packaged here).
# Debian bookworm's runc 1.1.5 fails on current kernels: namespace {"time" ""} does not exist.
build_runc() {
  local v=$RUNC_VERSION src stage
  src="$WORK/runc"; stage="$WORK/stage"; mkdir -p "$stage"
  fetch_module "github.com/opencontainers/runc@v$v" "$src"
  check_version_file "$src" "$v"
  step "go build runc (cgo, -tags seccomp, -p $JOBS)" \
    "needs gcc and libseccomp-dev (apt-get install libseccomp-dev); then CGO_ENABLED=1 go build -tags seccomp ."
  (cd "$src" && CGO_ENABLED=1 run go build -p "$JOBS" -buildmode=pie -tags "seccomp urfave_cli_no_docs" \
    -ldflags "$LDFLAGS_STRIP -X main.gitCommit=gomod-h1:${MOD_SUM:0:12}" -o "$stage/runc" .)
  install_stage runc "$stage"
}

# The compose CLI plugin, from inside its module (its go.mod's replace directives apply only there).
build_compose() {
  local v=$COMPOSE_VERSION src stage
  src="$WORK/compose"; stage="$WORK/stage"; mkdir -p "$stage"
  fetch_module "github.com/docker/compose/v5@v$v" "$src"
  step "go build ./cmd (docker-compose, -p $JOBS)" \
    "cd into a copy of github.com/docker/compose/v5@v$v and run: GOWORK=off go build ./cmd"
  (cd "$src" && run go build -p "$JOBS" -tags netgo \
    -ldflags "$LDFLAGS_STRIP -X github.com/docker/compose/v5/internal.Version=v$v" -o "$stage/docker-compose" ./cmd)
  install_stage compose "$stage"
}

build_cadvisor() {
  local stage
  stage="$WORK/stage"; mkdir -p "$stage"
  grep -q "github.com/google/cadvisor v$CADVISOR_VERSION\$" "$CADVISOR_SRC/go.mod" ||
    { log "    ! $CADVISOR_SRC/go.mod does not require github.com/google/cadvisor v$CADVISOR_VERSION (.env)"; false; }
  step "go test and go build scripts/compose/cadvisor (-p $JOBS)" \
    "cd scripts/compose/cadvisor && GOWORK=off go build ."
  (cd "$CADVISOR_SRC" && run go test -p "$JOBS" -tags netgo -count=1 ./...)
  (cd "$CADVISOR_SRC" && run go build -p "$JOBS" -tags netgo -ldflags "$LDFLAGS_STRIP" -o "$stage/cadvisor" .)
  install_stage cadvisor "$stage"
}

build_sloth() {
  local v=$SLOTH_VERSION src stage ov
  src="$WORK/sloth"; stage="$WORK/stage"; mkdir -p "$stage"
  fetch_module "github.com/slok/sloth@v$v" "$src"
  # internal/info.Version is what `sloth version` prints (sloth's Makefile sets it the same way)
  step "go build ./cmd/sloth (-p $JOBS)" \
    "cd into a copy of github.com/slok/sloth@v$v and run: GOWORK=off go build -p $JOBS ./cmd/sloth"
  (cd "$src" && run go build -p "$JOBS" -tags netgo \
    -ldflags "$LDFLAGS_STRIP -X github.com/slok/sloth/internal/info.Version=v$v" -o "$stage/" ./cmd/sloth)
  # oslo validates the OpenSLO exports (observability/slo/openslo/): OpenSLO's own CLI, at the
  # version whose manifest types Sloth reads OpenSLO with, so both judge the same schema.
  step "reading the github.com/OpenSLO/oslo version of sloth's go.mod"
  ov=$(sed -n 's/^[[:space:]]*github\.com\/OpenSLO\/oslo \(v[0-9.]*\)$/\1/p' "$src/go.mod" | head -n 1)
  [[ -n "$ov" ]] || { log "    ! no github.com/OpenSLO/oslo vX.Y.Z in sloth's go.mod"; false; }
  fetch_module "github.com/OpenSLO/oslo@$ov" "$WORK/oslo"
  step "go build ./cmd/oslo $ov (-p $JOBS)" \
    "cd into a copy of github.com/OpenSLO/oslo@$ov and run: GOWORK=off go build -p $JOBS ./cmd/oslo"
  (cd "$WORK/oslo" && run go build -p "$JOBS" -tags netgo -ldflags "$LDFLAGS_STRIP -X main.version=$ov" -o "$stage/" ./cmd/oslo)
  install_stage sloth "$stage"
}

# ---------- main ----------
SELECTED=()
if ((${#ONLY[@]})); then
  for n in "${ONLY[@]}"; do
    IFS=, read -ra parts <<<"$n"
    for p in "${parts[@]}"; do canon_name "$p"; SELECTED+=("$CANON"); done
  done
else
  SELECTED=("${ALL_COMPONENTS[@]}")
fi

# --check [--only NAME]...: the selected components (all by default)
if [[ "$PRINT" == check ]]; then
  missing=()
  for c in "${SELECTED[@]}"; do cached_ok "$c" || missing+=("$c $(comp_version "$c")"); done
  ((${#missing[@]} == 0)) && exit 0
  log "not built yet (or stale) in $BIN_DIR: ${missing[*]}"
  log "build them with: npm run setup   (or bash scripts/native/build-backends.sh; minutes per component from empty Go caches, seconds when cached)"
  exit 1
fi

mkdir -p "$BIN_DIR" "$LOG_DIR" "$TMP_ROOT"
# One build at a time per cache (a second run waits instead of racing).
exec 9>"$CACHE_ROOT/.lock"
if command -v flock >/dev/null; then
  flock -n 9 || { log "another build-backends.sh holds $CACHE_ROOT/.lock; waiting..."; flock 9; }
fi

log "==> dice-stack native backends: $(go version | cut -d' ' -f3-4), cache $BIN_DIR"
log "    versions from $ENV_FILE: otelcol $OTELCOL_VERSION, prometheus $PROMETHEUS_VERSION," \
  "alertmanager $ALERTMANAGER_VERSION, node_exporter $NODE_EXPORTER_VERSION, helm $HELM_VERSION," \
  "kube-validate $KUBE_VALIDATE_VERSION (prometheus-operator CRDs $PROMETHEUS_OPERATOR_VERSION), telemetrygen $OTELCOL_VERSION," \
  "sloth $SLOTH_VERSION, engine (moby) $MOBY_VERSION, runc $RUNC_VERSION, compose $COMPOSE_VERSION, cadvisor $CADVISOR_VERSION"
T_ALL=$SECONDS
SUMMARY=()
for c in "${SELECTED[@]}"; do
  v=$(comp_version "$c")
  d=$(install_dir "$c")
  if ((!FORCE)) && cached_ok "$c"; then
    log "==> [$c $v] cached in $d (skip; --force to rebuild)"
    SUMMARY+=("$c $v: cached")
    continue
  fi
  log "==> [$c $v] building"
  LOG_FILE="$LOG_DIR/$c-$v.log"
  : >"$LOG_FILE"
  WORK=$(mktemp -d "$TMP_ROOT/$c-$v.XXXXXX")
  t0=$SECONDS
  "build_${c//-/_}"
  recipe_hash "$c" >"$d/recipe.sha256"
  verify "$c"
  cleanup
  WORK=""
  dt=$((SECONDS - t0))
  log "==> [$c $v] built in $(fmt_secs "$dt") -> $d (log: $LOG_FILE)"
  SUMMARY+=("$c $v: built in $(fmt_secs "$dt")")
  LOG_FILE=""
done
STEP="finishing"
log "==> done in $(fmt_secs $((SECONDS - T_ALL))):"
for s in "${SUMMARY[@]}"; do log "    $s"; done
