from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, model_validator

from homelab.lab.types import ByteSize, Model

_CRON_FIELD = re.compile(r"^[0-9A-Za-z*?/,\-]+$")
_CRON_MACRO = re.compile(r"^@(yearly|annually|monthly|weekly|daily|midnight|hourly)$")


def _cron(value: Any) -> str:
    """Five-field cron (minute hour day-of-month month day-of-week) or a @daily-style macro: what
    systemd/cron helpers and Velero's Schedule (robfig/cron) accept."""
    fields = value.split()
    if _CRON_MACRO.match(value.strip()) or (len(fields) == 5 and all(_CRON_FIELD.match(f) for f in fields)):
        return value
    raise ValueError(f"{value!r} is not a cron schedule: give five fields (minute hour day month weekday), "
                     "e.g. '0 3 * * *', or @daily")


Cron = Annotated[str, AfterValidator(_cron)]


class ObjectStore(Model):
    """An S3-compatible bucket (TrueNAS/MinIO in the lab) that backups are copied to, off the machine
    that made them. The keys are a Vault reference, never a literal."""

    endpoint: str = Field(pattern=r"^https?://[^\s/]+(:\d+)?/?$", description="S3 API URL, e.g. https://truenas:9000.")
    bucket: str = Field(pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
    prefix: str = Field(default="vault", pattern=r"^[A-Za-z0-9._/-]*$", description="Key prefix in the bucket.")
    region: str = Field(default="us-east-1", description="Signing region (MinIO/TrueNAS accept us-east-1).")
    credentials: str = Field(pattern=r"^[^#\s]+#[^#,\s]+,[^#,\s]+$",
                             description="Vault 'path#access_key_field,secret_key_field'.")
    verify: bool | str = Field(default=True, description="Verify the endpoint's certificate: true, false, or "
                               "a CA bundle path on the machine that uploads.")


class VaultBackup(Model):
    schedule: Cron = Field(default="0 3 * * *", description="cron schedule (UTC) of the snapshots on the Vault VM")
    retention: int = Field(default=14, ge=1, description="Number of backups kept.")
    directory: str = Field(default=".homelab/backups/vault")
    vm_directory: str = Field(default="/var/backups/vault", pattern=r"^/",
                              description="Where the Vault VM's scheduled snapshots are kept.")
    offsite: ObjectStore | None = Field(default=None, description="S3 bucket the snapshots are copied to.")


class ElasticBackup(Model):
    schedule: Cron = "0 2 * * *"
    retention_days: int = Field(default=30, ge=1)


class VeleroSchedule(Model):
    name: str = Field(pattern=r"^[a-z0-9-]+$")
    schedule: Cron
    namespaces: list[str] = Field(default_factory=list, description="Empty = every namespace.")
    exclude_namespaces: list[str] = Field(default_factory=list, description="Namespaces left out (excludedNamespaces).")
    ttl: str = Field(default="720h", pattern=r"^\d+h$", description="How long each backup is kept (Go duration, hours).")


class VeleroBackup(Model):
    bucket: str | None = None
    s3_url: str | None = None
    credentials: str = "backup/velero#access_key,secret_key"
    schedules: list[VeleroSchedule] = Field(default_factory=list)
    fs_backup: Literal["opt-out", "opt-in"] = Field(
        default="opt-out",
        description="File-system backup (kopia node agent) of pod volumes: opt-out backs up every volume except "
        "those left out (pod annotation backup.velero.io/backup-volumes-excludes); opt-in only the volumes chosen "
        "(backup.velero.io/backup-volumes).")
    max_volume_size: ByteSize = Field(
        default="100GiB", validate_default=True,
        description="Volumes larger than this (media libraries, download caches, model stores) are left out of "
        "file-system backup unless the volume says `backup: true`.")
    ca_cert: str | None = Field(
        default=None, pattern=r"^\s*-----BEGIN CERTIFICATE-----",
        description="PEM of the CA that signed the s3_url host's certificate (public: not a secret), when it is "
        "not a publicly trusted one, e.g. the lab's own CA.")
    insecure_skip_tls_verify: bool = Field(
        default=False, description="Do not verify the s3_url host's certificate (instead of ca_cert): anyone "
        "between the cluster and the storage can read and change the backups.")


ZFS_SCHEDULES = ("hourly", "daily", "weekly", "monthly")


class ZfsPolicy(Model):
    """A periodic snapshot task on TrueNAS (pool.snapshottask)."""

    dataset: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]*(/[A-Za-z0-9_.:-]+)*$")
    name: str | None = Field(default=None, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$",
                             description="Name in plans (default: the dataset); needed for a second task of a dataset.")
    schedule: Literal["hourly", "daily", "weekly", "monthly"] | Cron = Field(
        description="hourly, daily, weekly, monthly or a five-field cron")
    retention: int | None = Field(default=None, ge=1, description="Snapshots kept (with hourly...monthly).")
    lifetime: str | None = Field(default=None, pattern=r"^\d+[hdwmy]$",
                                 description="How long each snapshot is kept, e.g. 14d, 8w, 1y (instead of retention).")
    recursive: bool = True
    exclude: list[str] = Field(default_factory=list, description="Child datasets left out (recursive only).")
    naming_schema: str = Field(default="auto-%Y-%m-%d_%H-%M", description="strftime name; needs %Y %m %d %H %M.")
    enabled: bool = True

    @property
    def key(self) -> str:
        return self.name or self.dataset

    @model_validator(mode="after")
    def _lifetime(self):
        if self.retention is None and self.lifetime is None:
            raise ValueError("give retention (a number of snapshots) or lifetime (e.g. 14d)")
        if self.retention is not None and self.schedule not in ZFS_SCHEDULES:
            raise ValueError("retention counts snapshots of an hourly/daily/weekly/monthly schedule; "
                             "with a cron schedule give lifetime (e.g. 14d)")
        if not all(f"%{c}" in self.naming_schema for c in "YmdHM"):
            raise ValueError("naming_schema must contain %Y, %m, %d, %H and %M (TrueNAS refuses it otherwise)")
        return self


class ZfsReplication(Model):
    """A replication task on TrueNAS (replication): pushes the snapshots of `source_datasets`' snapshot tasks."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    source_datasets: list[str] = Field(min_length=1)
    target_dataset: str = Field(min_length=1)
    transport: Literal["SSH", "LOCAL"] = "SSH"
    ssh_credentials: str | None = Field(
        default=None, description="Name of the SSH connection (Credentials > Backup Credentials) on the NAS.")
    recursive: bool = True
    retention: Literal["source", "custom", "none"] = Field(
        default="source", description="source: keep what the source keeps; custom: keep `lifetime`.")
    lifetime: str | None = Field(default=None, pattern=r"^\d+[hdwmy]$")
    readonly: Literal["SET", "REQUIRE", "IGNORE"] = "SET"
    enabled: bool = True

    @model_validator(mode="after")
    def _consistent(self):
        if self.transport == "SSH" and not self.ssh_credentials:
            raise ValueError("an SSH replication needs ssh_credentials: the name of the NAS's SSH connection")
        if self.transport == "LOCAL" and self.ssh_credentials:
            raise ValueError("a LOCAL replication takes no ssh_credentials")
        if (self.retention == "custom") != (self.lifetime is not None):
            raise ValueError("lifetime goes with retention: custom (and only with it)")
        return self


class DrDrill(Model):
    schedule: Literal["monthly", "quarterly", "yearly"] = "quarterly"
    restore_target: Literal["embedded", "scratch"] = "embedded"


class Target(Model):
    """Recovery objectives one kind of backup is drilled against (`homelab drill`)."""

    rpo: str = Field(default="26h", pattern=r"^\d+[mhd]$", description="Newest good backup at most this old.")
    rto: str = Field(default="30m", pattern=r"^\d+[smhd]$", description="A restore takes at most this long.")


class Targets(Model):
    vault: Target = Field(default_factory=Target)
    elasticsearch: Target = Field(default_factory=Target)
    apps: Target = Field(default_factory=lambda: Target(rpo="26h", rto="1h"))


def duration_seconds(text: str) -> int:
    """'90s', '30m', '26h', '7d' -> seconds (the patterns above guarantee the shape)."""
    return int(text[:-1]) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[text[-1]]


class Backups(Model):
    vault: VaultBackup = Field(default_factory=VaultBackup)
    elasticsearch: ElasticBackup | None = None
    velero: VeleroBackup | None = None
    zfs: list[ZfsPolicy] = Field(default_factory=list, description="Periodic snapshot tasks on TrueNAS.")
    zfs_replication: list[ZfsReplication] = Field(default_factory=list,
                                                  description="Replication tasks on TrueNAS.")
    offsite: str | None = Field(default=None, description="Secondary storage location for replication.")
    dr_drill: DrDrill = Field(default_factory=DrDrill)
    targets: Targets = Field(default_factory=Targets, description="RPO/RTO per kind, checked by `homelab drill`.")

    @model_validator(mode="after")
    def _zfs_tasks(self):
        keys = [z.key for z in self.zfs]
        twice = sorted({k for k in keys if keys.count(k) > 1})
        if twice:
            raise ValueError(f"backup.zfs: two snapshot tasks named {twice[0]!r}: give the second one a `name`")
        names = [r.name for r in self.zfs_replication]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"backup.zfs_replication: two replication tasks named {twice[0]!r}")
        for r in self.zfs_replication:
            for source in r.source_datasets:
                if not snapshot_tasks_of(self.zfs, source):
                    raise ValueError(f"backup.zfs_replication {r.name!r}: no backup.zfs snapshot task covers "
                                     f"{source!r}: replication sends the snapshots a task takes")
        return self


def snapshot_tasks_of(zfs: list[ZfsPolicy], dataset: str) -> list[ZfsPolicy]:
    """The snapshot tasks that snapshot `dataset`: its own, or a recursive one of a parent."""
    return [z for z in zfs if z.dataset == dataset or (z.recursive and dataset.startswith(z.dataset + "/")
                                                       and dataset not in z.exclude)]
