"""The VM disks on each storage of a Proxmox node must fit in that storage's capacity."""

from __future__ import annotations

from homelab.checks.base import Finding, rule
from homelab.lab.types import format_size


@rule("node-disk-overcommit", "error", "VM disks on a Proxmox node's storage exceed its capacity")
def check(doc):
    lab = doc.lab
    used: dict[tuple[str, str], int] = {}
    for vm in doc.inventory.vms:
        if vm.node:
            key = (vm.node, vm.storage)
            used[key] = used.get(key, 0) + vm.disk
    seen = set()
    for j, node in enumerate(lab.proxmox.nodes):
        if node.name in seen:
            continue
        seen.add(node.name)
        for storage, capacity in node.storages.items():
            total = used.get((node.name, storage), 0)
            if total > capacity:
                yield Finding(("proxmox", "nodes", j, "storages", storage),
                              f"node {node.name}: VM disks on {storage} need {format_size(total)}, "
                              f"it holds {format_size(capacity)}",
                              "move VMs to another node or storage, shrink their disks, or add capacity")
