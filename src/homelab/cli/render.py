"""`homelab render [FILE] --out DIR [--check] [--format json]`."""

from __future__ import annotations

import sys

import typer

from homelab.cli._output import check_format, emit, emit_json, load_or_exit
from homelab.cli.options import FormatOption, LabArg


def render(
    file: str = LabArg,
    out: str = typer.Option(None, "--out", "-o", help="Output directory. Default: the lab file's directory."),
    check: bool = typer.Option(
        False, "--check", help="Write nothing; exit 1 and list the files that would change (CI, pre-commit)."
    ),
    fmt: str = FormatOption,
):
    """Render the platform repository (tf/, ansible/, k8s/, vault/, docs/) from the lab file."""
    check_format(fmt)
    from homelab.ops.pipeline import render_into, require_clean

    doc = load_or_exit(file, fmt)
    require_clean(doc, "rendering")
    rendered = render_into(doc, out, check=check)
    out_dir, report, files = rendered.out_dir, rendered.report, rendered.files
    if fmt == "json":
        emit_json({"out": str(out_dir), "check": check, "files": len(files), "up_to_date": report.up_to_date,
                   **report.to_json()})
    else:
        verb = ("would create", "would update", "would remove") if check else ("created", "updated", "removed")
        for label, paths in zip(verb, (report.created, report.updated, report.removed), strict=True):
            for p in sorted(paths):
                emit(f"{label}: {p}")
        if check and report.up_to_date:
            emit(f"{out_dir}: up to date ({len(files)} files)")
        elif check:
            emit(f"{out_dir}: {len(report.changed)} file(s) out of date; run `homelab render` to update", sys.stderr)
        else:
            emit(f"{out_dir}: {len(files)} files ({len(report.created)} created, {len(report.updated)} "
                 f"updated, {len(report.removed)} removed, {len(report.unchanged)} unchanged)")
    raise typer.Exit(1 if check and not report.up_to_date else 0)


def register(app: typer.Typer) -> None:
    app.command()(render)
