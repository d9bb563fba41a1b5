from __future__ import annotations

import typer

from homelab.cli._output import check_format, emit, load_or_exit, print_diagnostics
from homelab.cli.options import FormatOption

LabArg = typer.Argument("homelab.yaml", help="The lab file.")


def check(
    file: str = LabArg,
    fmt: str = FormatOption,
    strict: bool = typer.Option(False, "--strict", help="Treat warnings as errors."),
):
    """Check the lab file: every mistake at once, with file:line:col and a hint."""
    check_format(fmt)
    from homelab.checks import run_checks
    from homelab.diagnostics import Severity

    doc = load_or_exit(file, fmt)
    diags = run_checks(doc)
    failing = [d for d in diags if d.severity is Severity.ERROR or (strict and d.severity is Severity.WARNING)]
    if fmt == "json":
        print_diagnostics(diags, fmt="json")
    elif diags:
        print_diagnostics(diags)
    else:
        emit(f"{doc.file}: ok ({len(doc.lab.vms)} VMs, {len(doc.lab.apps)} apps)")
    raise typer.Exit(1 if failing else 0)


def register(app: typer.Typer) -> None:
    app.command()(check)
