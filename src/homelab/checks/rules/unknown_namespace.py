"""Apps and Velero schedules must use namespaces the lab declares."""

from __future__ import annotations

from homelab.checks.base import Finding, rule
from homelab.checks.rules._common import did_you_mean, known_list


@rule("unknown-namespace", "error", "an app or backup schedule uses a namespace not in `namespaces`")
def check(doc):
    lab = doc.lab
    declared = list(lab.namespaces)
    for i, app in enumerate(lab.apps):
        if app.namespace not in declared:
            yield Finding(("apps", i, "namespace"), f"app {app.name}: namespace {app.namespace!r} is not declared",
                          did_you_mean(app.namespace, declared,
                                       f"add it to `namespaces` (declared: {known_list(declared)})"))
    # Velero may also back up the namespaces platform components live in.
    everywhere = set(declared) | {c.namespace for c in lab.platform.components().values() if c.enabled}
    if lab.gitops:
        everywhere.add(lab.gitops.argocd.namespace)
    velero = lab.backup.velero
    if velero:
        for s, sched in enumerate(velero.schedules):
            for k, ns in enumerate(sched.namespaces):
                if ns not in everywhere:
                    yield Finding(("backup", "velero", "schedules", s, "namespaces", k),
                                  f"Velero schedule {sched.name}: namespace {ns!r} is not declared",
                                  did_you_mean(ns, everywhere, "add it to `namespaces`"))
