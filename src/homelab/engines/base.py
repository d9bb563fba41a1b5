"""The engine protocol shared by plan and apply, and every adapter's base class.

An engine reports whether it is configured and reachable, reads live facts for drift, and executes
the changes it is handed. It never decides what to change: the plan did (`homelab.plan`). Every
subprocess or client it uses comes through an injectable seam (a process runner or client factory)
so tests use the real tool where one runs here and a contract fake where none does.

Every engine subclasses `Engine`; what an engine may optionally do is declared here with a default,
never discovered with `getattr`:

* `fact_types`: resource types whose absence from `read_facts` means "not live" (create) rather than
  "this engine reads no facts for that type" (plan from state);
* `partition(changes)`: independent units apply may run in parallel (default: one unit);
* `discover(ctx)`: live addresses the engine could manage that the lab may not declare (used by
  `plan --prune`; default: none).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from homelab.plan.model import Action, Change
from homelab.secrets import Redactor, Secret

__all__ = ["Action", "ApplyResult", "Change", "Engine", "EngineContext", "EngineStatus"]


@dataclass(frozen=True)
class EngineStatus:
    configured: bool
    reachable: bool
    reason: str  # e.g. "proxmox.endpoint is not set", "connection refused at 127.0.0.1:8200"


@dataclass
class ApplyResult:
    address: str
    ok: bool
    message: str = ""
    attrs: dict = field(default_factory=dict)  # non-secret attributes to record in state
    output_tail: str = ""
    changed: int | None = None  # how many things the engine changed (e.g. Ansible's changed tasks), if known


@dataclass
class EngineContext:
    doc: Any  # homelab.lab.load.LabDocument
    workdir: Path  # the rendered repository
    state_dir: Path  # .homelab/
    read_secret: Callable[[str, str], Secret] | None = None  # (path, field) -> Secret, from Vault
    progress: Callable[[str], None] = lambda message: None
    redactor: Redactor = field(default_factory=Redactor)
    options: dict = field(default_factory=dict)  # per-run settings of a day-2 command (e.g. the k3s token source)


class Engine:
    """Base class of every engine. Subclasses set `name` and implement the three methods."""

    name: str = ""  # "terraform", "ansible", "vault", "kubernetes"
    fact_types: frozenset[str] = frozenset()

    def status(self, ctx: EngineContext) -> EngineStatus:
        raise NotImplementedError

    def read_facts(self, ctx: EngineContext, addresses: list[str]) -> dict[str, dict]:
        """Live attributes by address, for drift. Only called when status().reachable."""
        raise NotImplementedError

    def apply(self, ctx: EngineContext, changes: list[Change]) -> list[ApplyResult]:
        """Execute the changes (all of this engine, one ready batch). Raise EngineError on failure,
        with the tail of the tool's output (redacted)."""
        raise NotImplementedError

    def partition(self, changes: list[Change]) -> list[list[Change]]:
        """Independent units of a batch, which apply may run in parallel. Default: one unit."""
        return [list(changes)] if changes else []

    def discover(self, ctx: EngineContext) -> list[str]:
        """Addresses live on the system that this engine could manage (for `plan --prune`)."""
        return []
