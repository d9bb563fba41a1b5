"""Load the lab file: bytes -> YAML -> plain data + source map -> typed `Lab`. Every failure becomes a
`Diagnostic` with a place and a hint; all are collected and raised together as `LoadError` (exit code 2).
Nothing here ever lets a traceback reach the user."""

from __future__ import annotations

import difflib
import hashlib
import os
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from homelab.diagnostics import Diagnostic, Location, Severity
from homelab.errors import LoadError
from homelab.lab.sourcemap import SourceMap

MAX_BYTES = 8 * 1024 * 1024  # a 1,000-VM lab is ~150 KiB; anything this large is not a lab file
MAX_NODES = 200_000  # expanded YAML nodes (defeats alias "billion laughs" bombs)
MAX_DEPTH = 64


@dataclass
class LabDocument:
    """A loaded lab: the typed model, where each value came from, and a digest of the bytes."""

    lab: Any  # homelab.lab.models.Lab
    sourcemap: SourceMap
    file: str
    digest: str
    data: dict = field(repr=False, default_factory=dict)
    lock: dict = field(default_factory=dict)  # recorded allocations (lab/lock.py): name -> Allocation
    lock_file: Path | None = None  # where they are kept (None: a lab not loaded from a file)

    @cached_property
    def inventory(self):
        from homelab.lab.resolve import resolve

        return resolve(self.lab, self.lock)

    def locate(self, path, *, key: bool = False) -> Location:
        return self.sourcemap.locate(path, key=key)


def _diag(rule: str, message: str, file: str, line: int = 1, col: int = 1, hint: str | None = None, path=()):
    return Diagnostic(rule, Severity.ERROR, message, Location(file, line, col), hint, tuple(path))


def read_text(path: str | os.PathLike, display: str | None = None) -> tuple[str, str]:
    """Read and sanity-check the file. Returns (text, display_name)."""
    p = Path(path)
    name = display or str(path)
    if not p.exists():
        raise LoadError([_diag("file-not-found", f"{name} does not exist", name, 0, 0,
                               "create one with `homelab init DIR`, or pass the path of your lab file")])
    if p.is_dir():
        candidate = p / "homelab.yaml"
        if candidate.is_file():
            return read_text(candidate, str(candidate) if display is None else f"{display}/homelab.yaml")
        raise LoadError([_diag("file-not-found", f"{name} is a directory without a homelab.yaml", name, 0, 0,
                               "pass the lab file itself, or run `homelab init` in that directory")])
    try:
        size = p.stat().st_size
        if size > MAX_BYTES:
            raise LoadError([_diag("file-too-large", f"{name} is {size} bytes; a lab file is at most {MAX_BYTES}",
                                   name, 0, 0, "is this the right file? a 1,000-VM lab is about 150 KiB")])
        if p.is_file():
            raw = p.read_bytes()
        else:  # a device or a pipe has no size: read a bounded amount (/dev/zero never ends)
            with p.open("rb") as fh:
                raw = fh.read(MAX_BYTES + 1)
    except PermissionError:
        raise LoadError([_diag("file-unreadable", f"{name} cannot be read (permission denied)", name, 0, 0,
                               "check the file's permissions")]) from None
    except OSError as exc:
        raise LoadError([_diag("file-unreadable", f"{name} cannot be read: {exc.strerror}", name, 0, 0)]) from None
    return decode(raw, name), name


def decode(raw: bytes, name: str) -> str:
    if len(raw) > MAX_BYTES:
        raise LoadError([_diag("file-too-large", f"{name} is larger than {MAX_BYTES} bytes, the most a lab file "
                               "may be", name, 0, 0, "is this the right file?")])
    if b"\x00" in raw:
        line = raw[: raw.index(b"\x00")].count(b"\n") + 1
        raise LoadError([_diag("file-not-text", f"{name} is a binary file, not YAML (NUL byte on line {line})",
                               name, line, 1, "pass your homelab.yaml, saved as UTF-8 text")])
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise LoadError([_diag("file-not-text", f"{name} is not UTF-8 text (bad byte at offset {exc.start})",
                               name, line, 1, "save the file as UTF-8")]) from None
    if not text.strip() or all(ln.strip().startswith("#") or not ln.strip() for ln in text.splitlines()):
        raise LoadError([_diag("file-empty", f"{name} is empty", name, 1, 1,
                               "start from `homelab init DIR`, which writes a commented example")])
    return text


_PLAIN = "!homelab-plain"  # marker for untagged plain scalars; resolved below with YAML 1.2 core rules
_INT_RE = None
_FLOAT_RE = None


def _loader_class():
    """libyaml's parser (fast, with positions) with YAML 1.2 core-schema scalar resolution."""
    import yaml

    base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

    class _Loader(base):  # type: ignore[misc, valid-type]
        def resolve(self, kind, value, implicit):
            if kind is yaml.ScalarNode and implicit[0]:
                return _PLAIN
            return super().resolve(kind, value, implicit)

    return _Loader


def _resolve_plain(value: str):
    """YAML 1.2 core schema: null, bool, int, float; everything else is a string."""
    import re

    global _INT_RE, _FLOAT_RE
    if _INT_RE is None:
        _INT_RE = re.compile(r"^([-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$")
        _FLOAT_RE = re.compile(r"^([-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?|[-+]?\.(inf|Inf|INF)|\.(nan|NaN|NAN))$")
    if value in ("", "~", "null", "Null", "NULL"):
        return None
    if value in ("true", "True", "TRUE"):
        return True
    if value in ("false", "False", "FALSE"):
        return False
    if _INT_RE.match(value):
        if value.startswith("0o"):
            return int(value[2:], 8)
        if value.startswith("0x"):
            return int(value[2:], 16)
        return int(value)
    if _FLOAT_RE.match(value):
        lowered = value.lower()
        if lowered.endswith("inf"):
            return float("-inf") if lowered.startswith("-") else float("inf")
        if lowered.endswith("nan"):
            return float("nan")
        return float(value)
    return value


_STD = "tag:yaml.org,2002:"


def parse_yaml(text: str, name: str):
    """Parse with libyaml (positions kept on every node). Returns the composed node tree."""
    import yaml

    try:
        docs = list(yaml.compose_all(text, Loader=_loader_class()))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = (exc.problem or exc.context or "invalid YAML").strip()
        ctx = exc.context_mark
        if exc.problem and exc.context and ctx is not None and (mark is None or ctx.line != mark.line):
            # e.g. an unclosed quote or bracket: name where it was opened; at end of file, point there.
            problem += f" ({exc.context.strip()} started at line {ctx.line + 1})"
            if "end of stream" in problem or "<stream end>" in problem:
                mark = ctx
        if mark is not None and mark.line >= len(text.splitlines()):
            mark = ctx or mark
        raise LoadError([_diag("yaml-syntax", f"YAML syntax error: {problem}", name,
                               (mark.line + 1) if mark else 1, (mark.column + 1) if mark else 1,
                               "check indentation, colons and quoting around this place")]) from None
    except RecursionError:
        raise LoadError([_diag("yaml-too-deep", "the YAML nests too deeply", name, 1, 1,
                               f"a lab file nests at most {MAX_DEPTH} levels")]) from None
    except (yaml.YAMLError, ValueError, TypeError, AttributeError, KeyError, IndexError, OverflowError) as exc:
        raise LoadError([_diag("yaml-syntax", f"YAML error: {type(exc).__name__}: {str(exc)[:200]}", name, 1, 1,
                               "check the file is plain YAML without custom tags")]) from None
    if len(docs) != 1:
        raise LoadError([_diag("yaml-multiple-documents" if docs else "file-empty",
                               f"expected exactly one YAML document, found {len(docs)}", name, 1, 1,
                               "remove the extra '---' separators")])
    return docs[0]


def to_plain(tree, name: str) -> tuple[Any, SourceMap]:
    """Convert the node tree to plain dict/list/scalars, recording positions; report every duplicate
    key and odd key; enforce the size and depth limits (alias bombs, recursive aliases)."""
    conv = _Converter(name)
    try:
        data = conv.walk(tree, (), 0)
    except _Abort as abort:
        raise LoadError([abort.diagnostic]) from None
    except RecursionError:
        raise LoadError([_diag("yaml-too-deep", "the YAML nests too deeply", name, 1, 1)]) from None
    if conv.problems:
        raise LoadError(conv.problems)
    return data, conv.smap


def _pos(node) -> tuple[int, int]:
    return (node.start_mark.line + 1, node.start_mark.column + 1)


class _Converter:
    """One conversion: the source map being filled, the problems found, the node budget left."""

    def __init__(self, name: str):
        import yaml

        self.yaml = yaml
        self.name = name
        self.smap = SourceMap(name)
        self.budget = MAX_NODES
        self.problems: list[Diagnostic] = []
        self.constructor = yaml.constructor.SafeConstructor()

    def problem(self, message: str, node, hint: str, path=()) -> None:
        self.problems.append(_diag("wrong-type", message, self.name, *_pos(node), hint, path))

    def scalar(self, node):
        tag = node.tag
        if tag == _PLAIN:
            return _resolve_plain(node.value)
        if tag == _STD + "str":
            return node.value
        if tag in (_STD + "int", _STD + "float", _STD + "bool", _STD + "null"):
            try:
                return self.constructor.construct_object(node, deep=True)
            except (self.yaml.YAMLError, ValueError, TypeError, OverflowError):
                return _Foreign(node.value, tag.rsplit(":", 1)[-1])
        return _Foreign(node.value, tag.rsplit(":", 1)[-1] if tag.startswith(_STD) else tag)

    def key_of(self, knode, path):
        if isinstance(knode, self.yaml.ScalarNode):
            value = self.scalar(knode)
            if isinstance(value, str) and not isinstance(value, _Foreign):
                return value
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                return knode.value
            shown = knode.value or "null"
        else:
            shown = "a " + ("mapping" if isinstance(knode, self.yaml.MappingNode) else "list")
        self.problem(f"mapping key {shown[:40]!r} is not a plain name", knode, "keys are plain words like `name:`",
                     path)
        return None

    def walk(self, node, path, depth):
        self.budget -= 1
        if self.budget < 0:
            raise _Abort(_diag("yaml-alias-bomb",
                               f"the document expands to more than {MAX_NODES} values (aliases repeated too often)",
                               self.name, node.start_mark.line + 1, 1,
                               "remove the anchors/aliases (&x / *x) that repeat large structures"))
        if depth > MAX_DEPTH:
            raise _Abort(_diag("yaml-too-deep", f"the YAML nests more than {MAX_DEPTH} levels deep", self.name,
                               node.start_mark.line + 1, 1, "a lab file is at most a few levels deep"))
        if isinstance(node, self.yaml.MappingNode):
            return self.mapping(node, path, depth)
        if isinstance(node, self.yaml.SequenceNode):
            if node.tag != _STD + "seq":
                self.problem(f"a {node.tag} list is not allowed here", node, "remove the tag", path)
            out_list = []
            for i, item in enumerate(node.value):
                p = _pos(item)
                self.smap.record(path + (i,), p, p)
                out_list.append(self.walk(item, path + (i,), depth + 1))
            return out_list
        return self.scalar(node)

    def mapping(self, node, path, depth) -> dict:
        if node.tag not in (_STD + "map",):
            self.problem(f"a {node.tag} mapping is not allowed here", node, "remove the tag", path)
        out: dict = {}
        seen: dict[str, Any] = {}
        merges = []
        for knode, vnode in node.value:
            if isinstance(knode, self.yaml.ScalarNode) and knode.tag in (_PLAIN, _STD + "merge") and knode.value == "<<":
                merges.append(vnode)
                continue
            key = self.key_of(knode, path)
            if key is None:
                continue
            if key in seen:
                first = seen[key].start_mark.line + 1
                self.problems.append(_diag("yaml-duplicate-key", f'duplicate key "{key}" (first at line {first})',
                                           self.name, *_pos(knode),
                                           "each key may appear once in a mapping; merge the two entries",
                                           path + (key,)))
                continue
            seen[key] = knode
            self.smap.record(path + (key,), _pos(knode), _pos(vnode))
            out[key] = self.walk(vnode, path + (key,), depth + 1)
        for merge in merges:  # YAML merge keys: explicit keys win
            self.merge_into(out, merge, path, depth)
        return out

    def merge_into(self, out: dict, merge, path, depth) -> None:
        sources = merge.value if isinstance(merge, self.yaml.SequenceNode) else [merge]
        for src in sources:
            if not isinstance(src, self.yaml.MappingNode):
                self.problem("a merge key (<<) must refer to a mapping", src, "use `<<: *anchor` with a mapping anchor",
                             path)
                continue
            for knode, vnode in src.value:
                key = self.key_of(knode, path)
                if key is None or key in out:
                    continue
                self.smap.record(path + (key,), _pos(knode), _pos(vnode))
                out[key] = self.walk(vnode, path + (key,), depth + 1)


class _Abort(Exception):
    def __init__(self, diagnostic):
        self.diagnostic = diagnostic


class _Foreign(str):
    """A YAML value of a type a lab file never has (timestamp, binary, set, custom tag...)."""

    def __new__(cls, value, kind: str):
        obj = super().__new__(cls, str(value))
        obj.kind = kind
        return obj


def validate(data: Any, smap: SourceMap):
    """plain data -> Lab, or LoadError listing every schema problem."""
    from pydantic import ValidationError

    from homelab.lab.models import Lab

    name = smap.file
    if not isinstance(data, dict):
        kind = type(data).__name__ if data is not None else "nothing"
        raise LoadError([_diag("wrong-type", f"the lab file must be a mapping at the top level, found {kind}",
                               name, 1, 1, "start with `version: 1` and `name: mylab`")])
    foreign = _find_foreign(data, ())
    if foreign:
        raise LoadError([_diag("wrong-type", f"{_dotted(p)}: a {k} value is not allowed here; quote it", name,
                               *_lc(smap.locate(p)), "put the value in quotes to make it a string", p)
                         for p, k in foreign])
    try:
        return Lab.model_validate(data)
    except ValidationError as exc:
        raise LoadError(_translate(exc, smap)) from None


def _find_foreign(node, path):
    found = []
    if isinstance(node, dict):
        for k, v in node.items():
            found += _find_foreign(v, path + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            found += _find_foreign(v, path + (i,))
    elif isinstance(node, _Foreign):
        found.append((path, node.kind))
    return found


def _lc(loc: Location):
    return loc.line, loc.col


def _dotted(path) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _translate(exc, smap: SourceMap) -> list[Diagnostic]:
    from homelab.lab.models import Lab

    diags: dict[tuple, Diagnostic] = {}
    for err in exc.errors(include_url=False):
        loc = tuple(err["loc"])
        etype = err["type"]
        where = _dotted(loc)
        if etype == "missing" and isinstance(loc[-1], int):
            # a fixed-length list (e.g. proxmox.vmid_range) with too few items
            rule, msg = "invalid-value", f"{_dotted(loc[:-1])}: too few items (item {loc[-1] + 1} is missing)"
            hint = _field_hint(Lab, loc[:-1])
            location = smap.locate(loc[:-1])
        elif etype == "missing":
            parent = loc[:-1]
            field_name = loc[-1]
            rule, msg = "missing-key", f"{_dotted(parent)}: missing required key '{field_name}'"
            hint = _field_hint(Lab, loc) or f"add `{field_name}:`"
            location = smap.locate(parent, key=True) if parent else Location(smap.file, 1, 1)
        elif etype == "extra_forbidden":
            rule = "unknown-key"
            msg = f"{where}: unknown key '{loc[-1]}'"
            known = _known_fields(Lab, loc[:-1])
            close = difflib.get_close_matches(str(loc[-1]), known, n=1, cutoff=0.6)
            if close:
                hint = f"did you mean '{close[0]}'?"
            elif known:
                hint = "allowed keys here: " + ", ".join(sorted(known))
            else:
                hint = "remove it"
            location = smap.locate(loc, key=True)
        else:
            rule = "wrong-type" if etype.endswith(("_type", "_parsing")) or etype in (
                "model_type", "model_attributes_type", "dict_type", "list_type", "string_type") else "invalid-value"
            text = err["msg"]
            for prefix in ("Value error, ", "Assertion failed, "):
                if text.startswith(prefix):
                    text = text[len(prefix):]
            msg = f"{where}: {text}"
            hint = _field_hint(Lab, loc)
            location = smap.locate(loc)
        diags.setdefault((loc, rule), Diagnostic(rule, Severity.ERROR, msg, location, hint, loc))
    return list(diags.values())


def _model_at(model, loc):
    """Follow a validation loc through the model classes; returns the model class at loc or None."""
    import typing

    from pydantic import BaseModel

    current: Any = model
    for part in loc:
        current = _unwrap(current)
        if current is None:
            return None
        if isinstance(current, type) and issubclass(current, BaseModel):
            fields = current.model_fields
            info = fields.get(part) or next((f for f in fields.values() if f.alias == part), None)
            if info is None:
                return None
            current = info.annotation
        else:
            origin = typing.get_origin(current)
            args = typing.get_args(current)
            if origin in (list, tuple) and args:
                current = args[0]
            elif origin is dict and len(args) == 2:
                current = args[1]
            else:
                return None
    return _unwrap(current)


def _unwrap(tp):
    import types
    import typing

    from pydantic import BaseModel

    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(tp)[0])
    if origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(tp):
            arg = _unwrap(arg)
            if isinstance(arg, type) and issubclass(arg, BaseModel):
                return arg
        non_none = [a for a in typing.get_args(tp) if a is not type(None)]
        return _unwrap(non_none[0]) if non_none else None
    return tp


def _known_fields(model, loc) -> list[str]:
    from pydantic import BaseModel

    target = _model_at(model, loc)
    if isinstance(target, type) and issubclass(target, BaseModel):
        return [info.alias or name for name, info in target.model_fields.items()]
    return []


def _field_hint(model, loc) -> str | None:
    from pydantic import BaseModel

    # Walk to the parent model and use the field's description as the hint.
    parent = _model_at(model, loc[:-1])
    if isinstance(parent, type) and issubclass(parent, BaseModel):
        info = parent.model_fields.get(loc[-1]) if loc else None
        if info is not None and info.description:
            return info.description
    return None


def load_text(text: str, name: str = "homelab.yaml", *, lock=None, lock_file=None) -> LabDocument:
    tree = parse_yaml(text, name)
    data, smap = to_plain(tree, name)
    lab = validate(data, smap)
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return LabDocument(lab, smap, name, digest, data, dict(lock or {}), lock_file)


def load_lab(path: str | os.PathLike, display: str | None = None) -> LabDocument:
    from homelab.lab.lock import beside  # the allocations recorded beside the lab file (homelab.lock)

    text, name = read_text(path, display)
    return load_text(text, name, **beside(path))
