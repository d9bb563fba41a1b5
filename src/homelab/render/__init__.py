"""Render the platform repository from the lab: `render_all(doc) -> list[RenderedFile]` (pure).

`RENDERERS` is the explicit list of renderer modules, in the order they run: each is a module (or
package) `homelab.render.<name>` with `render(doc) -> Iterable[RenderedFile]`. They are imported when
`render_all` runs, not when this package is imported (the CLI imports `homelab.render.output` on
every render without wanting the renderers' imports). A name that is not such a module fails loudly
(`UnknownRenderer`), and a test fails when a module with a `render(doc)` under `render/` is missing
here. The writer (`output.py`) is the only code that touches the filesystem.
"""

from __future__ import annotations

import importlib

from homelab.render.base import RenderedFile

RENDERERS = ("terraform", "ansible", "kubernetes", "argocd", "vault", "docs", "repo")


class UnknownRenderer(RuntimeError):
    """A name in RENDERERS that is not a renderer module: a bug in homelab, never the user's input."""


def renderer(name: str):
    """The module `homelab.render.<name>`, checked to be a renderer (has a callable `render`)."""
    qualified = f"{__name__}.{name}"
    try:
        module = importlib.import_module(qualified)
    except ModuleNotFoundError as exc:
        if exc.name != qualified:
            raise
        raise UnknownRenderer(f"renderer {name!r} is registered in RENDERERS but {qualified} does not exist") from None
    if not callable(getattr(module, "render", None)):
        raise UnknownRenderer(f"renderer {name!r}: {qualified} has no render(doc) function")
    return module


def render_all(doc) -> list[RenderedFile]:
    files: dict[str, RenderedFile] = {}
    for module in [renderer(name) for name in RENDERERS]:
        for f in module.render(doc):
            if f.path in files:
                raise RuntimeError(f"two renderers produced {f.path}")
            files[f.path] = f
    return [files[p] for p in sorted(files)]
