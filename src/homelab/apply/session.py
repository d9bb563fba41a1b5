"""A session: what plan and apply need for one lab — the document, its state, the engines, their context.

`open_session(doc)` is how the public API, the commands and the day-2 workflows get one. Apply refuses a
stale plan: the lab file changed (digest) or the state changed (serial) since it was made.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from homelab.apply.run import ApplyReport, Progress, apply_plan
from homelab.engines.base import EngineContext
from homelab.errors import StateError
from homelab.plan.model import Plan
from homelab.secrets import REDACTOR
from homelab.state.store import StateStore

ENV_STATE = "HOMELAB_STATE_DIR"


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


@dataclass
class Session:
    """What plan and apply need for one lab: the document, its state, the engines, their context."""

    doc: object
    store: StateStore
    engines: Callable[[str], object]
    ctx: EngineContext
    workdir: Path
    state_dir: Path

    def plan(self, *, targets=(), prune: bool = False, destroy=()) -> Plan:
        from homelab.plan.planner import make_plan

        state = self.store.resources()
        self._keep_allocations(state)
        return make_plan(self.doc, state=state, serial=self.store.serial(), engines=self.engines,
                         ctx=self.ctx, workdir=str(self.workdir), targets=targets, prune=prune,
                         destroy=tuple(destroy))

    def _keep_allocations(self, state: dict) -> None:
        """Sticky allocations (lab/lock.py): VMs in state keep what they were given (adopted into the lock
        when it has nothing for them), and the lock records what this plan allocates."""
        from homelab.lab import lock

        vms = {addr.split(".", 1)[1]: dict(res.attrs) for addr, res in state.items()
               if addr.startswith("proxmox_vm.")}
        adopted = lock.adopt(self.doc.lock, self.doc.lab, vms)
        if adopted != self.doc.lock:
            self.doc = dataclasses.replace(self.doc, lock=adopted)  # a new document: inventory resolved again
            self.ctx = dataclasses.replace(self.ctx, doc=self.doc)
        if self.doc.lock_file is not None:
            text = lock.lock_update(self.doc.lock_file, lock.recorded(self.doc.inventory, set(vms), self.doc.lock),
                                    self.doc.file, k3s_running(state))
            if text is not None:
                from homelab.lab.edit import write_atomic

                write_atomic(self.doc.lock_file, text)

    def apply(self, plan: Plan, *, parallelism: int = 1, progress: Progress | None = None,
              break_lock: bool = False) -> ApplyReport:
        with self.store.locked("homelab apply", break_lock=break_lock):
            check_fresh(plan, self.doc, self.store)
            return apply_plan(plan, doc=self.doc, store=self.store, engines=self.engines, ctx=self.ctx,
                              parallelism=parallelism, progress=progress)

    def close(self) -> None:
        self.store.close()


def k3s_running(state: dict) -> str | None:
    """The oldest K3s version the state records on a node (what the cluster runs at least), or None."""
    from homelab.lab.k3s_versions import parse

    versions = [v for a, r in state.items() if a.startswith(("k3s_server.", "k3s_agent."))
                and (v := parse(str((r.attrs or {}).get("version") or "")))]
    return str(min(versions)) if versions else None


def lab_file_of(plan: Plan, plan_path: str) -> str:
    """The lab file a saved plan was made from. The plan records it as given to `homelab plan`
    (relative to where that ran); from another directory, look beside the rendered repository (the
    default) and beside the plan file. Whatever is found must still match the plan's digest."""
    from homelab.errors import UsageError

    recorded = Path(plan.lab_file)
    if recorded.is_file():
        return plan.lab_file
    if not recorded.is_absolute():
        for base in (Path(plan.workdir), Path(plan_path).parent):
            candidate = base / recorded.name
            if candidate.is_file():
                return str(candidate)
    raise UsageError(f"the plan {plan_path} was made from {plan.lab_file}, which is not here",
                     "run `homelab apply` from the directory `homelab plan` ran in, or make a new plan here")


def default_engines():
    from homelab.engines.registry import Registry

    return Registry()


def open_session(doc, *, state_dir=None, workdir=None, engines=None,
                 progress: Callable[[str], None] | None = None, options: dict | None = None) -> Session:
    """`options`: per-run settings for the engines (EngineContext.options), e.g. a Vault address or token
    a command was given, the k3s token source."""
    from homelab.engines.vault.target import secret_reader

    sdir = state_dir_for(state_dir)
    wdir = Path(workdir) if workdir else Path(doc.file).resolve().parent
    engines = engines if engines is not None else default_engines()
    store = StateStore(sdir)
    ctx = EngineContext(doc=doc, workdir=wdir, state_dir=sdir, read_secret=secret_reader(doc, sdir, options),
                        progress=progress or (lambda message: None), redactor=REDACTOR, options=dict(options or {}))
    return Session(doc, store, engines, ctx, wdir, sdir)
