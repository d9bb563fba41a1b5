"""Vault in `homelab backup` / `homelab restore` / `homelab drill`: the snapshot of ops/vault_backup.py
(reused, not repeated) plus its off-site copy in the lab's S3 bucket (backup.vault.offsite), and the way
back: the newest (or a named) set downloaded from the bucket, verified against its checksum and restored
with ops/vault_restore.py (an empty server included).

The bucket's keys: AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY when both are set (a restore onto an empty
server has no Vault to read them from), else the lab's reference (`credentials: path#access,secret`)
read from the Vault being backed up. Downloads go to the backup directory, 0600.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from homelab.engines.s3 import ObjectStore
from homelab.errors import UsageError
from homelab.lab.refs import parse_ref

Progress = Callable[[str], None]


def store_for(lab, api=None, *, factory=None) -> ObjectStore | None:
    """The off-site bucket of backup.vault.offsite with its keys, or None when the lab has none."""
    off = lab.backup.vault.offsite
    if off is None:
        return None
    access, secret = os.environ.get("AWS_ACCESS_KEY_ID"), os.environ.get("AWS_SECRET_ACCESS_KEY")
    if not (access and secret):
        path, fields = parse_ref(off.credentials)
        got = api.kv_read(path) if api is not None else None
        if not got or not all(got[0].get(f) for f in fields[:2]):
            raise UsageError(f"the off-site bucket's keys are not in Vault at {path} (fields {', '.join(fields)})",
                             f"store them (`homelab secrets set {path}`), or set AWS_ACCESS_KEY_ID and "
                             "AWS_SECRET_ACCESS_KEY, or pass --no-offsite")
        access, secret = got[0][fields[0]], got[0][fields[1]]
    from homelab.secrets import REDACTOR

    REDACTOR.add(access)
    REDACTOR.add(secret)
    kwargs = {"factory": factory} if factory else {}
    return ObjectStore(off.endpoint.rstrip("/"), off.bucket, off.prefix, off.region, access, secret, off.verify,
                       **kwargs)


def describe(lab, target, directory: Path, offsite: bool = True) -> list[str]:
    where = "the embedded OpenBao" if target.embedded else f"the Vault at {target.address}"
    lines = [f"vault: raft snapshot of {where} -> {directory} (+ .sha256, .manifest.json with every KV path, "
             f"version and value hash; keep {lab.backup.vault.retention})"]
    off = lab.backup.vault.offsite
    if off and offsite:
        lines.append(f"vault: copy to s3://{off.bucket}/{off.prefix.strip('/')}/ at {off.endpoint}")
    else:
        lines.append("vault: no off-site copy (" + ("--no-offsite" if off else "backup.vault.offsite is not set") + ")")
    return lines


def backup(api, doc, target, *, directory: str | None = None, store: ObjectStore | None = None,
           say: Progress) -> dict:
    """Snapshot, then the copy to `store` (from store_for, made before: missing keys stop the run before the
    snapshot). An upload that fails leaves the local backup in place and says so."""
    from homelab.errors import EngineError
    from homelab.ops import vault_backup

    say("vault: taking a raft snapshot and hashing every KV version")
    result = vault_backup.backup(api, doc.lab, target, doc.digest, directory=directory)
    say(f"vault: {result.file.name} ({result.size} bytes, sha256 {result.sha256[:16]}…, {result.paths} KV paths)")
    entry = {"kind": "vault", "what": f"raft snapshot of {target.address}", "created": result.created,
             "file": str(result.file), "manifest": str(result.manifest), "size": result.size,
             "sha256": result.sha256, "kv_paths": result.paths, "pruned": result.pruned, "offsite": None}
    if store is not None:
        say(f"vault: copying to {store.where}")
        try:
            uploaded = store.upload_set(result.file.parent, result.manifest.name[: -len(".manifest.json")])
            removed = store.prune(doc.lab.backup.vault.retention)
        except EngineError as exc:
            raise EngineError(f"{exc.message}; the backup is kept locally: {result.manifest}", exc.hint) from None
        entry["offsite"] = {"where": store.where, "files": uploaded, "pruned": removed}
        say(f"vault: {len(uploaded)} file(s) in the bucket" + (f", {len(removed)} old removed" if removed else ""))
    return entry


def fetch(lab, target, source: str, *, directory: str | None = None, api=None, say: Progress,
          factory=None) -> Path:
    """The manifest to restore: a local .manifest.json/.snap, or `s3` (the newest set) / `s3:NAME`."""
    if not source.startswith("s3"):
        return Path(source)
    store = store_for(lab, api, factory=factory)
    if store is None:
        raise UsageError("the lab has no off-site bucket (backup.vault.offsite) to restore from",
                         "pass the backup's .manifest.json instead")
    sets = store.sets()
    name = source.partition(":")[2] or (sets[-1] if sets else "")
    if not name:
        raise UsageError(f"there is no Vault backup in {store.where}")
    from homelab.ops.vault_backup import backup_dir

    out = backup_dir(lab, target, directory)
    say(f"downloading {name} from {store.where} to {out}")
    return store.download_set(name, out)


def latest_local(lab, target, directory: str | None = None) -> Path | None:
    from homelab.ops.vault_backup import backup_dir

    out = backup_dir(lab, target, directory)
    found = sorted(out.glob("vault-*.manifest.json")) if out.is_dir() else []
    return found[-1] if found else None
