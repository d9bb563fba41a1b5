"""Address pools (network.pools.vms, network.pools.metallb) must lie inside network.cidr."""

from __future__ import annotations

from homelab.checks.base import Finding, rule
from homelab.checks.rules._common import ip_range, network


@rule("pool-outside-network", "error", "address pool not inside the network's host addresses")
def check(doc):
    lab = doc.lab
    net = network(lab)
    for name in ("vms", "metallb"):
        value = getattr(lab.network.pools, name)
        rng = ip_range(value)
        if not rng:
            continue
        lo, hi = rng
        if lo not in net or hi not in net:
            yield Finding(("network", "pools", name), f"pool {name} ({value}) is not inside the network {net}",
                          f"use a range inside {net}")
        elif net.num_addresses > 2 and (lo == net.network_address or hi == net.broadcast_address):
            yield Finding(("network", "pools", name),
                          f"pool {name} ({value}) includes the network or broadcast address of {net}",
                          "start the range after the network address and end it before the broadcast address")
