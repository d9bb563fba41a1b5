"""Each Vault userpass account is defined once."""

from __future__ import annotations

from homelab.checks.base import Finding, rule


@rule("vault-user-duplicate", "error", "a Vault user is defined twice")
def check(doc):
    first: set[str] = set()
    for u, user in enumerate(doc.lab.vault.users):
        if user.name in first:
            yield Finding(("vault", "users", u, "name"), f"Vault user {user.name} is defined twice",
                          "merge the two entries (list every policy once)")
        first.add(user.name)
