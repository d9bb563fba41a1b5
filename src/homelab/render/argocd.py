"""ArgoCD: install values, AppProjects, the root app-of-apps and one Application per release (pure).

Layout (paths inside the rendered repository):

- `k8s/bootstrap/argocd-values.yaml`: values for the argo-cd chart (`helm install argocd ... -f` it once;
  afterwards ArgoCD manages itself through `k8s/platform/argocd.yaml`, which uses the same file).
- `k8s/bootstrap/projects.yaml`: two AppProjects: `<project>` for the apps (no cluster-scoped
  resources but Namespace) and `<project>-platform` for the platform and the root (an explicit list
  of the cluster-scoped kinds the platform charts create).
- `k8s/bootstrap/root.yaml`: ONE root Application with three directory sources from the lab's git
  repository: `k8s/bootstrap` (projects.yaml only), `k8s/platform` and `k8s/apps` (recursive). One
  root, not one per directory, so that sync waves order everything across both trees (namespaces,
  CRD charts, their custom resources, the rest of the platform, app secrets, apps).
- `k8s/platform/<release>.yaml`, `k8s/apps/<namespace>/<app>.yaml`: multi-source Applications:
  the pinned chart, plus the lab's git repository as `ref: values` for `$values/<values_path>/...`.

Facts: platform-facts §4 (CRD fields, multi-source, AppProject, app-of-apps), §5 (chart versions).
"""

from __future__ import annotations

from collections.abc import Iterable

from homelab.lab.certificates import cert_manager_on
from homelab.lab.vault_access import external_secrets_on
from homelab.render.base import RenderedFile
from homelab.render.kubernetes.cert_manager import ingress_annotations, ingress_tls_entry
from homelab.render.kubernetes.common import (
    IN_CLUSTER,
    MANAGED_BY,
    WAVE,
    WAVES,
    app_values_file,
    has_cluster_content,
    platform_values_file,
    quantity,
    sorted_apps,
    yaml_file,
)
from homelab.render.kubernetes.external_secrets import app_secret_keys, app_secret_name
from homelab.render.kubernetes.namespaces import namespaces
from homelab.render.kubernetes.pieces import ingress_class
from homelab.render.kubernetes.platform import SERVER_SIDE_APPLY, platform_releases
from homelab.render.serializers import LiteralStr

API_VERSION = "argoproj.io/v1alpha1"
FINALIZER = "resources-finalizer.argocd.argoproj.io"
ROOT_NAME = "root"
BOOTSTRAP_DIR = "k8s/bootstrap"
ARGOCD_VALUES = f"{BOOTSTRAP_DIR}/argocd-values.yaml"
PROJECTS_FILE = "projects.yaml"

# ArgoCD >= 1.8 no longer assesses the health of Application resources, so an app-of-apps would not
# wait for a child in an earlier sync wave. This health check (from the ArgoCD 1.7 -> 1.8 upgrade
# notes) restores it.
APPLICATION_HEALTH_LUA = """\
hs = {}
hs.status = "Progressing"
hs.message = ""
if obj.status ~= nil then
  if obj.status.health ~= nil then
    hs.status = obj.status.health.status
    if obj.status.health.message ~= nil then
      hs.message = obj.status.health.message
    end
  end
end
return hs
"""

# Cluster-scoped kinds the platform charts create (CRDs, RBAC, webhooks, CSI driver + StorageClasses,
# IngressClass, ...) and the root's own Namespaces. Anything else cluster-scoped is refused.
PLATFORM_CLUSTER_RESOURCES = [
    ("", "Namespace"),
    ("admissionregistration.k8s.io", "MutatingWebhookConfiguration"),
    ("admissionregistration.k8s.io", "ValidatingWebhookConfiguration"),
    ("apiextensions.k8s.io", "CustomResourceDefinition"),
    ("gateway.networking.k8s.io", "GatewayClass"),  # Traefik's chart when its Gateway API provider is on
    ("networking.k8s.io", "IngressClass"),
    ("node.k8s.io", "RuntimeClass"),  # nvidia, for the GPU workloads (kubernetes/gpu.py)
    ("rbac.authorization.k8s.io", "ClusterRole"),
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"),
    ("scheduling.k8s.io", "PriorityClass"),
    ("snapshot.storage.k8s.io", "VolumeSnapshotClass"),
    ("storage.k8s.io", "CSIDriver"),
    ("storage.k8s.io", "StorageClass"),
]


def chart_repo_url(chart) -> str:
    """ArgoCD names a Helm OCI repository without the `oci://` scheme (the repo is registered with enableOCI)."""
    return chart.repo.removeprefix("oci://")


def platform_project(cd) -> str:
    return f"{cd.project}-platform"


def _labels(lab, layer: str) -> dict:
    return {**MANAGED_BY, "homelab/lab": lab.name, "homelab/layer": layer}


def sync_policy(cd, extra_options: list[str] | None = None, *, create_namespace: bool | None = None) -> dict:
    policy: dict = {}
    if cd.automated:
        policy["automated"] = {"prune": cd.prune, "selfHeal": cd.self_heal}
    options = []
    if cd.create_namespace if create_namespace is None else create_namespace:
        options.append("CreateNamespace=true")
    options += extra_options or []
    if options:
        policy["syncOptions"] = options
    # Transient failures (a CRD not served yet, a webhook starting) resolve on retry.
    policy["retry"] = {"limit": 5, "backoff": {"duration": "10s", "factor": 2, "maxDuration": "3m"}}
    return policy


def helm_application(lab, *, name: str, namespace: str, chart, release: str, values_file: str, project: str,
                     wave: int, layer: str, annotations: dict, info: list[dict],
                     sync_options: list[str] | None = None) -> dict:
    """A multi-source Application: source 1 the pinned chart, source 2 the lab's repo as `ref: values`."""
    cd = lab.gitops.argocd
    chart_source: dict = {"repoURL": chart_repo_url(chart), "chart": chart.name}
    if chart.version:
        chart_source["targetRevision"] = chart.version  # for a Helm repository: the chart version
    chart_source["helm"] = {"releaseName": release, "valueFiles": [f"$values/{values_file}"]}
    values_source = {"repoURL": cd.repo_url, "targetRevision": cd.revision, "ref": "values"}
    ann = {WAVE: str(wave), **annotations}
    spec: dict = {
        "project": project,
        "sources": [chart_source, values_source],
        "destination": {"server": IN_CLUSTER, "namespace": namespace},
        "syncPolicy": sync_policy(cd, sync_options),
    }
    if info:
        spec["info"] = info
    return {
        "apiVersion": API_VERSION,
        "kind": "Application",
        "metadata": {
            "name": name,
            "namespace": cd.namespace,
            "labels": _labels(lab, layer),
            "annotations": dict(sorted(ann.items())),
            "finalizers": [FINALIZER],
        },
        "spec": spec,
    }


def app_application(lab, app) -> dict:
    annotations: dict = {}
    info: list[dict] = []
    if app.description:
        annotations["homelab/description"] = app.description
        info.append({"name": "Description", "value": app.description})
    info.append({"name": "Chart", "value": f"{app.chart.name} {app.chart.version or '(unpinned)'}"})
    if app.image:
        info.append({"name": "Image", "value": f"{app.image.repository}:{app.image.tag}"})
    if app.ingress:
        url = f"https://{app.ingress}"
        annotations["homelab/url"] = url
        annotations["link.argocd.argoproj.io/external-link"] = url  # shown as a link in the ArgoCD UI
        info.append({"name": "URL", "value": url})
    if app.storage:
        storage = ", ".join(
            f"{v.name} {quantity(v.size)} at {v.mount} ({v.class_ or 'default class'}, {v.access_mode})"
            for v in app.storage)
        annotations["homelab/storage"] = storage
        info.append({"name": "Storage", "value": storage})
    if app.gpu:
        annotations["homelab/gpu"] = str(app.gpu)
        info.append({"name": "GPU", "value": f"{app.gpu} x nvidia.com/gpu"})
    keys = app_secret_keys(app)
    if keys:
        secrets = ", ".join(f"{k.env} <- vault {k.path}#{k.field}" for k in keys)
        annotations["homelab/secrets"] = secrets
        info.append({"name": "Secrets", "value": secrets})
        if not external_secrets_on(lab):
            needed = (f"Secret {app.namespace}/{app_secret_name(app)} with keys "
                      + ", ".join(k.key for k in keys) + " (external-secrets is off)")
            annotations["homelab/requires"] = needed
            info.append({"name": "Requires", "value": needed})
    return helm_application(
        lab, name=app.name, namespace=app.namespace, chart=app.chart, release=app.name,
        values_file=app_values_file(lab, app), project=lab.gitops.argocd.project, wave=WAVES["apps"],
        layer="apps", annotations=annotations, info=info,
    )


def platform_applications(lab) -> list[tuple[str, dict]]:
    cd = lab.gitops.argocd
    out = []
    for rel in platform_releases(lab):
        annotations = {"homelab/description": rel.description}
        info = [{"name": "Description", "value": rel.description},
                {"name": "Chart", "value": f"{rel.chart.name} {rel.chart.version or '(unpinned)'}"}]
        if rel.requires:
            annotations["homelab/requires"] = "; ".join(rel.requires)
            info.append({"name": "Requires", "value": "; ".join(rel.requires)})
        app = helm_application(
            lab, name=rel.name, namespace=rel.namespace, chart=rel.chart, release=rel.name,
            values_file=platform_values_file(lab, rel.name), project=platform_project(cd), wave=rel.wave,
            layer="platform", annotations=annotations, info=info, sync_options=rel.sync_options,
        )
        out.append((f"k8s/platform/{rel.name}.yaml", app))
    # ArgoCD manages its own installation from the same values the bootstrap `helm install` used.
    desc = "Argo CD itself (self-managed; bootstrap with helm install argocd using the same values)"
    # argo-cd 10.1.1 templates/crds: applicationsets.argoproj.io (~340 KB) needs server-side apply.
    app = helm_application(
        lab, name="argocd", namespace=cd.namespace, chart=cd.chart, release="argocd", values_file=ARGOCD_VALUES,
        project=platform_project(cd), wave=WAVES["operators"], layer="platform", sync_options=SERVER_SIDE_APPLY,
        annotations={"homelab/description": desc},
        info=[{"name": "Description", "value": desc},
              {"name": "Chart", "value": f"{cd.chart.name} {cd.chart.version or '(unpinned)'}"}],
    )
    out.append(("k8s/platform/argocd.yaml", app))
    return sorted(out, key=lambda pair: pair[0])


def argocd_values(lab) -> dict:
    host = f"argocd.{lab.network.domain}"
    values: dict = {
        "global": {"domain": host},
        "configs": {
            "cm": {
                "application.resourceTrackingMethod": "annotation",
                "resource.customizations.health.argoproj.io_Application": LiteralStr(APPLICATION_HEALTH_LUA),
            },
            # TLS is terminated by Traefik in front of argocd-server.
            "params": {"server.insecure": True},
        },
    }
    if ingress_class(lab):
        # argo-cd 10.1.1 server.ingress.extraTls: a tls entry without a secretName (Traefik's default
        # certificate); server.ingress.tls would name a Secret argocd-server-tls nobody creates.
        # With cert-manager the Secret comes from ingress-shim (render/kubernetes/cert_manager.py).
        ingress = {"enabled": True, "ingressClassName": ingress_class(lab), "extraTls": [ingress_tls_entry(lab, host)]}
        if ingress_annotations(lab, host):
            ingress["annotations"] = ingress_annotations(lab, host)
        values["server"] = {"ingress": ingress}
    return values


def _destinations(names: Iterable[str]) -> list[dict]:
    return [{"server": IN_CLUSTER, "namespace": ns} for ns in sorted(set(names))]


def _whitelist(pairs) -> list[dict]:
    return [{"group": g, "kind": k} for g, k in sorted(set(pairs))]


def projects(lab) -> list[dict]:
    cd = lab.gitops.argocd
    apps = sorted_apps(lab)
    app_repos = sorted({cd.repo_url} | {chart_repo_url(a.chart) for a in apps})
    platform_repos = sorted({cd.repo_url, chart_repo_url(cd.chart)}
                            | {chart_repo_url(r.chart) for r in platform_releases(lab)})
    cluster_kinds = list(PLATFORM_CLUSTER_RESOURCES)
    if external_secrets_on(lab):
        cluster_kinds.append(("external-secrets.io", "ClusterSecretStore"))
    if cert_manager_on(lab):
        cluster_kinds.append(("cert-manager.io", "ClusterIssuer"))
    meta = {"namespace": cd.namespace, "labels": _labels(lab, "bootstrap"),
            "annotations": {WAVE: str(WAVES["projects"])},
            "finalizers": [FINALIZER]}  # refuses deletion while Applications still use the project
    apps_project = {
        "apiVersion": API_VERSION,
        "kind": "AppProject",
        "metadata": {"name": cd.project, **meta},
        "spec": {
            "description": f"Applications of the {lab.name} lab",
            "sourceRepos": app_repos,
            "destinations": _destinations(a.namespace for a in apps),
            # CreateNamespace=true needs Namespace here; nothing else cluster-scoped.
            "clusterResourceWhitelist": _whitelist([("", "Namespace")]),
        },
    }
    platform = {
        "apiVersion": API_VERSION,
        "kind": "AppProject",
        "metadata": {"name": platform_project(cd), **meta},
        "spec": {
            "description": f"Platform components and the root app-of-apps of the {lab.name} lab",
            "sourceRepos": platform_repos,
            # The root also writes app namespaces (Namespaces, ExternalSecrets) and Applications in argocd;
            # some charts put objects outside their own namespace (Release.other_namespaces).
            "destinations": _destinations([*namespaces(lab),
                                           *(ns for r in platform_releases(lab) for ns in r.other_namespaces)]),
            "clusterResourceWhitelist": _whitelist(cluster_kinds),
        },
    }
    return [apps_project, platform]


def root_application(lab) -> dict:
    cd = lab.gitops.argocd

    def source(path: str, directory: dict) -> dict:
        return {"repoURL": cd.repo_url, "targetRevision": cd.revision, "path": path, "directory": directory}

    return {
        "apiVersion": API_VERSION,
        "kind": "Application",
        "metadata": {
            "name": ROOT_NAME,
            "namespace": cd.namespace,
            "labels": _labels(lab, "bootstrap"),
            "annotations": {"homelab/description": "App of apps: projects, platform and apps of the lab"},
            # No resources finalizer on purpose: deleting the root must not cascade to the whole cluster.
        },
        "spec": {
            "project": platform_project(cd),
            "sources": [
                source(BOOTSTRAP_DIR, {"include": PROJECTS_FILE}),
                source("k8s/platform", {"recurse": True}),
                source("k8s/apps", {"recurse": True}),
            ],
            "destination": {"server": IN_CLUSTER, "namespace": cd.namespace},
            "syncPolicy": sync_policy(cd, create_namespace=False),
        },
    }


def render(doc) -> Iterable[RenderedFile]:
    lab = doc.lab
    if lab.gitops is None or not has_cluster_content(lab):
        return []
    cd = lab.gitops.argocd
    files = [
        yaml_file(ARGOCD_VALUES, [argocd_values(lab)],
              f"Values for the argo-cd chart {cd.chart.version} ({cd.chart.repo}). First install:\n"
              f"  helm repo add argo {cd.chart.repo}\n"
              f"  helm install argocd argo/argo-cd --version {cd.chart.version} -n {cd.namespace} "
              f"--create-namespace -f {ARGOCD_VALUES}\n"
              f"  kubectl apply -f {BOOTSTRAP_DIR}/{PROJECTS_FILE} -f {BOOTSTRAP_DIR}/root.yaml\n"
              "Register the git repository's credentials with ArgoCD out of band (argocd repo add)."),
        yaml_file(f"{BOOTSTRAP_DIR}/{PROJECTS_FILE}", projects(lab), "ArgoCD AppProjects (also synced by the root)."),
        yaml_file(f"{BOOTSTRAP_DIR}/root.yaml", [root_application(lab)],
              "The root app-of-apps: k8s/platform and k8s/apps (recursive) in one sync, ordered by sync waves."),
    ]
    for path, app in platform_applications(lab):
        files.append(yaml_file(path, [app], app["metadata"]["annotations"]["homelab/description"]))
    for app in sorted_apps(lab):
        files.append(yaml_file(f"k8s/apps/{app.namespace}/{app.name}.yaml", [app_application(lab, app)],
                           f"{app.name}: {app.chart.name} {app.chart.version} in namespace {app.namespace}."))
    return files
