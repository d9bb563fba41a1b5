"""Providers verify the TLS certificates of the APIs they talk to (tfsec-style: a man in the middle gets
the Proxmox API token or the Vault credentials). Telmate/proxmox `pm_tls_insecure`, hashicorp/vault
`skip_tls_verify`."""

from homelab.validate.base import Finding, rule
from homelab.validate.terraform import blocks, tf_files

INSECURE = {"proxmox": "pm_tls_insecure", "vault": "skip_tls_verify"}


@rule("terraform-tls-verify-off", "warning", "a Terraform provider does not verify its API's TLS certificate",
      area="terraform")
def check(ctx):
    for f in tf_files(ctx):
        for (name,), body in blocks(f, "provider"):
            arg = INSECURE.get(name)
            if arg and body.get(arg) is True:
                line = f.arg_line(f.block_line("provider", name), arg)
                lab = ("proxmox", "tls_insecure") if name == "proxmox" else ("vault", "tls", "skip_verify")
                yield Finding(f.path, line, f"provider {name}: {arg} = true — the certificate of the API is not "
                              "verified, so whoever sits in between gets the credentials Terraform sends",
                              "give the provider the CA (step-ca's root) and turn verification on in the lab", lab=lab)
