"""A certificate must come from an issuer the lab has: the internal CA (`internal`, or the cert-manager
ClusterIssuer of it) or the Let's Encrypt ClusterIssuer when pki.letsencrypt is enabled."""

from __future__ import annotations

from homelab.checks.base import Finding, rule
from homelab.lab.certificates import INTERNAL, cert_manager_on, issuers

ANNOTATIONS = ("cert-manager.io/cluster-issuer", "cert-manager.io/issuer")


def _annotations(values, path):
    if isinstance(values, dict):
        for key, value in values.items():
            if key in ANNOTATIONS and isinstance(value, str):
                yield (*path, key), value
            else:
                yield from _annotations(value, (*path, key))
    elif isinstance(values, list):
        for i, item in enumerate(values):
            yield from _annotations(item, (*path, i))


@rule("certificate-issuer-unknown", "error", "a certificate names an issuer that does not exist")
def check(doc):
    lab = doc.lab
    pki = lab.pki
    if pki.ca == "step-ca" and pki.step_ca is None:
        yield Finding(("pki", "ca"), "pki.ca is step-ca but pki.step_ca is not set: there is no step-ca to issue",
                      "describe it (pki.step_ca: {url, host}) or use ca: vault")
    for i, cert in enumerate(pki.certificates):
        if cert.issuer != INTERNAL:
            yield Finding(("pki", "certificates", i, "issuer"), f"certificate {cert.name}: issuer {cert.issuer!r} "
                          "does not exist; host certificates come from the lab's CA", "write issuer: internal")
    le = pki.letsencrypt
    if le.hosts and not (le.enabled and cert_manager_on(lab)):
        why = "pki.letsencrypt is disabled" if not le.enabled else "cert-manager is disabled"
        yield Finding(("pki", "letsencrypt", "hosts"), f"these hosts want the Let's Encrypt issuer, but {why}",
                      "enable pki.letsencrypt and pki.cert_manager, or drop the hosts")
    if le.enabled and cert_manager_on(lab) and (not le.email or le.dns01 is None):
        missing = "an email" if not le.email else "a DNS-01 solver (dns01)"
        yield Finding(("pki", "letsencrypt"), f"the Let's Encrypt issuer cannot be made without {missing}",
                      "set pki.letsencrypt.email and pki.letsencrypt.dns01")
    known = set(issuers(lab))
    sources = [(("apps", i, "values"), app.values) for i, app in enumerate(lab.apps)]
    sources += [(("platform", n, "values"), c.values) for n, c in lab.platform.components().items() if c.enabled]
    for base, values in sources:
        for path, name in _annotations(values, base):
            if name not in known:
                yield Finding(path, f"issuer {name!r} does not exist (the lab renders "
                              f"{', '.join(sorted(known)) or 'no issuer: cert-manager is off'})",
                              "name one of the lab's issuers, or enable cert-manager")
