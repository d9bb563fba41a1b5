"""homelab — run a whole homelab platform from one file.

The public API (the CLI is a thin layer over it). Data flows one way: load → check → render → plan →
apply.

    doc = homelab.load("homelab.yaml")          # LabDocument (raises LoadError with every diagnostic)
    findings = homelab.check(doc)                # list[Diagnostic], sorted; never raises
    files = homelab.render(doc)                  # list[RenderedFile] (pure); render(doc, out="repo") writes
    plan = homelab.plan(doc, targets=["vault_*"])    # Plan: desired × state × live facts
    report = homelab.apply(plan, doc)            # ApplyReport; homelab.up(doc) does all of it

Each function imports what it needs when called, so `import homelab` stays instant.
"""

from __future__ import annotations

import sys
import types

__version__ = "0.1.0"

__all__ = ["__version__", "load", "check", "render", "plan", "apply", "up"]


class _Api(types.ModuleType):
    """`homelab.render`, `.plan` and `.apply` are the API's functions even though stage packages of the
    same names exist: importing `homelab.render.output` must not replace the function `homelab.render`
    with the package (the import system sets the parent's attribute). Code reaches the stages with
    `from homelab.render import ...`, never through attributes of `homelab`."""

    def __setattr__(self, name, value):
        if name in __all__ and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Api


def load(path):
    """Load and type-check a lab file. Raises `homelab.errors.LoadError` carrying every diagnostic."""
    from homelab.lab.load import load_lab

    return load_lab(path)


def check(doc):
    """Every finding of the semantic rules, sorted by place."""
    from homelab.checks import run_checks

    return run_checks(doc)


def render(doc, out=None, *, check_only: bool = False):
    """The rendered repository as files (pure). With `out`, also write them there (only what changed;
    `check_only` writes nothing) — refusing a lab whose check has errors."""
    from homelab.ops.pipeline import render_into, require_clean
    from homelab.render import render_all

    if out is None:
        return render_all(doc)
    require_clean(doc, "rendering")
    return render_into(doc, out, check=check_only).files


def plan(doc, *, state_dir=None, workdir=None, targets=(), prune: bool = False, engines=None):
    """Plan the lab against the state in `state_dir` (default: $HOMELAB_STATE_DIR or ./.homelab) and
    what the engines read live. `targets`: addresses or globs (`vault_*`), as `homelab plan --target`."""
    from homelab.ops.pipeline import require_clean, session_for

    require_clean(doc, "planning")
    session = session_for(doc, state_dir=state_dir, workdir=workdir, engines=engines)
    try:
        return session.plan(targets=targets, prune=prune)
    finally:
        session.close()


def apply(plan, doc=None, *, state_dir=None, workdir=None, parallelism: int = 1, engines=None):
    """Apply a plan made by `homelab.plan` (refused when stale). `doc` defaults to the plan's lab file."""
    from homelab.apply.session import lab_file_of
    from homelab.ops.pipeline import session_for

    if doc is None:
        doc = load(lab_file_of(plan, "."))
    session = session_for(doc, state_dir=state_dir, workdir=workdir or plan.workdir, engines=engines)
    try:
        return session.apply(plan, parallelism=parallelism)
    finally:
        session.close()


def up(lab, *, out=None, state_dir=None, parallelism: int = 1, engines=None):
    """Check, render (into `out`, default the lab file's directory), plan and apply. `lab`: a path or a
    loaded document. Returns the ApplyReport."""
    from homelab.ops.pipeline import render_into, require_clean, session_for

    doc = load(lab) if isinstance(lab, str | bytes) or hasattr(lab, "__fspath__") else lab
    require_clean(doc, "applying")
    rendered = render_into(doc, out)
    session = session_for(doc, state_dir=state_dir, workdir=rendered.out_dir, engines=engines)
    try:
        return session.apply(session.plan(), parallelism=parallelism)
    finally:
        session.close()
