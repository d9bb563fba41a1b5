"""The VM pool and the MetalLB pool must not overlap, and the MetalLB pool must not contain the gateway."""

from __future__ import annotations

import ipaddress

from homelab.checks.base import Finding, rule
from homelab.checks.rules._common import ip_range


@rule("pool-overlap", "error", "VM and MetalLB address pools overlap (or MetalLB contains the gateway)")
def check(doc):
    pools = doc.lab.network.pools
    vms, metallb = ip_range(pools.vms), ip_range(pools.metallb)
    if vms and metallb and vms[0] <= metallb[1] and metallb[0] <= vms[1]:
        lo, hi = max(vms[0], metallb[0]), min(vms[1], metallb[1])
        yield Finding(("network", "pools", "metallb"),
                      f"the MetalLB pool {pools.metallb} overlaps the VM pool {pools.vms} ({lo}-{hi})",
                      "make the two ranges disjoint, e.g. VMs .20-.199 and MetalLB .200-.250")
    if metallb and metallb[0] <= ipaddress.IPv4Address(doc.lab.network.gateway) <= metallb[1]:
        yield Finding(("network", "pools", "metallb"),
                      f"the MetalLB pool {pools.metallb} contains the gateway {doc.lab.network.gateway}",
                      "exclude the gateway's address from the MetalLB range")
