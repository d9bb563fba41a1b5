"""An ArgoCD Application's Helm sources as ArgoCD hands them to Helm (charts/application.py), templating
with the real charts and its cache (charts/template.py), and ignored-values detection (charts/effect.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from homelab.charts.application import chart_sources, resolve_values
from homelab.charts.cache import file_digest
from homelab.charts.template import DiskCache, template

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from validate.conftest import need_charts  # noqa: E402

APP = {
    "apiVersion": "argoproj.io/v1alpha1", "kind": "Application", "metadata": {"name": "web", "namespace": "argocd"},
    "spec": {"project": "p", "destination": {"server": "https://kubernetes.default.svc", "namespace": "media"},
             "sources": [
                 {"repoURL": "https://charts.example", "chart": "app", "targetRevision": "1.0.0",
                  "helm": {"valueFiles": ["$values/k8s/values/a.yaml", "$values/k8s/values/b.yaml"],
                           "values": "x: from-values\ny: from-values\n",
                           "valuesObject": {"y": "from-object"},
                           "parameters": [{"name": "z", "value": "1"}, {"name": "s", "value": "2", "forceString": True}]}},
                 {"repoURL": "git@example.org:me/homelab.git", "targetRevision": "main", "ref": "values"}]},
}


def test_argocd_values_precedence_release_name_and_namespace():
    [src] = chart_sources(APP)
    assert (src.release, src.namespace, src.repo, src.chart, src.version) == ("web", "media", "https://charts.example",
                                                                              "app", "1.0.0")
    files = {"k8s/values/a.yaml": {"x": "a", "m": {"k1": 1, "k2": 1}}, "k8s/values/b.yaml": {"m": {"k2": 2}}}
    rv = resolve_values(src, files.get)
    # valueFiles in order (maps merge), then values, then valuesObject, then parameters (--set)
    assert rv.values == {"x": "from-values", "m": {"k1": 1, "k2": 2}, "y": "from-object", "z": 1, "s": "2"}
    assert rv.missing == [] and [name for name, _ in rv.layers][:2] == ["$values/k8s/values/a.yaml",
                                                                          "$values/k8s/values/b.yaml"]


def test_missing_values_file_and_unknown_ref_are_reported():
    app = {**APP, "spec": {**APP["spec"], "sources": [
        {"repoURL": "r", "chart": "c", "targetRevision": "1", "helm": {"releaseName": "rel", "valueFiles": [
            "$values/k8s/values/none.yaml", "$other/x.yaml"]}},
        {"repoURL": "git", "ref": "values"}]}}
    [src] = chart_sources(app)
    assert src.release == "rel"
    rv = resolve_values(src, lambda path: None)
    assert rv.missing == ["$values/k8s/values/none.yaml"]
    assert rv.problems == ["$other/x.yaml: no source declares `ref: other`"]


def test_templating_is_cached_by_digest_and_values_and_a_warm_run_needs_no_helm(tmp_path):
    chart = need_charts() / "traefik-41.3.0.tgz"
    values = {"service": {"spec": {"type": "LoadBalancer", "loadBalancerIP": "10.0.0.5"}}}
    cold = template(chart, file_digest(chart), values, release="traefik", namespace="traefik", include_crds=True,
                    cache=DiskCache(tmp_path))
    assert not cold.from_cache and cold.error is None
    svc = next(o for _, o in cold.objects if o["kind"] == "Service")
    assert svc["spec"]["loadBalancerIP"] == "10.0.0.5" and svc["metadata"]["namespace"] == "traefik"
    assert any(o["kind"] == "CustomResourceDefinition" for _, o in cold.crds)
    probe = (f"import sys; sys.path.insert(0, {str(Path(__file__).resolve().parents[2] / 'src')!r})\n"
             "from homelab.charts.template import template, DiskCache\n"
             f"t = template({str(chart)!r}, {file_digest(chart)!r}, {values!r}, release='traefik', namespace='traefik',"
             f" include_crds=True, cache=DiskCache({str(tmp_path)!r}))\n"
             "assert t.from_cache and 'helm_python' not in sys.modules, sorted(sys.modules)\n")
    assert subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True).returncode == 0
    other = template(chart, file_digest(chart), {**values, "x": 1}, release="traefik", namespace="traefik",
                     include_crds=True, cache=DiskCache(tmp_path))
    assert not other.from_cache  # other values, other key


def test_one_chart_renders_the_same_values_the_same_way_whatever_came_before():
    """The seam shares a loaded chart between renders: the same values give the same objects whatever was
    rendered before (normalised: app-template orders the documents of a template differently from render to
    render, which normalise absorbs — and without it, this test fails)."""
    import yaml

    from homelab.charts import helm

    chart = str(need_charts() / "app-template-4.1.1.tgz")
    values_dir = Path(__file__).resolve().parents[2] / "examples" / "reference" / "rendered" / "k8s" / "values"
    apps = {}
    for f in sorted(values_dir.glob("*.yaml")):
        data = yaml.safe_load(f.read_text())
        if "controllers" in data:  # app-template values
            apps[f.stem] = data
    assert len(apps) >= 8
    from homelab.charts.effect import normalise

    first = {name: normalise(helm.render(chart, v, name=name, namespace="apps")) for name, v in apps.items()}
    again = {name: normalise(helm.render(chart, v, name=name, namespace="apps")) for name, v in apps.items()}
    assert [n for n in apps if first[n] != again[n]] == []


@pytest.mark.parametrize("values, ignored", [
    ({"service": {"type": "NodePort"}}, [("service", "type")]),  # traefik 41.3.0 reads service.spec.type
    ({"service": {"spec": {"type": "NodePort"}}}, []),
    ({"ingressClass": {"enabled": True}}, []),  # the chart's default: redundant, not ignored
    ({"service": {"type": "NodePort", "spec": {"type": "NodePort"}}}, [("service", "type")]),  # beside a used key
])
def test_ignored_values(values, ignored):
    from homelab.charts.effect import ignored_values

    chart = need_charts() / "traefik-41.3.0.tgz"
    got = ignored_values(chart, file_digest(chart), values, release="traefik", namespace="traefik", cache=DiskCache(None))
    assert got == ignored
