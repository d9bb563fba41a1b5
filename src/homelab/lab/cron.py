"""Five-field cron (crontab(5)) as systemd calendar events (systemd.time(7), "Calendar Events").

One cron line can need two OnCalendar= lines: when both the day of the month and the day of the week are
restricted, cron runs on either (crontab(5): "the command will be run when either field matches"),
while one systemd event requires both; a timer with several OnCalendar= lines fires on any of them
(systemd.timer(5)). Times are UTC (the event ends in " UTC"), like the lab's other schedules (Elasticsearch
SLM and Velero run in UTC). Ranges A-B become A..B, steps */N become START/N (minutes and hours start at
0, days and months at 1), day-of-week numbers become names (0 and 7 are Sunday).
"""

from __future__ import annotations

import functools

MONTHS = "JAN FEB MAR APR MAY JUN JUL AUG SEP OCT NOV DEC".split()
DAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
MACROS = {"@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *", "@weekly": "0 0 * * 0",
          "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *"}


def _number(text: str, names: list[str] | None, offset: int) -> int:
    if text.isdigit():
        return int(text)
    if names and text.upper()[:3] in [n.upper() for n in names]:
        return [n.upper() for n in names].index(text.upper()[:3]) + offset
    raise ValueError(f"{text!r} is not a number")


def _field(text: str, start: int, names: list[str] | None = None, offset: int = 0, width: int = 2) -> str:
    """One cron field as a systemd component ('*' stays '*')."""
    if text in ("*", "?"):
        return "*"
    out = []
    for item in text.split(","):
        base, _, step = item.partition("/")
        if base in ("*", "?"):
            lo = str(start).zfill(width)
            out.append(f"{lo}/{int(step)}" if step else "*")
            continue
        ends = [_number(e, names, offset) for e in base.split("-")]
        piece = "..".join(str(e).zfill(width) for e in ends)
        out.append(f"{piece}/{int(step)}" if step else piece)
    return ",".join(out)


def _weekdays(text: str) -> str:
    """Day-of-week field as a list of names (systemd weeks start on Monday, so a range through Sunday such as
    cron's 0-6 is spelled out rather than written Sun..Sat)."""
    days: list[int] = []
    for item in text.split(","):
        base, _, step = item.partition("/")
        if base in ("*", "?"):
            lo, hi = 0, 6
        else:
            ends = [_number(e, [d.upper() for d in DAYS[:7]], 0) for e in base.split("-")]
            lo, hi = ends[0], ends[-1]
        days += [d % 7 for d in range(lo, hi + 1, int(step) if step else 1)]
    order = sorted(set(days), key=lambda d: (d + 6) % 7)  # Monday first, as systemd normalises
    return ",".join(DAYS[d] for d in order)


def on_calendar(schedule: str) -> list[str]:
    """The OnCalendar= values for a cron schedule (one, or two when cron would OR the day fields).
    ValueError for what is not five fields."""
    text = MACROS.get(schedule.strip(), schedule.strip())
    parts = text.split()
    if len(parts) != 5:
        raise ValueError(f"{schedule!r}: {len(parts)} fields, cron has 5")
    minute, hour, dom, month, dow = parts
    time = f"{_field(hour, 0)}:{_field(minute, 0)}:00"
    mon = _field(month, 1, MONTHS, 1)
    day = _field(dom, 1)
    dom_any, dow_any = dom in ("*", "?"), dow in ("*", "?")
    if dow_any:
        return [f"*-{mon}-{day} {time} UTC"]
    week = _weekdays(dow)
    if dom_any:
        return [f"{week} *-{mon}-* {time} UTC"]
    return [f"*-{mon}-{day} {time} UTC", f"{week} *-{mon}-* {time} UTC"]


def _values(field: str, lo: int, hi: int, names: list[str] | None = None, offset: int = 0) -> set[int]:
    out: set[int] = set()
    for item in field.split(","):
        base, _, step = item.partition("/")
        if base in ("*", "?"):
            a, b = lo, hi
        else:
            ends = [_number(e, names, offset) for e in base.split("-")]
            a, b = ends[0], (ends[-1] if len(ends) == 2 else (hi if step else ends[0]))
        out |= set(range(a, b + 1, int(step) if step else 1))
    return out


@functools.lru_cache(maxsize=256)
def longest_gap_hours(schedule: str, days: int = 400) -> float:
    """The longest time between two runs of a (valid) cron schedule over `days` days from 2024-01-01, in
    hours: what a retention must exceed for a backup to exist at every moment (inf: fewer than two runs in
    that time). Day fields OR'ed as cron does when both are restricted."""
    from datetime import datetime, timedelta

    text = MACROS.get(schedule.strip(), schedule.strip())
    minute, hour, dom, month, dow = text.split()
    mins, hours = sorted(_values(minute, 0, 59)), sorted(_values(hour, 0, 23))
    doms, months = _values(dom, 1, 31), _values(month, 1, 12, MONTHS, 1)
    dows = {d % 7 for d in _values(dow, 0, 7, [d.upper() for d in DAYS[:7]])}
    both = dom not in ("*", "?") and dow not in ("*", "?")
    times = [h * 60 + m for h in hours for m in mins]  # minutes of the day, ascending
    within = max((b - a for a, b in zip(times, times[1:], strict=False)), default=0) / 60
    start, last, gap, runs = datetime(2024, 1, 1), None, 0.0, 0
    for n in range(days):
        day = start + timedelta(days=n)
        d_ok, w_ok = day.day in doms, (day.weekday() + 1) % 7 in dows
        if day.month not in months or not ((d_ok or w_ok) if both else (d_ok and w_ok)):
            continue
        first = day + timedelta(minutes=times[0])
        if last is not None:
            gap = max(gap, (first - last).total_seconds() / 3600)
        gap, runs = max(gap, within), runs + len(times)
        last = day + timedelta(minutes=times[-1])
    return gap if runs >= 2 else float("inf")
