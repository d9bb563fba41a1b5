"""`k8s/platform/metallb-pool.yaml`: MetalLB's address pool and its L2 announcement.

The `IPAddressPool` is `network.pools.metallb`; the `L2Advertisement` announces it (platform-facts §6).
Both live in MetalLB's namespace and sync after the MetalLB chart that brings their CRDs. The chart's
own values are in `charts.py`.
"""

from __future__ import annotations

from homelab.render.base import RenderedFile
from homelab.render.kubernetes.common import WAVES, crd_options, meta, yaml_file

METALLB_POOL = "default-pool"
METALLB_L2 = "default-l2"


def metallb_objects(lab) -> list[dict]:
    if not lab.platform.metallb.enabled or not lab.network.pools.metallb:
        return []
    ns = lab.platform.metallb.namespace
    wave = WAVES["operator-config"]
    return [
        {"apiVersion": "metallb.io/v1beta1", "kind": "IPAddressPool",
         "metadata": meta(METALLB_POOL, ns, wave=wave, annotations=crd_options()),
         "spec": {"addresses": [lab.network.pools.metallb]}},
        {"apiVersion": "metallb.io/v1beta1", "kind": "L2Advertisement",
         "metadata": meta(METALLB_L2, ns, wave=wave, annotations=crd_options()),
         "spec": {"ipAddressPools": [METALLB_POOL]}},
    ]


def files(lab) -> list[RenderedFile]:
    objects = metallb_objects(lab)
    if not objects:
        return []
    return [yaml_file("k8s/platform/metallb-pool.yaml", objects,
                      "MetalLB address pool (network.pools.metallb) announced over L2.")]
