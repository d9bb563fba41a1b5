"""`homelab plan [FILE] [-o plan.json] [--format json] [--detailed-exitcode]`.

Exit codes: 0 on success (whatever the plan says); with `--detailed-exitcode` exactly Terraform's:
0 no changes, 1 error (any error, even an unreadable lab file), 2 changes present.
Also the helpers the other plan/apply commands share (they are the only place that prints).
"""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from homelab.cli._output import FormatOption, check_format, emit, print_diagnostics, print_error

LabArg = typer.Argument("homelab.yaml", help="The lab file (or a directory holding homelab.yaml).")
StateDirOption = typer.Option(None, "--state-dir", help="State directory. Default: $HOMELAB_STATE_DIR or ./.homelab.")
WorkdirOption = typer.Option(None, "--out", help="The rendered repository. Default: the lab file's directory.")


def engines_factory():
    """The engine lookup the commands use (tests replace it)."""
    from homelab.ops.apply import default_engines

    return default_engines()


def open_lab_session(doc, *, state_dir=None, workdir=None):
    from homelab.ops.apply import open_session

    return open_session(doc, state_dir=state_dir, workdir=workdir, engines=engines_factory(),
                        progress=lambda message: emit(f"  | {message}", sys.stderr))


def show_plan(plan, fmt: str = "text", verbose: bool = False, stream=None) -> None:
    from homelab.plan.show import render_json, render_text

    emit(render_json(plan) if fmt == "json" else render_text(plan, verbose=verbose), stream)


def write_plan_file(plan, path: str) -> None:
    from homelab.lab.edit import write_atomic

    target = Path(path)
    if target.parent and not target.parent.exists():
        from homelab.errors import UsageError

        raise UsageError(f"cannot write the plan to {path}: {target.parent} does not exist")
    write_atomic(target, plan.dumps())


def register(app: typer.Typer) -> None:
    @app.command()
    def plan(
        file: str = LabArg,
        output: str = typer.Option(None, "-o", "--output", help="Save the plan (JSON) for `homelab apply PLAN`."),
        fmt: str = FormatOption,
        detailed_exitcode: bool = typer.Option(
            False, "--detailed-exitcode", help="Exit 0 no changes, 1 error, 2 changes present (as Terraform)."),
        verbose: bool = typer.Option(False, "--verbose", "-v", help="Also list unchanged resources and attributes."),
        state_dir: str = StateDirOption,
        out: str = WorkdirOption,
    ):
        """Show what apply would change, layer by layer, with a reason for each change."""
        from homelab.errors import HomelabError, LoadError
        from homelab.lab.load import load_lab

        try:
            check_format(fmt)
            doc = load_lab(file)
            from homelab.cli.up import check_clean

            check_clean(doc, fmt)  # never plan a lab `check` rejects (duplicate IPs, unknown refs, ...)
            session = open_lab_session(doc, state_dir=state_dir, workdir=out)
            try:
                result = session.plan()
            finally:
                session.close()
            if output:
                write_plan_file(result, output)
        except LoadError as exc:
            print_diagnostics(exc.diagnostics, stream=sys.stdout if fmt == "json" else sys.stderr,
                              fmt="json" if fmt == "json" else "text")
            raise typer.Exit(1 if detailed_exitcode else 2) from None
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
