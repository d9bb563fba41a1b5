"""No VM can be smaller than what an Ubuntu cloud-init image needs to boot (any role)."""

from __future__ import annotations

from homelab.checks.base import Finding, rule
from homelab.lab.types import GIB, MIB, format_size

# Absolute floors, whatever the role: below them the Ubuntu cloud image does not boot (or cannot finish
# cloud-init and the package installs of the baseline). Cores >= 1 is enforced by the model itself.
MINIMUM = {"memory": 512 * MIB, "disk": 8 * GIB}
WHY = {"memory": "the kernel, cloud-init and the guest agent need at least 512MiB",
       "disk": "the Ubuntu cloud image alone is ~3.5GiB; with packages and logs it needs at least 8GiB"}


@rule("vm-below-minimum", "error", "a VM (or role) has less memory or disk than any VM can boot with")
def check(doc):
    lab = doc.lab
    for role_name, role in lab.roles.items():
        for kind, floor in MINIMUM.items():
            value = getattr(role, kind)
            if value < floor:
                users = sorted(vm.name for vm in lab.vms if vm.role == role_name and getattr(vm, kind) is None)
                who = f" (VMs {', '.join(users)})" if users else ""
                yield Finding(("roles", role_name, kind),
                              f"role {role_name}: {kind} {format_size(value)} < {format_size(floor)}{who}: {WHY[kind]}",
                              f"give the role at least {format_size(floor)}")
    for i, vm in enumerate(lab.vms):
        for kind, floor in MINIMUM.items():
            value = getattr(vm, kind)
            if value is not None and value < floor:
                yield Finding(("vms", i, kind),
                              f"VM {vm.name}: {kind} {format_size(value)} < {format_size(floor)}: {WHY[kind]}",
                              f"give it at least {format_size(floor)}, or drop the override to get its role's")
