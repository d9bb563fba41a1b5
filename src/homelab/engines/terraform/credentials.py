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

The root that creates the Vault server (`render.terraform.bootstrap_env`, `tf/vault` in the reference
lab) reads nothing from Vault: its Proxmox provider takes PM_API_TOKEN_ID / PM_API_TOKEN_SECRET from the
environment (telmate/proxmox v3.0.2-rc07 provider.go). The user exports them for the first apply; once
the lab's Vault holds the token, the engine reads it from there when they are not set.

TLS (lab/tls.py): with Proxmox verification on, plan/apply get SSL_CERT_FILE=<repo>/tls/ca.crt (the
provider has no CA argument; Go reads SSL_CERT_FILE); not for init, which talks to the public registry.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path

from homelab.engines.base import EngineContext
from homelab.errors import EngineError, HomelabError
from homelab.lab.tls import CA_FILE, proxmox_verify
from homelab.lab.vault_access import PASSWORD_FIELD, automation_path
from homelab.render.terraform import PM_TOKEN_ENV, bootstrap_env

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
    """The environment overlay of plan/apply in `tf/<env>`: secrets (TF_VAR_<name> read from Vault, or the
    bootstrap root's Proxmox token), VAULT_ADDR, and the CA file the providers verify against."""
    if env == bootstrap_env(ctx.doc.lab, ctx.doc.inventory):
        overlay = _bootstrap_credentials(ctx, env)
    else:
        overlay = _vault_variables(ctx, env_dir, env)
    overlay.update(_tls_env(ctx, env_dir, env, overlay.get("VAULT_ADDR", "")))
    return overlay


def _vault_variables(ctx: EngineContext, env_dir: Path, env: str) -> dict[str, str]:
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


def _bootstrap_credentials(ctx: EngineContext, env: str) -> dict[str, str]:
    """The Proxmox token of the root that creates the Vault server: PM_API_TOKEN_ID / PM_API_TOKEN_SECRET
    from our environment (terraform inherits it), else — once that Vault exists — from Vault."""
    present = {name: os.environ.get(name, "") for name in PM_TOKEN_ENV}
    if all(present.values()):
        for value in present.values():
            ctx.redactor.add(value)
        return {}
    hint = (f"export {PM_TOKEN_ENV[0]} (e.g. terraform@pve!homelab) and read the secret without echo: "
            f"`read -rs {PM_TOKEN_ENV[1]} && export {PM_TOKEN_ENV[1]}`; then run again")
    problem = f"tf/{env} creates the Vault server, so it takes the Proxmox API token from {' and '.join(PM_TOKEN_ENV)}"
    if ctx.read_secret is None:
        raise EngineError(f"{problem}, which are not set", hint=hint)
    creds = ctx.doc.lab.proxmox.credentials
    try:
        values = [ctx.read_secret(ref.path, ref.field) for ref in (creds.token_id, creds.token_secret)]
    except HomelabError as exc:
        raise EngineError(f"{problem}, which are not set, and the lab's Vault could not give it either "
                          f"({exc.message})", hint=hint) from None
    for value in values:
        ctx.redactor.add(value)
    return {name: value.reveal() for name, value in zip(PM_TOKEN_ENV, values, strict=True)}


def _tls_env(ctx: EngineContext, env_dir: Path, env: str, vault_addr: str) -> dict[str, str]:
    overlay: dict[str, str] = {}
    ca = Path(ctx.workdir) / CA_FILE
    if proxmox_verify(ctx.doc.lab):
        if not ca.is_file():
            raise EngineError(f"tf/{env}: the lab verifies the Proxmox API certificate, but {CA_FILE} (the "
                              "internal CA's root) is missing",
                              hint=f"fetch it with `step ca root {CA_FILE}`, or set proxmox.tls_insecure: true")
        overlay["SSL_CERT_FILE"] = str(ca.resolve())  # Go's crypto/x509 reads it (root_unix.go)
    if "vault_ca_cert_file" in declared_variables(env_dir):
        if vault_addr.startswith("http://"):
            # the resolved Vault serves plain http (the embedded server): no CA to load; "" = unset
            # (hashicorp/vault internal/provider/meta.go GetResourceDataStr)
            overlay["TF_VAR_vault_ca_cert_file"] = ""
        elif not ca.is_file():
            raise EngineError(f"tf/{env}: Vault's certificate is verified against {CA_FILE}, which is missing",
                              hint=f"fetch the internal CA's root with `step ca root {CA_FILE}` (before the CA "
                                   "exists, the vault_server role puts Vault's bootstrap certificate there)")
    return overlay


class private_dir:
    """A 0700 temporary directory outside the repository for plan files; removed on exit."""

    def __enter__(self) -> Path:
        self.path = Path(tempfile.mkdtemp(prefix="homelab-tfplan-"))
        return self.path

    def __exit__(self, *exc) -> None:
        shutil.rmtree(self.path, ignore_errors=True)
