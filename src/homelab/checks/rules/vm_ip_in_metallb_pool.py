"""A VM address must not lie in the MetalLB pool: MetalLB would hand the same address to a Service."""

from __future__ import annotations

import ipaddress

from homelab.checks.base import Finding, rule
from homelab.checks.rules._common import ip_range


@rule("vm-ip-in-metallb-pool", "error", "VM address inside the MetalLB pool")
def check(doc):
    lab = doc.lab
    pool = ip_range(lab.network.pools.metallb)
    if not pool:
        return
    for i, vm in enumerate(lab.vms):
        if vm.ip and pool[0] <= ipaddress.IPv4Address(vm.ip) <= pool[1]:
            yield Finding(("vms", i, "ip"),
                          f"VM {vm.name}: address {vm.ip} is inside the MetalLB pool {lab.network.pools.metallb}",
                          "pick an address outside network.pools.metallb (e.g. from network.pools.vms)")
