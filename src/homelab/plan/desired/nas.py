"""Desired ZFS tasks on TrueNAS (layer `nas`, engine `truenas`): one `zfs_snapshot_task.<key>` per
`backup.zfs` entry and one `zfs_replication.<name>` per `backup.zfs_replication` entry.

Attributes are the TrueNAS API's own fields (v2.0 REST = the middleware's `pool.snapshottask` and
`replication` methods; TrueNAS 24.10 middleware plugins/snapshot.py and plugins/replication.py), so the
engine sends them as they are and drift compares like with like. Two exceptions, because the API speaks
in ids that only exist on one NAS: a replication names its bound snapshot tasks by address
(`periodic_snapshot_tasks`) and its SSH connection by name (`ssh_credentials`); the engine translates.

A snapshot task is identified on the NAS by (dataset, naming_schema) — TrueNAS tasks have no name — so a
task whose naming schema was changed on the NAS reads as missing (create) plus an unmanaged one
(`plan --prune` deletes it).
"""

from __future__ import annotations

from homelab.lab.backups import lifetime, truenas_schedule, zfs_cron, zfs_lifetime
from homelab.lab.models.backup import snapshot_tasks_of
from homelab.plan.desired.common import Builder, address

RETENTION_POLICY = {"source": "SOURCE", "custom": "CUSTOM", "none": "NONE"}


def snapshot_task_attrs(z) -> dict:
    value, unit = zfs_lifetime(z)
    return {
        "dataset": z.dataset,
        "recursive": z.recursive,
        "exclude": sorted(z.exclude),
        "lifetime_value": value,
        "lifetime_unit": unit,
        "naming_schema": z.naming_schema,
        "schedule": truenas_schedule(zfs_cron(z)),
        "allow_empty": True,
        "enabled": z.enabled,
    }


def replication_attrs(zfs, r) -> dict:
    bound = sorted({address("zfs_snapshot_task", z.key) for d in r.source_datasets for z in snapshot_tasks_of(zfs, d)})
    value, unit = lifetime(r.lifetime) if r.lifetime else (None, None)
    return {
        "name": r.name,
        "direction": "PUSH",
        "transport": r.transport,
        "ssh_credentials": r.ssh_credentials,
        "source_datasets": list(r.source_datasets),
        "target_dataset": r.target_dataset,
        "recursive": r.recursive,
        "periodic_snapshot_tasks": bound,
        "auto": True,  # runs after each snapshot of its bound tasks
        "retention_policy": RETENTION_POLICY[r.retention],
        "lifetime_value": value,
        "lifetime_unit": unit,
        "readonly": r.readonly,
        "enabled": r.enabled,
    }


def snapshot_tasks(lab) -> dict[str, dict]:
    """address -> attributes of every snapshot task (the engine identifies live tasks with these)."""
    return {address("zfs_snapshot_task", z.key): snapshot_task_attrs(z) for z in lab.backup.zfs}


def add(b: Builder, doc) -> tuple[str, ...]:
    lab = doc.lab
    added = []
    for i, z in enumerate(lab.backup.zfs):
        added.append(b.add("zfs_snapshot_task", z.key, snapshot_task_attrs(z), source=("backup", "zfs", i)))
    for i, r in enumerate(lab.backup.zfs_replication):
        attrs = replication_attrs(lab.backup.zfs, r)
        added.append(b.add("zfs_replication", r.name, attrs, depends_on=tuple(attrs["periodic_snapshot_tasks"]),
                           source=("backup", "zfs_replication", i)))
    return tuple(sorted(added))
