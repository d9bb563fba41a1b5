"""App names are unique within a namespace (they name Kubernetes objects and ArgoCD applications)."""

from __future__ import annotations

from homelab.checks.base import Finding, rule


@rule("app-duplicate", "error", "two apps with the same name in one namespace")
def check(doc):
    first: dict[tuple[str, str], int] = {}
    for i, app in enumerate(doc.lab.apps):
        key = (app.namespace, app.name)
        if key in first:
            yield Finding(("apps", i, "name"), f"app {app.name} is defined twice in namespace {app.namespace}",
                          f"merge it with apps[{first[key]}] or rename one")
        else:
            first[key] = i
