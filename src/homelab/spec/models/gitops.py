from __future__ import annotations

from pydantic import Field

from homelab.spec.types import Model


class Chart(Model):
    """A Helm chart pinned to an exact version."""

    repo: str = Field(description="Helm repository URL (https:// or oci://).")
    name: str = Field(min_length=1)
    version: str | None = Field(default=None, description="Exact chart version. Required by rule app-chart-unpinned.")


class ArgoCd(Model):
    """ArgoCD GitOps: where the rendered repository lives and how apps sync."""

    chart: Chart = Field(
        default=Chart(repo="https://argoproj.github.io/argo-helm", name="argo-cd", version="10.1.1")
    )
    namespace: str = "argocd"
    repo_url: str = Field(description="Git URL of the rendered repository (the values source).")
    revision: str = Field(default="main")
    values_path: str = Field(default="k8s/values", description="Directory of values files in that repository.")
    project: str = Field(default="homelab", pattern=r"^[a-z0-9-]+$")
    automated: bool = True
    prune: bool = True
    self_heal: bool = True
    create_namespace: bool = True
    kubeconfig: str | None = Field(default=None, description="Kubeconfig for apply/plan. Unset = not configured.")
    context: str | None = None


class Gitops(Model):
    argocd: ArgoCd
