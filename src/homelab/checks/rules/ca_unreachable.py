"""The CA must be reachable from where it is used: cert-manager in the cluster talks to Vault's PKI or
step-ca's ACME directory, so those need an address the cluster can reach and a name it can resolve."""

from __future__ import annotations

from homelab.checks.base import Finding, rule
from homelab.lab.certificates import cert_manager_on, is_ip, url_host
from homelab.lab.dns import fqdn, records
from homelab.lab.vault_access import EMBEDDED


@rule("ca-unreachable", "error", "the internal CA cannot be reached from where it is used")
def check(doc):
    lab = doc.lab
    pki = lab.pki
    if not cert_manager_on(lab):
        return
    if pki.ca == "vault":
        host = url_host(lab.vault.address)
        if lab.vault.address == EMBEDDED or host in ("127.0.0.1", "localhost", "::1"):
            yield Finding(("vault", "address"), "cert-manager's Vault issuer runs in the cluster, but Vault is "
                          f"{lab.vault.address!r}: only this machine can reach it",
                          "give vault.address the URL of a Vault the cluster reaches, or use ca: step-ca")
        return
    step = pki.step_ca
    host = url_host(step.url) if step else None
    if not host or is_ip(host):
        return
    known = {r.name for r in records(lab, doc.inventory) if r.ip}
    if fqdn(lab, host) not in known:
        yield Finding(("pki", "step_ca", "url"), f"cert-manager reaches step-ca at {host}, but no DNS record of the "
                      "lab resolves it", "set pki.step_ca.host to the VM that runs it, or declare it in network.hosts")
