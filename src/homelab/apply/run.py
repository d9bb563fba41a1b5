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

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from homelab.engines.base import EngineContext
from homelab.errors import EngineError, HomelabError
from homelab.plan.graph import build, sorter
from homelab.plan.model import Plan, PlannedChange
from homelab.secrets import REDACTOR
from homelab.state.store import StateStore


@dataclass
class Outcome:
    address: str
    action: str
    status: str  # applied | failed | skipped | blocked
    message: str = ""
    output_tail: str = ""
    seconds: float = 0.0
    cause: str = ""  # for "blocked": the failed or skipped resource that stopped it
    changed: int | None = None  # how many things the engine changed for it (when it says)


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


class _Run:
    """One apply: the graph walk, the outcomes, and what failed or was skipped (to block dependents)."""

    def __init__(self, plan: Plan, store: StateStore, engines, ctx: EngineContext, progress: Progress):
        self.plan, self.store, self.engines, self.ctx, self.progress = plan, store, engines, ctx, progress
        self.report = ApplyReport()
        self.lock = threading.Lock()
        self.by_addr = plan.by_address()
        self.layers = {lay.name: lay for lay in plan.layers}
        self.graph = build(plan.changes)
        self.bad: dict[str, str] = {}  # address -> "failed" | "skipped" | "blocked"
        self.root: dict[str, str] = {}  # address -> the failed or skipped resource that stopped it

    def add(self, outcome: Outcome) -> None:
        with self.lock:
            self.report.outcomes.append(outcome)
            if outcome.status != "applied":
                self.bad[outcome.address] = outcome.status
                self.root.setdefault(outcome.address, outcome.address)
        self.progress.finish(outcome)

    def record(self, c: PlannedChange, attrs: dict) -> None:
        if c.action == "delete":
            self.store.remove(c.address, lab_digest=self.plan.lab_digest)
        else:
            self.store.record(c.address, layer=c.layer, engine=c.engine, attrs=c.after or {}, outputs=attrs,
                              depends_on=c.depends_on, lab_digest=self.plan.lab_digest, action=c.action)

    def fail_all(self, unit: list[PlannedChange], message: str, tail: str, seconds: float) -> None:
        for c in unit:
            self.add(Outcome(c.address, c.action, "failed", message, tail, seconds))

    def run_unit(self, engine_name: str, unit: list[PlannedChange]) -> None:
        engine = self.engines(engine_name)
        for c in unit:
            self.progress.start(c)
        t0 = time.monotonic()
        try:
            results = engine.apply(self.ctx, [c.to_change() for c in unit]) or []
        except EngineError as exc:
            return self.fail_all(unit, REDACTOR(exc.message), REDACTOR(exc.output_tail or ""), time.monotonic() - t0)
        except Exception as exc:  # noqa: BLE001 - an engine bug fails its resources, not the whole run
            return self.fail_all(unit, REDACTOR(f"internal error in the {engine_name} engine: "
                                                f"{type(exc).__name__}: {exc}"), "", time.monotonic() - t0)
        seconds = time.monotonic() - t0
        got = {r.address: r for r in results}
        for c in unit:
            r = got.get(c.address)
            if r is not None and not r.ok:
                self.add(Outcome(c.address, c.action, "failed", REDACTOR(r.message or "the engine reported a failure"),
                                 REDACTOR(r.output_tail or ""), seconds))
                continue
            try:
                self.record(c, dict(r.attrs) if r is not None else {})
            except HomelabError as exc:
                self.add(Outcome(c.address, c.action, "failed", REDACTOR(exc.message), "", seconds))
                continue
            self.add(Outcome(c.address, c.action, "applied", REDACTOR(r.message if r is not None else ""), "",
                             seconds, changed=r.changed if r is not None else None))

    def sort_batch(self, ready: list[str]) -> dict[str, list[PlannedChange]]:
        """Skip what cannot run (layer not usable, a dependency failed or was skipped); the rest by engine."""
        runnable: dict[str, list[PlannedChange]] = {}
        for a in ready:
            c = self.by_addr[a]
            layer = self.layers.get(c.layer)
            blockers = sorted(d for d in self.graph[a] if d in self.bad)
            if layer is None or not layer.usable:
                why = layer.describe() if layer else "no status"
                self.add(Outcome(a, c.action, "skipped", f"skipped: {c.engine} {why}"))
            elif blockers:
                cause = self.root[blockers[0]]
                self.root[a] = cause
                verb = "failed" if self.bad[cause] == "failed" else "was skipped"
                self.add(Outcome(a, c.action, "blocked", f"not started: it depends on {cause}, which {verb}",
                                 cause=cause))
            else:
                runnable.setdefault(c.engine, []).append(c)
        return runnable

    def walk(self, parallelism: int) -> ApplyReport:
        ts = sorter(self.graph)
        with ThreadPoolExecutor(max_workers=max(1, int(parallelism))) as pool:
            while ts.is_active():
                ready = sorted(ts.get_ready())
                runnable = self.sort_batch(ready)
                futures = [pool.submit(self.run_unit, engine_name, unit)
                           for engine_name in sorted(runnable)
                           for unit in _units(self.engines(engine_name), runnable[engine_name])]
                for f in futures:
                    f.result()
                ts.done(*ready)
        return self.report


def apply_plan(plan: Plan, *, doc, store: StateStore, engines: Callable[[str], object], ctx: EngineContext,
               parallelism: int = 1, progress: Progress | None = None) -> ApplyReport:
    """Execute a (fresh) plan. The caller holds the state lock."""
    return _Run(plan, store, engines, ctx, progress or Progress()).walk(parallelism)
