"""The ClusterSecretStore needs a least-privilege Vault identity: a user whose policies read every path
the rendered ExternalSecrets use, read-only, and no secret tree the cluster does not use."""

from __future__ import annotations

from homelab.checks.base import Finding, rule
from homelab.diagnostics import Severity
from homelab.lab.vault_access import external_secret_paths, external_secrets_on, store_user_gaps

WHERE = ("platform", "external_secrets", "enabled")


def _suggestion(paths: list[str]) -> str:
    by_dir: dict[str, list[str]] = {}
    for p in paths:
        by_dir.setdefault(p.split("/", 1)[0], []).append(p)
    targets = [f"{d}/*" if len(ps) > 1 else ps[0] for d, ps in sorted(by_dir.items())]
    rules = ", ".join(f"{{secrets: {t}, capabilities: [read]}}" for t in targets)
    return ("add a read-only policy, e.g. vault.policies.external-secrets with rules " + rules
            + ", and a user bound to it: {name: external-secrets, policies: [external-secrets]}")


@rule("external-secrets-policy-missing", "error",
      "no least-privilege Vault user can read every path the rendered ExternalSecrets use")
def check(doc):
    # What the store must read is exactly what the Kubernetes renderer emits ExternalSecrets for: both
    # take it from spec.vault_access.

    lab = doc.lab
    if not external_secrets_on(lab):
        return
    paths = external_secret_paths(lab)
    if not paths:
        return
    gaps = {u.name: store_user_gaps(lab, u) for u in lab.vault.users}
    if any(g == ([], []) for g in gaps.values()):
        return
    readers = sorted(name for name, (missing, _) in gaps.items() if not missing)
    if readers:
        why = "; ".join(f"{name}: {'; '.join(gaps[name][1])}" for name in readers[:3])
        yield Finding(WHERE, "the ExternalSecrets read " + ", ".join(paths) + ", but only over-broad Vault users "
                      f"can read them all ({why})", _suggestion(paths), severity=Severity.WARNING)
        return
    best = min(gaps.items(), key=lambda kv: (len(kv[1][0]), kv[0]), default=None)
    detail = f" (closest: user {best[0]} cannot read {', '.join(best[1][0])})" if best else " (vault.users is empty)"
    yield Finding(WHERE, "no Vault user can read every path the ExternalSecrets use: " + ", ".join(paths) + detail,
                  _suggestion(paths))
