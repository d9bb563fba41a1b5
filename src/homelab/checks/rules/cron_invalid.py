"""Cron schedules must be valid cron, field by field: the model only checks the characters."""

from __future__ import annotations

import re

from homelab.checks.base import Finding, rule

MONTHS = {m: i for i, m in enumerate("JAN FEB MAR APR MAY JUN JUL AUG SEP OCT NOV DEC".split(), 1)}
DAYS = {d: i for i, d in enumerate("SUN MON TUE WED THU FRI SAT".split())}
# (name, lowest, highest, names, `?` allowed): crontab(5) fields; day of week 7 is Sunday there too.
FIELDS = (("minute", 0, 59, {}, False), ("hour", 0, 23, {}, False), ("day of month", 1, 31, {}, True),
          ("month", 1, 12, MONTHS, False), ("day of week", 0, 7, DAYS, True))
ITEM = re.compile(r"^(?P<base>\*|\?|[0-9A-Za-z]+(?:-[0-9A-Za-z]+)?)(?:/(?P<step>[0-9A-Za-z]*))?$")


def _value(text: str, field) -> int | str:
    name, lo, hi, names, _ = field
    if text.isdigit():
        n = int(text)
        return n if lo <= n <= hi else f"{name} {n} is out of range {lo}-{hi}"
    if text.upper() in names:
        return names[text.upper()]
    return f"{name} {text!r} is not a number" + (f" or a name ({', '.join(names)})" if names else "")


def field_problem(text: str, field) -> str | None:
    """Why one cron field is invalid, or None."""
    name, lo, hi, _, question = field
    for item in text.split(","):
        m = ITEM.match(item)
        if not m:
            return f"{name} {item!r} is not a value, a range A-B, a list or a step */N"
        base, step = m["base"], m["step"]
        if step is not None and (not step.isdigit() or int(step) < 1):
            return f"{name} {item!r}: the step after '/' must be a whole number of at least 1"
        if base == "?":
            if not question:
                return f"{name}: '?' is only allowed for the day of month or the day of week"
            continue
        if base == "*":
            continue
        ends = [_value(part, field) for part in base.split("-")]
        bad = next((e for e in ends if isinstance(e, str)), None)
        if bad:
            return bad
        if len(ends) == 2 and ends[0] > ends[1]:
            return f"{name} range {base} runs backwards"
    return None


def cron_problem(expr: str, velero: bool = False, elasticsearch: bool = False) -> str | None:
    """Why a five-field cron expression is invalid (None for a valid one or an @macro)."""
    if expr.strip().startswith("@"):
        return None  # the model accepts only the known macros
    parts = expr.split()
    if len(parts) != len(FIELDS):
        return f"{len(parts)} fields, cron has 5 (minute hour day-of-month month day-of-week)"
    for text, field in zip(parts, FIELDS, strict=True):
        problem = field_problem(text, field)
        if problem:
            return problem
    if velero and re.search(r"(^|[,-])7($|[,/-])", parts[4]):
        return "day of week 7: Velero's cron parser (robfig/cron) takes 0-6, Sunday is 0"
    if elasticsearch and parts[2] not in ("*", "?") and parts[4] not in ("*", "?"):
        # SLM schedules are Quartz cron: exactly one of the two day fields is '?' (Elasticsearch reference,
        # "Cron expressions"); cron's "either day" cannot be said (render/ansible.py es_cron).
        return ("it restricts both the day of month and the day of week: Elasticsearch's (Quartz) cron cannot "
                "express cron's 'either day'; keep one of them '*'")
    return None


def schedules(lab):
    b = lab.backup
    yield ("backup", "vault", "schedule"), b.vault.schedule, {}
    if b.elasticsearch:
        yield ("backup", "elasticsearch", "schedule"), b.elasticsearch.schedule, {"elasticsearch": True}
    for i, sched in enumerate(b.velero.schedules if b.velero else []):
        yield ("backup", "velero", "schedules", i, "schedule"), sched.schedule, {"velero": True}


@rule("cron-invalid", "error", "a cron schedule has a value out of range or a malformed field")
def check(doc):
    for path, expr, dialect in schedules(doc.lab):
        problem = cron_problem(expr, **dialect)
        if problem:
            yield Finding(path, f"schedule {expr!r}: {problem}",
                          "five fields: minute 0-59, hour 0-23, day of month 1-31, month 1-12 or JAN-DEC, day of "
                          "week 0-6 or SUN-SAT; each a value, a range A-B, a list a,b or a step */N — e.g. '0 3 * * *'")
