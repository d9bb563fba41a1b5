"""Every VM without a pinned VMID needs a free one in proxmox.vmid_range."""

from __future__ import annotations

from homelab.checks.base import Finding, rule


@rule("vmid-range-exhausted", "error", "no free VMID left in proxmox.vmid_range for a VM without `vmid:`")
def check(doc):
    lo, hi = doc.lab.proxmox.vmid_range
    for vm in doc.inventory.vms:
        if vm.vmid is None:
            yield Finding(("vms", vm.index, "name"), f"VM {vm.name}: no free VMID left in {lo}-{hi}",
                          "widen proxmox.vmid_range, or give this VM an explicit `vmid:`")
