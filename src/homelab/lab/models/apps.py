from __future__ import annotations

from typing import Literal

from pydantic import Field

from homelab.lab.models.gitops import Chart
from homelab.lab.types import ByteSize, DnsLabel, Model, Port


class Image(Model):
    repository: str = Field(min_length=1)
    tag: str = Field(min_length=1)


class Volume(Model):
    """A persistent volume claim mounted into the app."""

    name: DnsLabel
    size: ByteSize
    mount: str = Field(pattern=r"^/")
    class_: str | None = Field(default=None, alias="class", description="Storage class; default class if absent.")
    access_mode: Literal["ReadWriteOnce", "ReadWriteMany", "ReadOnlyMany"] = "ReadWriteOnce"
    backup: bool | None = Field(
        default=None, description="File-system backup by Velero: true/false; absent = yes unless larger than "
        "backup.velero.max_volume_size.")

    model_config = Model.model_config | {"populate_by_name": True}


class Resources(Model):
    cpu: str | None = Field(default=None, pattern=r"^\d+(\.\d+)?m?$")
    memory: ByteSize | None = None
    cpu_limit: str | None = Field(default=None, pattern=r"^\d+(\.\d+)?m?$")
    memory_limit: ByteSize | None = None


class SecretUse(Model):
    """Use of a Vault secret field by the app (resolved at deploy time, never rendered)."""

    path: str = Field(min_length=1, description="Secret path in the catalogue (vault.secrets).")
    field: str = Field(min_length=1)
    env: str | None = Field(default=None, pattern=r"^[A-Z_][A-Z0-9_]*$", description="Environment variable name.")


class Backup(Model):
    enabled: bool = True
    schedule: Literal["hourly", "daily", "weekly"] = "daily"
    retention_days: int = Field(default=14, ge=1)


class App(Model):
    """An application deployed by ArgoCD from a pinned Helm chart."""

    name: DnsLabel
    namespace: DnsLabel
    chart: Chart
    image: Image | None = None
    port: Port | None = None
    ingress: str | None = Field(default=None, description="Ingress host (FQDN inside network.domain).")
    storage: list[Volume] = Field(default_factory=list)
    resources: Resources | None = None
    gpu: int = Field(default=0, ge=0, le=8, description="nvidia.com/gpu count; >0 pins it to a GPU node.")
    secrets: list[SecretUse] = Field(default_factory=list)
    backup: Backup | None = None
    values: dict = Field(default_factory=dict, description="Extra Helm values merged over homelab's.")
    description: str = ""
