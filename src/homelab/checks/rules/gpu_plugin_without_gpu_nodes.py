"""The NVIDIA device plugin is rendered only for a lab with GPU nodes; enabling it without any says so."""

from __future__ import annotations

from homelab.checks.base import Finding, rule


@rule("gpu-plugin-without-gpu-nodes", "warning",
      "platform.nvidia_device_plugin is enabled but the lab has no GPU nodes, so it is not deployed")
def check(doc):
    lab = doc.lab
    plugin = lab.platform.nvidia_device_plugin
    explicit = "platform" in lab.model_fields_set and "nvidia_device_plugin" in lab.platform.model_fields_set
    if not explicit or not plugin.enabled:
        return
    k3s = lab.clusters.k3s
    if k3s and k3s.gpu.nodes:
        return
    yield Finding(("platform", "nvidia_device_plugin", "enabled"),
                  "platform.nvidia_device_plugin is enabled, but clusters.k3s.gpu.nodes is empty: the plugin would "
                  "run on no node, so homelab does not deploy it",
                  "list the K3s nodes with a GPU under clusters.k3s.gpu.nodes, or set enabled: false")
