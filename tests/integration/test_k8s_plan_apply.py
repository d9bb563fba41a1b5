"""The kubernetes layer end to end through the CLI: render → plan → apply → ArgoCD status in the plan.

The cluster is the contract fake of the Kubernetes API (tests/fakes/kube_apiserver.py: discovery that
serves a CRD's kind only once the CRD is applied, server-side apply with field managers, `set_status()`
for what ArgoCD's controller writes). Everything else of the lab is honestly absent, as on a machine
that only has the cluster's kubeconfig:

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

import json
import os
import re
import socket
import sys
import urllib.request
from pathlib import Path

import pytest
from ruamel.yaml import YAML

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from fakes.kube_apiserver import FakeKubeApiServer, crd_manifest  # noqa: E402

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
    """A stand-in for `helm template argo-cd --include-crds`: the two CRDs and the namespace (JSON is YAML)."""
    objs = [crd_manifest("argoproj.io", "Application", "applications", short_names=("app",)),
            crd_manifest("argoproj.io", "AppProject", "appprojects"),
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "argocd"}}]
    return "\n---\n".join(json.dumps(o) for o in objs) + "\n"


@pytest.fixture
def lab(tmp_path, homelab_tools):
    from homelab.lab.load import load_lab
    from homelab.plan.desired import desired
    from homelab.state.store import StateStore

    with FakeKubeApiServer(tokens={TOKEN: "admin"}) as fake:
        root = tmp_path / "lab"
        root.mkdir()
        (root / "kubeconfig").write_text(json.dumps({
            "apiVersion": "v1", "kind": "Config", "current-context": "lab",
            "clusters": [{"name": "lab", "cluster": {"server": fake.url}}],
            "users": [{"name": "admin", "user": {"token": TOKEN}}],
            "contexts": [{"name": "lab", "context": {"cluster": "lab", "user": "admin"}}]}))
        (root / "kubeconfig").chmod(0o600)
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
            VAULT_TOKEN="dummy-token-not-a-secret",
            # clean_env drops every HOMELAB_* variable: keep the network guard in the children
            HOMELAB_NETGUARD=os.environ.get("HOMELAB_NETGUARD", "1"),
            HOMELAB_NETGUARD_LOG=os.environ.get("HOMELAB_NETGUARD_LOG", ""))

        def cli(*args: str):
            return homelab_tools.run_homelab([*args], env=env, cwd=root)

        yield fake, root, cli


def plan_json(cli) -> dict:
    r = cli("plan", "homelab.yaml", "--format", "json")
    assert r.returncode == 0, r.stdout + r.stderr
    return json.loads(r.stdout)


def changes_of(plan: dict) -> dict[str, dict]:
    return {c["address"]: c for lay in plan["layers"] for c in lay["changes"]}


def layers_of(plan: dict) -> dict[str, dict]:
    return {lay["name"]: lay for lay in plan["layers"]}


def app_status(sync: str, health: str, revision: str = SHA) -> dict:
    return {"sync": {"status": sync, "revision": revision}, "health": {"status": health}}


def test_kubernetes_layer_through_plan_apply_and_argocd_status(lab):
    fake, root, cli = lab
    r = cli("render", "homelab.yaml")
    assert r.returncode == 0, r.stdout + r.stderr
    assert (root / "k8s" / "apps" / "media" / "sonarr.yaml").is_file()
    (root / "k8s" / "bootstrap" / "argocd-install.yaml").write_text(argocd_install())

    # --- plan: the kubernetes layers are read live (nothing there yet), the others say why not
    plan = plan_json(cli)
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
    r = cli("apply", "homelab.yaml", "-y")
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
    assert fake.get_object(ARGO, "Application", "sonarr", "argocd")["spec"]["destination"]["namespace"] == "media"
    assert fake.get_object(ARGO, "Application", "pihole", "argocd") is None  # blocked: Vault was skipped
    assert fake.get_object("v1", "Namespace", "argocd") is not None
    assert {p.path.rsplit("?", 1)[0] for p in fake.requests if p.method == "PATCH"} >= {
        "/apis/argoproj.io/v1alpha1/namespaces/argocd/applications/sonarr"}

    # --- ArgoCD reports sonarr OutOfSync and Degraded: an update, with ArgoCD's words
    fake.set_status(ARGO, "Application", "sonarr", "argocd", app_status("OutOfSync", "Degraded"))
    for name in ("metallb", "traefik"):
        fake.set_status(ARGO, "Application", name, "argocd", app_status("Synced", "Healthy", "0.16.1"))
    plan = plan_json(cli)
    ch = changes_of(plan)
    sonarr = ch["argocd_app.media/sonarr"]
    assert sonarr["action"] == "update"
    assert sonarr["reason"] == "ArgoCD reports OutOfSync, health Degraded (revision 9f86d08)"
    assert {k: sonarr["before"][k] for k in ("sync", "health", "revision")} == {
        "sync": "OutOfSync", "health": "Degraded", "revision": SHA}
    assert ch["argocd_app.platform/traefik"]["action"] == "no-op"
    assert ch["argocd_app.platform/traefik"]["reason"] == "Synced and Healthy in ArgoCD (revision 0.16.1)"
    assert ch["argocd_bootstrap.argocd"]["action"] == "no-op"
    assert ch["argocd_app.home-automation/pihole"]["action"] == "create"  # never applied: still not live

    r = cli("plan", "homelab.yaml")
    assert r.returncode == 0, r.stdout + r.stderr
    assert ("    ~ argocd_app.media/sonarr  (update: ArgoCD reports OutOfSync, health Degraded (revision 9f86d08))"
            in r.stdout.splitlines()), r.stdout
    assert "argocd_app.platform/traefik" not in r.stdout  # Synced and Healthy: nothing to say

    # --- Synced but Degraded (a crash-looping app): not an update, but the text plan lists it
    fake.set_status(ARGO, "Application", "sonarr", "argocd", app_status("Synced", "Degraded"))
    r = cli("plan", "homelab.yaml")
    assert r.returncode == 0, r.stdout + r.stderr
    line = next(x for x in r.stdout.splitlines() if "argocd_app.media/sonarr" in x)
    assert line == ("    ! argocd_app.media/sonarr  (no-op: Synced in ArgoCD but Degraded (revision 9f86d08): "
                    "applying again will not fix it (look at the application's pods and events))"), line

    # --- Synced and Healthy: a no-op, not listed
    fake.set_status(ARGO, "Application", "sonarr", "argocd", app_status("Synced", "Healthy"))
    plan = plan_json(cli)
    sonarr = changes_of(plan)["argocd_app.media/sonarr"]
    assert (sonarr["action"], sonarr["reason"]) == ("no-op", "Synced and Healthy in ArgoCD (revision 9f86d08)")
    r = cli("plan", "homelab.yaml")
    assert "argocd_app.media/sonarr" not in r.stdout, r.stdout
    assert "apps (kubernetes): reachable" in r.stdout

    # --- deleted outside homelab: absence from the facts means "not live" (fact_types) → create again
    req = urllib.request.Request(f"{fake.url}/apis/argoproj.io/v1alpha1/namespaces/argocd/applications/sonarr",
                                 method="DELETE", headers={"Authorization": f"Bearer {TOKEN}"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        assert resp.status == 200
    sonarr = changes_of(plan_json(cli))["argocd_app.media/sonarr"]
    assert (sonarr["action"], sonarr["reason"]) == (
        "create", "in state but not found on the live system (deleted outside homelab?)")
    assert TOKEN not in r.stdout + r.stderr


# ------------------------------------------------------------------ the pieces, one by one
def _application(name: str, dest: str) -> dict:
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
            crd_manifest("argoproj.io", "Application", "applications")], doc.lab.gitops.argocd)
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

    fake.set_status(ARGO, "Application", "democratic-csi-iscsi", "argocd", app_status("Synced", "Healthy"))
    fake.set_status(ARGO, "Application", "democratic-csi-nfs", "argocd", app_status("Synced", "Progressing"))
    assert engine.read_facts(ctx, [addr])[addr] == {"sync": "Synced", "health": "Progressing", "revision": SHA,
                                                   "namespace": "csi"}
    fake.set_status(ARGO, "Application", "democratic-csi-iscsi", "argocd", app_status("OutOfSync", "Degraded"))
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
