"""An app cannot ask for more GPUs than one GPU node has: a pod's GPUs all come from the node it runs on."""

from __future__ import annotations

from homelab.checks.base import Finding, rule
from homelab.checks.rules.gpu_app_without_gpu_node import valid_gpu_nodes

# A VM gets at most one passthrough GPU (`vms[].gpu` is a single device). With time-slicing
# (clusters.k3s.gpu.time_slicing) the node advertises more nvidia.com/gpu, but the rendered device plugin
# config refuses a request for more than one share (failRequestsGreaterThanOne): a pod still gets one.
GPUS_PER_VM = 1


@rule("gpu-request-exceeds-node", "error", "an app requests more GPUs than any GPU node can offer")
def check(doc):
    lab = doc.lab
    nodes = valid_gpu_nodes(lab)
    if not nodes:
        return  # no GPU node at all: gpu-app-without-gpu-node reports it
    per_node = GPUS_PER_VM
    total = per_node * len(nodes)
    for i, app in enumerate(lab.apps):
        if app.gpu > per_node:
            yield Finding(("apps", i, "gpu"),
                          f"app {app.name}: requests {app.gpu} GPUs, but a GPU node offers {per_node} "
                          f"({len(nodes)} GPU node(s): {', '.join(sorted(nodes))}; {total} in all) and a pod "
                          "cannot take GPUs from two nodes: it would stay Pending",
                          f"request gpu: {per_node}, or split the workload into pods of {per_node} GPU each")
