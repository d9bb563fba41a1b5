from __future__ import annotations

import sys

import typer

from homelab.cli._output import check_format, emit, emit_json
from homelab.cli.options import FormatOption


def explain(rule_id: str = typer.Argument(None, help="Rule id; omit to list every rule."), fmt: str = FormatOption):
    """Explain a check rule (problematic and correct YAML), or list all rules."""
    check_format(fmt)
    import difflib

    from homelab.errors import UsageError
    from homelab.validate.catalog import all_rules, get_rule

    if not rule_id:
        rules = all_rules()
        if fmt == "json":
            emit_json({"rules": [{"id": r.id, "severity": r.severity.value, "summary": r.summary} for r in rules]})
        else:
            width = max(len(r.id) for r in rules)
            for r in rules:
                emit(f"{r.id.ljust(width)}  {r.severity.value:<7}  {r.summary}")
        return
    found = get_rule(rule_id)
    if found is None:
        close = difflib.get_close_matches(rule_id, [r.id for r in all_rules()], n=1)
        raise UsageError(f"no rule named {rule_id!r}",
                         f"did you mean {close[0]!r}?" if close else "run `homelab explain` to list the rules")
    if fmt == "json":
        emit_json({"id": found.id, "severity": found.severity.value, "summary": found.summary,
                   "doc": found.explain()})
    elif sys.stdout.isatty():  # a person reading: headings, bold and highlighted YAML instead of Markdown marks
        from rich.console import Console
        from rich.markdown import Markdown

        Console().print(Markdown(found.explain(), code_theme="ansi_dark"))
    else:  # piped or redirected: the Markdown itself (what `--format json` carries as "doc")
        emit(found.explain())


def register(app: typer.Typer) -> None:
    app.command()(explain)
