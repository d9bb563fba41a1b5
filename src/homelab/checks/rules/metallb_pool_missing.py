"""MetalLB (enabled with a K3s cluster) needs an address pool to hand out."""

from __future__ import annotations

from homelab.checks.base import Finding, rule


@rule("metallb-pool-missing", "error", "MetalLB is enabled but network.pools.metallb is not set")
def check(doc):
    lab = doc.lab
    if lab.clusters.k3s and lab.platform.metallb.enabled and not lab.network.pools.metallb:
        path = ("network", "pools") if doc.sourcemap.has(("network", "pools")) else ("network",)
        yield Finding(path, "MetalLB is enabled but no address pool is set (network.pools.metallb)",
                      "add `metallb: FIRST-LAST` under network.pools, outside the VM pool", key=True)
