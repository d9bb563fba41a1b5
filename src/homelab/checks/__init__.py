"""Semantic checks over a loaded lab. `run_checks(doc)` returns every finding, sorted."""

from __future__ import annotations

import importlib
import pkgutil

from homelab.checks.base import REGISTRY, Finding, Rule, rule, to_diagnostics
from homelab.diagnostics import Diagnostic, Severity, sort_diagnostics

__all__ = ["Finding", "Rule", "rule", "run_checks", "all_rules", "get_rule"]

_LOADED = False


def _load_rules() -> None:
    global _LOADED
    if _LOADED:
        return
    from homelab.checks import rules as pkg

    for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda i: i.name):
        if not info.name.startswith("_"):
            importlib.import_module(f"{pkg.__name__}.{info.name}")
    _LOADED = True


def all_rules() -> list[Rule]:
    _load_rules()
    return sorted(REGISTRY.values(), key=lambda r: r.id)


def get_rule(rule_id: str) -> Rule | None:
    _load_rules()
    return REGISTRY.get(rule_id)


def run_checks(doc, only: set[str] | None = None) -> list[Diagnostic]:
    diags: list[Diagnostic] = []
    for r in all_rules():
        if only and r.id not in only:
            continue
        try:
            diags.extend(to_diagnostics(doc, r, list(r.func(doc))))
        except Exception as exc:  # noqa: BLE001 - a broken rule must not hide the others
            diags.append(Diagnostic(
                "internal-error", Severity.ERROR,
                f"rule {r.id} crashed: {type(exc).__name__}: {exc}",
                doc.locate(()), "this is a bug in homelab; please report it with your lab file", (),
            ))
    return sort_diagnostics(diags)
