"""Two VMs must not have the same name (hostnames are case-insensitive)."""

from __future__ import annotations

from homelab.checks.base import Finding, rule


@rule("hostname-duplicate", "error", "two VMs have the same name")
def check(doc):
    first: dict[str, int] = {}
    for i, vm in enumerate(doc.lab.vms):
        key = vm.name.lower()
        if key in first:
            yield Finding(("vms", i, "name"), f"VM name {vm.name!r} is already used by vms[{first[key]}]",
                          "VM names are hostnames and must be unique; rename one of them")
        else:
            first[key] = i
