"""App names are unique in the lab: each names an ArgoCD Application, and every Application lives in
ArgoCD's own namespace whatever namespace the app deploys to. The names of the platform's Applications
(the enabled platform components, `argocd` itself and the `root` app of apps) are taken too."""

from __future__ import annotations

from homelab.checks.base import Finding, rule


def _platform_names(lab) -> set[str]:
    if lab.gitops is None:
        return set()
    names = {"root", "argocd"}
    for key, comp in lab.platform.components().items():
        if comp.enabled:
            name = key.replace("_", "-")
            names.add(name)
            if key == "democratic_csi":  # one release per storage protocol
                names.update({"democratic-csi-iscsi", "democratic-csi-nfs"})
    return names


@rule("app-duplicate", "error", "two apps with the same name, or an app named like a platform Application")
def check(doc):
    lab = doc.lab
    taken = _platform_names(lab)
    first: dict[str, int] = {}
    for i, app in enumerate(lab.apps):
        if app.name in first:
            other = lab.apps[first[app.name]]
            where = (f"in namespace {app.namespace}" if other.namespace == app.namespace
                     else f"(also in namespace {other.namespace}; ArgoCD Applications share the argocd namespace)")
            yield Finding(("apps", i, "name"), f"app {app.name} is defined twice {where}",
                          f"merge it with apps[{first[app.name]}] or rename one")
        elif app.name in taken:
            yield Finding(("apps", i, "name"),
                          f"app {app.name} has the name of a platform ArgoCD Application",
                          f"rename it (e.g. {app.name}-app); taken: {', '.join(sorted(taken))}")
        else:
            first[app.name] = i
