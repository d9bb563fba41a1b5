"""`homelab vault rotate [PATH...]`: new automation passwords and new generated secret values.

Rotatable paths (below the KV mount): `automation/<user>` for every lab user and every catalogue
secret with `generate:`. No PATH = all of them. KV v2 keeps the previous value as version N-1.
The new value is written to KV first (check-and-set on the version read), then the user's password
is changed; if the process dies in between, `vault configure` resets the user to the stored value.
Values are never printed. Each rotation names what keeps a copy of the old value and must be rolled
(lab/secret_uses.py: the K3s token, the elastic password, app Secrets, the External Secrets login).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from homelab.engines.vault.client import VaultApi, VaultError
from homelab.engines.vault.engine import generate_value
from homelab.errors import UsageError
from homelab.lab.secret_uses import Roll, rolls_for
from homelab.lab.vault_access import PASSWORD_FIELD, automation_path


@dataclass
class Rotation:
    path: str
    kind: str  # "user" or "generated"
    old_version: int | None
    new_version: int | None
    dry_run: bool = False
    roll: list[Roll] = field(default_factory=list)  # what keeps the old value and must be rolled

    def to_json(self) -> dict:
        return {"path": self.path, "kind": self.kind, "old_version": self.old_version,
                "new_version": self.new_version, "dry_run": self.dry_run, "roll": [r.to_json() for r in self.roll]}


def rotatable(lab) -> dict[str, tuple[str, object]]:
    out: dict[str, tuple[str, object]] = {}
    for u in lab.vault.users:
        out[automation_path(u.name)] = ("user", u)
    for spec in lab.vault.secrets:
        if spec.generate is not None:
            out[spec.path] = ("generated", spec)
    return dict(sorted(out.items()))


def rotate(api: VaultApi, lab, paths: list[str] | None = None, *, dry_run: bool = False) -> list[Rotation]:
    api.require_ready()
    candidates = rotatable(lab)
    chosen = [p.strip("/") for p in paths] if paths else list(candidates)
    unknown = [p for p in chosen if p not in candidates]
    if unknown:
        raise UsageError(f"cannot rotate {', '.join(unknown)}: not an automation password or a generated secret",
                         "rotatable paths: " + ", ".join(candidates))
    out = []
    for path in sorted(set(chosen)):
        kind, obj = candidates[path]
        current = api.kv_read(path)
        old_version = current[1] if current else None
        if kind == "user" and api.read_user(obj.name) is None:
            raise VaultError(f"user {obj.name!r} does not exist in Vault yet", "run `homelab vault configure` first")
        if dry_run:
            out.append(Rotation(path, kind, old_version, (old_version or 0) + 1, True, rolls_for(lab, path)))
            continue
        if kind == "user":
            password = generate_value(32)
            new_version = api.kv_write(path, {PASSWORD_FIELD: password}, cas=old_version or 0)
            api.set_user_password(obj.name, password)
        else:
            data = dict(current[0]) if current else {}
            data.update({f: generate_value(obj.generate.length, obj.generate.charset) for f in obj.fields})
            new_version = api.kv_write(path, data, cas=old_version or 0)
        out.append(Rotation(path, kind, old_version, new_version, roll=rolls_for(lab, path)))
    return out
