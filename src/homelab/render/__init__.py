"""Render the platform repository from the lab: `render_all(doc) -> list[RenderedFile]` (pure).

Each module in RENDERERS exposes `render(doc) -> Iterable[RenderedFile]`; a module not written yet
is skipped. The writer (`output.py`) is the only code that touches the filesystem.
"""

from __future__ import annotations

import importlib

from homelab.render.base import RenderedFile

RENDERERS = ("terraform", "ansible", "kubernetes", "argocd", "vault", "docs", "repo")


def render_all(doc) -> list[RenderedFile]:
    files: dict[str, RenderedFile] = {}
    for name in RENDERERS:
        try:
            module = importlib.import_module(f"homelab.render.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"homelab.render.{name}":
                continue
            raise
        for f in module.render(doc):
            if f.path in files:
                raise RuntimeError(f"two renderers produced {f.path}")
            files[f.path] = f
    return [files[p] for p in sorted(files)]
