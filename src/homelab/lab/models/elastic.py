from __future__ import annotations

from typing import Literal

from pydantic import Field

from homelab.lab.types import Model


class SnapshotRepository(Model):
    """Where Elasticsearch snapshots go (S3-compatible)."""

    name: str = Field(default="s3-backups")
    type: Literal["s3", "fs"] = "s3"
    bucket: str | None = None
    base_path: str = ""
    client: str = "default"
    endpoint: str | None = Field(default=None, description="S3 endpoint (client setting s3.client.<client>.endpoint).")
    path_style_access: bool = True
    credentials: str = Field(default="elastic/s3#access_key,secret_key", description="Vault 'path#field,field'.")
    location: str | None = Field(default=None, description="Directory for type fs.")


class Elasticsearch(Model):
    """The Elasticsearch 8.x cluster on VMs."""

    version: str = Field(default="8.18.0", pattern=r"^8\.\d+\.\d+$")
    cluster_name: str = "homelab"
    data_nodes: list[str] = Field(min_length=1)
    master_nodes: list[str] = Field(min_length=1)
    kibana: str | None = Field(default=None, description="VM running Kibana.")
    fleet_server: str | None = Field(default=None, description="VM running Fleet Server (Elastic Agent).")
    snapshot_repository: SnapshotRepository | None = None
    heap: str | None = Field(default=None, pattern=r"^\d+[mgMG]$", description="JVM heap; default half of RAM.")
    package_source: str | None = Field(default=None, description="Local .deb path/mirror for offline installs.")
    endpoint: str | None = Field(default=None, description="HTTPS URL of the cluster for day-2 calls. Unset = not configured.")
