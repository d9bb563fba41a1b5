"""Every Helm chart (apps, enabled platform components, ArgoCD) must be pinned to one exact version."""

from __future__ import annotations

import re

from homelab.checks.base import Finding, rule

EXACT = re.compile(r"^v?\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$")


def charts(lab):
    for i, app in enumerate(lab.apps):
        yield f"app {app.name}", ("apps", i, "chart"), app.chart
    for name, comp in lab.platform.components().items():
        if comp.enabled:
            yield f"platform component {name}", ("platform", name, "chart"), comp.chart
    if lab.gitops:
        yield "ArgoCD", ("gitops", "argocd", "chart"), lab.gitops.argocd.chart


@rule("chart-unpinned", "error", "a Helm chart has no exact version (missing, a range, or latest)")
def check(doc):
    for label, path, chart in charts(doc.lab):
        version = chart.version
        if version is None:
            yield Finding(path, f"{label}: chart {chart.name} has no version",
                          "pin the exact chart version, e.g. `version: 4.1.1`")
        elif not EXACT.match(version.strip()):
            yield Finding(path + ("version",), f"{label}: chart version {version!r} is not an exact version",
                          "pin one release (e.g. 4.1.1), not a range or `latest`: renders must be reproducible")
