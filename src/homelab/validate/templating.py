"""How validate templates an Application's chart source: find the chart in the cache(s), template it with
its values (charts/template.py, cached by digest + values hash)."""

from __future__ import annotations

from homelab.charts.cache import CacheError
from homelab.charts.template import template


def template_run(ctx, app, run) -> None:
    cs = run.source
    found = None
    try:
        for cache in ctx.chart_caches:
            found = cache.find(cs.repo, cs.chart, cs.version)
            if found:
                break
    except CacheError as exc:
        run.unavailable = exc.message
        return
    if found is None:
        where = ", ".join(str(c.dir) for c in ctx.chart_caches) or "no chart cache"
        run.unavailable = f"{cs.chart}-{cs.version}.tgz is not in the chart cache ({where})"
        return
    run.chart_path, run.digest = str(found.path), found.digest
    run.templated = template(found.path, found.digest, run.values, release=cs.release, namespace=cs.namespace,
                             include_crds=not cs.skip_crds, cache=ctx.template_cache)
    run.error = run.templated.error
