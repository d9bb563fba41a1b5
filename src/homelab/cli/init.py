from __future__ import annotations

import typer

from homelab.cli._output import check_format, emit, emit_json
from homelab.cli.options import FormatOption

LAB_FILE = "homelab.yaml"
SCHEMA_FILE = "homelab.schema.json"


def starter_lab() -> str:
    """The commented starter lab shipped as package data (lab/templates/homelab.yaml)."""
    from importlib import resources

    return resources.files("homelab.lab").joinpath("templates", LAB_FILE).read_text(encoding="utf-8")


def init(
    directory: str = typer.Argument(".", help="Directory to write homelab.yaml into (created if missing)."),
    force: bool = typer.Option(False, "--force", help="Overwrite existing files."),
    fmt: str = FormatOption,
):
    """Write a commented starter homelab.yaml and its JSON Schema (for editor completion) into DIRECTORY."""
    check_format(fmt)
    from pathlib import Path

    from homelab.errors import UsageError
    from homelab.lab.schema import json_schema_text

    target = Path(directory)
    if target.exists() and not target.is_dir():
        raise UsageError(f"{directory} exists and is not a directory", "pass a directory, e.g. `homelab init mylab`")
    files = {LAB_FILE: starter_lab(), SCHEMA_FILE: json_schema_text()}
    existing = [name for name in files if (target / name).exists()]
    if existing and not force:
        shown = ", ".join(str(target / name) for name in existing)
        verb = "exists" if len(existing) == 1 else "exist"
        raise UsageError(f"{shown} already {verb}; not overwriting",
                         "pass --force to overwrite, or choose another directory")
    try:
        target.mkdir(parents=True, exist_ok=True)
        for name, text in files.items():
            tmp = target / f".{name}.tmp"
            tmp.write_text(text, encoding="utf-8")
            tmp.replace(target / name)
    except OSError as exc:
        raise UsageError(f"cannot write into {directory}: {exc.strerror}", "check the directory's permissions") \
            from None
    written = [str(target / name) for name in files]
    if fmt == "json":
        emit_json({"written": written})
        return
    for path in written:
        emit(f"wrote {path}")
    lab = target / LAB_FILE
    emit(f"next: edit {lab}, then run `homelab check {lab}`")


def register(app: typer.Typer) -> None:
    app.command()(init)
