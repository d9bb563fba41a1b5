"""`homelab render [FILE] --out DIR [--check] [--format json]`."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from homelab.cli._output import FormatOption, check_format, emit, emit_json, load_or_exit, print_diagnostics


def register(app: typer.Typer) -> None:
    @app.command()
    def render(
        file: str = typer.Argument("homelab.yaml", help="The lab file (or a directory holding homelab.yaml)."),
        out: str = typer.Option(None, "--out", "-o", help="Output directory. Default: the lab file's directory."),
        check: bool = typer.Option(
            False, "--check", help="Write nothing; exit 1 and list the files that would change (CI, pre-commit)."
        ),
        fmt: str = FormatOption,
    ):
        """Render the platform repository (tf/, ansible/, k8s/, vault/, docs/) from the lab file."""
        check_format(fmt)
        from homelab.checks import run_checks
        from homelab.diagnostics import Severity
        from homelab.render import render_all
        from homelab.render.output import write_tree

        doc = load_or_exit(file, fmt)
        diags = run_checks(doc)
        errors = [d for d in diags if d.severity is Severity.ERROR]
        if errors:
            if fmt == "json":
                print_diagnostics(diags, fmt="json")
            else:
                print_diagnostics(diags, stream=sys.stderr)
                emit("not rendering: fix the errors above first (`homelab check`)", sys.stderr)
            raise typer.Exit(1)

        out_dir = Path(out) if out else Path(doc.file).parent
        files = render_all(doc)
        report = write_tree(files, out_dir, check=check)

        if fmt == "json":
            emit_json({
                "out": str(out_dir), "check": check, "files": len(files),
                "up_to_date": report.up_to_date, **report.to_json(),
            })
        else:
            verb = ("would create", "would update", "would remove") if check else ("created", "updated", "removed")
            for label, paths in zip(verb, (report.created, report.updated, report.removed), strict=True):
                for p in sorted(paths):
                    emit(f"{label}: {p}")
            if check:
                if report.up_to_date:
                    emit(f"{out_dir}: up to date ({len(files)} files)")
                else:
                    emit(f"{out_dir}: {len(report.changed)} file(s) out of date; run `homelab render` to update",
                         sys.stderr)
            else:
                emit(f"{out_dir}: {len(files)} files ({len(report.created)} created, {len(report.updated)} "
                     f"updated, {len(report.removed)} removed, {len(report.unchanged)} unchanged)")
        raise typer.Exit(1 if check and not report.up_to_date else 0)
