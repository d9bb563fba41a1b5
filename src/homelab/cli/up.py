"""`homelab up [FILE]`: check → render → plan → apply, the main job.

Stops at the first stage that fails: error findings (exit 1), a render problem, a stale or locked
state, an engine failure (exit 3). Layers whose engine is not configured are reported in the plan
and skipped by apply with that reason.
"""

from __future__ import annotations

import sys

import typer

from homelab.cli._output import check_format, emit, load_or_exit
from homelab.cli._run import open_session, run_apply, warn_findings
from homelab.cli.options import (
    BreakLockOption,
    FormatOption,
    LabArg,
    ParallelismOption,
    StateDirOption,
    YesOption,
)


def say_rendered(rendered, stream=None) -> None:
    r = rendered.report
    emit(f"render: {rendered.out_dir}: {len(rendered.files)} files ({len(r.created)} created, {len(r.updated)} "
         f"updated, {len(r.removed)} removed, {len(r.unchanged)} unchanged)", stream)


def up(
    file: str = LabArg,
    out: str = typer.Option(None, "--out", help="Where to render. Default: the lab file's directory."),
    yes: bool = YesOption,
    parallelism: int = ParallelismOption,
    break_lock: bool = BreakLockOption,
    fmt: str = FormatOption,
    state_dir: str = StateDirOption,
):
    """Check, render, plan and apply the whole lab."""
    check_format(fmt)
    from homelab.ops.pipeline import render_into, require_clean

    doc = load_or_exit(file, fmt)
    warn_findings(require_clean(doc), fmt)
    err = sys.stderr if fmt == "json" else None
    if fmt != "json":
        emit(f"check: {doc.file}: ok", err)
    rendered = render_into(doc, out)
    if fmt != "json":
        say_rendered(rendered, err)
    session = open_session(doc, state_dir=state_dir, workdir=rendered.out_dir)
    try:
        plan = session.plan()
        code = run_apply(session, plan, yes=yes, saved=False, parallelism=parallelism, break_lock=break_lock,
                         fmt=fmt)
    finally:
        session.close()
    raise typer.Exit(code)


def register(app: typer.Typer) -> None:
    app.command()(up)
