"""ArgoCD Application status as plan facts (argoproj.io/v1alpha1, `.status`).

An Application reports `status.sync.status` (Synced | OutOfSync | Unknown), `status.health.status`
(Healthy | Suspended | Progressing | Missing | Degraded | Unknown), the synced revision — `status.sync.revision`
for a single-source Application, `status.sync.revisions` (one per source, in `spec.sources` order) for a
multi-source one, as every rendered Application is (argo-cd `pkg/apis/application/v1alpha1/types.go`
SyncStatus) — and the phase of the last operation (`status.operationState.phase`). One address rendered as
several Applications reports the worst sync and the worst health of them, in ArgoCD's own health order
(`healthOrder` of gitops-engine: Healthy < Suspended < Progressing < Missing < Degraded < Unknown).

An Application being deleted (`metadata.deletionTimestamp` set: ArgoCD's
`resources-finalizer.argocd.argoproj.io` holds it while the app's resources are removed) reports
`deleting` (that time) and its `finalizers`; its sync/health then say nothing about what homelab wants.
"""

from __future__ import annotations

ARGOCD_GROUP = "argoproj.io"
ARGOCD_VERSION = "v1alpha1"
ARGOCD_API_VERSION = f"{ARGOCD_GROUP}/{ARGOCD_VERSION}"

SYNC_ORDER = ("Synced", "OutOfSync", "Unknown")
HEALTH_ORDER = ("Healthy", "Suspended", "Progressing", "Missing", "Degraded", "Unknown")  # ArgoCD's healthOrder


def deletion_facts(obj: dict) -> dict:
    """{deleting, finalizers} of an object the API server is deleting; {} for one that is not."""
    meta = obj.get("metadata") or {}
    if not meta.get("deletionTimestamp"):
        return {}
    out = {"deleting": meta["deletionTimestamp"]}
    if meta.get("finalizers"):
        out["finalizers"] = list(meta["finalizers"])
    return out


def worst_facts(facts: list[dict]) -> dict:
    """One address, several Applications: the first one's facts with the worst sync and health (and being
    deleted when any of them is)."""
    out = dict(facts[0])
    for f in facts:
        if f.get("deleting") and not out.get("deleting"):
            out.update({k: f[k] for k in ("deleting", "finalizers") if k in f})
    for key, order in (("sync", SYNC_ORDER), ("health", HEALTH_ORDER)):
        values = [f.get(key, "Unknown") for f in facts]
        out[key] = max(values, key=lambda v: order.index(v) if v in order else len(order))
    return out


def application_facts(app: dict) -> dict:
    """{namespace, sync, health, revision | revisions, operation, deleting, finalizers} of an ArgoCD
    Application (absent keys omitted)."""
    status = app.get("status") or {}
    spec = app.get("spec") or {}
    sync = status.get("sync") or {}
    out = {
        "sync": sync.get("status") or "Unknown",
        "health": (status.get("health") or {}).get("status") or "Unknown",
    }
    if sync.get("revisions"):
        out["revisions"] = [str(r) for r in sync["revisions"]]
    elif sync.get("revision"):
        out["revision"] = sync["revision"]
    dest_ns = (spec.get("destination") or {}).get("namespace")
    if dest_ns:
        out["namespace"] = dest_ns
    phase = (status.get("operationState") or {}).get("phase")
    if phase:
        out["operation"] = phase
    out.update(deletion_facts(app))
    return out
