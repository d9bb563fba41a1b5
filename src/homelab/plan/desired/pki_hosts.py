"""Desired PKI state of every VM (hosts layer, applied by playbooks/pki.yml): `host_pki.<vm>`, the lab's
root in its trust store, its certificates (names and SANs, lab/certificates.py) with their renewal timers,
and step-ca on the CA host. Depends on the host baseline and on the Vault layer (the CA and its roles);
a new machine gets it again (rebuilt with `host.<vm>`)."""

from __future__ import annotations

import hashlib

from homelab.lab.certificates import certificates
from homelab.plan.desired.common import Builder, address


def add(b: Builder, doc, vdeps: tuple[str, ...]) -> None:
    lab, inv = doc.lab, doc.inventory
    root = lab.pki.root_ca
    root_sha = hashlib.sha256(root.strip().encode()).hexdigest() if root else None
    by_host: dict[str, dict[str, list[str]]] = {}
    for cert in certificates(lab, inv).certificates:
        by_host.setdefault(cert.host, {})[cert.name] = list(cert.sans)
    step = lab.pki.step_ca
    for vm in sorted(inv.vms, key=lambda x: x.name):
        host = address("host", vm.name)
        b.add("host_pki", vm.name, {
            "root_sha256": root_sha, "certificates": by_host.get(vm.name, {}),
            "step_ca": bool(lab.pki.ca == "step-ca" and step and step.host == vm.name),
        }, depends_on=tuple(sorted({host, *vdeps})), rebuild_with=(host,), source=("vms", vm.index))
