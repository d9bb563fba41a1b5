"""Values that change nothing: a key of the user's values whose removal leaves the chart's output
identical, and whose value differs from the chart's default, is silently ignored by the chart (a
misspelt or moved key: traefik 41.3.0 reads `service.spec.type`, not `service.type`).

Cost control (each probe is one `helm template`):
- a whole mapping is probed first; only when removing it changes the output are its keys probed;
- a scalar string (6+ characters, not a number or boolean) that appears in the templated output and not
  in the output of the chart's defaults is taken as used without a probe (it reached the manifests) —
  unless another key of the values holds the same string (then that key may be what reached them);
- outputs are compared normalised: the documents of a template sorted (app-template 4.1.1 emits them in an
  order that varies from render to render: it ranges over Sprig `keys`, which is unordered);
- templates whose output still differs between two renders of the same values (random passwords, generated
  certificates) are left out of every comparison;
- the result is cached with the templating (same key: chart digest + values hash).
"""

from __future__ import annotations

import os
import re

from homelab.charts.template import DiskCache, key_of

_PLAIN = re.compile(r"^(true|false|null|~|-?\d+(\.\d+)?)$", re.I)
MAX_PROBES = 200


def _without(values: dict, path: tuple) -> dict:
    out = dict(values)
    node = out
    for k in path[:-1]:
        node[k] = dict(node[k])
        node = node[k]
    del node[path[-1]]
    return out


def _with(values: dict, path: tuple, value) -> dict:
    out = dict(values)
    node = out
    for k in path[:-1]:
        node[k] = dict(node[k])
        node = node[k]
    node[path[-1]] = value
    return out


def _perturbed(value):
    """Another value of the same shape: what a chart that reads the key would show."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, int | float):
        return value + 1
    if isinstance(value, str):
        return value + "-homelab-probe"
    if isinstance(value, list):
        return [*value, value[-1]] if value else ["homelab-probe"]
    if isinstance(value, dict):
        return {k: _perturbed(v) for k, v in value.items()}
    return "homelab-probe"


def _contained(node, default) -> bool:
    """Every leaf of `node` equals the default's (a mapping may leave keys of the default out)."""
    if isinstance(node, dict) and isinstance(default, dict):
        return all(k in default and _contained(v, default[k]) for k, v in node.items())
    return node == default


def _default_at(defaults, path: tuple):
    node = defaults
    for k in path:
        if not isinstance(node, dict) or k not in node:
            return _MISSING
        node = node[k]
    return node


_MISSING = object()


def _count_strings(node, counts: dict) -> None:
    if isinstance(node, dict):
        for v in node.values():
            _count_strings(v, counts)
    elif isinstance(node, list):
        for v in node:
            _count_strings(v, counts)
    elif isinstance(node, str):
        counts[node] = counts.get(node, 0) + 1


def normalise(manifests: dict[str, str]) -> dict[str, str]:
    """Each template's documents, sorted: the same objects in another order compare equal."""
    out = {}
    for name, text in manifests.items():
        docs = sorted(d.strip() for d in ("\n" + text).split("\n---") if d.strip())
        out[name] = "\n---\n".join(docs)
    return out


class _Probe:
    def __init__(self, chart_path: str, values: dict, release: str, namespace: str):
        from homelab.charts import helm

        self.helm = helm
        self.args = (chart_path,)
        self.kw = {"name": release, "namespace": namespace}
        self.probes = 0
        first = self._render(values)
        second = self._render(values)
        self.unstable = {k for k in set(first) | set(second) if first.get(k) != second.get(k)}
        self.baseline = self._stable(first)
        try:
            self.defaults_text = "\n".join(self._render({}).values())
        except helm.ChartError:
            self.defaults_text = ""
        self.baseline_text = "\n".join(self.baseline.values())
        self.repeated: dict = {}
        _count_strings(values, self.repeated)

    def _render(self, values: dict) -> dict:
        self.probes += 1
        return normalise(self.helm.render(self.args[0], values, **self.kw))

    def _stable(self, out: dict) -> dict:
        return {k: v for k, v in out.items() if k not in self.unstable}

    def unchanged_without(self, values: dict, path: tuple) -> bool:
        return self._same(_without(values, path))

    def unchanged_when_changed(self, values: dict, path: tuple, node) -> bool:
        return self._same(_with(values, path, _perturbed(node)))

    def _same(self, values: dict) -> bool:
        try:
            return self._stable(self._render(values)) == self.baseline
        except self.helm.ChartError:
            return False  # the change breaks the chart: the key matters

    def reached_output(self, value) -> bool:
        if not isinstance(value, str) or len(value) < 6 or _PLAIN.match(value) or self.repeated.get(value, 0) > 1:
            return False
        return value in self.baseline_text and value not in self.defaults_text


def ignored_values(chart_path: str | os.PathLike, digest: str, values: dict, *, release: str, namespace: str,
                   cache: DiskCache) -> list[tuple]:
    """Key paths of `values` that the chart ignores (sorted). Raises helm.ChartError when the chart does
    not template with the values at all (reported elsewhere)."""
    key = key_of("effect", digest, values, release, namespace)
    hit = cache.get(key)
    if hit is not None:
        return [tuple(p) for p in hit["ignored"]]
    from homelab.charts import helm

    chart_path = os.fspath(chart_path)
    probe = _Probe(chart_path, values, release, namespace)
    defaults = helm.default_values(chart_path)
    ignored: list[tuple] = []

    def visit(path: tuple, node) -> None:
        if probe.probes > MAX_PROBES:
            return
        default = _default_at(defaults, path)
        if default is not _MISSING and _contained(node, default):
            return  # the same as the default: removing it cannot change anything, and it is not "ignored"
        if not isinstance(node, dict) and probe.reached_output(node):
            return
        if probe.unchanged_without(values, path) and probe.unchanged_when_changed(values, path, node):
            while isinstance(node, dict) and len(node) == 1:  # name the key, not its lone parent
                (k, node), = node.items()
                path = (*path, k)
            ignored.append(path)
            return
        if isinstance(node, dict):
            for k in sorted(node, key=str):
                visit((*path, k), node[k])

    for k in sorted(values, key=str):
        visit((k,), values[k])
    cache.put(key, {"ignored": ignored})
    return sorted(ignored, key=lambda p: [str(x) for x in p])
