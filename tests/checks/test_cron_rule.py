"""cron-invalid, field by field (crontab(5); Velero's robfig/cron takes the day of week 0-6)."""

from __future__ import annotations

import pytest

from homelab.checks.rules.cron_invalid import cron_problem


@pytest.mark.parametrize("expr", [
    "0 3 * * *", "*/15 * * * *", "0 0-6,22-23 * * *", "5 4 1,15 */2 ?", "0 3 * JAN-MAR,dec mon-fri",
    "0 3 * * 7", "30 2 ? * SUN", "0 0 29 2 *", "0-59/5 0-23/2 1-31 1-12 0-6", "@daily", "@weekly",
])
def test_valid(expr):
    assert cron_problem(expr) is None


@pytest.mark.parametrize(("expr", "says"), [
    ("60 3 * * *", "minute 60 is out of range 0-59"),
    ("0 24 * * *", "hour 24 is out of range 0-23"),
    ("0 3 0 * *", "day of month 0 is out of range 1-31"),
    ("0 3 32 * *", "day of month 32 is out of range 1-31"),
    ("0 3 * 13 *", "month 13 is out of range 1-12"),
    ("0 3 * * 8", "day of week 8 is out of range 0-7"),
    ("0 3 * * 5-1", "day of week range 5-1 runs backwards"),
    ("*/0 3 * * *", "the step after '/' must be a whole number of at least 1"),
    ("*/x 3 * * *", "the step after '/' must be a whole number"),
    ("0 3 * FOO *", "month 'FOO' is not a number or a name"),
    ("0 3 * * funday", "day of week 'funday' is not a number or a name"),
    ("? 3 * * *", "'?' is only allowed for the day of month or the day of week"),
    ("0 3 * * 1,,2", "is not a value, a range A-B"),
    ("0 3 * *", "4 fields, cron has 5"),
])
def test_invalid(expr, says):
    problem = cron_problem(expr)
    assert problem is not None and says in problem, problem


def test_day_of_week_7_is_sunday_for_cron_but_not_for_velero():
    assert cron_problem("0 3 * * 7") is None
    assert "robfig/cron" in cron_problem("0 3 * * 7", velero=True)
    assert "robfig/cron" in cron_problem("0 3 * * 5-7", velero=True)
    assert cron_problem("0 3 * * 0", velero=True) is None
    assert cron_problem("17 3 * * 1", velero=True) is None  # a 7 in another field is fine


def test_elasticsearch_cannot_take_both_day_fields():
    """SLM schedules are Quartz cron: one of day-of-month / day-of-week must be '?' (render/ansible.py es_cron)."""
    assert cron_problem("0 3 1 * 1", elasticsearch=True) is not None
    assert "Quartz" in cron_problem("0 3 1 * MON", elasticsearch=True)
    assert cron_problem("0 3 1 * 1") is None  # fine for cron, Velero and the Vault timer
    assert cron_problem("0 3 1 * *", elasticsearch=True) is None and cron_problem("0 3 * * 1", elasticsearch=True) is None
