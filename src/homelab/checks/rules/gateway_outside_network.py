"""The gateway must be a host address inside network.cidr."""

from __future__ import annotations

import ipaddress

from homelab.checks.base import Finding, rule
from homelab.checks.rules._common import network


@rule("gateway-outside-network", "error", "gateway outside the network, or its network/broadcast address")
def check(doc):
    lab = doc.lab
    net = network(lab)
    gw = ipaddress.IPv4Address(lab.network.gateway)
    if gw not in net:
        yield Finding(("network", "gateway"), f"gateway {gw} is outside the network {net}",
                      f"the gateway must be an address in {net}")
    elif net.num_addresses > 2 and gw in (net.network_address, net.broadcast_address):
        yield Finding(("network", "gateway"), f"gateway {gw} is the network or broadcast address of {net}",
                      "use the router's host address, e.g. the first address of the network")
