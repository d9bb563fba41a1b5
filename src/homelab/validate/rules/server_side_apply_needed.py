"""Objects too big for client-side apply are synced with ServerSideApply.

Client-side apply (ArgoCD's default, `kubectl apply`) stores the whole object as the
`kubectl.kubernetes.io/last-applied-configuration` annotation, and the API server refuses annotations over
262,144 bytes in total (apimachinery validation.TotalAnnotationSizeLimitB): "metadata.annotations: Too long:
must have at most 262144 bytes". external-secrets 2.9.0's CRDs (clustersecretstores, secretstores) are
~690 KB each.
"""

import json

from homelab.validate.base import rule
from homelab.validate.rules._common import finding

LIMIT = 262_144


def _opts(text) -> set[str]:
    return {o.strip() for o in str(text or "").split(",") if o.strip()}


@rule("server-side-apply-needed", "error",
      "an object is over the 256 KiB last-applied annotation limit and its Application does not use ServerSideApply")
def check(ctx):
    for app in ctx.platform.apps:
        app_opts = set(app.sync_options)
        if "ServerSideApply=true" in app_opts or "Replace=true" in app_opts:
            continue
        for o in app.objects:
            annotations = (o.obj.get("metadata") or {}).get("annotations") or {}
            obj_opts = _opts(annotations.get("argocd.argoproj.io/sync-options"))
            if "ServerSideApply=true" in obj_opts or "Replace=true" in obj_opts:
                continue
            size = len(json.dumps(o.obj, separators=(",", ":"), ensure_ascii=False).encode())
            if size > LIMIT:
                yield finding(ctx, o, f"{app.name} syncs {o.where}: {size:,} bytes, over the {LIMIT:,}-byte "
                              "limit of the last-applied-configuration annotation client-side apply writes: the "
                              "sync fails (metadata.annotations: Too long)",
                              f"add ServerSideApply=true to spec.syncPolicy.syncOptions of Application {app.name}")
