"""K3s' bundled ServiceLB and Traefik must be disabled when MetalLB and Traefik come from ArgoCD."""

from __future__ import annotations

from homelab.checks.base import Finding, rule


@rule("k3s-disable-conflict", "error", "k3s still runs servicelb/traefik while MetalLB/Traefik are deployed")
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
