"""Every secret 'path#field' the lab references must be in the catalogue, vault.secrets."""

from __future__ import annotations

from homelab.checks.base import Finding, rule
from homelab.checks.rules._common import did_you_mean, known_list
from homelab.lab.refs import all_secret_refs


@rule("unknown-secret", "error", "a referenced secret path or field is not in vault.secrets")
def check(doc):
    catalogue: dict[str, set[str]] = {}
    for spec in doc.lab.vault.secrets:
        catalogue.setdefault(spec.path, set()).update(spec.fields)
    for path, secret, field in all_secret_refs(doc.lab):
        if secret not in catalogue:
            yield Finding(path, f"secret {secret!r} is not in the catalogue (vault.secrets)",
                          did_you_mean(secret, catalogue,
                                       f"add `- {{path: {secret}, fields: [{field}]}}` to vault.secrets"))
        elif field not in catalogue[secret]:
            yield Finding(path, f"secret {secret!r} has no field {field!r}",
                          did_you_mean(field, catalogue[secret],
                                       f"fields of {secret}: {known_list(catalogue[secret])}"))
