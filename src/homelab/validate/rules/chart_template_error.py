"""Every chart source templates as ArgoCD would: its values files exist, `helm template` succeeds."""

from homelab.validate.base import rule
from homelab.validate.rules._common import app_finding


@rule("chart-template-error", "error", "a chart source does not template: a values file is missing or helm fails")
def check(ctx):
    for app in ctx.platform.apps:
        for run in app.charts:
            for vf in run.missing:
                yield app_finding(ctx, app, run.line, f"{app.name}: values file {vf} does not exist: ArgoCD "
                                  "refuses to generate the manifests", "render again, or fix the valueFiles path")
            for problem in run.problems:
                yield app_finding(ctx, app, run.line, f"{app.name}: {problem}")
            if run.error:
                yield app_finding(ctx, app, run.line, f"{app.name}: {run.error}",
                                  "ArgoCD shows the same error as ComparisonError: fix the values")
