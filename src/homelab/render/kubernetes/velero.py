"""Velero (Kubernetes backups to S3-compatible storage): its credentials and its backup schedules.

- `k8s/platform/velero-credentials.yaml` (with external-secrets): an `ExternalSecret` that templates
  the AWS-style credentials file Velero's chart mounts (`velero-credentials`, key `cloud`) from the
  Vault fields of `backup.velero.credentials`. Without external-secrets that Secret is created out of
  band (a `requires` of the release).
- `k8s/platform/velero-schedules.yaml`: one `Schedule` per `backup.velero.schedules` entry and one per
  app with `backup` enabled (its namespace, its pods by instance label, TTL = retention), all backing up
  volumes with the file-system node agent.

The chart's values (plugin, storage location) are in `charts.py`.
"""

from __future__ import annotations

from homelab.lab.refs import parse_ref
from homelab.lab.vault_access import external_secrets_on
from homelab.render.base import RenderedFile
from homelab.render.kubernetes.common import WAVES, crd_options, meta, sorted_apps, yaml_file
from homelab.render.kubernetes.external_secrets import external_secret, file_template

VELERO_CREDENTIALS = "velero-credentials"
BACKUP_CRON = {"hourly": "15 * * * *", "daily": "30 3 * * *", "weekly": "30 3 * * 0"}


def velero_credentials_secret(lab) -> dict:
    path, fields = parse_ref(lab.backup.velero.credentials)
    access = fields[0] if len(fields) > 0 else "access_key"
    secret = fields[1] if len(fields) > 1 else "secret_key"
    body = "[default]\naws_access_key_id={{ .accessKey }}\naws_secret_access_key={{ .secretKey }}\n"
    return external_secret(
        VELERO_CREDENTIALS, lab.platform.velero.namespace,
        [("accessKey", path, access), ("secretKey", path, secret)], wave=WAVES["platform-secrets"],
        template=file_template("cloud", body),
        description=f"Velero object storage credentials from Vault {path}",
    )


def _schedule(lab, name: str, cron: str, template: dict, labels: dict | None = None) -> dict:
    ns = lab.platform.velero.namespace
    return {"apiVersion": "velero.io/v1", "kind": "Schedule",
            "metadata": meta(name, ns, wave=WAVES["platform-config"], labels=labels, annotations=crd_options()),
            "spec": {"schedule": cron, "template": template}}


def velero_schedules(lab) -> list[dict]:
    if not lab.platform.velero.enabled:
        return []
    out = []
    velero = lab.backup.velero
    for sched in sorted(velero.schedules if velero else [], key=lambda s: s.name):
        template: dict = {"includedNamespaces": sorted(sched.namespaces) or ["*"], "ttl": sched.ttl,
                          "defaultVolumesToFsBackup": True}
        out.append(_schedule(lab, sched.name, sched.schedule, template))
    for app in sorted_apps(lab):
        if not app.backup or not app.backup.enabled:
            continue
        template = {
            "includedNamespaces": [app.namespace],
            "labelSelector": {"matchLabels": {"app.kubernetes.io/instance": app.name}},
            "ttl": f"{app.backup.retention_days * 24}h",
            "defaultVolumesToFsBackup": True,
        }
        out.append(_schedule(lab, f"app-{app.name}", BACKUP_CRON[app.backup.schedule], template,
                             labels={"homelab/app": app.name}))
    return out


def credentials_files(lab) -> list[RenderedFile]:
    if not (external_secrets_on(lab) and lab.platform.velero.enabled and lab.backup.velero):
        return []
    return [yaml_file("k8s/platform/velero-credentials.yaml", [velero_credentials_secret(lab)],
                      "Velero S3 credentials file, rendered by external-secrets from Vault.")]


def schedule_files(lab) -> list[RenderedFile]:
    schedules = velero_schedules(lab)
    if not schedules:
        return []
    return [yaml_file("k8s/platform/velero-schedules.yaml", schedules,
                      "Velero backup schedules (backup.velero.schedules and per-app backups).")]
