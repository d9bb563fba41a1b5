"""Printing helpers shared by the commands. Everything printed passes through the redactor."""

from __future__ import annotations

import json
import sys
from typing import Any

import typer

from homelab.secrets import REDACTOR

CURRENT = {"format": "text"}  # the running command's --format, for the errors main.py prints


def check_format(fmt: str) -> str:
    from homelab.errors import UsageError

    if fmt not in ("text", "json"):
        raise UsageError(f"unknown format {fmt!r}", "use --format text or --format json")
    CURRENT["format"] = fmt
    return fmt


def emit(text: str, stream=None) -> None:
    (stream or sys.stdout).write(REDACTOR(text) + ("" if text.endswith("\n") else "\n"))


def emit_json(data: Any, stream=None) -> None:
    emit(json.dumps(data, indent=2, sort_keys=True, default=str), stream)


def print_diagnostics(diags, stream=None, fmt: str = "text") -> None:
    from homelab.diagnostics import sort_diagnostics

    diags = sort_diagnostics(diags)
    if fmt == "json":
        emit_json({"diagnostics": [d.to_json() for d in diags]}, stream)
        return
    for d in diags:
        emit(d.format(), stream)
    if diags:
        errors = sum(1 for d in diags if d.severity.value == "error")
        warnings = sum(1 for d in diags if d.severity.value == "warning")
        emit(f"{errors} error(s), {warnings} warning(s)", stream)


def print_error(exc) -> None:
    text = f"error: {exc.message}"
    if getattr(exc, "hint", None):
        text += f"\n  hint: {exc.hint}"
    tail = getattr(exc, "output_tail", "")
    if tail:
        text += "\n  output (last lines):\n" + "\n".join("    " + ln for ln in tail.splitlines()[-20:])
    emit(text, sys.stderr)


def load_or_exit(path: str, fmt: str = "text"):
    """Load the lab; on failure print every diagnostic (in the chosen format) and exit 2."""
    from homelab.errors import LoadError
    from homelab.lab.load import load_lab

    try:
        return load_lab(path)
    except LoadError as exc:
        print_diagnostics(exc.diagnostics, stream=sys.stdout if fmt == "json" else sys.stderr, fmt=fmt)
        raise typer.Exit(2) from None
