"""The kubernetes layer end to end through the CLI: render → plan → apply → ArgoCD status in the plan.

The cluster is the contract fake of the Kubernetes API (tests/fakes/kube_apiserver.py: discovery that
serves a CRD's kind only once the CRD is applied, server-side apply with field managers, finalizers,
the real Argo CD CRDs of the argo-cd chart) and what ArgoCD's controller writes comes from
tests/fakes/argocd_controller.py (a multi-source Application reports `status.sync.revisions`; deleting an
Application waits for `resources-finalizer.argocd.argoproj.io`). Everything else of the lab is honestly
absent, as on a machine that only has the cluster's kubeconfig:

* vms (terraform): `proxmox.endpoint` unset → "not configured";
* hosts/clusters (ansible): `access.ssh: false` → "not configured";
* vault: HOMELAB_VAULT_ADDR is a closed 127.0.0.1 port (with a dummy token, so the engine really tries)
  → "not reachable".

Dependencies (plan/desired.py): `argocd_bootstrap` comes after every K3s node, and an app that reads a
secret comes after every Vault resource. Apply skips a layer that is not usable and "blocks" what
depends on a skipped resource (ops/apply.py). So the state says the machines and the K3s cluster were
applied before (the fake API server *is* that cluster; without it nothing could reach a kubeconfig):
they are planned from state as unchanged and do not block the bootstrap. The Vault resources are not
in state (Vault unreachable → "create", skipped), so the app with a secret (pihole) is blocked — the
documented behaviour — while the app without one (sonarr) and the platform apps are applied.
"""

from __future__ import annotations

import io
import json
import re
import socket
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from ruamel.yaml import YAML

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from fakes import argocd_crds  # noqa: E402
from fakes.argocd_controller import RESOURCES_FINALIZER, finish_deletion, report  # noqa: E402
from fakes.kube_apiserver import FakeKubeApiServer  # noqa: E402

ARGO = "argoproj.io/v1alpha1"
TOKEN = "k8s-e2e-bearer-7c1d0e55aa"
SHA = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b"
KEEP_PLATFORM = {"metallb", "traefik"}
KEEP_APPS = {"sonarr", "pihole"}  # sonarr reads no secret; pihole reads one (depends on Vault)
ARGO_APPS = {"argocd_app.platform/metallb", "argocd_app.platform/traefik", "argocd_app.media/sonarr",
             "argocd_app.home-automation/pihole"}


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed once the with-block ends: connections are refused


def small_lab(reference: Path, kubeconfig: str) -> str:
    data = YAML(typ="safe").load(reference.read_text())
    data["proxmox"].pop("endpoint", None)
    data.setdefault("access", {})["ssh"] = False
    data["gitops"]["argocd"]["kubeconfig"] = kubeconfig
    from homelab.lab.models.platform import Platform

    platform = data.setdefault("platform", {})
    for name, default in Platform().components().items():
        comp = platform.setdefault(name, default.model_dump(mode="json", exclude_none=True))
        comp["enabled"] = name in KEEP_PLATFORM
    data["pki"]["cert_manager"] = {"enabled": False}  # it would turn the cert-manager component back on
    data["apps"] = [a for a in data["apps"] if a["name"] in KEEP_APPS]
    import io

    out = io.StringIO()
    YAML(typ="safe", pure=True).dump(data, out)  # YAML, not JSON: `homelab apply X.json|{...}` reads a plan
    return out.getvalue()


def argocd_install() -> str:
    """What `helm template argo-cd --include-crds` gives that matters here: the chart's real CRDs (templated
    from argo-cd 10.1.1) and the namespace (JSON is YAML)."""
    objs = [argocd_crds.application_crd(), argocd_crds.appproject_crd(),
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "argocd"}}]
    return "\n---\n".join(json.dumps(o) for o in objs) + "\n"


READER = "k8s-e2e-reader-3b9e1c77f0"  # a user who may not read Applications (RBAC)


@dataclass
class Lab:
    fake: FakeKubeApiServer
    root: Path
    env: dict
    run: object
    outputs: list = field(default_factory=list)  # every stdout/stderr of every command, for the token check

    def cli(self, *args: str):
        r = self.run([*args], env=self.env, cwd=self.root)
        self.outputs += [r.stdout, r.stderr]
        return r

    def kubeconfig(self, token: str) -> None:
        (self.root / "kubeconfig").write_text(json.dumps({
            "apiVersion": "v1", "kind": "Config", "current-context": "lab",
            "clusters": [{"name": "lab", "cluster": {"server": self.fake.url}}],
            "users": [{"name": "admin", "user": {"token": token}}],
            "contexts": [{"name": "lab", "context": {"cluster": "lab", "user": "admin"}}]}))
        (self.root / "kubeconfig").chmod(0o600)


@pytest.fixture
def lab(tmp_path, homelab_tools):
    from homelab.lab.load import load_lab
    from homelab.plan.desired import desired
    from homelab.state.store import StateStore

    with FakeKubeApiServer(tokens={TOKEN: "admin", READER: "reader"},
                           denied={"reader": {("get", "applications.argoproj.io")}}) as fake:
        root = tmp_path / "lab"
        root.mkdir()
        lab_file = root / "homelab.yaml"
        lab_file.write_text(small_lab(homelab_tools.reference_lab, "kubeconfig"))
        state_dir = root / ".homelab"

        # the machines and the K3s cluster were built before (see the module docstring)
        doc = load_lab(lab_file)
        store = StateStore(state_dir)
        for addr, res in desired(doc).items():
            if res.layer in ("vms", "hosts", "clusters"):
                store.record(addr, layer=res.layer, engine=res.engine, attrs=dict(res.attrs), lab_digest=doc.digest,
                             depends_on=res.depends_on)
        store.close()

        env = homelab_tools.clean_env(
            HOMELAB_STATE_DIR=str(state_dir), HOMELAB_VAULT_ADDR=f"http://127.0.0.1:{_closed_port()}",
            VAULT_TOKEN="dummy-token-not-a-secret")
        the_lab = Lab(fake, root, env, homelab_tools.run_homelab)
        the_lab.kubeconfig(TOKEN)
        yield the_lab
        for text in the_lab.outputs:  # never a token, in any output of any command
            assert TOKEN not in text and READER not in text


@pytest.fixture
def applied(lab):
    """The lab rendered (with ArgoCD's install manifest beside it) and applied: bootstrap, metallb, traefik and
    sonarr are live; pihole is blocked (it reads a secret, Vault is unreachable)."""
    r = lab.cli("render", "homelab.yaml")
    assert r.returncode == 0, r.stdout + r.stderr
    (lab.root / "k8s" / "bootstrap" / "argocd-install.yaml").write_text(argocd_install())
    r = lab.cli("apply", "homelab.yaml", "-y")
    assert r.returncode == 0, r.stdout + r.stderr
    for name in ("sonarr", "metallb", "traefik"):
        assert lab.fake.get_object(ARGO, "Application", name, "argocd") is not None, name
    return lab


def plan_json(lab) -> dict:
    r = lab.cli("plan", "homelab.yaml", "--format", "json")
    assert r.returncode == 0, r.stdout + r.stderr
    return json.loads(r.stdout)


def changes_of(plan: dict) -> dict[str, dict]:
    return {c["address"]: c for lay in plan["layers"] for c in lay["changes"]}


def layers_of(plan: dict) -> dict[str, dict]:
    return {lay["name"]: lay for lay in plan["layers"]}


def chart_version(lab, name: str) -> str:
    """The chart revision of a rendered multi-source Application (its first source)."""
    return lab.fake.get_object(ARGO, "Application", name, "argocd")["spec"]["sources"][0]["targetRevision"]


def test_kubernetes_layer_through_plan_apply_and_argocd_status(lab):
    fake, root = lab.fake, lab.root
    r = lab.cli("render", "homelab.yaml")
    assert r.returncode == 0, r.stdout + r.stderr
    assert (root / "k8s" / "apps" / "media" / "sonarr.yaml").is_file()
    (root / "k8s" / "bootstrap" / "argocd-install.yaml").write_text(argocd_install())

    # --- plan: the kubernetes layers are read live (nothing there yet), the others say why not
    plan = plan_json(lab)
    layers = layers_of(plan)
    for name in ("gitops", "platform", "apps"):
        assert layers[name]["reachable"] and layers[name]["source"] == "facts", layers[name]
        assert layers[name]["reason"] == f"Kubernetes v1.31.0 at {fake.url}"
    assert (layers["vms"]["configured"], layers["vms"]["reason"]) == (False, "proxmox.endpoint is not set")
    assert not layers["hosts"]["configured"] and "access.ssh is false" in layers["hosts"]["reason"]
    assert layers["vault"]["configured"] and not layers["vault"]["reachable"]
    ch = changes_of(plan)
    for addr in ["argocd_bootstrap.argocd", *ARGO_APPS]:
        assert (ch[addr]["action"], ch[addr]["reason"]) == ("create", "not found on the live system"), addr
    assert ch["proxmox_vm.kube01"]["action"] == "no-op" and ch["k3s_server.kube01"]["action"] == "no-op"
    assert ch["vault_mount.secret"]["action"] == "create"

    # --- apply: bootstrap, platform and sonarr by server-side apply; pihole waits for Vault
    r = lab.cli("apply", "homelab.yaml", "-y")
    assert r.returncode == 0, r.stdout + r.stderr
    # the number of Vault resources skipped is the lab's business; 4 applied and 1 blocked are this test's
    assert re.search(r"^Apply complete: 4 applied, 0 failed, \d+ skipped \(engine not available\), 1 blocked\.$",
                     r.stdout, re.M), r.stdout
    assert re.search(r"^not started: .*vault not reachable: .*connection refused .*: argocd_app\.home-automation/"
                     r"pihole$", r.stderr, re.M), r.stderr
    applied = ["argocd_bootstrap.argocd", "argocd_app.platform/metallb", "argocd_app.platform/traefik",
               "argocd_app.media/sonarr"]
    for addr in applied:
        assert f"{addr}: created" in r.stderr, (addr, r.stderr)
    assert "argocd_app.home-automation/pihole: created" not in r.stderr

    for name in ("root", "sonarr", "metallb", "traefik"):
        obj = fake.get_object(ARGO, "Application", name, "argocd")
        assert obj is not None, name
        assert [(e["manager"], e["operation"]) for e in obj["metadata"]["managedFields"]] == [("homelab", "Apply")]
        if name != "root":  # the apps carry ArgoCD's resources finalizer (render/argocd); the root app does not
            assert obj["metadata"]["finalizers"] == [RESOURCES_FINALIZER], name
    assert fake.get_object(ARGO, "Application", "sonarr", "argocd")["spec"]["destination"]["namespace"] == "media"
    assert fake.get_object(ARGO, "Application", "pihole", "argocd") is None  # blocked: Vault was skipped
    assert fake.get_object("v1", "Namespace", "argocd") is not None
    assert {p.path.rsplit("?", 1)[0] for p in fake.requests if p.method == "PATCH"} >= {
        "/apis/argoproj.io/v1alpha1/namespaces/argocd/applications/sonarr"}

    # --- ArgoCD reports sonarr OutOfSync and Degraded: an update, with ArgoCD's words and every revision of
    # the multi-source app (the chart's and the values repository's)
    app_chart = chart_version(lab, "sonarr")
    report(fake, "sonarr", "OutOfSync", "Degraded", [app_chart, SHA])
    for name in ("metallb", "traefik"):
        report(fake, name, "Synced", "Healthy", [chart_version(lab, name), SHA])
    ch = changes_of(plan_json(lab))
    sonarr = ch["argocd_app.media/sonarr"]
    assert sonarr["action"] == "update"
    assert sonarr["reason"] == f"ArgoCD reports OutOfSync, health Degraded (revisions {app_chart}, 9f86d08)"
    assert {k: sonarr["before"][k] for k in ("sync", "health", "revisions")} == {
        "sync": "OutOfSync", "health": "Degraded", "revisions": [app_chart, SHA]}
    traefik_chart = chart_version(lab, "traefik")
    assert ch["argocd_app.platform/traefik"]["action"] == "no-op"
    assert ch["argocd_app.platform/traefik"]["reason"] == f"Synced and Healthy in ArgoCD (revisions {traefik_chart}, 9f86d08)"
    assert ch["argocd_bootstrap.argocd"]["action"] == "no-op"
    assert ch["argocd_app.home-automation/pihole"]["action"] == "create"  # never applied: still not live

    r = lab.cli("plan", "homelab.yaml")
    assert r.returncode == 0, r.stdout + r.stderr
    assert (f"    ~ argocd_app.media/sonarr  (update: ArgoCD reports OutOfSync, health Degraded (revisions "
            f"{app_chart}, 9f86d08))" in r.stdout.splitlines()), r.stdout
    assert "argocd_app.platform/traefik" not in r.stdout  # Synced and Healthy: nothing to say

    # --- apply of that plan: sonarr's Application is applied again, and ArgoCD's status stays ArgoCD's
    r = lab.cli("apply", "homelab.yaml", "-y")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "kubernetes: Application/argocd/sonarr unchanged" in r.stderr, r.stderr
    live = fake.get_object(ARGO, "Application", "sonarr", "argocd")
    assert live["status"]["sync"]["status"] == "OutOfSync" and live["status"]["sync"]["revisions"] == [app_chart, SHA]
    homelab_fields = next(e for e in live["metadata"]["managedFields"] if e["manager"] == "homelab")["fieldsV1"]
    assert "f:status" not in homelab_fields
    assert not [p for p in fake.requests if p.method == "PATCH" and p.body and "status" in p.body]

    # --- Synced but Degraded (a crash-looping app): not an update, but the text plan lists it
    report(fake, "sonarr", "Synced", "Degraded", [app_chart, SHA])
    r = lab.cli("plan", "homelab.yaml")
    assert r.returncode == 0, r.stdout + r.stderr
    line = next(x for x in r.stdout.splitlines() if "argocd_app.media/sonarr" in x)
    assert line == (f"    ! argocd_app.media/sonarr  (no-op: Synced in ArgoCD but Degraded (revisions {app_chart}, "
                    "9f86d08): applying again will not fix it (look at the application's pods and events))"), line

    # --- Synced and Healthy: a no-op, not listed
    report(fake, "sonarr", "Synced", "Healthy", [app_chart, SHA])
    sonarr = changes_of(plan_json(lab))["argocd_app.media/sonarr"]
    assert (sonarr["action"], sonarr["reason"]) == ("no-op", f"Synced and Healthy in ArgoCD (revisions {app_chart}, "
                                                             "9f86d08)")
    r = lab.cli("plan", "homelab.yaml")
    assert "argocd_app.media/sonarr" not in r.stdout, r.stdout
    assert "apps (kubernetes): reachable" in r.stdout


def _delete_outside_homelab(lab, name: str) -> None:
    req = urllib.request.Request(f"{lab.fake.url}/apis/argoproj.io/v1alpha1/namespaces/argocd/applications/{name}",
                                 method="DELETE", headers={"Authorization": f"Bearer {TOKEN}"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        assert resp.status == 200


def _argocd_finishes(lab, name: str, *, after: str, count: int = 1) -> threading.Thread:
    """ArgoCD's controller finishing the deletion of `name` once homelab has sent `count` more `after` requests
    (GET/DELETE) for it — i.e. while apply is waiting for it, never before."""
    path = f"/apis/argoproj.io/v1alpha1/namespaces/argocd/applications/{name}"
    start = len(lab.fake.requests)

    def controller():
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            seen = [r for r in lab.fake.requests[start:] if r.method == after and r.path == path]
            if len(seen) >= count:
                time.sleep(0.2)
                finish_deletion(lab.fake, name)
                return
            time.sleep(0.02)

    thread = threading.Thread(target=controller)
    thread.start()
    return thread


def test_an_app_being_deleted_outside_homelab_is_created_again_once_gone(applied):
    lab = applied
    report(lab.fake, "sonarr", "Synced", "Healthy", [chart_version(lab, "sonarr"), SHA])
    _delete_outside_homelab(lab, "sonarr")  # ArgoCD's finalizer holds it while it removes the app's resources
    since = lab.fake.get_object(ARGO, "Application", "sonarr", "argocd")["metadata"]["deletionTimestamp"]
    sonarr = changes_of(plan_json(lab))["argocd_app.media/sonarr"]
    assert (sonarr["action"], sonarr["reason"]) == (
        "create", f"being deleted on the live system since {since}, held by {RESOURCES_FINALIZER}: apply waits until "
                  "it is gone, then creates it again")
    assert sonarr["before"] == {"deleting": since, "finalizers": [RESOURCES_FINALIZER]}
    assert "Synced" not in json.dumps(sonarr)  # what ArgoCD said of an app on its way out says nothing
    old_uid = lab.fake.get_object(ARGO, "Application", "sonarr", "argocd")["metadata"]["uid"]
    controller = _argocd_finishes(lab, "sonarr", after="GET", count=2)  # the plan's read, then the engine's
    r = lab.cli("apply", "homelab.yaml", "-y")
    controller.join()
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Application/argocd/sonarr is being deleted; waiting for it to go, then creating it again" in r.stderr, \
        r.stderr
    assert "kubernetes: Application/argocd/sonarr created" in r.stderr, r.stderr
    fresh = lab.fake.get_object(ARGO, "Application", "sonarr", "argocd")
    assert fresh["metadata"]["uid"] != old_uid and "deletionTimestamp" not in fresh["metadata"]
    report(lab.fake, "sonarr", "Synced", "Healthy", [chart_version(lab, "sonarr"), SHA])  # ArgoCD syncs it anew
    assert changes_of(plan_json(lab))["argocd_app.media/sonarr"]["action"] == "no-op"


def test_an_app_deleted_outside_homelab_and_gone_is_created_again(applied):
    lab = applied
    _delete_outside_homelab(lab, "sonarr")
    finish_deletion(lab.fake, "sonarr")
    sonarr = changes_of(plan_json(lab))["argocd_app.media/sonarr"]
    assert (sonarr["action"], sonarr["reason"]) == (
        "create", "in state but not found on the live system (deleted outside homelab?)")


def test_an_app_removed_from_the_lab_is_deleted_when_argocd_lets_it_go(applied):
    lab = applied
    text = (lab.root / "homelab.yaml").read_text()
    data = YAML(typ="safe").load(text)
    data["apps"] = [a for a in data["apps"] if a["name"] != "sonarr"]
    out = io.StringIO()
    YAML(typ="safe", pure=True).dump(data, out)
    (lab.root / "homelab.yaml").write_text(out.getvalue())
    sonarr = changes_of(plan_json(lab))["argocd_app.media/sonarr"]
    assert (sonarr["action"], sonarr["reason"]) == ("delete", "no longer in homelab.yaml")
    controller = _argocd_finishes(lab, "sonarr", after="DELETE")
    r = lab.cli("apply", "homelab.yaml", "-y")
    controller.join()
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Application/argocd/sonarr is being deleted; waiting for it to go, then it is deleted" in r.stderr
    assert "kubernetes: Application/argocd/sonarr deleted" in r.stderr, r.stderr
    assert lab.fake.get_object(ARGO, "Application", "sonarr", "argocd") is None
    assert "argocd_app.media/sonarr" not in changes_of(plan_json(lab))


def test_a_user_who_may_not_read_applications_gets_a_plan_from_state_that_says_why(applied):
    lab = applied
    lab.kubeconfig(READER)
    before = len([p for p in lab.fake.requests if p.method == "PATCH"])
    plan = plan_json(lab)
    layers = layers_of(plan)
    for name in ("gitops", "platform", "apps"):
        assert (layers[name]["reachable"], layers[name]["source"]) == (False, "state"), layers[name]
        assert layers[name]["reason"] == (
            "reading live facts failed: EngineError: the kubeconfig's user may not read what the plan needs: Kubernetes "
            "API GET /apis/argoproj.io/v1alpha1/namespaces/argocd/applications/pihole: 403 Forbidden: "
            'applications.argoproj.io "pihole" is forbidden: User "reader" cannot get resource "applications" in API '
            'group "argoproj.io" in the namespace "argocd"'), layers[name]
    ch = changes_of(plan)
    # a 403 is not "absent": nothing the state knows is planned for creation again
    assert (ch["argocd_app.media/sonarr"]["action"], ch["argocd_app.media/sonarr"]["reason"]) == (
        "no-op", ch["argocd_app.media/sonarr"]["reason"])
    assert ch["argocd_app.media/sonarr"]["reason"].startswith("unchanged since it was applied")
    r = lab.cli("apply", "homelab.yaml", "-y")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "skipped: kubernetes not reachable: reading live facts failed: EngineError: the kubeconfig's user may " \
           "not read what the plan needs" in r.stdout + r.stderr
    assert len([p for p in lab.fake.requests if p.method == "PATCH"]) == before  # nothing written


# ------------------------------------------------------------------ the pieces, one by one
def _application(name: str, dest: str) -> dict:
    """A single-source Application (Argo CD then reports `status.sync.revision`, one string)."""
    return {"apiVersion": ARGO, "kind": "Application", "metadata": {"name": name, "namespace": "argocd"},
            "spec": {"project": "homelab", "destination": {"server": "https://kubernetes.default.svc",
                                                           "namespace": dest},
                     "source": {"repoURL": "https://charts.example", "chart": name, "targetRevision": "1.0.0"}}}


@pytest.fixture
def engine_env(tmp_path, reference_doc):
    """The engine on its own against the fake, with a platform component rendered as two Applications
    (`democratic-csi-iscsi.yaml`, `democratic-csi-nfs.yaml`) beside a file of other objects."""
    import dataclasses

    from homelab.engines.base import EngineContext
    from homelab.engines.kubernetes import KubernetesEngine

    with FakeKubeApiServer() as fake:
        plat = tmp_path / "repo" / "k8s" / "platform"
        plat.mkdir(parents=True)
        (plat / "democratic-csi-iscsi.yaml").write_text(json.dumps(_application("democratic-csi-iscsi", "csi")))
        (plat / "democratic-csi-nfs.yaml").write_text(json.dumps(_application("democratic-csi-nfs", "csi")))
        (plat / "democratic-csi-secrets.yaml").write_text(json.dumps(
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "not-an-app", "namespace": "csi"}}))
        (tmp_path / "kubeconfig").write_text(json.dumps({
            "apiVersion": "v1", "kind": "Config", "current-context": "c",
            "clusters": [{"name": "c", "cluster": {"server": fake.url}}], "users": [{"name": "u", "user": {}}],
            "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}]}))
        lab = reference_doc.lab
        argo = lab.gitops.argocd.model_copy(update={"kubeconfig": str(tmp_path / "kubeconfig")})
        doc = dataclasses.replace(reference_doc, lab=lab.model_copy(
            update={"gitops": lab.gitops.model_copy(update={"argocd": argo})}))
        ctx = EngineContext(doc=doc, workdir=tmp_path / "repo", state_dir=tmp_path / ".homelab")
        engine = KubernetesEngine(poll_interval=0.05, crd_timeout=5)
        client = engine.client(ctx)
        engine.apply_objects(ctx, client, [
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "argocd"}},
            argocd_crds.application_crd()], doc.lab.gitops.argocd)
        yield fake, engine, ctx


def test_platform_component_of_several_applications(engine_env):
    from homelab.engines.base import Change

    fake, engine, ctx = engine_env
    addr = "argocd_app.platform/democratic-csi"
    assert engine.read_facts(ctx, [addr]) == {}  # not live yet: the planner creates it (fact_types)
    [result] = engine.apply(ctx, [Change(addr, "create", "not found on the live system")])
    assert result.attrs["objects"] == ["Application/argocd/democratic-csi-iscsi",
                                       "Application/argocd/democratic-csi-nfs"]  # no ConfigMap of -secrets.yaml
    assert fake.get_object("v1", "ConfigMap", "not-an-app", "csi") is None

    report(fake, "democratic-csi-iscsi", "Synced", "Healthy", SHA)
    report(fake, "democratic-csi-nfs", "Synced", "Progressing", SHA)
    assert engine.read_facts(ctx, [addr])[addr] == {"sync": "Synced", "health": "Progressing", "revision": SHA,
                                                   "namespace": "csi"}
    report(fake, "democratic-csi-iscsi", "OutOfSync", "Degraded", SHA)
    facts = engine.read_facts(ctx, [addr])[addr]
    assert (facts["sync"], facts["health"]) == ("OutOfSync", "Degraded")


def test_an_app_with_no_rendered_manifest_is_never_applied_bare(engine_env):
    from homelab.engines.base import Change
    from homelab.errors import EngineError

    fake, engine, ctx = engine_env
    with pytest.raises(EngineError, match=r"argocd_app\.platform/traefik has no rendered manifest"):
        engine.apply(ctx, [Change("argocd_app.platform/traefik", "create", "not found on the live system")])
    assert fake.get_object(ARGO, "Application", "traefik", "argocd") is None
    assert engine.fact_types == frozenset({"argocd_app", "argocd_bootstrap"})


def test_text_plan_lists_apps_argocd_does_not_report_healthy():
    from homelab.plan.model import LayerStatus, Plan, PlannedChange
    from homelab.plan.show import render_text

    def app(name, action, reason, before):
        return PlannedChange(f"argocd_app.media/{name}", "apps", "kubernetes", action, reason, before=before)

    plan = Plan("homelab.yaml", "d", 1, ".", layers=[LayerStatus("apps", "kubernetes", True, True, "k8s", "facts")],
                changes=[app("a", "no-op", "Synced in ArgoCD, Progressing", {"sync": "Synced", "health": "Progressing"}),
                         app("b", "no-op", "Synced in ArgoCD but Missing", {"sync": "Synced", "health": "Missing"}),
                         app("c", "no-op", "Synced and Healthy in ArgoCD", {"sync": "Synced", "health": "Healthy"}),
                         app("d", "no-op", "matches the live system", {"namespace": "media"}),
                         app("e", "update", "ArgoCD reports OutOfSync", {"sync": "OutOfSync", "health": "Healthy"})])
    assert render_text(plan).splitlines()[:5] == [
        "apps (kubernetes): reachable: k8s",
        "    i argocd_app.media/a  (no-op: Synced in ArgoCD, Progressing)",
        "    ! argocd_app.media/b  (no-op: Synced in ArgoCD but Missing)",
        "    ~ argocd_app.media/e  (update: ArgoCD reports OutOfSync)",
        "      (4 unchanged)",
    ]
