"""The ArgoCD install itself: the real argo-cd 10.1.1 chart (../shared/charts) rendered with the Helm engine as
a library and server-side applied by the kubernetes engine — against the Kubernetes API contract fake
(tests/fakes/kube_apiserver.py: no API server can run here). No pre-rendered manifest, no helm binary."""

from __future__ import annotations

import dataclasses
import json
import shutil
import sys
from pathlib import Path

import pytest

from homelab.charts.cache import file_digest
from homelab.engines.base import Change, EngineContext
from homelab.engines.kubernetes import KubernetesEngine
from homelab.errors import EngineError
from homelab.secrets import Redactor

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from fakes.kube_apiserver import FakeKubeApiServer  # noqa: E402
from validate.conftest import need_charts  # noqa: E402

TOKEN = "kube-bearer-TOKEN-argocd-0001"
ROOT = Path(__file__).resolve().parents[2]
RENDERED = ROOT / "examples" / "reference" / "rendered"


@pytest.fixture
def fake():
    with FakeKubeApiServer(tokens={TOKEN: "admin"}, establish_delay=0.2) as srv:
        yield srv


@pytest.fixture
def setup(fake, tmp_path, reference_doc):
    charts = need_charts()
    state = tmp_path / ".homelab"
    (state / "charts").mkdir(parents=True)
    shutil.copy(charts / "argo-cd-10.1.1.tgz", state / "charts")
    repo = tmp_path / "repo"
    shutil.copytree(RENDERED / "k8s" / "bootstrap", repo / "k8s" / "bootstrap")
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "lab",
        "clusters": [{"name": "lab", "cluster": {"server": fake.url}}],
        "users": [{"name": "admin", "user": {"token": TOKEN}}],
        "contexts": [{"name": "lab", "context": {"cluster": "lab", "user": "admin"}}]}))
    kubeconfig.chmod(0o600)
    lab = reference_doc.lab
    argo = lab.gitops.argocd.model_copy(update={"kubeconfig": str(kubeconfig)})
    doc = dataclasses.replace(reference_doc, lab=lab.model_copy(update={"gitops": lab.gitops.model_copy(
        update={"argocd": argo})}))
    progress: list[str] = []
    ctx = EngineContext(doc=doc, workdir=repo, state_dir=state, progress=progress.append, redactor=Redactor())
    return KubernetesEngine(poll_interval=0.05, crd_timeout=20), ctx, progress, state


def test_argocd_is_installed_from_the_chart_with_server_side_apply(fake, setup):
    engine, ctx, progress, state = setup
    [result] = engine.apply(ctx, [Change("argocd_bootstrap.argocd", "create", "new")])
    assert result.ok
    objects = result.attrs["objects"]
    # what the chart makes (argo-cd 10.1.1 with the reference values) and the bootstrap manifests after it
    for ident in ("Namespace/argocd", "CustomResourceDefinition/applications.argoproj.io",
                  "CustomResourceDefinition/appprojects.argoproj.io", "Deployment/argocd/argocd-server",
                  "StatefulSet/argocd/argocd-application-controller", "ConfigMap/argocd/argocd-cm",
                  "Ingress/argocd/argocd-server", "AppProject/argocd/homelab-platform", "Application/argocd/root"):
        assert ident in objects, ident
    cm = fake.get_object("v1", "ConfigMap", "argocd-cm", "argocd")
    assert cm["data"]["application.resourceTrackingMethod"] == "annotation"  # from k8s/bootstrap/argocd-values.yaml
    server = fake.get_object("apps/v1", "Deployment", "argocd-server", "argocd")
    assert server["metadata"]["labels"]["app.kubernetes.io/instance"] == "argocd"  # release argocd (self-managed)
    assert {e["manager"] for e in server["metadata"]["managedFields"]} == {"homelab"}
    applies = [r for r in fake.requests if r.method == "PATCH"]
    assert applies and all(r.query.get("fieldManager") == "homelab" and r.content_type == "application/apply-patch+yaml"
                           for r in applies)
    order = [r.path for r in applies]
    crd_at = max(i for i, p in enumerate(order) if "customresourcedefinitions" in p)
    assert all(i > crd_at for i, p in enumerate(order) if "/applications/" in p or "/appprojects/" in p)
    assert (state / "cache" / "templates").is_dir()  # the templating is cached by chart digest + values


def test_second_apply_changes_nothing(fake, setup):
    engine, ctx, *_ = setup
    engine.apply(ctx, [Change("argocd_bootstrap.argocd", "create", "new")])
    [again] = engine.apply(ctx, [Change("argocd_bootstrap.argocd", "update", "again")])
    assert again.message.endswith("unchanged") and "created" not in again.message and "configured" not in again.message


def test_a_tampered_cached_chart_is_refused(fake, setup):
    engine, ctx, _, state = setup
    chart = state / "charts" / "argo-cd-10.1.1.tgz"
    lock = {"charts": {"https://argoproj.github.io/argo-helm|argo-cd|10.1.1": {
        "file": chart.name, "digest": "sha256:" + "0" * 64}}}
    (state / "charts" / "charts.lock.json").write_text(json.dumps(lock))
    with pytest.raises(EngineError) as info:
        engine.apply(ctx, [Change("argocd_bootstrap.argocd", "create", "new")])
    assert file_digest(chart) in info.value.message and "pulled from" in info.value.message
    assert not [r for r in fake.requests if r.method == "PATCH"]  # nothing applied
