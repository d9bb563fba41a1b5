"""The GPUs the workloads request fit the GPUs the nodes have.

`nvidia.com/gpu` is an extended resource: a container's limit is its request, and a GPU is given to one
container only — unless the NVIDIA device plugin shares it by time-slicing (k8s-device-plugin
config: `sharing.timeSlicing.resources[{name: nvidia.com/gpu, replicas: N}]`, which advertises N per GPU).
A pod whose request does not fit stays Pending (Insufficient nvidia.com/gpu).
"""

import yaml

from homelab.validate.base import rule
from homelab.validate.rules._common import finding, pod_spec, replicas

RESOURCE = "nvidia.com/gpu"


def _request(spec: dict) -> int:
    total = 0
    for c in spec.get("containers") or []:
        res = c.get("resources") or {}
        value = (res.get("limits") or {}).get(RESOURCE, (res.get("requests") or {}).get(RESOURCE, 0))
        try:
            total += int(value)
        except (TypeError, ValueError):
            continue
    return total


def time_slicing(platform) -> int:
    """The replicas per GPU the device plugin's config advertises (1 = no sharing)."""
    best = 1
    for o in platform.of_kind("ConfigMap"):
        for text in ((o.obj.get("data") or {}).values()):
            if "timeSlicing" not in str(text):
                continue
            try:
                cfg = yaml.safe_load(str(text)) or {}
            except yaml.YAMLError:
                continue
            for r in (((cfg.get("sharing") or {}).get("timeSlicing") or {}).get("resources") or []):
                if isinstance(r, dict) and r.get("name") == RESOURCE and isinstance(r.get("replicas"), int):
                    best = max(best, r["replicas"])
    return best


@rule("gpu-capacity", "error", "the workloads request more nvidia.com/gpu than the GPU nodes advertise")
def check(ctx):
    demand = []
    for o in ctx.platform.objects:
        if o.kind == "DaemonSet":
            continue
        spec = pod_spec(o.obj)
        n = _request(spec) * replicas(o.obj) if spec else 0
        if n:
            demand.append((o, n))
    if not demand:
        return
    gpus = sum(n.gpus for n in ctx.facts.nodes)
    shares = time_slicing(ctx.platform)
    capacity = gpus * shares
    total = sum(n for _, n in demand)
    if total <= capacity:
        return
    names = ", ".join(f"{o.app.name if o.app else o.ident} ({n})" for o, n in demand)
    sharing = f" shared {shares} ways by time-slicing" if shares > 1 else " and no time-slicing"
    for o, n in demand:
        yield finding(ctx, o, f"{o.where} requests {n} {RESOURCE}; together the workloads request {total} ({names}) "
                      f"but the cluster has {gpus} GPU(s){sharing}: at least one stays Pending",
                      "configure time-slicing in the NVIDIA device plugin (replicas per GPU), add a GPU, or run "
                      "fewer GPU apps")
