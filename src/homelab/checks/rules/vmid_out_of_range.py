"""VMIDs must lie in proxmox.vmid_range, and that range must be valid for Proxmox (100-999999999)."""

from __future__ import annotations

from homelab.checks.base import Finding, rule

PVE_MIN, PVE_MAX = 100, 999_999_999  # Proxmox VE accepts VMIDs in this range


@rule("vmid-out-of-range", "error", "VMID outside proxmox.vmid_range, or an invalid range")
def check(doc):
    lo, hi = doc.lab.proxmox.vmid_range
    range_ok = PVE_MIN <= lo <= hi <= PVE_MAX
    if not range_ok:
        yield Finding(("proxmox", "vmid_range"), f"proxmox.vmid_range [{lo}, {hi}] is not a valid VMID range",
                      f"use [FIRST, LAST] with {PVE_MIN} <= FIRST <= LAST <= {PVE_MAX}, e.g. [100, 999]")
    for i, vm in enumerate(doc.lab.vms):
        if vm.vmid is None:
            continue
        if not PVE_MIN <= vm.vmid <= PVE_MAX:
            yield Finding(("vms", i, "vmid"), f"VM {vm.name}: VMID {vm.vmid} is not a valid Proxmox VMID",
                          f"Proxmox VMIDs are {PVE_MIN}-{PVE_MAX}")
        elif range_ok and not lo <= vm.vmid <= hi:
            yield Finding(("vms", i, "vmid"), f"VM {vm.name}: VMID {vm.vmid} is outside proxmox.vmid_range {lo}-{hi}",
                          "pick a VMID inside the range, or widen proxmox.vmid_range")
