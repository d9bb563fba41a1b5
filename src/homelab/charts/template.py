"""Template a chart with its values (`helm template`, through the seam in `helm.py`), cached on disk.

The cache key is the chart archive's sha256 digest, the hash of the values, the release name, the
namespace and the format version below: the same inputs never reach the Helm engine twice, and a warm
`homelab validate` does not even import it. Entries are JSON files under `<cache dir>/templates/`,
written atomically; a corrupt entry is ignored and rewritten.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

FORMAT = 1  # bump when what is cached changes shape


@dataclass
class Templated:
    objects: list[tuple[str, dict]] = field(default_factory=list)  # (template path, object)
    crds: list[tuple[str, dict]] = field(default_factory=list)  # the chart's crds/ (unless skipped)
    error: str | None = None
    from_cache: bool = False
    key: str = ""  # the cache key: names this templating (chart digest + values + release + namespace)
    extra: dict = field(default_factory=dict)  # what other analyses cached with it (see effect.py)


def key_of(*parts) -> str:
    blob = json.dumps([FORMAT, *parts], sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


@functools.cache
def yaml_loader():
    """PyYAML's safe C loader, reading a bare `=` as the string it is to YAML 1.2 parsers (Go's yaml.v3,
    kubectl): PyYAML knows YAML 1.1's `value` tag for it and cannot construct it (kube-prometheus-stack
    75.18.1 templates `=` as a PrometheusRule label value)."""
    import yaml

    base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    loader = type("HomelabLoader", (base,), {})
    loader.add_constructor("tag:yaml.org,2002:value", lambda self, node: self.construct_scalar(node))
    return loader


# Helm splits a template's output into documents the way pkg/releaseutil.SplitManifests does (helm v3
# releaseutil/manifest.go: sep = regexp.MustCompile("(?:^|\\s*\n)---\\s*")), so "---# comment" (whitespace
# trimmed by a template, as cert-manager v1.21.1's rbac.yaml produces) starts a document like "---\n# comment".
_HELM_SEP = re.compile(r"(?:^|\s*\n)---\s*")


def _docs(text: str) -> list[dict]:
    import yaml

    out = []
    for doc in (yaml.load(part, Loader=yaml_loader()) for part in _HELM_SEP.split(text) if part.strip()):
        if isinstance(doc, dict) and doc.get("kind") == "List" and isinstance(doc.get("items"), list):
            out += [i for i in doc["items"] if isinstance(i, dict)]
        elif isinstance(doc, dict) and doc:
            out.append(doc)
    return out


def parse_manifests(manifests: dict[str, str]) -> list[tuple[str, dict]]:
    """Objects of `helm template`'s output, in template order (NOTES.txt and empty documents skipped)."""
    out = []
    for name in sorted(manifests):
        if name.endswith("NOTES.txt") or not manifests[name].strip():
            continue
        out += [(name, obj) for obj in _docs(manifests[name])]
    return out


class DiskCache:
    """JSON entries by key; `None` directory = no disk cache (in-memory only)."""

    def __init__(self, directory: str | os.PathLike | None):
        self.dir = Path(directory) / "templates" if directory else None
        self.memory: dict[str, dict] = {}

    def get(self, key: str) -> dict | None:
        if key in self.memory:
            return self.memory[key]
        if self.dir is None:
            return None
        try:
            data = json.loads((self.dir / key[:2] / f"{key}.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        self.memory[key] = data
        return data

    def put(self, key: str, data: dict) -> None:
        """Keep `data` (JSON-shaped: str keys, JSON types — else it is kept in memory only)."""
        self.memory[key] = data
        if self.dir is None or not jsonable(data):
            return
        import tempfile

        target = self.dir / key[:2] / f"{key}.json"
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=target.parent, suffix=".tmp")
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(data, fh, separators=(",", ":"))
            os.replace(tmp, target)
        except OSError:
            pass  # a cache that cannot be written only costs time


def jsonable(node) -> bool:
    """JSON keeps it as it is (a YAML int key or date would come back changed)."""
    if isinstance(node, dict):
        return all(isinstance(k, str) and jsonable(v) for k, v in node.items())
    if isinstance(node, list | tuple):
        return all(jsonable(v) for v in node)
    return node is None or isinstance(node, str | int | float | bool)


def template(chart_path: str | os.PathLike, digest: str, values: dict, *, release: str, namespace: str,
             include_crds: bool, cache: DiskCache) -> Templated:
    key = key_of("template", digest, values, release, namespace, include_crds)
    hit = cache.get(key)
    if hit is not None:
        return Templated([tuple(o) for o in hit["objects"]], [tuple(o) for o in hit["crds"]], hit["error"], True,
                         key, hit.get("extra", {}))
    from homelab.charts import helm

    result = Templated(key=key)
    try:
        result.objects = parse_manifests(helm.render(os.fspath(chart_path), values, name=release,
                                                     namespace=namespace))
        if include_crds:
            for crd in helm.crds(os.fspath(chart_path)):
                result.crds += [(f"crds/{crd.get('filename') or crd.get('name')}", o) for o in _docs(crd["data"])]
    except helm.ChartError as exc:
        result.error = exc.message + (f": {exc.hint}" if exc.hint else "")
    except Exception as exc:  # noqa: BLE001 - malformed YAML out of a template is the chart's problem, reported
        result.error = f"the output of helm template is not YAML: {type(exc).__name__}: {exc}"
    cache.put(key, {"objects": result.objects, "crds": result.crds, "error": result.error})
    return result
