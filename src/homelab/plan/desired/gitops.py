"""Desired GitOps resources: the ArgoCD bootstrap, one Application per platform component and app."""

from __future__ import annotations

from homelab.plan.desired.common import Builder, chart_ref, digest


def add(b: Builder, doc, vdeps: tuple[str, ...], k3s_nodes: list[str]) -> None:
    lab = doc.lab
    k3s = lab.clusters.k3s
    # --- GitOps: ArgoCD bootstrap, platform, apps ---------------------------------------------------
    if lab.gitops and k3s:
        argo = lab.gitops.argocd
        boot = b.add("argocd_bootstrap", argo.namespace, {
            "chart": chart_ref(argo.chart), "namespace": argo.namespace, "repo_url": argo.repo_url,
            "revision": argo.revision, "project": argo.project, "values_path": argo.values_path,
            "automated": argo.automated, "prune": argo.prune, "self_heal": argo.self_heal,
        }, depends_on=tuple(k3s_nodes), source=("gitops", "argocd"))
        platform_addrs = []
        for key, comp in lab.platform.components().items():
            if not comp.enabled:
                continue
            name = key.replace("_", "-")
            platform_addrs.append(b.add("argocd_app", f"platform/{name}", {
                "namespace": comp.namespace, "chart": chart_ref(comp.chart), "values_digest": digest(comp.values),
            }, depends_on=(boot,), source=("platform", key)))
        platform_addrs.sort()
        for i, app in enumerate(lab.apps):
            deps = {boot, *platform_addrs}
            if app.secrets:
                deps.update(vdeps)
            b.add("argocd_app", f"{app.namespace}/{app.name}", {
                "namespace": app.namespace, "chart": chart_ref(app.chart),
                "image": f"{app.image.repository}:{app.image.tag}" if app.image else None,
                "port": app.port, "ingress": app.ingress, "gpu": app.gpu,
                "storage_digest": digest([s.model_dump(by_alias=True, mode="json") for s in app.storage]),
                "resources_digest": digest(app.resources.model_dump(mode="json") if app.resources else None),
                "secrets": sorted(f"{s.path}#{s.field}" for s in app.secrets),
                "values_digest": digest(app.values),
            }, depends_on=tuple(sorted(deps)), source=("apps", i))
