"""`homelab plan [FILE] [-o plan.json] [--target ADDR]... [--prune] [--format json] [--detailed-exitcode]`.

Exit codes: 0 on success (whatever the plan says); with `--detailed-exitcode` exactly Terraform's:
0 no changes, 1 error (any error, even an unreadable lab file), 2 changes present.
"""

from __future__ import annotations

import sys

import typer

from homelab.cli._output import check_format, emit, print_diagnostics, print_error
from homelab.cli._run import open_session, show_plan, warn_findings, write_plan_file
from homelab.cli.options import (
    FormatOption,
    LabArg,
    PruneOption,
    StateDirOption,
    TargetOption,
    VerboseOption,
    WorkdirOption,
)


def plan(
    file: str = LabArg,
    output: str = typer.Option(None, "-o", "--output", help="Save the plan (JSON) for `homelab apply PLAN`."),
    fmt: str = FormatOption,
    detailed_exitcode: bool = typer.Option(
        False, "--detailed-exitcode", help="Exit 0 no changes, 1 error, 2 changes present (as Terraform)."),
    verbose: bool = VerboseOption,
    target: list[str] = TargetOption,
    prune: bool = PruneOption,
    state_dir: str = StateDirOption,
    out: str = WorkdirOption,
):
    """Show what apply would change, layer by layer, with a reason for each change."""
    from homelab.errors import HomelabError, LoadError
    from homelab.lab.load import load_lab
    from homelab.ops.pipeline import CheckFailed, require_clean

    try:
        check_format(fmt)
        doc = load_lab(file)
        warn_findings(require_clean(doc), fmt)  # never plan a lab `check` rejects
        session = open_session(doc, state_dir=state_dir, workdir=out)
        try:
            result = session.plan(targets=target or (), prune=prune)
        finally:
            session.close()
        if output:
            write_plan_file(result, output)
    except (LoadError, CheckFailed) as exc:
        if not detailed_exitcode:
            raise
        print_diagnostics(exc.diagnostics, stream=sys.stdout if fmt == "json" else sys.stderr,
                          fmt="json" if fmt == "json" else "text")
        raise typer.Exit(1) from None
    except HomelabError as exc:
        if not detailed_exitcode:
            raise
        print_error(exc)
        raise typer.Exit(1) from None
    show_plan(result, fmt, verbose)
    if output and fmt != "json":
        emit(f"Saved the plan to {output}. Apply exactly this plan with `homelab apply {output}`.")
    if detailed_exitcode:
        raise typer.Exit(2 if result.has_changes else 0)


def register(app: typer.Typer) -> None:
    app.command()(plan)
