"""Velero (Kubernetes backups to S3-compatible storage): its credentials and its backup schedules.

- `k8s/platform/velero-credentials.yaml` (with external-secrets): an `ExternalSecret` that templates
  the AWS-style credentials file Velero's chart mounts (`velero-credentials`, key `cloud`) from the
  Vault fields of `backup.velero.credentials`. Without external-secrets that Secret is created out of
  band (a `requires` of the release).
- the chart's `schedules` value (`velero_schedules`, used by `charts.py`): one `Schedule` per
  `backup.velero.schedules` entry and one per app with `backup` enabled (its namespace, its pods by
  instance label, TTL = retention); the chart renders them.
- `fs_backup_annotations`: the pod annotation each app chart carries so that Velero's file-system backup
  (kopia node agent) takes the volumes the lab wants and leaves out the large ones (lab/backups.py).

The chart's other values (plugin, storage location) are in `charts.py`.
"""

from __future__ import annotations

from homelab.lab.backups import FS_EXCLUDE, FS_INCLUDE, fs_volumes, velero_on
from homelab.lab.refs import parse_ref
from homelab.lab.vault_access import external_secrets_on
from homelab.render.base import RenderedFile
from homelab.render.kubernetes.common import WAVES, crd_options, sorted_apps, yaml_file
from homelab.render.kubernetes.external_secrets import external_secret, file_template

VELERO_CREDENTIALS = "velero-credentials"
VELERO_RELEASE = "velero"  # the release platform.py installs the chart as


def schedule_object_name(name: str) -> str:
    """The Schedule the chart makes of `schedules.<name>`: `<velero.fullname>-<name>` (velero 12.1.0
    templates/schedule.yaml; the fullname is the release name when it contains "velero")."""
    return f"{VELERO_RELEASE}-{name}"


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


def _schedule(cron: str, template: dict, labels: dict | None = None) -> dict:
    # velero 12.1.0 templates/schedule.yaml: schedules.<name>.{annotations, labels, schedule, template}; the
    # Schedule is named <release fullname>-<name> (velero-<name>) in the release namespace.
    return {"annotations": crd_options(), **({"labels": labels} if labels else {}),
            "schedule": cron, "template": template}


def _template(lab, namespaces: list[str], ttl: str, **extra) -> dict:
    # velero.io/v1 Schedule spec.template is a BackupSpec: includedNamespaces, excludedNamespaces, ttl,
    # labelSelector, defaultVolumesToFsBackup (Velero 1.18 docs, file-system-backup: opt-in vs opt-out).
    # snapshotVolumes false (velero.io docs api-types/backup): no PV snapshots (the chart runs with
    # snapshotsEnabled false, no snapshot location),
    # so a volume left out of the file-system backup is left out, not handed to a snapshotter.
    return {"includedNamespaces": sorted(namespaces) or ["*"], **extra, "ttl": ttl, "snapshotVolumes": False,
            "defaultVolumesToFsBackup": lab.backup.velero.fs_backup == "opt-out"}


def velero_schedules(lab) -> dict[str, dict]:
    """The chart's `schedules` value: one per `backup.velero.schedules` entry and one per app with `backup`
    enabled (its namespace, its pods by instance label, TTL = retention)."""
    if not velero_on(lab):
        return {}
    out = {}
    for sched in sorted(lab.backup.velero.schedules, key=lambda s: s.name):
        extra = {"excludedNamespaces": sorted(sched.exclude_namespaces)} if sched.exclude_namespaces else {}
        out[sched.name] = _schedule(sched.schedule, _template(lab, sched.namespaces, sched.ttl, **extra))
    for app in sorted_apps(lab):
        if not app.backup or not app.backup.enabled:
            continue
        template = _template(lab, [app.namespace], f"{app.backup.retention_days * 24}h",
                             labelSelector={"matchLabels": {"app.kubernetes.io/instance": app.name}})
        out[f"app-{app.name}"] = _schedule(BACKUP_CRON[app.backup.schedule], template, labels={"homelab/app": app.name})
    return out


def fs_backup_annotations(lab, app, volume_name=lambda vol: vol.name, *, first_only: bool = False) -> dict:
    """The pod annotation that chooses which of the app's volumes Velero's node agent backs up: in opt-out
    mode the volumes left out, in opt-in mode the volumes taken (`volume_name`: the pod volume a chart
    mounts the lab volume as; `first_only`: the chart mounts only the app's first volume)."""
    if not velero_on(lab) or not app.storage:
        return {}
    taken, left_out = fs_volumes(lab, app)
    if first_only:  # a chart with one data volume: only the app's first volume is mounted
        taken, left_out = [v for v in taken if v is app.storage[0]], [v for v in left_out if v is app.storage[0]]
    if lab.backup.velero.fs_backup == "opt-out":
        return {FS_EXCLUDE: ",".join(volume_name(v) for v in left_out)} if left_out else {}
    return {FS_INCLUDE: ",".join(volume_name(v) for v in taken)} if taken else {}


def credentials_files(lab) -> list[RenderedFile]:
    if not (external_secrets_on(lab) and lab.platform.velero.enabled and lab.backup.velero):
        return []
    return [yaml_file("k8s/platform/velero-credentials.yaml", [velero_credentials_secret(lab)],
                      "Velero S3 credentials file, rendered by external-secrets from Vault.")]


