"""`homelab drill`: prove the backups restore, and measure how old they are (RPO) and how long a restore takes
(RTO) against backup.targets. A kind with no endpoint is "not checked (no endpoint)"; nothing of the lab's
own addresses is ever guessed.

* vault: the newest backup (local, or --vault-from s3 / a file) restored into a SCRATCH embedded OpenBao
  (engines/vault/server.py, a temporary state directory, stopped and removed afterwards) with the code of
  `restore vault` (ops/vault_restore.py: onto an empty server, unseal with the backed-up keys, every KV
  path and version compared with the manifest by hash — no value is printed or written). RTO: from the
  scratch server's start to verified data. The catalogue (vault.secrets) paths the backup lacks are listed.
* elasticsearch (--es-url): the newest SUCCESS snapshot of the lab's repository restored under a temporary
  name (`drill-<time>-<index>`), its documents counted, then deleted. RTO: the restore call.
* apps (a Kubernetes connection): the newest Completed Velero Backup; RPO from its completionTimestamp.
  No restore is made (RTO not measured).
"""

from __future__ import annotations

import shutil
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from homelab.lab.models.backup import duration_seconds


@dataclass
class KindResult:
    kind: str
    status: str  # ok | failed | not checked
    detail: str
    rpo_seconds: float | None = None
    rto_seconds: float | None = None
    rpo_target: str | None = None
    rto_target: str | None = None
    facts: dict = field(default_factory=dict)

    @property
    def missed(self) -> list[str]:
        out = []
        if self.status == "failed":
            out.append("failed")
        if self.rpo_seconds is not None and self.rpo_seconds > duration_seconds(self.rpo_target):
            out.append("rpo")
        if self.rto_seconds is not None and self.rto_seconds > duration_seconds(self.rto_target):
            out.append("rto")
        return out

    def to_json(self) -> dict:
        return {"kind": self.kind, "status": self.status, "detail": self.detail,
                "rpo_seconds": _round(self.rpo_seconds), "rpo_target": self.rpo_target,
                "rto_seconds": _round(self.rto_seconds), "rto_target": self.rto_target,
                "missed": self.missed, **({"facts": self.facts} if self.facts else {})}


def _round(v):
    return None if v is None else round(v, 3)


def _age(when: str | None, now: datetime) -> float | None:
    if not when:
        return None
    stamp = datetime.fromisoformat(when.replace("Z", "+00:00"))
    return max(0.0, (now - stamp).total_seconds())


def not_checked(kind: str, targets, why: str = "no endpoint") -> KindResult:
    t = getattr(targets, kind)
    return KindResult(kind, "not checked", f"not checked ({why})", rpo_target=t.rpo, rto_target=t.rto)


# ------------------------------------------------------------------------------------------- vault
def drill_vault(lab, manifest_path: Path, keys: dict, say, now: datetime) -> KindResult:
    from homelab.engines.vault import server
    from homelab.engines.vault.target import VaultTarget
    from homelab.errors import HomelabError
    from homelab.ops import vault_restore
    from homelab.ops.vault_backup import load_manifest

    t = lab.backup.targets.vault
    manifest, _ = load_manifest(manifest_path)  # size and sha256 checked here
    rpo = _age(manifest.get("created"), now)
    if manifest.get("kind") != "raft-snapshot":
        return KindResult("vault", "not checked", f"{manifest_path.name}: checksum verified; a {manifest.get('kind')} "
                          "(file storage) cannot be restored into OpenBao, which has no file backend: restore it on "
                          "a Vault host", rpo, None, t.rpo, t.rto, {"backup": manifest_path.name,
                                                                    "created": manifest.get("created")})
    scratch = Path(tempfile.mkdtemp(prefix="homelab-drill-"))
    keys_file = scratch / "backed-up-keys.json"
    from homelab.engines.vault.target import replace_keys_file

    replace_keys_file(keys_file, keys)
    started = time.monotonic()
    try:
        say(f"vault: starting a scratch OpenBao in {scratch}")
        info = server.up(scratch / ".homelab", audit=False)
        target = VaultTarget(info.address, True, scratch / ".homelab", keys_file, True)
        plan = vault_restore.prepare(target, lab, manifest_path, backup_keys=keys, current_api=None)
        result = vault_restore.execute(plan, lab, progress=lambda m: say(f"vault: {m}"))
        rto = time.monotonic() - started
        present = set(plan.expected)
        missing = sorted(s.path for s in lab.vault.secrets if s.path not in present) if "kv" in manifest else []
        facts = {"backup": manifest_path.name, "created": manifest.get("created"), "kv_paths": result.verified_paths,
                 "versions_by_hash": result.verified_versions, "catalogue_paths": len(lab.vault.secrets),
                 "catalogue_missing": missing}
        compared = "kv" in manifest
        facts["compared"] = compared
        detail = (f"{manifest_path.name}: {result.verified_paths} KV path(s), {result.verified_versions} version(s) "
                  f"equal by hash; catalogue {len(lab.vault.secrets) - len(missing)}/{len(lab.vault.secrets)} "
                  "paths in the backup" if compared else
                  f"{manifest_path.name}: restored and unsealed, {result.verified_paths} KV path(s); made on the "
                  "Vault VM without a KV inventory, so not compared")
        return KindResult("vault", "ok", detail, rpo, rto, t.rpo, t.rto, facts)
    except HomelabError as exc:
        return KindResult("vault", "failed", f"{manifest_path.name}: {exc.message}", rpo,
                          time.monotonic() - started, t.rpo, t.rto)
    finally:
        server.down(scratch / ".homelab")
        shutil.rmtree(scratch, ignore_errors=True)


# ----------------------------------------------------------------------------------- elasticsearch
def drill_elasticsearch(lab, es, say, now: datetime) -> KindResult:
    from homelab.errors import HomelabError

    t = lab.backup.targets.elasticsearch
    repo = lab.clusters.elasticsearch.snapshot_repository.name
    try:
        good = [s for s in es.snapshots(repo) if s.get("state") == "SUCCESS"]
        if not good:
            return KindResult("elasticsearch", "failed", f"no SUCCESS snapshot in repository {repo}", None, None,
                              t.rpo, t.rto)
        snap = max(good, key=lambda s: s.get("end_time_in_millis") or 0)
        rpo = (now.timestamp() * 1000 - (snap.get("end_time_in_millis") or 0)) / 1000
        index = next((i for i in sorted(snap.get("indices") or []) if not i.startswith(".")), None)
        if index is None:
            return KindResult("elasticsearch", "failed", f"snapshot {snap['snapshot']} has no index to restore",
                              rpo, None, t.rpo, t.rto)
        temp = f"drill-{now:%Y%m%dt%H%M%S}-{index}"
        say(f"elasticsearch: restoring {index} of {snap['snapshot']} as {temp}")
        started = time.monotonic()
        import re

        es.restore(repo, snap["snapshot"], indices=index, rename_pattern=f"^{re.escape(index)}$",
                   rename_replacement=temp)
        rto = time.monotonic() - started
        docs = es.count(temp)
        es.delete_index(temp)
        say(f"elasticsearch: {temp} had {docs} document(s); deleted")
        return KindResult("elasticsearch", "ok", f"{snap['snapshot']}: {index} restored as {temp} ({docs} "
                          "documents), then deleted", rpo, rto, t.rpo, t.rto,
                          {"snapshot": snap["snapshot"], "index": index, "documents": docs})
    except HomelabError as exc:
        return KindResult("elasticsearch", "failed", exc.message, None, None, t.rpo, t.rto)


# --------------------------------------------------------------------------------------------- apps
def drill_apps(doc, client, say, now: datetime) -> KindResult:
    from homelab.errors import HomelabError
    from homelab.ops.backup_apps import latest_completed

    t = doc.lab.backup.targets.apps
    try:
        latest = latest_completed(client, doc.lab.platform.velero.namespace)
    except HomelabError as exc:
        return KindResult("apps", "failed", exc.message, None, None, t.rpo, t.rto)
    if latest is None:
        return KindResult("apps", "failed", "no Completed Velero Backup", None, None, t.rpo, t.rto)
    st = latest.get("status") or {}
    name = latest["metadata"]["name"]
    rpo = _age(st.get("completionTimestamp"), now)
    say(f"apps: newest Completed Backup {name} ({st.get('completionTimestamp')})")
    return KindResult("apps", "ok", f"newest Completed Velero Backup {name}; no restore made (RTO not measured)",
                      rpo, None, t.rpo, t.rto, {"backup": name, "completed": st.get("completionTimestamp")})
