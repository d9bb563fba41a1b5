"""Helpers the validate rules share."""

from __future__ import annotations

from homelab.validate.base import Finding


def finding(ctx, o, message: str, hint: str | None = None, **kw) -> Finding:
    """A finding about object `o`: at its document, or at its Application's `chart:` line."""
    return Finding(o.file, o.line, message, hint, lab=ctx.lab_path_for_app(o.app), **kw)


def app_finding(ctx, app, line: int, message: str, hint: str | None = None, **kw) -> Finding:
    return Finding(app.doc.file, line, message, hint, lab=ctx.lab_path_for_app(app), **kw)


def pod_spec(obj: dict) -> dict | None:
    """The pod spec of a workload (Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, CronJob)."""
    kind = obj.get("kind")
    spec = obj.get("spec") or {}
    if kind == "Pod":
        return spec
    if kind == "CronJob":
        return (((spec.get("jobTemplate") or {}).get("spec") or {}).get("template") or {}).get("spec")
    if kind in ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "ReplicationController"):
        return (spec.get("template") or {}).get("spec")
    return None


def replicas(obj: dict) -> int:
    if obj.get("kind") in ("Deployment", "StatefulSet", "ReplicaSet", "ReplicationController"):
        r = (obj.get("spec") or {}).get("replicas")
        return int(r) if isinstance(r, int) else 1
    return 1


def cached_errors(ctx, tag: str, objs: list, compute) -> dict[int, list[str]]:
    """{index: errors} of `compute(obj)` over `objs`, cached on disk per group of objects (by their content):
    a warm run does not validate again what it validated before."""
    from homelab.charts.template import key_of

    groups: dict[tuple, list[int]] = {}
    for i, o in enumerate(objs):
        groups.setdefault((o.file, o.app.name if o.app else "", o.template is not None), []).append(i)
    out: dict[int, list[str]] = {}
    for members in groups.values():
        # named by what the objects were made from (file hash / templating key) and the namespace ArgoCD
        # gives them; objects without a source are named by their content
        names = [(objs[i].source, objs[i].namespace) if objs[i].source else objs[i].obj for i in members]
        key = key_of(tag, names)
        hit = ctx.template_cache.get(key)
        if hit is None:
            errors = {str(n): e for n, i in enumerate(members) if (e := compute(objs[i]))}
            ctx.template_cache.put(key, errors)
            hit = errors
        for n, e in hit.items():
            out[members[int(n)]] = e
    return out
