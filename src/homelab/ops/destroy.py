"""`homelab destroy [--layer L ...]`: take the lab (or some of its layers) down, through a plan.

The plan (`destroy_plan`) is the ordinary planner with the chosen layers desired empty
(plan/planner.py `destroy`): every resource of theirs in state, and every live resource their engines
discover (`discover()`), is planned for deletion -- and nothing else. Layers are taken with what depends
on them: a resource in state that depends on one being deleted makes its layer part of the destroy
(destroying `vms` takes `hosts`, `clusters`, ... on those VMs with it), and the plan says so. The
dependency graph orders the deletions in reverse (apps before the cluster, the cluster before the VMs).

`destroy` executes exactly that plan (a saved plan applies only its own changes): when it deletes
anything in the vault layer, a Vault backup is taken first (ops/vault_backup.py through the `backup`
callable), and without a backup nothing is deleted.
"""

from __future__ import annotations

from collections.abc import Callable

from homelab.errors import HomelabError, UsageError


def layers_for(names) -> list[str]:
    from homelab.plan.address import LAYERS

    chosen = [str(n).strip() for n in names or () if str(n).strip()]
    unknown = [n for n in chosen if n not in LAYERS]
    if unknown:
        raise UsageError(f"--layer {unknown[0]!r} is not a layer", "layers: " + ", ".join(LAYERS))
    return [lay for lay in LAYERS if lay in chosen] if chosen else list(LAYERS)


def with_dependents(state: dict, layers: list[str]) -> tuple[list[str], list[str]]:
    """The layers, plus every layer holding a state resource that depends (transitively) on one of theirs;
    and a note per layer added."""
    from homelab.plan.address import LAYERS

    chosen = set(layers)
    notes = []
    going = {a for a, r in state.items() if r.layer in chosen}
    changed = True
    while changed:
        changed = False
        for addr, res in sorted(state.items()):
            if addr in going:
                continue
            hit = next((d for d in res.depends_on if d in going), None)
            if hit:
                going.add(addr)
                changed = True
                if res.layer not in chosen:
                    chosen.add(res.layer)
                    notes.append(f"layer {res.layer} is destroyed too: {addr} depends on {hit}")
    return [lay for lay in LAYERS if lay in chosen], notes


def destroy_plan(session, layers: list[str]):
    """The plan of deletions, and the layers it covers (with the dependents added)."""
    all_layers, notes = with_dependents(session.store.resources(), layers)
    plan = session.plan(destroy=all_layers)
    plan.notes = [*plan.notes, *notes]
    return plan, all_layers


def needs_backup(plan) -> bool:
    return any(c.layer == "vault" and c.action == "delete" for c in plan.changes)


def destroy(session, plan, *, backup: Callable[[], object] | None, parallelism: int = 1, progress=None):
    """Apply the destroy plan; a Vault backup first when it deletes anything of the vault layer."""
    bad = [c.address for c in plan.changes if c.action != "delete"]
    if bad:
        raise HomelabError(f"not a destroy plan: {bad[0]} is planned to {plan.by_address()[bad[0]].action}")
    made = None
    if needs_backup(plan):
        if backup is None:
            raise UsageError("the destroy deletes Vault resources and no Vault backup could be taken",
                             "start Vault (`homelab vault up`/`unseal`) so the backup can run, or leave the "
                             "vault layer out (--layer)")
        made = backup()
    report = session.apply(plan, parallelism=parallelism, progress=progress)
    return report, made
