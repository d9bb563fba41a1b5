"""Each ingress host routes to one app: two apps with the same host would fight over the route."""

from __future__ import annotations

from homelab.checks.base import Finding, rule


@rule("ingress-host-duplicate", "error", "an ingress host is used by two apps")
def check(doc):
    first: dict[str, str] = {}
    for i, app in enumerate(doc.lab.apps):
        if app.ingress is None:
            continue
        host = app.ingress.lower()
        if host in first:
            yield Finding(("apps", i, "ingress"),
                          f"app {app.name}: ingress host {app.ingress} is already used by app {first[host]}",
                          "give each app its own host name")
        else:
            first[host] = app.name
