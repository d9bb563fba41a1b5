"""homelab — run a whole homelab platform from one file.

Public API (the CLI is a thin layer over these):

    load(path)        -> Lab              (raises LoadError with diagnostics)
    check(lab)        -> list[Diagnostic]
    render(lab)       -> list[RenderedFile]
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__", "load", "check", "render"]


def load(path):  # pragma: no cover - thin re-export, imported lazily to keep startup fast
    from homelab.lab.load import load_lab

    return load_lab(path)


def check(lab):  # pragma: no cover
    from homelab.checks import run_checks

    return run_checks(lab)


def render(lab):  # pragma: no cover
    from homelab.render import render_all

    return render_all(lab)
