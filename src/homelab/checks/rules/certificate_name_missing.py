"""Every TLS listener must be covered by its certificate: the name (or address) clients connect to is
one of the certificate's subject alternative names."""

from __future__ import annotations

import re

from homelab.checks.base import Finding, rule
from homelab.lab.certificates import certificates, is_ip

_DNS = re.compile(r"^(\*\.)?[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$")


@rule("certificate-name-missing", "error", "a certificate does not carry a name its clients connect to")
def check(doc):
    plan = certificates(doc.lab, doc.inventory)
    by_name = plan.by_name()
    for cert in plan.certificates:
        if not cert.explicit:
            continue
        for j, san in enumerate(cert.sans):
            if not is_ip(san) and not _DNS.match(san):
                yield Finding((*cert.source, "sans", j), f"certificate {cert.name}: {san!r} is neither a DNS name "
                              "nor an IP address", "write a lower-case DNS name or an address")
        hosts = {h.name.split(".")[0] for h in doc.lab.network.hosts}
        if cert.host not in doc.inventory.by_name and cert.host not in hosts:
            yield Finding(cert.source, f"certificate {cert.name}: host {cert.host} is neither a VM nor one of "
                          "network.hosts", "set host: to the VM (or the network host) the certificate is for")
    for listener in plan.listeners:
        cert = by_name.get(listener.certificate)
        if cert is None or listener.name.lower() in {s.lower() for s in cert.sans}:
            continue
        yield Finding(cert.source if cert.explicit else listener.source,
                      f"certificate {cert.name} does not name {listener.name} ({listener.why}): clients "
                      "connecting by it refuse the certificate",
                      f"add {listener.name} to its sans")
