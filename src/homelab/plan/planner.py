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
"""

from __future__ import annotations

from collections.abc import Callable

from homelab.plan.address import LAYER_ENGINE, LAYERS, parse
from homelab.plan.desired import desired as desired_resources
from homelab.plan.diff import diff
from homelab.plan.model import LayerStatus, Plan
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


def make_plan(doc, *, state: dict, serial: int, engines: Callable[[str], object], ctx, workdir: str = ".",
              lab_file: str | None = None) -> Plan:
    want = desired_resources(doc)
    lab_file = lab_file or doc.file
    used_layers = {r.layer for r in want.values()} | {_layer_of_state(a, s) for a, s in state.items()}

    statuses: dict[str, tuple[bool, bool, str]] = {}
    facts: dict[str, dict] = {}
    facts_ok: dict[str, bool] = {}
    authoritative: set[str] = set()  # addresses whose absence from the facts means "not live"
    fact_types_of: dict[str, frozenset] = {}
    for engine_name in sorted({LAYER_ENGINE[lay] for lay in used_layers if lay in LAYER_ENGINE}):
        engine = engines(engine_name)
        try:
            st = engine.status(ctx)
            statuses[engine_name] = (bool(st.configured), bool(st.reachable), REDACTOR(str(st.reason or "")))
        except Exception as exc:  # noqa: BLE001 - a broken engine makes its layers "not reachable", not a crash
            statuses[engine_name] = (True, False, REDACTOR(f"status check failed: {type(exc).__name__}: {exc}"))
        configured, reachable, reason = statuses[engine_name]
        if configured and reachable:
            addresses = sorted({a for a, r in want.items() if r.engine == engine_name} |
                               {a for a in state if LAYER_ENGINE.get(_layer_of_state(a, state[a])) == engine_name})
            try:
                got = engine.read_facts(ctx, addresses) or {}
                facts.update({a: scrub(dict(v)) for a, v in got.items() if v is not None})
                facts_ok[engine_name] = True
                types = frozenset(engine.fact_types)
                fact_types_of[engine_name] = types
                authoritative.update(a for a in addresses if a.partition(".")[0] in types)
            except Exception as exc:  # noqa: BLE001 - plan from state instead, and say why
                facts_ok[engine_name] = False
                statuses[engine_name] = (True, False, REDACTOR(f"reading live facts failed: {type(exc).__name__}: "
                                                               f"{exc}"))

    layers: dict[str, LayerStatus] = {}
    for name in LAYERS:
        if name not in used_layers:
            continue
        engine_name = LAYER_ENGINE[name]
        configured, reachable, reason = statuses.get(engine_name, (False, False, "no engine"))
        in_layer = [a for a, r in want.items() if r.layer == name] + \
                   [a for a in state if a not in want and _layer_of_state(a, state[a]) == name]
        reads = any(a in facts or a in authoritative for a in in_layer)
        source = "facts" if configured and reachable and facts_ok.get(engine_name) and reads else "state"
        layers[name] = LayerStatus(name, engine_name, configured, reachable, reason, source)

    changes = diff(want, state, facts, layers, lab_file=lab_file.rsplit("/", 1)[-1], authoritative=authoritative)
    return Plan(lab_file=lab_file, lab_digest=doc.digest, state_serial=serial, workdir=str(workdir),
                layers=list(layers.values()), changes=changes)
