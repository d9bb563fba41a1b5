"""ArgoCD objects rendered from the reference lab: CRD required fields (a JSON Schema written from the
CRD, `tests/fakes/argocd_crd_schema.py`), the semantic rules the CRD does not enforce (platform-facts
§4.1), the app-of-apps layout, AppProject consistency and sync-wave ordering. Expected values come
from the seed and the facts, not from the renderer."""

from __future__ import annotations

import importlib.util
import io
from pathlib import Path

import pytest

from homelab.lab.load import load_text
from homelab.render import argocd, kubernetes

_spec = importlib.util.spec_from_file_location(
    "argocd_crd_schema", Path(__file__).resolve().parent.parent / "fakes" / "argocd_crd_schema.py")
crd = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(crd)

REPO = "git@github.com:wortmanb/homelab.git"  # the seed's repository
IN_CLUSTER = "https://kubernetes.default.svc"
FINALIZER = "resources-finalizer.argocd.argoproj.io"
WAVE = "argocd.argoproj.io/sync-wave"


def _yaml():
    from ruamel.yaml import YAML

    return YAML(typ="safe")


def render_lab(doc) -> dict[str, str]:
    return {f.path: f.content for f in list(kubernetes.render(doc)) + list(argocd.render(doc))}


_PARSED: dict[int, tuple[dict, list]] = {}


def objects(tree, kind=None) -> list[dict]:
    cached = _PARSED.get(id(tree))
    if not cached or cached[0] is not tree:
        docs = [d for _, text in sorted(tree.items()) for d in _yaml().load_all(text)]
        cached = _PARSED[id(tree)] = (tree, docs)
    return [d for d in cached[1] if isinstance(d, dict) and "kind" in d and (kind is None or d["kind"] == kind)]


def lab_text(reference_path, mutate=None) -> str:
    data = _yaml().load(reference_path.read_text())
    if mutate:
        mutate(data)
    buf = io.StringIO()
    _yaml().dump(data, buf)
    return buf.getvalue()


def wave(obj) -> int:
    return int(obj["metadata"].get("annotations", {}).get(WAVE, "0"))


@pytest.fixture(scope="module")
def tree(reference_doc):
    return render_lab(reference_doc)


@pytest.fixture(scope="module")
def apps(tree) -> dict[str, dict]:
    return {a["metadata"]["name"]: a for a in objects(tree, "Application")}


@pytest.fixture(scope="module")
def projects(tree) -> dict[str, dict]:
    return {p["metadata"]["name"]: p for p in objects(tree, "AppProject")}


# ------------------------------------------------------------------------------------- CRD schema


def test_every_application_and_project_has_the_crd_required_fields(apps, projects):
    import jsonschema

    app_validator = jsonschema.Draft7Validator(crd.APPLICATION_SCHEMA)
    project_validator = jsonschema.Draft7Validator(crd.APPPROJECT_SCHEMA)
    assert len(apps) >= 14 + 8  # 14 apps of the reference lab, the platform, argocd and the root
    for app in apps.values():
        errors = [e.message for e in app_validator.iter_errors(app)]
        assert errors == [], app["metadata"]["name"]
    assert set(projects) == {"homelab", "homelab-platform"}
    for project in projects.values():
        assert [e.message for e in project_validator.iter_errors(project)] == []


@pytest.mark.parametrize("breakage", [
    lambda a: a["spec"].pop("destination"),
    lambda a: a["spec"].pop("project"),
    lambda a: a["spec"]["sources"][0].pop("repoURL"),
    lambda a: a["spec"]["sources"][0]["helm"].update(valuesFiles=["x.yaml"]),
    lambda a: a["spec"]["syncPolicy"]["automated"].update(selfheal=True),
    lambda a: a.pop("metadata"),
], ids=["no-destination", "no-project", "no-repoURL", "misspelt-valueFiles", "misspelt-selfHeal", "no-metadata"])
def test_the_schema_catches_what_it_should(apps, breakage):
    import copy

    import jsonschema

    app = copy.deepcopy(apps["plex"])
    breakage(app)
    assert list(jsonschema.Draft7Validator(crd.APPLICATION_SCHEMA).iter_errors(app))


# ------------------------------------------------------------------------- rules the CRD doesn't enforce


def semantic_problems(app: dict, tree: dict[str, str]) -> list[str]:
    """platform-facts §4.1: `$values` only at the start of a valueFiles entry, resolving to the root of a
    `ref: values` source; a `ref` source has no `chart`; destination has server or name. Plus: every values
    file referenced exists in the rendered repository."""
    problems = []
    spec = app["spec"]
    sources = spec.get("sources") or [spec["source"]]
    refs = {s["ref"]: s for s in sources if "ref" in s}
    for s in sources:
        if "ref" in s and "chart" in s:
            problems.append("a ref source has a chart")
        for entry in s.get("helm", {}).get("valueFiles", []):
            if "$" in entry:
                ref_name, _, rest = entry.partition("/")
                if not entry.startswith("$") or "$" in rest:
                    problems.append(f"$ref not at the start of {entry}")
                    continue
                if ref_name[1:] not in refs:
                    problems.append(f"{entry}: no source with ref {ref_name[1:]}")
                    continue
                if refs[ref_name[1:]]["repoURL"] != REPO:
                    problems.append(f"{entry}: values repository is not the lab's")
                if rest not in tree:
                    problems.append(f"{entry}: {rest} is not in the rendered tree")
    dest = spec["destination"]
    if not dest.get("server") and not dest.get("name"):
        problems.append("destination has neither server nor name")
    return problems


def test_semantic_rules_hold_for_every_application(apps, tree):
    for app in apps.values():
        assert semantic_problems(app, tree) == [], app["metadata"]["name"]


@pytest.mark.parametrize("breakage, message", [
    (lambda a: a["spec"]["sources"][0]["helm"].update(valueFiles=["values/$values/x.yaml"]), "not at the start"),
    (lambda a: a["spec"]["sources"][1].update(ref="vals"), "no source with ref values"),
    (lambda a: a["spec"]["sources"][1].update(chart="x"), "ref source has a chart"),
    (lambda a: a["spec"]["destination"].pop("server"), "neither server nor name"),
    (lambda a: a["spec"]["sources"][0]["helm"].update(valueFiles=["$values/k8s/values/nope.yaml"]), "not in the"),
])
def test_semantic_rules_catch_broken_applications(apps, tree, breakage, message):
    import copy

    app = copy.deepcopy(apps["plex"])
    breakage(app)
    assert any(message in p for p in semantic_problems(app, tree))


# ---------------------------------------------------------------------------------------- app files


def test_one_multi_source_application_per_app(tree, apps, reference_doc):
    lab = reference_doc.lab
    for app in lab.apps:
        path = f"k8s/apps/{app.namespace}/{app.name}.yaml"
        docs = list(_yaml().load_all(tree[path]))
        assert len(docs) == 1 and docs[0]["kind"] == "Application"
        a = docs[0]
        chart, values = a["spec"]["sources"]
        assert chart == {"repoURL": app.chart.repo, "chart": app.chart.name, "targetRevision": app.chart.version,
                         "helm": {"releaseName": app.name, "valueFiles": [f"$values/k8s/values/{app.name}.yaml"]}}
        assert values == {"repoURL": REPO, "targetRevision": "main", "ref": "values"}
        assert a["spec"]["destination"] == {"server": IN_CLUSTER, "namespace": app.namespace}
        assert a["spec"]["project"] == "homelab"
        assert a["metadata"]["namespace"] == "argocd"
        assert a["metadata"]["finalizers"] == [FINALIZER]
        sync = a["spec"]["syncPolicy"]
        assert sync["automated"] == {"prune": True, "selfHeal": True}
        assert "CreateNamespace=true" in sync["syncOptions"]


def test_app_annotations_document_the_app(apps):
    ann = apps["plex"]["metadata"]["annotations"]
    assert ann["homelab/url"] == "https://watch.lab.thewortmans.org"
    assert ann["link.argocd.argoproj.io/external-link"] == "https://watch.lab.thewortmans.org"
    assert "freenas-nfs-csi" in ann["homelab/storage"]
    assert "apps/plex#claim_token" in ann["homelab/secrets"]
    info = {i["name"]: i["value"] for i in apps["ollama"]["spec"]["info"]}
    assert info["GPU"].startswith("1 ")
    assert info["Image"] == "ollama/ollama:0.32.15"


def test_sync_policy_follows_the_lab(reference_path):
    def mutate(d):
        d["gitops"]["argocd"].update(prune=False, self_heal=False, create_namespace=False, revision="v1.2.3")
    tree = render_lab(load_text(lab_text(reference_path, mutate)))
    plex = next(a for a in objects(tree, "Application") if a["metadata"]["name"] == "plex")
    assert plex["spec"]["syncPolicy"]["automated"] == {"prune": False, "selfHeal": False}
    assert "CreateNamespace=true" not in plex["spec"]["syncPolicy"].get("syncOptions", [])
    assert plex["spec"]["sources"][1]["targetRevision"] == "v1.2.3"

    tree = render_lab(load_text(lab_text(reference_path, lambda d: d["gitops"]["argocd"].update(automated=False))))
    plex = next(a for a in objects(tree, "Application") if a["metadata"]["name"] == "plex")
    assert "automated" not in plex["spec"]["syncPolicy"]


# -------------------------------------------------------------------------------------- platform


def test_kube_prometheus_stack_is_pinned_with_server_side_apply(apps):
    kps = apps["kube-prometheus-stack"]
    chart = kps["spec"]["sources"][0]
    assert chart["repoURL"] == "https://prometheus-community.github.io/helm-charts"
    assert chart["chart"] == "kube-prometheus-stack"
    assert chart["targetRevision"] == "75.18.1"  # the seed's version
    assert "ServerSideApply=true" in kps["spec"]["syncPolicy"]["syncOptions"]
    assert kps["spec"]["destination"]["namespace"] == "prometheus"  # the seed's namespace


def test_platform_components_of_the_reference_lab(apps):
    expected = {  # name: (chart, namespace)
        "metallb": ("metallb", "metallb-system"),
        "traefik": ("traefik", "traefik"),
        "democratic-csi-iscsi": ("democratic-csi", "democratic-csi"),
        "democratic-csi-nfs": ("democratic-csi", "democratic-csi"),
        "kube-prometheus-stack": ("kube-prometheus-stack", "prometheus"),
        "nvidia-device-plugin": ("nvidia-device-plugin", "nvidia-device-plugin"),
        "external-secrets": ("external-secrets", "external-secrets"),
        "velero": ("velero", "velero"),
        "cert-manager": ("cert-manager", "cert-manager"),  # pki.cert_manager.enabled
        "argocd": ("argo-cd", "argocd"),
    }
    platform = {n: a for n, a in apps.items() if a["metadata"]["labels"].get("homelab/layer") == "platform"}
    assert {n: (a["spec"]["sources"][0]["chart"], a["spec"]["destination"]["namespace"])
            for n, a in platform.items()} == expected
    for a in platform.values():
        assert a["spec"]["project"] == "homelab-platform"
        assert a["metadata"]["finalizers"] == [FINALIZER]
    iscsi, nfs = apps["democratic-csi-iscsi"], apps["democratic-csi-nfs"]
    assert iscsi["spec"]["sources"][0]["helm"]["releaseName"] != nfs["spec"]["sources"][0]["helm"]["releaseName"]


def test_disabling_cert_manager_removes_it_and_enabling_it_adds_it(reference_path):
    def off(d):
        d["pki"]["cert_manager"] = {"enabled": False}
    tree = render_lab(load_text(lab_text(reference_path, off)))
    assert not [a for a in objects(tree, "Application") if a["metadata"]["name"] == "cert-manager"]
    assert "k8s/platform/cert-manager-issuers.yaml" not in tree

    def platform_only(d):  # the platform component alone is enough too
        off(d)
        d["platform"].update(cert_manager={
            "enabled": True, "namespace": "cert-manager",
            "chart": {"repo": "https://charts.jetstack.io", "name": "cert-manager", "version": "v1.21.1"}})
    tree = render_lab(load_text(lab_text(reference_path, platform_only)))
    cm = next(a for a in objects(tree, "Application") if a["metadata"]["name"] == "cert-manager")
    assert cm["spec"]["sources"][0]["targetRevision"] == "v1.21.1"
    values = _yaml().load(tree["k8s/values/platform/cert-manager.yaml"])
    assert values["crds"] == {"enabled": True}  # facts §5: installCRDs is deprecated


# ------------------------------------------------------------------------------------ bootstrap


def test_root_app_of_apps(tree, apps):
    root = apps["root"]
    assert tree["k8s/bootstrap/root.yaml"].count("kind: Application") == 1
    paths = {s["path"]: s for s in root["spec"]["sources"]}
    assert paths["k8s/platform"]["directory"] == {"recurse": True}
    assert paths["k8s/apps"]["directory"] == {"recurse": True}
    assert all(s["repoURL"] == REPO and s["targetRevision"] == "main" for s in root["spec"]["sources"])
    assert root["spec"]["destination"]["server"] == IN_CLUSTER
    assert "finalizers" not in root["metadata"]  # deleting the root must not cascade
    assert root["spec"]["syncPolicy"]["automated"]["prune"] is True
    # Everything the directory sources pick up is a Kubernetes object (no values files in those trees).
    for path, text in tree.items():
        if path.startswith(("k8s/platform/", "k8s/apps/")):
            for data in _yaml().load_all(text):
                assert {"apiVersion", "kind", "metadata"} <= set(data), path


def test_argocd_install_values(tree, apps):
    values = _yaml().load(tree["k8s/bootstrap/argocd-values.yaml"])
    assert values["configs"]["cm"]["application.resourceTrackingMethod"] == "annotation"
    lua = values["configs"]["cm"]["resource.customizations.health.argoproj.io_Application"]
    assert "obj.status.health.status" in lua
    assert values["global"]["domain"] == "argocd.lab.thewortmans.org"
    self_app = apps["argocd"]["spec"]["sources"][0]
    assert (self_app["repoURL"], self_app["chart"], self_app["targetRevision"]) == (
        "https://argoproj.github.io/argo-helm", "argo-cd", "10.1.1")
    assert self_app["helm"]["valueFiles"] == ["$values/k8s/bootstrap/argocd-values.yaml"]


def test_projects_allow_exactly_the_repositories_and_namespaces_in_use(apps, projects, reference_doc):
    lab = reference_doc.lab
    app_charts = {a.chart.repo for a in lab.apps}
    assert set(projects["homelab"]["spec"]["sourceRepos"]) == {REPO} | app_charts
    assert {d["namespace"] for d in projects["homelab"]["spec"]["destinations"]} == {a.namespace for a in lab.apps}
    assert projects["homelab"]["spec"]["clusterResourceWhitelist"] == [{"group": "", "kind": "Namespace"}]
    for app in apps.values():  # every Application is allowed by its project
        project = projects[app["spec"]["project"]]["spec"]
        for source in app["spec"]["sources"]:
            assert source["repoURL"] in project["sourceRepos"], app["metadata"]["name"]
        assert {"server": IN_CLUSTER, "namespace": app["spec"]["destination"]["namespace"]} in project["destinations"]
    # the platform project holds no repository it does not use
    used = {s["repoURL"] for a in apps.values() if a["spec"]["project"] == "homelab-platform"
            for s in a["spec"]["sources"]}
    assert set(projects["homelab-platform"]["spec"]["sourceRepos"]) == used
    kinds = {(k["group"], k["kind"]) for k in projects["homelab-platform"]["spec"]["clusterResourceWhitelist"]}
    assert ("apiextensions.k8s.io", "CustomResourceDefinition") in kinds
    assert ("storage.k8s.io", "StorageClass") in kinds
    assert ("external-secrets.io", "ClusterSecretStore") in kinds


def test_root_project_admits_every_object_the_root_syncs(tree, projects):
    """The root's objects must land in namespaces its project allows; cluster-scoped kinds whitelisted."""
    spec = projects["homelab-platform"]["spec"]
    allowed_ns = {d["namespace"] for d in spec["destinations"]}
    kinds = {(k["group"], k["kind"]) for k in spec["clusterResourceWhitelist"]}
    for path, text in tree.items():
        if not path.startswith(("k8s/platform/", "k8s/apps/")) and path != "k8s/bootstrap/projects.yaml":
            continue
        for obj in _yaml().load_all(text):
            ns = obj["metadata"].get("namespace")
            if ns:
                assert ns in allowed_ns, (path, ns)
            else:
                group = obj["apiVersion"].rpartition("/")[0]
                assert (group, obj["kind"]) in kinds, (path, obj["kind"])


# ----------------------------------------------------------------------------------- sync waves


def test_sync_waves_order_dependencies(tree, apps):
    by_kind = {}
    for obj in objects(tree):
        by_kind.setdefault(obj["kind"], []).append(obj)
    ns_wave = max(wave(o) for o in by_kind["Namespace"])
    project_wave = max(wave(o) for o in by_kind["AppProject"])
    children = [a for n, a in apps.items() if n != "root"]
    assert project_wave < ns_wave < min(wave(a) for a in children)
    # CRDs before CRs
    assert wave(apps["external-secrets"]) < min(wave(o) for o in by_kind["ClusterSecretStore"])
    assert max(wave(o) for o in by_kind["ClusterSecretStore"]) < min(wave(o) for o in by_kind["ExternalSecret"])
    # Velero's Schedules come out of its chart (values `schedules`), after the chart's pre-install CRD job:
    # none is rendered beside it (test_velero_backups.py templates them)
    assert "Schedule" not in by_kind
    # the secrets a chart mounts exist before the chart
    secret_wave = {o["metadata"]["name"]: wave(o) for o in by_kind["ExternalSecret"]}
    assert secret_wave["democratic-csi-iscsi-driver-config"] < wave(apps["democratic-csi-iscsi"])
    assert secret_wave["velero-credentials"] < wave(apps["velero"])
    assert secret_wave["plex-secrets"] < wave(apps["plex"])
    # the platform before the apps
    platform = [a for a in children if a["metadata"]["labels"]["homelab/layer"] == "platform"]
    user_apps = [a for a in children if a["metadata"]["labels"]["homelab/layer"] == "apps"]
    assert max(wave(a) for a in platform) < min(wave(a) for a in user_apps)


# ------------------------------------------------------------------------------------ other labs


def _generated_lab(vms: int):
    """A synthetic lab from bench/generate.py: the seed's apps plus one app per ten VMs in team namespaces."""
    path = Path(__file__).resolve().parents[2] / "bench" / "generate.py"
    spec = importlib.util.spec_from_file_location("bench_generate", path)
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    return load_text(gen.dump(gen.generate(vms)))


def test_a_larger_generated_lab_keeps_every_rule():
    import jsonschema

    doc = _generated_lab(200)
    tree = render_lab(doc)
    apps = {a["metadata"]["name"]: a for a in objects(tree, "Application")}
    assert len([a for a in apps.values() if a["metadata"]["labels"]["homelab/layer"] == "apps"]) == len(doc.lab.apps)
    validator = jsonschema.Draft7Validator(crd.APPLICATION_SCHEMA)
    projects = {p["metadata"]["name"]: p["spec"] for p in objects(tree, "AppProject")}
    for app in apps.values():
        assert list(validator.iter_errors(app)) == []
        assert semantic_problems(app, tree) == [], app["metadata"]["name"]
        project = projects[app["spec"]["project"]]
        assert {"server": IN_CLUSTER, "namespace": app["spec"]["destination"]["namespace"]} in project["destinations"]
        assert all(s["repoURL"] in project["sourceRepos"] for s in app["spec"]["sources"])


def test_no_gitops_means_no_argocd_objects(reference_path):
    doc = load_text(lab_text(reference_path, lambda d: d.pop("gitops")))
    assert list(argocd.render(doc)) == []
    assert "k8s/values/plex.yaml" in {f.path for f in kubernetes.render(doc)}


def test_no_cluster_and_no_apps_renders_nothing(reference_path):
    def mutate(d):
        d["clusters"].pop("k3s")
        d["apps"] = []
    doc = load_text(lab_text(reference_path, mutate))
    assert list(kubernetes.render(doc)) == [] and list(argocd.render(doc)) == []


def test_oci_chart_repositories_are_named_without_the_scheme(reference_path):
    """Argo CD names a Helm OCI repository `registry/path` (the repository is registered with enableOCI)."""
    def mutate(d):
        radarr = next(a for a in d["apps"] if a["name"] == "radarr")
        radarr["chart"]["repo"] = "oci://ghcr.io/bjw-s/helm"
    tree = render_lab(load_text(lab_text(reference_path, mutate)))
    radarr = next(a for a in objects(tree, "Application") if a["metadata"]["name"] == "radarr")
    assert radarr["spec"]["sources"][0]["repoURL"] == "ghcr.io/bjw-s/helm"
    project = next(p for p in objects(tree, "AppProject") if p["metadata"]["name"] == "homelab")
    assert "ghcr.io/bjw-s/helm" in project["spec"]["sourceRepos"]
