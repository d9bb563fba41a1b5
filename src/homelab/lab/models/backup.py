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


class VaultBackup(Model):
    schedule: Cron = Field(default="0 3 * * *", description="cron schedule")
    retention: int = Field(default=14, ge=1, description="Number of backups kept.")
    directory: str = Field(default=".homelab/backups/vault")


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


class Backups(Model):
    vault: VaultBackup = Field(default_factory=VaultBackup)
    elasticsearch: ElasticBackup | None = None
    velero: VeleroBackup | None = None
    zfs: list[ZfsPolicy] = Field(default_factory=list)
    offsite: str | None = Field(default=None, description="Secondary storage location for replication.")
    dr_drill: DrDrill = Field(default_factory=DrDrill)
