"""Apply: the last stage. Walk a plan's dependency graph in ready batches and hand each change to its
engine; record every success in state the moment the engine returns it.

* A saved plan is refused when it is stale: the lab file changed (digest) or the state changed
  (serial) since it was made — exit 1, "make a new plan".
* One apply at a time: the state lock is held for the whole run (`--break-lock` breaks a stale one).
* Each ready batch (sorted by address) is split per engine into units — one unit per engine, or the
  engine's own `partition(changes) -> list[list[Change]]` when it has one (an engine that can apply
  each resource independently returns one unit per change). Units run on up to `parallelism` threads.
* A layer whose engine is not configured or not reachable is skipped with that reason (never
  silently), and so is everything that depends on it ("blocked").
* On failure: what succeeded is recorded, dependents of the failed resource are not started,
  independent resources still run; the report names the failing resource with the tail of the
  engine's output (redacted) and the CLI exits 3. The next apply re-plans: what succeeded is a no-op
  now, so nothing is ever applied twice.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from homelab.engines.base import EngineContext
from homelab.errors import EngineError, HomelabError, StateError
from homelab.plan.graph import build, sorter
from homelab.plan.model import Plan, PlannedChange
from homelab.secrets import REDACTOR
from homelab.state.store import StateStore

ENV_STATE = "HOMELAB_STATE_DIR"


@dataclass
class Outcome:
    address: str
    action: str
    status: str  # applied | failed | skipped | blocked
    message: str = ""
    output_tail: str = ""
    seconds: float = 0.0
    cause: str = ""  # for "blocked": the failed or skipped resource that stopped it


@dataclass
class ApplyReport:
    outcomes: list[Outcome] = field(default_factory=list)

    def of(self, status: str) -> list[Outcome]:
        return [o for o in self.outcomes if o.status == status]

    @property
    def failed(self) -> list[Outcome]:
        return self.of("failed")

    @property
    def exit_code(self) -> int:
        return 3 if self.failed else 0

    def summary(self) -> str:
        counts = {s: len(self.of(s)) for s in ("applied", "failed", "skipped", "blocked")}
        head = "Apply failed" if self.failed else "Apply complete"
        return (f"{head}: {counts['applied']} applied, {counts['failed']} failed, "
                f"{counts['skipped']} skipped (engine not available), {counts['blocked']} blocked.")

    def to_json(self) -> dict:
        return {"outcomes": [o.__dict__ for o in self.outcomes],
                "summary": {s: len(self.of(s)) for s in ("applied", "failed", "skipped", "blocked")},
                "ok": not self.failed}


class Progress:
    """Callbacks from apply (called from worker threads)."""

    def start(self, change: PlannedChange) -> None: ...

    def finish(self, outcome: Outcome) -> None: ...

    def message(self, text: str) -> None: ...


class StalePlanError(StateError):
    exit_code = 1


def state_dir_for(explicit: str | os.PathLike | None = None) -> Path:
    """`--state-dir`, else $HOMELAB_STATE_DIR, else `.homelab` in the current directory (as the vault
    commands use it)."""
    return Path(explicit or os.environ.get(ENV_STATE) or ".homelab")


def check_fresh(plan: Plan, doc, store: StateStore) -> None:
    if plan.lab_digest != doc.digest:
        raise StalePlanError(f"the plan is stale: {plan.lab_file} changed since the plan was made",
                             "make a new plan with `homelab plan -o plan.json` and review it")
    serial = store.serial()
    if plan.state_serial != serial:
        raise StalePlanError(f"the plan is stale: the state changed since the plan was made "
                             f"(serial {plan.state_serial} → {serial})",
                             "make a new plan with `homelab plan -o plan.json` and review it")


def _units(engine, changes: list[PlannedChange]) -> list[list[PlannedChange]]:
    by_addr = {c.address: c for c in changes}
    groups = engine.partition([c.to_change() for c in changes])
    units, seen = [], set()
    for group in groups:
        unit = [by_addr[c.address] for c in group if c.address in by_addr and c.address not in seen]
        seen.update(c.address for c in unit)
        if unit:
            units.append(unit)
    rest = [c for c in changes if c.address not in seen]
    if rest:
        units.append(rest)
    return units


def apply_plan(plan: Plan, *, doc, store: StateStore, engines: Callable[[str], object], ctx: EngineContext,
               parallelism: int = 1, progress: Progress | None = None) -> ApplyReport:
    """Execute a (fresh) plan. The caller holds the state lock."""
    progress = progress or Progress()
    report = ApplyReport()
    report_lock = threading.Lock()
    by_addr = plan.by_address()
    layers = {lay.name: lay for lay in plan.layers}
    graph = build(plan.changes)
    ts = sorter(graph)
    bad: dict[str, str] = {}  # address -> "failed" | "skipped" | "blocked"
    root: dict[str, str] = {}  # address -> the failed or skipped resource that stopped it

    def add(outcome: Outcome) -> None:
        with report_lock:
            report.outcomes.append(outcome)
            if outcome.status != "applied":
                bad[outcome.address] = outcome.status
                root.setdefault(outcome.address, outcome.address)
        progress.finish(outcome)

    def record(c: PlannedChange, attrs: dict) -> None:
        if c.action == "delete":
            store.remove(c.address, lab_digest=plan.lab_digest)
        else:
            store.record(c.address, layer=c.layer, engine=c.engine, attrs=c.after or {}, outputs=attrs,
                         depends_on=c.depends_on, lab_digest=plan.lab_digest, action=c.action)

    def run_unit(engine_name: str, unit: list[PlannedChange]) -> None:
        engine = engines(engine_name)
        for c in unit:
            progress.start(c)
        t0 = time.monotonic()
        try:
            results = engine.apply(ctx, [c.to_change() for c in unit]) or []
        except EngineError as exc:
            msg = REDACTOR(exc.message)
            tail = REDACTOR(exc.output_tail or "")
            for c in unit:
                add(Outcome(c.address, c.action, "failed", msg, tail, time.monotonic() - t0))
            return
        except Exception as exc:  # noqa: BLE001 - an engine bug fails its resources, not the whole run
            msg = REDACTOR(f"internal error in the {engine_name} engine: {type(exc).__name__}: {exc}")
            for c in unit:
                add(Outcome(c.address, c.action, "failed", msg, "", time.monotonic() - t0))
            return
        seconds = time.monotonic() - t0
        got = {r.address: r for r in results}
        for c in unit:
            r = got.get(c.address)
            if r is not None and not r.ok:
                add(Outcome(c.address, c.action, "failed", REDACTOR(r.message or "the engine reported a failure"),
                            REDACTOR(r.output_tail or ""), seconds))
                continue
            try:
                record(c, dict(r.attrs) if r is not None else {})
            except HomelabError as exc:
                add(Outcome(c.address, c.action, "failed", REDACTOR(exc.message), "", seconds))
                continue
            add(Outcome(c.address, c.action, "applied", REDACTOR(r.message if r is not None else ""), "", seconds))

    with ThreadPoolExecutor(max_workers=max(1, int(parallelism))) as pool:
        while ts.is_active():
            ready = sorted(ts.get_ready())
            runnable: dict[str, list[PlannedChange]] = {}
            for a in ready:
                c = by_addr[a]
                layer = layers.get(c.layer)
                blockers = sorted(d for d in graph[a] if d in bad)
                if layer is None or not layer.usable:
                    why = layer.describe() if layer else "no status"
                    add(Outcome(a, c.action, "skipped", f"skipped: {c.engine} {why}"))
                elif blockers:
                    cause = root[blockers[0]]
                    root[a] = cause
                    verb = "failed" if bad[cause] == "failed" else "was skipped"
                    add(Outcome(a, c.action, "blocked", f"not started: it depends on {cause}, which {verb}",
                                cause=cause))
                else:
                    runnable.setdefault(c.engine, []).append(c)
            futures = []
            for engine_name in sorted(runnable):
                for unit in _units(engines(engine_name), runnable[engine_name]):
                    futures.append(pool.submit(run_unit, engine_name, unit))
            for f in futures:
                f.result()
            ts.done(*ready)
    return report


@dataclass
class Session:
    """What plan and apply need for one lab: the document, its state, the engines, their context."""

    doc: object
    store: StateStore
    engines: Callable[[str], object]
    ctx: EngineContext
    workdir: Path
    state_dir: Path

    def plan(self) -> Plan:
        from homelab.plan.planner import make_plan

        return make_plan(self.doc, state=self.store.resources(), serial=self.store.serial(), engines=self.engines,
                         ctx=self.ctx, workdir=str(self.workdir))

    def apply(self, plan: Plan, *, parallelism: int = 1, progress: Progress | None = None,
              break_lock: bool = False) -> ApplyReport:
        with self.store.locked("homelab apply", break_lock=break_lock):
            check_fresh(plan, self.doc, self.store)
            return apply_plan(plan, doc=self.doc, store=self.store, engines=self.engines, ctx=self.ctx,
                              parallelism=parallelism, progress=progress)

    def close(self) -> None:
        self.store.close()


def default_engines():
    from homelab.engines.registry import Registry

    return Registry()


def open_session(doc, *, state_dir=None, workdir=None, engines=None,
                 progress: Callable[[str], None] | None = None) -> Session:
    from homelab.engines.registry import vault_secret_reader

    sdir = state_dir_for(state_dir)
    wdir = Path(workdir) if workdir else Path(doc.file).resolve().parent
    store = StateStore(sdir)
    ctx = EngineContext(doc=doc, workdir=wdir, state_dir=sdir, read_secret=vault_secret_reader(doc, sdir),
                        progress=progress or (lambda message: None), redactor=REDACTOR)
    return Session(doc, store, engines or default_engines(), ctx, wdir, sdir)
