"""Grafana's admin login (kube-prometheus-stack): `k8s/platform/grafana-admin.yaml`.

With `platform.kube_prometheus_stack.grafana_admin` (a Vault 'path#field'), Grafana's admin password
comes from Vault instead of the chart's well-known default: an `ExternalSecret` (with external-secrets)
templates the Secret `grafana-admin` (keys `admin-user`: admin, `admin-password`) that the chart's
`grafana.admin.existingSecret` points at (values in `charts.py`). Without external-secrets that Secret
is created out of band (a `requires` of the release).
"""

from __future__ import annotations

from homelab.lab.refs import parse_ref
from homelab.lab.vault_access import external_secrets_on
from homelab.render.base import RenderedFile
from homelab.render.kubernetes.common import WAVES, yaml_file
from homelab.render.kubernetes.external_secrets import external_secret

GRAFANA_ADMIN_SECRET = "grafana-admin"
GRAFANA_ADMIN_USER = "admin"


def grafana_admin_on(lab) -> bool:
    kps = lab.platform.kube_prometheus_stack
    return kps.enabled and bool(kps.grafana_admin)


def grafana_admin_requires(lab) -> str:
    ns = lab.platform.kube_prometheus_stack.namespace
    return f"Secret {ns}/{GRAFANA_ADMIN_SECRET} with keys admin-user, admin-password (Grafana's admin login)"


def grafana_admin_secret(lab) -> dict:
    path, fields = parse_ref(lab.platform.kube_prometheus_stack.grafana_admin)
    template = {"engineVersion": "v2", "data": {"admin-user": GRAFANA_ADMIN_USER,
                                                "admin-password": "{{ .password }}"}}
    return external_secret(
        GRAFANA_ADMIN_SECRET, lab.platform.kube_prometheus_stack.namespace, [("password", path, fields[0])],
        wave=WAVES["platform-secrets"], template=template,
        description=f"Grafana's admin login; the password comes from Vault {path}#{fields[0]}",
    )


def files(lab) -> list[RenderedFile]:
    if not (external_secrets_on(lab) and grafana_admin_on(lab)):
        return []
    return [yaml_file("k8s/platform/grafana-admin.yaml", [grafana_admin_secret(lab)],
                      "Grafana's admin login for kube-prometheus-stack, rendered by external-secrets from Vault.")]
