"""One small HCL writer: data in, readable `terraform fmt`-canonical HCL out.

The model is deliberately tiny:

- ``Block(type, labels, body)``: ``resource "a" "b" { ... }``; ``body`` is a list of items or a dict
  (name -> value, where a ``Block`` value is written as a nested block named by its ``type``).
- ``Attribute(name, value)``: ``name = value``.
- ``Comment(text)``: ``# text`` on its own line(s).
- ``Blank()``: an explicit empty line (to group attributes).
- values: ``str`` (quoted and escaped), ``bool``, ``int``, ``float``, ``None`` (``null``), ``list``/``tuple``,
  ``dict`` (an object), ``Raw(expr)`` (an expression written verbatim: references, function calls,
  conditionals, type constraints) and ``Heredoc(text)`` (``<<-EOT``).

Layout rules, the ones `terraform fmt` (hclwrite) applies, so the output passes ``terraform fmt -check``:
two-space indent; the ``=`` of consecutive single-line attributes aligned one space after the longest
name; a comment line, a blank line, a nested block or an attribute whose value opens a multi-line
object/list ends such a run (a heredoc does not). Objects with more than one key and lists of objects are
written multi-line; short scalar lists stay on one line. Nested blocks get a blank line around them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

INDENT = "  "
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
_ONE_LINE_LIST_MAX = 80  # scalar lists up to this many characters stay on one line


@dataclass(frozen=True)
class Raw:
    """An HCL expression written as-is (``var.name``, ``module.x.ip``, ``join(",", var.tags)``)."""

    expr: str

    def __post_init__(self):
        if not self.expr or "\n" in self.expr:
            raise ValueError("a raw expression is one non-empty line")


@dataclass(frozen=True)
class Heredoc:
    """A multi-line string written as an indented heredoc (``<<-EOT``)."""

    text: str
    marker: str = "EOT"


@dataclass(frozen=True)
class Comment:
    text: str


@dataclass(frozen=True)
class Blank:
    pass


@dataclass(frozen=True)
class Attribute:
    name: str
    value: object


@dataclass
class Block:
    type: str
    labels: tuple[str, ...] | list[str] = ()
    body: list | Mapping = field(default_factory=list)


def ident(name: str) -> str:
    """Check that ``name`` is an HCL identifier (attribute/block/module names)."""
    if not _IDENT.match(name):
        raise ValueError(f"{name!r} is not a valid HCL identifier")
    return name


def quote(text: str) -> str:
    """A double-quoted HCL string literal; ``${`` and ``%{`` are escaped so nothing is interpolated."""
    out = []
    for ch in text:
        if ch == "\\":
            out.append("\\\\")
        elif ch == '"':
            out.append('\\"')
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out).replace("${", "$${").replace("%{", "%%{") + '"'


def _key(name: str) -> str:
    """An object key: bare when it is an identifier, quoted otherwise."""
    return name if _IDENT.match(name) else quote(name)


def _scalar(value) -> str | None:
    if isinstance(value, Raw):
        return value.expr
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError("HCL has no NaN or infinity")
        return repr(value)
    if isinstance(value, str):
        return quote(value)
    return None


def _items(body) -> list:
    if isinstance(body, Mapping):
        items = []
        for name, value in body.items():
            if isinstance(value, Block):
                items.append(value if value.type == name else Block(name, value.labels, value.body))
            else:
                items.append(Attribute(name, value))
        return items
    return list(body)


class _Lines:
    """Lines under construction; ``align`` marks single-line attributes whose ``=`` can be aligned."""

    def __init__(self):
        self.lines: list[tuple[str, str | None, str]] = []  # (indent, name or None, rest)

    def raw(self, indent: str, text: str) -> None:
        self.lines.append((indent, None, text))

    def assign(self, indent: str, name: str, rest: str) -> None:
        self.lines.append((indent, name, rest))

    def render(self) -> str:
        out: list[str] = []
        i = 0
        n = len(self.lines)
        while i < n:
            indent, name, rest = self.lines[i]
            if name is None:
                out.append((indent + rest).rstrip() if rest else "")
                i += 1
                continue
            j = i
            while j < n and self.lines[j][1] is not None:
                j += 1
            width = max(len(self.lines[k][1]) for k in range(i, j))
            for k in range(i, j):
                ind, nm, rs = self.lines[k]
                out.append(f"{ind}{nm.ljust(width)} = {rs}")
            i = j
        return "\n".join(out) + "\n"


def _write_value(lines: _Lines, indent: str, name: str, value) -> None:
    """``name = value`` at ``indent`` (name already formatted)."""
    scalar = _scalar(value)
    if scalar is not None:
        lines.assign(indent, name, scalar)
        return
    if isinstance(value, Heredoc):
        text = value.text if value.text.endswith("\n") else value.text + "\n"
        body = text.replace("${", "$${").replace("%{", "%%{")
        if any(ln.strip() == value.marker for ln in body.splitlines()):
            raise ValueError(f"heredoc text contains its end marker {value.marker}")
        inner = "\n".join((indent + INDENT + ln) if ln else "" for ln in body[:-1].split("\n"))
        # The heredoc body belongs to this attribute's line: it does not break an alignment run.
        lines.assign(indent, name, f"<<-{value.marker}\n{inner}\n{indent}{value.marker}")
        return
    if isinstance(value, (list, tuple)):
        if not value:
            lines.assign(indent, name, "[]")
            return
        scalars = [_scalar(v) for v in value]
        if all(s is not None for s in scalars):
            one = "[" + ", ".join(scalars) + "]"
            if len(one) <= _ONE_LINE_LIST_MAX:
                lines.assign(indent, name, one)
                return
        lines.raw(indent, f"{name} = [")
        _write_list_items(lines, indent + INDENT, value)
        lines.raw(indent, "]")
        return
    if isinstance(value, Mapping):
        if not value:
            lines.assign(indent, name, "{}")
            return
        lines.raw(indent, f"{name} = {{")
        for k, v in value.items():
            _write_value(lines, indent + INDENT, _key(str(k)), v)
        lines.raw(indent, "}")
        return
    raise TypeError(f"cannot write a {type(value).__name__} as HCL")


def _write_list_items(lines: _Lines, indent: str, values) -> None:
    for v in values:
        scalar = _scalar(v)
        if scalar is not None:
            lines.raw(indent, scalar + ",")
        elif isinstance(v, Mapping):
            if not v:
                lines.raw(indent, "{},")
                continue
            lines.raw(indent, "{")
            for k, item in v.items():
                _write_value(lines, indent + INDENT, _key(str(k)), item)
            lines.raw(indent, "},")
        elif isinstance(v, (list, tuple)):
            lines.raw(indent, "[")
            _write_list_items(lines, indent + INDENT, v)
            lines.raw(indent, "],")
        else:
            raise TypeError(f"cannot write a {type(v).__name__} inside an HCL list")


def _write_comment(lines: _Lines, indent: str, text: str) -> None:
    for ln in text.splitlines() or [""]:
        lines.raw(indent, f"# {ln}".rstrip())


def _write_body(lines: _Lines, indent: str, items: list) -> None:
    prev = None  # what was written last: "attr", "block", "blank" or None (start of the body)
    pending: list[Comment] = []  # comments attach to the item that follows them

    def flush_comments():
        for c in pending:
            _write_comment(lines, indent, c.text)
        pending.clear()

    for item in items:
        if isinstance(item, Comment):
            pending.append(item)
        elif isinstance(item, Blank):
            if pending:
                flush_comments()
                prev = "attr"
            if prev not in (None, "blank"):
                lines.raw(indent, "")
                prev = "blank"
        elif isinstance(item, (Block, Attribute)):
            is_block = isinstance(item, Block)
            if prev not in (None, "blank") and (is_block or prev == "block"):
                lines.raw(indent, "")
            flush_comments()
            if is_block:
                _write_block(lines, indent, item)
                prev = "block"
            else:
                _write_value(lines, indent, ident(item.name), item.value)
                prev = "attr"
        else:
            raise TypeError(f"cannot write a {type(item).__name__} in an HCL body")
    if pending:
        if prev == "block":
            lines.raw(indent, "")
        flush_comments()


def _write_block(lines: _Lines, indent: str, block: Block) -> None:
    head = " ".join([ident(block.type), *(quote(label) for label in block.labels)])
    items = _items(block.body)
    if not items:
        lines.raw(indent, f"{head} {{")
        lines.raw(indent, "}")
        return
    lines.raw(indent, f"{head} {{")
    _write_body(lines, indent + INDENT, items)
    lines.raw(indent, "}")


def dumps(items: Iterable, header: str | None = None) -> str:
    """Write a file: top-level blocks (one blank line between them), attributes and comments."""
    lines = _Lines()
    if header:
        for ln in header.rstrip("\n").splitlines():
            lines.raw("", ln)
        lines.raw("", "")
    _write_body(lines, "", _items(items) if isinstance(items, Mapping) else list(items))
    return lines.render()
