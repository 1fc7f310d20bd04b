#!/usr/bin/env bash
# Builds the real-node test bed from the Go module proxy, cached by version
# outside the repo: etcd, Kubernetes (apiserver, controller-manager, scheduler,
# kubelet, kubectl), containerd, and the CSI sidecars + snapshot-controller the
# DaemonSet names. A tool whose stamp exists is never rebuilt, so a warm run
# costs nothing; a cold one is ~25 min on 2 cores.
#
#   bash test/e2e/build-tools.sh            # everything (what .ci/run does)
#   bash test/e2e/build-tools.sh etcd       # one tool
#
# Prints nothing but progress on stderr; the cache root is $HOSTPLANE_E2E_CACHE
# (default /var/cache/hostplane-e2e), bins under $CACHE/<tool>-<version>/.
set -euo pipefail
export PATH="/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:${PATH:-}"
export GOFLAGS=-mod=mod GOTOOLCHAIN=local CGO_ENABLED=0
# The checksum database lacks some kubernetes-csi versions; the content still
# comes from the proxy and the wrapper's go.sum pins its hashes.
export GONOSUMDB=github.com/kubernetes-csi GONOSUMCHECK=github.com/kubernetes-csi
CACHE="${HOSTPLANE_E2E_CACHE:-/var/cache/hostplane-e2e}"
mkdir -p "$CACHE/src" "$CACHE/logs"

K8S_VERSION=v1.34.4
ETCD_VERSION=v3.6.16
CONTAINERD_VERSION=v2.2.9
PROVISIONER_VERSION=v5.2.0
SNAPSHOTTER_VERSION=v8.2.1
SNAPSHOT_CLIENT_VERSION=v8.2.0
# v1.13.2 is refused by the module proxy; v1.13.1 is served.
RESIZER_VERSION=v1.13.1

log() { printf '[build-tools] %s\n' "$*" >&2; }

# The go.mod of MODULE@VERSION, from the module proxy.
gomod_of() {
  go mod download -json "$1@$2" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p'
}
# The replace lines of a go.mod that point at module versions (local ./ and
# ../ replaces cannot resolve outside their repository and are dropped).
versioned_replaces() {
  awk '
    /^replace[[:space:]]*\(/ { inblock = 1; next }
    inblock && /^\)/ { inblock = 0; next }
    { line = $0; sub(/^replace[[:space:]]+/, "", line) }
    (inblock || /^replace[[:space:]]/) && line ~ /=>[[:space:]]*[^.[:space:]][^[:space:]]*[[:space:]]+v[0-9]/ { print "replace " line }
  ' "$1"
}

# wrap NAME VERSION GO_LINE MODULE MODULE_VERSION EXTRA_GOMOD
# Writes a wrapper module that requires MODULE@MODULE_VERSION.
wrap() {
  local name=$1 version=$2 goline=$3 module=$4 modver=$5 extra=$6
  local dir="$CACHE/src/$name-$version"
  rm -rf "$dir" && mkdir -p "$dir"
  local gomod
  gomod=$(gomod_of "$module" "$modver")
  {
    echo "module hostplane.local/e2e/$name"
    echo
    echo "$goline"
    printf '%s\n' "$extra"
    echo "require $module $modver"
    versioned_replaces "$gomod"
  } >"$dir/go.mod"
  echo "$dir"
}

# build NAME VERSION DIR LDFLAGS TAGS PKG...
build() {
  local name=$1 version=$2 dir=$3 ldflags=$4 tags=$5
  shift 5
  local out="$CACHE/$name-$version"
  rm -rf "$out.tmp" && mkdir -p "$out.tmp"
  # No `go get`: it would upgrade the pinned module to @latest. With
  # -mod=mod, go build adds only the requirements it is missing.
  (cd "$dir" && go build -trimpath -tags "$tags" -ldflags "-s -w $ldflags" -o "$out.tmp/" "$@")
  rm -rf "$out" && mv "$out.tmp" "$out"
}

done_already() { [ -f "$CACHE/$1-$2/.complete" ]; }

run_one() { # NAME VERSION FUNC: log to a file, say how long it took
  local name=$1 version=$2 fn=$3
  if done_already "$name" "$version"; then log "$name $version: cached"; return 0; fi
  log "$name $version: building (log: $CACHE/logs/$name-$version.log)"
  local t0=$SECONDS
  # The stamp is written only once the whole recipe (build and its extras) succeeded.
  if "$fn" >"$CACHE/logs/$name-$version.log" 2>&1 && touch "$CACHE/$name-$version/.complete"; then
    log "$name $version: built in $((SECONDS - t0)) s"
  else
    log "$name $version: FAILED after $((SECONDS - t0)) s; tail of its log:"
    tail -n 30 "$CACHE/logs/$name-$version.log" >&2
    return 1
  fi
}

build_etcd() {
  local dir
  dir=$(wrap etcd "$ETCD_VERSION" "go 1.26.0" go.etcd.io/etcd/server/v3 "$ETCD_VERSION" "")
  build etcd "$ETCD_VERSION" "$dir" "" "" go.etcd.io/etcd/server/v3
  mv "$CACHE/etcd-$ETCD_VERSION/server" "$CACHE/etcd-$ETCD_VERSION/etcd"
}

build_kubernetes() {
  local minor=${K8S_VERSION#v1.} staging=v0.${K8S_VERSION#v1.}
  minor=${minor%%.*}
  local gomod dir
  gomod=$(gomod_of k8s.io/kubernetes "$K8S_VERSION")
  dir="$CACHE/src/kubernetes-$K8S_VERSION"
  rm -rf "$dir" && mkdir -p "$dir"
  # The module zip has no staging/ tree: point every staging repo at its
  # published module of the same release instead.
  {
    echo "module hostplane.local/e2e/kubernetes"
    echo
    echo "go 1.24.0"
    echo
    echo "godebug default=go1.24"
    echo
    echo "require k8s.io/kubernetes $K8S_VERSION"
    sed -n 's#^[[:space:]]*\(k8s.io/[a-z0-9-]*\) => ./staging/src/k8s.io/[a-z0-9-]*$#replace \1 => \1 '"$staging"'#p' "$gomod"
  } >"$dir/go.mod"
  local date
  date=$(date -u +%Y-%m-%dT%H:%M:%SZ)
  local ld=""
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld+=" -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean -X $pkg.buildDate=$date"
  done
  build kubernetes "$K8S_VERSION" "$dir" "$ld" "" \
    k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
    k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubelet k8s.io/kubernetes/cmd/kubectl
}

build_containerd() {
  local dir
  dir=$(wrap containerd "$CONTAINERD_VERSION" "go 1.25.0" github.com/containerd/containerd/v2 "$CONTAINERD_VERSION" "")
  build containerd "$CONTAINERD_VERSION" "$dir" \
    "-X github.com/containerd/containerd/v2/version.Version=$CONTAINERD_VERSION" "no_btrfs no_devmapper no_zfs" \
    github.com/containerd/containerd/v2/cmd/containerd github.com/containerd/containerd/v2/cmd/ctr \
    github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2
}

build_provisioner() {
  local dir m=github.com/kubernetes-csi/external-provisioner/v5
  dir=$(wrap csi-provisioner "$PROVISIONER_VERSION" "go 1.23.1" "$m" "$PROVISIONER_VERSION" "")
  build csi-provisioner "$PROVISIONER_VERSION" "$dir" "-X main.version=$PROVISIONER_VERSION" "" "$m/cmd/csi-provisioner"
}

build_snapshotter() {
  local dir m=github.com/kubernetes-csi/external-snapshotter/v8
  dir=$(wrap csi-snapshotter "$SNAPSHOTTER_VERSION" "go 1.23.6" "$m" "$SNAPSHOTTER_VERSION" "")
  build csi-snapshotter "$SNAPSHOTTER_VERSION" "$dir" "-X main.version=$SNAPSHOTTER_VERSION" "" \
    "$m/cmd/csi-snapshotter" "$m/cmd/snapshot-controller"
  # The VolumeSnapshot CRDs a snapshot install needs ship in the client module.
  local client
  client=$(go mod download -json "github.com/kubernetes-csi/external-snapshotter/client/v8@$SNAPSHOT_CLIENT_VERSION" |
    sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  mkdir -p "$CACHE/csi-snapshotter-$SNAPSHOTTER_VERSION/crd"
  cp "$client"/config/crd/snapshot.storage.k8s.io_*.yaml "$CACHE/csi-snapshotter-$SNAPSHOTTER_VERSION/crd/"
  chmod -R u+w "$CACHE/csi-snapshotter-$SNAPSHOTTER_VERSION/crd"
}

build_resizer() {
  local dir m=github.com/kubernetes-csi/external-resizer
  dir=$(wrap csi-resizer "$RESIZER_VERSION" "go 1.23.1" "$m" "$RESIZER_VERSION" "")
  build csi-resizer "$RESIZER_VERSION" "$dir" "-X main.version=$RESIZER_VERSION" "" "$m/cmd/csi-resizer"
}

declare -A fn=(
  [etcd]="etcd $ETCD_VERSION build_etcd"
  [kubernetes]="kubernetes $K8S_VERSION build_kubernetes"
  [containerd]="containerd $CONTAINERD_VERSION build_containerd"
  [csi-provisioner]="csi-provisioner $PROVISIONER_VERSION build_provisioner"
  [csi-snapshotter]="csi-snapshotter $SNAPSHOTTER_VERSION build_snapshotter"
  [csi-resizer]="csi-resizer $RESIZER_VERSION build_resizer"
)
order=(kubernetes containerd etcd csi-provisioner csi-snapshotter csi-resizer)
[ $# -gt 0 ] && order=("$@")

# Two at a time: the Go compiler already uses both cores, but module
# downloads and links overlap well. `wait -n`: a short build starts as soon
# as any slot frees, not after the long Kubernetes build ahead of it.
running=0 failed=0
for tool in "${order[@]}"; do
  [ -n "${fn[$tool]:-}" ] || { log "unknown tool: $tool"; exit 2; }
  # shellcheck disable=SC2086
  run_one ${fn[$tool]} &
  running=$((running + 1))
  if [ "$running" -ge 2 ]; then
    wait -n || failed=1
    running=$((running - 1))
  fi
done
while [ "$running" -gt 0 ]; do
  wait -n || failed=1
  running=$((running - 1))
done
exit $failed
