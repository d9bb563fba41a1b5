"""`homelab.render.RENDERERS` is complete and strict.

Every module under `render/` with a top-level `render(doc)` function is a renderer and must be
registered (else its files are silently never rendered); every registered name must be such a module
(else `render_all` fails loudly instead of skipping it). Modules are found by reading the source
(ast), so a renderer is caught even when nothing imports it.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

import homelab.render  # noqa: F401 - the package, reached through sys.modules
from homelab.render import RENDERERS, UnknownRenderer, render_all, renderer

RENDER_DIR = Path(sys.modules['homelab.render'].__file__).parent


def _defines_render(path: Path) -> bool:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    return any(isinstance(node, ast.FunctionDef) and node.name == "render"
               and len(node.args.posonlyargs + node.args.args) == 1 for node in tree.body)


def renderer_modules(root: Path) -> set[str]:
    """Dotted names (relative to `root`) of the modules below it that define `render(doc)`."""
    found = set()
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        if parts and _defines_render(path):
            found.add(".".join(parts))
    return found


def test_every_renderer_module_is_registered_and_every_registered_name_is_one():
    found = renderer_modules(RENDER_DIR)
    assert found, "no renderer module found: the scan is broken"
    assert sorted(found - set(RENDERERS)) == [], "renderer modules missing from homelab.render.RENDERERS"
    assert sorted(set(RENDERERS) - found) == [], "names in RENDERERS without a render(doc) module"
    assert len(RENDERERS) == len(set(RENDERERS))
    for name in RENDERERS:
        assert callable(renderer(name).render)


def test_the_scan_finds_modules_packages_and_nested_renderers(tmp_path):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "__init__.py").write_text("def render_all(doc):\n    return []\n")
    (tmp_path / "flat.py").write_text("def render(doc):\n    return []\n")
    (tmp_path / "helpers.py").write_text("def render_table(rows):\n    return ''\n\ndef render(a, b):\n    pass\n")
    (tmp_path / "pkg" / "__init__.py").write_text("from x import y\n\ndef render(doc):\n    return []\n")
    (tmp_path / "pkg" / "page.py").write_text("def render(doc):\n    return []\n")
    (tmp_path / "pkg" / "inner.py").write_text("class C:\n    def render(self, doc):\n        pass\n")
    assert renderer_modules(tmp_path) == {"flat", "pkg", "pkg.page"}


@pytest.mark.parametrize("name, message", [
    ("no_such_renderer", "does not exist"),
    ("base", r"has no render\(doc\) function"),
])
def test_an_unknown_renderer_fails_loudly(monkeypatch, reference_doc, name, message):
    monkeypatch.setattr(sys.modules["homelab.render"], "RENDERERS", ("terraform", name))
    with pytest.raises(UnknownRenderer, match=message):
        render_all(reference_doc)
