from __future__ import annotations

from pydantic import Field

from homelab.lab.models.gitops import Chart
from homelab.lab.types import IPv4, Model


def _chart(repo: str, name: str, version: str) -> Chart:
    return Chart(repo=repo, name=name, version=version)


class Component(Model):
    """A platform component deployed by ArgoCD."""

    enabled: bool = True
    namespace: str
    chart: Chart
    values: dict = Field(default_factory=dict, description="Extra Helm values merged over homelab's.")


class Traefik(Component):
    """The ingress controller, exposed as a MetalLB LoadBalancer Service."""

    load_balancer_ip: IPv4 | None = Field(
        default=None, description="Fixed address of Traefik's LoadBalancer Service, inside network.pools.metallb "
        "(the address the lab's DNS names point at); unset: MetalLB picks one from the pool.")


class Monitoring(Component):
    """kube-prometheus-stack (Prometheus, Alertmanager, Grafana)."""

    grafana_admin: str | None = Field(
        default=None, pattern=r"^[^#\s]+#[^#\s]+$",
        description="Vault secret 'path#field' of Grafana's admin password (user admin); unset leaves the chart's "
        "default password.")


def _component(namespace: str, repo: str, name: str, version: str, enabled: bool = True, kind=Component):
    return Field(default=kind(enabled=enabled, namespace=namespace, chart=_chart(repo, name, version)))


class Platform(Model):
    """Cluster-wide components. Versions are pinned; see platform-facts for sources."""

    metallb: Component = _component("metallb-system", "https://metallb.github.io/metallb", "metallb", "0.16.1")
    traefik: Traefik = _component("traefik", "https://traefik.github.io/charts", "traefik", "41.3.0", kind=Traefik)
    kube_prometheus_stack: Monitoring = _component(
        "prometheus", "https://prometheus-community.github.io/helm-charts", "kube-prometheus-stack", "75.18.1",
        kind=Monitoring,
    )
    democratic_csi: Component = _component(
        "democratic-csi", "https://democratic-csi.github.io/charts/", "democratic-csi", "0.15.1"
    )
    nvidia_device_plugin: Component = _component(
        "nvidia-device-plugin", "https://nvidia.github.io/k8s-device-plugin", "nvidia-device-plugin", "0.20.0"
    )
    cert_manager: Component = _component(
        "cert-manager", "https://charts.jetstack.io", "cert-manager", "v1.21.1", enabled=False
    )
    external_secrets: Component = _component(
        "external-secrets", "https://charts.external-secrets.io", "external-secrets", "2.9.0", enabled=False
    )
    velero: Component = _component(
        "velero", "https://vmware-tanzu.github.io/helm-charts", "velero", "12.1.0", enabled=False
    )

    def components(self) -> dict[str, Component]:
        return {name: getattr(self, name) for name in type(self).model_fields}
