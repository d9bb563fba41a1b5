"""A Vault user may only be bound to policies defined under vault.policies (or Vault's `default`)."""

from __future__ import annotations

from homelab.checks.base import Finding, rule
from homelab.checks.rules._common import did_you_mean, known_list

BUILTIN = {"default"}


@rule("unknown-policy", "error", "a Vault user is bound to a policy not in vault.policies")
def check(doc):
    policies = list(doc.lab.vault.policies)
    for u, user in enumerate(doc.lab.vault.users):
        for k, name in enumerate(user.policies):
            if name not in policies and name not in BUILTIN:
                yield Finding(("vault", "users", u, "policies", k), f"user {user.name}: unknown policy {name!r}",
                              did_you_mean(name, policies, f"defined policies: {known_list(policies)}"))
