"""Render a plan for people (text, grouped by layer, `+ ~ - -/+` with reasons) or machines (JSON)."""

from __future__ import annotations

import json

from homelab.plan.diff import ARGOCD_ATTENTION
from homelab.plan.model import SYMBOLS, Plan


def _val(value) -> str:
    return json.dumps(value, sort_keys=True, separators=(", ", ": "), default=str)


def _argocd_note(change) -> str | None:
    """For an unchanged ArgoCD application that ArgoCD does not report Synced and Healthy: the mark
    its line gets in the text plan ("!" needs a person: Degraded/Missing/Unknown; "i" informational:
    Progressing/Suspended). None when there is nothing to say (or no ArgoCD status was read)."""
    before = change.before or {}
    if change.action != "no-op" or "health" not in before:
        return None
    if before.get("health") in ARGOCD_ATTENTION:
        return "!"
    return None if (before.get("sync"), before.get("health")) == ("Synced", "Healthy") else "i"


def summary_line(plan: Plan) -> str:
    if not plan.has_changes:
        return "No changes. The lab matches what was applied."
    s = plan.summary()
    return f"Plan: {s['add']} to add, {s['change']} to change, {s['destroy']} to destroy."


def render_text(plan: Plan, *, verbose: bool = False) -> str:
    lines: list[str] = []
    if plan.targets:
        lines.append(f"Targeted plan ({', '.join(plan.targets)}): only these resources; the rest of the lab is "
                     "left as it is.")
    for layer, changes in plan.grouped():
        actionable = [c for c in changes if c.action != "no-op"]
        unchanged = len(changes) - len(actionable)
        status = layer.describe()
        if layer.source == "state" and changes:
            status += " — planned from state"
            if not layer.usable:
                status += "; apply will skip this layer"
        lines.append(f"{layer.name} ({layer.engine}): {status}")
        for c in changes:
            note = _argocd_note(c)  # an app ArgoCD reports unhealthy is listed even when unchanged
            if c.action == "no-op" and not verbose and note is None:
                continue
            lines.append(f"  {note or SYMBOLS[c.action]:>3} {c.address}  ({c.action}: {c.reason})")
            if verbose and c.action in ("create", "replace") and c.after:
                for k in sorted(c.after):
                    lines.append(f"        {k}: {_val(c.after[k])}")
        if not actionable:
            lines.append(f"      no changes ({unchanged} unchanged)" if unchanged else "      nothing")
        elif unchanged:
            lines.append(f"      ({unchanged} unchanged)")
    for note in plan.notes:
        lines.append(f"note: {note}")
    lines.append("")
    lines.append(summary_line(plan))
    return "\n".join(lines) + "\n"


def render_json(plan: Plan) -> str:
    return plan.dumps()
