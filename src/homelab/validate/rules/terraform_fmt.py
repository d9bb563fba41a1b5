"""Every Terraform file is canonical (`terraform fmt -check`): the terraform binary on PATH decides."""

import hashlib
import os
import shutil
import subprocess

from homelab.charts.template import key_of
from homelab.diagnostics import Severity
from homelab.validate.base import Finding, rule


@rule("terraform-fmt", "warning", "a Terraform file is not formatted as `terraform fmt` writes it", area="terraform")
def check(ctx):
    if not ctx.tree.files("tf", (".tf",)):
        return
    tf = shutil.which("terraform")
    if tf is None:
        yield Finding("tf", 0, "terraform is not on PATH: `terraform fmt -check` was not run",
                      "install Terraform to have the formatting checked", severity=Severity.INFO)
        return
    files = ctx.tree.files("tf", (".tf",))
    key = key_of("fmt", tf, [(p, hashlib.sha256((ctx.tree.text(p) or "").encode()).hexdigest()) for p in files])
    hit = ctx.template_cache.get(key)  # the same files were checked before: the same answer
    if hit is None:
        env = {**os.environ, "CHECKPOINT_DISABLE": "1", "TF_CLI_CONFIG_FILE": os.devnull}
        proc = subprocess.run([tf, "fmt", "-check", "-recursive", "-list=true", "tf"], cwd=ctx.root,
                              capture_output=True, text=True, env=env, timeout=120)
        if proc.returncode not in (0, 3):
            yield Finding("tf", 0, f"terraform fmt failed: {(proc.stderr or proc.stdout).strip()[:300]}")
            return
        hit = {"listed": sorted(set(proc.stdout.split()))}
        ctx.template_cache.put(key, hit)
    for line in hit["listed"]:
        path = line if line.startswith("tf/") else f"tf/{line}"
        yield Finding(path, 1, "not formatted as `terraform fmt` writes it", "run `terraform fmt -recursive tf`")
