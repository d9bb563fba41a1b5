"""`homelab vault backup` / `restore`.

Raft storage (the embedded server, or a Vault with integrated storage): an API snapshot
(`GET /v1/sys/storage/raft/snapshot`), saved as `vault-<UTC time>.snap` (mode 0600) with
`vault-<time>.snap.sha256` (sha256sum format) and `vault-<time>.manifest.json`:
format, kind, created (UTC), vault version, storage type, file, size, sha256, lab digest, KV mount,
the KV inventory (every secret path with its current version — never a value) and `kv_hashes`: for every
version of every path an HMAC-SHA256 of its data (or "deleted"/"destroyed"), keyed with the backed-up
Vault's unseal keys (`kv_hash.key: unseal-keys`), else with a random salt kept in the manifest.

File storage (the seed's HashiCorp Vault): there is no snapshot API. `backup --data-dir DIR` makes a
tar.gz of the data directory, as the seed does by hand. It is only consistent when Vault is not
writing: seal it (`homelab vault seal`) or stop the service first — the command refuses while the
Vault at the address answers unsealed. Run it on the Vault VM (or on a copy of the directory).

Retention: lab.backup.vault.retention newest backups are kept in lab.backup.vault.directory (a path
starting with `.homelab/` lives under the state directory); older ones are deleted.

The manifest also records the seal configuration (key shares and threshold) of the backed-up Vault:
restoring onto an empty server needs it (see ops/vault_restore.py, which restores).
"""

from __future__ import annotations

import hashlib
import json
import os
import tarfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from homelab.engines.vault.client import VaultApi, VaultError
from homelab.engines.vault.target import VaultTarget
from homelab.errors import StateError


class BackupIntegrityError(StateError):
    """A backup file does not match its manifest/checksum."""


def _make_dir(out: Path) -> None:
    try:
        out.mkdir(parents=True, exist_ok=True, mode=0o700)
        if not out.is_dir():
            raise NotADirectoryError(20, "Not a directory", str(out))
    except OSError as exc:
        from homelab.errors import UsageError

        why = "it is not a directory" if out.exists() and not out.is_dir() else exc.strerror or exc
        raise UsageError(f"cannot write backups to {out}: {why}",
                         "pass --dir (or set backup.vault.directory) to a writable directory") from None


def backup_dir(lab, target: VaultTarget, directory: str | None = None) -> Path:
    raw = directory or lab.backup.vault.directory
    p = Path(raw)
    if not p.is_absolute() and p.parts and p.parts[0] == ".homelab" and directory is None:
        return target.state_dir.joinpath(*p.parts[1:])
    return p


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def kv_inventory(api: VaultApi) -> dict[str, int]:
    inv: dict[str, int] = {}
    for path in api.kv_walk(""):
        meta = api.kv_metadata(path)
        if meta:
            inv[path] = int(meta.get("current_version") or 0)
    return dict(sorted(inv.items()))


def value_hash(salt: bytes, data: dict) -> str:
    """HMAC-SHA256 of one version's data (canonical JSON) under the manifest's hash key (hash_key below)."""
    import hmac

    text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hmac.new(salt, text.encode(), hashlib.sha256).hexdigest()


def key_from_unseal_keys(keys: dict) -> bytes | None:
    """The HMAC key derived from the backed-up Vault's unseal keys: whoever can restore the backup can check
    its hashes, and a manifest that leaks (it is copied to S3 beside the snapshot) cannot be brute-forced for a
    weak value without those keys."""
    shares = sorted(str(k) for k in keys.get("keys") or [])
    if not shares:
        return None
    return hashlib.sha256(("homelab kv hash v1\0" + "\0".join(shares)).encode()).digest()


def hash_key(target: VaultTarget) -> tuple[bytes, dict]:
    """(key, manifest description): from the keys file when it is at hand, else a random salt kept in the
    manifest (then the hashes only resist guessing as far as the values are long and random)."""
    from homelab.engines.vault.target import read_keys_file

    try:
        key = key_from_unseal_keys(read_keys_file(target.keys_file))
    except StateError:
        key = None
    if key is not None:
        return key, {"algorithm": "hmac-sha256", "key": "unseal-keys",
                     "over": "canonical JSON of each version's data"}
    salt = os.urandom(16)
    return salt, {"algorithm": "hmac-sha256", "key": "salt", "salt": salt.hex(),
                  "over": "canonical JSON of each version's data"}


def kv_hashes(api: VaultApi, paths, salt: bytes) -> dict[str, dict[str, str]]:
    """path -> {version: hash of its data, or "deleted"/"destroyed"} for every version Vault keeps."""
    out: dict[str, dict[str, str]] = {}
    for path in sorted(paths):
        meta = api.kv_metadata(path) or {}
        versions: dict[str, str] = {}
        for v, info in sorted((meta.get("versions") or {}).items(), key=lambda item: int(item[0])):
            if (info or {}).get("destroyed"):
                versions[str(v)] = "destroyed"
            elif (info or {}).get("deletion_time"):
                versions[str(v)] = "deleted"
            else:
                got = api.kv_read(path, int(v))
                versions[str(v)] = value_hash(salt, got[0]) if got else "deleted"
        out[path] = versions
    return out


@dataclass
class BackupResult:
    file: Path
    manifest: Path
    sha256: str
    size: int
    kind: str
    paths: int = 0
    pruned: list[str] = field(default_factory=list)
    created: str = ""
    name: str = ""

    def to_json(self) -> dict:
        return {"file": str(self.file), "manifest": str(self.manifest), "sha256": self.sha256, "size": self.size,
                "kind": self.kind, "kv_paths": self.paths, "pruned": self.pruned, "created": self.created}


def _stamp() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")


def _finish(directory: Path, name: str, payload: Path, kind: str, extra: dict, retention: int) -> BackupResult:
    digest = _sha256(payload)
    size = payload.stat().st_size
    _write_private(directory / f"{name}.sha256", f"{digest}  {payload.name}\n".encode())
    manifest = {"format": 1, "kind": kind, "created": datetime.now(UTC).isoformat(timespec="seconds"),
                "file": payload.name, "size": size, "sha256": digest, **extra}
    mpath = directory / f"{name}.manifest.json"
    _write_private(mpath, (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode())
    pruned = apply_retention(directory, retention)
    return BackupResult(payload, mpath, digest, size, kind, len(extra.get("kv", {})), pruned,
                        manifest["created"], name)


def apply_retention(directory: Path, keep: int) -> list[str]:
    manifests = sorted(directory.glob("vault-*.manifest.json"))
    removed = []
    for m in manifests[:-keep] if keep > 0 else []:
        name = m.name[: -len(".manifest.json")]
        for f in sorted(directory.glob(f"{name}*")):
            f.unlink(missing_ok=True)
            removed.append(f.name)
    return removed


def backup(api: VaultApi, lab, target: VaultTarget, lab_digest: str, *, directory: str | None = None,
           retention: int | None = None) -> BackupResult:
    st = api.require_ready()
    if st.get("storage_type") not in (None, "raft"):
        raise VaultError(f"Vault uses {st.get('storage_type')} storage: there is no snapshot API",
                         "the Vault VM backs it up itself (vault-backup.timer: `systemctl start vault-backup.service` "
                         "there for one now); or seal or stop Vault and run `homelab vault backup --data-dir DIR` "
                         "on the Vault host")
    out = backup_dir(lab, target, directory)
    _make_dir(out)
    name = f"vault-{_stamp()}"
    inventory = kv_inventory(api)
    key, described = hash_key(target)
    hashes = kv_hashes(api, inventory, key)
    data = api.snapshot()
    payload = out / f"{name}.snap"
    _write_private(payload, data)
    extra = {"vault_version": st.get("version"), "storage_type": st.get("storage_type") or "raft",
             "lab_digest": lab_digest, "kv_mount": api.kv_mount, "kv": inventory,
             "kv_hash": described,
             "kv_hashes": hashes, "shares": st.get("n"), "threshold": st.get("t")}
    return _finish(out, name, payload, "raft-snapshot", extra,
                   retention if retention is not None else lab.backup.vault.retention)


def backup_data_dir(lab, target: VaultTarget, lab_digest: str, data_dir: Path, *, directory: str | None = None,
                    retention: int | None = None, api: VaultApi | None = None) -> BackupResult:
    """tar.gz of a file-storage (or stopped raft) data directory. Refuses while Vault runs unsealed."""
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise StateError(f"data directory {data_dir} does not exist")
    if api is not None and target.address:
        try:
            st = api.seal_status()
        except VaultError:
            st = None  # not answering: stopped, good
        if st and st.get("initialized") and not st.get("sealed"):
            raise VaultError("Vault is running unsealed; a copy of its data directory would not be consistent",
                             "seal it first (`homelab vault seal`) or stop the service, then back up")
    out = backup_dir(lab, target, directory)
    _make_dir(out)
    name = f"vault-{_stamp()}"
    payload = out / f"{name}.tar.gz"
    fd = os.open(payload, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as raw, tarfile.open(fileobj=raw, mode="w:gz") as tar:
        tar.add(str(data_dir), arcname="data")
    extra = {"storage_type": "file", "lab_digest": lab_digest, "data_dir": str(data_dir)}
    return _finish(out, name, payload, "data-dir-tar", extra,
                   retention if retention is not None else lab.backup.vault.retention)


def load_manifest(path: Path) -> tuple[dict, Path]:
    """Read a manifest (or the manifest beside a .snap/.tar.gz) and verify the payload's checksum."""
    path = Path(path)
    if not path.name.endswith(".manifest.json"):
        stem = path.name
        for suffix in (".snap", ".tar.gz"):
            if stem.endswith(suffix):
                stem = stem[: -len(suffix)]
        path = path.with_name(f"{stem}.manifest.json")
    if not path.exists():
        raise BackupIntegrityError(f"manifest {path} does not exist", "pass the .manifest.json of the backup")
    try:
        manifest = json.loads(path.read_text())
    except (OSError, ValueError):
        raise BackupIntegrityError(f"manifest {path} is not readable JSON") from None
    payload = path.with_name(manifest.get("file", ""))
    if not payload.is_file():
        raise BackupIntegrityError(f"backup file {payload} is missing")
    size = payload.stat().st_size
    digest = _sha256(payload)
    if size != manifest.get("size") or digest != manifest.get("sha256"):
        raise BackupIntegrityError(f"backup file {payload.name} does not match its manifest "
                                   f"(sha256 or size differs); refusing to restore it",
                                   "the file is corrupt or was changed; use another backup")
    side = payload.with_name(payload.name.replace(".snap", "").replace(".tar.gz", "") + ".sha256")
    if side.exists() and side.read_text().split()[0] != digest:
        raise BackupIntegrityError(f"{side.name} does not match {payload.name}", "use another backup")
    return manifest, payload
