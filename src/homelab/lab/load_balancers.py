"""Fixed LoadBalancer addresses the lab asks MetalLB for, wherever they are written.

Traefik's `platform.traefik.load_balancer_ip`, and inside the free-form Helm `values` of every app and
platform component: a `loadBalancerIP` / `loadBalancerIPs` key (most charts' spelling, e.g. MoJo2600
pihole's `serviceDns.loadBalancerIP`) or MetalLB's annotation `metallb.io/loadBalancerIPs` (and its
pre-0.15 name `metallb.universe.tf/loadBalancerIPs`), comma-separated. Checks (`load-balancer-address`)
and the MetalLB pools (`render/kubernetes/metallb.py`) both read them from here.
"""

from __future__ import annotations

from dataclasses import dataclass

ADDRESS_KEYS = ("loadBalancerIP", "loadBalancerIPs")
METALLB_ANNOTATIONS = ("metallb.io/loadBalancerIPs", "metallb.universe.tf/loadBalancerIPs")


@dataclass(frozen=True)
class FixedAddress:
    path: tuple  # model path of the value, for located messages
    owner: str  # "platform component traefik", "app pihole"
    address: str


def _split(value) -> list[str]:
    items = value if isinstance(value, list) else str(value).split(",")
    return [str(i).strip() for i in items if str(i).strip()]


def _scan(values, path: tuple, owner: str):
    if isinstance(values, dict):
        for key, value in values.items():
            if key in ADDRESS_KEYS or key in METALLB_ANNOTATIONS:
                for addr in _split(value):
                    yield FixedAddress((*path, key), owner, addr)
            else:
                yield from _scan(value, (*path, key), owner)
    elif isinstance(values, list):
        for i, item in enumerate(values):
            yield from _scan(item, (*path, i), owner)


def fixed_addresses(lab) -> list[FixedAddress]:
    """Every fixed LoadBalancer address of the lab's enabled components and apps, in lab order."""
    out: list[FixedAddress] = []
    for name, comp in lab.platform.components().items():
        if not comp.enabled:
            continue
        ip = getattr(comp, "load_balancer_ip", None)
        if ip:
            out.append(FixedAddress(("platform", name, "load_balancer_ip"), f"platform component {name}", ip))
        out += _scan(comp.values, ("platform", name, "values"), f"platform component {name}")
    for i, app in enumerate(lab.apps):
        out += _scan(app.values, ("apps", i, "values"), f"app {app.name}")
    return out
