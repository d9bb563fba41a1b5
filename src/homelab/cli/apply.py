"""`homelab apply [FILE|PLAN.json] [-y] [--target ADDR]... [--parallelism N] [--break-lock]`.

With a saved plan: apply exactly that plan (refused when stale). With a lab file: plan, show, ask
(`-y` skips the question; without a terminal and without -y it refuses). Progress goes to stderr
(rich on a terminal, plain lines otherwise). Exit 0 done, 1 stale plan/locked state, 3 an engine
failed (the failing resource and the tail of its output are shown), 130 interrupted.
"""

from __future__ import annotations

from pathlib import Path

import typer

from homelab.cli._output import check_format, load_or_exit
from homelab.cli._run import open_session, run_apply, warn_findings
from homelab.cli.options import (
    BreakLockOption,
    FormatOption,
    LabArg,
    ParallelismOption,
    PruneOption,
    StateDirOption,
    TargetOption,
    WorkdirOption,
    YesOption,
)


def is_plan_file(path: str) -> bool:
    """A saved plan is JSON with a `format_version`; a lab file (YAML, possibly written as JSON) is not."""
    p = Path(path)
    if p.suffix in (".yaml", ".yml") or not p.is_file():
        return False
    try:
        with p.open("rb") as fh:
            head = fh.read(4096)
    except OSError:
        return False
    if p.suffix == ".json" and b'"version"' not in head:
        return True
    return head.lstrip()[:1] == b"{" and b'"format_version"' in head


def _saved_plan(file: str, state_dir, out, fmt):
    from homelab.apply.session import lab_file_of
    from homelab.errors import UsageError
    from homelab.ops.pipeline import require_clean
    from homelab.plan.model import Plan

    try:
        text = Path(file).read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot read the plan {file}: {exc.strerror}") from None
    plan = Plan.loads(text)
    doc = load_or_exit(lab_file_of(plan, file), fmt)
    warn_findings(require_clean(doc), fmt)
    return plan, open_session(doc, state_dir=state_dir, workdir=out or plan.workdir)


def apply(
    file: str = LabArg,
    yes: bool = YesOption,
    target: list[str] = TargetOption,
    prune: bool = PruneOption,
    parallelism: int = ParallelismOption,
    break_lock: bool = BreakLockOption,
    fmt: str = FormatOption,
    state_dir: str = StateDirOption,
    out: str = WorkdirOption,
):
    """Apply a saved plan (PLAN.json), or plan the lab and apply it after confirmation."""
    check_format(fmt)
    from homelab.errors import UsageError
    from homelab.ops.pipeline import require_clean

    if is_plan_file(file):
        if target or prune:
            raise UsageError("--target and --prune shape a new plan; a saved plan is applied as it is",
                             "make the plan with them: `homelab plan --target ... -o plan.json`")
        plan, session = _saved_plan(file, state_dir, out, fmt)
        saved = True
    else:
        doc = load_or_exit(file, fmt)
        warn_findings(require_clean(doc), fmt)
        session = open_session(doc, state_dir=state_dir, workdir=out)
        plan = session.plan(targets=target or (), prune=prune)
        saved = False
    try:
        code = run_apply(session, plan, yes=yes, saved=saved, parallelism=parallelism, break_lock=break_lock, fmt=fmt)
    finally:
        session.close()
    raise typer.Exit(code)


def register(app: typer.Typer) -> None:
    app.command()(apply)
