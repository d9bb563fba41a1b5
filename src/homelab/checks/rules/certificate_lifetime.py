"""Certificate lifetimes and renewal windows must make sense: renewal starts well before expiry, and
nothing outlives the CA that signs it."""

from __future__ import annotations

from homelab.checks.base import Finding, rule
from homelab.lab.certificates import duration_seconds

DAY = 86400
TIMER = DAY  # the renewal timer runs daily (pki_client role)


def _h(seconds: int) -> str:
    return f"{seconds // 3600}h" if seconds % 3600 == 0 else f"{seconds}s"


@rule("certificate-lifetime", "error", "certificate lifetimes or renewal windows are not sane")
def check(doc):
    pki = doc.lab.pki
    ttl, renew = duration_seconds(pki.certificate_ttl), duration_seconds(pki.renew_before)
    inter, root = duration_seconds(pki.vault.intermediate_ttl), duration_seconds(pki.vault.root_ttl)
    if renew >= ttl:
        yield Finding(("pki", "renew_before"), f"renew_before {pki.renew_before} is not shorter than "
                      f"certificate_ttl {pki.certificate_ttl}: every certificate would be renewed at once, forever",
                      "renew when about a third of the lifetime is left, e.g. 240h of 720h")
    elif renew < 2 * TIMER:
        yield Finding(("pki", "renew_before"), f"renew_before {pki.renew_before} leaves the daily renewal timer "
                      "less than two tries before a certificate expires",
                      "give it at least 48h (a third of certificate_ttl is usual)")
    if ttl < 3 * DAY:
        yield Finding(("pki", "certificate_ttl"), f"certificate_ttl {pki.certificate_ttl} is shorter than 3 days: "
                      "a renewal missed for a weekend takes services down", "use days or weeks, e.g. 720h")
    if ttl > inter:
        yield Finding(("pki", "certificate_ttl"), f"certificate_ttl {pki.certificate_ttl} is longer than the "
                      f"intermediate's {_h(inter)}: Vault cuts certificates at the issuer's expiry",
                      "shorten certificate_ttl or lengthen pki.vault.intermediate_ttl")
    if inter > root:
        yield Finding(("pki", "vault", "intermediate_ttl"), f"the intermediate ({pki.vault.intermediate_ttl}) "
                      f"would outlive the root ({pki.vault.root_ttl})", "keep the intermediate shorter than the root")
