"""A VM's disk storage (vm.storage or proxmox.storage) must exist on the Proxmox node it runs on."""

from __future__ import annotations

from homelab.checks.base import Finding, rule
from homelab.checks.rules._common import did_you_mean, known_list


@rule("vm-unknown-storage", "error", "VM disk storage does not exist on its Proxmox node")
def check(doc):
    lab = doc.lab
    nodes = {n.name: n for n in lab.proxmox.nodes}
    for vm in doc.inventory.vms:
        node = nodes.get(vm.node) if vm.node else None
        if node is None or vm.storage in node.storages:
            continue
        own = lab.vms[vm.index].storage is not None
        path = ("vms", vm.index, "storage") if own else ("proxmox", "storage")
        yield Finding(path, f"VM {vm.name}: storage {vm.storage!r} does not exist on node {node.name}",
                      did_you_mean(vm.storage, node.storages,
                                   f"storages on {node.name}: {known_list(node.storages)}"))
