"""A DNS record must point at an address somebody has: a VM, a fixed LoadBalancer address, or a machine
outside the lab's address pools."""

from __future__ import annotations

import ipaddress

from homelab.checks.base import Finding, rule
from homelab.checks.rules._common import ip_range
from homelab.lab.dns import records
from homelab.lab.load_balancers import fixed_addresses


@rule("dns-address-unowned", "error", "a DNS record points at an address no VM or service has")
def check(doc):
    lab = doc.lab
    net = ipaddress.IPv4Network(lab.network.cidr)
    owned = {vm.ip for vm in doc.inventory.vms if vm.ip} | {f.address for f in fixed_addresses(lab)}
    owned |= {lab.network.gateway, *lab.network.dns}
    pools = [(name, ip_range(getattr(lab.network.pools, name))) for name in ("vms", "metallb")]
    for rec in records(lab, doc.inventory):
        if not rec.ip or rec.ip in owned:
            continue
        addr = ipaddress.IPv4Address(rec.ip)
        if addr not in net:
            if rec.source[:2] == ("network", "hosts"):
                continue  # a machine on another network: the lab cannot know better
            yield Finding(rec.source, f"{rec.name} ({rec.what}) would resolve to {addr}, outside the lab's "
                          f"network {net}", "point it at the address of the machine that serves it")
            continue
        for pool, bounds in pools:
            if bounds and bounds[0] <= addr <= bounds[1]:
                owner = "no VM has it" if pool == "vms" else "no LoadBalancer Service asks for it"
                yield Finding(rec.source, f"{rec.name} ({rec.what}) would resolve to {addr}, an address of "
                              f"network.pools.{pool} that nobody has: {owner}",
                              "point it at the machine's real address, or give that machine this address")
                break
