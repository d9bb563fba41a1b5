"""make_plan: the lab (desired) × the state × live facts → Plan.

Engines are handed in (a lookup `name -> Engine`), never imported here: the plan stage asks each
engine whether it is configured and reachable and, when it is, reads live facts for drift through
`read_facts` (scrubbed: a Secret or a known secret value an engine lets through is masked before it
can reach a plan). Facts are used for drift wherever an engine returns them. An address *missing* from the facts means
"does not exist live" only for the resource types the engine lists in its optional `fact_types`
attribute (e.g. `fact_types = {"proxmox_vm"}`); for any other type a missing address is planned from
state — an engine that reads no facts for a layer (ansible, today) never makes it look deleted. A
layer is planned from facts when its engine is reachable and reads facts for it; otherwise from state.
A layer whose engine is not configured or not reachable is planned from state, and the plan says so
for that layer ("not configured: proxmox.endpoint is not set").

With `targets` (plan/targets.py) only the engines of the targeted layers are asked anything; the other
layers are planned from state, the changes are computed for the whole lab (so that "replaced with its
machine" and the notes about untargeted dependencies are right) and then only the targeted ones kept.
With `prune`, an engine's `discover()` names live resources the lab does not declare and that are not
in state (e.g. a policy made by hand in Vault): they are planned for deletion.
With `destroy` (layer names; `homelab destroy`), those layers are desired empty: everything of theirs
in state, and what their engines discover live, is planned for deletion, and nothing else is planned.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from homelab.plan import targets as targeting
from homelab.plan.address import LAYER_ENGINE, LAYERS, parse
from homelab.plan.desired import desired as desired_resources
from homelab.plan.diff import diff
from homelab.plan.model import LayerStatus, Plan, PlannedChange
from homelab.secrets import REDACTOR


def scrub(value):
    """Facts come from live systems: mask any secret an engine let through before it enters a plan."""
    from homelab.secrets import MASK, Secret

    if isinstance(value, Secret):
        return MASK
    if isinstance(value, dict):
        return {k: scrub(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [scrub(v) for v in value]
    if isinstance(value, str):
        return REDACTOR(value)
    return value


def _layer_of_state(addr: str, stored) -> str:
    try:
        return parse(addr).layer
    except ValueError:
        return stored.layer


@dataclass
class Live:
    """What the engines said: status per engine, facts per address, and which absences mean "not live"."""

    statuses: dict[str, tuple[bool, bool, str]] = field(default_factory=dict)
    facts: dict[str, dict] = field(default_factory=dict)
    facts_ok: dict[str, bool] = field(default_factory=dict)
    authoritative: set[str] = field(default_factory=set)
    discovered: dict[str, str] = field(default_factory=dict)  # address -> engine, for --prune


def _status(engine, ctx) -> tuple[bool, bool, str]:
    try:
        st = engine.status(ctx)
        return bool(st.configured), bool(st.reachable), REDACTOR(str(st.reason or ""))
    except Exception as exc:  # noqa: BLE001 - a broken engine makes its layers "not reachable", not a crash
        return True, False, REDACTOR(f"status check failed: {type(exc).__name__}: {exc}")


def read_live(engines, ctx, engine_names, addresses_of, *, prune: bool, lab_addresses: set[str]) -> Live:
    """Ask each engine for its status and, when usable, the facts of its addresses (and with `prune`,
    the live resources it could manage that the lab and the state do not know)."""
    live = Live()
    for engine_name in sorted(engine_names):
        engine = engines(engine_name)
        live.statuses[engine_name] = _status(engine, ctx)
        configured, reachable, _ = live.statuses[engine_name]
        if not (configured and reachable):
            continue
        addresses = set(addresses_of(engine_name))
        try:
            if prune:
                found = {a for a in engine.discover(ctx) if a not in lab_addresses}
                live.discovered.update(dict.fromkeys(found, engine_name))
                addresses |= found
            got = engine.read_facts(ctx, sorted(addresses)) or {}
        except Exception as exc:  # noqa: BLE001 - plan from state instead, and say why
            live.facts_ok[engine_name] = False
            live.statuses[engine_name] = (True, False, REDACTOR(f"reading live facts failed: "
                                                                f"{type(exc).__name__}: {exc}"))
            continue
        live.facts.update({a: scrub(dict(v)) for a, v in got.items() if v is not None})
        live.facts_ok[engine_name] = True
        live.authoritative.update(a for a in addresses if a.partition(".")[0] in engine.fact_types)
    return live


def _layer_statuses(used_layers, live: Live, want, state) -> dict[str, LayerStatus]:
    layers: dict[str, LayerStatus] = {}
    for name in LAYERS:
        if name not in used_layers:
            continue
        engine_name = LAYER_ENGINE[name]
        configured, reachable, reason = live.statuses.get(engine_name, (False, False, "no engine"))
        in_layer = [a for a, r in want.items() if r.layer == name] + \
                   [a for a in state if a not in want and _layer_of_state(a, state[a]) == name]
        reads = any(a in live.facts or a in live.authoritative for a in in_layer)
        source = "facts" if configured and reachable and live.facts_ok.get(engine_name) and reads else "state"
        layers[name] = LayerStatus(name, engine_name, configured, reachable, reason, source)
    return layers


def _pruned(live: Live, lab_file: str) -> list[PlannedChange]:
    out = []
    for addr in sorted(live.discovered):
        a = parse(addr)
        out.append(PlannedChange(addr, a.layer, a.engine, "delete",
                                 f"found in {live.discovered[addr]} but not in {lab_file} nor in state "
                                 "(--prune deletes it)", before=live.facts.get(addr), after=None))
    return out


def _destroyed(change: PlannedChange) -> PlannedChange:
    import dataclasses

    why = change.reason.replace("no longer in", "destroyed: its layer is taken down (`homelab destroy`); was in", 1)
    return dataclasses.replace(change, reason=why)


def make_plan(doc, *, state: dict, serial: int, engines: Callable[[str], object], ctx, workdir: str = ".",
              lab_file: str | None = None, targets=(), prune: bool = False, destroy=()) -> Plan:
    want = desired_resources(doc)
    if destroy:
        want = {a: r for a, r in want.items() if r.layer not in destroy}
        prune = True
    lab_file = lab_file or doc.file
    short = lab_file.rsplit("/", 1)[-1]
    patterns = targeting.check_patterns(targets)
    selected = targeting.select(patterns, set(want) | set(state)) if patterns else None
    if destroy:
        selected = {a for a, s in state.items() if a not in want and _layer_of_state(a, s) in destroy}

    def in_scope(addr: str) -> bool:
        return selected is None or addr in selected

    layer_of = {a: r.layer for a, r in want.items()} | {a: _layer_of_state(a, s) for a, s in state.items()
                                                         if a not in want}
    used_layers = {layer for a, layer in layer_of.items() if in_scope(a)} | set(destroy)

    def addresses_of(engine_name: str) -> list[str]:
        return sorted(a for a, layer in layer_of.items() if LAYER_ENGINE.get(layer) == engine_name and in_scope(a))

    live = read_live(engines, ctx, {LAYER_ENGINE[lay] for lay in used_layers if lay in LAYER_ENGINE},
                     addresses_of, prune=prune, lab_addresses=set(want) | set(state))
    layers = _layer_statuses(used_layers, live, want, state)
    changes = diff(want, state, live.facts, layers, lab_file=short, authoritative=live.authoritative)
    notes: list[str] = []
    if selected is not None:
        full = {c.address: c for c in changes}
        changes = [c for c in changes if c.address in selected]
        notes = targeting.pending_notes(changes, full)
    if prune:
        pruned = _pruned(live, short)
        changes += [c for c in pruned if c.layer in destroy] if destroy else \
            [c for c in pruned if selected is None or targeting.matches(c.address, patterns)]
    if destroy:
        changes = [_destroyed(c) for c in changes]
    return Plan(lab_file=lab_file, lab_digest=doc.digest, state_serial=serial, workdir=str(workdir),
                layers=list(layers.values()), changes=changes, targets=tuple(patterns), notes=notes)
