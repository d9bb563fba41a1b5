"""K3s' bundled ServiceLB and Traefik must be disabled when MetalLB and Traefik come from ArgoCD, and its
local-path StorageClass when democratic-csi brings the default StorageClass."""

from __future__ import annotations

from homelab.checks.base import Finding, rule


@rule("k3s-disable-conflict", "error",
      "k3s still runs servicelb/traefik/local-storage while MetalLB/Traefik/democratic-csi replace them")
def check(doc):
    lab = doc.lab
    k3s = lab.clusters.k3s
    if not k3s:
        return
    path = ("clusters", "k3s", "disable")
    if lab.platform.metallb.enabled and "servicelb" not in k3s.disable:
        yield Finding(path, "MetalLB is enabled but k3s' servicelb is not disabled: both would answer "
                      "LoadBalancer services", "add servicelb to clusters.k3s.disable")
    if lab.platform.traefik.enabled and "traefik" not in k3s.disable:
        yield Finding(path, "the Traefik component is enabled but k3s' bundled traefik is not disabled",
                      "add traefik to clusters.k3s.disable, or disable platform.traefik")
    storage = lab.storage
    csi_default = lab.platform.democratic_csi.enabled and storage.truenas and any(c.default for c in storage.classes)
    if csi_default and "local-storage" not in k3s.disable:
        # K3s' local-storage addon marks its local-path StorageClass default (docs: "--disable local-storage").
        yield Finding(path, "democratic-csi brings the default StorageClass but k3s' local-storage is not disabled: "
                      "its local-path class is a second default, and claims without a class land on either",
                      "add local-storage to clusters.k3s.disable")
