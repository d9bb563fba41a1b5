from __future__ import annotations

from pydantic import Field

from homelab.lab.types import ByteSize, IPv4, Model

ENVIRONMENTS = ("lab", "kubernetes", "home-apps", "vault")


class GpuPassthrough(Model):
    """A PCI GPU passed through to the VM."""

    device: str = Field(
        pattern=r"^([0-9a-f]{4}:)?[0-9a-f]{2}:[0-9a-f]{2}(\.[0-7])?$",
        description="PCI address on the Proxmox node, e.g. 0000:01:00.",
    )
    model: str = Field(default="nvidia-tesla", description="For documentation and the node label.")
    pcie: bool = Field(default=True)


class Vm(Model):
    """One virtual machine."""

    name: str = Field(description="Hostname (RFC 1123 label); the FQDN is <name>.<network.domain>.")
    role: str = Field(description="A role from `roles` (or a built-in one); gives the default resources.")
    env: str = Field(description="Terraform environment: lab, kubernetes, home-apps or vault.")
    ip: IPv4 | None = Field(default=None, description="Static address; allocated from network.pools.vms if absent.")
    vmid: int | None = Field(default=None, description="Proxmox VMID; allocated from proxmox.vmid_range if absent.")
    node: str | None = Field(default=None, description="Proxmox node; placed automatically if absent.")
    cores: int | None = Field(default=None, ge=1, le=512, description="Override the role's cores.")
    memory: ByteSize | None = Field(default=None, description="Override the role's memory.")
    disk: ByteSize | None = Field(default=None, description="Override the role's disk size.")
    storage: str | None = Field(default=None, description="Override proxmox.storage for this VM's disk.")
    tags: list[str] = Field(default_factory=list)
    gpu: GpuPassthrough | None = None
    description: str = ""
