"""The real Argo CD CustomResourceDefinitions, as the argo-cd chart the reference lab pins installs them.

Source: the chart archive `argo-cd-10.1.1.tgz` (shared/charts/ beside the repository, or
HOMELAB_CHARTS_DIR), templated at test time with the Helm v4 engine as a library (pip
`helm-python-sdk`), default values (`crds.install: true`): `templates/crds/crd-application.yaml`,
`crd-appproject.yaml`, `crd-applicationset.yaml`. Nothing here is typed by hand: what the fake API
server serves for these kinds (scope, names, the `openAPIV3Schema`, and `subresources: {}` — the
Application CRD has NO status subresource, so `.status` is an ordinary field of the object) is what
these manifests say. A missing archive fails the test that needs it (never a skip).
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CHARTS_DIR = Path(os.environ.get("HOMELAB_CHARTS_DIR") or ROOT.parent / "shared" / "charts")
CHART, VERSION = "argo-cd", "10.1.1"  # examples/reference/homelab.yaml: gitops.argocd chart version
TEMPLATES = {
    "Application": "argo-cd/templates/crds/crd-application.yaml",
    "AppProject": "argo-cd/templates/crds/crd-appproject.yaml",
    "ApplicationSet": "argo-cd/templates/crds/crd-applicationset.yaml",
}


class _Loader(yaml.SafeLoader):
    """Safe YAML that reads `=` as a plain string (the CRD schemas carry `- =` in enums)."""


_Loader.add_constructor("tag:yaml.org,2002:value", lambda loader, node: loader.construct_scalar(node))


def chart_archive() -> Path:
    path = CHARTS_DIR / f"{CHART}-{VERSION}.tgz"
    if not path.is_file():
        pytest.fail(f"chart archive {path} is absent: the Kubernetes fake serves the real Argo CD CRDs from it "
                    "(shared/charts/ beside the repository, or HOMELAB_CHARTS_DIR)", pytrace=False)
    return path


@functools.cache
def _rendered() -> dict[str, str]:
    from helm_python import Chart

    return Chart.load(str(chart_archive())).render(values={}, name="argocd", namespace="argocd")


def crd(kind: str) -> dict:
    """The CustomResourceDefinition of an Argo CD kind (a fresh copy)."""
    text = _rendered()[TEMPLATES[kind]]
    docs = [d for d in yaml.load_all(text, Loader=_Loader) if d]
    assert len(docs) == 1 and docs[0]["kind"] == "CustomResourceDefinition", TEMPLATES[kind]
    return docs[0]


def application_crd() -> dict:
    return crd("Application")


def appproject_crd() -> dict:
    return crd("AppProject")
