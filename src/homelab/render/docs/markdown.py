"""Markdown building blocks shared by the `docs/` pages and the rendered repository's README (`repo.py`).

Tables are built from data here; Jinja2 renders only the prose-shaped parts (templates under
`render/templates/`). `markdown_file` normalises what a page returns into the rendered file.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from homelab.lab.types import GIB, format_size
from homelab.render.base import GENERATED, RenderedFile, normalise

NONE = "—"


def md_header(title: str) -> str:
    """The generated-file marker (an HTML comment, invisible when rendered) and the title."""
    return f"<!-- {GENERATED} -->\n\n# {title}\n\n"


def cell(value) -> str:
    """One table cell: pipes escaped, newlines folded, empty shown as a dash."""
    if value is None or value == "" or value == []:
        return NONE
    text = str(value).replace("\r", "").replace("\n", " ").replace("|", "\\|")
    return text


def section(title: str, body: str, level: int = 2) -> str:
    """A heading (`##` by default) after a blank line, a blank line, then the body."""
    return f"\n{'#' * level} {title}\n\n{body}"


def code(value: str) -> str:
    return f"`{value}`" if value else NONE


def table(headers: list[str], rows: Iterable[Iterable], align: str | None = None) -> str:
    """A GitHub-flavoured markdown table; `align` is one char per column: l, r or c."""
    rows = [[cell(v) for v in row] for row in rows]
    for row in rows:
        if len(row) != len(headers):
            raise ValueError(f"table row has {len(row)} cells, expected {len(headers)}")
    marks = {"l": "---", "r": "---:", "c": ":---:"}
    sep = [marks[a] for a in (align or "l" * len(headers))]
    lines = ["| " + " | ".join(headers) + " |", "| " + " | ".join(sep) + " |"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def size(n: int | None) -> str:
    if n is None:
        return NONE
    exact = format_size(n)
    if not exact.endswith("B") or exact.endswith("iB"):
        return exact
    return f"{n / GIB:.1f}GiB"


def percent(used: int, total: int) -> str:
    if total <= 0:
        return NONE
    return f"{used * 100 / total:.0f}%"


def chart_ref(chart) -> str:
    """`name@version` of a chart (`UNPINNED` when it has no version: rule chart-unpinned)."""
    return f"{chart.name}@{chart.version or 'UNPINNED'}"


def by_name(items) -> list:
    return sorted(items, key=lambda item: item.name)


def jinja_env():
    """Jinja2 for prose only: strict (a missing variable is a bug), no autoescape (markdown)."""
    import jinja2

    return jinja2.Environment(
        loader=jinja2.PackageLoader("homelab.render", "templates"),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
    )


def render_template(template: str, **context) -> str:
    return jinja_env().get_template(template).render(**context)


def markdown_file(path: str, text: str) -> RenderedFile:
    """A markdown RenderedFile: at most one blank line in a row, LF, one trailing newline."""
    text = re.sub(r"\n{3,}", "\n\n", text)
    return RenderedFile(path, normalise(text))
