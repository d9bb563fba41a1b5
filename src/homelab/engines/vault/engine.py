"""The Vault engine: reads the live state of the resources the plan names and executes the plan's
changes, one address at a time. It decides nothing: what should exist (and the exact policy text) is in
the plan (`homelab.plan.desired`); the engine only knows how to make one change of one kind.

Addresses (plan/address.py) and what each action does:

  vault_mount.<mount>   create: enable KV v2 at <mount>/. An existing mount of another kind is an error
                        (never converted). delete: refused (disabling a mount destroys its secrets).
  vault_auth.userpass   create: enable the auth method. delete: refused (it would drop every user).
  vault_audit.file      create: enable a file audit device (/var/log/vault/audit.log on a real Vault; the
                        embedded OpenBao declares it in its config, see server.py). delete: disable it.
  vault_policy.<name>   create/update: write `after["policy"]`, the text the plan carries (the one
                        `homelab render` writes to vault/policies/<name>.hcl). delete: delete the policy.
  vault_user.<name>     create/update: the user's password lives in KV at `automation/<name>` (field
                        `password`): generated and written to KV BEFORE the user, so a crash in between
                        converges next time; then the user with token_policies/TTLs; when the stored
                        password no longer logs in, it is set again. delete: delete the user.
  vault_secret.<path>   create/update: generate the fields that are missing (`after["fields"]`, length and
                        charset); existing values are never overwritten (that is `homelab vault rotate`).
                        delete: soft-delete the latest version (KV v2 keeps it; `undelete` restores it).

Facts (for drift): the mount's type and version, the auth method, the audit device, a policy's sha256,
a user's policies/TTLs and whether its stored password logs in (`login`), a secret's field names and
version — never a value. Every kind is in `fact_types`: absence from the facts means "not in Vault".

Test hook: HOMELAB_VAULT_PAUSE_AFTER_WRITES=N makes the process print a marker on stderr and sleep after
its Nth write, so a test can SIGKILL it at a known point.
"""

from __future__ import annotations

import hashlib
import os
import secrets as pysecrets
import string
import sys
import time

from homelab.engines.base import ApplyResult, Change, Engine, EngineContext, EngineStatus
from homelab.engines.vault import pki
from homelab.engines.vault.client import (
    ClientFactory,
    VaultApi,
    VaultError,
    host_of,
    hvac_client,
    ttl_seconds,
)
from homelab.engines.vault.server import AUDIT_LOG
from homelab.engines.vault.target import VaultTarget, api_for, target_for
from homelab.lab.vault_access import PASSWORD_FIELD, automation_path
from homelab.secrets import REDACTOR

KINDS = ("vault_mount", "vault_auth", "vault_audit", "vault_policy", "vault_user", "vault_secret", *pki.KINDS)
REMOTE_AUDIT_FILE = "/var/log/vault/audit.log"
PROTECTED_POLICIES = frozenset({"root", "default"})
LOGIN_OK = "ok"

_CHARSETS = {"alnum": string.ascii_letters + string.digits, "hex": "0123456789abcdef"}


def generate_value(length: int = 32, charset: str = "alnum") -> str:
    """A new random value (registered with the redactor before anyone can print it)."""
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


def audit_file_path(target: VaultTarget) -> str:
    if target.embedded:
        return str((target.vault_dir / AUDIT_LOG).resolve())
    return REMOTE_AUDIT_FILE


def user_attrs(live: dict) -> dict:
    """A userpass user as Vault reports it, in the plan's terms."""
    return {"policies": sorted(live.get("token_policies") or live.get("policies") or []),
            "token_ttl": ttl_seconds(live.get("token_ttl") or 0),
            "token_max_ttl": ttl_seconds(live.get("token_max_ttl") or 0)}


def login_state(api: VaultApi, user: str) -> str:
    """`ok` when the password stored at automation/<user> logs in, else why not."""
    stored = api.kv_read(automation_path(user))
    if stored is None or not stored[0].get(PASSWORD_FIELD):
        return f"no password stored at {api.kv_mount}/{automation_path(user)}"
    password = stored[0][PASSWORD_FIELD]
    REDACTOR.add(password)
    return LOGIN_OK if api.login_works(user, password) else f"the password at {automation_path(user)} is refused"


# --------------------------------------------------------------------------------------- facts


def read_live(api: VaultApi, addresses: list[str]) -> dict[str, dict]:
    """Non-secret live attributes of the addresses that exist in Vault."""
    out: dict[str, dict] = {}
    cache: dict[str, dict] = {}

    def listing(key: str, call) -> dict:
        if key not in cache:
            cache[key] = call()
        return cache[key]

    for address in sorted(set(addresses)):
        kind, _, name = address.partition(".")
        if kind == "vault_mount":
            m = listing("mounts", api.list_mounts).get(f"{name}/")
            if m:
                out[address] = {"type": m.get("type"), "version": str((m.get("options") or {}).get("version"))}
        elif kind == "vault_auth":
            auth = listing("auth", api.list_auth)
            if f"{name}/" in auth:
                out[address] = {"type": auth[f"{name}/"].get("type")}
        elif kind == "vault_audit":
            if any(isinstance(d, dict) and d.get("type") == name for d in listing("audit", api.list_audit).values()):
                out[address] = {"type": name}
        elif kind == "vault_policy":
            text = api.read_policy(name)
            if text is not None:
                out[address] = {"sha256": hashlib.sha256(text.encode()).hexdigest()}
        elif kind == "vault_user":
            live = api.read_user(name)
            if live is not None:
                out[address] = {**user_attrs(live), "login": login_state(api, name)}
        elif kind == "vault_secret":
            cur = api.kv_read(name)
            if cur is not None:
                out[address] = {"fields": sorted(cur[0]), "version": cur[1]}
    return out


# --------------------------------------------------------------------------------------- changes


def _mount(api: VaultApi, target: VaultTarget, change: Change) -> str:
    mount = change.address.partition(".")[2]
    if change.action == "delete":
        raise VaultError(f"homelab never disables the KV mount {mount}/: that would destroy every secret in it",
                         "disable it by hand (`bao secrets disable`) if you really mean it")
    m = api.list_mounts().get(f"{mount}/")
    if m is None:
        api.enable_kv2(mount)
        after_write()
        return "KV v2 enabled"
    if m.get("type") != "kv" or str((m.get("options") or {}).get("version")) != "2":
        raise VaultError(f"{mount}/ is mounted as {m.get('type')} v{(m.get('options') or {}).get('version', '1')}, "
                         "not KV v2", "upgrade it (vault kv enable-versioning) or choose another vault.kv_mount")
    return "KV v2 already enabled"


def _auth(api: VaultApi, target: VaultTarget, change: Change) -> str:
    method = change.address.partition(".")[2]
    if change.action == "delete":
        raise VaultError(f"homelab never disables the {method} auth method: every user of it would be lost",
                         "disable it by hand if you really mean it")
    if f"{method}/" in api.list_auth():
        return f"{method} already enabled"
    api.enable_auth(method)
    after_write()
    return f"{method} enabled"


def _audit(api: VaultApi, target: VaultTarget, change: Change) -> str:
    if change.action == "delete":
        for path, dev in api.list_audit().items():
            if isinstance(dev, dict) and dev.get("type") == "file":
                api.disable_audit(path.rstrip("/"))
                after_write()
        return "file audit device disabled"
    if any(isinstance(d, dict) and d.get("type") == "file" for d in api.list_audit().values()):
        return "a file audit device is enabled"
    file_path = audit_file_path(target)
    try:
        api.enable_audit_file(file_path)
    except VaultError as exc:
        if "declarative" in exc.message or "config" in exc.message:
            raise VaultError("this Vault (OpenBao) only accepts audit devices declared in its config file",
                             "add an audit \"file\" block to the server config; `homelab vault up` "
                             "does it for the embedded server") from None
        raise
    after_write()
    return f"file audit device at {file_path}"


def _policy(api: VaultApi, target: VaultTarget, change: Change) -> str:
    name = change.address.partition(".")[2]
    if change.action == "delete":
        if name in PROTECTED_POLICIES:
            raise VaultError(f"the {name} policy is Vault's own and cannot be deleted")
        api.delete_policy(name)
        after_write()
        return "deleted"
    text = (change.after or {}).get("policy")
    if not text:
        raise VaultError(f"the plan carries no text for {change.address}", "make a new plan with this homelab")
    api.write_policy(name, text)
    after_write()
    return "written"


def _user(api: VaultApi, target: VaultTarget, change: Change) -> str:
    name = change.address.partition(".")[2]
    if change.action == "delete":
        api.delete_user(name)
        after_write()
        return "deleted"
    after = change.after or {}
    attrs = {"token_policies": list(after.get("policies") or []), "token_ttl": after.get("token_ttl", 0),
             "token_max_ttl": after.get("token_max_ttl", 0)}
    kv_path = automation_path(name)
    stored = api.kv_read(kv_path)
    if stored is None or not stored[0].get(PASSWORD_FIELD):
        password = generate_value(32)
        api.kv_write(kv_path, {PASSWORD_FIELD: password})
        after_write()
        api.write_user(name, password=password, **attrs)
        after_write()
        return f"password generated and stored at {api.kv_mount}/{kv_path}"
    password = stored[0][PASSWORD_FIELD]
    REDACTOR.add(password)
    live = api.read_user(name)
    if live is None:
        api.write_user(name, password=password, **attrs)
        after_write()
        return f"password from {api.kv_mount}/{kv_path}"
    notes = []
    if user_attrs(live) != {"policies": sorted(attrs["token_policies"]), "token_ttl": attrs["token_ttl"],
                            "token_max_ttl": attrs["token_max_ttl"]}:
        api.write_user(name, **attrs)
        after_write()
        notes.append("policies/TTLs updated")
    if not api.login_works(name, password):
        api.set_user_password(name, password)
        after_write()
        notes.append(f"password reset to the one stored at {api.kv_mount}/{kv_path}")
    return "; ".join(notes) or "up to date"


def _secret(api: VaultApi, target: VaultTarget, change: Change) -> str:
    path = change.address.partition(".")[2]
    if change.action == "delete":
        if api.kv_read(path) is not None:
            api.kv_delete_latest(path)
            after_write()
        return "latest version soft-deleted (recoverable with undelete)"
    after = change.after or {}
    length, charset = int(after.get("length") or 32), after.get("charset") or "alnum"
    current = api.kv_read(path)
    if current is None:
        data = {f: generate_value(length, charset) for f in after.get("fields") or []}
        meta = api.kv_metadata(path)  # a soft-deleted latest version still counts for check-and-set
        api.kv_write(path, data, cas=int(meta.get("current_version") or 0) if meta else 0)
        after_write()
        return f"generated {', '.join(sorted(data))}"
    values, version = current
    absent = sorted(set(after.get("fields") or []) - set(values))
    if not absent:
        return "every field present"
    merged = dict(values)
    merged.update({f: generate_value(length, charset) for f in absent})
    api.kv_write(path, merged, cas=version)
    after_write()
    return f"generated missing {', '.join(absent)}"


HANDLERS = {"vault_mount": _mount, "vault_auth": _auth, "vault_audit": _audit, "vault_policy": _policy,
            "vault_user": _user, "vault_secret": _secret,
            "vault_pki": lambda api, target, change: pki.apply_pki(api, target.address, change),
            "vault_pki_role": lambda api, target, change: pki.apply_role(api, change)}


def pki_wanted(doc) -> dict[str, dict]:
    """What the lab's PKI roles are (lab/pki_roles.py), to read their live fields in the plan's terms."""
    from homelab.lab.pki_roles import pki_roles

    return {r.name: {"mount": doc.lab.pki.vault.intermediate_mount, "params": r.params, "auth_method": r.auth,
                     "common_names": list(r.common_names)} for r in pki_roles(doc.lab, doc.inventory)}


# --------------------------------------------------------------------------------------- engine


class VaultEngine(Engine):
    name = "vault"
    fact_types = frozenset(KINDS)

    def __init__(self, factory: ClientFactory = hvac_client):
        self.factory = factory

    def status(self, ctx: EngineContext) -> EngineStatus:
        """Without credentials (no VAULT_TOKEN, no keys file, no token from the command) the engine is
        "not configured" and contacts nothing — nothing talks to a real lab until the user gave a way in."""
        try:
            target = target_for(ctx, require_running=False)
        except VaultError as exc:
            return EngineStatus(configured=False, reachable=False, reason=exc.message)
        credentials = bool(os.environ.get("VAULT_TOKEN") or ctx.options.get("vault_token") or target.keys_file.exists())
        if target.embedded and not target.address:  # before anything else: there is no server to talk to
            then = "`homelab vault unseal`" if credentials else "`homelab vault init` and `homelab vault unseal`"
            return EngineStatus(configured=credentials, reachable=False,
                                reason=f"the embedded Vault is not running: start it with `homelab vault up`, then {then}")
        if not credentials:
            return EngineStatus(configured=False, reachable=False,
                                reason=f"no Vault credentials: VAULT_TOKEN is not set and {target.keys_file} does "
                                       "not exist (`homelab vault init` writes it)")
        try:
            target = target_for(ctx)
            VaultApi(target.address, verify=target.verify, factory=self.factory).require_ready()
        except VaultError as exc:
            return EngineStatus(configured=True, reachable=False, reason=exc.message)
        return EngineStatus(configured=True, reachable=True, reason=f"Vault at {host_of(target.address)} is unsealed")

    def read_facts(self, ctx: EngineContext, addresses: list[str]) -> dict[str, dict]:
        api = api_for(ctx, factory=self.factory)
        ours = [a for a in addresses if a.partition(".")[0] in pki.KINDS]
        facts = read_live(api, [a for a in addresses if a not in ours])
        return facts | (pki.read_live(api, ours, pki_wanted(ctx.doc)) if ours else {})

    def discover(self, ctx: EngineContext) -> list[str]:
        """Policies and userpass users in Vault, whoever made them (Vault's own policies excepted)."""
        api = api_for(ctx, factory=self.factory)
        # pki-* policies belong to vault_pki_role resources (engines/vault/pki.py), not to vault_policy.
        found = [f"vault_policy.{n}" for n in api.list_policies()
                 if n not in PROTECTED_POLICIES and not n.startswith("pki-")]
        if "userpass/" in api.list_auth():
            found += [f"vault_user.{n}" for n in api.list_users()]
        return sorted(found)

    def partition(self, changes: list[Change]) -> list[list[Change]]:
        return [[c] for c in sorted(changes, key=lambda c: c.address)]

    def apply(self, ctx: EngineContext, changes: list[Change]) -> list[ApplyResult]:
        target = target_for(ctx)
        api = api_for(ctx, factory=self.factory)
        results = []
        for change in sorted(changes, key=lambda c: c.address):
            kind = change.address.partition(".")[0]
            if change.action == "no-op":
                continue
            handler = HANDLERS.get(kind)
            if handler is None:
                raise VaultError(f"the vault engine cannot apply {change.address}")
            detail = handler(api, target, change)
            ctx.progress(f"{change.address}: {detail}")
            results.append(ApplyResult(change.address, True, detail))
        return results
