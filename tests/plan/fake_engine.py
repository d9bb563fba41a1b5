"""A test double of OUR engine protocol (homelab.engines.base.Engine) — not of any real tool.

`RecordingEngine` keeps a "live system" (address -> facts) that its `apply` changes and its
`read_facts` reports, records every address it is asked to apply (in order), and can be told to fail
on chosen addresses (raising EngineError with an output tail, as real adapters do) or to report itself
not configured / not reachable. `partition` gives one unit per change so apply can run them in
parallel and record each the moment it succeeds.

What an apply leaves live is what the real engine would report afterwards — its fact vocabulary
(`VOCABULARY`), not the desired attributes handed to it: the terraform engine reports a VM's placement,
size and network (engines/terraform/vm_facts.py), the kubernetes engine an Application's namespace and
ArgoCD's sync/health (argocd_status.py: Synced and Healthy once applied here), the vault engine what
`read_live` reads; the ansible engine reads nothing back (an empty entry). Live facts written from
outside the code under test, for plan cases, are in tests/plan/live/ (plan_helpers.reference_live).
"""

from __future__ import annotations

import threading
import time

from homelab.engines.base import ApplyResult, Engine, EngineStatus
from homelab.errors import EngineError

# the keys each real engine reports for a type (and nothing else of what it was handed)
VOCABULARY = {
    "proxmox_vm": ("env", "node", "vmid", "cores", "memory_mib", "template", "disk_gib", "storage", "bridge", "vlan",
                   "ip", "gateway"),  # terraform engine: read_facts + proxmox_vm_facts
    "argocd_app": ("namespace",),  # kubernetes engine: application_facts (+ sync/health below)
    "argocd_bootstrap": ("namespace",),
    "vault_mount": ("type", "version"), "vault_auth": ("type",), "vault_audit": ("type",),  # vault: read_live
    "vault_policy": ("sha256",), "vault_user": ("policies", "token_ttl", "token_max_ttl", "login"),
    "vault_secret": ("fields",),
    # truenas engine: engine.TASK_KEYS / the replication keys (+ the NAS's id, which no desired attribute has)
    "zfs_snapshot_task": ("dataset", "recursive", "exclude", "lifetime_value", "lifetime_unit", "naming_schema",
                          "schedule", "allow_empty", "enabled"),
    "zfs_replication": ("name", "direction", "transport", "ssh_credentials", "source_datasets", "target_dataset",
                        "recursive", "periodic_snapshot_tasks", "auto", "retention_policy", "lifetime_value",
                        "lifetime_unit", "readonly", "enabled"),
}


def reported(address: str, attrs: dict | None) -> dict:
    """The facts a real engine reports for `address` after applying `attrs`."""
    kind = address.partition(".")[0]
    out = {k: attrs[k] for k in VOCABULARY.get(kind, ()) if attrs and k in attrs}
    if kind == "argocd_app":
        out.update(sync="Synced", health="Healthy")  # ArgoCD synced what was applied
    return out


class RecordingEngine(Engine):
    def __init__(self, name: str, *, configured: bool = True, reachable: bool = True, reason: str = "",
                 fail: set[str] | None = None, live: dict | None = None, per_change: bool = True,
                 delay: float = 0.0, outputs: dict | None = None, log_path=None):
        from homelab.plan.address import TYPE_LAYER

        self.name = name
        self.fact_types = frozenset(TYPE_LAYER)  # it knows everything it applied
        self.configured = configured
        self.reachable = reachable
        self.reason = reason or f"fake {name} engine"
        self.fail = set(fail or ())
        self.live: dict[str, dict] = dict(live or {})
        self.per_change = per_change
        self.delay = delay
        self.outputs = outputs or {}
        self.calls: list[str] = []
        self.batches: list[list[str]] = []
        self.log_path = log_path
        self._lock = threading.Lock()
        self.active = 0
        self.max_active = 0

    def status(self, ctx):
        return EngineStatus(self.configured, self.reachable, self.reason)

    def read_facts(self, ctx, addresses):
        return {a: dict(self.live[a]) for a in addresses if a in self.live}

    def partition(self, changes):
        return [[c] for c in changes] if self.per_change else [list(changes)]

    def apply(self, ctx, changes):
        with self._lock:
            self.active += 1
            self.max_active = max(self.max_active, self.active)
            self.batches.append([c.address for c in changes])
        try:
            if self.delay:
                time.sleep(self.delay)
            results = []
            for c in changes:
                if c.address in self.fail:
                    raise EngineError(f"{self.name} could not apply {c.address}",
                                      output_tail=f"step 1 ok\nstep 2: {c.address}: boom")
                with self._lock:
                    self.calls.append(c.address)
                    if self.log_path:
                        with open(self.log_path, "a") as fh:
                            fh.write(c.address + "\n")
                    if c.action == "delete":
                        self.live.pop(c.address, None)
                    else:
                        self.live[c.address] = reported(c.address, c.after)
                results.append(ApplyResult(c.address, True, "ok", attrs=dict(self.outputs.get(c.address, {}))))
            return results
        finally:
            with self._lock:
                self.active -= 1


ENGINE_NAMES = ("vault", "terraform", "ansible", "kubernetes", "truenas")


def fake_engines(**kw) -> dict[str, RecordingEngine]:
    return {n: RecordingEngine(n, **kw) for n in ENGINE_NAMES}


def lookup(engines: dict):
    return lambda name: engines[name]
