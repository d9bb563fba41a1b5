from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from homelab.lab.models.access import Access
from homelab.lab.models.apps import App
from homelab.lab.models.backup import Backups
from homelab.lab.models.elastic import Elasticsearch
from homelab.lab.models.gitops import Gitops
from homelab.lab.models.k3s import K3s
from homelab.lab.models.network import Network
from homelab.lab.models.pki import Pki
from homelab.lab.models.platform import Platform
from homelab.lab.models.proxmox import Proxmox
from homelab.lab.models.roles import Role
from homelab.lab.models.storage import Storage
from homelab.lab.models.vault import Vault
from homelab.lab.models.vms import ENVIRONMENTS, Vm
from homelab.lab.types import Model


class Clusters(Model):
    k3s: K3s | None = None
    elasticsearch: Elasticsearch | None = None


DEFAULT_NAMESPACES = ["argocd", "prometheus", "elastic-stack", "llm", "media", "home-automation"]


class Lab(Model):
    """A whole homelab, described in one file (format v1)."""

    version: Literal[1] = Field(description="Lab file format version. Only 1 exists.")
    name: str = Field(pattern=r"^[a-z0-9-]+$", description="Short name of the lab.")
    environments: list[str] = Field(default_factory=lambda: list(ENVIRONMENTS))
    network: Network
    proxmox: Proxmox
    roles: dict[str, Role] = Field(default_factory=dict, description="Extra roles or overrides of built-in ones.")
    vms: list[Vm] = Field(default_factory=list)
    clusters: Clusters = Field(default_factory=Clusters)
    vault: Vault = Field(default_factory=Vault)
    pki: Pki = Field(default_factory=Pki)
    storage: Storage = Field(default_factory=Storage)
    gitops: Gitops | None = None
    platform: Platform = Field(default_factory=Platform)
    namespaces: list[str] = Field(default_factory=lambda: list(DEFAULT_NAMESPACES))
    apps: list[App] = Field(default_factory=list)
    backup: Backups = Field(default_factory=Backups)
    access: Access = Field(default_factory=Access)

    @model_validator(mode="after")
    def _cert_manager_component(self):
        """pki.cert_manager.enabled turns the platform component on: one switch, every renderer sees it."""
        comp = self.platform.cert_manager
        if self.pki.cert_manager.enabled and not comp.enabled:
            platform = self.platform.model_copy(update={"cert_manager": comp.model_copy(update={"enabled": True})})
            return self.model_copy(update={"platform": platform})
        return self
