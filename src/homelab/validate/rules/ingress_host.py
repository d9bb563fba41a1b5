"""Every Ingress host is a name inside the lab's domain, and is served over TLS (a `tls:` entry lists it)."""

from homelab.validate.base import rule
from homelab.validate.rules._common import finding


@rule("ingress-host", "warning", "an Ingress host is outside the lab's domain, or is served without TLS")
def check(ctx):
    domain = ctx.facts.domain
    for o in ctx.platform.of_kind("Ingress"):
        spec = o.obj.get("spec") or {}
        tls_hosts = {str(h) for t in spec.get("tls") or [] if isinstance(t, dict) for h in t.get("hosts") or []}
        for r in spec.get("rules") or []:
            host = str((r or {}).get("host") or "")
            if not host:
                continue
            if domain and host != domain and not host.endswith("." + domain):
                yield finding(ctx, o, f"{o.where}: host {host} is outside the lab's domain {domain}",
                              f"use a name under {domain} (network.domain)")
            if host not in tls_hosts and not any(h.startswith("*.") and host.endswith(h[1:]) for h in tls_hosts):
                yield finding(ctx, o, f"{o.where}: host {host} is served without TLS (no tls: entry lists it)",
                              "add a tls: entry for the host (the chart's ingress tls values)")
