"""The kubernetes engine against the contract fake of the API server (tests/fakes/kube_apiserver.py).

No Kubernetes API server can run here; the fake reproduces discovery, server-side apply with field
managers, Status errors, finalizers and bearer-token auth as documented (its own contract tests check that).
Argo CD's kinds are served from the chart's real CRDs (no status subresource); the Applications below carry
`resources-finalizer.argocd.argoproj.io` and `spec.sources`, as the rendered ones do, and what Argo CD's
controller writes comes from fakes/argocd_controller.py.
"""

from __future__ import annotations

import dataclasses
import datetime
import glob
import json
import socket
import ssl
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

from homelab.engines.base import Change, EngineContext
from homelab.engines.kubernetes import KubernetesEngine, load_kubeconfig
from homelab.engines.kubernetes.client import APPLY_PATCH, KubeApiError
from homelab.errors import EngineError
from homelab.secrets import Redactor

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from fakes import argocd_crds  # noqa: E402
from fakes.argocd_controller import RESOURCES_FINALIZER, finish_deletion, report  # noqa: E402
from fakes.kube_apiserver import FakeKubeApiServer, crd_manifest  # noqa: E402

TOKEN = "kube-bearer-TOKEN-5f3a9c1e77"
ARGO = "argoproj.io/v1alpha1"


def dump(*objs) -> str:
    return "\n---\n".join(json.dumps(o) for o in objs) + "\n"  # JSON is YAML


def ns(name):
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}


def application(name, dest_ns, project="homelab"):
    """An Application as homelab renders it: multi-source (chart + values repository), with Argo CD's
    resources finalizer (render/argocd)."""
    return {"apiVersion": ARGO, "kind": "Application",
            "metadata": {"name": name, "namespace": "argocd", "finalizers": [RESOURCES_FINALIZER]},
            "spec": {"project": project, "destination": {"server": "https://kubernetes.default.svc",
                                                         "namespace": dest_ns},
                     "sources": [{"repoURL": "https://charts.example", "chart": name, "targetRevision": "1.0.0"},
                                 {"repoURL": "https://git.example/homelab.git", "targetRevision": "main",
                                  "ref": "values"}],
                     "syncPolicy": {"automated": {"prune": True, "selfHeal": True}}}}


def write_repo(root: Path, with_install: bool = True) -> Path:
    boot = root / "k8s" / "bootstrap"
    boot.mkdir(parents=True)
    # a Helm values file: not a Kubernetes object, skipped
    (boot / "argocd-values.yaml").write_text("server:\n  replicas: 1\nconfigs:\n  cm:\n    url: https://argocd\n")
    if with_install:
        (boot / "argocd-install.yaml").write_text(dump(
            {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "argocd-server", "namespace": "argocd"}},
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "argocd-cm", "namespace": "argocd"},
             "data": {"url": "https://argocd.lab.example"}},
            argocd_crds.application_crd(),  # the chart's CRDs (helm template argo-cd 10.1.1)
            argocd_crds.appproject_crd(),
            ns("argocd"),
        ))
    (boot / "root.yaml").write_text(dump(application("root", "argocd")))
    (boot / "project.yaml").write_text(dump(
        {"apiVersion": ARGO, "kind": "AppProject", "metadata": {"name": "homelab", "namespace": "argocd"},
         "spec": {"sourceRepos": ["*"], "destinations": [{"server": "*", "namespace": "*"}]}},
        {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": {"name": "freenas-iscsi-csi"},
         "provisioner": "org.democratic-csi.iscsi"},
    ))
    apps = root / "k8s" / "apps" / "media"
    apps.mkdir(parents=True)
    (apps / "sonarr.yaml").write_text(dump(application("sonarr", "media")))
    plat = root / "k8s" / "platform"
    plat.mkdir(parents=True)
    (plat / "metallb-config.yaml").write_text(dump(
        {"apiVersion": "metallb.io/v1beta1", "kind": "L2Advertisement",
         "metadata": {"name": "default", "namespace": "metallb-system"}, "spec": {"ipAddressPools": ["lab"]}},
        {"apiVersion": "metallb.io/v1beta1", "kind": "IPAddressPool",
         "metadata": {"name": "lab", "namespace": "metallb-system"},
         "spec": {"addresses": ["192.168.10.200-192.168.10.220"]}},
    ))
    return root


def write_kubeconfig(path: Path, server: str, token: str | None = TOKEN, **cluster_extra) -> Path:
    user = {"token": token} if token else {}
    cfg = {"apiVersion": "v1", "kind": "Config", "current-context": "lab",
           "clusters": [{"name": "lab", "cluster": {"server": server, **cluster_extra}}],
           "users": [{"name": "admin", "user": user}],
           "contexts": [{"name": "lab", "context": {"cluster": "lab", "user": "admin"}}]}
    path.write_text(json.dumps(cfg))
    path.chmod(0o600)
    return path


def doc_with_kubeconfig(reference_doc, kubeconfig: Path | None):
    lab = reference_doc.lab
    argo = lab.gitops.argocd.model_copy(update={"kubeconfig": str(kubeconfig) if kubeconfig else None})
    gitops = lab.gitops.model_copy(update={"argocd": argo})
    return dataclasses.replace(reference_doc, lab=lab.model_copy(update={"gitops": gitops}))


@pytest.fixture
def fake():
    with FakeKubeApiServer(tokens={TOKEN: "admin", "viewer-token-0000": "viewer"}, read_only_users={"viewer"},
                           establish_delay=0.3) as srv:
        yield srv


@pytest.fixture
def env(fake, tmp_path, reference_doc):
    repo = write_repo(tmp_path / "repo")
    kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", fake.url)
    progress: list[str] = []
    ctx = EngineContext(doc=doc_with_kubeconfig(reference_doc, kubeconfig), workdir=repo,
                        state_dir=tmp_path / ".homelab", progress=progress.append, redactor=Redactor())
    engine = KubernetesEngine(poll_interval=0.05, crd_timeout=10, delete_wait=1.0)
    return engine, ctx, progress


def patches(fake):
    return [r for r in fake.requests if r.method == "PATCH"]


def managers(obj):
    return sorted((e["manager"], e["operation"]) for e in obj["metadata"]["managedFields"])


def test_not_configured(reference_doc, tmp_path):
    ctx = EngineContext(doc=reference_doc, workdir=tmp_path, state_dir=tmp_path)
    assert reference_doc.lab.gitops.argocd.kubeconfig is None
    st = KubernetesEngine().status(ctx)
    assert (st.configured, st.reachable, st.reason) == (False, False, "gitops.argocd.kubeconfig is not set")


def test_status_reachable(env, fake):
    engine, ctx, _ = env
    st = engine.status(ctx)
    assert (st.configured, st.reachable) == (True, True)
    assert st.reason == f"Kubernetes v1.31.0 at {fake.url}"


def test_bootstrap_applies_namespaces_then_crds_then_dependents(env, fake):
    engine, ctx, progress = env
    [result] = engine.apply(ctx, [Change("argocd_bootstrap.argocd", "create", "not found on the live system")])
    assert result.ok and result.message == "8 created"
    applied = [r.path for r in patches(fake)]
    assert applied[0] == "/api/v1/namespaces/argocd"
    assert applied[1:3] == ["/apis/apiextensions.k8s.io/v1/customresourcedefinitions/applications.argoproj.io",
                            "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/appprojects.argoproj.io"]
    # the CRD kinds came last, after the engine waited for them to be served; AppProject before Application
    assert applied[-2:] == ["/apis/argoproj.io/v1alpha1/namespaces/argocd/appprojects/homelab",
                            "/apis/argoproj.io/v1alpha1/namespaces/argocd/applications/root"]
    assert any("waiting for AppProject (argoproj.io/v1alpha1)" in p for p in progress)
    # every apply is SSA as homelab, forced, with the apply content type
    for r in patches(fake):
        assert r.query == {"fieldManager": "homelab", "force": "true"}
        assert r.content_type == "application/apply-patch+yaml"
    root = fake.get_object(ARGO, "Application", "root", "argocd")
    assert root["spec"]["destination"]["namespace"] == "argocd"
    assert managers(root) == [("homelab", "Apply")]
    assert fake.get_object("v1", "ConfigMap", "argocd-cm", "argocd")["data"] == {"url": "https://argocd.lab.example"}
    # the Helm values file was not sent anywhere
    assert not [r for r in patches(fake) if "values" in r.path]


def test_result_lists_every_object(env, fake):
    engine, ctx, _ = env
    [result] = engine.apply(ctx, [Change("argocd_bootstrap.argocd", "create", "new")])
    assert result.message == "8 created"
    assert result.attrs["objects"] == sorted([
        "Namespace/argocd", "CustomResourceDefinition/applications.argoproj.io",
        "CustomResourceDefinition/appprojects.argoproj.io", "ServiceAccount/argocd/argocd-server",
        "ConfigMap/argocd/argocd-cm", "StorageClass/freenas-iscsi-csi", "AppProject/argocd/homelab",
        "Application/argocd/root"])


def test_second_apply_is_idempotent(env, fake):
    engine, ctx, _ = env
    engine.apply(ctx, [Change("argocd_bootstrap.argocd", "create", "new")])
    before = {k: fake.get_object(*k) for k in [(ARGO, "Application", "root", "argocd"),
                                                ("v1", "ConfigMap", "argocd-cm", "argocd"),
                                                ("v1", "Namespace", "argocd", None)]}
    [again] = KubernetesEngine(poll_interval=0.05).apply(ctx, [Change("argocd_bootstrap.argocd", "update", "x")])
    assert again.message == "8 unchanged"
    for key, obj in before.items():
        now = fake.get_object(*key)
        assert now["metadata"]["resourceVersion"] == obj["metadata"]["resourceVersion"], key
        assert now["metadata"]["managedFields"] == obj["metadata"]["managedFields"], key
        if key[1] != "Namespace":  # a bare namespace applies no field, so it has no entry
            assert managers(now) == [("homelab", "Apply")]


def test_conflict_with_another_manager(env, fake, tmp_path):
    engine, ctx, _ = env
    engine.apply(ctx, [Change("argocd_bootstrap.argocd", "create", "new")])
    # someone edits the ConfigMap by hand: an Update manager now owns .data.url
    import http.client
    conn = http.client.HTTPConnection("127.0.0.1", fake.port, timeout=5)
    conn.request("PATCH", "/api/v1/namespaces/argocd/configmaps/argocd-cm?fieldManager=kubectl-edit",
                 body=json.dumps({"data": {"url": "https://edited"}}),
                 headers={"Content-Type": "application/merge-patch+json", "Authorization": f"Bearer {TOKEN}"})
    assert conn.getresponse().status == 200
    conn.close()
    # an apply without force conflicts: the server's 409 Status becomes the error, its message quoted
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "argocd-cm", "namespace": "argocd"},
          "data": {"url": "https://argocd.lab.example"}}
    with pytest.raises(KubeApiError) as info:
        engine.client(ctx).request("PATCH", "/api/v1/namespaces/argocd/configmaps/argocd-cm",
                                   query={"fieldManager": "homelab"}, body=cm, content_type=APPLY_PATCH)
    err = info.value
    assert (err.exit_code, err.code) == (3, 409)
    assert err.message == ("Kubernetes API PATCH /api/v1/namespaces/argocd/configmaps/argocd-cm: 409 Conflict: "
                           'Apply failed with 1 conflict: conflict with "kubectl-edit" using v1: .data.url')
    assert err.hint.startswith("another field manager owns these fields")
    assert fake.get_object("v1", "ConfigMap", "argocd-cm", "argocd")["data"]["url"] == "https://edited"
    # the engine's default (force=true): homelab takes the field back
    [res] = engine.apply(ctx, [Change("argocd_bootstrap.argocd", "update", "drift")])
    assert res.message == "1 configured, 7 unchanged"
    cm = fake.get_object("v1", "ConfigMap", "argocd-cm", "argocd")
    assert cm["data"]["url"] == "https://argocd.lab.example"
    owners = {e["manager"]: e["fieldsV1"] for e in cm["metadata"]["managedFields"]}
    assert owners["homelab"]["f:data"] == {"f:url": {}}
    assert "kubectl-edit" not in owners  # it owned nothing else


def test_apps_and_application_status_facts(env, fake):
    engine, ctx, _ = env
    results = engine.apply(ctx, [Change("argocd_app.media/sonarr", "create", "new"),
                                 Change("argocd_bootstrap.argocd", "create", "new")])
    assert [r.address for r in results] == ["argocd_bootstrap.argocd", "argocd_app.media/sonarr"]
    assert results[1].message == "1 created"
    # ArgoCD's controller reports sync and health; a multi-source app one revision per source
    report(fake, "sonarr", "OutOfSync", "Progressing", ["1.0.0", "3f2a1b0"], operation="Running")
    facts = engine.read_facts(ctx, ["argocd_app.media/sonarr", "argocd_app.media/radarr",
                                    "argocd_bootstrap.argocd"])
    assert facts == {
        "argocd_app.media/sonarr": {"sync": "OutOfSync", "health": "Progressing", "revisions": ["1.0.0", "3f2a1b0"],
                                    "namespace": "media", "operation": "Running"},
        "argocd_bootstrap.argocd": {"namespace": "argocd"},
    }
    # our apply never touches status, and the controller's status survives a re-apply
    engine.apply(ctx, [Change("argocd_app.media/sonarr", "update", "x")])
    assert fake.get_object(ARGO, "Application", "sonarr", "argocd")["status"]["health"] == {"status": "Progressing"}


def test_a_reapply_never_writes_status(env, fake):
    """The Application CRD has no status subresource: `.status` in an applied body would be written (and with
    force=true taken from ArgoCD's controller). A manifest that carries a status (an exported object) is
    applied without it."""
    engine, ctx, _ = env
    engine.apply(ctx, [Change("argocd_bootstrap.argocd", "create", "new")])
    exported = application("sonarr", "media")
    exported["status"] = {"sync": {"status": "Synced", "revisions": ["0.0.1", "0000000"]}, "health": {"status": "Healthy"}}
    (ctx.workdir / "k8s" / "apps" / "media" / "sonarr.yaml").write_text(dump(exported))
    engine.apply(ctx, [Change("argocd_app.media/sonarr", "create", "new")])
    report(fake, "sonarr", "OutOfSync", "Degraded", ["1.0.0", "3f2a1b0"])
    for _ in range(2):
        [res] = engine.apply(ctx, [Change("argocd_app.media/sonarr", "update", "x")])
        assert res.message == "1 unchanged"
    live = fake.get_object(ARGO, "Application", "sonarr", "argocd")
    assert live["status"]["sync"] == {"status": "OutOfSync", "revisions": ["1.0.0", "3f2a1b0"],
                                      "comparedTo": live["status"]["sync"]["comparedTo"]}
    assert live["status"]["health"] == {"status": "Degraded"}
    sent = [r.body for r in patches(fake) if r.path.endswith("/applications/sonarr")]
    assert len(sent) == 3 and not [b for b in sent if "status" in b]
    owned = {e["manager"]: e["fieldsV1"] for e in live["metadata"]["managedFields"]}
    assert "f:status" not in owned["homelab"] and "f:status" in owned["argocd-application-controller"]
    assert engine.read_facts(ctx, ["argocd_app.media/sonarr"])["argocd_app.media/sonarr"]["sync"] == "OutOfSync"


def test_delete_waits_for_argocd_to_remove_the_apps_resources(env, fake):
    engine, ctx, progress = env
    engine.apply(ctx, [Change("argocd_bootstrap.argocd", "create", "new"),
                       Change("argocd_app.media/sonarr", "create", "new")])
    controller = threading.Timer(0.3, finish_deletion, args=(fake, "sonarr"))
    controller.start()
    [gone] = engine.apply(ctx, [Change("argocd_app.media/sonarr", "delete", "no longer in homelab.yaml")])
    controller.join()
    assert gone.message == "1 deleted"
    assert any("Application/argocd/sonarr is being deleted; waiting for it to go, then it is deleted" in p
               for p in progress)
    assert fake.get_object(ARGO, "Application", "sonarr", "argocd") is None
    assert "argocd_app.media/sonarr" not in engine.read_facts(ctx, ["argocd_app.media/sonarr"])


def test_an_app_argocd_is_still_deleting_is_being_deleted_not_live(env, fake):
    engine, ctx, _ = env
    engine.apply(ctx, [Change("argocd_bootstrap.argocd", "create", "new"),
                       Change("argocd_app.media/sonarr", "create", "new")])
    report(fake, "sonarr", "Synced", "Healthy", ["1.0.0", "3f2a1b0"])
    [res] = engine.apply(ctx, [Change("argocd_app.media/sonarr", "delete", "no longer in homelab.yaml")])
    assert res.ok and res.message == "1 deleting"  # accepted; ArgoCD's finalizer still holds it
    live = fake.get_object(ARGO, "Application", "sonarr", "argocd")
    facts = engine.read_facts(ctx, ["argocd_app.media/sonarr"])["argocd_app.media/sonarr"]
    assert facts["deleting"] == live["metadata"]["deletionTimestamp"]
    assert facts["finalizers"] == [RESOURCES_FINALIZER]
    # creating it again while it goes: an apply would change nothing and it would vanish afterwards
    with pytest.raises(EngineError) as info:
        engine.apply(ctx, [Change("argocd_app.media/sonarr", "create", "being deleted")])
    assert info.value.message == (f"Application/argocd/sonarr is being deleted (since "
                                  f"{live['metadata']['deletionTimestamp']}) and is still held by {RESOURCES_FINALIZER} "
                                  "after 1s")
    assert "apply again once it is gone" in info.value.hint
    # ArgoCD finishes while apply waits: then it is created anew
    controller = threading.Timer(0.3, finish_deletion, args=(fake, "sonarr"))
    controller.start()
    [again] = engine.apply(ctx, [Change("argocd_app.media/sonarr", "create", "being deleted")])
    controller.join()
    assert again.message == "1 created"
    fresh = fake.get_object(ARGO, "Application", "sonarr", "argocd")
    assert "deletionTimestamp" not in fresh["metadata"] and fresh["metadata"]["uid"] != live["metadata"]["uid"]


def test_a_forbidden_read_of_facts_is_an_error_not_absence(env, fake, tmp_path):
    engine, ctx, _ = env
    engine.apply(ctx, [Change("argocd_bootstrap.argocd", "create", "new"),
                       Change("argocd_app.media/sonarr", "create", "new")])
    fake.tokens["reader-token-1111"] = "reader"
    fake.denied["reader"] = {("get", "applications.argoproj.io")}
    reader = write_kubeconfig(tmp_path / "reader", fake.url, token="reader-token-1111")
    rctx = dataclasses.replace(ctx, doc=doc_with_kubeconfig(ctx.doc, reader))
    with pytest.raises(EngineError) as info:
        engine.read_facts(rctx, ["argocd_app.media/sonarr"])
    assert info.value.message == (
        "the kubeconfig's user may not read what the plan needs: Kubernetes API GET "
        "/apis/argoproj.io/v1alpha1/namespaces/argocd/applications/sonarr: 403 Forbidden: applications.argoproj.io "
        '"sonarr" is forbidden: User "reader" cannot get resource "applications" in API group "argoproj.io" in the '
        'namespace "argocd"')
    assert "get/list on Namespaces and argoproj.io Applications" in info.value.hint


def test_facts_before_argocd_exists(env):
    engine, ctx, _ = env
    assert engine.read_facts(ctx, ["argocd_bootstrap.argocd", "argocd_app.media/sonarr"]) == {}


def test_waits_for_a_crd_installed_by_someone_else(env, fake):
    engine, ctx, progress = env
    engine.apply(ctx, [Change("argocd_bootstrap.argocd", "create", "new")])
    import http.client

    def metallb_chart_syncs():  # what ArgoCD does a moment later
        time.sleep(0.3)
        for kind, plural in (("IPAddressPool", "ipaddresspools"), ("L2Advertisement", "l2advertisements")):
            conn = http.client.HTTPConnection("127.0.0.1", fake.port, timeout=5)
            conn.request("PATCH", f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{plural}.metallb.io"
                         "?fieldManager=argocd-controller",
                         body=json.dumps(crd_manifest("metallb.io", kind, plural, version="v1beta1")),
                         headers={"Content-Type": "application/apply-patch+yaml", "Authorization": f"Bearer {TOKEN}"})
            assert conn.getresponse().status == 201
            conn.close()
        conn = http.client.HTTPConnection("127.0.0.1", fake.port, timeout=5)
        conn.request("PATCH", "/api/v1/namespaces/metallb-system?fieldManager=argocd-controller",
                     body=json.dumps(ns("metallb-system")),
                     headers={"Content-Type": "application/apply-patch+yaml", "Authorization": f"Bearer {TOKEN}"})
        conn.getresponse().read()
        conn.close()

    t = threading.Thread(target=metallb_chart_syncs)
    t.start()
    [res] = engine.apply(ctx, [Change("argocd_app.platform/metallb-config", "create", "new")])
    t.join()
    assert res.message == "2 created"
    pool = fake.get_object("metallb.io/v1beta1", "IPAddressPool", "lab", "metallb-system")
    assert pool["spec"]["addresses"] == ["192.168.10.200-192.168.10.220"]
    assert any("waiting for L2Advertisement (metallb.io/v1beta1)" in p for p in progress)


def test_kind_never_served_times_out(env, fake):
    engine, ctx, _ = env
    quick = KubernetesEngine(poll_interval=0.05, crd_timeout=0.3)
    with pytest.raises(EngineError) as info:
        quick.apply(ctx, [Change("argocd_app.platform/metallb-config", "create", "new")])
    assert info.value.message == ("the cluster still does not serve IPAddressPool (metallb.io/v1beta1), "
                                  "L2Advertisement (metallb.io/v1beta1) after 0.3s")


def test_bootstrap_without_install_manifest_says_how_to_render_it(fake, tmp_path, reference_doc):
    repo = write_repo(tmp_path / "repo", with_install=False)
    kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", fake.url)
    ctx = EngineContext(doc=doc_with_kubeconfig(reference_doc, kubeconfig), workdir=repo, state_dir=tmp_path)
    start = time.monotonic()
    with pytest.raises(EngineError) as info:
        KubernetesEngine(crd_timeout=30).apply(ctx, [Change("argocd_bootstrap.argocd", "create", "new")])
    assert time.monotonic() - start < 5  # no pointless wait for CRDs nobody installs
    err = info.value
    # the install is rendered from the argo-cd chart (engines/kubernetes/argocd_install.py): not cached here
    assert "ArgoCD is not installed on the cluster" in err.message and "argo-cd chart 10.1.1" in err.message
    assert "homelab charts pull" in err.hint and "argocd-install.yaml" in err.hint


def test_bearer_token_never_in_output_and_auth_errors_are_clear(env, fake, tmp_path):
    engine, ctx, progress = env
    results = engine.apply(ctx, [Change("argocd_bootstrap.argocd", "create", "new")])
    assert all(r.user == "admin" for r in fake.requests)  # the token was sent on every request
    shown = "\n".join(progress) + repr(results) + repr(engine.status(ctx))
    assert TOKEN not in shown
    assert TOKEN in ctx.redactor._values  # registered for redaction of anything else

    # a wrong token: 401 quoted, no token in the message
    bad = write_kubeconfig(tmp_path / "bad", fake.url, token="wrong-token-1234567")
    bctx = dataclasses.replace(ctx, doc=doc_with_kubeconfig(ctx.doc, bad))
    with pytest.raises(EngineError) as info:
        engine.apply(bctx, [Change("argocd_bootstrap.argocd", "update", "x")])
    assert "401 Unauthorized: Unauthorized" in info.value.message
    assert "wrong-token-1234567" not in info.value.message + (info.value.hint or "")
    st = engine.status(bctx)
    assert (st.configured, st.reachable) == (True, False) and "401" in st.reason

    # a read-only user: 403 with the server's message
    ro = write_kubeconfig(tmp_path / "ro", fake.url, token="viewer-token-0000")
    rctx = dataclasses.replace(ctx, doc=doc_with_kubeconfig(ctx.doc, ro))
    with pytest.raises(EngineError) as info:
        engine.apply(rctx, [Change("argocd_bootstrap.argocd", "update", "x")])
    assert 'namespaces "argocd" is forbidden: User "viewer" cannot patch resource "namespaces"' in info.value.message
    assert "RBAC" in info.value.hint


def test_unreachable_server_is_a_clear_error(tmp_path, reference_doc):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    # the port is closed now
    kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", f"http://127.0.0.1:{port}")
    ctx = EngineContext(doc=doc_with_kubeconfig(reference_doc, kubeconfig), workdir=write_repo(tmp_path / "r"),
                        state_dir=tmp_path)
    st = KubernetesEngine().status(ctx)
    assert (st.configured, st.reachable) == (True, False)
    assert st.reason == f"cannot reach the Kubernetes API at http://127.0.0.1:{port}: connection refused"
    with pytest.raises(EngineError, match="connection refused") as info:
        KubernetesEngine().apply(ctx, [Change("argocd_bootstrap.argocd", "create", "x")])
    assert info.value.hint


def test_kubeconfig_errors(tmp_path):
    with pytest.raises(EngineError, match="does not exist"):
        load_kubeconfig(tmp_path / "missing")
    cfg = tmp_path / "exec"
    cfg.write_text(json.dumps({"current-context": "c", "contexts": [{"name": "c", "context": {"cluster": "k",
                                                                                              "user": "u"}}],
                               "clusters": [{"name": "k", "cluster": {"server": "https://127.0.0.1:1"}}],
                               "users": [{"name": "u", "user": {"exec": {"command": "aws"}}}]}))
    with pytest.raises(EngineError, match="credential plugin"):
        load_kubeconfig(cfg)
    with pytest.raises(EngineError, match="no context named 'other'"):
        load_kubeconfig(cfg, "other")


# ------------------------------------------------------------------------------------------ TLS
def _pki(tmp_path):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.UTC)

    def name(cn):
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (x509.CertificateBuilder().subject_name(name("test-ca")).issuer_name(name("test-ca"))
          .public_key(ca_key.public_key()).serial_number(1).not_valid_before(now - datetime.timedelta(hours=1))
          .not_valid_after(now + datetime.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                       content_commitment=False, key_encipherment=False, data_encipherment=False,
                                       key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
          .sign(ca_key, hashes.SHA256()))

    def leaf(cn, usage, san):
        key = ec.generate_private_key(ec.SECP256R1())
        builder = (x509.CertificateBuilder().subject_name(name(cn)).issuer_name(ca.subject)
                   .public_key(key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now - datetime.timedelta(hours=1)).not_valid_after(now + datetime.timedelta(days=1))
                   .add_extension(x509.ExtendedKeyUsage([usage]), critical=False))
        if san:
            builder = builder.add_extension(san, critical=False)
        cert = builder.sign(ca_key, hashes.SHA256())
        return (cert.public_bytes(serialization.Encoding.PEM),
                key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))

    import ipaddress
    server = leaf("127.0.0.1", ExtendedKeyUsageOID.SERVER_AUTH,
                  x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]))
    client = leaf("admin", ExtendedKeyUsageOID.CLIENT_AUTH, None)
    return ca.public_bytes(serialization.Encoding.PEM), server, client


def test_tls_with_ca_data_and_client_certificate(tmp_path, reference_doc):
    import base64

    ca_pem, (srv_cert, srv_key), (cli_cert, cli_key) = _pki(tmp_path)
    (tmp_path / "srv.crt").write_bytes(srv_cert)
    (tmp_path / "srv.key").write_bytes(srv_key)
    (tmp_path / "ca.crt").write_bytes(ca_pem)
    sctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    sctx.load_cert_chain(tmp_path / "srv.crt", tmp_path / "srv.key")
    sctx.load_verify_locations(tmp_path / "ca.crt")
    sctx.verify_mode = ssl.CERT_REQUIRED  # the API server demands a client certificate
    b64 = lambda b: base64.b64encode(b).decode()  # noqa: E731
    before_tmp = set(glob.glob(str(Path(tempfile.gettempdir()) / "homelab-kube-*")))
    with FakeKubeApiServer(ssl_context=sctx) as fake:
        cfg = {"apiVersion": "v1", "kind": "Config", "current-context": "lab",
               "clusters": [{"name": "lab", "cluster": {"server": fake.url,
                                                        "certificate-authority-data": b64(ca_pem)}}],
               "users": [{"name": "admin", "user": {"client-certificate-data": b64(cli_cert),
                                                    "client-key-data": b64(cli_key)}}],
               "contexts": [{"name": "lab", "context": {"cluster": "lab", "user": "admin"}}]}
        kubeconfig = tmp_path / "kubeconfig"
        kubeconfig.write_text(json.dumps(cfg))
        repo = write_repo(tmp_path / "repo")
        ctx = EngineContext(doc=doc_with_kubeconfig(reference_doc, kubeconfig), workdir=repo, state_dir=tmp_path)
        engine = KubernetesEngine(poll_interval=0.05)
        st = engine.status(ctx)
        assert (st.configured, st.reachable) == (True, True), st.reason
        assert fake.url.startswith("https://")
        [res] = engine.apply(ctx, [Change("argocd_bootstrap.argocd", "create", "new")])
        assert res.message == "8 created"
        # the client key was on disk only while the TLS context loaded it
        assert set(glob.glob(str(Path(tempfile.gettempdir()) / "homelab-kube-*"))) == before_tmp

        # a CA that did not sign the server certificate: a TLS verification error, not a hang
        other_ca, _, _ = _pki(tmp_path)
        cfg["clusters"][0]["cluster"]["certificate-authority-data"] = b64(other_ca)
        kubeconfig.write_text(json.dumps(cfg))
        st = engine.status(ctx)
        assert st.reachable is False and st.reason.startswith(f"TLS verification of the Kubernetes API at {fake.url}")


def test_404_and_422_status_messages_are_quoted(env, fake):
    engine, ctx, _ = env
    extra = ctx.workdir / "k8s" / "apps" / "media" / "extra.yaml"
    extra.write_text(dump({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x", "namespace": "nowhere"},
                           "data": {"a": "b"}}))
    with pytest.raises(EngineError) as info:
        engine.apply(ctx, [Change("argocd_app.media/extra", "create", "new")])
    assert info.value.message == ("applying ConfigMap/nowhere/x failed: Kubernetes API PATCH "
                                  '/api/v1/namespaces/nowhere/configmaps/x: 404 NotFound: namespaces "nowhere" not found')
    with pytest.raises(KubeApiError) as info:  # an apply without a field manager
        engine.client(ctx).request("PATCH", "/api/v1/namespaces/nowhere/configmaps/x",
                                   query={"fieldManager": "", "force": "true"}, body=json.loads(extra.read_text()),
                                   content_type=APPLY_PATCH)
    assert info.value.message.endswith(
        '422 Invalid: PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply '
        "patch")
    assert info.value.hint.startswith("the object is invalid")


def test_every_request_the_engine_sends_is_one_the_fake_reproduces(env, fake):
    """The contract covers what the engine sends: if it ever sends another option (dryRun, fieldValidation,
    propagationPolicy, ...), the fake's contract tests must cover it first — this fails until they do."""
    engine, ctx, _ = env
    engine.apply(ctx, [Change("argocd_bootstrap.argocd", "create", "new"),
                       Change("argocd_app.media/sonarr", "create", "new")])
    engine.read_facts(ctx, ["argocd_bootstrap.argocd", "argocd_app.media/sonarr"])
    finisher = threading.Timer(0.2, finish_deletion, args=(fake, "sonarr"))
    finisher.start()
    engine.apply(ctx, [Change("argocd_app.media/sonarr", "delete", "gone from the lab")])
    finisher.join()
    shapes = {(r.method, tuple(sorted(r.query)), r.content_type) for r in fake.requests}
    assert shapes == {("GET", (), ""), ("PATCH", ("fieldManager", "force"), APPLY_PATCH), ("DELETE", (), "")}
    assert all(r.query == {"fieldManager": "homelab", "force": "true"} for r in fake.requests if r.method == "PATCH")
