"""Vault secret references written as 'path#field' or 'path#field1,field2'."""

from __future__ import annotations


def parse_ref(ref: str) -> tuple[str, list[str]]:
    path, _, fields = ref.partition("#")
    return path, [f for f in fields.split(",") if f]


def all_secret_refs(lab) -> list[tuple[tuple, str, str]]:
    """Every (model path, secret path, field) the lab references, for checks and docs."""
    refs: list[tuple[tuple, str, str]] = []
    creds = lab.proxmox.credentials
    refs.append((("proxmox", "credentials", "token_id"), creds.token_id.path, creds.token_id.field))
    refs.append((("proxmox", "credentials", "token_secret"), creds.token_secret.path, creds.token_secret.field))
    k3s = lab.clusters.k3s
    if k3s:
        path, fields = parse_ref(k3s.token)
        refs += [(("clusters", "k3s", "token"), path, f) for f in fields]
    es = lab.clusters.elasticsearch
    if es and es.snapshot_repository and es.snapshot_repository.type == "s3":
        path, fields = parse_ref(es.snapshot_repository.credentials)
        refs += [(("clusters", "elasticsearch", "snapshot_repository", "credentials"), path, f) for f in fields]
    if lab.storage.truenas:
        path, fields = parse_ref(lab.storage.truenas.api_key)
        refs += [(("storage", "truenas", "api_key"), path, f) for f in fields]
    if lab.backup.velero and lab.platform.velero.enabled:
        path, fields = parse_ref(lab.backup.velero.credentials)
        refs += [(("backup", "velero", "credentials"), path, f) for f in fields]
    if lab.backup.vault.offsite:
        path, fields = parse_ref(lab.backup.vault.offsite.credentials)
        refs += [(("backup", "vault", "offsite", "credentials"), path, f) for f in fields]
    kps = lab.platform.kube_prometheus_stack
    if kps.enabled and kps.grafana_admin:
        path, fields = parse_ref(kps.grafana_admin)
        refs += [(("platform", "kube_prometheus_stack", "grafana_admin"), path, f) for f in fields]
    for i, app in enumerate(lab.apps):
        for j, use in enumerate(app.secrets):
            refs.append((("apps", i, "secrets", j), use.path, use.field))
    return refs
