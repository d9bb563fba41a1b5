"""Two k3s servers (or two Elasticsearch masters) on one Proxmox node lose quorum together."""

from __future__ import annotations

from homelab.checks.base import Finding, rule


@rule("ha-same-node", "warning", "two k3s servers or two Elasticsearch masters on the same Proxmox node")
def check(doc):
    lab = doc.lab
    by_name = {}
    for vm in doc.inventory.vms:
        by_name.setdefault(vm.name, vm)
    groups = []
    if lab.clusters.k3s:
        groups.append(("k3s servers", ("clusters", "k3s", "servers"), lab.clusters.k3s.servers))
    if lab.clusters.elasticsearch:
        es = lab.clusters.elasticsearch
        groups.append(("Elasticsearch masters", ("clusters", "elasticsearch", "master_nodes"), es.master_nodes))
    for label, path, members in groups:
        first: dict[str, str] = {}
        seen_names = set()
        for k, name in enumerate(members):
            vm = by_name.get(name)
            if vm is None or not vm.node or name in seen_names:
                continue
            seen_names.add(name)
            if vm.node in first:
                placed = " (placed automatically)" if vm.node_placed else ""
                yield Finding(path + (k,),
                              f"{label} {first[vm.node]} and {name} both run on Proxmox node {vm.node}{placed}",
                              "put each on a different node (`node:` on the VM) so one host failure keeps quorum")
            else:
                first[vm.node] = name
