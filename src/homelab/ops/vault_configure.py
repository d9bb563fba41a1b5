"""`homelab vault configure`: the Vault layer of the plan, applied — a short alias of
`homelab apply --target 'vault_*'` (plus `--prune`), recorded in state like any apply.

What it brings Vault to is decided by the plan (plan/desired/vault.py) and done by the Vault engine
(engines/vault/engine.py): KV v2, the policies with exactly the rendered text, userpass, the audit
device, one userpass user per lab user (password generated and kept at `automation/<user>`), and the
generated catalogue secrets. This module adds what a person running it wants to hear:

* a report item per resource — created / changed / unchanged / deleted — from the plan and its apply;
* the catalogue secrets the user sets (`homelab secrets put`), reported `missing` until they exist;
* with `revoke_root`, the last step of a first setup: keep the admin user's credentials in the keys
  file, then revoke the initial root token.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from homelab.engines.vault.client import VaultApi, VaultError, VaultLoginError
from homelab.engines.vault.target import VaultTarget, read_keys_file, replace_keys_file
from homelab.errors import EngineError, UsageError
from homelab.lab.vault_access import PASSWORD_FIELD, admin_user, automation_path

TARGET = "vault_*"
ACTION_WORD = {"create": "created", "update": "changed", "replace": "changed", "delete": "deleted",
               "no-op": "unchanged"}


@dataclass
class Item:
    address: str
    action: str  # created, changed, unchanged, recorded (live already, now in state), deleted, missing
    detail: str = ""

    def to_json(self) -> dict:
        return {"address": self.address, "action": self.action, "detail": self.detail}


@dataclass
class Report:
    items: list[Item] = field(default_factory=list)

    @property
    def changes(self) -> int:
        return sum(1 for i in self.items if i.action in ("created", "changed", "deleted"))

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for i in self.items:
            out[i.action] = out.get(i.action, 0) + 1
        return dict(sorted(out.items()))

    def to_json(self) -> dict:
        return {"changes": self.changes, "counts": self.counts(), "items": [i.to_json() for i in self.items]}


def configure(session, api: VaultApi, target: VaultTarget, *, prune: bool = False, revoke_root: bool = False,
              break_lock: bool = False, progress: Callable[[str], None] = lambda m: None) -> Report:
    """Plan the Vault layer (`--target vault_*`), apply it, and report. `api` is the authenticated
    client the command logged in with (the session's engine uses the same token)."""
    plan = session.plan(targets=[TARGET], prune=prune)
    layer = plan.layer("vault")
    if layer is not None and not layer.usable:
        raise EngineError(f"the Vault layer cannot be applied: {layer.describe()}")
    outcomes = {}
    if plan.has_changes:
        applied = session.apply(plan, break_lock=break_lock)
        outcomes = {o.address: o for o in applied.outcomes}
        failed = applied.failed
        if failed:
            first = failed[0]
            raise EngineError(f"{first.address}: {first.message}", "fix the cause and run `homelab vault configure` "
                              "again: what succeeded is recorded", output_tail=first.output_tail)
    report = Report()
    for change in sorted(plan.changes, key=lambda c: c.address):
        done = outcomes.get(change.address)
        detail = done.message if done is not None and done.message else change.reason
        word = "recorded" if _only_recorded(change) else ACTION_WORD[change.action]
        report.items.append(Item(change.address, word, detail))
        progress(f"{change.address}: {word}")
    report.items += catalogue_status(api, session.doc.lab)
    if revoke_root:
        report.items.append(revoke_root_token(api, session.doc.lab, target))
    return report


def _only_recorded(change) -> bool:
    """An update that changes nothing live: it was there already and is now recorded in state."""
    before = change.before or {}
    return change.action == "update" and bool(before) and all(
        (change.after or {}).get(k) == v for k, v in before.items())


def catalogue_status(api: VaultApi, lab) -> list[Item]:
    """The catalogue secrets the user sets: `missing` (with what is missing) until every field exists."""
    items = []
    for spec in sorted(lab.vault.secrets, key=lambda s: s.path):
        if spec.generate is not None:
            continue
        address = f"vault_secret.{spec.path}"
        current = api.kv_read(spec.path)
        if current is None:
            items.append(Item(address, "missing", f"set it with `homelab secrets put {spec.path}`"))
            continue
        absent = sorted(set(spec.fields) - set(current[0]))
        items.append(Item(address, "missing" if absent else "unchanged",
                          f"fields not set: {', '.join(absent)}" if absent else ""))
    return items


def revoke_root_token(api: VaultApi, lab, target: VaultTarget) -> Item:
    """Keep the admin user's credentials next to the unseal keys, then revoke the initial root token."""
    addr = "vault_root_token.root"
    name = admin_user(lab)
    if name is None:
        raise UsageError("no admin user to keep access with after revoking the root token",
                         "declare a user bound to a policy with {path: \"*\", capabilities: [..., sudo]}")
    keys = read_keys_file(target.keys_file)
    root = keys.get("root_token")
    if not root:
        return Item(addr, "unchanged", "already revoked")
    stored = api.kv_read(automation_path(name))
    if stored is None:
        raise VaultError(f"the admin user {name!r} has no stored password yet", "run configure without --revoke-root first")
    password = stored[0][PASSWORD_FIELD]
    try:
        token = api.login_userpass(name, password)
    except VaultLoginError:
        raise VaultError(f"the admin user {name!r} cannot log in; not revoking the root token") from None
    api.with_token(token).list_policies()  # proves the admin token can manage Vault
    # 1) keep the admin credentials next to the unseal keys, 2) revoke, 3) drop the root token.
    keys["admin"] = {"user": name, "password": password}
    replace_keys_file(target.keys_file, keys)
    api.with_token(root).revoke_self()
    keys["root_token"] = None
    keys["root_token_revoked"] = True
    replace_keys_file(target.keys_file, keys)
    return Item(addr, "deleted", f"root token revoked; admin user {name!r} credentials kept in the keys file")
