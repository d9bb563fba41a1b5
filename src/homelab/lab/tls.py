"""TLS between the lab's clients (Terraform, Ansible, homelab) and its services, from the model (pure).

Verification is a lab setting with a default that follows the internal CA:

- `proxmox.tls_insecure`: unset = verify the Proxmox API certificate once the lab has an internal CA
  (`pki.step_ca`), skip otherwise (Proxmox VE serves its own self-signed certificate until you give
  pveproxy one from the CA);
- `vault.tls.skip_verify`: unset = verify (the Vault certificate comes from the internal CA, or is
  the self-signed bootstrap certificate the vault_server role makes before the CA exists).

The CA file every client is handed is the rendered repository's `tls/ca.crt` (the internal CA's root,
`step ca root tls/ca.crt`); `tls/<vm>.crt` and `tls/<vm>.key` are the certificates it issued for the
lab's services (keys stay out of git, see the rendered `.gitignore`).
"""

from __future__ import annotations

TLS_DIR = "tls"
CA_FILE = f"{TLS_DIR}/ca.crt"


def internal_ca(lab) -> bool:
    """The lab declares an internal CA (step-ca)."""
    return lab.pki.step_ca is not None


def proxmox_verify(lab) -> bool:
    insecure = lab.proxmox.tls_insecure
    return internal_ca(lab) if insecure is None else not insecure


def vault_verify(lab) -> bool:
    skip = lab.vault.tls.skip_verify
    return True if skip is None else not skip


def vault_ca_file(lab) -> str | None:
    """`tls/ca.crt` when Vault clients verify a certificate from the lab's own CA (step-ca or the
    self-signed bootstrap one); None when they skip verification, Vault serves no TLS (`tls.ca: none`)
    or the lab's Vault is the embedded one (plain http on 127.0.0.1)."""
    if not vault_verify(lab) or lab.vault.tls.ca == "none" or not lab.vault.address.startswith("https://"):
        return None
    return CA_FILE
