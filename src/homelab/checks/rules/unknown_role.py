"""A VM's role must be a built-in role or one defined under `roles`."""

from __future__ import annotations

from homelab.checks.base import Finding, rule
from homelab.checks.rules._common import did_you_mean, known_list
from homelab.lab.resolve import effective_roles


@rule("unknown-role", "error", "VM role is neither built in nor defined under `roles`")
def check(doc):
    roles = effective_roles(doc.lab)
    for i, vm in enumerate(doc.lab.vms):
        if vm.role not in roles:
            yield Finding(("vms", i, "role"), f"VM {vm.name}: unknown role {vm.role!r}",
                          did_you_mean(vm.role, roles, f"known roles: {known_list(roles)}; or define it under `roles`"))
