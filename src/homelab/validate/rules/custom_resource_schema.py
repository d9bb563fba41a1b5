"""Every custom resource matches the schema of the CRD that defines it — the CRDs the charts themselves
ship (their crds/ and templates) or the repository holds — made strict (kube.strict_openapi)."""

from homelab.validate import kube
from homelab.validate.base import rule
from homelab.validate.rules._common import finding


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
    validators = None
    for o in platform.objects:
        if kube.builtin_group(o.group) and (o.group, o.kind) not in platform.crd_scope:
            continue
        if validators is None:
            validators = _validators(platform)
        v = validators.get((o.api_version, o.kind))
        if v is None:
            served = sorted(av for av, k in validators if k == o.kind and av.startswith(o.group + "/"))
            if served:
                yield finding(ctx, o, f"{o.where}: the CRD of {o.kind} serves {', '.join(served)}, not "
                              f"{o.api_version}", f"use apiVersion {served[-1]}")
            elif (o.group, o.kind) not in platform.crd_scope:
                yield finding(ctx, o, f"{o.where}: no CRD in the platform defines {o.kind} ({o.api_version})",
                              "the chart that ships the CRD must be part of the platform (or install the CRD "
                              "first and say so)", severity=kube_warning())
            continue
        errors = kube.first_errors(v, o.obj)
        if errors:
            yield finding(ctx, o, f"{o.where} does not match its CRD: " + "; ".join(errors),
                          "fix the field: the API server rejects (or silently prunes) it")


def kube_warning():
    from homelab.diagnostics import Severity

    return Severity.WARNING
