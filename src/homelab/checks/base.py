"""The rule framework: one rule per module in checks/rules/, each with a .md beside it.

A rule is a function `(doc: LabDocument) -> Iterable[Finding]` decorated with `@rule(...)`.
Rules never stop at the first problem and never raise: a crashing rule becomes an
`internal-error` diagnostic naming the rule.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from homelab.diagnostics import Diagnostic, Severity


@dataclass(frozen=True)
class Finding:
    """What a rule reports: the model path it is about, a message and a hint."""

    path: tuple
    message: str
    hint: str | None = None
    key: bool = False  # point at the key instead of the value
    severity: Severity | None = None  # override the rule's default


@dataclass(frozen=True)
class Rule:
    id: str
    severity: Severity
    summary: str
    func: Callable
    module: str

    @property
    def doc_path(self):
        from importlib import resources

        return resources.files("homelab.checks.rules").joinpath(self.module.rsplit(".", 1)[-1] + ".md")

    def explain(self) -> str:
        return self.doc_path.read_text(encoding="utf-8")


REGISTRY: dict[str, Rule] = {}


def rule(id: str, severity: Severity | str, summary: str):
    """Register a rule. `id` is kebab-case and unique; `summary` is one line."""

    def decorate(func):
        sev = severity if isinstance(severity, Severity) else Severity(severity)
        if id in REGISTRY and REGISTRY[id].func is not func:
            raise RuntimeError(f"rule id {id!r} registered twice")
        REGISTRY[id] = Rule(id, sev, summary, func, func.__module__)
        return func

    return decorate


def to_diagnostics(doc, rule_: Rule, findings: Iterable[Finding]) -> list[Diagnostic]:
    out = []
    for f in findings:
        out.append(Diagnostic(
            rule=rule_.id,
            severity=f.severity or rule_.severity,
            message=f.message,
            location=doc.locate(f.path, key=f.key),
            hint=f.hint,
            path=tuple(f.path),
        ))
    return out
