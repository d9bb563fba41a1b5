"""Backups must be kept longer than the time between two of them, or there are hours with nothing to restore."""

from __future__ import annotations

from homelab.checks.base import Finding, rule
from homelab.checks.rules.cron_invalid import cron_problem
from homelab.lab.backups import UNIT_HOURS, zfs_cron, zfs_lifetime

# A Velero TTL or a ZFS lifetime up to ONE gap is backup-ttl-short's to judge (an error below it); this rule
# warns from there up to two gaps (and about single kept copies), so no window is reported twice.
SHORTER_IS_AN_ERROR_ELSEWHERE = ("velero", "zfs")


def _gap(expr: str) -> float | None:
    from homelab.lab.cron import longest_gap_hours

    return None if cron_problem(expr) else longest_gap_hours(expr)  # cron-invalid reports the rest


def _windows(lab):
    """(model path, what, kept hours, longest gap hours, count kept or None) for each backup with a retention."""
    b = lab.backup
    gap = _gap(b.vault.schedule)
    if gap is not None:
        yield ("backup", "vault", "retention"), "backup.vault", b.vault.retention * gap, gap, b.vault.retention
    if b.elasticsearch and (gap := _gap(b.elasticsearch.schedule)) is not None:
        yield (("backup", "elasticsearch", "retention_days"), "backup.elasticsearch",
               b.elasticsearch.retention_days * 24, gap, None)
    for i, s in enumerate(b.velero.schedules if b.velero else []):
        if (gap := _gap(s.schedule)) is not None:
            yield ("backup", "velero", "schedules", i, "ttl"), f"Velero schedule {s.name}", int(s.ttl[:-1]), gap, None
    for i, z in enumerate(b.zfs):
        count, unit = zfs_lifetime(z)  # `lifetime`, or `retention` snapshots of a named schedule
        if (gap := _gap(zfs_cron(z))) is not None:
            yield (("backup", "zfs", i, "lifetime" if z.lifetime else "retention"), f"ZFS {z.dataset}",
                   count * UNIT_HOURS[unit], gap, None if z.lifetime else z.retention)


def _hours(h: float) -> str:
    if h == float("inf"):
        return "more than a year"
    return f"{h / 24:g} days" if h >= 48 else f"{h:g} hours"


@rule("backup-retention-short", "warning", "backups are kept for less than two runs of their schedule")
def check(doc):
    for path, what, kept, gap, count in _windows(doc.lab):
        if count == 1:
            yield Finding(path, f"{what} keeps a single backup: when it is bad there is nothing to fall back on",
                          "keep at least 2 (the reference lab keeps 14 daily Vault backups and 14 daily ZFS snapshots)")
        elif path[1] in SHORTER_IS_AN_ERROR_ELSEWHERE and kept <= gap:
            continue
        elif kept < 2 * gap:
            yield Finding(path, f"{what} keeps backups for {_hours(kept)} but runs up to {_hours(gap)} apart: "
                          + ("some of the time there is no backup at all" if kept <= gap else
                             "some of the time only one backup exists"),
                          f"keep them for at least {_hours(2 * gap)} (two runs), or run the schedule more often")
