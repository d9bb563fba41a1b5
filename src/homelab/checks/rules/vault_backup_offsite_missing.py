"""A Vault on a VM should have its backups copied off that VM."""

from __future__ import annotations

from homelab.checks.base import Finding, rule


@rule("vault-backup-offsite-missing", "warning", "the Vault VM's backups are not copied anywhere else")
def check(doc):
    lab = doc.lab
    if lab.vault.server and lab.backup.vault.offsite is None:
        yield Finding(("vault", "server"),
                      f"Vault runs on {lab.vault.server} and its scheduled backups stay on that VM: losing the VM "
                      "or its disk loses Vault and every backup of it",
                      "add backup.vault.offsite (an S3 bucket: endpoint, bucket, credentials as a Vault reference), "
                      "e.g. TrueNAS' S3 service")
