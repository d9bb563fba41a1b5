from __future__ import annotations

from pydantic import Field

from homelab.lab.types import Cidr, IpRange, IPv4, Model


class Pools(Model):
    """Address pools inside the network."""

    vms: IpRange | None = Field(
        default=None, description="Static range VM addresses are allocated from when a VM gives no ip."
    )
    metallb: IpRange | None = Field(default=None, description="Range MetalLB hands to LoadBalancer services.")


class Host(Model):
    """A machine the lab does not create but names (TrueNAS, a Proxmox node, the router): a DNS record."""

    name: str = Field(pattern=r"^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$",
                      description="Short name (<name>.<domain>) or a fully qualified name.")
    ip: IPv4
    description: str = ""


class Network(Model):
    """The lab's single L2 network (the seed: 192.168.10.0/24)."""

    cidr: Cidr = Field(description="The network, e.g. 192.168.10.0/24.")
    gateway: IPv4 = Field(description="Default gateway for every VM.")
    dns: list[IPv4] = Field(min_length=1, description="DNS servers, in order (e.g. the router, then Pi-hole).")
    domain: str = Field(
        min_length=1, pattern=r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$",
        description="Internal DNS domain; VM FQDNs are <name>.<domain>.",
    )
    pools: Pools = Field(default_factory=Pools)
    hosts: list[Host] = Field(default_factory=list,
                              description="Machines outside the lab's VMs that get a DNS record (Pi-hole).")
    vlan: int | None = Field(default=None, ge=1, le=4094, description="802.1Q tag for VM NICs, if any.")
