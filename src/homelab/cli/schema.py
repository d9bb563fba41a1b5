from __future__ import annotations

import typer

from homelab.cli._output import emit


def schema():
    """Print the JSON Schema of homelab.yaml (for editors: yaml-language-server)."""
    from homelab.lab.schema import json_schema_text

    emit(json_schema_text())


def register(app: typer.Typer) -> None:
    app.command()(schema)
