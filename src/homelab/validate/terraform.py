"""The Terraform files of the repository (`tf/**/*.tf`), parsed once with python-hcl2, and where things are
in them (hcl2 gives no lines: blocks and arguments are found by their text)."""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass
class TfFile:
    path: str
    text: str
    data: dict | None
    error: str | None = None
    error_line: int = 1

    def block_line(self, kind: str, *labels: str) -> int:
        pattern = r"^\s*" + re.escape(kind) + "".join(r'\s+"?' + re.escape(lb) + '"?' for lb in labels) + r"\s*\{"
        m = re.search(pattern, self.text, re.M)
        return self.text.count("\n", 0, m.start()) + 1 if m else 1

    def arg_line(self, start: int, name: str) -> int:
        lines = self.text.splitlines()
        for i in range(max(start - 1, 0), len(lines)):
            if re.match(r"^\s*" + re.escape(name) + r"\s*=", lines[i]):
                return i + 1
        return start


def unquote(value):
    if isinstance(value, str):
        if len(value) >= 2 and value[0] == '"' and value[-1] == '"':
            return value[1:-1]
        if value.startswith("${") and value.endswith("}"):
            return value[2:-1]
        return value
    if isinstance(value, list):
        return [unquote(v) for v in value]
    if isinstance(value, dict):
        return {unquote(k): unquote(v) for k, v in value.items() if k != "__comments__"}
    return value


def parse(path: str, text: str) -> TfFile:
    import hcl2

    try:
        return TfFile(path, text, unquote(hcl2.loads(text)))
    except Exception as exc:  # noqa: BLE001 - lark raises many kinds; each is a parse error of the user's file
        m = re.search(r"line (\d+)", str(exc))
        return TfFile(path, text, None, f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}",
                      int(m.group(1)) if m else 1)


def _parse_cached(ctx, path: str, text: str) -> TfFile:
    """python-hcl2 (a lark parser) needs ~2 s for a 1,000-VM main.tf: parses are cached by content."""
    import hashlib

    from homelab.charts.template import key_of

    key = key_of("hcl", hashlib.sha256(text.encode()).hexdigest())
    hit = ctx.template_cache.get(key)
    if hit is not None:
        return TfFile(path, text, hit["data"], hit["error"], hit["line"])
    f = parse(path, text)
    ctx.template_cache.put(key, {"data": f.data, "error": f.error, "line": f.error_line})
    return f


def tf_files(ctx) -> list[TfFile]:
    if not hasattr(ctx, "_tf_files"):
        ctx._tf_files = [_parse_cached(ctx, p, ctx.tree.text(p) or "") for p in ctx.tree.files("tf", (".tf",))]
    return ctx._tf_files


def blocks(f: TfFile, kind: str):
    """(labels, body) of every `kind` block (resource/data: two labels; provider: one)."""
    for entry in (f.data or {}).get(kind, []) or []:
        for a, inner in entry.items():
            if kind in ("resource", "data") and isinstance(inner, dict):
                for b, body in inner.items():
                    if isinstance(body, dict):
                        yield (a, b), body
            elif isinstance(inner, dict):
                yield (a,), inner


def proxmox_pin(files: list[TfFile], directory: str) -> str | None:
    """The telmate/proxmox version pinned by the versions.tf of `directory` (or any file)."""
    for f in files:
        if not f.path.startswith(directory):
            continue
        for tf in (f.data or {}).get("terraform", []) or []:
            for req in tf.get("required_providers", []) or []:
                p = req.get("proxmox") if isinstance(req, dict) else None
                if isinstance(p, dict) and p.get("version"):
                    return str(p["version"])
    return None
