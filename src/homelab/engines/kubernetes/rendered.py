"""Which rendered manifests belong to which of the planner's addresses (see plan/address.py).

- `argocd_bootstrap.<namespace>` — every manifest under `k8s/bootstrap/` of the rendered repository.
  ArgoCD itself: homelab cannot run Helm here, so the ArgoCD install is a PRE-RENDERED manifest the user
  puts beside the bootstrap files (documented in the rendered README):

      helm template argocd argo-cd --repo https://argoproj.github.io/argo-helm --version <chart version> \\
          --namespace argocd --include-crds -f k8s/bootstrap/<argocd values file> \\
          > k8s/bootstrap/argocd-install.yaml

  It is applied with the rest (its CRDs and namespace first). Without it, and without ArgoCD already on the
  cluster, the apply stops with that instruction (`argocd_missing`) instead of waiting for CRDs that will
  never come. YAML documents that are not Kubernetes objects (Helm values files) are skipped.
- `argocd_app.<ns>/<name>` — `k8s/apps/<ns>/<name>.yaml`; `argocd_app.platform/<name>` —
  `k8s/platform/<name>.yaml` (or the directory `k8s/platform/<name>/`, or else the Applications of
  `k8s/platform/<name>-*.yaml`: one component rendered as several Applications, e.g. democratic-csi's
  iscsi and nfs drivers). A delete removes the objects of that file (or, when it is gone, the Application
  `<name>` in ArgoCD's namespace); a create/update of an address with no rendered file is an error
  ("run homelab render"), never a bare Application.
"""

from __future__ import annotations

from pathlib import Path

from homelab.engines.kubernetes.argocd_status import ARGOCD_API_VERSION
from homelab.engines.kubernetes.manifests import load_manifests
from homelab.errors import EngineError

BOOTSTRAP_DIR = "k8s/bootstrap"
ARGOCD_INSTALL_FILE = "argocd-install.yaml"
HELM_HINT = ("homelab cannot run Helm: render the ArgoCD install manifest once with\n"
             "  helm template argocd {chart} --repo {repo} --version {version} --namespace {ns} --include-crds "
             "-f <k8s/bootstrap values file> > k8s/bootstrap/" + ARGOCD_INSTALL_FILE + "\n"
             "and run the apply again (or install ArgoCD on the cluster yourself)")


def bootstrap_objects(workdir: Path) -> list[dict]:
    bootstrap = Path(workdir) / BOOTSTRAP_DIR
    return load_manifests([bootstrap] if bootstrap.exists() else [])


def argocd_missing(obj: dict, argo) -> EngineError:
    """An ArgoCD kind is not served and nothing being applied defines it: say how to render the install."""
    chart = argo.chart
    return EngineError(
        f"ArgoCD is not installed on the cluster ({obj['kind']} {obj['apiVersion']} is not served) "
        f"and {BOOTSTRAP_DIR} has no {ARGOCD_INSTALL_FILE}",
        hint=HELM_HINT.format(chart=chart.name, repo=chart.repo, version=chart.version or "<version>",
                              ns=argo.namespace))


def _app_files(workdir: Path, name: str) -> tuple[list[Path], bool]:
    """(files, applications only) of an argocd_app address; ([], False) when nothing is rendered."""
    ns, _, app = name.partition("/")
    base = Path(workdir) / "k8s"
    candidates = ([base / "platform" / f"{app}.yaml", base / "platform" / app] if ns == "platform" else
                  [base / "apps" / ns / f"{app}.yaml", base / "apps" / ns / app])
    for c in candidates:
        if c.exists():
            return [c], False
    if ns == "platform" and (base / "platform").is_dir():
        return sorted((base / "platform").glob(f"{app}-*.yaml")), True
    return [], False


def is_rendered(workdir: Path, name: str) -> bool:
    files, only_apps = _app_files(workdir, name)
    return bool(files) and (not only_apps or any(o["kind"] == "Application" for o in load_manifests(files)))


def app_objects(workdir: Path, name: str, argo_ns: str) -> list[dict]:
    """The objects of `argocd_app.<name>`; not rendered (e.g. removed from the lab): the Application by its
    name in ArgoCD's namespace, so that a delete still finds it."""
    app = name.partition("/")[2]
    files, only_apps = _app_files(workdir, name)
    if files:
        objects = load_manifests(files)
        if only_apps:
            objects = [o for o in objects if o["kind"] == "Application"]
        if objects:
            return objects
    return [{"apiVersion": ARGOCD_API_VERSION, "kind": "Application", "metadata": {"name": app, "namespace": argo_ns}}]
