"""The VMs placed on a Proxmox node must fit in its memory (the resolved inventory, after placement)."""

from __future__ import annotations

from homelab.checks.base import Finding, rule
from homelab.lab.types import format_size


@rule("node-memory-overcommit", "error", "VMs on a Proxmox node need more memory than it has")
def check(doc):
    lab = doc.lab
    used: dict[str, int] = {}
    names: dict[str, list[str]] = {}
    for vm in doc.inventory.vms:
        if vm.node:
            used[vm.node] = used.get(vm.node, 0) + vm.memory
            names.setdefault(vm.node, []).append(vm.name)
    seen = set()
    for j, node in enumerate(lab.proxmox.nodes):
        if node.name in seen:
            continue
        seen.add(node.name)
        total = used.get(node.name, 0)
        if total > node.memory:
            yield Finding(("proxmox", "nodes", j, "memory"),
                          f"node {node.name}: its {len(names[node.name])} VMs need {format_size(total)} of memory, "
                          f"it has {format_size(node.memory)}",
                          "move VMs to another node (`node:`), shrink them, or add a node")
