"""`k8s/platform/metallb-pool.yaml`: MetalLB's address pools and their L2 announcement.

The addresses are `network.pools.metallb` (platform-facts §6). Addresses the lab pins to a Service
(Traefik's `load_balancer_ip`, a `loadBalancerIP` in an app's values such as Pi-hole's DNS, see
`lab/load_balancers.py`) are kept out of the auto-assign pool: they form a second pool with
`autoAssign: false`, which MetalLB hands out only to a Service that asks for that address. So a
LoadBalancer Service without a fixed address never takes one that is promised elsewhere. The
`L2Advertisement` announces both. Everything lives in MetalLB's namespace and syncs after the MetalLB
chart that brings the CRDs. The chart's own values are in `charts.py`.
"""

from __future__ import annotations

import ipaddress

from homelab.lab.load_balancers import fixed_addresses
from homelab.lab.types import parse_range
from homelab.render.base import RenderedFile
from homelab.render.kubernetes.common import WAVES, crd_options, meta, yaml_file

METALLB_POOL = "default-pool"
METALLB_PINNED_POOL = "pinned"
METALLB_L2 = "default-l2"


def pinned_addresses(lab) -> list[ipaddress.IPv4Address]:
    """The fixed LoadBalancer addresses inside the MetalLB pool, sorted (outside ones: rule load-balancer-address)."""
    lo, hi = parse_range(lab.network.pools.metallb)
    out = set()
    for fixed in fixed_addresses(lab):
        try:
            addr = ipaddress.IPv4Address(fixed.address)
        except ValueError:
            continue
        if lo <= addr <= hi:
            out.add(addr)
    return sorted(out)


def auto_assign_ranges(lab, pinned) -> list[str]:
    """The MetalLB pool without the pinned addresses, as `first-last` ranges."""
    lo, hi = parse_range(lab.network.pools.metallb)
    ranges, start = [], int(lo)
    for addr in [*pinned, ipaddress.IPv4Address(int(hi) + 1)]:
        if int(addr) > start:
            ranges.append(f"{ipaddress.IPv4Address(start)}-{ipaddress.IPv4Address(int(addr) - 1)}")
        start = int(addr) + 1
    return ranges


def metallb_objects(lab) -> list[dict]:
    if not lab.platform.metallb.enabled or not lab.network.pools.metallb:
        return []
    ns = lab.platform.metallb.namespace
    wave = WAVES["operator-config"]
    pinned = pinned_addresses(lab)

    def pool(name: str, spec: dict) -> dict:
        return {"apiVersion": "metallb.io/v1beta1", "kind": "IPAddressPool",
                "metadata": meta(name, ns, wave=wave, annotations=crd_options()), "spec": spec}

    auto = auto_assign_ranges(lab, pinned) if pinned else [lab.network.pools.metallb]
    pools = [pool(METALLB_POOL, {"addresses": auto})] if auto else []  # every address pinned: no auto pool
    if pinned:
        # metallb.io/v1beta1 IPAddressPool spec.autoAssign: false = only for Services that ask for the address.
        pools.append(pool(METALLB_PINNED_POOL, {"addresses": [f"{a}/32" for a in pinned], "autoAssign": False}))
    return [
        *pools,
        {"apiVersion": "metallb.io/v1beta1", "kind": "L2Advertisement",
         "metadata": meta(METALLB_L2, ns, wave=wave, annotations=crd_options()),
         "spec": {"ipAddressPools": [p["metadata"]["name"] for p in pools]}},
    ]


def files(lab) -> list[RenderedFile]:
    objects = metallb_objects(lab)
    if not objects:
        return []
    return [yaml_file("k8s/platform/metallb-pool.yaml", objects,
                      "MetalLB address pools (network.pools.metallb; pinned addresses only on request), "
                      "announced over L2.")]
