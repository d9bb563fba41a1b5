"""`homelab vault restore BACKUP`: put a raft snapshot (ops/vault_backup.py) back into a Vault.

`prepare` verifies the backup (size and sha256 against its manifest: nothing is sent to Vault when they
do not match) and works out what the restore will do, without changing anything: onto an empty
(uninitialised) server, or into an initialised one — then it reads the current KV inventory, so that the
caller can say what will be rolled back (versions newer than the backup's), removed (paths created after
the backup) and brought back (paths deleted since). `execute` does it, reporting each step.

How (OpenBao 2.7 / Vault, `sys/storage/raft/snapshot-force`):
* A snapshot can only be uploaded to an initialised, unsealed Vault. An empty server is initialised for
  the restore with a temporary root token and keys, thrown away once the snapshot is in.
* After a forced restore the node installs the snapshot's keyring, seals itself, and must be unsealed
  with the BACKED-UP Vault's keys. But it keeps the seal configuration (key shares and threshold) it
  was initialised with in memory until it restarts (hashicorp/vault#24975, canonical/vault-k8s-operator
  #794; reproduced with OpenBao 2.7.2: a temporary 1-of-1 init makes it reject the backup's 3-of-5 keys
  — "Vault rejected an unseal key"). So the temporary init uses the backed-up Vault's shares and
  threshold (from its keys file, else the manifest). A Vault initialised anew by the user with another
  configuration is restarted after the restore when it is the embedded server; another Vault is refused
  before anything is sent (restart it by hand after a restore, or initialise it like the backup).
* Then: unseal with the backed-up keys, log in with the backed-up credentials (admin user, else root
  token) and compare the KV inventory (every path and its current version) with the manifest.
When the state directory has no keys file yet, the backed-up keys file is copied there (0600), since it
now holds the Vault's keys.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from homelab.engines.vault.client import ClientFactory, VaultApi, VaultError, VaultTokenError, hvac_client
from homelab.engines.vault.target import VaultTarget, register_secrets
from homelab.errors import HomelabError
from homelab.ops.vault_backup import key_from_unseal_keys, kv_hashes, kv_inventory, load_manifest

Progress = Callable[[str], None]


class RestoreVerificationError(VaultError):
    """After a restore the data does not match the manifest."""


class RestoreRefused(HomelabError):
    """The restore cannot work as asked; nothing was sent to Vault. Exit 1."""

    exit_code = 1


@dataclass
class RestorePlan:
    """What a restore will do; nothing has changed yet."""

    target: VaultTarget
    manifest: dict
    payload: Path
    backup_keys: dict = field(repr=False)
    seal: tuple[int, int]  # (shares, threshold) of the backed-up Vault
    initialized: bool  # the Vault restored into
    current_api: VaultApi | None = field(default=None, repr=False)
    restart: bool = False  # embedded server initialised with another seal configuration
    current_kv: dict[str, int] | None = None  # None: empty server, or the token cannot list
    rolled_back: list[tuple[str, int, int]] = field(default_factory=list)  # path, now, backup
    removed: list[tuple[str, int]] = field(default_factory=list)  # created after the backup
    returned: list[tuple[str, int]] = field(default_factory=list)  # deleted since the backup
    unchanged: int = 0

    @property
    def created(self) -> str:
        return str(self.manifest.get("created") or "an unknown time")

    @property
    def expected(self) -> dict[str, int]:
        return dict(self.manifest.get("kv") or {})

    def to_json(self) -> dict:
        return {"file": str(self.payload), "backup_created": self.manifest.get("created"),
                "empty_server": not self.initialized, "shares": self.seal[0], "threshold": self.seal[1],
                "rolled_back": [{"path": p, "version": now, "restored_version": then}
                                for p, now, then in self.rolled_back],
                "removed": [{"path": p, "version": v} for p, v in self.removed],
                "returned": [{"path": p, "version": v} for p, v in self.returned],
                "unchanged": self.unchanged}


@dataclass
class RestoreResult:
    plan: RestorePlan
    verified_paths: int
    temporary_init: bool
    restarted: bool = False
    keys_copied_to: Path | None = None
    verified_versions: int = 0  # versions compared by hash (manifests that carry kv_hashes)

    @property
    def file(self) -> Path:
        return self.plan.payload

    def to_json(self) -> dict:
        return {**self.plan.to_json(), "verified_paths": self.verified_paths, "temporary_init": self.temporary_init,
                "restarted": self.restarted, "verified_versions": self.verified_versions, "keys_copied_to": str(self.keys_copied_to) if self.keys_copied_to
                else None}


def _seal_of_backup(manifest: dict, keys: dict, lab) -> tuple[int, int]:
    for source in (keys, manifest):
        shares, threshold = source.get("shares"), source.get("threshold")
        if isinstance(shares, int) and isinstance(threshold, int) and 1 <= threshold <= shares:
            return shares, threshold
    return lab.vault.init.shares, lab.vault.init.threshold


def _diff(plan: RestorePlan) -> None:
    now, then = plan.current_kv or {}, plan.expected
    for path in sorted(set(now) | set(then)):
        if path not in then:
            plan.removed.append((path, now[path]))
        elif path not in now:
            plan.returned.append((path, then[path]))
        elif now[path] != then[path]:
            plan.rolled_back.append((path, now[path], then[path]))
        else:
            plan.unchanged += 1


def prepare(target: VaultTarget, lab, manifest_path: Path, *, backup_keys: dict, current_api: VaultApi | None,
            factory: ClientFactory = hvac_client) -> RestorePlan:
    """Verify the backup and find out what restoring it will do. Changes nothing."""
    manifest, payload = load_manifest(manifest_path)
    if manifest.get("kind") != "raft-snapshot":
        raise RestoreRefused(f"{payload.name} is a {manifest.get('kind')} backup, not a raft snapshot",
                             "stop Vault and extract it into the data directory (tar -xzf) instead")
    seal = _seal_of_backup(manifest, backup_keys, lab)
    keys = list(backup_keys.get("keys") or [])
    if len(keys) < seal[1]:
        raise RestoreRefused(f"the keys file holds {len(keys)} unseal key(s); the backed-up Vault needs {seal[1]}",
                             "pass the keys file of the backed-up Vault with --keys-file")
    anon = VaultApi(target.address, verify=target.verify, factory=factory, kv_mount=lab.vault.kv_mount)
    st = anon.seal_status()
    plan = RestorePlan(target, manifest, payload, backup_keys, seal, bool(st.get("initialized")))
    if not plan.initialized:
        return plan
    if current_api is None:
        raise VaultTokenError("no token for the Vault being restored into",
                              "pass --current-keys-file (its keys file) or set VAULT_TOKEN")
    current_api.require_ready()
    plan.current_api = current_api
    if (st.get("n"), st.get("t")) != seal:
        if not target.embedded:
            raise RestoreRefused(
                f"the Vault at {target.address} was initialised with {st.get('t')} of {st.get('n')} keys, the "
                f"backed-up Vault with {seal[1]} of {seal[0]}: after the restore it would keep asking for keys "
                "until it restarts (hashicorp/vault#24975)",
                f"initialise it with --shares {seal[0]} --threshold {seal[1]}, or restore with the Vault CLI, "
                "restart the service and unseal with the backed-up keys")
        plan.restart = True
    try:
        plan.current_kv = kv_inventory(current_api)
    except VaultError:
        plan.current_kv = None  # this token may not list every path: say nothing rather than guess
    if plan.current_kv is not None:
        _diff(plan)
    return plan


def execute(plan: RestorePlan, lab, *, progress: Progress | None = None,
            factory: ClientFactory = hvac_client) -> RestoreResult:
    say = progress or (lambda message: None)
    target = plan.target
    anon = VaultApi(target.address, verify=target.verify, factory=factory, kv_mount=lab.vault.kv_mount)
    api = plan.current_api
    if not plan.initialized:
        api = _temporary_init(anon, plan.seal, say)
    data = plan.payload.read_bytes()
    say(f"uploading the snapshot ({len(data)} bytes) with sys/storage/raft/snapshot-force")
    api.restore_snapshot(data, force=True)
    say("waiting for Vault to install the snapshot (it seals itself when the keyring changes)")
    _wait_installed(anon, plan.backup_keys)
    restarted = False
    st = anon.seal_status()
    if st.get("sealed") and (plan.restart or (st.get("n"), st.get("t")) != plan.seal):
        if not target.embedded:
            raise VaultError(f"Vault at {target.address} still has the seal configuration {st.get('t')} of "
                             f"{st.get('n')} after the restore", "restart the Vault service, then `homelab vault "
                             "unseal --keys-file` with the backed-up keys")
        target = _restart(target, lab, say)
        anon = VaultApi(target.address, verify=target.verify, factory=factory, kv_mount=lab.vault.kv_mount)
        restarted = True
    if anon.seal_status().get("sealed"):
        from homelab.ops.vault_init import unseal

        say(f"unsealing with the backed-up Vault's keys ({plan.seal[1]} of {plan.seal[0]})")
        unseal(target, keys=list(plan.backup_keys.get("keys") or []), factory=factory)
    anon.wait_active()
    restored = api_from_keys(anon, plan.backup_keys)
    found = kv_inventory(restored)
    if "kv" in plan.manifest:
        say(f"verifying {len(plan.expected)} KV path(s) against the manifest")
        _verify(found, plan.expected)
    else:  # made by the Vault VM's timer (vault-backup.py): no token to list KV with, so no inventory
        say(f"the backup records no KV inventory (made on the Vault VM): {len(found)} KV path(s) restored, "
            "not compared")
    hashed = verify_hashes(restored, plan.manifest, plan.backup_keys)
    if hashed:
        say(f"verified {hashed} version(s) by hash: the data is the backed-up data")
    return RestoreResult(plan, len(found), not plan.initialized, restarted, _place_keys(target), hashed)


def _temporary_init(anon: VaultApi, seal: tuple[int, int], say: Progress) -> VaultApi:
    say(f"the Vault is empty: initialising it with temporary keys ({seal[1]} of {seal[0]}, like the backup; "
        "thrown away once the snapshot is in)")
    resp = anon.initialize(*seal)
    register_secrets(resp)
    for key in resp["keys"][: seal[1]]:
        anon.submit_unseal_key(key)
    anon.wait_active()
    return anon.with_token(resp["root_token"])


def _wait_installed(anon: VaultApi, backup_keys: dict, timeout: float = 60.0) -> None:
    """Until the node has sealed itself (another keyring) or the backed-up credentials work (same one)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if anon.seal_status().get("sealed") or _token_works(anon, backup_keys):
                return
        except VaultError:
            pass  # the node is busy installing the snapshot
        time.sleep(0.3)
    raise VaultError(f"Vault did not finish installing the snapshot within {timeout:.0f}s",
                     "check its log; then `homelab vault unseal --keys-file` with the backed-up keys")


def _restart(target: VaultTarget, lab, say: Progress) -> VaultTarget:
    from homelab.engines.vault import server

    say("restarting the embedded server so that it reads the backed-up Vault's seal configuration")
    server.down(target.state_dir)
    info = server.up(target.state_dir, audit=lab.vault.audit)
    return dataclasses.replace(target, address=info.address)


def _verify(found: dict[str, int], expected: dict[str, int]) -> None:
    if found == expected:
        return
    missing = sorted(set(expected) - set(found))
    differ = sorted(p for p in expected if p in found and found[p] != expected[p])
    raise RestoreVerificationError(
        f"restored data does not match the manifest: {len(missing)} path(s) missing, "
        f"{len(differ)} with another version" + (f" (e.g. {(missing or differ)[0]})" if missing or differ else ""))


def verify_hashes(api: VaultApi, manifest: dict, backup_keys: dict | None = None) -> int:
    """Compare every version's data hash with the manifest's (kv_hashes); the number compared, 0 when the
    manifest has none. The key: the backed-up Vault's unseal keys, or the salt in the manifest. Raises naming
    paths and versions only, never a value."""
    expected = manifest.get("kv_hashes")
    described = manifest.get("kv_hash") or {}
    if described.get("key") == "unseal-keys":
        key = key_from_unseal_keys(backup_keys or {})
    else:
        key = bytes.fromhex(described["salt"]) if described.get("salt") else None
    if not expected or key is None:
        return 0
    found = kv_hashes(api, list(expected), key)
    differ = [f"{p} v{v}" for p in sorted(expected) for v, h in sorted(expected[p].items())
              if found.get(p, {}).get(v) != h]
    if differ:
        raise RestoreVerificationError(f"restored data differs from the backup in {len(differ)} version(s), "
                                       f"e.g. {differ[0]} (compared by hash)")
    return sum(len(v) for v in expected.values())


def _place_keys(target: VaultTarget) -> Path | None:
    """Copy the backed-up keys file to the state directory's default place when there is none yet."""
    import shutil

    default = target.vault_dir / "init-keys.json"
    if default.exists() or not target.keys_file.exists() or target.keys_file.resolve() == default.resolve():
        return None
    from homelab.engines.vault.target import reserve_keys_file

    fd = reserve_keys_file(default)
    with open(fd, "wb", closefd=True) as out, target.keys_file.open("rb") as src:
        shutil.copyfileobj(src, out)
    return default


def api_from_keys(anon: VaultApi, keys: dict) -> VaultApi:
    admin = keys.get("admin") or {}
    if admin.get("user") and admin.get("password"):
        return anon.with_token(anon.login_userpass(admin["user"], admin["password"]))
    if keys.get("root_token"):
        return anon.with_token(keys["root_token"])
    raise VaultTokenError("the backed-up Vault's keys file has no root token or admin credentials")


def _token_works(anon: VaultApi, keys: dict) -> bool:
    try:
        return api_from_keys(anon, keys).token_valid()
    except VaultError:
        return False
