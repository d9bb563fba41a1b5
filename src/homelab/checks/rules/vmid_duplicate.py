"""Two VMs must not have the same Proxmox VMID."""

from __future__ import annotations

from homelab.checks.base import Finding, rule


@rule("vmid-duplicate", "error", "two VMs have the same VMID")
def check(doc):
    first: dict[int, str] = {}
    for i, vm in enumerate(doc.lab.vms):
        if vm.vmid is None:
            continue
        if vm.vmid in first:
            yield Finding(("vms", i, "vmid"), f"VM {vm.name}: VMID {vm.vmid} is already used by VM {first[vm.vmid]}",
                          "give each VM its own VMID, or remove `vmid:` to allocate a free one")
        else:
            first[vm.vmid] = vm.name
