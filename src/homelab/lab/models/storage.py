from __future__ import annotations

from typing import Literal

from pydantic import Field

from homelab.lab.types import Model


class TrueNas(Model):
    host: str = Field(description="TrueNAS host name or address.")
    pool: str = Field(default="tank")
    iscsi_portal: str | None = Field(default=None, description="host:3260")
    nfs_server: str | None = None
    datasets: dict[str, str] = Field(
        default_factory=lambda: {"iscsi": "tank/k8s/iscsi", "nfs": "tank/k8s/nfs"},
        description="Parent datasets democratic-csi provisions into.",
    )
    api_key: str = Field(default="storage/truenas#api_key", description="Vault 'path#field' of the API key.")
    allowed_networks: list[str] = Field(default_factory=list)
    api_url: str | None = Field(
        default=None, pattern=r"^https?://[^/\s]+(/\S*)?$",
        description="TrueNAS REST API (e.g. https://truenas.lab.example/api/v2.0) homelab applies the ZFS snapshot "
        "and replication tasks through (with api_key); unset = that layer is not configured.")
    ca_file: str | None = Field(default=None, description="PEM CA that signed the API's certificate (path relative "
                                "to homelab.yaml); default: the system's trusted CAs.")
    tls_insecure: bool = Field(default=False, description="Do not verify the API's certificate.")


class StorageClass(Model):
    name: str = Field(pattern=r"^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$")
    protocol: Literal["iscsi", "nfs"]
    default: bool = False
    reclaim_policy: Literal["Delete", "Retain"] = "Delete"
    fs_type: str | None = None


class Storage(Model):
    truenas: TrueNas | None = None
    classes: list[StorageClass] = Field(default_factory=list)
