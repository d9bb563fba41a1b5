from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field

from homelab.lab.types import Model

_SAN_RE = re.compile(r"^(\*\.)?[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$|^[0-9A-Fa-f:.]+$")


def _san(value: Any) -> str:
    """A certificate SAN for the K3s API: a DNS name (optionally `*.`) or an IPv4/IPv6 address."""
    if not isinstance(value, str) or not _SAN_RE.match(value):
        raise ValueError(f"{value!r} is not a DNS name or IP address, e.g. cp.lab.example.org or 192.168.10.71")
    return value


San = Annotated[str, AfterValidator(_san)]


class GpuNodes(Model):
    """How GPU nodes are marked so only GPU workloads land there."""

    nodes: list[str] = Field(default_factory=list, description="K3s nodes (VM names) with an NVIDIA GPU.")
    label: str = Field(default="accelerator=nvidia-tesla-gpu", pattern=r"^[A-Za-z0-9./_-]+=[A-Za-z0-9._-]*$")
    taint: str = Field(
        default="nvidia.com/gpu=true:NoSchedule",
        pattern=r"^[A-Za-z0-9./_-]+(=[A-Za-z0-9._-]*)?:(NoSchedule|PreferNoSchedule|NoExecute)$",
    )
    time_slicing: int = Field(
        default=1, ge=1, le=64,
        description="How many nvidia.com/gpu each GPU is advertised as (NVIDIA device plugin time-slicing "
        "replicas): pods share the GPU in turns. 1 = no sharing, one pod per GPU.")


class K3sUpgrade(Model):
    """How `homelab upgrade k3s` rolls a new version through the nodes (servers always one at a time)."""

    agent_batch: int = Field(default=1, ge=1, le=50, description="Agents upgraded together (cordoned, drained, "
                             "upgraded, waited for) in one batch, after every server.")
    drain_timeout: int = Field(default=300, ge=1, le=86400, description="Seconds a node's drain may take (evictions "
                               "a PodDisruptionBudget refuses are retried until then).")
    ready_timeout: int = Field(default=600, ge=1, le=86400, description="Seconds an upgraded node has to report "
                               "Ready with the new version, and the health gates to pass after it.")


class K3s(Model):
    """The K3s cluster: HA with embedded etcd, Flannel, MetalLB instead of ServiceLB, Traefik."""

    version: str = Field(default="v1.33.4+k3s1", pattern=r"^v\d+\.\d+\.\d+\+k3s\d+$")
    servers: list[str] = Field(min_length=1, description="VM names of the control-plane nodes.")
    agents: list[str] = Field(default_factory=list, description="VM names of the worker nodes.")
    api_endpoint: San | None = Field(
        default=None, description="DNS name (or IP) clients use for the API, e.g. cp.lab.example.org."
    )
    tls_sans: list[San] = Field(
        default_factory=list, description="Extra SANs for the API certificate.")
    cni: Literal["flannel"] = "flannel"
    flannel_backend: Literal["vxlan", "host-gw", "wireguard-native", "none"] = "vxlan"
    disable: list[str] = Field(
        default_factory=lambda: ["servicelb", "traefik"],
        description="Bundled components to disable on every server (MetalLB and Traefik come from ArgoCD).",
    )
    cluster_cidr: str = "10.42.0.0/16"
    service_cidr: str = "10.43.0.0/16"
    gpu: GpuNodes = Field(default_factory=GpuNodes)
    token: str = Field(
        default="k3s/cluster#token", pattern=r"^[^#\s]+#[^#\s]+$",
        description="Vault secret 'path#field' holding the cluster join token.",
    )
    upgrade: K3sUpgrade = Field(default_factory=K3sUpgrade)
    install_script_url: str | None = Field(
        default=None, pattern=r"^https?://\S+$",
        description="Where the K3s install script is downloaded from (default https://get.k3s.io): a mirror of "
        "it for a lab without internet access. It installs INSTALL_K3S_VERSION = clusters.k3s.version.")
    install_source: str | None = Field(
        default=None, description="Local path or mirror URL of the k3s binary and images (air-gapped install)."
    )
