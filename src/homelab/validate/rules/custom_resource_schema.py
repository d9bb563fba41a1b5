"""Every custom resource matches the schema of the CRD that defines it — the CRDs the charts themselves
ship (their crds/ and templates) or the repository holds — made strict (kube.strict_openapi)."""

from homelab.charts.template import key_of
from homelab.diagnostics import Severity
from homelab.validate import kube
from homelab.validate.base import rule
from homelab.validate.rules._common import cached_errors, finding


def _validators(platform) -> dict:
    out = {}
    for o in platform.of_kind("CustomResourceDefinition"):
        try:
            out.update(kube.crd_validators(o.obj))
        except Exception:  # noqa: BLE001,S112 - a CRD whose schema is not JSON Schema: its CRs are not checked
            continue
    return out


@rule("custom-resource-schema", "error",
      "a custom resource does not match its CRD's schema, or no CRD in the platform defines its kind")
def check(ctx):
    platform = ctx.platform
    custom = [o for o in platform.objects
              if not (kube.builtin_group(o.group) and (o.group, o.kind) not in platform.crd_scope)]
    if not custom:
        return
    crds = platform.of_kind("CustomResourceDefinition")
    memo: dict = {}

    def errors(o):
        if "v" not in memo:
            memo["v"] = _validators(platform)
        validators = memo["v"]
        v = validators.get((o.api_version, o.kind))
        if v is not None:
            return kube.first_errors(v, o.obj)
        served = sorted(av for av, k in validators if k == o.kind and av.startswith(o.group + "/"))
        if served:
            return [f"!the CRD of {o.kind} serves {', '.join(served)}, not {o.api_version}"]
        if (o.group, o.kind) not in platform.crd_scope and o.group != "argoproj.io":  # ArgoCD brings its own
            return ["?"]
        return []

    tag = "crd-schema/" + key_of(sorted({c.source or c.name for c in crds}))
    for i, errs in sorted(cached_errors(ctx, tag, custom, errors).items()):
        o = custom[i]
        if errs == ["?"]:
            yield finding(ctx, o, f"{o.where}: no CRD in the platform defines {o.kind} ({o.api_version})",
                          "the chart that ships the CRD must be part of the platform (or install the CRD first "
                          "and say so)", severity=Severity.WARNING)
        elif errs[0].startswith("!"):
            yield finding(ctx, o, f"{o.where}: {errs[0][1:]}", "use an apiVersion the CRD serves")
        else:
            yield finding(ctx, o, f"{o.where} does not match its CRD: " + "; ".join(errs),
                          "fix the field: the API server rejects (or silently prunes) it")
