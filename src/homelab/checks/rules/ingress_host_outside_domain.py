"""An app's ingress host must be a valid name inside network.domain (DNS and certificates cover only that)."""

from __future__ import annotations

import re

from homelab.checks.base import Finding, rule

_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")


@rule("ingress-host-outside-domain", "error", "ingress host is not a valid name inside network.domain")
def check(doc):
    domain = doc.lab.network.domain.lower()
    for i, app in enumerate(doc.lab.apps):
        host = app.ingress
        if host is None:
            continue
        labels = host.split(".")
        if not all(_LABEL.match(lb) for lb in labels) or len(host) > 253:
            yield Finding(("apps", i, "ingress"), f"app {app.name}: ingress host {host!r} is not a valid host name",
                          f"use lower-case DNS labels, e.g. {app.name}.{domain}")
        elif not host.endswith("." + domain):
            yield Finding(("apps", i, "ingress"),
                          f"app {app.name}: ingress host {host} is outside the lab domain {domain}",
                          f"use a name below {domain}, e.g. {app.name}.{domain}")
