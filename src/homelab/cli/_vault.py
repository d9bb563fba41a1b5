"""What the `vault` and `secrets` commands share: the lab, where Vault is, and a logged-in client."""

from __future__ import annotations

from dataclasses import dataclass

from homelab.cli._output import check_format, load_or_exit


@dataclass
class VaultCtx:
    doc: object
    target: object  # engines.vault.target.VaultTarget
    fmt: str
    address: str | None = None  # the --address given (passed on to engine runs)


def vault_ctx(lab: str, address, embedded, state_dir, keys_file, fmt: str, require_running: bool = True) -> VaultCtx:
    check_format(fmt)
    from homelab.engines.vault.target import resolve_target

    doc = load_or_exit(lab, fmt)
    target = resolve_target(doc.lab, address=address, embedded=embedded, state_dir=state_dir,
                            keys_file=keys_file, require_running=require_running)
    return VaultCtx(doc, target, fmt, address or ("embedded" if embedded else None))


def login(c: VaultCtx, user, check_ready: bool = True):
    """An authenticated client: --user (password prompted) > VAULT_TOKEN > the keys file."""
    from homelab.engines.vault.target import authenticate

    return authenticate(c.target, c.doc.lab, user=user, check_ready=check_ready)
