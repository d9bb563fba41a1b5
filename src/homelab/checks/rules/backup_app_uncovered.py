"""Every persistent volume of an app is in some backup — Velero's file-system backup of its namespace, or a
ZFS snapshot task of the dataset its storage class provisions into — or the lab says it needs none."""

from __future__ import annotations

from homelab.checks.base import Finding, rule
from homelab.lab.backups import (
    excluded_explicitly,
    velero_on,
    velero_schedules_covering,
    volume_backed_up,
    volume_dataset,
    zfs_tasks_covering,
)


def _declares_backups(lab) -> bool:
    """The lab backs up Kubernetes data at all (without any of it, this rule has nothing to compare with)."""
    has_velero = velero_on(lab) and (lab.backup.velero.schedules or any(a.backup and a.backup.enabled for a in lab.apps))
    return bool(has_velero or lab.backup.zfs)


@rule("backup-app-uncovered", "warning", "an app's persistent volume is in no backup and not excluded")
def check(doc):
    lab = doc.lab
    if not _declares_backups(lab):
        return
    for i, app in enumerate(lab.apps):
        if excluded_explicitly(app):
            continue
        velero = velero_schedules_covering(lab, app)
        for j, vol in enumerate(app.storage):
            if vol.backup is False:  # the lab chose: no backup of this volume
                continue
            if (velero and volume_backed_up(lab, vol)) or zfs_tasks_covering(lab, vol):
                continue
            dataset = volume_dataset(lab, vol)
            why = []
            if not velero:
                why.append(f"no Velero schedule includes namespace {app.namespace}")
            elif not volume_backed_up(lab, vol):
                why.append("it is larger than backup.velero.max_volume_size, so Velero leaves it out")
            why.append(f"no ZFS snapshot task covers {dataset}" if dataset else "it is not on a TrueNAS dataset")
            yield Finding(("apps", i, "storage", j),
                          f"{app.name}'s volume {vol.name} is in no backup: " + "; ".join(why),
                          "add its namespace to a backup.velero.schedules entry (and `backup: true` on a large "
                          "volume), a backup.zfs task of its dataset, or say it needs none: `backup: false` on "
                          "the volume or `backup: {enabled: false}` on the app")
