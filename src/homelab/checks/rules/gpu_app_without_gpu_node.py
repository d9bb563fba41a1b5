"""An app asking for a GPU needs a GPU node: a k3s member VM with passthrough, labelled and tainted."""

from __future__ import annotations

from homelab.checks.base import Finding, rule


def valid_gpu_nodes(lab) -> list[str]:
    k3s = lab.clusters.k3s
    if not k3s:
        return []
    members = set(k3s.servers) | set(k3s.agents)
    vms = {vm.name: vm for vm in lab.vms}
    return [n for n in k3s.gpu.nodes if n in members and n in vms and vms[n].gpu is not None]


@rule("gpu-app-without-gpu-node", "error", "an app requests a GPU but no GPU node (or device plugin) exists")
def check(doc):
    lab = doc.lab
    gpu_apps = [(i, app) for i, app in enumerate(lab.apps) if app.gpu > 0]
    if not gpu_apps:
        return
    nodes = valid_gpu_nodes(lab)
    plugin = lab.platform.nvidia_device_plugin.enabled
    for i, app in gpu_apps:
        if not lab.clusters.k3s:
            yield Finding(("apps", i, "gpu"), f"app {app.name}: requests a GPU but there is no k3s cluster",
                          "define clusters.k3s with a GPU node")
        elif not nodes:
            yield Finding(("apps", i, "gpu"),
                          f"app {app.name}: requests {app.gpu} GPU(s) but no k3s node is a GPU node",
                          "list a k3s VM with `gpu:` passthrough under clusters.k3s.gpu.nodes "
                          "(it gets the accelerator label and the nvidia.com/gpu taint)")
        elif not plugin:
            yield Finding(("apps", i, "gpu"),
                          f"app {app.name}: requests a GPU but platform.nvidia_device_plugin is disabled",
                          "enable platform.nvidia_device_plugin so nodes advertise nvidia.com/gpu")
