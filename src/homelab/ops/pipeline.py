"""The main job, as steps the commands and the public API compose: check the lab (refusing one with
errors), render it into the repository, open a session (plan/apply against the state and the engines).

`homelab.up()` and `homelab up` run them in order: check → render → plan → apply.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from homelab.diagnostics import Diagnostic, Severity
from homelab.errors import HomelabError


class CheckFailed(HomelabError):
    """The lab loads but `check` reports errors: nothing is rendered, planned or applied. Exit 1."""

    exit_code = 1

    def __init__(self, diagnostics: list[Diagnostic], doing: str = "going on"):
        self.diagnostics = diagnostics
        errors = sum(1 for d in diagnostics if d.severity is Severity.ERROR)
        super().__init__(f"not {doing}: the lab has {errors} error(s)", "fix the errors above first (`homelab check`)")


def require_clean(doc, doing: str = "going on") -> list[Diagnostic]:
    """The lab's findings when none is an error (warnings, infos); else raise CheckFailed with all of them."""
    from homelab.checks import run_checks

    diags = run_checks(doc)
    if any(d.severity is Severity.ERROR for d in diags):
        raise CheckFailed(diags, doing)
    return diags


@dataclass
class Rendered:
    out_dir: Path
    files: list = field(default_factory=list)
    report: object = None  # render.output.WriteReport


def render_into(doc, out: str | Path | None = None, *, check: bool = False) -> Rendered:
    """Render the lab into `out` (default: the lab file's directory) with the one writer."""
    from homelab.render import render_all
    from homelab.render.output import write_tree

    out_dir = Path(out) if out else Path(doc.file).parent
    files = render_all(doc)
    return Rendered(out_dir, files, write_tree(files, out_dir, check=check))


def session_for(doc, *, state_dir=None, workdir=None, engines=None, progress=None, options=None):
    from homelab.apply import open_session

    return open_session(doc, state_dir=state_dir, workdir=workdir, engines=engines, progress=progress,
                        options=options)
