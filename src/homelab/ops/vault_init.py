"""Initialise, unseal, seal and inspect Vault.

`init` reserves the keys file (O_CREAT|O_EXCL, mode 0600) BEFORE asking Vault to initialise, so the
keys are never produced without a place to keep them, and an existing keys file is never
overwritten. With `print_keys=True` (the CLI's `--print-keys`) no file is written: the caller shows
the keys once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from homelab.engines.vault.client import (
    ClientFactory,
    VaultApi,
    VaultError,
    VaultPermissionError,
    VaultTokenError,
    VaultUnreachableError,
    hvac_client,
)
from homelab.engines.vault.target import (
    VaultTarget,
    read_keys_file,
    register_secrets,
    reserve_keys_file,
    write_fd_json,
)
from homelab.secrets import Secret


@dataclass
class InitResult:
    shares: int
    threshold: int
    keys_file: Path | None
    keys: list[Secret] = field(default_factory=list)
    root_token: Secret | None = None

    def to_json(self) -> dict:
        return {"initialized": True, "shares": self.shares, "threshold": self.threshold,
                "keys_file": str(self.keys_file) if self.keys_file else None}


def init(target: VaultTarget, lab, *, shares: int | None = None, threshold: int | None = None,
         print_keys: bool = False, factory: ClientFactory = hvac_client) -> InitResult:
    shares = shares or lab.vault.init.shares
    threshold = threshold or lab.vault.init.threshold
    if threshold > shares:
        from homelab.errors import UsageError

        raise UsageError(f"threshold {threshold} is larger than shares {shares}",
                         "vault.init.threshold must be at most vault.init.shares")
    api = VaultApi(target.address, verify=target.verify, factory=factory)
    st = api.seal_status()
    if st.get("initialized"):
        from homelab.engines.vault.client import VaultAlreadyInitializedError

        raise VaultAlreadyInitializedError(f"Vault at {target.address} is already initialised",
                                           "nothing to do; unseal it with `homelab vault unseal`")
    fd = None if print_keys else reserve_keys_file(target.keys_file)
    try:
        resp = api.initialize(shares, threshold)
    except BaseException:
        if fd is not None:
            import os

            os.close(fd)
            target.keys_file.unlink(missing_ok=True)
        raise
    data = {
        "format": 1,
        "address": target.address if not target.embedded else "embedded",
        "shares": shares,
        "threshold": threshold,
        "keys": resp["keys"],
        "keys_base64": resp.get("keys_base64", []),
        "root_token": resp["root_token"],
    }
    register_secrets(data)
    if fd is not None:
        write_fd_json(fd, data)
    return InitResult(shares, threshold, None if print_keys else target.keys_file,
                      [Secret(k) for k in resp["keys"]], Secret(resp["root_token"]))


@dataclass
class UnsealResult:
    sealed: bool
    progress: int
    threshold: int
    already: bool = False

    def to_json(self) -> dict:
        return {"sealed": self.sealed, "progress": self.progress, "threshold": self.threshold,
                "already_unsealed": self.already}


def unseal(target: VaultTarget, *, keys: list[str] | None = None, factory: ClientFactory = hvac_client,
           wait: bool = True) -> UnsealResult:
    """Unseal with the keys file (or the keys given). Needs threshold keys; never logs them."""
    api = VaultApi(target.address, verify=target.verify, factory=factory)
    st = api.seal_status()
    if not st.get("initialized"):
        from homelab.engines.vault.client import VaultNotInitializedError

        raise VaultNotInitializedError(f"Vault at {target.address} is not initialised", "run `homelab vault init`")
    if not st.get("sealed"):
        return UnsealResult(False, 0, st.get("t", 0), already=True)
    if keys is None:
        keys = list(read_keys_file(target.keys_file).get("keys") or [])
    threshold = int(st.get("t") or 0)
    if len(keys) < threshold:
        from homelab.errors import UsageError

        raise UsageError(f"{len(keys)} unseal key(s) given, Vault needs {threshold}",
                         "give at least the threshold number of keys")
    result = st
    for key in keys:
        result = api.submit_unseal_key(key)
        if not result.get("sealed"):
            break
    if result.get("sealed"):
        raise VaultError("Vault is still sealed after submitting the keys",
                         "check the keys file belongs to this Vault")
    if wait:
        api.wait_active()
    return UnsealResult(False, 0, threshold)


def seal(api: VaultApi) -> bool:
    """Seal (needs a token with sudo on sys/seal). Returns False when already sealed."""
    st = api.seal_status()
    if st.get("sealed"):
        return False
    api.seal()
    return True


def status(target: VaultTarget, lab, *, api: VaultApi | None = None,
           factory: ClientFactory = hvac_client) -> dict:
    """Seal state and version (no token needed); mounts, auth methods, policies when a token allows.

    A Vault that is not running (the embedded server not started) or does not answer is a status too,
    not an engine failure: `running` is False and `reason`/`hint` say why."""
    where = "embedded" if target.embedded else target.address
    if not target.address:
        return {"address": where, "url": None, "running": False, "reason": "the embedded Vault is not running",
                "hint": "start it with `homelab vault up`"}
    anon = VaultApi(target.address, verify=target.verify, factory=factory)
    try:
        st = anon.seal_status()
    except VaultUnreachableError as exc:
        return {"address": where, "url": target.address, "running": False, "reason": exc.message, "hint": exc.hint}
    out: dict = {
        "address": where,
        "url": target.address,
        "running": True,
        "initialized": bool(st.get("initialized")),
        "sealed": bool(st.get("sealed")),
        "version": st.get("version"),
        "storage_type": st.get("storage_type"),
        "shares": st.get("n"),
        "threshold": st.get("t"),
        "unseal_progress": st.get("progress"),
        "cluster_name": st.get("cluster_name"),
    }
    details: dict = {"ha_enabled": None, "mounts": None, "auth_methods": None, "policies": None}
    if out["initialized"] and not out["sealed"] and api is not None:
        try:
            leader = api.leader()
            details["ha_enabled"] = bool(leader.get("ha_enabled"))
            details["ha_leader"] = bool(leader.get("is_self"))
            details["mounts"] = {k: _mount_desc(v) for k, v in sorted(api.list_mounts().items())
                                 if isinstance(v, dict)}
            details["auth_methods"] = {k: v.get("type") for k, v in sorted(api.list_auth().items())
                                       if isinstance(v, dict)}
            details["policies"] = api.list_policies()
        except (VaultPermissionError, VaultTokenError) as exc:
            details["details_unavailable"] = exc.message
    out.update(details)
    return out


def _mount_desc(m: dict) -> str:
    version = (m.get("options") or {}).get("version")
    return f"{m.get('type')}" + (f" v{version}" if version else "")
