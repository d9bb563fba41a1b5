"""`homelab up [FILE]`: check → render → plan → apply, the main job.

Stops at the first stage that fails: error findings (exit 1), a render problem, a stale or locked
state, an engine failure (exit 3). Layers whose engine is not configured are reported in the plan
and skipped by apply with that reason.
"""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from homelab.cli._output import FormatOption, check_format, emit, load_or_exit, print_diagnostics
from homelab.cli.plan import LabArg, StateDirOption, open_lab_session


def render_to(doc, out: str | None, fmt: str = "text", stream=None):
    """Render the lab into `out` (default: the lab's directory) with the one writer. Returns the dir."""
    from homelab.render import render_all
    from homelab.render.output import write_tree

    out_dir = Path(out) if out else Path(doc.file).parent
    files = render_all(doc)
    report = write_tree(files, out_dir)
    if fmt != "json":
        emit(f"render: {out_dir}: {len(files)} files ({len(report.created)} created, {len(report.updated)} updated, "
             f"{len(report.removed)} removed, {len(report.unchanged)} unchanged)", stream)
    return out_dir


def check_clean(doc, fmt: str = "text") -> None:
    from homelab.checks import run_checks
    from homelab.diagnostics import Severity

    diags = run_checks(doc)
    if any(d.severity is Severity.ERROR for d in diags):
        print_diagnostics(diags, stream=sys.stdout if fmt == "json" else sys.stderr, fmt=fmt)
        if fmt != "json":
            emit("stopping: fix the errors above first (`homelab check`)", sys.stderr)
        raise typer.Exit(1)
    if diags and fmt != "json":
        print_diagnostics(diags, stream=sys.stderr)


def register(app: typer.Typer) -> None:
    @app.command()
    def up(
        file: str = LabArg,
        out: str = typer.Option(None, "--out", help="Where to render. Default: the lab file's directory."),
        yes: bool = typer.Option(False, "-y", "--yes", help="Do not ask for confirmation."),
        parallelism: int = typer.Option(1, "--parallelism", "-p", min=1, max=64,
                                        help="Independent resources of a batch applied at once."),
        break_lock: bool = typer.Option(False, "--break-lock", help="Break a stale state lock first."),
        fmt: str = FormatOption,
        state_dir: str = StateDirOption,
    ):
        """Check, render, plan and apply the whole lab."""
        check_format(fmt)
        from homelab.cli.apply import run_apply

        doc = load_or_exit(file, fmt)
        check_clean(doc, fmt)
        err = sys.stderr if fmt == "json" else None
        if fmt != "json":
            emit(f"check: {doc.file}: ok", err)
        workdir = render_to(doc, out, fmt, err)
        session = open_lab_session(doc, state_dir=state_dir, workdir=workdir)
        try:
            plan = session.plan()
            code = run_apply(session, plan, yes=yes, saved=False, parallelism=parallelism,
                             break_lock=break_lock, fmt=fmt)
        finally:
            session.close()
        raise typer.Exit(code)
