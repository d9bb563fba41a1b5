"""A VM of a standard role should get at least the seed's Resource Allocation Standards."""

from __future__ import annotations

from homelab.checks.base import Finding, rule
from homelab.lab.models.roles import standard_minimum
from homelab.lab.types import format_size


def _short(kind: str, value: int, minimum: int) -> str | None:
    if value >= minimum:
        return None
    if kind == "cores":
        return f"{value} cores < {minimum}"
    return f"{kind} {format_size(value)} < {format_size(minimum)}"


@rule("role-below-standard", "warning", "VM or role below the seed's resource standard for its role")
def check(doc):
    lab = doc.lab
    for role_name, role in lab.roles.items():
        std = standard_minimum(role_name)
        if std is None:
            continue
        for kind in ("cores", "memory", "disk"):
            why = _short(kind, getattr(role, kind), getattr(std, kind))
            if why:
                yield Finding(("roles", role_name, kind), f"role {role_name}: {why} (the standard)",
                              "raise it to the standard, or use your own role name for smaller VMs")
    for i, vm in enumerate(lab.vms):
        std = standard_minimum(vm.role)
        if std is None:
            continue
        for kind in ("cores", "memory", "disk"):
            value = getattr(vm, kind)
            if value is None:
                continue
            why = _short(kind, value, getattr(std, kind))
            if why:
                yield Finding(("vms", i, kind), f"VM {vm.name} ({vm.role}): {why} (the standard)",
                              f"remove the override to get the {vm.role} standard, or raise it")
