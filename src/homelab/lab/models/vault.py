from __future__ import annotations

from typing import Literal

from pydantic import Field

from homelab.lab.types import Model, NonEmptyStr

CAPABILITIES = ("create", "read", "update", "patch", "delete", "list", "sudo", "deny", "subscribe", "recover")
Capability = Literal["create", "read", "update", "patch", "delete", "list", "sudo", "deny", "subscribe", "recover"]


class PolicyRule(Model):
    """One rule. `secrets` is a KV v2 path below the mount (rendered to data/ and metadata/ paths);
    `path` is a raw Vault API path (e.g. auth/token/create). Give exactly one."""

    secrets: str | None = Field(default=None, description="KV path below the mount, e.g. infra/*.")
    path: str | None = Field(default=None, description="Raw API path, e.g. auth/token/create.")
    capabilities: list[Capability] = Field(min_length=1)


class Policy(Model):
    description: str = ""
    rules: list[PolicyRule] = Field(min_length=1)


class VaultUser(Model):
    """An automation account (userpass) bound to policies. Its password is generated and kept in KV."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    policies: list[str] = Field(min_length=1)
    token_ttl: str = Field(default="1h", pattern=r"^\d+[smhd]$")
    token_max_ttl: str = Field(default="4h", pattern=r"^\d+[smhd]$")


class Generate(Model):
    """How `homelab vault rotate` generates a value."""

    length: int = Field(default=32, ge=12, le=256)
    charset: Literal["alnum", "hex", "urlsafe"] = "alnum"


class SecretSpec(Model):
    """A secret the lab expects in KV: path and field names, never values."""

    path: NonEmptyStr = Field(description="Path below the KV mount, e.g. infra/proxmox.")
    fields: list[NonEmptyStr] = Field(min_length=1)
    description: str = ""
    generate: Generate | None = Field(default=None, description="Generated (and rotatable) by homelab.")


class VaultTls(Model):
    ca: Literal["step-ca", "self-signed", "none"] = "step-ca"
    cert_file: str = "/opt/vault/tls/vault.crt"
    key_file: str = "/opt/vault/tls/vault.key"
    skip_verify: bool | None = Field(
        default=None,
        description="VAULT_SKIP_VERIFY for clients (dev only). Unset = verify, against tls/ca.crt when the "
                    "certificate comes from the lab's CA (step-ca or self-signed).",
    )


class Shamir(Model):
    shares: int = Field(default=5, ge=1, le=255)
    threshold: int = Field(default=3, ge=1, le=255)


class Vault(Model):
    """HashiCorp Vault (or OpenBao): KV v2, userpass, policies, users and the secret catalogue."""

    address: str = Field(
        default="embedded", pattern=r"^(embedded|https?://[^\s/]+(:\d+)?/?)$",
        description="URL of the Vault server, or 'embedded' for a local OpenBao started by homelab.",
    )
    server: str | None = Field(default=None, description="VM that runs Vault (rendered config + playbook).")
    version: str = Field(default="1.18.3", pattern=r"^\d+\.\d+\.\d+$")
    storage: Literal["file", "raft"] = "file"
    tls: VaultTls = Field(default_factory=VaultTls)
    kv_mount: str = Field(default="secret", pattern=r"^[a-z0-9_-]+$")
    auth: list[Literal["userpass", "token"]] = Field(default_factory=lambda: ["userpass", "token"])
    init: Shamir = Field(default_factory=Shamir)
    audit: bool = Field(default=True, description="Enable a file audit device.")
    policies: dict[str, Policy] = Field(default_factory=dict)
    users: list[VaultUser] = Field(default_factory=list)
    secrets: list[SecretSpec] = Field(default_factory=list)
