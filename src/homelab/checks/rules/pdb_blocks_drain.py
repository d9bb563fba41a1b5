"""An app whose PodDisruptionBudget (in its Helm values) allows no eviction: every drain stops on it.

The eviction API refuses (429) any eviction that would leave fewer than `minAvailable` pods (or more than
`maxUnavailable` missing); with `minAvailable` at the replica count, or `maxUnavailable: 0`, no pod of the
app can ever be evicted, so `homelab node drain`, `node remove` and `upgrade k3s` wait for their drain
timeout on the node it runs on and stop. Read from the values the charts commonly take:
`podDisruptionBudget` or `pdb` (`minAvailable`, `maxUnavailable`) and `replicaCount` or `replicas`
(1 when not set, the usual chart default).
"""

from __future__ import annotations

from homelab.checks.base import Finding, rule

PDB_KEYS = ("podDisruptionBudget", "pdb")
REPLICA_KEYS = ("replicaCount", "replicas")


def _int(value):
    return value if isinstance(value, int) and not isinstance(value, bool) else None


@rule("pdb-blocks-drain", "error", "an app's PodDisruptionBudget allows no eviction, so no node it runs on can be drained")
def check(doc):
    for i, app in enumerate(doc.lab.apps):
        values = app.values or {}
        replicas = next((_int(values[k]) for k in REPLICA_KEYS if k in values), 1)
        for key in PDB_KEYS:
            pdb = values.get(key)
            if not isinstance(pdb, dict) or pdb.get("enabled") is False or replicas is None:
                continue
            path = ("apps", i, "values", key)
            min_available, max_unavailable = pdb.get("minAvailable"), pdb.get("maxUnavailable")
            if _int(min_available) is not None and min_available >= replicas or min_available == "100%":
                yield Finding((*path, "minAvailable"),
                              f"app {app.name}: its PodDisruptionBudget keeps minAvailable {min_available} of "
                              f"{replicas} replica(s): no pod can be evicted, every drain of its node stops",
                              f"set minAvailable below the replicas (e.g. {max(replicas - 1, 0)}), or raise the "
                              "replicas")
            elif max_unavailable in (0, "0%"):
                yield Finding((*path, "maxUnavailable"),
                              f"app {app.name}: its PodDisruptionBudget allows maxUnavailable 0: no pod can be "
                              "evicted, every drain of its node stops",
                              "allow at least 1 (maxUnavailable: 1) and run 2 replicas or more")
