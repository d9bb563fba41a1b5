"""Kubernetes manifests and Helm values for the K3s cluster (pure: lab in, files out).

What this renders (ArgoCD `Application`s that deploy them are rendered by `argocd.py`):

- `k8s/platform/namespaces.yaml`: every lab namespace, every app namespace and every enabled
  component's namespace, labelled, never pruned.
- `k8s/platform/metallb-pool.yaml`: the MetalLB `IPAddressPool` (= `network.pools.metallb`) and an
  `L2Advertisement`, in MetalLB's namespace (platform-facts §6).
- `k8s/platform/external-secrets-store.yaml`: a `ClusterSecretStore` for Vault KV v2. It logs in with
  userpass as the lab's dedicated Vault user for it (see `external_secrets_user`: read-only, reads every
  path the ExternalSecrets use and no other secret tree; the reference lab's `external-secrets` user and
  policy), the password in a Secret created out of band. Without such a user (or without userpass) it
  falls back to a token from an out-of-band Secret. Credentials are never rendered.
- `k8s/platform/*-secrets.yaml`, `k8s/apps/<ns>/<app>.secrets.yaml`: `ExternalSecret`s that sync Vault
  fields into Kubernetes Secrets: path and field only, never a value.
- `k8s/platform/velero-schedules.yaml`: Velero `Schedule`s (lab.backup.velero + per-app backups).
- `<values_path>/<app>.yaml` and `<values_path>/platform/<release>.yaml`: Helm values in each chart's
  own values shape (bjw-s app-template v4, otwld ollama, pajikos home-assistant, mojo2600 pihole,
  democratic-csi, Traefik, Velero, NVIDIA device plugin...), the lab's `values` deep-merged last.

Sync waves (annotation `argocd.argoproj.io/sync-wave`) order everything inside the one root
application: namespaces, then CRD-providing charts, then their custom resources, then the charts that
need those, then app secrets, then apps (see `WAVES`).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from homelab.lab.refs import parse_ref
from homelab.lab.vault_access import (  # noqa: F401 - part of this module's API
    STORE_USER,
    external_secret_paths,
    external_secrets_on,
    external_secrets_user,
    store_user_gaps,
    user_kv_capabilities,
    vault_server,
)
from homelab.render.base import RenderedFile, header
from homelab.render.serializers import LiteralStr, dump_yaml, dump_yaml_documents

IN_CLUSTER = "https://kubernetes.default.svc"
MANAGED_BY = {"app.kubernetes.io/managed-by": "homelab"}
WAVE = "argocd.argoproj.io/sync-wave"
SYNC_OPTIONS = "argocd.argoproj.io/sync-options"

# Sync waves inside the root application (lower first). A wave waits until everything in the waves
# before it is healthy (child Applications too: argocd-values.yaml restores their health check).
WAVES = {
    "projects": -20,
    "namespaces": -10,
    "operators": -9,  # charts that bring CRDs others need: external-secrets, metallb, cert-manager, argocd
    "operator-config": -8,  # their custom resources: ClusterSecretStore, IPAddressPool, L2Advertisement
    "platform-secrets": -7,  # ExternalSecrets the next charts mount (democratic-csi config, velero creds)
    "platform": -6,  # everything else on the platform
    "platform-config": -5,  # CRs of those charts (Velero Schedules)
    "app-secrets": -1,
    "apps": 0,
}
OPERATORS = ("external_secrets", "metallb", "cert_manager")

GPU_RUNTIME_CLASS = "nvidia"  # shipped by K3s when it detects the NVIDIA container runtime (facts §3)
GPU_RESOURCE = "nvidia.com/gpu"
SECRET_STORE = "vault"
VAULT_TOKEN_SECRET = {"name": "vault-token", "key": "token"}
VAULT_PASSWORD_SECRET = {"name": "vault-userpass", "key": "password"}
USERPASS_MOUNT = "userpass"  # where `homelab vault configure` enables userpass
VAULT_CA_CONFIGMAP = {"name": "step-ca-root", "key": "root_ca.crt"}
METALLB_POOL = "default-pool"
METALLB_L2 = "default-l2"
VELERO_CREDENTIALS = "velero-credentials"
# velero/velero-plugin-for-aws minor line paired with Velero 1.18 (1.14 <-> plugin 1.10, ... 1.18 <-> 1.14).
VELERO_AWS_PLUGIN = "velero/velero-plugin-for-aws:v1.14.0"
BACKUP_CRON = {"hourly": "15 * * * *", "daily": "30 3 * * *", "weekly": "30 3 * * 0"}


# --------------------------------------------------------------------------------------------- helpers


def quantity(n: int) -> str:
    """Bytes -> Kubernetes quantity with a binary suffix (`8Gi`, `4Ti`, `512Mi`)."""
    for suffix, factor in (("Ti", 1024**4), ("Gi", 1024**3), ("Mi", 1024**2), ("Ki", 1024)):
        if n >= factor and n % factor == 0:
            return f"{n // factor}{suffix}"
    return str(n)


def deep_merge(base: dict, override: dict) -> dict:
    """Helm-style merge: maps merge recursively, anything else (lists too) is replaced by `override`."""
    out = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def sorted_keys(value):
    """User-given values with mapping keys sorted: key order in homelab.yaml must not change the output."""
    if isinstance(value, dict):
        return {k: sorted_keys(value[k]) for k in sorted(value, key=str)}
    if isinstance(value, list):
        return [sorted_keys(v) for v in value]
    return value


def argocd(lab):
    return lab.gitops.argocd if lab.gitops else None


def values_path(lab) -> str:
    cd = argocd(lab)
    return (cd.values_path if cd else "k8s/values").strip("/")


def app_values_file(lab, app) -> str:
    return f"{values_path(lab)}/{app.name}.yaml"


def platform_values_file(lab, release: str) -> str:
    return f"{values_path(lab)}/platform/{release}.yaml"


def sorted_apps(lab) -> list:
    return sorted(lab.apps, key=lambda a: (a.namespace, a.name))


def gpu_node_selector(lab) -> dict:
    label = lab.clusters.k3s.gpu.label if lab.clusters.k3s else "accelerator=nvidia-tesla-gpu"
    key, _, value = label.partition("=")
    return {key: value}


def gpu_toleration(lab) -> dict:
    taint = lab.clusters.k3s.gpu.taint if lab.clusters.k3s else "nvidia.com/gpu=true:NoSchedule"
    key_value, _, effect = taint.rpartition(":")
    key, eq, value = key_value.partition("=")
    if eq:
        return {"key": key, "operator": "Equal", "value": value, "effect": effect}
    return {"key": key, "operator": "Exists", "effect": effect}


def ingress_class(lab) -> str | None:
    return "traefik" if lab.platform.traefik.enabled else None


def env_name(field_name: str) -> str:
    name = re.sub(r"[^A-Za-z0-9_]", "_", field_name).upper()
    return name if not name[:1].isdigit() else f"_{name}"


def app_secret_name(app) -> str:
    return f"{app.name}-secrets"


@dataclass(frozen=True)
class SecretKey:
    path: str  # Vault KV path below the mount
    field: str
    key: str  # key inside the Kubernetes Secret
    env: str  # environment variable in the container


def app_secret_keys(app) -> list[SecretKey]:
    """Each distinct (path, field) the app uses, with its key in `<app>-secrets` and its env var name."""
    uses: dict[tuple[str, str], SecretKey] = {}
    fields = [u.field for u in app.secrets]
    for use in app.secrets:
        if (use.path, use.field) in uses:
            continue
        key = use.field if fields.count(use.field) == 1 else f"{use.path.replace('/', '_')}_{use.field}"
        uses[(use.path, use.field)] = SecretKey(use.path, use.field, key, use.env or env_name(use.field))
    return list(uses.values())


def namespaces(lab) -> list[str]:
    names = set(lab.namespaces) | {a.namespace for a in lab.apps}
    names |= {c.namespace for c in lab.platform.components().values() if c.enabled}
    if lab.gitops:
        names.add(lab.gitops.argocd.namespace)
    return sorted(names)


# --------------------------------------------------------------------------------- platform releases


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


def platform_releases(lab) -> list[Release]:
    """Every enabled platform component as Helm releases (democratic-csi is two: iSCSI and NFS)."""
    p = lab.platform
    out: list[Release] = []

    def add(component: str, name: str, values: dict, description: str, **kw):
        comp = getattr(p, component)
        wave = WAVES["operators"] if component in OPERATORS else WAVES["platform"]
        out.append(Release(name, component, comp.namespace, comp.chart, deep_merge(values, sorted_keys(comp.values)),
                           kw.pop("wave", wave), description, **kw))

    if p.metallb.enabled:
        add("metallb", "metallb", {}, "MetalLB: LoadBalancer addresses for bare metal (L2 mode)")
    if p.cert_manager.enabled:
        add("cert_manager", "cert-manager", {"crds": {"enabled": True}}, "cert-manager: certificates")
    if p.external_secrets.enabled:
        add("external_secrets", "external-secrets", {"installCRDs": True},
            "External Secrets Operator: syncs Vault KV v2 fields into Kubernetes Secrets",
            requires=[store_credentials(lab)] if external_secrets_on(lab) else [])
    if p.traefik.enabled:
        add("traefik", "traefik", _traefik_values(lab), "Traefik ingress controller (LoadBalancer from MetalLB)")
    if p.democratic_csi.enabled and lab.storage.truenas:
        for protocol in ("iscsi", "nfs"):
            classes = [c for c in lab.storage.classes if c.protocol == protocol]
            if not classes:
                continue
            name = f"democratic-csi-{protocol}"
            requires = [] if external_secrets_on(lab) else [
                f"Secret {p.democratic_csi.namespace}/{name}-driver-config with key driver-config-file.yaml"]
            add("democratic_csi", name, _democratic_csi_values(lab, protocol, classes),
                f"democratic-csi {protocol.upper()} driver for TrueNAS: StorageClass "
                + ", ".join(c.name for c in classes), requires=requires)
    if p.kube_prometheus_stack.enabled:
        add("kube_prometheus_stack", "kube-prometheus-stack", _kube_prometheus_values(lab),
            "Prometheus, Alertmanager and Grafana (kube-prometheus-stack)",
            sync_options=["ServerSideApply=true"])
    if p.nvidia_device_plugin.enabled:
        add("nvidia_device_plugin", "nvidia-device-plugin", _nvidia_values(lab),
            "NVIDIA device plugin: advertises nvidia.com/gpu on the GPU nodes")
    if p.velero.enabled:
        requires = [] if external_secrets_on(lab) else [
            f"Secret {p.velero.namespace}/{VELERO_CREDENTIALS} with key cloud (AWS credentials file)"]
        add("velero", "velero", _velero_values(lab), "Velero: Kubernetes backups to S3-compatible storage",
            requires=requires)
    return sorted(out, key=lambda r: r.name)


def _traefik_values(lab) -> dict:
    return {
        "ingressClass": {"enabled": True, "isDefaultClass": True},
        "service": {"type": "LoadBalancer"},  # an address from the MetalLB pool
    }


def _kube_prometheus_values(lab) -> dict:
    # Pick up ServiceMonitors/PodMonitors of every release, not only this chart's own.
    return {"prometheus": {"prometheusSpec": {
        "podMonitorSelectorNilUsesHelmValues": False,
        "serviceMonitorSelectorNilUsesHelmValues": False,
    }}}


def _nvidia_values(lab) -> dict:
    return {
        "runtimeClassName": GPU_RUNTIME_CLASS,
        "nodeSelector": gpu_node_selector(lab),
        # The chart's default affinity wants NFD labels (feature.node.kubernetes.io/pci-10de.present);
        # without NFD the plugin would never schedule. null removes the default (Helm semantics).
        "affinity": None,
        "tolerations": [gpu_toleration(lab), {"key": "CriticalAddonsOnly", "operator": "Exists"}],
    }


def _velero_values(lab) -> dict:
    velero = lab.backup.velero
    values: dict = {
        "initContainers": [{
            "name": "velero-plugin-for-aws",
            "image": VELERO_AWS_PLUGIN,
            "imagePullPolicy": "IfNotPresent",
            "volumeMounts": [{"mountPath": "/target", "name": "plugins"}],
        }],
        "credentials": {"useSecret": True, "existingSecret": VELERO_CREDENTIALS},
        "snapshotsEnabled": False,
        "deployNodeAgent": True,  # file-system backup of PVC data (kopia)
    }
    if velero and velero.bucket:
        config = {"region": "minio", "s3ForcePathStyle": "true"}
        if velero.s3_url:
            config["s3Url"] = velero.s3_url
        values["configuration"] = {"backupStorageLocation": [{
            "name": "default", "provider": "aws", "bucket": velero.bucket, "default": True, "config": config,
        }]}
    return values


def _democratic_csi_values(lab, protocol: str, classes) -> dict:
    name = f"democratic-csi-{protocol}"
    storage_classes = []
    for sc in sorted(classes, key=lambda c: c.name):
        entry = {
            "name": sc.name,
            "defaultClass": sc.default,
            "reclaimPolicy": sc.reclaim_policy,
            "volumeBindingMode": "Immediate",
            "allowVolumeExpansion": True,
            "parameters": {"fsType": sc.fs_type or ("ext4" if protocol == "iscsi" else "nfs")},
            "mountOptions": [] if protocol == "iscsi" else ["noatime", "nfsvers=3"],
        }
        storage_classes.append(entry)
    values: dict = {
        "csiDriver": {"name": f"org.democratic-csi.{protocol}"},
        "storageClasses": storage_classes,
        "volumeSnapshotClasses": [],
        "driver": {
            # The chart requires driver.config; with existingConfigSecret it mounts that Secret instead
            # of rendering one, so the TrueNAS API key never passes through Helm values.
            "config": {"driver": f"freenas-api-{protocol}"},
            "existingConfigSecret": f"{name}-driver-config",
        },
    }
    if protocol == "nfs":
        values["csiDriver"]["fsGroupPolicy"] = "File"
    return values


def democratic_csi_driver_config(lab, protocol: str, api_key_placeholder: str) -> dict:
    """The democratic-csi driver config file (freenas-api-* drivers: HTTP API only, no SSH)."""
    nas = lab.storage.truenas
    parent = nas.datasets.get(protocol, f"{nas.pool}/k8s/{protocol}").strip("/")
    config: dict = {
        "driver": f"freenas-api-{protocol}",
        "httpConnection": {
            "protocol": "https", "host": nas.host, "port": 443,
            "apiKey": api_key_placeholder, "allowInsecure": True,
        },
        "zfs": {
            "datasetParentName": f"{parent}/v",
            "detachedSnapshotsDatasetParentName": f"{parent}/s",
        },
    }
    if protocol == "iscsi":
        config["zfs"].update({"zvolCompression": "", "zvolDedup": "", "zvolEnableReservation": False,
                              "zvolBlocksize": ""})
        config["iscsi"] = {
            "targetPortal": nas.iscsi_portal or f"{nas.host}:3260",
            "namePrefix": "csi-",
            "nameSuffix": f"-{lab.name}",
            "targetGroups": [{"targetGroupPortalGroup": 1, "targetGroupInitiatorGroup": 1,
                              "targetGroupAuthType": "None"}],
            "extentInsecureTpc": True,
            "extentXenCompat": False,
            "extentDisablePhysicalBlocksize": True,
            "extentBlocksize": 512,
            "extentRpm": "SSD",
            "extentAvailThreshold": 0,
        }
    else:
        config["zfs"].update({"datasetEnableQuotas": True, "datasetEnableReservation": False,
                              "datasetPermissionsMode": "0777", "datasetPermissionsUser": 0,
                              "datasetPermissionsGroup": 0})
        config["nfs"] = {
            "shareHost": nas.nfs_server or nas.host,
            "shareAlldirs": False,
            "shareAllowedHosts": [],
            "shareAllowedNetworks": list(nas.allowed_networks),
            "shareMaprootUser": "root",
            "shareMaprootGroup": "root",
            "shareMapallUser": "",
            "shareMapallGroup": "",
        }
    return config


# -------------------------------------------------------------------------------------- app values


def _resources(app) -> dict:
    requests: dict = {}
    limits: dict = {}
    r = app.resources
    if r:
        if r.cpu:
            requests["cpu"] = r.cpu
        if r.memory:
            requests["memory"] = quantity(r.memory)
        if r.cpu_limit:
            limits["cpu"] = r.cpu_limit
        if r.memory_limit:
            limits["memory"] = quantity(r.memory_limit)
    if app.gpu:
        limits[GPU_RESOURCE] = app.gpu
    out = {}
    if requests:
        out["requests"] = requests
    if limits:
        out["limits"] = limits
    return out


def _scheduling(lab, app) -> dict:
    """nodeSelector / tolerations / runtimeClassName for GPU workloads (empty otherwise)."""
    if not app.gpu:
        return {}
    return {
        "nodeSelector": gpu_node_selector(lab),
        "tolerations": [gpu_toleration(lab)],
        "runtimeClassName": GPU_RUNTIME_CLASS,
    }


def _env_from_secrets(app) -> list[dict]:
    return [{"name": k.env, "valueFrom": {"secretKeyRef": {"name": app_secret_name(app), "key": k.key}}}
            for k in app_secret_keys(app)]


def _image(app) -> dict:
    return {"repository": app.image.repository, "tag": app.image.tag} if app.image else {}


def _app_template_values(lab, app) -> dict:
    """bjw-s app-template v4: controllers / service / ingress / persistence (facts §5)."""
    container: dict = {}
    if app.image:
        container["image"] = _image(app)
    env = {k.env: {"valueFrom": {"secretKeyRef": {"name": app_secret_name(app), "key": k.key}}}
           for k in app_secret_keys(app)}
    if env:
        container["env"] = env
    resources = _resources(app)
    if resources:
        container["resources"] = resources
    controller: dict = {}
    if any(v.access_mode == "ReadWriteOnce" for v in app.storage):
        controller["strategy"] = "Recreate"  # an RWO volume cannot be attached to two pods at once
    scheduling = _scheduling(lab, app)
    if scheduling:
        controller["pod"] = scheduling
    controller["containers"] = {"main": container}
    values: dict = {"controllers": {"main": controller}}
    if app.port:
        values["service"] = {"main": {"controller": "main", "ports": {"http": {"port": app.port}}}}
    if app.ingress and app.port:
        ingress: dict = {}
        if ingress_class(lab):
            ingress["className"] = ingress_class(lab)
        ingress["hosts"] = [{"host": app.ingress, "paths": [
            {"path": "/", "pathType": "Prefix", "service": {"identifier": "main", "port": "http"}}]}]
        values["ingress"] = {"main": ingress}
    if app.storage:
        persistence = {}
        for vol in app.storage:
            entry: dict = {"type": "persistentVolumeClaim", "accessMode": vol.access_mode, "size": quantity(vol.size)}
            if vol.class_:
                entry["storageClass"] = vol.class_
            entry["globalMounts"] = [{"path": vol.mount}]
            persistence[vol.name] = entry
        values["persistence"] = persistence
    return values


def _ollama_values(lab, app) -> dict:
    """otwld/ollama-helm: `ollama.gpu.*`, top-level runtimeClassName, `persistentVolume` (facts §5)."""
    values: dict = {}
    if app.image:
        values["image"] = _image(app)
    ollama: dict = {}
    if app.gpu:
        ollama["gpu"] = {"enabled": True, "type": "nvidia", "number": app.gpu, "nvidiaResource": GPU_RESOURCE}
    if app.storage:
        ollama["mountPath"] = app.storage[0].mount
    if ollama:
        values["ollama"] = ollama
    if app.port:
        values["service"] = {"port": app.port}  # also the container port in this chart
    resources = _resources(app)
    if resources:
        values["resources"] = resources
    values.update(_scheduling(lab, app))
    env = _env_from_secrets(app)
    if env:
        values["extraEnv"] = env
    if app.ingress:
        values["ingress"] = _helm_create_ingress(lab, app)
    if app.storage:
        vol = app.storage[0]  # the chart has one data volume: the model cache
        pv: dict = {"enabled": True, "accessModes": [vol.access_mode], "size": quantity(vol.size)}
        if vol.class_:
            pv["storageClass"] = vol.class_
        values["persistentVolume"] = pv
    return values


def _helm_create_ingress(lab, app) -> dict:
    """The `helm create` ingress shape (ollama, home-assistant and most community charts)."""
    ingress: dict = {"enabled": True}
    if ingress_class(lab):
        ingress["className"] = ingress_class(lab)
    ingress["hosts"] = [{"host": app.ingress, "paths": [{"path": "/", "pathType": "Prefix"}]}]
    return ingress


def _home_assistant_values(lab, app) -> dict:
    """pajikos/home-assistant-helm-chart: image, service.port, env[], ingress, persistence (facts §5)."""
    values: dict = {}
    if app.image:
        values["image"] = _image(app)
    if app.port:
        values["service"] = {"port": app.port}
    env = _env_from_secrets(app)
    if env:
        values["env"] = env
    resources = _resources(app)
    if resources:
        values["resources"] = resources
    sched = _scheduling(lab, app)
    sched.pop("runtimeClassName", None)  # the chart has no runtimeClassName value
    values.update(sched)
    if app.ingress:
        values["ingress"] = _helm_create_ingress(lab, app)
        # Home Assistant rejects proxied requests unless the proxy is trusted: Traefik runs in the pod network.
        cidr = lab.clusters.k3s.cluster_cidr if lab.clusters.k3s else "10.42.0.0/16"
        values["configuration"] = {"enabled": True, "trusted_proxies": [cidr]}
    if app.storage:
        vol = app.storage[0]
        persistence: dict = {"enabled": True, "accessMode": vol.access_mode, "size": quantity(vol.size)}
        if vol.class_:
            persistence["storageClass"] = vol.class_
        values["persistence"] = persistence
    return values


def _pihole_values(lab, app) -> dict:
    """MoJo2600/pihole-kubernetes: image, persistentVolumeClaim, ingress{hosts: [str]}, admin.existingSecret."""
    values: dict = {}
    if app.image:
        values["image"] = _image(app)
    keys = app_secret_keys(app)
    admin = next((k for k in keys if "password" in k.field.lower()), None)
    if admin:
        values["admin"] = {"existingSecret": app_secret_name(app), "passwordKey": admin.key}
    extra = {k.env: {"name": app_secret_name(app), "key": k.key} for k in keys if k is not admin}
    if extra:
        values["extraEnvVarsSecret"] = extra
    resources = _resources(app)
    if resources:
        values["resources"] = resources
    sched = _scheduling(lab, app)
    sched.pop("runtimeClassName", None)
    values.update(sched)
    if app.ingress:
        ingress: dict = {"enabled": True}
        if ingress_class(lab):
            ingress["ingressClassName"] = ingress_class(lab)
        ingress.update({"hosts": [app.ingress], "path": "/", "pathType": "Prefix"})
        values["ingress"] = ingress
    if app.storage:
        vol = app.storage[0]
        pvc: dict = {"enabled": True, "accessModes": [vol.access_mode], "size": quantity(vol.size)}
        if vol.class_:
            pvc["storageClass"] = vol.class_
        values["persistentVolumeClaim"] = pvc
    return values


def _generic_values(lab, app) -> dict:
    """Any other chart: the `helm create` conventions most charts follow."""
    values: dict = {}
    if app.image:
        values["image"] = _image(app)
    env = _env_from_secrets(app)
    if env:
        values["env"] = env
    resources = _resources(app)
    if resources:
        values["resources"] = resources
    values.update(_scheduling(lab, app))
    if app.ingress:
        values["ingress"] = _helm_create_ingress(lab, app)
    if app.storage:
        vol = app.storage[0]
        persistence: dict = {"enabled": True, "accessMode": vol.access_mode, "size": quantity(vol.size)}
        if vol.class_:
            persistence["storageClass"] = vol.class_
        values["persistence"] = persistence
    return values


CHART_FLAVOURS = {
    "app-template": _app_template_values,
    "ollama": _ollama_values,
    "home-assistant": _home_assistant_values,
    "pihole": _pihole_values,
}


def app_values(lab, app) -> dict:
    build = CHART_FLAVOURS.get(app.chart.name, _generic_values)
    return deep_merge(build(lab, app), sorted_keys(app.values))


# ------------------------------------------------------------------------------------- manifests


def _meta(name: str, namespace: str | None = None, *, wave: int | None = None, labels: dict | None = None,
          annotations: dict | None = None) -> dict:
    meta: dict = {"name": name}
    if namespace:
        meta["namespace"] = namespace
    meta["labels"] = {**MANAGED_BY, **(labels or {})}
    ann = dict(annotations or {})
    if wave is not None:
        ann[WAVE] = str(wave)
    if ann:
        meta["annotations"] = dict(sorted(ann.items()))
    return meta


def _crd_options() -> dict:
    # The CRD arrives with its chart in an earlier wave; skip the dry run that would fail before it exists.
    return {SYNC_OPTIONS: "SkipDryRunOnMissingResource=true"}


# Components whose pods need host access (CSI node plugin, device plugin, node agents, L2 speaker,
# node-exporter): their namespaces are labelled for the privileged Pod Security Standard.
PRIVILEGED_COMPONENTS = ("democratic_csi", "kube_prometheus_stack", "metallb", "nvidia_device_plugin", "velero")


def namespace_objects(lab) -> list[dict]:
    components = lab.platform.components()
    platform_ns = {c.namespace for c in components.values() if c.enabled}
    privileged = {components[k].namespace for k in PRIVILEGED_COMPONENTS if components[k].enabled}
    app_ns = {a.namespace for a in lab.apps}
    objs = []
    for ns in namespaces(lab):
        role = "platform" if ns in platform_ns or (lab.gitops and ns == lab.gitops.argocd.namespace) else (
            "apps" if ns in app_ns else "reserved")
        labels = {"homelab/lab": lab.name, "homelab/role": role}
        if ns in privileged:
            labels["pod-security.kubernetes.io/enforce"] = "privileged"
        objs.append({
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": _meta(ns, wave=WAVES["namespaces"], labels=labels,
                              annotations={SYNC_OPTIONS: "Prune=false"}),  # never delete a namespace by pruning
        })
    return objs


def metallb_objects(lab) -> list[dict]:
    if not lab.platform.metallb.enabled or not lab.network.pools.metallb:
        return []
    ns = lab.platform.metallb.namespace
    wave = WAVES["operator-config"]
    return [
        {"apiVersion": "metallb.io/v1beta1", "kind": "IPAddressPool",
         "metadata": _meta(METALLB_POOL, ns, wave=wave, annotations=_crd_options()),
         "spec": {"addresses": [lab.network.pools.metallb]}},
        {"apiVersion": "metallb.io/v1beta1", "kind": "L2Advertisement",
         "metadata": _meta(METALLB_L2, ns, wave=wave, annotations=_crd_options()),
         "spec": {"ipAddressPools": [METALLB_POOL]}},
    ]


def store_login_user(lab):
    """The user the store logs in as with userpass, or None (then it presents a token)."""
    return external_secrets_user(lab) if "userpass" in lab.vault.auth else None


def store_credentials(lab) -> str:
    """The out-of-band Secret the ClusterSecretStore authenticates with (documented, never rendered)."""
    ns = lab.platform.external_secrets.namespace
    user = store_login_user(lab)
    if user is not None:
        return (f"Secret {ns}/{VAULT_PASSWORD_SECRET['name']} (key {VAULT_PASSWORD_SECRET['key']}: the Vault "
                f"password of user {user.name}, KV path automation/{user.name})")
    return f"Secret {ns}/{VAULT_TOKEN_SECRET['name']} (key {VAULT_TOKEN_SECRET['key']}: a read-only Vault token)"


def secret_store_object(lab) -> dict:
    vault = lab.vault
    ns = lab.platform.external_secrets.namespace
    user = store_login_user(lab)
    if user is not None:
        auth = {"userPass": {"path": USERPASS_MOUNT, "username": user.name,
                             "secretRef": {**VAULT_PASSWORD_SECRET, "namespace": ns}}}
    else:
        auth = {"tokenSecretRef": {**VAULT_TOKEN_SECRET, "namespace": ns}}
    requires = store_credentials(lab)
    provider: dict = {
        "server": vault_server(lab),
        "path": vault.kv_mount,
        "version": "v2",
        "auth": auth,
    }
    if vault.tls.ca in ("step-ca", "self-signed") and provider["server"].startswith("https://"):
        provider["caProvider"] = {"type": "ConfigMap", **VAULT_CA_CONFIGMAP, "namespace": ns}
    if "caProvider" in provider:
        requires += f", ConfigMap {ns}/{VAULT_CA_CONFIGMAP['name']} (key {VAULT_CA_CONFIGMAP['key']})"
    return {
        "apiVersion": "external-secrets.io/v1",
        "kind": "ClusterSecretStore",
        "metadata": _meta(SECRET_STORE, wave=WAVES["operator-config"],
                          annotations={**_crd_options(), "homelab/requires": requires}),
        "spec": {"provider": {"vault": provider}},
    }


def external_secret(name: str, namespace: str, data: list[tuple[str, str, str]], *, wave: int,
                    template: dict | None = None, description: str = "") -> dict:
    """ExternalSecret syncing Vault fields: data = [(secretKey, vault path, field)] (references only)."""
    target: dict = {"name": name, "creationPolicy": "Owner"}
    if template:
        target["template"] = template
    annotations = {**_crd_options()}
    if description:
        annotations["homelab/description"] = description
    return {
        "apiVersion": "external-secrets.io/v1",
        "kind": "ExternalSecret",
        "metadata": _meta(name, namespace, wave=wave, annotations=annotations),
        "spec": {
            "refreshInterval": "1h",
            "secretStoreRef": {"kind": "ClusterSecretStore", "name": SECRET_STORE},
            "target": target,
            "data": [{"secretKey": key, "remoteRef": {"key": path, "property": fld}} for key, path, fld in data],
        },
    }


def democratic_csi_secret(lab, protocol: str) -> dict:
    nas = lab.storage.truenas
    path, fields = parse_ref(nas.api_key)
    fld = fields[0] if fields else "api_key"
    config = democratic_csi_driver_config(lab, protocol, "{{ .apiKey }}")
    name = f"democratic-csi-{protocol}-driver-config"
    return external_secret(
        name, lab.platform.democratic_csi.namespace, [("apiKey", path, fld)],
        wave=WAVES["platform-secrets"],
        template={"engineVersion": "v2", "data": {"driver-config-file.yaml": LiteralStr(dump_yaml(config))}},
        description=f"democratic-csi {protocol} driver config; the TrueNAS API key comes from Vault {path}#{fld}",
    )


def velero_credentials_secret(lab) -> dict:
    path, fields = parse_ref(lab.backup.velero.credentials)
    access = fields[0] if len(fields) > 0 else "access_key"
    secret = fields[1] if len(fields) > 1 else "secret_key"
    body = "[default]\naws_access_key_id={{ .accessKey }}\naws_secret_access_key={{ .secretKey }}\n"
    return external_secret(
        VELERO_CREDENTIALS, lab.platform.velero.namespace,
        [("accessKey", path, access), ("secretKey", path, secret)], wave=WAVES["platform-secrets"],
        template={"engineVersion": "v2", "data": {"cloud": LiteralStr(body)}},
        description=f"Velero object storage credentials from Vault {path}",
    )


def velero_schedules(lab) -> list[dict]:
    if not lab.platform.velero.enabled:
        return []
    ns = lab.platform.velero.namespace
    wave = WAVES["platform-config"]
    out = []
    velero = lab.backup.velero
    for sched in sorted(velero.schedules if velero else [], key=lambda s: s.name):
        template: dict = {"includedNamespaces": sorted(sched.namespaces) or ["*"], "ttl": sched.ttl,
                          "defaultVolumesToFsBackup": True}
        out.append({"apiVersion": "velero.io/v1", "kind": "Schedule",
                    "metadata": _meta(sched.name, ns, wave=wave, annotations=_crd_options()),
                    "spec": {"schedule": sched.schedule, "template": template}})
    for app in sorted_apps(lab):
        if not app.backup or not app.backup.enabled:
            continue
        template = {
            "includedNamespaces": [app.namespace],
            "labelSelector": {"matchLabels": {"app.kubernetes.io/instance": app.name}},
            "ttl": f"{app.backup.retention_days * 24}h",
            "defaultVolumesToFsBackup": True,
        }
        out.append({"apiVersion": "velero.io/v1", "kind": "Schedule",
                    "metadata": _meta(f"app-{app.name}", ns, wave=wave,
                                      labels={"homelab/app": app.name}, annotations=_crd_options()),
                    "spec": {"schedule": BACKUP_CRON[app.backup.schedule], "template": template}})
    return out


# ---------------------------------------------------------------------------------------- render


def yaml_file(path: str, docs: list, comment: str = "") -> RenderedFile:
    """Header line, optional comment lines, then each document after `---` (yamllint's default style)."""
    lines = header("#") + "".join(f"# {line}\n" if line else "#\n" for line in comment.splitlines())
    return RenderedFile(path, dump_yaml_documents(docs, header_line=lines))


def _yaml_file(path: str, data, comment: str = "") -> RenderedFile:
    return yaml_file(path, [data], comment)


def _yaml_docs(path: str, docs: list[dict], comment: str = "") -> RenderedFile:
    return yaml_file(path, docs, comment)


def store_comment(lab) -> str:
    kv = lab.vault.kv_mount
    ns = lab.platform.external_secrets.namespace
    reads = "\n".join(f"  {kv}/data/{path}" for path in external_secret_paths(lab))
    user = external_secrets_user(lab)
    if user is not None and "userpass" in lab.vault.auth:
        pw = VAULT_PASSWORD_SECRET
        return (
            f"Vault KV v2 as a ClusterSecretStore. It logs in (userpass) as Vault user {user.name}, policies "
            f"{', '.join(user.policies)}:\nread-only, allowed to read what the ExternalSecrets use:\n"
            f"{reads}\n"
            f"The password is never rendered: create Secret {ns}/{pw['name']} (key {pw['key']}) out of band from\n"
            f"  homelab secrets get automation/{user.name} --reveal --field password\n"
            "and update it after `homelab vault rotate` changes that password.")
    if user is not None:
        who = f"carrying policies {', '.join(user.policies)} (those of Vault user {user.name})"
    else:
        who = "carrying a read-only policy (no lab user qualifies: rule external-secrets-policy-missing)"
    return (
        "Vault KV v2 as a ClusterSecretStore. Its token is created out of band (never rendered) in\n"
        f"Secret {ns}/{VAULT_TOKEN_SECRET['name']} (key {VAULT_TOKEN_SECRET['key']}), {who},\n"
        f"and must be allowed to read:\n{reads}")


def has_cluster_content(lab) -> bool:
    """Whether the lab has anything to run on Kubernetes (a K3s cluster or apps)."""
    return lab.clusters.k3s is not None or bool(lab.apps)


def render(doc) -> Iterable[RenderedFile]:
    lab = doc.lab
    if not has_cluster_content(lab):
        return []
    files: list[RenderedFile] = []
    files.append(_yaml_docs("k8s/platform/namespaces.yaml", namespace_objects(lab),
                            "Namespaces of the lab, its apps and its platform components (sync wave -10).\n"
                            "Prune=false: removing a namespace from homelab.yaml never deletes its data."))
    metallb = metallb_objects(lab)
    if metallb:
        files.append(_yaml_docs("k8s/platform/metallb-pool.yaml", metallb,
                                "MetalLB address pool (network.pools.metallb) announced over L2."))
    eso = external_secrets_on(lab)
    if eso:
        files.append(_yaml_docs("k8s/platform/external-secrets-store.yaml", [secret_store_object(lab)],
                                store_comment(lab)))
        if lab.platform.democratic_csi.enabled and lab.storage.truenas:
            protocols = sorted({c.protocol for c in lab.storage.classes})
            if protocols:
                files.append(_yaml_docs("k8s/platform/democratic-csi-secrets.yaml",
                                        [democratic_csi_secret(lab, p) for p in protocols],
                                        "democratic-csi driver configs, rendered by external-secrets from Vault."))
        if lab.platform.velero.enabled and lab.backup.velero:
            files.append(_yaml_docs("k8s/platform/velero-credentials.yaml", [velero_credentials_secret(lab)],
                                    "Velero S3 credentials file, rendered by external-secrets from Vault."))
        for app in sorted_apps(lab):
            keys = app_secret_keys(app)
            if not keys:
                continue
            es = external_secret(app_secret_name(app), app.namespace, [(k.key, k.path, k.field) for k in keys],
                                 wave=WAVES["app-secrets"], description=f"Secrets of {app.name} from Vault")
            files.append(_yaml_docs(f"k8s/apps/{app.namespace}/{app.name}.secrets.yaml", [es]))
    schedules = velero_schedules(lab)
    if schedules:
        files.append(_yaml_docs("k8s/platform/velero-schedules.yaml", schedules,
                                "Velero backup schedules (backup.velero.schedules and per-app backups)."))
    for rel in platform_releases(lab):
        files.append(_yaml_file(platform_values_file(lab, rel.name), rel.values,
                                f"Helm values for {rel.chart.name} {rel.chart.version} (release {rel.name})."))
    for app in sorted_apps(lab):
        files.append(_yaml_file(app_values_file(lab, app), app_values(lab, app),
                                f"Helm values for {app.name} ({app.chart.name} {app.chart.version})."))
    return files
