"""A VM pinned to a Proxmox node must name one of proxmox.nodes."""

from __future__ import annotations

from homelab.checks.base import Finding, rule
from homelab.checks.rules._common import did_you_mean, known_list


@rule("vm-unknown-node", "error", "VM pinned to a Proxmox node that is not in proxmox.nodes")
def check(doc):
    names = [n.name for n in doc.lab.proxmox.nodes]
    for i, vm in enumerate(doc.lab.vms):
        if vm.node is not None and vm.node not in names:
            yield Finding(("vms", i, "node"), f"VM {vm.name}: Proxmox node {vm.node!r} is not in proxmox.nodes",
                          did_you_mean(vm.node, names, f"known nodes: {known_list(names)}; or remove `node:`"))
