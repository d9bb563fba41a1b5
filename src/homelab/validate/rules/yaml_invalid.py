"""Every YAML file of k8s/ parses."""

from homelab.validate.base import Finding, rule


@rule("yaml-invalid", "error", "a YAML file of the repository does not parse")
def check(ctx):
    ctx.tree.k8s_docs  # noqa: B018 - parse them all
    for err in ctx.tree.errors:
        yield Finding(err.file, err.line, f"not valid YAML: {err.message}", "fix the syntax (ArgoCD cannot read it)")
