"""Desired machines: one Proxmox VM per lab VM (Terraform) and its host baseline (Ansible)."""

from __future__ import annotations

from homelab.plan.desired.common import Builder, address
from homelab.render.terraform import bootstrap_env


def add(b: Builder, doc, vault_deps: tuple[str, ...]) -> None:
    lab, inv = doc.lab, doc.inventory
    # The Terraform environment of the Vault server's VM is created before that Vault exists: its VMs
    # and their baseline read nothing from Vault (render/terraform.py), so they do not wait for it.
    first = bootstrap_env(lab, inv)

    def deps_of(vm) -> tuple[str, ...]:
        return () if vm.env == first else vault_deps

    # --- VMs (Terraform) ------------------------------------------------------------------------
    px = lab.proxmox
    for vm in sorted(inv.vms, key=lambda x: x.name):
        b.add("proxmox_vm", vm.name, {
            "env": vm.env, "node": vm.node, "vmid": vm.vmid, "ip": vm.ip, "cores": vm.cores,
            "memory_mib": vm.memory_mib, "disk_gib": vm.disk_gib, "storage": vm.storage,
            "template": px.template.name, "bridge": px.bridge, "vlan": lab.network.vlan,
            "gateway": lab.network.gateway, "gpu": getattr(vm.gpu, "device", None), "tags": list(vm.tags),
        }, depends_on=deps_of(vm), immutable=("env", "node", "template", "vmid"), no_shrink=("disk_gib",),
            source=("vms", vm.index))

    # --- Hosts (Ansible baseline) ---------------------------------------------------------------
    acc = lab.access
    for vm in sorted(inv.vms, key=lambda x: x.name):
        vm_addr = address("proxmox_vm", vm.name)
        b.add("host", vm.name, {
            "fqdn": vm.fqdn, "ip": vm.ip, "role": vm.role, "os": px.template.os, "ssh_user": acc.ssh_user,
            "dns": list(lab.network.dns), "domain": lab.network.domain,
        }, depends_on=tuple(sorted({vm_addr, *deps_of(vm)})), rebuild_with=(vm_addr,), source=("vms", vm.index))
