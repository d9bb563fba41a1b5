"""The dependency graph of a plan, walked in ready batches (graphlib), each batch sorted by address.

Only actionable changes are nodes (a no-op is already in place, so what depends on it may run).
Creates, updates and replaces run after their dependencies; deletes run in reverse: a resource that
was depended on is deleted only after what depended on it (`k3s_agent.X` before `host.X` before
`proxmox_vm.X`). A cycle is an error naming the cycle.
"""

from __future__ import annotations

from graphlib import CycleError, TopologicalSorter

from homelab.errors import HomelabError


class PlanError(HomelabError):
    exit_code = 1


def build(changes) -> dict[str, set[str]]:
    """address -> set of addresses that must be done before it."""
    nodes = {c.address: c for c in changes if c.action != "no-op"}
    preds: dict[str, set[str]] = {a: set() for a in nodes}
    for c in nodes.values():
        if c.action == "delete":
            for d in c.depends_on:
                if d in nodes and nodes[d].action in ("delete", "replace"):
                    preds[d].add(c.address)
        else:
            for d in c.depends_on:
                if d in nodes and nodes[d].action != "delete":
                    preds[c.address].add(d)
    return preds


def sorter(graph: dict[str, set[str]]) -> TopologicalSorter:
    ts = TopologicalSorter(graph)
    try:
        ts.prepare()
    except CycleError as exc:
        cycle = exc.args[1] if len(exc.args) > 1 else []
        raise PlanError("the resources depend on each other in a cycle: " + " → ".join(map(str, cycle)),
                        "this is a bug in homelab's dependency rules or an impossible lab; report it") from None
    return ts


def batches(graph: dict[str, set[str]]) -> list[list[str]]:
    """The ready batches in order, each sorted by address."""
    ts = sorter(graph)
    out = []
    while ts.is_active():
        ready = sorted(ts.get_ready())
        out.append(ready)
        ts.done(*ready)
    return out
