"""The engine protocol shared by plan/apply and every adapter.

An engine reports whether it is configured and reachable, reads live facts for drift, and applies
a batch of changes it is handed. It never decides what to change. Every subprocess or client it
uses comes through an injectable seam (a process runner or client factory) so tests can use the
real tool where one runs here and a contract fake where none does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

from homelab.secrets import Redactor, Secret

Action = Literal["create", "update", "delete", "replace", "no-op"]


@dataclass(frozen=True)
class Change:
    """One planned change of one resource, as handed to an engine."""

    address: str  # e.g. "proxmox_vm.kube01", "vault_policy.terraform", "argocd_app.media/sonarr"
    action: Action
    reason: str
    before: dict | None = None  # non-secret attributes as last applied (state) or read (facts)
    after: dict | None = None  # non-secret desired attributes


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


@dataclass
class EngineContext:
    doc: Any  # homelab.spec.load.LabDocument
    workdir: Path  # the rendered repository
    state_dir: Path  # .homelab/
    read_secret: Callable[[str, str], Secret] | None = None  # (path, field) -> Secret, from Vault
    progress: Callable[[str], None] = lambda message: None
    redactor: Redactor = field(default_factory=Redactor)


class Engine(Protocol):
    """Optional extras the planner and apply use when an engine has them (see plan/planner.py and
    ops/apply.py): `fact_types` (resource types whose absence from read_facts means "not live") and
    `partition(changes) -> list[list[Change]]` (independent units apply may run in parallel)."""

    name: str  # "terraform", "ansible", "vault", "kubernetes"

    def status(self, ctx: EngineContext) -> EngineStatus: ...

    def read_facts(self, ctx: EngineContext, addresses: list[str]) -> dict[str, dict]:
        """Live attributes by address, for drift. Only called when status().reachable."""
        ...

    def apply(self, ctx: EngineContext, changes: list[Change]) -> list[ApplyResult]:
        """Execute the changes (all of this engine, one ready batch). Raise EngineError on failure,
        with the tail of the tool's output (redacted)."""
        ...
