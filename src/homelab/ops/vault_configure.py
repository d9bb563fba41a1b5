"""`homelab vault configure`: bring Vault to what the lab declares, idempotently.

Items, in this order (each reported as created / changed / unchanged / deleted / missing):

  vault_mount.<mount>    KV v2 at lab.vault.kv_mount
  vault_policy.<name>    exactly `homelab.render.vault.policy_hcl(lab, name)` (byte-for-byte compare)
  vault_auth.userpass    the userpass auth method
  vault_audit.file       a file audit device (embedded: declared in the server config by `vault up`;
                         a real Vault: enabled through the API, file /var/log/vault/audit.log)
  vault_user.<name>      one userpass user per lab user: token_policies, token_ttl, token_max_ttl;
                         its generated password lives in KV at `<mount>/automation/<name>` (field
                         `password`) — written to KV BEFORE the user, so a crash in between converges
                         on the next run (the next run sets the user's password to the stored one
                         when a login with it fails). Passwords are never printed.
  vault_secret.<path>    catalogue secrets with `generate:` are created when missing (and missing
                         fields added); never overwritten (that is `vault rotate`). Catalogue secrets
                         without `generate:` are reported `missing` until set with `homelab secrets put`.
  vault_root_token.root  with revoke_root: the admin user's credentials go into the keys file, then
                         the initial root token is revoked.

`automation/` must not be readable by non-admin policies: the reference lab's policies grant
infra/ k3s/ elastic/ storage/ backup/ apps/ only. `prune=True` deletes policies and userpass users
the lab does not declare (never `root`/`default`, never by default).

Test hook: HOMELAB_VAULT_PAUSE_AFTER_WRITES=N makes the process print a marker on stderr and sleep
after its Nth write, so a test can SIGKILL it at a known point.
"""

from __future__ import annotations

import hashlib
import os
import secrets as pysecrets
import string
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from homelab.engines.vault import VaultApi, VaultError, VaultLoginError, ttl_seconds
from homelab.errors import UsageError
from homelab.ops.vault_context import VaultTarget, read_keys_file, replace_keys_file
from homelab.secrets import REDACTOR

AUTOMATION_PREFIX = "automation"
PASSWORD_FIELD = "password"
REMOTE_AUDIT_FILE = "/var/log/vault/audit.log"
PROTECTED_POLICIES = {"root", "default"}


@dataclass
class Item:
    address: str
    action: str  # created, changed, unchanged, deleted, missing
    detail: str = ""
    attrs: dict = field(default_factory=dict)

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


# --------------------------------------------------------------------------------------- helpers

_CHARSETS = {
    "alnum": string.ascii_letters + string.digits,
    "hex": "0123456789abcdef",
}


def generate_value(length: int = 32, charset: str = "alnum") -> str:
    if charset == "urlsafe":
        value = pysecrets.token_urlsafe(length)[:length]
    else:
        alphabet = _CHARSETS[charset]
        value = "".join(pysecrets.choice(alphabet) for _ in range(length))
    REDACTOR.add(value)
    return value


_writes = [0]


def after_write() -> None:
    """Count writes; the crash test pauses the process after the Nth one."""
    _writes[0] += 1
    limit = os.environ.get("HOMELAB_VAULT_PAUSE_AFTER_WRITES")
    if limit and _writes[0] == int(limit):
        sys.stderr.write(f"homelab-test-hook: paused after {_writes[0]} writes\n")
        sys.stderr.flush()
        time.sleep(3600)


def automation_path(user: str) -> str:
    return f"{AUTOMATION_PREFIX}/{user}"


def audit_file_path(target: VaultTarget) -> str:
    if target.embedded:
        from homelab.ops.vault_server import AUDIT_LOG

        return str((target.vault_dir / AUDIT_LOG).resolve())
    return REMOTE_AUDIT_FILE


def admin_user(lab) -> str | None:
    """The lab user that can manage everything: bound to a policy with sudo on path "*"."""
    def is_admin_policy(name: str) -> bool:
        pol = lab.vault.policies.get(name)
        return bool(pol) and any(r.path == "*" and "sudo" in r.capabilities for r in pol.rules)

    candidates = [u.name for u in lab.vault.users if any(is_admin_policy(p) for p in u.policies)]
    if "admin" in candidates:
        return "admin"
    return sorted(candidates)[0] if candidates else None


def _user_attrs(u) -> dict:
    return {"token_policies": sorted(u.policies), "token_ttl": ttl_seconds(u.token_ttl),
            "token_max_ttl": ttl_seconds(u.token_max_ttl)}


def _live_user_attrs(live: dict) -> dict:
    return {"token_policies": sorted(live.get("token_policies") or live.get("policies") or []),
            "token_ttl": ttl_seconds(live.get("token_ttl") or 0),
            "token_max_ttl": ttl_seconds(live.get("token_max_ttl") or 0)}


def _glob_covers(pattern: str, path: str) -> bool:
    """Does a Vault policy path (`*` suffix = prefix match, `+` = one segment) cover `path`?"""
    import re

    rx = "^" + re.escape(pattern).replace(r"\+", "[^/]+")
    rx = rx[:-2] + ".*" if pattern.endswith("*") else rx + "$"
    return re.match(rx, path) is not None


def automation_exposure(lab) -> list[str]:
    """Policies (other than the admin's) whose rules would let a non-admin read automation passwords."""
    admin = admin_user(lab)
    admin_policies = set(next((u.policies for u in lab.vault.users if u.name == admin), []))
    mount = lab.vault.kv_mount
    probes = [f"{mount}/data/{automation_path(u.name)}" for u in lab.vault.users] or [
        f"{mount}/data/{AUTOMATION_PREFIX}/x"]
    exposed = []
    for name, pol in sorted(lab.vault.policies.items()):
        if name in admin_policies:
            continue
        for rule in pol.rules:
            target = rule.path if rule.path is not None else f"{mount}/data/{(rule.secrets or '').strip('/')}"
            if "read" in rule.capabilities and any(_glob_covers(target, p) for p in probes):
                exposed.append(name)
                break
    return exposed


# --------------------------------------------------------------------------------------- configure


def configure(api: VaultApi, lab, target: VaultTarget, *, prune: bool = False, revoke_root: bool = False,
              only: set[str] | None = None, progress: Callable[[str], None] = lambda m: None) -> Report:
    api.require_ready()
    v = lab.vault
    report = Report()

    def want(address: str) -> bool:
        return only is None or address in only

    def add(item: Item) -> None:
        report.items.append(item)
        progress(f"{item.address}: {item.action}" + (f" ({item.detail})" if item.detail else ""))

    # 1. KV v2 mount
    addr = f"vault_mount.{v.kv_mount}"
    if want(addr):
        mounts = api.list_mounts()
        m = mounts.get(f"{v.kv_mount}/")
        if m is None:
            api.enable_kv2(v.kv_mount)
            after_write()
            add(Item(addr, "created", "KV v2"))
        elif m.get("type") != "kv" or str((m.get("options") or {}).get("version")) != "2":
            raise VaultError(f"{v.kv_mount}/ is mounted as {m.get('type')} "
                             f"v{(m.get('options') or {}).get('version', '1')}, not KV v2",
                             "upgrade it (vault kv enable-versioning) or choose another vault.kv_mount")
        else:
            add(Item(addr, "unchanged", "KV v2"))

    # 2. policies (exactly the rendered text)
    from homelab.render.vault import policy_hcl

    for name in sorted(v.policies):
        addr = f"vault_policy.{name}"
        if not want(addr):
            continue
        text = policy_hcl(lab, name)
        current = api.read_policy(name)
        attrs = {"sha256": hashlib.sha256(text.encode()).hexdigest()}
        if current == text:
            add(Item(addr, "unchanged", attrs=attrs))
        else:
            api.write_policy(name, text)
            after_write()
            add(Item(addr, "created" if current is None else "changed", attrs=attrs))

    # 3. userpass
    if "userpass" in v.auth and want("vault_auth.userpass"):
        if "userpass/" in api.list_auth():
            add(Item("vault_auth.userpass", "unchanged"))
        else:
            api.enable_auth("userpass")
            after_write()
            add(Item("vault_auth.userpass", "created"))

    # 4. audit device
    if v.audit and want("vault_audit.file"):
        devices = api.list_audit()
        if any(isinstance(d, dict) and d.get("type") == "file" for d in devices.values()):
            add(Item("vault_audit.file", "unchanged"))
        else:
            try:
                api.enable_audit_file(audit_file_path(target))
            except VaultError as exc:
                if "declarative" in exc.message or "config" in exc.message:
                    raise VaultError("this Vault (OpenBao) only accepts audit devices declared in its config file",
                                     "add an audit \"file\" block to the server config; `homelab vault up` "
                                     "does it for the embedded server") from None
                raise
            after_write()
            add(Item("vault_audit.file", "created", audit_file_path(target)))

    # 5. users with generated passwords in KV
    for u in sorted(v.users, key=lambda x: x.name):
        addr = f"vault_user.{u.name}"
        if not want(addr):
            continue
        add(_configure_user(api, u))

    # 6. generated catalogue secrets
    for spec in sorted(v.secrets, key=lambda s: s.path):
        addr = f"vault_secret.{spec.path}"
        if not want(addr):
            continue
        current = api.kv_read(spec.path)
        if spec.generate is None:
            if current is None:
                add(Item(addr, "missing", "set it with `homelab secrets put " + spec.path + "`"))
            else:
                absent = sorted(set(spec.fields) - set(current[0]))
                add(Item(addr, "missing" if absent else "unchanged",
                         f"fields not set: {', '.join(absent)}" if absent else ""))
            continue
        if current is None:
            data = {f: generate_value(spec.generate.length, spec.generate.charset) for f in spec.fields}
            meta = api.kv_metadata(spec.path)  # a soft-deleted latest version still counts for check-and-set
            api.kv_write(spec.path, data, cas=int(meta.get("current_version") or 0) if meta else 0)
            after_write()
            add(Item(addr, "created", f"generated {', '.join(sorted(spec.fields))}"))
            continue
        values, version = current
        absent = sorted(set(spec.fields) - set(values))
        if absent:
            merged = dict(values)
            merged.update({f: generate_value(spec.generate.length, spec.generate.charset) for f in absent})
            api.kv_write(spec.path, merged, cas=version)
            after_write()
            add(Item(addr, "changed", f"generated missing {', '.join(absent)}"))
        else:
            add(Item(addr, "unchanged"))

    # 7. prune what the lab does not own
    if prune:
        for name in api.list_policies():
            if name in PROTECTED_POLICIES or name in v.policies:
                continue
            addr = f"vault_policy.{name}"
            if want(addr):
                api.delete_policy(name)
                after_write()
                add(Item(addr, "deleted", "not in the lab"))
        if "userpass" in v.auth:
            declared = {u.name for u in v.users}
            for name in api.list_users():
                addr = f"vault_user.{name}"
                if name not in declared and want(addr):
                    api.delete_user(name)
                    after_write()
                    add(Item(addr, "deleted", "not in the lab"))

    for name in automation_exposure(lab):
        add(Item(f"vault_policy.{name}", "warning",
                 f"grants read on {v.kv_mount}/{AUTOMATION_PREFIX}/ (the automation passwords); "
                 "narrow its secrets: paths"))

    # 8. revoke the initial root token once an admin user works
    if revoke_root:
        add(_revoke_root(api, lab, target))
    return report


def _configure_user(api: VaultApi, u) -> Item:
    addr = f"vault_user.{u.name}"
    kv_path = automation_path(u.name)
    desired = _user_attrs(u)
    attrs = dict(desired)
    stored = api.kv_read(kv_path)
    live = api.read_user(u.name)
    if stored is None or not stored[0].get(PASSWORD_FIELD):
        password = generate_value(32)
        api.kv_write(kv_path, {PASSWORD_FIELD: password})
        after_write()
        api.write_user(u.name, password=password, **desired)
        after_write()
        return Item(addr, "created" if live is None else "changed",
                    f"password generated and stored at {api.kv_mount}/{kv_path}", attrs)
    password = stored[0][PASSWORD_FIELD]
    REDACTOR.add(password)
    if live is None:
        api.write_user(u.name, password=password, **desired)
        after_write()
        return Item(addr, "created", f"password from {api.kv_mount}/{kv_path}", attrs)
    notes = []
    if _live_user_attrs(live) != desired:
        api.write_user(u.name, **desired)
        after_write()
        notes.append("policies/TTLs updated")
    if not api.login_works(u.name, password):
        api.set_user_password(u.name, password)
        after_write()
        notes.append(f"password reset to the one stored at {api.kv_mount}/{kv_path}")
    return Item(addr, "changed" if notes else "unchanged", "; ".join(notes), attrs)


def _revoke_root(api: VaultApi, lab, target: VaultTarget) -> Item:
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
    admin_api = api.with_token(token)
    admin_api.list_policies()  # proves the admin token can manage Vault
    # 1) keep the admin credentials next to the unseal keys, 2) revoke, 3) drop the root token.
    keys["admin"] = {"user": name, "password": password}
    replace_keys_file(target.keys_file, keys)
    api.with_token(root).revoke_self()
    keys["root_token"] = None
    keys["root_token_revoked"] = True
    replace_keys_file(target.keys_file, keys)
    return Item(addr, "deleted", f"root token revoked; admin user {name!r} credentials kept in the keys file")


# --------------------------------------------------------------------------------------- facts


def live_facts(api: VaultApi, lab, addresses: list[str]) -> dict[str, dict]:
    """Non-secret live attributes by address (for the planner's drift detection)."""
    out: dict[str, dict] = {}
    mounts = auth = audit = None
    for address in sorted(set(addresses)):
        kind, _, name = address.partition(".")
        if kind == "vault_mount":
            mounts = mounts if mounts is not None else api.list_mounts()
            m = mounts.get(f"{name}/")
            if m:
                out[address] = {"type": m.get("type"), "version": str((m.get("options") or {}).get("version"))}
        elif kind == "vault_auth":
            auth = auth if auth is not None else api.list_auth()
            if f"{name}/" in auth:
                out[address] = {"type": auth[f"{name}/"].get("type")}
        elif kind == "vault_audit":
            audit = audit if audit is not None else api.list_audit()
            if any(isinstance(d, dict) and d.get("type") == name for d in audit.values()):
                out[address] = {"type": name}
        elif kind == "vault_policy":
            text = api.read_policy(name)
            if text is not None:
                out[address] = {"sha256": hashlib.sha256(text.encode()).hexdigest()}
        elif kind == "vault_user":
            live = api.read_user(name)
            if live is not None:
                a = _live_user_attrs(live)
                out[address] = {"policies": a["token_policies"], "token_ttl": a["token_ttl"],
                                "token_max_ttl": a["token_max_ttl"]}
        elif kind == "vault_secret":
            cur = api.kv_read(name)
            if cur is not None:
                out[address] = {"fields": sorted(cur[0]), "version": cur[1]}
    return out
