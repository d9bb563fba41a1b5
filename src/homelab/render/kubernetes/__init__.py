"""Kubernetes manifests and Helm values for the K3s cluster (pure: lab in, files out).

What this renders (ArgoCD `Application`s that deploy them are rendered by `argocd.py`), module by module:

- `namespaces`: `k8s/platform/namespaces.yaml`, every lab namespace, every app namespace and every
  enabled component's namespace, labelled, never pruned.
- `metallb`: `k8s/platform/metallb-pool.yaml`, the MetalLB `IPAddressPool` (= `network.pools.metallb`)
  and an `L2Advertisement`, in MetalLB's namespace (platform-facts §6).
- `cert_manager`: `k8s/platform/cert-manager-issuers.yaml` (the internal CA's ClusterIssuer, Let's Encrypt's)
  and `k8s/platform/trust-bundle.yaml` (the lab's root CA as ConfigMap `homelab-ca` in every namespace);
  every Ingress names its issuer and Secret (cert-manager's ingress-shim makes the Certificates).
- `external_secrets`: `k8s/platform/external-secrets-store.yaml`, a `ClusterSecretStore` for Vault KV v2
  that logs in as the lab's read-only Vault user for it (credentials created out of band, never
  rendered), and `k8s/apps/<ns>/<app>.secrets.yaml`, `ExternalSecret`s that sync Vault fields into the
  app's Secret: path and field only, never a value.
- `storage`: `k8s/platform/democratic-csi-secrets.yaml`, democratic-csi's driver configs templated by
  external-secrets with the TrueNAS API key from Vault.
- `monitoring`: `k8s/platform/grafana-admin.yaml`, Grafana's admin login from Vault (external-secrets).
- `gpu`: `k8s/platform/nvidia-runtimeclass.yaml`, the `nvidia` RuntimeClass GPU pods name.
- `images`: what some images need besides a port (env, args, a Redis broker), for app-template apps.
- `velero`: `k8s/platform/velero-credentials.yaml` (its S3 credentials, likewise); Velero's `Schedule`s
  are values of its chart (lab.backup.velero + per-app backups).
- `platform`: the platform's Helm releases and `<values_path>/platform/<release>.yaml`.
- `charts`: the values homelab gives each chart (one table, `CHART_VALUES`) and `<values_path>/<app>.yaml`,
  each in its chart's own values shape (bjw-s app-template v4, otwld ollama, pajikos home-assistant,
  mojo2600 pihole, democratic-csi, Traefik, Velero, NVIDIA device plugin...), the lab's `values`
  deep-merged last. They compose `pieces` (image, resources, env from secrets, ingress, persistence)
  and `gpu` (scheduling on the GPU nodes).
- `common`: sync waves, labels, metadata, paths and the YAML file writer everything shares.

Sync waves (annotation `argocd.argoproj.io/sync-wave`) order everything inside the one root
application: namespaces, then CRD-providing charts, then their custom resources, then the charts that
need those, then app secrets, then apps (see `common.WAVES`).
"""

from __future__ import annotations

from collections.abc import Iterable

from homelab.render.base import RenderedFile
from homelab.render.kubernetes import (
    cert_manager,
    charts,
    external_secrets,
    gpu,
    metallb,
    monitoring,
    namespaces,
    platform,
    storage,
    velero,
)
from homelab.render.kubernetes.common import has_cluster_content


def render(doc) -> Iterable[RenderedFile]:
    lab = doc.lab
    if not has_cluster_content(lab):
        return []
    return [
        *namespaces.files(lab),
        *metallb.files(lab),
        *external_secrets.store_files(lab),
        *cert_manager.files(lab),
        *storage.files(lab),
        *velero.credentials_files(lab),
        *monitoring.files(lab),
        *gpu.files(lab),
        *external_secrets.app_secret_files(lab),
        *platform.files(lab),
        *charts.app_values_files(lab),
    ]
