"""The seam to the Helm v4 engine (pip `helm-python-sdk`, module `helm_python`): the only module that
imports it, lazily, so the rest of homelab neither pays its import nor depends on its young API.

Helm's defaults apply: `Chart.render` is `helm template` (no cluster: `lookup` returns nothing, the
Capabilities are the library's defaults — Kubernetes v1.36.0 in helm-python-sdk 0.2.2 / Helm v4.2.3).
"""

from __future__ import annotations

import functools
import os
from typing import Any

from homelab.errors import HomelabError


class HelmUnavailable(HomelabError):
    """helm-python-sdk is not installed (or its native library does not load)."""

    exit_code = 2


class ChartError(HomelabError):
    """A chart cannot be loaded or templated with the given values."""


@functools.cache
def _helm():
    try:
        import helm_python
    except (ImportError, OSError) as exc:  # OSError: the bundled libhelm_c.so does not load
        raise HelmUnavailable(f"the Helm engine is not available: {type(exc).__name__}: {exc}",
                              "install homelab with its dependencies (pip install helm-python-sdk)") from None
    return helm_python


def _wrap(what: str, exc: Exception) -> ChartError:
    text = str(exc).strip().splitlines()
    return ChartError(f"{what}: {text[0] if text else type(exc).__name__}",
                      "\n".join(text[1:6]) or None)


@functools.lru_cache(maxsize=64)
def load(path: str):
    """A loaded chart, kept for the process (helm-python-sdk: "Charts are immutable and safe to share").
    NB: the order of the documents inside one template's output can differ between two renders of the same
    values (app-template 4.1.1 ranges over Sprig `keys`, which is unordered): compare outputs normalised
    (effect.normalise), never byte for byte."""
    h = _helm()
    try:
        return h.Chart.load(os.fspath(path))
    except h.HelmError as exc:
        raise _wrap(f"cannot load the chart {path}", exc) from None


def render(path: str, values: dict[str, Any], *, name: str, namespace: str) -> dict[str, str]:
    """`helm template` of the chart at `path`: {template path: manifest text}."""
    h = _helm()
    try:
        return load(os.fspath(path)).render(values=values, name=name, namespace=namespace, is_install=True)
    except h.HelmError as exc:
        raise _wrap(f"helm template {name} ({os.path.basename(path)}) failed", exc) from None


@functools.lru_cache(maxsize=64)
def _facts(path: str) -> tuple:
    chart = load(path)
    return chart.crds, chart.values, {f["name"]: f["data"] for f in chart.files}


def crds(path: str) -> list[dict[str, str]]:
    """The chart's `crds/` files (with subcharts): [{name, filename, data}]."""
    return _facts(os.fspath(path))[0]


def default_values(path: str) -> dict[str, Any]:
    import copy

    return copy.deepcopy(_facts(os.fspath(path))[1])


def chart_files(path: str) -> dict[str, str]:
    """The chart's non-template files by name (values files a source names without `$ref/`)."""
    return _facts(os.fspath(path))[2]


def digest(path: str) -> str:
    """`sha256:<hex>` of a chart archive (what repository indexes carry)."""
    return _helm().digest(os.fspath(path))


def parse_set(expression: str, *, string: bool = False) -> dict[str, Any]:
    """A Helm `--set` (or `--set-string`) expression as values."""
    h = _helm()
    return h.parse_set_string_values(expression) if string else h.parse_set_string(expression)


def pull_oci(ref: str, version: str, destination: str) -> str:
    """Pull `oci://host/path/name` at `version` into `destination`; the archive path."""
    h = _helm()
    try:
        h.pull(ref, version=version, destination=destination)
    except h.HelmError as exc:
        raise _wrap(f"cannot pull {ref}:{version}", exc) from None
    name = ref.rstrip("/").rsplit("/", 1)[-1]
    return os.path.join(destination, f"{name}-{version}.tgz")
