"""desired × state × facts → changes, each with an action and a reason.

Pure function of its inputs. For each desired resource:

* live facts were read for it (the engine is configured and reachable, and reported it or declares
  that it reads that type — see planner.py):
  - not found live → `create` ("not found on the live system", or "in state but not found on the
    live system (deleted outside homelab?)");
  - being deleted live (the engine reports `deleting`: e.g. a Kubernetes object with a deletionTimestamp,
    held by `finalizers`) → `create` ("being deleted on the live system since T, held by F: apply waits
    until it is gone, then creates it again") — whatever else it reports, it is on its way out;
  - an immutable attribute differs live → `replace`; another attribute differs → `update`
    ("drift: memory_mib is 2048 live, 4096 desired"); only attributes the engine reports are compared;
  - matches but is not in state (an apply killed between the engine's success and the state
    write) → `update` ("exists on the live system but not in state; apply records it");
  - else `no-op` ("matches the live system").
* otherwise (layer not configured or not reachable — the plan says so per layer) plan from state:
  - not in state → `create` ("not in state");
  - an immutable attribute changed → `replace` ("vmid: 171 → 175 forces replacement");
    a numeric attribute that cannot shrink got smaller → `replace` ("disk_gib: 200 → 100 cannot shrink");
  - another attribute changed → `update` ("memory_mib: 2048 → 4096");
  - else `no-op` ("unchanged since it was applied (serial 7)").
* a resource that is no-op/update but sits on a machine being created or replaced (`rebuild_with`)
  → `replace` ("proxmox_vm.kube01 is replaced: a new machine").
* an ArgoCD application read live (`argocd_app.*`; the kubernetes engine reports the Application's
  `sync`, `health`, `revision` and last `operation` phase) — see `argocd_status`:
  - sync is not `Synced` (OutOfSync, Unknown) → `update` ("ArgoCD reports OutOfSync (revision abc123)");
    apply server-side-applies the Application again, restoring homelab's spec (sync policy, sources);
  - health alone never makes an update: Degraded (a crash-looping workload), Missing or Unknown is
    not fixed by applying the same Application again or by a re-sync of the same revision — it is
    shown in the reason ("Synced in ArgoCD but Degraded: applying again will not fix it") and the
    text plan lists it; Progressing and Suspended are informational;
  - Synced and Healthy → `no-op` ("Synced and Healthy in ArgoCD").
  The status keys are added to `before`, so the JSON plan carries them.
In state but not desired → `delete` ("no longer in <lab file>", plus "(already being deleted on the live
system ...)" when the engine says so).
"""

from __future__ import annotations

import json

from homelab.plan.address import parse
from homelab.plan.desired import Resource
from homelab.plan.model import LayerStatus, PlannedChange


def _fmt(value) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


ARGOCD_KEYS = ("sync", "health", "revision", "revisions", "operation")
DELETING_KEYS = ("deleting", "finalizers")
ARGOCD_ATTENTION = ("Degraded", "Missing", "Unknown")  # health that needs a person, not an apply


def _short(revision) -> str:
    text = str(revision)
    return text[:7] if len(text) == 40 and all(ch in "0123456789abcdef" for ch in text) else text


def argocd_status(live: dict) -> tuple[bool, str] | None:
    """(needs an update, what ArgoCD reports) for an argocd_app's live facts; None when the facts carry
    no ArgoCD status. Only `sync` decides an update: the kubernetes engine applies the Application, so
    an OutOfSync (or Unknown) sync is something apply acts on; a bad health alone is not (see above)."""
    if "sync" not in live and "health" not in live:
        return None
    sync, health = live.get("sync") or "Unknown", live.get("health") or "Unknown"
    revision = f" (revision {_short(live['revision'])})" if live.get("revision") else ""
    if live.get("revisions"):  # a multi-source Application: one revision per source
        revision = f" (revisions {', '.join(_short(r) for r in live['revisions'])})"
    failed = (f"; its last sync operation {live['operation']}"
              if live.get("operation") in ("Failed", "Error") else "")
    if sync != "Synced":
        health_note = "" if health == "Healthy" else f", health {health}"
        return True, f"ArgoCD reports {sync}{health_note}{revision}{failed}"
    if health == "Healthy":
        return False, f"Synced and Healthy in ArgoCD{revision}{failed}"
    if health in ARGOCD_ATTENTION:
        return False, (f"Synced in ArgoCD but {health}{revision}: applying again will not fix it "
                       f"(look at the application's pods and events){failed}")
    return False, f"Synced in ArgoCD, {health}{revision}{failed}"  # Progressing, Suspended: informational


def _changed(before: dict, after: dict, keys) -> list[str]:
    return sorted(k for k in keys if before.get(k) != after.get(k))


def _being_deleted(live: dict) -> str:
    held = f", held by {', '.join(live['finalizers'])}" if live.get("finalizers") else ""
    return f"being deleted on the live system since {live['deleting']}{held}"


def _from_facts(res: Resource, live: dict | None, prior) -> tuple[str, str, dict | None]:
    """(action, reason, before) of a resource whose live facts were read."""
    after = res.attrs
    if live is None:
        reason = ("in state but not found on the live system (deleted outside homelab?)" if prior
                  else "not found on the live system")
        return "create", reason, None
    if live.get("deleting"):
        return ("create", f"{_being_deleted(live)}: apply waits until it is gone, then creates it again",
                {k: live[k] for k in DELETING_KEYS if k in live})
    keys = [k for k in after if k in live]
    diffs = _changed(live, after, keys)
    forced = [k for k in diffs if k in res.immutable]
    shrunk = [k for k in diffs if k in res.no_shrink and _lt(after.get(k), live.get(k))]
    before = {k: live[k] for k in keys}
    if forced or shrunk:
        reason = "; ".join([f"drift: {k} is {_fmt(live[k])} live, {_fmt(after[k])} desired, "
                            "which forces replacement" for k in forced] +
                           [f"{k}: {_fmt(live[k])} → {_fmt(after[k])} cannot shrink in place"
                            for k in shrunk if k not in forced])
        action = "replace"
    elif diffs:
        action = "update"
        reason = "; ".join(f"drift: {k} is {_fmt(live[k])} live, {_fmt(after[k])} desired" for k in diffs)
    elif prior is None:  # e.g. an apply killed after the engine finished, before it was recorded
        action, reason = "update", "exists on the live system but not in state; apply records it"
    else:
        action, reason = "no-op", "matches the live system"
    argo = argocd_status(live) if res.addr.type == "argocd_app" else None
    if argo is not None:
        before.update({k: live[k] for k in ARGOCD_KEYS if k in live})
        needs_update, said = argo
        if action == "no-op":
            action, reason = ("update" if needs_update else "no-op"), said
        else:  # drift or not in state already: keep that reason, add ArgoCD's view
            reason = f"{reason}; {said}"
    return action, reason, before


def _from_state(res: Resource, prior) -> tuple[str, str, dict | None]:
    """(action, reason, before) of a resource planned from state only."""
    after = res.attrs
    if prior is None:
        return "create", "not in state", None
    before = prior.attrs
    diffs = _changed(before, after, set(before) | set(after))
    forced = [k for k in diffs if k in res.immutable]
    shrunk = [k for k in diffs if k in res.no_shrink and _lt(after.get(k), before.get(k))]
    if forced or shrunk:
        reason = "; ".join([f"{k}: {_fmt(before.get(k))} → {_fmt(after.get(k))} forces replacement"
                            for k in forced] +
                           [f"{k}: {_fmt(before.get(k))} → {_fmt(after.get(k))} cannot shrink in place"
                            for k in shrunk if k not in forced])
        return "replace", reason, before
    if diffs:
        return "update", "; ".join(f"{k}: {_fmt(before.get(k))} → {_fmt(after.get(k))}" for k in diffs), before
    return "no-op", f"unchanged since it was applied (serial {prior.serial})", before


def _deletes(desired, state, facts, layers, lab_file, authoritative) -> list[PlannedChange]:
    out = []
    for addr in sorted(set(state) - set(desired)):
        prior = state[addr]
        try:
            a = parse(addr)
            layer_name, engine = a.layer, a.engine
        except ValueError:
            layer_name, engine = prior.layer, prior.engine
        layer = layers.get(layer_name)
        reason = f"no longer in {lab_file}"
        if layer and layer.source == "facts" and addr not in facts and (authoritative is None or addr in authoritative):
            reason += " (already gone from the live system)"
        elif (facts.get(addr) or {}).get("deleting"):
            reason += f" (already {_being_deleted(facts[addr])})"
        out.append(PlannedChange(addr, layer_name, engine, "delete", reason, before=prior.attrs, after=None,
                                 depends_on=tuple(prior.depends_on)))
    return out


def diff(desired: dict[str, Resource], state: dict, facts: dict[str, dict], layers: dict[str, LayerStatus],
         lab_file: str = "homelab.yaml", authoritative: set[str] | None = None) -> list[PlannedChange]:
    """`state`: address → StoredResource (or any object with .attrs, .layer, .engine, .depends_on, .serial).
    `facts`: address → live attrs, for resources of layers whose status source is "facts".
    `authoritative`: addresses whose absence from `facts` means "not live" (default: every address of a
    layer planned from facts)."""
    changes: dict[str, PlannedChange] = {}
    for addr, res in desired.items():
        prior = state.get(addr)
        layer = layers.get(res.layer)
        from_facts = bool(layer and layer.source == "facts") and (
            authoritative is None or addr in authoritative or addr in facts)
        if from_facts:
            action, reason, before = _from_facts(res, facts.get(addr), prior)
        else:
            action, reason, before = _from_state(res, prior)
        # a new machine under it: what ran on the old one is gone too
        if action in ("no-op", "update") and (prior is not None or from_facts):
            rebuilt = [p for p in res.rebuild_with if p in changes and changes[p].action in ("create", "replace")]
            if rebuilt:
                action = "replace"
                verb = "replaced" if changes[rebuilt[0]].action == "replace" else "created"
                reason = f"{rebuilt[0]} is {verb}: a new machine"
        changes[addr] = PlannedChange(addr, res.layer, res.engine, action, reason,
                                      before=before, after=res.attrs, depends_on=res.depends_on)
    return list(changes.values()) + _deletes(desired, state, facts, layers, lab_file, authoritative)


def _lt(a, b) -> bool:
    return isinstance(a, (int, float)) and isinstance(b, (int, float)) and a < b
