"""ArgoCD Application status as plan facts (argoproj.io/v1alpha1, `.status`).

An Application reports `status.sync.status` (Synced | OutOfSync | Unknown), `status.health.status`
(Healthy | Suspended | Progressing | Missing | Degraded | Unknown), the synced revision
(`status.sync.revision`, or the first of `status.sync.revisions` for a multi-source Application) and the
phase of the last operation (`status.operationState.phase`). One address rendered as several Applications
reports the worst sync and the worst health of them, in ArgoCD's own health order (`healthOrder` of
gitops-engine: Healthy < Suspended < Progressing < Missing < Degraded < Unknown).
"""

from __future__ import annotations

ARGOCD_GROUP = "argoproj.io"
ARGOCD_VERSION = "v1alpha1"
ARGOCD_API_VERSION = f"{ARGOCD_GROUP}/{ARGOCD_VERSION}"

SYNC_ORDER = ("Synced", "OutOfSync", "Unknown")
HEALTH_ORDER = ("Healthy", "Suspended", "Progressing", "Missing", "Degraded", "Unknown")  # ArgoCD's healthOrder


def worst_facts(facts: list[dict]) -> dict:
    """One address, several Applications: the first one's facts with the worst sync and health."""
    out = dict(facts[0])
    for key, order in (("sync", SYNC_ORDER), ("health", HEALTH_ORDER)):
        values = [f.get(key, "Unknown") for f in facts]
        out[key] = max(values, key=lambda v: order.index(v) if v in order else len(order))
    return out


def application_facts(app: dict) -> dict:
    """{namespace, sync, health, revision, operation} of an ArgoCD Application (absent keys omitted)."""
    status = app.get("status") or {}
    spec = app.get("spec") or {}
    sync = status.get("sync") or {}
    out = {
        "sync": sync.get("status") or "Unknown",
        "health": (status.get("health") or {}).get("status") or "Unknown",
    }
    revision = sync.get("revision") or (sync.get("revisions") or [None])[0]
    if revision:
        out["revision"] = revision
    dest_ns = (spec.get("destination") or {}).get("namespace")
    if dest_ns:
        out["namespace"] = dest_ns
    phase = (status.get("operationState") or {}).get("phase")
    if phase:
        out["operation"] = phase
    return out
