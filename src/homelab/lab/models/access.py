from __future__ import annotations

from pydantic import Field

from homelab.lab.types import Model, Port


class Access(Model):
    """How homelab reaches the VMs over SSH (Ansible). Off by default: nothing talks to the lab
    until you say so; until then the host layer is reported as "not configured"."""

    ssh: bool = Field(default=False, description="Allow homelab to SSH to the VMs (run Ansible).")
    ssh_user: str = Field(default="ubuntu", description="Remote user Ansible connects as.")
    ssh_private_key: str | None = Field(default=None, description="Path of the private key (not the key itself).")
    ssh_port: Port = 22
    become: bool = True
