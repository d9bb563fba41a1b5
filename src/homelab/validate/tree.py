"""The rendered (or hand-edited) repository as validate reads it: YAML documents with their lines.

Only what the rules need is read: every `*.yaml`/`*.yml` under `k8s/`, and on demand any other file.
YAML is parsed once per file with PyYAML's C loader into nodes (for lines) and data.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Doc:
    """One YAML document of a repository file. Its node tree (for lines) is parsed only when a line inside the
    document is asked for: a warm run reads the documents' data from the cache."""

    file: str  # repository-relative, POSIX
    index: int
    line: int  # 1-based line of the document's first node
    data: object
    node: object = None  # yaml.Node, or None until needed
    text: str | None = None  # the file's text, to parse the nodes from on demand
    key: str = ""  # the file's content hash (cache keys of what is derived from it)

    def _node(self):
        if self.node is None and self.text is not None:
            docs = parse_docs(self.file, self.text)
            self.node = docs[self.index].node if self.index < len(docs) else None
        return self.node

    def line_of(self, path: tuple, key: bool = True) -> int:
        """1-based line of the key (or value) at `path` (str keys, int indexes); the nearest found."""
        node, line = self._node(), self.line
        for step in path:
            found = None
            if getattr(node, "id", "") == "mapping":
                for k, v in node.value:
                    if k.value == step or (isinstance(step, str) and str(k.value) == step):
                        found, line = v, (k if key else v).start_mark.line + 1
                        break
            elif getattr(node, "id", "") == "sequence" and isinstance(step, int) and step < len(node.value):
                found = node.value[step]
                line = found.start_mark.line + 1
            if found is None:
                return line
            node = found
        return line


class YamlError(Exception):
    def __init__(self, file: str, line: int, message: str):
        super().__init__(message)
        self.file, self.line, self.message = file, line, message


def _loader():
    from homelab.charts.template import yaml_loader

    return yaml_loader()


def parse_docs(file: str, text: str) -> list[Doc]:
    import yaml

    loader = _loader()(text)
    docs = []
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                continue
            data = loader.construct_document(node)
            docs.append(Doc(file, len(docs), node.start_mark.line + 1, data, node))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise YamlError(file, (mark.line + 1) if mark else 1, str(getattr(exc, "problem", exc))) from None
    finally:
        loader.dispose()
    return docs


class RepoTree:
    def __init__(self, root: str | Path, cache=None):
        self.root = Path(root)
        self.errors: list[YamlError] = []
        self._docs: dict[str, list[Doc]] = {}
        self.cache = cache  # charts.template.DiskCache: parsed documents by file content

    def exists(self, rel: str) -> bool:
        return (self.root / rel).is_file()

    def text(self, rel: str) -> str | None:
        try:
            return (self.root / rel).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return None

    def files(self, under: str = "", suffixes: tuple[str, ...] = (".yaml", ".yml")) -> list[str]:
        base = self.root / under if under else self.root
        if not base.is_dir():
            return []
        out = []
        for p in base.rglob("*"):
            rel = p.relative_to(self.root).as_posix()
            if p.suffix in suffixes and p.is_file() and not any(part.startswith(".") and part not in (".", "..")
                                                               for part in Path(rel).parts[:-1]):
                out.append(rel)
        return sorted(out)

    def docs(self, rel: str) -> list[Doc]:
        if rel not in self._docs:
            text = self.text(rel)
            self._docs[rel] = self._parse(rel, text) if text is not None else []
        return self._docs[rel]

    def _parse(self, rel: str, text: str) -> list[Doc]:
        import hashlib

        from homelab.charts.template import key_of

        digest = hashlib.sha256(text.encode()).hexdigest()
        key = key_of("yaml", digest)
        hit = self.cache.get(key) if self.cache is not None else None
        if hit is not None:
            if hit.get("error"):
                self.errors.append(YamlError(rel, hit["error"][0], hit["error"][1]))
                return []
            return [Doc(rel, i, line, data, None, text, digest) for i, (line, data) in enumerate(hit["docs"])]
        try:
            docs = parse_docs(rel, text)
        except YamlError as exc:
            self.errors.append(exc)
            if self.cache is not None:
                self.cache.put(key, {"error": [exc.line, exc.message]})
            return []
        for d in docs:
            d.text, d.key = text, digest
        if self.cache is not None:
            self.cache.put(key, {"docs": [[d.line, d.data] for d in docs]})  # kept on disk only when JSON-shaped
        return docs

    def mapping(self, rel: str) -> dict | None:
        """The first document of a file when it is a mapping (a values file); None when absent."""
        docs = self.docs(rel) if self.exists(rel) else []
        first = next((d.data for d in docs if d.data is not None), None)
        return first if isinstance(first, dict) else ({} if docs or self.exists(rel) else None)

    @functools.cached_property
    def k8s_docs(self) -> list[Doc]:
        return [d for f in self.files("k8s") for d in self.docs(f)]
