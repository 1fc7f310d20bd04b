#!/usr/bin/env bash
# Installs everything hostplane needs on a fresh Debian bookworm machine (as root):
# host tools the plugins drive, the reference peers the tests prove us against,
# and the npm dependencies (which include the pinned Node runtime).
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
export PATH="/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:${PATH:-}"

need_apt=()
for pkg in iproute2 nftables iptables containernetworking-plugins util-linux mount e2fsprogs xfsprogs \
           containerd runc kmod procps strace hyperfine git ca-certificates tar gzip openssl \
           iputils-ping iperf3 busybox-static curl gcc libc6-dev; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || need_apt+=("$pkg")
done
# The image build's `apt-get download` needs package lists even when nothing is missing.
if [ ${#need_apt[@]} -gt 0 ] || ! ls /var/lib/apt/lists/*_Packages >/dev/null 2>&1; then
  apt-get update -qq
fi
if [ ${#need_apt[@]} -gt 0 ]; then
  apt-get install -y -qq --no-install-recommends "${need_apt[@]}"
fi

# Reference tools, built from the Go module proxy into /usr/local/bin.
export GOBIN=/usr/local/bin GOFLAGS=-mod=mod
go_tool() { # name module@version
  command -v "$1" >/dev/null 2>&1 || go install "$2"
}
go_tool cnitool github.com/containernetworking/cni/cnitool@v1.3.0
go_tool csi-sanity github.com/kubernetes-csi/csi-test/v5/cmd/csi-sanity@v5.4.0
# The reference CNI plugins v1.10.0 (Debian's 1.1.1 refuses cniVersion 1.1.0) in a
# directory of their own: the host's /opt/cni/bin is never touched.
REF_CNI_DIR=/opt/hostplane-ref/cni-plugins-v1.10.0
if [ ! -x "$REF_CNI_DIR/loopback" ]; then
  GOBIN="$REF_CNI_DIR.tmp" go install \
    github.com/containernetworking/plugins/plugins/{main/bridge,main/loopback,ipam/host-local,meta/portmap,meta/bandwidth}@v1.10.0
  rm -rf "$REF_CNI_DIR" && mv "$REF_CNI_DIR.tmp" "$REF_CNI_DIR"
fi
# The reference CSI driver (csi-driver-host-path) is refused by the Go module
# proxy here (403 "module version is not available"), so the CSI benchmark
# compares against the bare host-tool calls of the same work instead.

npm ci --no-audit --no-fund
