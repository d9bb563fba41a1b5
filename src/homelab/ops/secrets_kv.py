"""`homelab secrets put|get|list PATH`: app secrets in KV v2, values never on the command line.

put: new version of PATH with the given fields; fields already there and not given are kept
     (a KV v2 write replaces the whole secret, so the current fields are merged in, with
     check-and-set on the version read). Values come from the caller (stdin or a hidden prompt).
     Without field names, the fields of PATH in the lab's secret catalogue (`vault.secrets`).
get: field names, version and times; the values only when asked (`--reveal`). A path without a
     secret is not an engine failure: SecretNotFound (exit 1).
list: the keys below PATH.
"""

from __future__ import annotations

from dataclasses import dataclass

from homelab.engines.vault.client import VaultApi
from homelab.errors import HomelabError, UsageError
from homelab.secrets import REDACTOR, Secret


def _clean(path: str) -> str:
    path = path.strip().strip("/")
    if not path or ".." in path.split("/"):
        raise UsageError(f"invalid secret path {path!r}", "give a path below the KV mount, e.g. apps/plex")
    return path


class SecretNotFound(HomelabError):
    """Vault answered: there is no secret at that path (or version). Exit 1, like any lookup that finds nothing."""

    exit_code = 1


def catalogue_fields(lab, path: str) -> list[str]:
    """The fields the lab's catalogue declares for PATH (what `secrets put PATH` prompts for)."""
    path = _clean(path)
    for spec in lab.vault.secrets:
        if spec.path.strip("/") == path:
            return list(spec.fields)
    raise UsageError(f"{path} is not in the secret catalogue (vault.secrets): name the fields to set",
                     f"homelab secrets put {path} FIELD [FIELD...], or add it to vault.secrets")


def put(api: VaultApi, path: str, values: dict[str, Secret]) -> int:
    path = _clean(path)
    if not values:
        raise UsageError("no fields given", "name at least one field: homelab secrets put PATH FIELD")
    current = api.kv_read(path)
    data = dict(current[0]) if current else {}
    for field, value in values.items():
        REDACTOR.add(value)
        data[field] = value.reveal()
    return api.kv_write(path, data, cas=current[1] if current else 0)


@dataclass
class SecretView:
    path: str
    version: int
    fields: list[str]
    values: dict[str, Secret]
    created_time: str | None = None

    def to_json(self, reveal: bool = False) -> dict:
        out = {"path": self.path, "version": self.version, "fields": self.fields, "created_time": self.created_time}
        if reveal:
            out["data"] = {k: v.reveal() for k, v in sorted(self.values.items())}
        return out


def get(api: VaultApi, path: str, version: int | None = None) -> SecretView:
    path = _clean(path)
    current = api.kv_read(path, version)
    if current is None:
        raise SecretNotFound(f"no secret at {api.kv_mount}/{path}" + (f" version {version}" if version else ""),
                         "list what exists with `homelab secrets list`")
    data, ver = current
    meta = api.kv_metadata(path) or {}
    created = ((meta.get("versions") or {}).get(str(ver)) or {}).get("created_time")
    values = {k: Secret(str(v)) for k, v in data.items()}
    for v in values.values():
        REDACTOR.add(v)
    return SecretView(path, ver, sorted(data), values, created)


def list_keys(api: VaultApi, path: str = "") -> list[str]:
    path = path.strip().strip("/")
    return api.kv_list(f"{path}/" if path else "")
