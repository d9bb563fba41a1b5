"""Proxmox node names are unique (VMs are placed on a node by name)."""

from __future__ import annotations

from homelab.checks.base import Finding, rule


@rule("node-duplicate", "error", "two Proxmox nodes have the same name")
def check(doc):
    first: dict[str, int] = {}
    for i, node in enumerate(doc.lab.proxmox.nodes):
        if node.name in first:
            yield Finding(("proxmox", "nodes", i, "name"),
                          f"Proxmox node {node.name} is declared twice (also proxmox.nodes[{first[node.name]}])",
                          "declare each node once; its capacity would otherwise be counted twice")
        else:
            first[node.name] = i
