"""Each secret path appears once in the catalogue, vault.secrets."""

from __future__ import annotations

from homelab.checks.base import Finding, rule


@rule("vault-secret-duplicate", "error", "a secret path is listed twice in vault.secrets")
def check(doc):
    first: set[str] = set()
    for k, spec in enumerate(doc.lab.vault.secrets):
        path = spec.path.strip("/")
        if path in first:
            yield Finding(("vault", "secrets", k, "path"), f"secret {spec.path} is listed twice in vault.secrets",
                          "merge the entries: one path with all its fields")
        first.add(path)
