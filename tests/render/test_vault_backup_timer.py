"""The Vault VM's backup timer: cron schedules become systemd calendar events that fire at exactly the
same minutes as cron would (checked with the real `systemd-analyze calendar` against a brute-force cron
matcher written here from crontab(5), not from the converter)."""

from __future__ import annotations

import re
import shutil
import subprocess
from datetime import UTC, datetime, timedelta

import pytest

from homelab.lab.cron import on_calendar

MONTHS = "JAN FEB MAR APR MAY JUN JUL AUG SEP OCT NOV DEC".split()
DAYS = "SUN MON TUE WED THU FRI SAT".split()


def _values(field: str, lo: int, hi: int, names=None, offset=0) -> set[int]:
    out: set[int] = set()
    for item in field.split(","):
        base, _, step = item.partition("/")
        if base == "*":
            a, b = lo, hi
        else:
            ends = [int(e) if e.isdigit() else names.index(e.upper()) + offset for e in base.split("-")]
            a, b = ends[0], ends[-1] if len(ends) == 2 or step else ends[0]
            if step and len(ends) == 1:
                b = hi
        out |= set(range(a, b + 1, int(step) if step else 1))
    return out


def cron_matches(expr: str, t: datetime) -> bool:
    """crontab(5): minute hour dom month dow; dom and dow OR'ed when both are restricted; dow 7 = Sunday."""
    mi, ho, dom, mon, dow = expr.split()
    days = _values(dow, 0, 7, DAYS)
    days = {d % 7 for d in days}
    wd = (t.weekday() + 1) % 7
    dom_ok, dow_ok = t.day in _values(dom, 1, 31), wd in days
    if dom != "*" and dow != "*":
        day_ok = dom_ok or dow_ok
    else:
        day_ok = dom_ok and dow_ok
    return (t.minute in _values(mi, 0, 59) and t.hour in _values(ho, 0, 23) and t.month in _values(mon, 1, 12, MONTHS, 1)
            and day_ok)


def systemd_elapses(events: list[str], base: datetime, n: int) -> list[datetime]:
    out: set[datetime] = set()
    for event in events:
        proc = subprocess.run(["systemd-analyze", "calendar", f"--iterations={n}",
                               f"--base-time={base:%Y-%m-%d %H:%M:%S} UTC", event],
                              capture_output=True, text=True, timeout=30, env={"TZ": "UTC", "PATH": "/usr/bin:/bin"})
        assert proc.returncode == 0, proc.stderr
        for m in re.finditer(r"(?:Next elapse|Iter\. #\d+): \w+ (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) UTC", proc.stdout):
            out.add(datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC))
    return sorted(out)[:n]


CASES = ["0 3 * * *", "*/15 * * * *", "0 5 * * 0", "30 2 1,15 * *", "0 4 1 * 1-5", "0 */6 * JAN-MAR MON",
         "5-10/2 0 * * 7", "0 0 */10 * *", "0 12 * * 0-6", "45 23 31 * *", "0 1 * * 5,6,0"]


@pytest.mark.parametrize("expr", CASES)
def test_timer_fires_when_cron_would(expr):
    assert shutil.which("systemd-analyze"), "systemd-analyze is needed (scripts/system-deps.sh installs systemd)"
    base = datetime(2026, 1, 1, tzinfo=UTC)
    got = systemd_elapses(on_calendar(expr), base, 12)
    expected, t = [], base + timedelta(minutes=1)
    while len(expected) < 12:
        if cron_matches(expr, t):
            expected.append(t)
        t += timedelta(minutes=1)
    assert got == expected, f"{expr} -> {on_calendar(expr)}"


def test_both_day_fields_need_two_events():
    assert on_calendar("0 4 1 * 1-5") == ["*-*-01 04:00:00 UTC", "Mon,Tue,Wed,Thu,Fri *-*-* 04:00:00 UTC"]
    assert on_calendar("0 3 * * *") == ["*-*-* 03:00:00 UTC"]
    assert on_calendar("@weekly") == ["Sun *-*-* 00:00:00 UTC"]
    with pytest.raises(ValueError):
        on_calendar("0 3 * *")


@pytest.mark.parametrize("expr", ["0 3 * * *", "0 5 * * 0", "0 3 1 * *", "0 4 1 * 1-5", "0 3,5 * * *", "0 0 */10 * *"])
def test_the_longest_gap_between_runs_is_what_systemd_schedules(expr):
    """backup-retention-short compares retentions with lab/cron.longest_gap_hours; here the same gap comes from
    the runs systemd-analyze lists for the converted events (two years of them)."""
    from homelab.lab.cron import longest_gap_hours

    runs = systemd_elapses(on_calendar(expr), datetime(2024, 1, 1, tzinfo=UTC), 800)
    runs = [r for r in runs if r < datetime(2025, 2, 4, tzinfo=UTC)]  # the 400 days the check looks at
    gaps = [(b - a).total_seconds() / 3600 for a, b in zip(runs, runs[1:], strict=False)]
    assert longest_gap_hours(expr) == max(gaps)
