"""The errors of the Vault/OpenBao client (client.py): each a clear message, a hint and an exit code."""

from __future__ import annotations

from homelab.errors import EngineError


class VaultError(EngineError):
    """Vault answered with an error (or did not answer)."""


class VaultUnreachableError(VaultError):
    """Nothing answers at the address (connection refused, DNS, TLS)."""


class VaultNotInitializedError(VaultError):
    pass


class VaultAlreadyInitializedError(VaultError):
    pass


class VaultSealedError(VaultError):
    pass


class VaultUnsealKeyError(VaultError):
    """An unseal key was rejected (wrong key, wrong format, or keys of another Vault)."""


class VaultPermissionError(VaultError):
    """The token is valid but its policies do not allow the request."""


class VaultTokenError(VaultError):
    """No token, or the token is invalid, expired or revoked."""


class VaultLoginError(VaultError):
    """A userpass login was refused (unknown user or wrong password)."""
