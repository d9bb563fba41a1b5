"""What Argo CD's application controller writes to an Application, for tests against the Kubernetes fake.

Shapes: argo-cd `pkg/apis/application/v1alpha1/types.go` (ApplicationStatus, SyncStatus, ComparedTo,
HealthStatus, OperationState) and the CRD the chart installs (fakes/argocd_crds.py, `status.sync`:
`revision` | `revisions[]`, `comparedTo.source` | `comparedTo.sources[]`):

- a single-source Application (`spec.source`) reports `status.sync.revision`;
- a multi-source Application (`spec.sources`, as every Application homelab renders: the chart and the
  `ref: values` repository) reports `status.sync.revisions`, one per source in `spec.sources` order, and no
  `revision`.

The controller writes status with an Update of the object (the CRD has no status subresource), as
`argocd-application-controller`; when an Application with `resources-finalizer.argocd.argoproj.io` is
deleted it removes the app's resources and then that finalizer (`finish_deletion`).
"""

from __future__ import annotations

ARGO = "argoproj.io/v1alpha1"
RESOURCES_FINALIZER = "resources-finalizer.argocd.argoproj.io"


def sync_status(app: dict, sync: str, health: str, revisions, operation: str | None = None) -> dict:
    """The `.status` the controller writes for `app` (revisions: one per source; a str for one source)."""
    spec = app.get("spec") or {}
    revs = [revisions] if isinstance(revisions, str) else list(revisions)
    if spec.get("sources"):
        assert len(revs) == len(spec["sources"]), "a multi-source Application has one revision per source"
        sync_block = {"status": sync, "revisions": revs,
                      "comparedTo": {"sources": spec["sources"], "destination": spec.get("destination")}}
    else:
        assert len(revs) == 1, "a single-source Application has one revision"
        sync_block = {"status": sync, "revision": revs[0],
                      "comparedTo": {"source": spec.get("source"), "destination": spec.get("destination")}}
    status = {"sync": sync_block, "health": {"status": health}, "sourceType": "Helm"}
    if operation:  # the CRD requires operation and startedAt in an operationState
        key = "revisions" if len(revs) > 1 or spec.get("sources") else "revision"
        status["operationState"] = {"phase": operation, "startedAt": "2026-01-01T00:00:00Z",
                                    "operation": {"sync": {key: revs if key == "revisions" else revs[0]}}}
    return status


def report(fake, name: str, sync: str, health: str, revisions, *, namespace: str = "argocd",
           operation: str | None = None) -> dict:
    """Write, as the controller, the status of the Application `name` as it is in the fake now."""
    app = fake.get_object(ARGO, "Application", name, namespace)
    assert app is not None, f"no Application {namespace}/{name} to report on"
    status = sync_status(app, sync, health, revisions, operation)
    fake.set_status(ARGO, "Application", name, namespace, status)
    return status


def finish_deletion(fake, name: str, namespace: str = "argocd") -> None:
    """The controller has removed the app's resources: it drops its finalizer and the Application goes."""
    fake.remove_finalizer(ARGO, "Application", name, namespace, RESOURCES_FINALIZER)
