"""Every object an Application syncs is allowed by its AppProject: namespaces in `destinations`,
cluster-scoped kinds in `clusterResourceWhitelist`, repositories in `sourceRepos`.

ArgoCD (util/argo and pkg/apis/application/v1alpha1 AppProject.IsDestinationPermitted,
IsGroupKindPermitted, IsSourcePermitted): globs match (`*`), a `!` entry denies; an empty
clusterResourceWhitelist permits no cluster-scoped object; a resource that is not permitted fails the whole
sync of the Application ("resource X is not permitted in project Y").
"""

import fnmatch

from homelab.validate.base import rule
from homelab.validate.rules._common import app_finding


def _glob(pattern: str, value: str) -> bool:
    return fnmatch.fnmatchcase(value, pattern or "")


def _permitted(entries: list, value: str) -> bool:
    allow = [e for e in entries if not str(e).startswith("!")]
    deny = [str(e)[1:] for e in entries if str(e).startswith("!")]
    return any(_glob(str(e), value) for e in allow) and not any(_glob(d, value) for d in deny)


def _dest_ok(spec: dict, server: str, namespace: str) -> bool:
    dests = spec.get("destinations") or []
    ok = [d for d in dests if _glob(str(d.get("server") or d.get("name") or "*"), server)]
    return _permitted([str(d.get("namespace", "")) for d in ok], namespace)


def _gk_ok(entries: list, group: str, kind: str) -> bool:
    return any(_glob(str(e.get("group", "")), group) and _glob(str(e.get("kind", "")), kind) for e in entries or [])


def _check_app(ctx, app, spec: dict):
    denied_ns: dict[str, list] = {}
    denied_gk: dict[tuple, list] = {}
    for o in app.objects:
        if ctx.platform.namespaced(o):
            ns = o.namespace or app.namespace
            if not _dest_ok(spec, app.server, ns) or _gk_ok(spec.get("namespaceResourceBlacklist"), o.group, o.kind):
                denied_ns.setdefault(ns, []).append(o)
        elif not _gk_ok(spec.get("clusterResourceWhitelist"), o.group, o.kind) or \
                _gk_ok(spec.get("clusterResourceBlacklist"), o.group, o.kind):
            denied_gk.setdefault((o.group, o.kind), []).append(o)
    for ns, objs in sorted(denied_ns.items()):
        o = objs[0]
        more = f" and {len(objs) - 1} more" if len(objs) > 1 else ""
        yield app_finding(ctx, app, o.line, f"{app.name} syncs {o.where}{more} into namespace {ns}, which project "
                          f"{app.project} does not allow: ArgoCD refuses the whole Application",
                          f"add namespace {ns} to the destinations of AppProject {app.project} (or stop the chart "
                          "from creating objects there)")
    for (group, kind), objs in sorted(denied_gk.items()):
        o = objs[0]
        more = f" and {len(objs) - 1} more" if len(objs) > 1 else ""
        yield app_finding(ctx, app, o.line, f"{app.name} syncs the cluster-scoped {o.where}{more}, which project "
                          f"{app.project} does not allow ({group or 'core'}/{kind} is not in its "
                          "clusterResourceWhitelist)", f"add {{group: '{group}', kind: {kind}}} to the "
                          f"clusterResourceWhitelist of AppProject {app.project}")


@rule("appproject-permissions", "error",
      "an Application syncs an object (namespace, cluster-scoped kind, repository) its AppProject does not permit")
def check(ctx):
    platform = ctx.platform
    for app in platform.apps:
        if app.project == "default" and "default" not in platform.projects:
            continue  # ArgoCD's built-in default project permits everything
        project = platform.projects.get(app.project)
        if project is None:
            yield app_finding(ctx, app, app.doc.line_of(("spec", "project")),
                              f"{app.name}: AppProject {app.project} is not in the repository",
                              "render the projects (k8s/bootstrap/projects.yaml) or name an existing project")
            continue
        spec = project.obj.get("spec") or {}
        for run in app.charts:
            if not _permitted([str(r) for r in spec.get("sourceRepos") or []], run.source.repo):
                yield app_finding(ctx, app, run.line, f"{app.name}: repository {run.source.repo} is not in the "
                                  f"sourceRepos of AppProject {app.project}",
                                  f"add it to AppProject {app.project}")
        if app.namespace and not _dest_ok(spec, app.server, app.namespace):
            yield app_finding(ctx, app, app.doc.line_of(("spec", "destination", "namespace")),
                              f"{app.name}: destination namespace {app.namespace} is not allowed by AppProject "
                              f"{app.project}", f"add it to the destinations of AppProject {app.project}")
        yield from _check_app(ctx, app, spec)
