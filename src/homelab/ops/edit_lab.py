"""Day-2 edits of the lab file (`vm add/remove`, `app add`): validate, render, then write — or nothing.

`commit_edit` loads the edited text, refuses it unless it checks clean, renders it into memory and then
into the output directory (the writer's dry run first), and only then writes the lab file atomically.
Any failure before the last step leaves the lab file untouched, so the same command can simply run
again. What follows (plan, apply) is the ordinary pipeline: day-2 work is an edit plus a plan.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from homelab.diagnostics import Diagnostic, Severity
from homelab.errors import HomelabError


class EditRejected(HomelabError):
    """The edited lab would not load or not check clean; the lab file was not changed. Exit 1."""

    exit_code = 1

    def __init__(self, message: str, diagnostics: list[Diagnostic]):
        self.diagnostics = diagnostics
        super().__init__(message)


@dataclass
class Committed:
    doc: object  # the edited lab, loaded
    workdir: Path | None  # where it was rendered (None with render=False and no out)
    rendered: object | None  # ops.pipeline.Rendered


def commit_edit(doc, new_text: str, *, render: bool, out: str | None) -> Committed:
    from homelab.checks import run_checks
    from homelab.errors import LoadError
    from homelab.lab.edit import reload, write_atomic

    try:
        new_doc = reload(doc, new_text)  # with the lab's recorded allocations (homelab.lock)
    except LoadError as exc:
        raise EditRejected(f"{doc.file} was not changed: the edited file would not load", exc.diagnostics) from None
    diags = run_checks(new_doc)
    if any(d.severity is Severity.ERROR for d in diags):
        raise EditRejected(f"{doc.file} was not changed: the edited lab would not check clean", diags)
    rendered = _render_before_commit(doc, new_doc, out) if render else None
    write_atomic(doc.file, new_text)
    workdir = rendered.out_dir if rendered else (Path(out) if out else None)
    return Committed(new_doc, workdir, rendered)


def _render_before_commit(doc, new_doc, out: str | None):
    """Render the edited lab into memory, validate the output directory with the writer's dry run, then
    write the tree. Raises (lab file not yet written) on any failure; the error names the file kept."""
    from homelab.ops.pipeline import render_into
    from homelab.render.output import OutputError

    out_dir = Path(out) if out else Path(doc.file).parent
    try:
        render_into(new_doc, out_dir, check=True)  # rendered paths, the directory itself, the manifest
        anchor = next((p for p in (out_dir.absolute(), *out_dir.absolute().parents) if p.exists()), None)
        if anchor is not None and not anchor.is_dir():
            raise OutputError(f"cannot render into {out_dir}: {anchor} is not a directory",
                              "pass a directory with --out")
        return render_into(new_doc, out_dir)
    except HomelabError as exc:
        kept = HomelabError(f"{doc.file} was not changed: the edited lab could not be rendered into {out_dir}: "
                            f"{exc.message}", exc.hint)
        kept.exit_code = exc.exit_code
        raise kept from None
