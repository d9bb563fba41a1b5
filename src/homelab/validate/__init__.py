"""`homelab validate [REPO]`: prove the rendered (or hand-edited) platform repository.

Sits between render and plan: reads the lab (when known) and the repository, templates every ArgoCD
Application's charts with the Helm engine as a library (homelab.charts), and runs the validate rules of
`validate/rules/` (one per module, with its `.md`) over the result. It never calls an engine.

    diags = validate(repo, doc, Options(charts_dirs=[...], cache_dir=...))
"""

from __future__ import annotations

import importlib
import pkgutil

from homelab.diagnostics import Location, Severity
from homelab.validate.base import REGISTRY, Finding, Rule, ValidateDiagnostic, rule
from homelab.validate.context import Context, Options

__all__ = ["Finding", "Options", "Rule", "ValidateDiagnostic", "all_rules", "get_rule", "rule", "validate"]

_LOADED = False


def _load_rules() -> None:
    global _LOADED
    if _LOADED:
        return
    from homelab.validate import rules as pkg

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


def _diagnostic(ctx: Context, r: Rule, f: Finding) -> ValidateDiagnostic:
    return ValidateDiagnostic(r.id, f.severity or r.severity, f.message, Location(f.file, f.line, 1 if f.line else 0),
                              f.hint, ctx.locate_lab(f.lab))


def run_rules(ctx: Context) -> list[ValidateDiagnostic]:
    out: list[ValidateDiagnostic] = []
    for r in all_rules():
        if (ctx.options.only and r.id not in ctx.options.only) or (r.deep and not ctx.options.deep):
            continue
        try:
            out += [_diagnostic(ctx, r, f) for f in r.func(ctx)]
        except Exception as exc:  # noqa: BLE001 - a broken rule must not hide the others
            out.append(ValidateDiagnostic("internal-error", Severity.ERROR,
                                          f"validate rule {r.id} crashed: {type(exc).__name__}: {exc}",
                                          Location("."), "this is a bug in homelab; please report it"))
    return sorted(set(out), key=lambda d: d.sort_key)


def validate(repo, doc=None, options: Options | None = None) -> list[ValidateDiagnostic]:
    """Every finding of the validate rules on the repository at `repo` (sorted, deduplicated)."""
    return run_rules(Context(repo, doc, options))
