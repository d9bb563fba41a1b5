"""Every built-in object is valid for the lab's Kubernetes version: the strict schemas (unknown fields are
errors) of the kubernetes-validate bundle for the newest bundled version not newer than the K3s version."""

from homelab.validate import kube
from homelab.validate.base import rule
from homelab.validate.rules._common import cached_errors, finding


@rule("k8s-schema", "error", "an object does not match the strict Kubernetes schema of the lab's version")
def check(ctx):
    directory = kube.schema_dir(ctx.facts.k8s_version)
    if directory is None:
        return
    version = directory.name.split("-")[0]
    builtin = [o for o in ctx.platform.objects
               if (o.group, o.kind) not in ctx.platform.crd_scope and kube.builtin_group(o.group)]

    def errors(o):
        validator = kube.builtin_validator(directory, o.api_version, o.kind)
        if validator is None:
            return [f"Kubernetes {version} does not serve {o.kind} in {o.api_version}"]
        return kube.first_errors(validator, o.obj)

    for i, errs in sorted(cached_errors(ctx, f"k8s-schema/{directory.name}", builtin, errors).items()):
        o = builtin[i]
        yield finding(ctx, o, f"{o.where} is invalid for Kubernetes {version}: " + "; ".join(errs),
                      "fix the field (the API server rejects the object)")
