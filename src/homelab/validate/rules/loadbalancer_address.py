"""LoadBalancer Services get addresses that do not collide: every pinned address is in a MetalLB pool and
pinned once; an unpinned Service cannot draw an address another Service pins.

MetalLB 0.16 (internal/allocator): a Service asks for `spec.loadBalancerIP` or the annotation
`metallb.io/loadBalancerIPs` (older `metallb.universe.tf/loadBalancerIPs`); without one it gets the first
free address of an IPAddressPool with `autoAssign` (default true). Two Services share an address only
with the same `metallb.io/allow-shared-ip` key. Allocation is first come, first served: an unpinned
Service that syncs first takes the address a pinned one needs, which then stays <pending>.
"""

import ipaddress

from homelab.validate.base import rule
from homelab.validate.rules._common import finding

PIN_KEYS = ("metallb.io/loadBalancerIPs", "metallb.universe.tf/loadBalancerIPs")
SHARE_KEYS = ("metallb.io/allow-shared-ip", "metallb.universe.tf/allow-shared-ip")


def _annotations(o) -> dict:
    return (o.obj.get("metadata") or {}).get("annotations") or {}


def pinned(o) -> list[str]:
    ann = _annotations(o)
    for k in PIN_KEYS:
        if ann.get(k):
            return [a.strip() for a in str(ann[k]).split(",") if a.strip()]
    ip = (o.obj.get("spec") or {}).get("loadBalancerIP")
    return [str(ip)] if ip else []


def _ranges(pool) -> list[tuple]:
    out = []
    for a in (pool.obj.get("spec") or {}).get("addresses") or []:
        a = str(a)
        try:
            if "-" in a:
                lo, hi = (ipaddress.ip_address(x.strip()) for x in a.split("-", 1))
            else:
                net = ipaddress.ip_network(a, strict=False)
                lo, hi = net[0], net[-1]
            out.append((lo, hi))
        except ValueError:
            continue
    return out


def _in(ip: str, ranges) -> bool:
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return False
    return any(lo.version == addr.version and lo <= addr <= hi for lo, hi in ranges)


@rule("loadbalancer-address", "error",
      "LoadBalancer addresses collide, lie outside every MetalLB pool, or an unpinned Service can take a pinned one")
def check(ctx):
    services = [o for o in ctx.platform.of_kind("Service") if (o.obj.get("spec") or {}).get("type") == "LoadBalancer"]
    pools = {p.name: (p, _ranges(p)) for p in ctx.platform.of_kind("IPAddressPool")}
    owners: dict[str, list] = {}
    for s in services:
        for ip in pinned(s):
            owners.setdefault(ip, []).append(s)
            if pools and not any(_in(ip, r) for _, r in pools.values()):
                yield finding(ctx, s, f"{s.where} pins {ip}, which is in no MetalLB IPAddressPool: it stays <pending>",
                              "pick an address inside network.pools.metallb")
    for ip, users in sorted(owners.items()):
        share = {next((_annotations(u).get(k) for k in SHARE_KEYS if _annotations(u).get(k)), None) for u in users}
        if len(users) > 1 and (None in share or len(share) > 1):
            for u in users[1:]:
                yield finding(ctx, u, f"{u.where} pins {ip}, as {users[0].where} does: one of them stays <pending>",
                              "give each LoadBalancer Service its own address (or the same allow-shared-ip key)")
    for s in services:
        if pinned(s):
            continue
        wanted = _annotations(s).get("metallb.io/address-pool") or _annotations(s).get("metallb.universe.tf/address-pool")
        for name, (pool, ranges) in sorted(pools.items()):
            if (wanted and name != wanted) or (not wanted and (pool.obj.get("spec") or {}).get("autoAssign") is False):
                continue
            taken = sorted((ip for ip in owners if _in(ip, ranges)), key=ipaddress.ip_address)
            if taken:
                who = ", ".join(f"{ip} ({owners[ip][0].ident})" for ip in taken[:3])
                yield finding(ctx, s, f"{s.where} has no fixed address: MetalLB gives it the first free address of "
                              f"pool {name}, which can be one that another Service pins: {who}",
                              "pin every LoadBalancer Service to its own address (loadBalancerIP or the "
                              "metallb.io/loadBalancerIPs annotation), or keep pinned addresses out of the "
                              "auto-assigned pool (autoAssign: false)")
