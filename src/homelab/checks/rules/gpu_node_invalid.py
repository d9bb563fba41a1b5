"""clusters.k3s.gpu.nodes must be k3s members with GPU passthrough; GPU VMs in k3s should be listed."""

from __future__ import annotations

from homelab.checks.base import Finding, rule
from homelab.diagnostics import Severity


@rule("gpu-node-invalid", "error", "a k3s GPU node is not a k3s member VM with GPU passthrough")
def check(doc):
    lab = doc.lab
    k3s = lab.clusters.k3s
    if not k3s:
        return
    members = set(k3s.servers) | set(k3s.agents)
    vms = {}
    for i, vm in enumerate(lab.vms):
        vms.setdefault(vm.name, (i, vm))
    for k, name in enumerate(k3s.gpu.nodes):
        path = ("clusters", "k3s", "gpu", "nodes", k)
        if name not in members:
            yield Finding(path, f"GPU node {name!r} is not a k3s server or agent",
                          "list only k3s members under clusters.k3s.gpu.nodes")
        elif name in vms and vms[name][1].gpu is None:
            yield Finding(path, f"GPU node {name} has no GPU passed through",
                          f"add `gpu: {{device: 0000:01:00}}` to VM {name} (a GPU of its Proxmox node)")
    for name in sorted(members):
        if name in vms and vms[name][1].gpu is not None and name not in k3s.gpu.nodes:
            i = vms[name][0]
            yield Finding(("vms", i, "gpu"), f"VM {name} has a GPU but is not in clusters.k3s.gpu.nodes",
                          "list it there so it gets the GPU label and taint", severity=Severity.WARNING)
