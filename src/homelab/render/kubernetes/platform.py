"""The platform's Helm releases: one per enabled component (democratic-csi: one per protocol).

A `Release` is what `argocd.py` deploys as an ArgoCD Application and what `docs/` lists: its chart,
namespace, sync wave (charts that bring CRDs others need come first), description, and the
out-of-band prerequisites it needs when the lab does not render them (credentials Secrets without
external-secrets). Its values come from `charts.py`; `files()` writes them to
`<values_path>/platform/<release>.yaml`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from homelab.lab.parts import component_on
from homelab.lab.vault_access import external_secrets_on
from homelab.render.base import RenderedFile
from homelab.render.kubernetes.charts import platform_values
from homelab.render.kubernetes.common import WAVES, platform_values_file, yaml_file
from homelab.render.kubernetes.external_secrets import store_credentials
from homelab.render.kubernetes.monitoring import grafana_admin_on, grafana_admin_requires
from homelab.render.kubernetes.storage import (
    DRIVER_CONFIG_KEY,
    csi_classes,
    csi_protocols,
    csi_release,
    democratic_csi_on,
    driver_config_secret,
)
from homelab.render.kubernetes.velero import VELERO_CREDENTIALS, VELERO_RELEASE

OPERATORS = ("external_secrets", "metallb", "cert_manager")


@dataclass
class Release:
    """One Helm release of a platform component, deployed by one ArgoCD Application."""

    name: str  # Application name, Helm release name and values file stem
    component: str  # key in lab.platform (metallb, democratic_csi, ...)
    namespace: str
    chart: object  # homelab.lab.models.gitops.Chart
    values: dict
    wave: int
    description: str
    sync_options: list[str] = field(default_factory=list)
    requires: list[str] = field(default_factory=list)  # out-of-band prerequisites, documented
    other_namespaces: list[str] = field(default_factory=list)  # where the chart also puts objects


# Objects above 256 KiB (CRDs) cannot go through client-side apply: kubectl keeps the whole object in the
# last-applied annotation, and annotations may hold 262,144 bytes in all. ArgoCD applies them server-side.
SERVER_SIDE_APPLY = ["ServerSideApply=true"]


def platform_releases(lab) -> list[Release]:
    """Every enabled platform component as Helm releases (democratic-csi is two: iSCSI and NFS)."""
    p = lab.platform
    eso = external_secrets_on(lab)
    out: list[Release] = []

    def add(component: str, name: str, description: str, variant: str | None = None, **kw):
        comp = getattr(p, component)
        wave = WAVES["operators"] if component in OPERATORS else WAVES["platform"]
        out.append(Release(name, component, comp.namespace, comp.chart, platform_values(lab, component, variant),
                           wave, description, **kw))

    if p.metallb.enabled:
        add("metallb", "metallb", "MetalLB: LoadBalancer addresses for bare metal (L2 mode)")
    if p.cert_manager.enabled:
        add("cert_manager", "cert-manager", "cert-manager: a certificate for every Ingress from the lab's CA")
    if p.external_secrets.enabled:
        # external-secrets 2.9.0 templates/crds: clustersecretstores and secretstores are ~360 KB each.
        add("external_secrets", "external-secrets",
            "External Secrets Operator: syncs Vault KV v2 fields into Kubernetes Secrets",
            requires=[store_credentials(lab)] if eso else [], sync_options=SERVER_SIDE_APPLY)
    if p.traefik.enabled:
        add("traefik", "traefik", "Traefik ingress controller (LoadBalancer from MetalLB)")
    if democratic_csi_on(lab):
        for protocol in csi_protocols(lab):
            requires = [] if eso else [
                f"Secret {p.democratic_csi.namespace}/{driver_config_secret(protocol)} with key {DRIVER_CONFIG_KEY}"]
            add("democratic_csi", csi_release(protocol),
                f"democratic-csi {protocol.upper()} driver for TrueNAS: StorageClass "
                + ", ".join(c.name for c in csi_classes(lab, protocol)), protocol, requires=requires)
    if p.kube_prometheus_stack.enabled:
        # kube-prometheus-stack 75.18.1: charts/crds (prometheuses ~460 KB, ...) need server-side apply; its
        # templates/exporters/{core-dns,kube-controller-manager,kube-etcd,kube-proxy,kube-scheduler}/service.yaml
        # put the control-plane exporters' Services in kube-system.
        add("kube_prometheus_stack", "kube-prometheus-stack",
            "Prometheus, Alertmanager and Grafana (kube-prometheus-stack)", sync_options=SERVER_SIDE_APPLY,
            other_namespaces=["kube-system"],
            requires=[grafana_admin_requires(lab)] if grafana_admin_on(lab) and not eso else [])
    if component_on(lab, "nvidia_device_plugin"):  # enabled, and the lab has GPU nodes
        add("nvidia_device_plugin", "nvidia-device-plugin",
            "NVIDIA device plugin: advertises nvidia.com/gpu on the GPU nodes")
    if p.velero.enabled:
        requires = [] if eso else [
            f"Secret {p.velero.namespace}/{VELERO_CREDENTIALS} with key cloud (AWS credentials file)"]
        add("velero", VELERO_RELEASE, "Velero: Kubernetes backups to S3-compatible storage", requires=requires)
    return sorted(out, key=lambda r: r.name)


def files(lab) -> list[RenderedFile]:
    return [yaml_file(platform_values_file(lab, rel.name), [rel.values],
                      f"Helm values for {rel.chart.name} {rel.chart.version} (release {rel.name}).")
            for rel in platform_releases(lab)]
