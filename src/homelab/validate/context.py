"""What a validate rule is handed: the repository tree, the lab (when known), the cluster facts and the
platform (every Application with its templated objects), built lazily — a Terraform-only run never
templates a chart."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path

from homelab.diagnostics import Location


@dataclass
class Options:
    charts_dirs: list[Path] = field(default_factory=list)
    cache_dir: Path | None = None  # templating cache; None = in memory only
    deep: bool = False  # also the slow external tools (ansible-lint, ansible-playbook --syntax-check)
    only: set[str] | None = None  # rule ids


class Context:
    def __init__(self, repo: str | Path, doc=None, options: Options | None = None):
        from homelab.charts.cache import ChartCache
        from homelab.charts.template import DiskCache
        from homelab.validate.tree import RepoTree

        self.root = Path(repo)
        self.doc = doc
        self.options = options or Options()
        self.chart_caches = [ChartCache(d) for d in self.options.charts_dirs]
        self.template_cache = DiskCache(self.options.cache_dir)
        self.tree = RepoTree(self.root, self.template_cache)

    @functools.cached_property
    def facts(self):
        from homelab.validate import facts

        return facts.from_lab(self.doc) if self.doc is not None else facts.from_tree(self.tree)

    @functools.cached_property
    def platform(self):
        from homelab.validate.platform import build
        from homelab.validate.templating import template_run

        return build(self.tree, lambda app, run: template_run(self, app, run))

    # ------------------------------------------------------------------ pointing back at the lab
    def lab_path_for_app(self, app) -> tuple | None:
        """The lab entry an Application was rendered from (an app, a platform component, ArgoCD)."""
        if self.doc is None or app is None:
            return None
        lab = self.doc.lab
        for i, a in enumerate(lab.apps):
            if a.name == app.name:
                return ("apps", i)
        charts = {run.source.chart for run in app.charts}
        for key, comp in lab.platform.components().items():
            if comp.enabled and comp.chart.name in charts:
                return ("platform", key)
        if lab.gitops and lab.gitops.argocd.chart.name in charts:
            return ("gitops", "argocd", "chart")
        return None

    def locate_lab(self, path: tuple | None) -> Location | None:
        if self.doc is None or path is None:
            return None
        return self.doc.locate(path)
