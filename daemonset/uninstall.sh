#!/usr/bin/env bash
# Removes hostplane from a cluster without disturbing running pods:
#  - the DaemonSet goes first; the agent's SIGTERM path drains the device
#    plugins and stops serving, and never unmounts volumes or removes the CNI
#    plugin/conflist, so running pods keep their network and their volumes;
#  - the CSIDriver and StorageClass stay while any PersistentVolume of the
#    driver exists (kubelet needs them to tear those volumes down later,
#    after hostplane is reinstalled);
#  - nothing is deleted on the nodes: /opt/cni/bin/hostplane, the conflist
#    and /var/lib/hostplane stay until an operator removes them from a
#    drained node (the commands are printed at the end).
# Usage: daemonset/uninstall.sh [--keep-namespace]   (KUBECTL overrides kubectl)
set -euo pipefail

KUBECTL=${KUBECTL:-kubectl}
NS=hostplane
DRIVER=csi.hostplane.io
KEEP_NS=0
for a in "$@"; do
  case "$a" in
    --keep-namespace) KEEP_NS=1 ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "uninstall.sh: unknown argument $a" >&2; exit 2 ;;
  esac
done

echo "deleting DaemonSet $NS/hostplane (volumes stay mounted, CNI files stay on the nodes)"
"$KUBECTL" -n "$NS" delete daemonset hostplane --ignore-not-found --wait=true

"$KUBECTL" delete clusterrolebinding hostplane-agent hostplane-csi-provisioner hostplane-csi-resizer hostplane-csi-snapshotter --ignore-not-found
"$KUBECTL" delete clusterrole hostplane-agent hostplane-csi-provisioner hostplane-csi-resizer hostplane-csi-snapshotter --ignore-not-found
"$KUBECTL" delete volumesnapshotclass hostplane --ignore-not-found 2>/dev/null || true

pvs=$("$KUBECTL" get persistentvolumes -o jsonpath="{range .items[?(@.spec.csi.driver==\"$DRIVER\")]}{.metadata.name}{\"\\n\"}{end}")
if [ -n "$pvs" ]; then
  echo "keeping CSIDriver $DRIVER and StorageClass hostplane: PersistentVolumes still use them:"
  echo "$pvs" | sed 's/^/  /'
else
  "$KUBECTL" delete storageclass hostplane --ignore-not-found
  "$KUBECTL" delete csidriver "$DRIVER" --ignore-not-found
fi

if [ "$KEEP_NS" = 1 ]; then
  "$KUBECTL" -n "$NS" delete rolebinding,role hostplane-sidecars --ignore-not-found
  "$KUBECTL" -n "$NS" delete configmap -l app.kubernetes.io/name=hostplane --ignore-not-found
  "$KUBECTL" -n "$NS" delete serviceaccount hostplane --ignore-not-found
else
  "$KUBECTL" delete namespace "$NS" --ignore-not-found
fi

cat <<'MSG'
hostplane is uninstalled from the API. On each node the CNI plugin, its
conflist and the volume data are left in place for the pods still running.
Once a node is drained (no pods on the hostplane network, no hostplane
volumes mounted), remove them there with:
  rm -f /opt/cni/bin/hostplane /etc/cni/net.d/10-hostplane.conflist
  rm -rf /var/lib/hostplane     # deletes the volumes' data
MSG
