"""What every part of the Kubernetes renderer shares: sync waves, labels, metadata, paths, YAML files.

Also used by `argocd.py`, which deploys what this package renders. Nothing here knows about a
particular component: those live in their own modules (namespaces, metallb, external_secrets,
storage, velero, gpu, charts, platform).
"""

from __future__ import annotations

import copy

from homelab.render.base import RenderedFile, header
from homelab.render.serializers import dump_yaml_documents

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


# ------------------------------------------------------------------------------------------ values


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


def with_user_values(values: dict, user_values: dict) -> dict:
    """homelab's values for a chart with the lab's own `values` (an app's or a component's) merged last."""
    return deep_merge(values, sorted_keys(user_values))


# ------------------------------------------------------------------------------------------- paths


def values_path(lab) -> str:
    cd = lab.gitops.argocd if lab.gitops else None
    return (cd.values_path if cd else "k8s/values").strip("/")


def app_values_file(lab, app) -> str:
    return f"{values_path(lab)}/{app.name}.yaml"


def platform_values_file(lab, release: str) -> str:
    return f"{values_path(lab)}/platform/{release}.yaml"


def sorted_apps(lab) -> list:
    return sorted(lab.apps, key=lambda a: (a.namespace, a.name))


def has_cluster_content(lab) -> bool:
    """Whether the lab has anything to run on Kubernetes (a K3s cluster or apps)."""
    return lab.clusters.k3s is not None or bool(lab.apps)


# --------------------------------------------------------------------------------------- manifests


def meta(name: str, namespace: str | None = None, *, wave: int | None = None, labels: dict | None = None,
         annotations: dict | None = None) -> dict:
    """`metadata` of an object homelab manages: labelled, its sync wave and annotations sorted."""
    out: dict = {"name": name}
    if namespace:
        out["namespace"] = namespace
    out["labels"] = {**MANAGED_BY, **(labels or {})}
    ann = dict(annotations or {})
    if wave is not None:
        ann[WAVE] = str(wave)
    if ann:
        out["annotations"] = dict(sorted(ann.items()))
    return out


def crd_options() -> dict:
    # The CRD arrives with its chart in an earlier wave; skip the dry run that would fail before it exists.
    return {SYNC_OPTIONS: "SkipDryRunOnMissingResource=true"}


def yaml_file(path: str, docs: list, comment: str = "") -> RenderedFile:
    """Header line, optional comment lines, then each document after `---` (yamllint's default style)."""
    lines = header("#") + "".join(f"# {line}\n" if line else "#\n" for line in comment.splitlines())
    return RenderedFile(path, dump_yaml_documents(docs, header_line=lines))
