"""Render the real upstream Helm charts offline, for tests: the Helm v4 engine as a library.

The packaged charts at the reference lab's pinned versions live in `shared/charts/` beside the
repository (`<name>-<version>.tgz`; `HOMELAB_CHARTS_DIR` overrides the place). pip `helm-python-sdk`
loads and renders them: `Chart.load(path).render(values=..., name=..., namespace=...)` returns
`{template path: manifest text}`. A chart archive that is absent is a test failure that names it,
never a skip: a test that needs a chart must not pass without it.
"""

from __future__ import annotations

import functools
import json
import os
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
CHARTS_DIR = Path(os.environ.get("HOMELAB_CHARTS_DIR") or ROOT.parent / "shared" / "charts")

# Kinds without a namespace (everything else is namespaced: ArgoCD puts it in the destination namespace
# when the manifest names none).
CLUSTER_SCOPED = frozenset({
    "APIService", "ClusterIssuer", "ClusterRole", "ClusterRoleBinding", "ClusterSecretStore",
    "ClusterExternalSecret", "ClusterGenerator", "CSIDriver", "CustomResourceDefinition", "GatewayClass",
    "IngressClass", "MutatingWebhookConfiguration", "Namespace", "PersistentVolume", "PriorityClass",
    "RuntimeClass", "StorageClass", "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding",
    "ValidatingWebhookConfiguration", "VolumeSnapshotClass",
})

# kubectl's client-side apply keeps the whole object in this annotation; annotations may hold 256 KiB
# in all (apimachinery TotalAnnotationSizeLimitB), so a larger object needs server-side apply.
LAST_APPLIED_LIMIT = 262144


class _Loader(yaml.CSafeLoader):
    """Safe YAML that also reads `=` as a plain string (CRD schemas carry `- =` enums)."""


_Loader.add_constructor("tag:yaml.org,2002:value", lambda loader, node: loader.construct_scalar(node))


def chart_archive(name: str, version: str) -> Path:
    path = CHARTS_DIR / f"{name}-{version}.tgz"
    if not path.is_file():
        pytest.fail(f"chart archive {path} is absent: this test templates {name} {version} with the real chart "
                    f"(shared/charts/ beside the repository, or HOMELAB_CHARTS_DIR)", pytrace=False)
    return path


@functools.cache
def load_chart(name: str, version: str):
    from helm_python import Chart

    return Chart.load(str(chart_archive(name, version)))


@dataclass(frozen=True)
class Manifest:
    template: str  # the chart's template (or crds/ file) it came from
    obj: dict

    @property
    def kind(self) -> str:
        return self.obj["kind"]

    @property
    def name(self) -> str:
        return self.obj["metadata"]["name"]

    def namespace(self, release_namespace: str) -> str | None:
        if self.kind in CLUSTER_SCOPED:
            return None
        return self.obj["metadata"].get("namespace") or release_namespace

    def size(self) -> int:
        return len(json.dumps(self.obj, separators=(",", ":")))


def _documents(template: str, text: str) -> list[Manifest]:
    if template.endswith(".txt"):  # NOTES.txt
        return []
    return [Manifest(template, d) for d in yaml.load_all(text, Loader=_Loader) if isinstance(d, dict) and d.get("kind")]


def _cache_key(values: dict) -> str:
    return json.dumps(values, sort_keys=True, default=str)


@functools.lru_cache(maxsize=256)
def _render(name: str, version: str, values_json: str, release: str, namespace: str) -> tuple[Manifest, ...]:
    chart = load_chart(name, version)
    out = chart.render(values=json.loads(values_json), name=release, namespace=namespace)
    manifests = [m for template in sorted(out) for m in _documents(template, out[template])]
    # Helm installs crds/ directories too (not templated); ArgoCD applies them like any other manifest.
    for crd in chart.crds:
        manifests += _documents(f"crds/{crd['name']}", crd["data"])
    return tuple(manifests)


def render(chart, values: dict, release: str, namespace: str) -> list[Manifest]:
    """`chart` (a lab Chart: name + version) rendered with `values`, as parsed manifests."""
    return list(_render(chart.name, chart.version, _cache_key(values), release, namespace))


def render_text(chart, values: dict, release: str, namespace: str) -> str:
    """The whole rendering as one canonical text (to compare two renderings)."""
    return "\n".join(json.dumps([m.template, m.obj], sort_keys=True)
                     for m in render(chart, values, release, namespace))


def of_kind(manifests, kind: str) -> list[dict]:
    return [m.obj for m in manifests if m.kind == kind]


def pod_spec(obj: dict) -> dict:
    return obj["spec"]["template"]["spec"]
