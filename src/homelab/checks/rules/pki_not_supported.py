"""pki.cert_manager and pki.letsencrypt are accepted by the schema but homelab does nothing with them yet."""

from __future__ import annotations

from homelab.checks.base import Finding, rule
from homelab.diagnostics import Severity

WHY = "homelab issues no certificates through it yet (planned: issue 13, the internal CA and cert-manager)"


@rule("pki-not-supported", "error", "pki.cert_manager / pki.letsencrypt are set but not supported yet")
def check(doc):
    pki = doc.lab.pki
    if "pki" not in doc.lab.model_fields_set:
        return
    for section, model in (("cert_manager", pki.cert_manager), ("letsencrypt", pki.letsencrypt)):
        if section not in pki.model_fields_set:
            continue
        if model.enabled:
            hint = ("remove it (or set enabled: false); to deploy the cert-manager chart itself, enable "
                    "platform.cert_manager" if section == "cert_manager" else
                    "remove it (or set enabled: false); serve Let's Encrypt certificates from your reverse proxy "
                    "for now")
            yield Finding(("pki", section, "enabled"), f"pki.{section} is enabled, but {WHY}", hint)
        for name in sorted(model.model_fields_set - {"enabled"}):
            yield Finding(("pki", section, name), f"pki.{section}.{name} has no effect: {WHY}",
                          f"remove pki.{section}.{name}", key=True, severity=Severity.WARNING)
