"""The ArgoCD install itself, as `helm install argocd` would create it — rendered with the Helm engine as a
library (homelab.charts, no helm binary) and server-side applied with the rest of `k8s/bootstrap`.

The chart is `gitops.argocd.chart` from the chart cache (`<state dir>/charts`, `homelab charts pull`), its
values `k8s/bootstrap/argocd-values.yaml`, release `argocd` in `gitops.argocd.namespace` — the same release
the self-managing `argocd` Application (render/argocd.py, releaseName argocd) takes over afterwards, so
ArgoCD adopts what the bootstrap created instead of creating a second copy. CRDs (argo-cd 10.1.1 ships them
as templates, `crds.install: true`) are included; the namespace is created first (`--create-namespace`).
A hand-made `k8s/bootstrap/argocd-install.yaml` still wins (air-gapped or customised installs).
"""

from __future__ import annotations

from pathlib import Path

from homelab.errors import EngineError

RELEASE = "argocd"  # render/argocd.py renders the self-managed Application with releaseName argocd
VALUES = "k8s/bootstrap/argocd-values.yaml"  # render/argocd.py ARGOCD_VALUES


def _values(workdir: Path) -> dict:
    import yaml

    path = Path(workdir) / VALUES
    if not path.is_file():
        return {}
    try:
        docs = [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d is not None]
    except yaml.YAMLError as exc:
        raise EngineError(f"{VALUES} is not valid YAML: {exc}") from None
    if docs and not isinstance(docs[0], dict):
        raise EngineError(f"{VALUES} is not a mapping of Helm values")
    return docs[0] if docs else {}


def install_objects(workdir: Path, argo, state_dir: Path) -> list[dict]:
    """Namespace, CRDs and every object of the argo-cd chart templated with the bootstrap values."""
    from homelab.charts.cache import CacheError, ChartCache, default_dir
    from homelab.charts.template import DiskCache, template

    chart = argo.chart
    cache = ChartCache(default_dir(state_dir))
    try:
        found = cache.find(chart.repo, chart.name, chart.version or "")
    except CacheError as exc:
        raise EngineError(exc.message, exc.hint) from None
    if found is None:
        raise EngineError(f"ArgoCD is not installed on the cluster and the {chart.name} chart {chart.version} is not "
                          f"in the chart cache ({cache.dir})",
                          hint="run `homelab charts pull` (it downloads the charts the lab names, verified by "
                               "digest), or put a rendered install manifest at k8s/bootstrap/argocd-install.yaml")
    result = template(found.path, found.digest, _values(workdir), release=RELEASE, namespace=argo.namespace,
                      include_crds=True, cache=DiskCache(Path(state_dir) / "cache"))
    if result.error:
        raise EngineError(f"rendering the ArgoCD install failed: {result.error}",
                          hint=f"check {VALUES} against the {chart.name} {chart.version} chart's values")
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": argo.namespace}}
    return [namespace, *(o for _, o in result.crds), *(o for _, o in result.objects)]
