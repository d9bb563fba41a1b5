"""What the lab's backups cover: which app volumes Velero backs up (file-system backup by the kopia node
agent) and which backup covers each app with persistent data. Pure functions of the lab, shared by the
check rules, the Velero values (render) and docs/backup.md.

Velero file-system backup (velero.io/docs/v1.18/file-system-backup/): with `defaultVolumesToFsBackup`
(opt-out) every pod volume is backed up except those named in the pod annotation
`backup.velero.io/backup-volumes-excludes`; without it (opt-in) only the volumes named in
`backup.velero.io/backup-volumes`. A volume larger than `backup.velero.max_volume_size` (Plex's media
library, a download cache, model stores: large and re-creatable) is left out unless it says `backup: true`.
"""

from __future__ import annotations

from homelab.lab.models.backup import snapshot_tasks_of

FS_INCLUDE = "backup.velero.io/backup-volumes"  # opt-in: the pod volumes to back up, comma-separated
FS_EXCLUDE = "backup.velero.io/backup-volumes-excludes"  # opt-out: the pod volumes to leave out


def velero_on(lab) -> bool:
    return lab.backup.velero is not None and lab.platform.velero.enabled


def volume_backed_up(lab, vol) -> bool:
    """Whether Velero's file-system backup takes this volume's data."""
    if vol.backup is not None:
        return vol.backup
    velero = lab.backup.velero
    limit = velero.max_volume_size if velero else 100 * 1024**3
    return vol.size <= limit


def fs_volumes(lab, app) -> tuple[list, list]:
    """(backed up, left out) volumes of the app, each sorted by name."""
    vols = sorted(app.storage, key=lambda v: v.name)
    return [v for v in vols if volume_backed_up(lab, v)], [v for v in vols if not volume_backed_up(lab, v)]


def velero_schedules_covering(lab, app) -> list[str]:
    """Names of the Velero schedules whose backups include the app's namespace (and the per-app one)."""
    if not velero_on(lab):
        return []
    out = [s.name for s in lab.backup.velero.schedules
           if (not s.namespaces or app.namespace in s.namespaces) and app.namespace not in s.exclude_namespaces]
    if app.backup and app.backup.enabled:
        out.append(f"app-{app.name}")
    return sorted(out)


def volume_dataset(lab, vol) -> str | None:
    """The TrueNAS dataset democratic-csi provisions the volume under (its storage class's parent dataset)."""
    nas = lab.storage.truenas
    if nas is None:
        return None
    classes = {c.name: c for c in lab.storage.classes}
    sc = classes.get(vol.class_) if vol.class_ else next((c for c in lab.storage.classes if c.default), None)
    if sc is None:
        return None
    # render/kubernetes/storage.py: datasetParentName is <datasets[protocol]>/v
    return nas.datasets.get(sc.protocol, f"{nas.pool}/k8s/{sc.protocol}").strip("/") + "/v"


def zfs_tasks_covering(lab, vol) -> list[str]:
    """Keys of the enabled ZFS snapshot tasks that snapshot the dataset the volume lives in."""
    dataset = volume_dataset(lab, vol)
    if dataset is None:
        return []
    return sorted(z.key for z in snapshot_tasks_of(lab.backup.zfs, dataset) if z.enabled)


def excluded_explicitly(app) -> bool:
    """The app says it needs no backup (`backup: {enabled: false}`)."""
    return app.backup is not None and not app.backup.enabled


# ----------------------------------------------------------------------------------- ZFS on TrueNAS
# TrueNAS pool.snapshottask / replication: lifetime_value + lifetime_unit (HOUR DAY WEEK MONTH YEAR), and a
# schedule {minute, hour, dom, month, dow, begin, end} with dow "1" (Monday) - "7" (Sunday)
# (api.truenas.com v25.04 pool.snapshottask.create; middleware 24.10 plugins/snapshot.py).
LIFETIME_UNITS = {"h": "HOUR", "d": "DAY", "w": "WEEK", "m": "MONTH", "y": "YEAR"}
NAMED_SCHEDULE_UNIT = {"hourly": "HOUR", "daily": "DAY", "weekly": "WEEK", "monthly": "MONTH"}
NAMED_SCHEDULE_CRON = {"hourly": "0 * * * *", "daily": "0 0 * * *", "weekly": "0 0 * * 7", "monthly": "0 0 1 * *"}
UNIT_HOURS = {"HOUR": 1, "DAY": 24, "WEEK": 24 * 7, "MONTH": 24 * 30, "YEAR": 24 * 365}


def lifetime(value: str) -> tuple[int, str]:
    """'14d' -> (14, 'DAY')."""
    return int(value[:-1]), LIFETIME_UNITS[value[-1]]


def zfs_lifetime(policy) -> tuple[int, str]:
    """How long each snapshot of the task is kept: `lifetime`, or `retention` snapshots of its named schedule."""
    if policy.lifetime:
        return lifetime(policy.lifetime)
    return policy.retention, NAMED_SCHEDULE_UNIT[policy.schedule]


def zfs_cron(policy) -> str:
    return NAMED_SCHEDULE_CRON.get(policy.schedule, policy.schedule)


def truenas_schedule(cron: str) -> dict:
    """A five-field cron as TrueNAS's schedule object (all day: begin 00:00, end 23:59)."""
    minute, hour, dom, month, dow = cron.split()
    return {"minute": minute, "hour": hour, "dom": dom, "month": month,
            "dow": "7" if dow == "0" else dow, "begin": "00:00", "end": "23:59"}
