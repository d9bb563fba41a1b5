"""Stable resource addresses, Terraform-like: `<type>.<name>`.

The type says what kind of thing it is and therefore its layer and the engine that applies it; the
name is the VM name, the policy name, or `<namespace>/<app>` for ArgoCD applications:

    vault_mount.secret  vault_auth.userpass  vault_policy.terraform  vault_user.terraform
    vault_audit.file    vault_secret.k3s/cluster  vault_pki.pki  vault_pki_role.es01
    proxmox_vm.kube01   host.kube01          host_pki.kube01  k3s_server.kube01
    k3s_agent.kube04    es_node.es07         kibana.kibana           fleet_server.fleet
    argocd_bootstrap.argocd                  argocd_app.platform/metallb   argocd_app.media/sonarr
    zfs_snapshot_task.tank/k8s               zfs_replication.offsite

Addresses never depend on list order in the lab file, so reordering `vms` changes nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Layers in apply order (the order of the pipeline of the seed: Vault, Terraform, Ansible, ArgoCD).
# `nas` (ZFS snapshot and replication tasks on TrueNAS) depends on nothing else: it comes last.
LAYERS: tuple[str, ...] = ("vault", "vms", "hosts", "clusters", "gitops", "platform", "apps", "nas")

# The engine each layer is applied by.
LAYER_ENGINE: dict[str, str] = {
    "vault": "vault",
    "vms": "terraform",
    "hosts": "ansible",
    "clusters": "ansible",
    "gitops": "kubernetes",
    "platform": "kubernetes",
    "apps": "kubernetes",
    "nas": "truenas",
}

# Resource type -> layer. `argocd_app` is "platform" for `platform/<component>`, "apps" otherwise.
TYPE_LAYER: dict[str, str] = {
    "vault_mount": "vault",
    "vault_auth": "vault",
    "vault_audit": "vault",
    "vault_policy": "vault",
    "vault_user": "vault",
    "vault_secret": "vault",
    "vault_pki": "vault",
    "vault_pki_role": "vault",
    "proxmox_vm": "vms",
    "host": "hosts",
    "host_pki": "hosts",
    "k3s_server": "clusters",
    "k3s_agent": "clusters",
    "es_node": "clusters",
    "kibana": "clusters",
    "fleet_server": "clusters",
    "argocd_bootstrap": "gitops",
    "argocd_app": "apps",
    "zfs_snapshot_task": "nas",
    "zfs_replication": "nas",
}

PLATFORM_PREFIX = "platform/"

_TYPE_RE = re.compile(r"^[a-z][a-z0-9_]*$")
_NAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-/*]*$")


@dataclass(frozen=True, order=True)
class Address:
    type: str
    name: str

    def __str__(self) -> str:
        return f"{self.type}.{self.name}"

    @property
    def layer(self) -> str:
        if self.type == "argocd_app" and self.name.startswith(PLATFORM_PREFIX):
            return "platform"
        return TYPE_LAYER[self.type]

    @property
    def engine(self) -> str:
        return LAYER_ENGINE[self.layer]


def parse(text: str) -> Address:
    """'proxmox_vm.kube01' -> Address('proxmox_vm', 'kube01'). Raises ValueError with a clear message."""
    kind, dot, name = str(text).partition(".")
    if not dot or not _TYPE_RE.match(kind) or not name or not _NAME_RE.match(name):
        raise ValueError(f"{text!r} is not a resource address; write TYPE.NAME, e.g. proxmox_vm.kube01")
    if kind not in TYPE_LAYER:
        known = ", ".join(sorted(TYPE_LAYER))
        raise ValueError(f"{text!r}: unknown resource type {kind!r} (known: {known})")
    return Address(kind, name)


def address(kind: str, name: str) -> str:
    return str(Address(kind, name))


def layer_of(addr: str) -> str:
    return parse(addr).layer


def layer_index(layer: str) -> int:
    return LAYERS.index(layer) if layer in LAYERS else len(LAYERS)
