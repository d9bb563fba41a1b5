from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import AfterValidator, Field

from homelab.lab.types import Model

_GIT_URL = re.compile(r"^((https?|ssh|git|file)://\S+|[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:\S+)$")


def _git_url(value: Any) -> str:
    if not isinstance(value, str) or not _GIT_URL.match(value):
        raise ValueError(f"{value!r} is not a Git URL: use https://host/owner/repo.git or git@host:owner/repo.git")
    return value


def _repo_dir(value: Any) -> str:
    parts = value.strip("/").split("/") if isinstance(value, str) else []
    if (not isinstance(value, str) or value.startswith("/") or not value.strip("/")
            or any(p in ("", ".", "..") or not re.fullmatch(r"[A-Za-z0-9._-]+", p) for p in parts)):
        raise ValueError(f"{value!r} is not a directory inside the repository: use a relative path such as "
                         "k8s/values (no leading '/', no '..')")
    return value.strip("/")


def _git_revision(value: Any) -> str:
    if not isinstance(value, str) or not re.fullmatch(r"[^\s~^:?*\[\\]+", value):
        raise ValueError(f"{value!r} is not a Git branch, tag or commit (no spaces or ~^:?*[\\)")
    return value


GitUrl = Annotated[str, AfterValidator(_git_url)]
GitRevision = Annotated[str, AfterValidator(_git_revision)]
RepoDir = Annotated[str, AfterValidator(_repo_dir)]


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
    repo_url: GitUrl = Field(description="Git URL of the rendered repository (the values source).")
    revision: GitRevision = Field(default="main")
    values_path: RepoDir = Field(default="k8s/values", description="Directory of values files in that repository.")
    project: str = Field(default="homelab", pattern=r"^[a-z0-9-]+$")
    automated: bool = True
    prune: bool = True
    self_heal: bool = True
    create_namespace: bool = True
    kubeconfig: str | None = Field(default=None, description="Kubeconfig for apply/plan. Unset = not configured.")
    context: str | None = None


class Gitops(Model):
    argocd: ArgoCd
