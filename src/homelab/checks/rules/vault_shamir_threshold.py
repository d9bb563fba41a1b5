"""Vault's unseal threshold cannot exceed the number of key shares."""

from __future__ import annotations

from homelab.checks.base import Finding, rule


@rule("vault-shamir-threshold", "error", "vault.init.threshold is greater than vault.init.shares")
def check(doc):
    init = doc.lab.vault.init
    if init.threshold > init.shares:
        yield Finding(("vault", "init", "threshold"),
                      f"unseal threshold {init.threshold} is greater than the {init.shares} key shares",
                      "the threshold must be <= shares (the seed's Vault: 5 shares, threshold 3)")
    elif init.shares > 1 and init.threshold == 1:
        yield Finding(("vault", "init", "threshold"),
                      f"threshold 1 with {init.shares} shares: any single share unseals Vault",
                      "use a threshold of at least 2 when you split the key")
