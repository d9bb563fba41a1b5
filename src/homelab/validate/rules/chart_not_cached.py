"""Every chart an Application names is in the chart cache (`homelab charts pull`), so it can be templated."""

from homelab.validate.base import rule
from homelab.validate.rules._common import app_finding


@rule("chart-not-cached", "error", "a chart an Application names is not in the chart cache: nothing of it is checked")
def check(ctx):
    for app in ctx.platform.apps:
        for run in app.charts:
            if run.unavailable:
                yield app_finding(ctx, app, run.line, f"{app.name}: {run.unavailable}; its objects are not checked",
                                  "run `homelab charts pull` (or pass --charts DIR with the packaged charts)")
