"""Which rendered manifests belong to which of the planner's addresses (see plan/address.py).

- `argocd_bootstrap.<namespace>` — every manifest under `k8s/bootstrap/` of the rendered repository, and
  ArgoCD itself: the argo-cd chart rendered with the Helm engine as a library from the chart cache and the
  bootstrap values (`argocd_install.py`), unless the user put a pre-rendered `k8s/bootstrap/argocd-install.yaml`
  there (which then wins). It is applied with the rest (its CRDs and namespace first). When ArgoCD's kinds
  are still not served and nothing being applied defines them, the apply stops with an instruction
  (`argocd_missing`) instead of waiting for CRDs that will never come. YAML documents that are not
  Kubernetes objects (Helm values files) are skipped.
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
HELM_HINT = ("the {chart} chart {version} ({repo}) renders ArgoCD's CRDs into namespace {ns}: run `homelab charts "
             "pull` so homelab can render it, or put a rendered install manifest at k8s/bootstrap/"
             + ARGOCD_INSTALL_FILE + " (or install ArgoCD on the cluster yourself)")


def bootstrap_objects(workdir: Path, argo=None, state_dir: Path | None = None) -> list[dict]:
    """The bootstrap manifests; with `argo` (gitops.argocd) and no hand-made install manifest, the ArgoCD
    install rendered from the chart first."""
    bootstrap = Path(workdir) / BOOTSTRAP_DIR
    objects = load_manifests([bootstrap] if bootstrap.exists() else [])
    if argo is not None and state_dir is not None and not (bootstrap / ARGOCD_INSTALL_FILE).exists():
        from homelab.engines.kubernetes.argocd_install import install_objects

        objects = install_objects(Path(workdir), argo, Path(state_dir)) + objects
    return objects


def argocd_missing(obj: dict, argo) -> EngineError:
    """An ArgoCD kind is not served and nothing being applied defines it: say how to render the install."""
    chart = argo.chart
    return EngineError(
        f"ArgoCD is not installed on the cluster ({obj['kind']} {obj['apiVersion']} is not served) "
        f"and nothing being applied installs it",
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
