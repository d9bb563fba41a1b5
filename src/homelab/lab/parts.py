"""Which parts of the platform a lab has, so that renderers write only those (pure).

A starter lab without Elasticsearch gets no Elasticsearch role, one without a Vault VM no Vault-server
role, one without GPU nodes no NVIDIA device plugin — even though the plugin's `platform` entry is on by
default (it can only run on GPU nodes: its values select them by label and taint).
"""

from __future__ import annotations


def has_gpu_nodes(lab) -> bool:
    return bool(lab.clusters.k3s and lab.clusters.k3s.gpu.nodes)


def lab_parts(lab) -> set[str]:
    """The hosts-level parts: k3s, elasticsearch, kibana, fleet, vault (the Vault server VM)."""
    k3s, es = lab.clusters.k3s, lab.clusters.elasticsearch
    return {part for part, present in (("k3s", k3s is not None), ("elasticsearch", es is not None),
                                       ("kibana", bool(es and es.kibana)), ("fleet", bool(es and es.fleet_server)),
                                       ("vault", bool(lab.vault.server))) if present}


def component_on(lab, name: str) -> bool:
    """A platform component is deployed when it is enabled and the lab has what it runs on."""
    if not getattr(lab.platform, name).enabled:
        return False
    return has_gpu_nodes(lab) if name == "nvidia_device_plugin" else True


def components_on(lab) -> dict:
    """name -> Component, for the deployed platform components."""
    return {name: c for name, c in lab.platform.components().items() if component_on(lab, name)}
