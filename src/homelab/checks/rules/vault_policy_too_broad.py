"""Only the admin policy may grant `sudo` or any capability on every path (`*`)."""

from __future__ import annotations

from homelab.checks.base import Finding, rule

ADMIN = "admin"
EVERYTHING = {"*", "+/*", "/*"}


@rule("vault-policy-too-broad", "error", "a non-admin Vault policy grants sudo, or a rule on everything (*)")
def check(doc):
    for name, policy in doc.lab.vault.policies.items():
        if name == ADMIN:
            continue
        for k, rl in enumerate(policy.rules):
            base = ("vault", "policies", name, "rules", k)
            if "sudo" in rl.capabilities:
                yield Finding(base + ("capabilities",), f"policy {name}: grants `sudo` (root-protected paths)",
                              "grant sudo only in the admin policy; automation needs read/list")
            for key in ("path", "secrets"):
                value = getattr(rl, key)
                if value is not None and value.strip() in EVERYTHING and "deny" not in rl.capabilities:
                    what = "every Vault path" if key == "path" else "every secret in the KV mount"
                    yield Finding(base + (key,), f"policy {name}: a rule on `{value}` covers {what}",
                                  "narrow the path (e.g. apps/*), or move this rule to the admin policy")
