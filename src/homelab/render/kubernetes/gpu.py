"""NVIDIA GPUs on K3s: how a GPU workload is pinned to the GPU nodes and given the runtime.

The GPU nodes carry `clusters.k3s.gpu.label` and the taint `clusters.k3s.gpu.taint` (set by the k3s
Ansible role); K3s ships the `nvidia` RuntimeClass when it detects the NVIDIA container runtime
(platform-facts §3), and the NVIDIA device plugin (its values are in `charts.py`) advertises
`nvidia.com/gpu`. Apps with `gpu: N` get the node selector, toleration and runtime class here;
`docs/apps.md` shows the same label and taint.
"""

from __future__ import annotations

GPU_RUNTIME_CLASS = "nvidia"  # shipped by K3s when it detects the NVIDIA container runtime (facts §3)
GPU_RESOURCE = "nvidia.com/gpu"
DEFAULT_GPU_LABEL = "accelerator=nvidia-tesla-gpu"
DEFAULT_GPU_TAINT = "nvidia.com/gpu=true:NoSchedule"


def gpu_label(lab) -> str:
    """`key=value` of the label on the GPU nodes."""
    return lab.clusters.k3s.gpu.label if lab.clusters.k3s else DEFAULT_GPU_LABEL


def gpu_taint(lab) -> str:
    """`key[=value]:effect` of the taint on the GPU nodes."""
    return lab.clusters.k3s.gpu.taint if lab.clusters.k3s else DEFAULT_GPU_TAINT


def gpu_node_selector(lab) -> dict:
    key, _, value = gpu_label(lab).partition("=")
    return {key: value}


def gpu_toleration(lab) -> dict:
    key_value, _, effect = gpu_taint(lab).rpartition(":")
    key, eq, value = key_value.partition("=")
    if eq:
        return {"key": key, "operator": "Equal", "value": value, "effect": effect}
    return {"key": key, "operator": "Exists", "effect": effect}


def gpu_scheduling(lab, app, *, runtime_class: bool = True) -> dict:
    """nodeSelector / tolerations / runtimeClassName for a GPU workload (empty otherwise).

    `runtime_class=False` for charts that have no runtimeClassName value."""
    if not app.gpu:
        return {}
    out = {"nodeSelector": gpu_node_selector(lab), "tolerations": [gpu_toleration(lab)]}
    if runtime_class:
        out["runtimeClassName"] = GPU_RUNTIME_CLASS
    return out
