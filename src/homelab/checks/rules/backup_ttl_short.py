"""A backup kept for less time than the gap between two runs leaves a window with no backup at all: a Velero
schedule's TTL, an app's retention and a ZFS snapshot task's lifetime must outlast the schedule's longest gap.
A ZFS task that would keep more snapshots per dataset than TrueNAS sustains (512) is a warning."""

from __future__ import annotations

import datetime as dt
import functools
import re

from homelab.checks.base import Finding, rule
from homelab.diagnostics import Severity
from homelab.lab.backups import UNIT_HOURS, zfs_cron, zfs_lifetime

MACROS = {"@hourly": "0 * * * *", "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@weekly": "0 0 * * 0",
          "@monthly": "0 0 1 * *", "@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *"}
APP_CRON = {"hourly": "15 * * * *", "daily": "30 3 * * *", "weekly": "30 3 * * 0"}  # render/kubernetes/velero.py
MAX_SNAPSHOTS = 512  # TrueNAS pool.snapshottask.max_count (Windows shows no snapshots beyond it)
_ITEM = re.compile(r"^(\*|\d+(?:-\d+)?)(?:/(\d+))?$")


def _field(text: str, lo: int, hi: int) -> set[int] | None:
    """The values of one numeric cron field (None when it uses names or `?`: not evaluated here)."""
    out: set[int] = set()
    for item in text.split(","):
        m = _ITEM.match(item)
        if not m or m[2] == "0":  # malformed: cron-invalid says why
            return None
        a, b = (lo, hi) if m[1] == "*" else (int(m[1].split("-")[0]), int(m[1].split("-")[-1]))
        out.update(range(a, b + 1, int(m[2] or 1)))
    return {v for v in out if lo <= v <= hi} or None


@functools.lru_cache(maxsize=256)
def schedule_of(cron: str) -> tuple[list[int], list[dt.date]] | None:
    """(minutes of the day it runs at, the days it runs on over two years) of a five-field cron (crontab(5):
    day of month OR day of week when both are restricted; day of week 7 is Sunday); None when it uses
    names or `?` (not evaluated here)."""
    parts = MACROS.get(cron.strip(), cron).split()
    if len(parts) != 5:
        return None
    fields = [_field(p, lo, hi) for p, (lo, hi) in zip(parts, ((0, 59), (0, 23), (1, 31), (1, 12), (0, 7)),
                                                          strict=True)]
    if any(f is None for f in fields):
        return None
    minutes, hours, doms, months, dows = fields
    dows = {d % 7 for d in dows}
    either = parts[2] != "*" and parts[4] != "*"
    days = []
    for n in range(2 * 366):
        day = dt.date(2025, 1, 1) + dt.timedelta(days=n)
        on_dom, on_dow = day.day in doms, (day.weekday() + 1) % 7 in dows
        if day.month in months and ((on_dom or on_dow) if either else (on_dom and on_dow)):
            days.append(day)
    return sorted(h * 60 + m for h in hours for m in minutes), days


@functools.lru_cache(maxsize=256)
def longest_gap_hours(cron: str) -> float | None:
    """The longest time between two runs (over two years: long enough for a yearly schedule)."""
    parsed = schedule_of(cron)
    if not parsed or not parsed[1]:
        return None
    tod, days = parsed
    gaps = [b - a for a, b in zip(tod, tod[1:], strict=False)]
    gaps += [(d2 - d1).days * 1440 - tod[-1] + tod[0] for d1, d2 in zip(days, days[1:], strict=False)]
    return max(gaps) / 60 if gaps else None


@functools.lru_cache(maxsize=256)
def runs_per_year(cron: str) -> int:
    parsed = schedule_of(cron)
    return len(parsed[0]) * len([d for d in parsed[1] if d.year == 2025]) if parsed else 0


def _hours(h: int) -> str:
    return f"{h}h" + (f" ({h / 24:g} days)" if h >= 24 else "")


def _velero(lab):
    velero = lab.backup.velero
    for i, s in enumerate(velero.schedules if velero else []):
        yield ("backup", "velero", "schedules", i, "ttl"), f"Velero schedule {s.name}", s.schedule, int(s.ttl[:-1])
    for i, app in enumerate(lab.apps):
        if app.backup and app.backup.enabled:
            yield (("apps", i, "backup", "retention_days"), f"{app.name}'s backup", APP_CRON[app.backup.schedule],
                   app.backup.retention_days * 24)


@rule("backup-ttl-short", "error", "backups expire before the next one is taken")
def check(doc):
    lab = doc.lab
    for path, what, cron, kept in _velero(lab):
        gap = longest_gap_hours(cron)
        if gap and kept < gap:
            yield Finding(path, f"{what} keeps each backup {_hours(kept)} but runs only every {_hours(int(gap))} "
                          f"({cron!r}): for {gap - kept:g}h there is no backup at all",
                          f"keep backups at least {_hours(int(gap))}, better a few runs' worth")
    for i, z in enumerate(lab.backup.zfs):
        value, unit = zfs_lifetime(z)
        kept = value * UNIT_HOURS[unit]
        cron = zfs_cron(z)
        gap = longest_gap_hours(cron)
        field = "lifetime" if z.lifetime else "retention"
        if gap and kept < gap:
            yield Finding(("backup", "zfs", i, field), f"ZFS task {z.key} keeps each snapshot {_hours(kept)} but "
                          f"takes one only every {_hours(int(gap))} ({cron!r})",
                          f"keep snapshots at least {_hours(int(gap))}")
        count = round(runs_per_year(cron) * kept / (24 * 365))
        if count > MAX_SNAPSHOTS:
            yield Finding(("backup", "zfs", i, field), f"ZFS task {z.key} keeps about {count} snapshots per dataset; "
                          f"TrueNAS sustains {MAX_SNAPSHOTS} (pool.snapshottask.max_count)",
                          "keep fewer: a shorter lifetime, or a second, sparser task for the long term",
                          severity=Severity.WARNING)
