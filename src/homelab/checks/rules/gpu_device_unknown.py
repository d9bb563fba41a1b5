"""A VM's passed-through GPU must be one of its Proxmox node's `gpus`, and used by one VM only."""

from __future__ import annotations

from homelab.checks.base import Finding, rule
from homelab.checks.rules._common import known_list


def normalise(device: str) -> str:
    device = device.lower()
    if device.count(":") == 1:
        device = "0000:" + device
    if device.endswith(".0"):
        device = device[:-2]
    return device


@rule("gpu-device-unknown", "error", "a GPU passthrough device is not listed on its node, or used twice")
def check(doc):
    lab = doc.lab
    nodes = {}
    for n in lab.proxmox.nodes:
        nodes.setdefault(n.name, n)
    used: dict[tuple[str, str], str] = {}
    for vm in doc.inventory.vms:
        if vm.gpu is None or vm.node not in nodes:
            continue
        node = nodes[vm.node]
        dev = normalise(vm.gpu.device)
        path = ("vms", vm.index, "gpu", "device")
        if dev not in {normalise(g) for g in node.gpus}:
            placed = " (placed there automatically; pin `node:`)" if vm.node_placed else ""
            yield Finding(path, f"VM {vm.name}: GPU {vm.gpu.device} is not listed on node {node.name}{placed}",
                          f"GPUs of {node.name}: {known_list(node.gpus)}; add it to the node's `gpus`")
        elif (node.name, dev) in used:
            yield Finding(path, f"VM {vm.name}: GPU {vm.gpu.device} on {node.name} is already passed to VM "
                          f"{used[(node.name, dev)]}", "a PCI device can be passed through to one VM only")
        else:
            used[(node.name, dev)] = vm.name
