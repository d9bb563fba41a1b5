"""NVIDIA GPUs on K3s: how a GPU workload is pinned to the GPU nodes and given the runtime.

The GPU nodes carry `clusters.k3s.gpu.label` and the taint `clusters.k3s.gpu.taint` (set by the k3s
Ansible role); K3s ships the `nvidia` RuntimeClass when it detects the NVIDIA container runtime
(platform-facts §3), and the NVIDIA device plugin (its values are in `charts.py`) advertises
`nvidia.com/gpu`. Apps with `gpu: N` get the node selector, toleration and runtime class here;
`docs/apps.md` shows the same label and taint.
"""

from __future__ import annotations

from homelab.render.base import RenderedFile
from homelab.render.kubernetes.common import SYNC_OPTIONS, WAVES, meta, yaml_file

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


def toleration_for(taint: str) -> dict:
    """The toleration of `key[=value]:effect` (Equal with a value, Exists without)."""
    key_value, _, effect = taint.rpartition(":")
    key, eq, value = key_value.partition("=")
    if eq:
        return {"key": key, "operator": "Equal", "value": value, "effect": effect}
    return {"key": key, "operator": "Exists", "effect": effect}


def gpu_toleration(lab) -> dict:
    return toleration_for(gpu_taint(lab))


def lab_taints(lab) -> list[str]:
    """Every taint the lab puts on a node: the GPU nodes' (set at registration by the k3s role)."""
    k3s = lab.clusters.k3s
    return [k3s.gpu.taint] if k3s and k3s.gpu.nodes else []


def every_node_tolerations(lab) -> list[dict]:
    """Tolerations of a DaemonSet that must run on every node (CSI node plugins, backup and metrics
    agents, the L2 speaker): one per taint the lab declares."""
    return [toleration_for(taint) for taint in lab_taints(lab)]


def time_slicing_replicas(lab) -> int:
    """How many nvidia.com/gpu each GPU is advertised as (device plugin time-slicing; 1 = not shared)."""
    return lab.clusters.k3s.gpu.time_slicing if lab.clusters.k3s else 1


def gpu_scheduling(lab, app, *, runtime_class: bool = True) -> dict:
    """nodeSelector / tolerations / runtimeClassName for a GPU workload (empty otherwise).

    `runtime_class=False` for charts that have no runtimeClassName value."""
    if not app.gpu:
        return {}
    out = {"nodeSelector": gpu_node_selector(lab), "tolerations": [gpu_toleration(lab)]}
    if runtime_class:
        out["runtimeClassName"] = GPU_RUNTIME_CLASS
    return out


def runtime_class(lab) -> dict:
    """The `nvidia` RuntimeClass: handler `nvidia`, the containerd runtime K3s adds when it finds
    nvidia-container-runtime on a node (docs/advanced.md; the nvidia_gpu Ansible role installs it).
    K3s >= 1.29 also creates this same class itself; homelab renders it identically, so the GPU pods and
    the device plugin never depend on that, and never prunes it."""
    return {
        "apiVersion": "node.k8s.io/v1",
        "kind": "RuntimeClass",
        "metadata": meta(GPU_RUNTIME_CLASS, wave=WAVES["operators"],
                         annotations={SYNC_OPTIONS: "Prune=false"}),
        "handler": GPU_RUNTIME_CLASS,
    }


def files(lab) -> list[RenderedFile]:
    if not lab_taints(lab):  # no GPU node
        return []
    return [yaml_file("k8s/platform/nvidia-runtimeclass.yaml", [runtime_class(lab)],
                      "The nvidia RuntimeClass the GPU workloads and the NVIDIA device plugin run with.")]
