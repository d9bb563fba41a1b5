from __future__ import annotations

from pydantic import Field

from homelab.lab.types import ByteSize, Model, NonEmptyStr


class ProxmoxNode(Model):
    """A Proxmox VE host (bare metal)."""

    name: NonEmptyStr = Field(description="Node name as Proxmox knows it (e.g. pve1).")
    cores: int = Field(ge=1, description="Physical cores available to VMs.")
    memory: ByteSize = Field(description="RAM available to VMs, e.g. 128GiB.")
    storages: dict[str, ByteSize] = Field(
        min_length=1, description="Storage pools on this node and their capacity, e.g. {local-lvm: 2TiB}."
    )
    gpus: list[str] = Field(
        default_factory=list, description="PCI ids of GPUs that can be passed through (e.g. 0000:01:00)."
    )


class Template(Model):
    """The cloud-init VM template VMs are cloned from."""

    name: NonEmptyStr = Field(default="ubuntu-2504-cloudinit", description="Template VM name in Proxmox.")
    os: NonEmptyStr = Field(default="Ubuntu 25.04", description="What the template runs (for documentation).")
    disk_slot: str = Field(default="scsi0", pattern=r"^(scsi|virtio|sata)\d+$", description="Boot disk slot.")


class SecretRef(Model):
    """A reference to a field of a KV v2 secret in Vault. Never a value."""

    path: NonEmptyStr = Field(description="Secret path below the KV mount, e.g. infra/proxmox.")
    field: NonEmptyStr = Field(description="Field name inside the secret.")


class ProxmoxCredentials(Model):
    """Where Terraform reads the Proxmox API token from (Vault KV v2)."""

    token_id: SecretRef = Field(default=SecretRef(path="infra/proxmox", field="api_token_id"))
    token_secret: SecretRef = Field(default=SecretRef(path="infra/proxmox", field="api_token_secret"))


class Proxmox(Model):
    """The Proxmox VE cluster VMs run on."""

    endpoint: str | None = Field(
        default=None, pattern=r"^https?://[^\s/]+(:\d+)?(/api2/json)?/?$",
        description="API URL, e.g. https://pve1.lab.example:8006/api2/json. Unset = not configured.",
    )
    tls_insecure: bool | None = Field(
        default=None,
        description="Skip TLS verification of the Proxmox API. Unset = verify once the lab has an internal CA "
                    "(pki.step_ca; clients trust tls/ca.crt), skip otherwise (PVE's own self-signed certificate).",
    )
    credentials: ProxmoxCredentials = Field(default_factory=ProxmoxCredentials)
    template: Template = Field(default_factory=Template)
    storage: NonEmptyStr = Field(default="local-lvm", description="Default storage pool for VM disks.")
    bridge: NonEmptyStr = Field(default="vmbr0", description="Default network bridge.")
    guest_agent: bool = Field(default=True, description="Enable the QEMU guest agent (agent = 1).")
    ci_user: NonEmptyStr = Field(default="ubuntu", description="cloud-init default user.")
    ssh_keys: list[str] = Field(default_factory=list, description="SSH public keys installed by cloud-init.")
    vmid_range: tuple[int, int] = Field(default=(100, 999), description="VMIDs are allocated from this range.")
    nodes: list[ProxmoxNode] = Field(min_length=1)
