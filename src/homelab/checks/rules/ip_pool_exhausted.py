"""Every VM without a pinned address needs a free one in network.pools.vms."""

from __future__ import annotations

from homelab.checks.base import Finding, rule


@rule("ip-pool-exhausted", "error", "no free address left in the VM pool for a VM without `ip:`")
def check(doc):
    pool = doc.lab.network.pools.vms or doc.lab.network.cidr
    for vm in doc.inventory.vms:
        if vm.ip is None:
            yield Finding(("vms", vm.index, "name"), f"VM {vm.name}: no free address left in {pool}",
                          "widen network.pools.vms, or give this VM an explicit `ip:`")
