"""Desired PKI resources in Vault (part of the vault layer; lab/pki_roles.py says what they are):

  vault_pki.<root_mount>          the root CA (generated in Vault; its key never leaves it)
  vault_pki.<intermediate_mount>  the intermediate that issues everything, signed by the root
  vault_pki.step-ca               with pki.ca: step-ca, step-ca's intermediate (key made by homelab, signed by
                                  the root, kept in KV at pki/step-ca for the step_ca role)
  vault_auth.cert / approle       the auth methods the renewal timers and cert-manager log in with
  vault_pki_role.<name>           one issuing role with its policy pki-<name> and its auth role
"""

from __future__ import annotations

import hashlib

from homelab.lab.certificates import duration_seconds
from homelab.lab.pki_roles import (
    APPROLE,
    intermediate_common_name,
    pki_roles,
    root_common_name,
    step_ca_common_name,
)
from homelab.plan.desired.common import Builder, digest


def add(b: Builder, doc, kv_mount: str) -> list[str]:
    lab = doc.lab
    pki = lab.pki
    root = b.add("vault_pki", pki.vault.root_mount, {
        "kind": "root", "common_name": root_common_name(lab), "ttl": duration_seconds(pki.vault.root_ttl),
    }, source=("pki", "vault", "root_mount"))
    inter = b.add("vault_pki", pki.vault.intermediate_mount, {
        "kind": "intermediate", "common_name": intermediate_common_name(lab), "parent": pki.vault.root_mount,
        "ttl": duration_seconds(pki.vault.intermediate_ttl),
    }, depends_on=(root,), source=("pki", "vault", "intermediate_mount"))
    added = [root, inter]
    if pki.ca == "step-ca":
        added.append(b.add("vault_pki", "step-ca", {
            "kind": "step-ca", "common_name": step_ca_common_name(lab), "parent": pki.vault.root_mount,
            "ttl": duration_seconds(pki.vault.intermediate_ttl), "kv_path": "pki/step-ca",
        }, depends_on=(root, kv_mount), source=("pki", "step_ca")))
    roles = pki_roles(lab, doc.inventory)
    methods = {}
    for method in sorted({r.auth for r in roles}):
        methods[method] = b.add("vault_auth", method, {"type": method}, source=("pki",))
        added.append(methods[method])
    for role in roles:
        deps = [inter, methods[role.auth]] + ([kv_mount] if role.auth == APPROLE else [])
        added.append(b.add("vault_pki_role", role.name, {
            "mount": pki.vault.intermediate_mount, "role": digest(role.params), "params": role.params,
            "policy": role.policy, "policy_sha256": hashlib.sha256(role.policy.encode()).hexdigest(),
            "auth_method": role.auth, "auth": "ok", "common_names": list(role.common_names),
        }, depends_on=tuple(sorted(deps)), source=role.source))
    return added

