"""A VM address must lie inside network.cidr and not be its network or broadcast address or gateway."""

from __future__ import annotations

import ipaddress

from homelab.checks.base import Finding, rule


@rule("vm-ip-outside-network", "error", "VM address outside the network, or equal to network/broadcast/gateway")
def check(doc):
    lab = doc.lab
    net = ipaddress.IPv4Network(lab.network.cidr)
    for i, vm in enumerate(lab.vms):
        if not vm.ip:
            continue
        addr = ipaddress.IPv4Address(vm.ip)
        path = ("vms", i, "ip")
        if addr not in net:
            yield Finding(path, f"VM {vm.name}: address {vm.ip} is outside the network {lab.network.cidr}",
                          f"pick an address in {lab.network.cidr}, or remove `ip:` to allocate one")
        elif addr == net.network_address:
            yield Finding(path, f"VM {vm.name}: {vm.ip} is the network address of {lab.network.cidr}",
                          "use a host address")
        elif addr == net.broadcast_address:
            yield Finding(path, f"VM {vm.name}: {vm.ip} is the broadcast address of {lab.network.cidr}",
                          "use a host address")
        elif vm.ip == lab.network.gateway:
            yield Finding(path, f"VM {vm.name}: {vm.ip} is the gateway's address", "use another address")
