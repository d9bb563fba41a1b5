"""The validate rule framework, like the model's checks (checks/base.py): one rule per module in
`validate/rules/`, a `.md` beside it (`homelab explain RULE`), pass/fail fixtures under
`tests/fixtures/validate/<rule-id>/`. A rule is `(ctx: Context) -> Iterable[Finding]`; it never stops at
the first problem, and a crashing rule becomes an `internal-error` finding naming it.

A finding points at a file of the validated repository (`path:line`) and, where one caused it, at the lab
line (`from homelab.yaml:LINE:COL`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from homelab.diagnostics import Location, Severity


@dataclass(frozen=True)
class Finding:
    file: str  # repository-relative
    line: int
    message: str
    hint: str | None = None
    lab: tuple | None = None  # lab model path that caused it (located when the lab is known)
    severity: Severity | None = None


@dataclass(frozen=True)
class Rule:
    id: str
    severity: Severity
    summary: str
    func: Callable
    module: str
    deep: bool = False  # only with --deep (slow external tools)
    area: str = "k8s"  # k8s | terraform | ansible

    @property
    def doc_path(self):
        from importlib import resources

        return resources.files("homelab.validate.rules").joinpath(self.module.rsplit(".", 1)[-1] + ".md")

    def explain(self) -> str:
        return self.doc_path.read_text(encoding="utf-8")


REGISTRY: dict[str, Rule] = {}


def rule(id: str, severity: str, summary: str, *, deep: bool = False, area: str = "k8s"):
    def decorate(func):
        if id in REGISTRY and REGISTRY[id].func is not func:
            raise RuntimeError(f"validate rule id {id!r} registered twice")
        REGISTRY[id] = Rule(id, Severity(severity), summary, func, func.__module__, deep, area)
        return func

    return decorate


@dataclass(frozen=True)
class ValidateDiagnostic:
    rule: str
    severity: Severity
    message: str
    location: Location
    hint: str | None = None
    lab: Location | None = None

    def format(self) -> str:
        text = f"{self.location}: {self.severity.value}[{self.rule}]: {self.message}"
        if self.hint:
            text += f"\n  hint: {self.hint}"
        if self.lab:
            text += f"\n  from: {self.lab}"
        return text

    def to_json(self) -> dict:
        loc = self.location
        data = {"rule": self.rule, "severity": self.severity.value, "message": self.message, "hint": self.hint,
                "location": {"file": loc.file, "line": loc.line, "col": loc.col}}
        data["lab"] = ({"file": self.lab.file, "line": self.lab.line, "col": self.lab.col} if self.lab else None)
        return data

    @property
    def sort_key(self):
        return (self.location.file, self.location.line, self.rule, self.message)
