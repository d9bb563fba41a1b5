from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field

from homelab.lab.types import Model

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
    ttl: str = Field(default="720h", pattern=r"^\d+h$")


class VeleroBackup(Model):
    bucket: str | None = None
    s3_url: str | None = None
    credentials: str = "backup/velero#access_key,secret_key"
    schedules: list[VeleroSchedule] = Field(default_factory=list)
    ca_cert: str | None = Field(
        default=None, pattern=r"^\s*-----BEGIN CERTIFICATE-----",
        description="PEM of the CA that signed the s3_url host's certificate (public: not a secret), when it is "
        "not a publicly trusted one, e.g. the lab's own CA.")
    insecure_skip_tls_verify: bool = Field(
        default=False, description="Do not verify the s3_url host's certificate (instead of ca_cert): anyone "
        "between the cluster and the storage can read and change the backups.")


class ZfsPolicy(Model):
    dataset: str
    schedule: Literal["hourly", "daily", "weekly", "monthly"]
    retention: int = Field(ge=1)
    recursive: bool = True


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
    zfs: list[ZfsPolicy] = Field(default_factory=list)
    offsite: str | None = Field(default=None, description="Secondary storage location for replication.")
    dr_drill: DrDrill = Field(default_factory=DrDrill)
    targets: Targets = Field(default_factory=Targets, description="RPO/RTO per kind, checked by `homelab drill`.")
