"""A test double of OUR engine protocol (homelab.engines.base.Engine) — not of any real tool.

`RecordingEngine` keeps a "live system" (address -> attrs) that its `apply` changes and its
`read_facts` reports, records every address it is asked to apply (in order), and can be told to fail
on chosen addresses (raising EngineError with an output tail, as real adapters do) or to report itself
not configured / not reachable. `partition` gives one unit per change so apply can run them in
parallel and record each the moment it succeeds.
"""

from __future__ import annotations

import threading
import time

from homelab.engines.base import ApplyResult, Engine, EngineStatus
from homelab.errors import EngineError


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
                        self.live[c.address] = dict(c.after or {})
                results.append(ApplyResult(c.address, True, "ok", attrs=dict(self.outputs.get(c.address, {}))))
            return results
        finally:
            with self._lock:
                self.active -= 1


ENGINE_NAMES = ("vault", "terraform", "ansible", "kubernetes")


def fake_engines(**kw) -> dict[str, RecordingEngine]:
    return {n: RecordingEngine(n, **kw) for n in ENGINE_NAMES}


def lookup(engines: dict):
    return lambda name: engines[name]
