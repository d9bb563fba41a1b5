"""Desired Vault resources: the KV v2 mount, auth methods, the audit device, policies (with the exact
text `homelab render` writes), userpass users and the generated catalogue secrets."""

from __future__ import annotations

import hashlib

from homelab.plan.desired import vault_pki
from homelab.plan.desired.common import Builder, address
from homelab.render.vault import policy_hcl


def seconds(ttl: str) -> int:
    """'20m' -> 1200 (the model allows \\d+[smhd]); Vault reports TTLs in seconds."""
    return int(ttl[:-1]) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[ttl[-1]]


def add(b: Builder, doc) -> tuple[str, ...]:
    """Add the Vault layer; returns its addresses (what everything reading a secret depends on)."""
    v = doc.lab.vault
    mount = b.add("vault_mount", v.kv_mount, {"path": v.kv_mount, "type": "kv", "version": "2"},
                  source=("vault", "kv_mount"))
    added = [mount]
    for i, method in enumerate(v.auth):
        if method == "token":  # always enabled in Vault; nothing to apply
            continue
        added.append(b.add("vault_auth", method, {"type": method}, source=("vault", "auth", i)))
    if v.audit:
        added.append(b.add("vault_audit", "file", {"type": "file"}, source=("vault", "audit")))
    for name in sorted(v.policies):
        text = policy_hcl(doc.lab, name)
        added.append(b.add("vault_policy", name, {
            "description": v.policies[name].description, "kv_mount": v.kv_mount,
            "rules": len(v.policies[name].rules), "sha256": hashlib.sha256(text.encode("utf-8")).hexdigest(),
            "policy": text,
        }, source=("vault", "policies", name)))
    for i, user in enumerate(v.users):
        deps = [address("vault_policy", p) for p in sorted(set(user.policies)) if p in v.policies]
        if "userpass" in v.auth:
            deps.append(address("vault_auth", "userpass"))
        deps.append(mount)  # its password is kept in KV (automation/<user>)
        added.append(b.add("vault_user", user.name, {
            "policies": sorted(user.policies), "token_ttl": seconds(user.token_ttl),
            "token_max_ttl": seconds(user.token_max_ttl),
            "login": "ok",  # the password homelab keeps at automation/<user> logs in
        }, depends_on=tuple(sorted(deps)), source=("vault", "users", i)))
    for i, spec in enumerate(v.secrets):
        if spec.generate is None:  # values the user provides (`homelab secrets put`) are not applied here
            continue
        added.append(b.add("vault_secret", spec.path, {
            "fields": sorted(spec.fields), "length": spec.generate.length, "charset": spec.generate.charset,
        }, depends_on=(mount,), source=("vault", "secrets", i)))
    added += vault_pki.add(b, doc, mount)  # the lab's CA: mounts, issuing roles, their auth
    return tuple(sorted(added))
