"""Fixed LoadBalancer addresses (Traefik's, and any `loadBalancerIP` or MetalLB annotation inside an app's
or a component's values) must lie in the MetalLB pool and belong to one Service each."""

from __future__ import annotations

import ipaddress

from homelab.checks.base import Finding, rule
from homelab.checks.rules._common import ip_range
from homelab.lab.load_balancers import fixed_addresses


@rule("load-balancer-address", "error", "a fixed LoadBalancer address is outside the MetalLB pool or taken twice")
def check(doc):
    lab = doc.lab
    if not lab.platform.metallb.enabled:
        return
    pool = ip_range(lab.network.pools.metallb)
    vms = {vm.ip: vm.name for vm in lab.vms if vm.ip}
    first: dict[str, str] = {}
    for fixed in fixed_addresses(lab):
        try:
            addr = ipaddress.IPv4Address(fixed.address)
        except ValueError:
            yield Finding(fixed.path, f"{fixed.owner}: {fixed.address!r} is not an IPv4 address",
                          "write one address of network.pools.metallb, e.g. 192.168.10.201")
            continue
        if pool is None:
            yield Finding(fixed.path, f"{fixed.owner}: asks MetalLB for {addr} but network.pools.metallb is unset",
                          "declare network.pools.metallb and pick the address inside it")
        elif not pool[0] <= addr <= pool[1]:
            yield Finding(fixed.path, f"{fixed.owner}: {addr} is outside the MetalLB pool "
                          f"{lab.network.pools.metallb}: MetalLB will not assign it and the Service stays Pending",
                          "pick an address inside network.pools.metallb")
        if str(addr) in first:
            yield Finding(fixed.path, f"{fixed.owner}: {addr} is already the address of {first[str(addr)]}",
                          "give each LoadBalancer Service its own address")
        elif str(addr) in vms:
            yield Finding(fixed.path, f"{fixed.owner}: {addr} is the address of VM {vms[str(addr)]}",
                          "pick a free address inside network.pools.metallb")
        first.setdefault(str(addr), fixed.owner)
