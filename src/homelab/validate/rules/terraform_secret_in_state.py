"""Secrets stay out of git: not written into .tf files, and the state that holds what providers read
(vault_kv_secret_v2 values, sensitive variables) is never committed (tfsec general-secrets-*;
Terraform docs "Sensitive Data in State")."""

import fnmatch
import re

from homelab.validate.base import Finding, rule
from homelab.validate.terraform import blocks, tf_files

SECRET_ARGS = re.compile(r"(password|passwd|secret|token|private_key|api_key|cipassword)$", re.I)
SECRET_DATA = {"vault_kv_secret_v2", "vault_kv_secret", "vault_generic_secret"}


def _ignored(ctx, name: str) -> bool:
    text = ctx.tree.text(".gitignore") or ""
    pats = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]
    return any(fnmatch.fnmatch(name, p) for p in pats)


def _literal(value) -> bool:
    return isinstance(value, str) and bool(value) and not re.search(r"\b(var|data|local|module|ephemeral)\.", value)


@rule("terraform-secret-in-state", "error",
      "a secret is written into a .tf file, or Terraform state that holds secrets can reach git", area="terraform")
def check(ctx):
    files = tf_files(ctx)
    reads_secrets = None
    for f in files:
        for kind in ("provider", "resource", "data"):
            for labels, body in blocks(f, kind):
                for arg, value in body.items():
                    if SECRET_ARGS.search(str(arg)) and _literal(value):
                        line = f.arg_line(f.block_line(kind, *labels), arg)
                        yield Finding(f.path, line, f"{'.'.join(labels)}: {arg} is a literal value in the file: "
                                      "it lands in git and in the state", "read it from Vault (a data source) or a "
                                      "sensitive variable")
        for labels, _ in blocks(f, "data"):
            if labels[0] in SECRET_DATA and reads_secrets is None:
                reads_secrets = (f, labels)
    for p in ctx.tree.files("", (".tfstate", ".backup")):
        if p.endswith(".tfstate") or p.endswith(".tfstate.backup"):
            yield Finding(p, 1, "a Terraform state file is in the repository: it holds every secret the providers "
                          "read", "delete it from the tree and the history (`homelab secrets purge`) and rotate")
    if reads_secrets and files and not _ignored(ctx, "terraform.tfstate"):
        f, labels = reads_secrets
        yield Finding(f.path, f.block_line("data", *labels), f"data.{'.'.join(labels)} reads secrets from Vault "
                      "into the Terraform state, and .gitignore does not exclude *.tfstate",
                      "add *.tfstate* to .gitignore (homelab render writes it)")
