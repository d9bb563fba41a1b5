"""The Plan as versioned data.

    {
      "format_version": 1,
      "lab": {"file": "homelab.yaml", "digest": "<sha256 of the lab file>"},
      "state_serial": 12,
      "workdir": "<directory of the rendered repository>",
      "layers": [
        {"name": "vms", "engine": "terraform", "configured": false, "reachable": false,
         "reason": "proxmox.endpoint is not set", "source": "state",
         "changes": [{"address": "proxmox_vm.kube07", "action": "create", "reason": "not in state",
                      "before": null, "after": {...}, "depends_on": [...]}]},
        ...
      ],
      "summary": {"add": 3, "change": 0, "destroy": 0, "no_op": 180}
    }

Actions are a closed set: create, update, delete, replace, no-op; each change carries a reason.
`replace` counts as one to add and one to destroy, as in Terraform. No timestamps: the same inputs
give the same plan, byte for byte.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Literal

from homelab.errors import UsageError
from homelab.plan.address import LAYER_ENGINE, layer_index

FORMAT_VERSION = 1
ACTIONS = ("create", "update", "delete", "replace", "no-op")
Action = Literal["create", "update", "delete", "replace", "no-op"]
SYMBOLS = {"create": "+", "update": "~", "delete": "-", "replace": "-/+", "no-op": " "}


@dataclass(frozen=True)
class Change:
    """One planned change of one resource, as handed to an engine (what `PlannedChange.to_change` gives)."""

    address: str  # e.g. "proxmox_vm.kube01", "vault_policy.terraform", "argocd_app.media/sonarr"
    action: Action
    reason: str
    before: dict | None = None  # non-secret attributes as last applied (state) or read (facts)
    after: dict | None = None  # non-secret desired attributes


@dataclass(frozen=True)
class PlannedChange:
    address: str
    layer: str
    engine: str
    action: str
    reason: str
    before: dict | None = None
    after: dict | None = None
    depends_on: tuple[str, ...] = ()

    def __post_init__(self):
        if self.action not in ACTIONS:
            raise ValueError(f"unknown action {self.action!r}")

    def to_change(self) -> Change:
        return Change(self.address, self.action, self.reason, self.before, self.after)  # type: ignore[arg-type]

    def to_json(self) -> dict:
        return {"address": self.address, "action": self.action, "reason": self.reason,
                "before": self.before, "after": self.after, "depends_on": list(self.depends_on)}


@dataclass(frozen=True)
class LayerStatus:
    name: str
    engine: str
    configured: bool
    reachable: bool
    reason: str
    source: str  # "facts" (live system read) or "state" (planned from state only)

    @property
    def usable(self) -> bool:
        return self.configured and self.reachable

    def describe(self) -> str:
        if not self.configured:
            return f"not configured: {self.reason}" if self.reason else "not configured"
        if not self.reachable:
            return f"not reachable: {self.reason}" if self.reason else "not reachable"
        return f"reachable{': ' + self.reason if self.reason else ''}"


@dataclass
class Plan:
    lab_file: str
    lab_digest: str
    state_serial: int
    workdir: str
    layers: list[LayerStatus] = field(default_factory=list)
    changes: list[PlannedChange] = field(default_factory=list)
    targets: tuple[str, ...] = ()  # --target patterns: only these changes are in the plan
    notes: list[str] = field(default_factory=list)  # what a reader must know (untargeted dependencies)
    format_version: int = FORMAT_VERSION

    # --- queries -----------------------------------------------------------------------------------
    def layer(self, name: str) -> LayerStatus | None:
        return next((lay for lay in self.layers if lay.name == name), None)

    def by_address(self) -> dict[str, PlannedChange]:
        return {c.address: c for c in self.changes}

    def actionable(self) -> list[PlannedChange]:
        return [c for c in self.changes if c.action != "no-op"]

    @property
    def has_changes(self) -> bool:
        return any(c.action != "no-op" for c in self.changes)

    def summary(self) -> dict[str, int]:
        add = sum(1 for c in self.changes if c.action in ("create", "replace"))
        change = sum(1 for c in self.changes if c.action == "update")
        destroy = sum(1 for c in self.changes if c.action in ("delete", "replace"))
        no_op = sum(1 for c in self.changes if c.action == "no-op")
        return {"add": add, "change": change, "destroy": destroy, "no_op": no_op}

    def grouped(self) -> list[tuple[LayerStatus, list[PlannedChange]]]:
        out = []
        known = {lay.name for lay in self.layers}
        layers = list(self.layers)
        for c in self.changes:  # a change in a layer without status (should not happen): still shown
            if c.layer not in known:
                known.add(c.layer)
                layers.append(LayerStatus(c.layer, c.engine, False, False, "no status", "state"))
        layers.sort(key=lambda lay: layer_index(lay.name))
        for lay in layers:
            out.append((lay, sorted((c for c in self.changes if c.layer == lay.name), key=lambda c: c.address)))
        return out

    # --- JSON ----------------------------------------------------------------------------------------
    def to_json(self) -> dict:
        extra = {}
        if self.targets:
            extra["targets"] = list(self.targets)
        if self.notes:
            extra["notes"] = list(self.notes)
        return {
            **extra,
            "format_version": self.format_version,
            "lab": {"file": self.lab_file, "digest": self.lab_digest},
            "state_serial": self.state_serial,
            "workdir": self.workdir,
            "layers": [
                {"name": lay.name, "engine": lay.engine, "configured": lay.configured, "reachable": lay.reachable,
                 "reason": lay.reason, "source": lay.source, "changes": [c.to_json() for c in changes]}
                for lay, changes in self.grouped()
            ],
            "summary": self.summary(),
        }

    def dumps(self) -> str:
        return json.dumps(self.to_json(), indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, data) -> Plan:
        if not isinstance(data, dict) or "format_version" not in data:
            raise UsageError("this is not a homelab plan (no format_version)",
                             "make one with `homelab plan -o plan.json`")
        if data["format_version"] != FORMAT_VERSION:
            raise UsageError(f"plan format_version {data['format_version']!r} is not supported "
                             f"(this homelab reads {FORMAT_VERSION})", "make a new plan with `homelab plan -o`")
        try:
            layers, changes = [], []
            for lay in data["layers"]:
                layers.append(LayerStatus(lay["name"], lay["engine"], bool(lay["configured"]),
                                          bool(lay["reachable"]), lay["reason"], lay["source"]))
                for c in lay["changes"]:
                    changes.append(PlannedChange(c["address"], lay["name"], lay["engine"], c["action"], c["reason"],
                                                 c.get("before"), c.get("after"), tuple(c.get("depends_on", ()))))
            plan = cls(lab_file=data["lab"]["file"], lab_digest=data["lab"]["digest"],
                       state_serial=int(data["state_serial"]), workdir=data.get("workdir", "."),
                       layers=layers, changes=sorted(changes, key=lambda c: (layer_index(c.layer), c.address)),
                       targets=tuple(data.get("targets") or ()), notes=list(data.get("notes") or []))
        except (KeyError, TypeError, ValueError) as exc:
            raise UsageError(f"the plan file is damaged: {type(exc).__name__}: {exc}",
                             "make a new plan with `homelab plan -o plan.json`") from None
        return plan

    @classmethod
    def loads(cls, text: str) -> Plan:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise UsageError(f"the plan file is not JSON: {exc.msg} at line {exc.lineno}",
                             "make a new plan with `homelab plan -o plan.json`") from None
        return cls.from_json(data)


__all__ = ["Action", "Change", "Plan", "PlannedChange", "LayerStatus", "ACTIONS", "SYMBOLS", "FORMAT_VERSION", "LAYER_ENGINE"]
