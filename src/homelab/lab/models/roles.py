"""Roles and the seed's Resource Allocation Standards (tech-stack.md)."""

from __future__ import annotations

from pydantic import Field

from homelab.lab.types import GIB, ByteSize, Model


class Role(Model):
    """Resources a VM of this role gets unless it overrides them."""

    cores: int = Field(ge=1, le=512)
    memory: ByteSize
    disk: ByteSize
    description: str = ""


def _r(cores: int, memory_gib: int, disk_gib: int, description: str) -> dict:
    return {"cores": cores, "memory": f"{memory_gib}GiB", "disk": f"{disk_gib}GiB", "description": description}


# The seed's "Resource Allocation Standards". These are both the defaults and the minimums that the
# `role-below-standard` rule compares against. "High storage allocation" for Plex is taken as 500GiB.
STANDARD_ROLES: dict[str, dict] = {
    "k8s-control-plane": _r(2, 2, 100, "Kubernetes control plane (K3s server)"),
    "k8s-worker": _r(4, 8, 200, "Kubernetes worker (K3s agent)"),
    "es-data": _r(4, 8, 1024, "Elasticsearch data node"),
    "es-master": _r(2, 4, 100, "Elasticsearch master node"),
    "plex": _r(4, 32, 500, "Plex Media Server"),
    "vault": _r(2, 4, 50, "HashiCorp Vault server"),
}

# Roles the seed's inventory has without a stated standard: sensible small defaults, no minimum.
EXTRA_ROLES: dict[str, dict] = {
    "kibana": _r(2, 4, 50, "Kibana"),
    "fleet": _r(2, 4, 50, "Fleet server / Elastic Agent"),
    "infra": _r(2, 4, 50, "Infrastructure services (step-ca, utilities)"),
    "proxy": _r(2, 2, 32, "Reverse proxy"),
    "torrent": _r(2, 4, 100, "Download client VM"),
    "general": _r(2, 2, 32, "General purpose VM"),
}


def builtin_roles() -> dict[str, Role]:
    return {name: Role(**spec) for name, spec in {**STANDARD_ROLES, **EXTRA_ROLES}.items()}


def standard_minimum(role: str) -> Role | None:
    spec = STANDARD_ROLES.get(role)
    return Role(**spec) if spec else None


__all__ = ["Role", "STANDARD_ROLES", "EXTRA_ROLES", "builtin_roles", "standard_minimum", "GIB"]
