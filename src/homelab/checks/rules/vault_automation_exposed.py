"""Only the admin may read the automation users' generated passwords (`<mount>/automation/*`)."""

from __future__ import annotations

from homelab.checks.base import Finding, rule
from homelab.lab.vault_access import AUTOMATION_PREFIX, automation_exposure


@rule("vault-automation-exposed", "warning",
      "a non-admin Vault policy can read the automation users' passwords (automation/)")
def check(doc):
    mount = doc.lab.vault.kv_mount
    for name in automation_exposure(doc.lab):
        yield Finding(("vault", "policies", name), f"policy {name} can read {mount}/{AUTOMATION_PREFIX}/ "
                      "where homelab keeps every automation user's password: whoever holds it can log in as "
                      "the admin user", "narrow its rules to the directories it needs (e.g. apps/*, infra/*)",
                      key=True)
