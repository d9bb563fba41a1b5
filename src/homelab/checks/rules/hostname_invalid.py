"""A VM name is its hostname: an RFC 1123 label (lower case, digits, '-', at most 63 characters)."""

from __future__ import annotations

from homelab.checks.base import Finding, rule
from homelab.checks.rules._common import HOSTNAME_RE


@rule("hostname-invalid", "error", "VM name is not a valid hostname (RFC 1123 label)")
def check(doc):
    domain = doc.lab.network.domain
    for i, vm in enumerate(doc.lab.vms):
        if not HOSTNAME_RE.match(vm.name):
            yield Finding(("vms", i, "name"), f"VM name {vm.name!r} is not a valid hostname",
                          "use lower-case letters, digits and '-', starting and ending with a letter or digit, "
                          "at most 63 characters (e.g. kube01)")
        elif len(f"{vm.name}.{domain}") > 253:
            yield Finding(("vms", i, "name"), f"the FQDN {vm.name}.{domain} is longer than 253 characters",
                          "use a shorter name or domain")
