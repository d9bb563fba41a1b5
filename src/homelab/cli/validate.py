"""`homelab validate [REPO]` — prove the rendered repository: charts templated with the real Helm engine,
Kubernetes/CRD schemas, ArgoCD projects, scheduling, addresses, Terraform, Ansible (--deep).

Exit codes as `check`: 0 no error (warnings allowed unless --strict), 1 findings, 2 unusable input.
"""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from homelab.cli._output import emit, emit_json
from homelab.cli.options import StateDirOption

FORMATS = ("text", "json", "sarif")


def _lab(repo: Path, lab: str | None, fmt: str):
    from homelab.cli._output import load_or_exit

    if lab:
        return load_or_exit(lab, "json" if fmt != "text" else "text")
    for candidate in (repo / "homelab.yaml", repo / "homelab.yml"):
        if candidate.is_file():
            return load_or_exit(str(candidate), "json" if fmt != "text" else "text")
    return None


def validate(
    repo: str = typer.Argument(None, help="The rendered repository. Default: the lab file's directory (or .)."),
    lab: str = typer.Option(None, "--lab", "-l", help="The lab file. Default: REPO/homelab.yaml when there is one."),
    fmt: str = typer.Option("text", "--format", "-f", help="Output format: text, json or sarif."),
    charts: list[str] = typer.Option(None, "--charts", help="A directory of packaged charts (<name>-<version>.tgz); "
                                     "repeatable. Default: <state dir>/charts (homelab charts pull)."),
    cache_dir: str = typer.Option(None, "--cache-dir", help="Templating cache. Default: <state dir>/cache."),
    state_dir: str = StateDirOption,
    deep: bool = typer.Option(False, "--deep", help="Also run the slow tools (ansible-playbook --syntax-check, "
                              "ansible-lint --profile production)."),
    rules: list[str] = typer.Option(None, "--rule", "-r", help="Only this rule (repeatable)."),
    strict: bool = typer.Option(False, "--strict", help="Treat warnings as errors."),
):
    """Validate the rendered repository: every finding as path:line: severity[rule]: message, with a hint
    and the lab line it comes from."""
    from homelab.cli._output import CURRENT
    from homelab.errors import UsageError

    if fmt not in FORMATS:
        raise UsageError(f"unknown format {fmt!r}", "use --format text, json or sarif")
    CURRENT["format"] = "json" if fmt != "text" else "text"
    from homelab.charts.cache import default_dir
    from homelab.diagnostics import Severity
    from homelab.validate import Options, all_rules, get_rule
    from homelab.validate import validate as run

    doc = _lab(Path(repo or "."), lab, fmt)
    root = Path(repo) if repo else (Path(doc.file).parent if doc is not None else Path("."))
    if not root.is_dir():
        raise UsageError(f"{root} is not a directory", "give the rendered repository (homelab render --out DIR)")
    unknown = [r for r in rules or [] if get_rule(r) is None]
    if unknown:
        raise UsageError(f"no validate rule named {', '.join(unknown)}", "run `homelab explain` to list the rules")
    base = Path(state_dir) if state_dir else None
    options = Options(charts_dirs=[Path(c) for c in charts] if charts else [default_dir(base)],
                      cache_dir=Path(cache_dir) if cache_dir else default_dir(base).parent / "cache",
                      deep=deep, only=set(rules) if rules else None)
    diags = run(root, doc, options)
    failing = [d for d in diags if d.severity is Severity.ERROR or (strict and d.severity is Severity.WARNING)]
    if fmt == "sarif":
        from homelab import __version__
        from homelab.validate.sarif import to_sarif

        emit_json(to_sarif(diags, all_rules(), version=__version__))
    elif fmt == "json":
        emit_json({"repo": str(root), "diagnostics": [d.to_json() for d in diags]})
    else:
        for d in diags:
            emit(d.format())
        errors = sum(1 for d in diags if d.severity is Severity.ERROR)
        warnings = sum(1 for d in diags if d.severity is Severity.WARNING)
        emit(f"{root}: {errors} error(s), {warnings} warning(s)" if diags else f"{root}: ok",
             sys.stderr if diags else None)
    raise typer.Exit(1 if failing else 0)


def register(app: typer.Typer) -> None:
    app.command()(validate)
