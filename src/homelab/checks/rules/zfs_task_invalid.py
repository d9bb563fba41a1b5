"""ZFS snapshot and replication tasks that TrueNAS would refuse at apply time, caught by `check`: the
validations of the middleware's pool.snapshottask and replication services (TrueNAS 24.10
plugins/snapshot.py `_validate`, plugins/replication.py `_validate`), plus a dataset outside the pool
homelab knows."""

from __future__ import annotations

from homelab.checks.base import Finding, rule


def _snapshot_tasks(lab):
    nas = lab.storage.truenas
    for i, z in enumerate(lab.backup.zfs):
        if nas and z.dataset.split("/")[0] != nas.pool:
            yield Finding(("backup", "zfs", i, "dataset"), f"dataset {z.dataset} is not in the pool "
                          f"{nas.pool} (storage.truenas.pool): TrueNAS refuses it with 'Dataset not found'",
                          f"name a dataset of {nas.pool}, e.g. {nas.pool}/k8s")
        if z.exclude and not z.recursive:
            yield Finding(("backup", "zfs", i, "exclude"), f"{z.key}: exclude on a task that is not recursive "
                          "(TrueNAS: 'Excluding datasets is not necessary for non-recursive periodic snapshot tasks')",
                          "drop exclude, or make the task recursive")
        for j, child in enumerate(z.exclude):
            if not child.startswith(z.dataset + "/"):
                yield Finding(("backup", "zfs", i, "exclude", j), f"{child} is not below {z.dataset} (TrueNAS: "
                              "'Excluded dataset should be a child or other descendant of the selected dataset')",
                              f"exclude a child dataset, e.g. {z.dataset}/scratch")


def _replications(lab):
    for i, r in enumerate(lab.backup.zfs_replication):
        if r.transport != "LOCAL":
            continue
        for source in r.source_datasets:
            inside = r.target_dataset == source or (r.recursive and r.target_dataset.startswith(source + "/"))
            if inside:
                yield Finding(("backup", "zfs_replication", i, "target_dataset"),
                              f"{r.name}: the target {r.target_dataset} is inside the source {source}: each run "
                              "would replicate its own replica", "replicate into another pool or a dataset outside "
                              "the source")


@rule("zfs-task-invalid", "error", "a ZFS snapshot or replication task TrueNAS would refuse")
def check(doc):
    lab = doc.lab
    yield from _snapshot_tasks(lab)
    yield from _replications(lab)
