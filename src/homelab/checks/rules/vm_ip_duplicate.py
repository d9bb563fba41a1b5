"""Two VMs must not share an address; a VM should not take a DNS server's address."""

from __future__ import annotations

from homelab.checks.base import Finding, rule
from homelab.diagnostics import Severity


@rule("vm-ip-duplicate", "error", "two VMs share an address, or a VM has a DNS server's address")
def check(doc):
    lab = doc.lab
    first: dict[str, str] = {}
    for i, vm in enumerate(lab.vms):
        if not vm.ip:
            continue
        if vm.ip in first:
            yield Finding(("vms", i, "ip"), f"VM {vm.name}: address {vm.ip} is already used by VM {first[vm.ip]}",
                          "give each VM its own address, or remove `ip:` to allocate a free one")
        else:
            first[vm.ip] = vm.name
    dns = set(lab.network.dns)
    for i, vm in enumerate(lab.vms):
        if vm.ip and vm.ip in dns:
            yield Finding(("vms", i, "ip"), f"VM {vm.name}: address {vm.ip} is listed as a DNS server in network.dns",
                          "fine only if this VM is that DNS server; otherwise pick another address",
                          severity=Severity.WARNING)
