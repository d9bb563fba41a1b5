"""Secrets for Terraform: handed over as `TF_VAR_<name>` environment variables only, plan files kept private.

Proxmox credentials and the Vault password of the `terraform` user are read through `ctx.read_secret`
(Vault, never a file) and handed to Terraform ONLY as `TF_VAR_<name>` environment variables, and only
for variables the environment's `*.tf` files declare (`secret_variables`, `declared_variables`); they
are added to `ctx.redactor` before anything runs, so no output we show or keep can contain them. The
process runner refuses an argv holding a known secret.

Where Terraform itself keeps them (measured with Terraform 1.11):
- a `sensitive = true` variable IS stored inside the plan file (zip member `tfplan`) and `terraform
  show -json <planfile>` prints it under `variables`; so the plan file lives in a private temporary
  directory outside the repository (0700/0600, `private_dir`) and is deleted right after apply, and we
  never keep the `variables` part of the JSON (see show.py);
- a variable used in a resource argument lands in `terraform.tfstate` in clear text (why the
  rendered `.gitignore` excludes `*.tfstate*`);
- a variable declared `ephemeral = true` (Terraform >= 1.10; fine for provider blocks such as the
  vault provider's `auth_login_userpass.password`) is in neither the plan file nor the state, and
  must be supplied again at apply, which the engine does.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from pathlib import Path

from homelab.engines.base import EngineContext
from homelab.errors import EngineError
from homelab.lab.vault_access import PASSWORD_FIELD, automation_path

# The generated password of the `terraform` Vault userpass account (the user the rendered vault provider
# logs in as, render/terraform.py VAULT_USER): where the Vault engine keeps every user's password.
TERRAFORM_VAULT_PASSWORD = (automation_path("terraform"), PASSWORD_FIELD)

_VARIABLE_RE = re.compile(r'^\s*variable\s+"([A-Za-z_][A-Za-z0-9_-]*)"', re.MULTILINE)


def secret_variables(lab) -> dict[str, tuple[str, str]]:
    """Terraform variable name -> (KV path, field) of the secret it receives via TF_VAR_<name>."""
    creds = lab.proxmox.credentials
    return {
        "proxmox_api_token_id": (creds.token_id.path, creds.token_id.field),
        "proxmox_api_token_secret": (creds.token_secret.path, creds.token_secret.field),
        "vault_password": TERRAFORM_VAULT_PASSWORD,
    }


def declared_variables(env_dir: Path) -> set[str]:
    names: set[str] = set()
    for tf in sorted(env_dir.glob("*.tf")):
        names.update(_VARIABLE_RE.findall(tf.read_text(encoding="utf-8", errors="replace")))
    return names


def secret_env(ctx: EngineContext, env_dir: Path, env: str) -> dict[str, str]:
    """TF_VAR_<name> for every declared secret variable of `tf/<env>`, read from Vault (never from files)."""
    wanted = secret_variables(ctx.doc.lab)
    overlay: dict[str, str] = {}
    for var in sorted(declared_variables(env_dir) & set(wanted)):
        path, fld = wanted[var]
        if ctx.read_secret is None:
            raise EngineError(
                f"tf/{env} needs the secret {path}#{fld} (variable {var}) but Vault is not available",
                hint="configure vault.address (or use the embedded Vault) and run the vault layer first")
        secret = ctx.read_secret(path, fld)
        ctx.redactor.add(secret)
        overlay[f"TF_VAR_{var}"] = secret.reveal()
    if "TF_VAR_vault_password" in overlay:
        # the rendered vault provider has no `address`: it reads VAULT_ADDR, the Vault homelab resolved
        from homelab.engines.vault.target import target_for

        overlay["VAULT_ADDR"] = target_for(ctx).address
    return overlay


class private_dir:
    """A 0700 temporary directory outside the repository for plan files; removed on exit."""

    def __enter__(self) -> Path:
        self.path = Path(tempfile.mkdtemp(prefix="homelab-tfplan-"))
        return self.path

    def __exit__(self, *exc) -> None:
        shutil.rmtree(self.path, ignore_errors=True)
