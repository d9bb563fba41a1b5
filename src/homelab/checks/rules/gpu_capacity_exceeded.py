"""The apps' GPU requests, summed, must fit the GPU nodes: GPUs × the device plugin's time-slicing replicas."""

from __future__ import annotations

from homelab.checks.base import Finding, rule
from homelab.checks.rules.gpu_app_without_gpu_node import valid_gpu_nodes
from homelab.checks.rules.gpu_request_exceeds_node import GPUS_PER_VM


@rule("gpu-capacity-exceeded", "error", "the apps together request more GPUs than the GPU nodes advertise")
def check(doc):
    lab = doc.lab
    nodes = valid_gpu_nodes(lab)
    if not nodes:
        return  # no GPU node at all: gpu-app-without-gpu-node reports the apps
    replicas = lab.clusters.k3s.gpu.time_slicing
    capacity = len(nodes) * GPUS_PER_VM * replicas
    used: list[str] = []
    total = 0
    for i, app in enumerate(lab.apps):
        if not app.gpu:
            continue
        total += app.gpu
        if total > capacity:
            yield Finding(("apps", i, "gpu"),
                          f"app {app.name}: its {app.gpu} GPU(s) come after {', '.join(used) or 'nothing'} "
                          f"({total - app.gpu} requested) and the GPU nodes advertise {capacity} nvidia.com/gpu "
                          f"({len(nodes)} GPU × {replicas} time-slicing replica(s)): it would stay Pending",
                          "share the GPUs: raise clusters.k3s.gpu.time_slicing (replicas per GPU), "
                          "or add a GPU node")
        used.append(app.name)
