"""Vault/OpenBao: the one client (`client`), where Vault is and how homelab gets in (`target`), the
embedded OpenBao server (`server`), and the engine that executes the plan's Vault changes (`engine`)."""

from homelab.engines.vault.client import (
    VaultAlreadyInitializedError,
    VaultApi,
    VaultError,
    VaultLoginError,
    VaultNotInitializedError,
    VaultPermissionError,
    VaultSealedError,
    VaultTokenError,
    VaultUnreachableError,
    VaultUnsealKeyError,
)
from homelab.engines.vault.engine import VaultEngine

__all__ = [
    "VaultAlreadyInitializedError", "VaultApi", "VaultEngine", "VaultError", "VaultLoginError",
    "VaultNotInitializedError", "VaultPermissionError", "VaultSealedError", "VaultTokenError",
    "VaultUnreachableError", "VaultUnsealKeyError",
]
