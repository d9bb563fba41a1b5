"""No rendered value is silently ignored by its chart: a values key whose removal (and change) leaves the
templated output identical, and that differs from the chart's default, does nothing (charts/effect.py)."""

from homelab.charts.effect import ignored_values
from homelab.charts.helm import ChartError
from homelab.validate.base import Finding, rule


def _where(ctx, app, run, path: tuple) -> tuple[str, int]:
    for name, data in reversed(run.layers):
        node = data
        for k in path:
            node = node.get(k) if isinstance(node, dict) else None
            if node is None:
                break
        else:
            if name.startswith("$"):
                rel = name.partition("/")[2]
                docs = ctx.tree.docs(rel)
                return rel, docs[0].line_of(path) if docs else 1
            break
    return app.doc.file, run.line


@rule("values-ignored", "warning", "a Helm value changes nothing: the chart does not read that key")
def check(ctx):
    for app in ctx.platform.apps:
        for run in app.charts:
            if not run.chart_path or run.error or not run.values:
                continue
            try:
                paths = ignored_values(run.chart_path, run.digest, run.values, release=run.source.release,
                                       namespace=run.source.namespace, cache=ctx.template_cache)
            except ChartError:
                continue
            for path in paths:
                file, line = _where(ctx, app, run, path)
                key = ".".join(str(p) for p in path)
                yield Finding(file, line, f"{app.name}: {run.source.chart} {run.source.version} ignores `{key}`: "
                              "removing or changing it leaves the templated manifests identical",
                              f"read the chart's values.yaml/templates at {run.source.version} for the key it "
                              "really uses (a misspelt or moved key)", lab=ctx.lab_path_for_app(app))
