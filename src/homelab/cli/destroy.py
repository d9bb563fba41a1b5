"""`homelab destroy [FILE] [--layer L ...] [--yes-destroy NAME]`: take the lab (or layers of it) down.

Plans the deletions (homelab/ops/destroy.py: everything of the layers in state and what their engines
discover live, with the layers depending on them), shows every resource that will be deleted, asks for the
lab's name typed back (or `--yes-destroy NAME`), takes a Vault backup first when the vault layer loses
anything, then applies exactly that plan.
"""

from __future__ import annotations

import sys

import typer

from homelab.cli._output import check_format, emit, load_or_exit
from homelab.cli.options import (
    AddressOption,
    EmbeddedOption,
    FormatOption,
    KeysOption,
    LabArg,
    StateDirOption,
)


def destroy(
    file: str = LabArg,
    layer: list[str] = typer.Option(None, "--layer", help="Only this layer (repeatable): vault, vms, hosts, "
                                    "clusters, gitops, platform, apps. Layers depending on it go with it."),
    yes_destroy: str = typer.Option(None, "--yes-destroy", help="Confirm without a prompt: the lab's name."),
    plan_only: bool = typer.Option(False, "--plan-only", help="Show what would be deleted and stop."),
    address: str = AddressOption,
    embedded: bool = EmbeddedOption,
    keys_file: str = KeysOption,
    fmt: str = FormatOption,
    state_dir: str = StateDirOption,
):
    """Delete everything of the lab (or of --layer), after showing it and a typed confirmation."""
    check_format(fmt)
    from homelab.cli._run import CliProgress, open_session, print_report, show_plan
    from homelab.ops import destroy as ops

    doc = load_or_exit(file, fmt)
    layers = ops.layers_for(layer)
    session = open_session(doc, state_dir=state_dir)
    try:
        plan, covered = ops.destroy_plan(session, layers)
        show_plan(plan, fmt, stream=sys.stderr if fmt == "json" else None)
        deleting = [c for c in plan.changes if c.action == "delete"]
        if not deleting:
            emit(f"destroy: nothing of {', '.join(covered)} is in state or live", sys.stderr)
            return
        emit(f"destroy: {len(deleting)} resource(s) of {', '.join(covered)} will be deleted"
             + (" (a Vault backup is taken first)" if ops.needs_backup(plan) else ""), sys.stderr)
        if plan_only:
            return
        _confirm(doc.lab.name, yes_destroy)
        backup = _backup(file, address, embedded, state_dir, keys_file, fmt) if ops.needs_backup(plan) else None
        report, made = ops.destroy(session, plan, backup=backup, progress=CliProgress())
    finally:
        session.close()
    if made is not None and fmt != "json":
        emit(f"vault backup: {made.file}", sys.stderr)
    print_report(report, fmt)
    if report.exit_code:
        raise typer.Exit(report.exit_code)


def _confirm(name: str, given: str | None) -> None:
    from homelab.errors import UsageError

    if given is not None:
        if given != name:
            raise UsageError(f"--yes-destroy {given!r} is not this lab's name", f"the lab is named {name!r}")
        return
    if not sys.stdin.isatty():
        raise UsageError("refusing to destroy without confirmation: there is no terminal to ask on",
                         f"review the list above and pass --yes-destroy {name}")
    answer = typer.prompt(f"Type the lab's name ({name}) to delete all of the above", default="", show_default=False)
    if answer.strip() != name:
        emit("Destroy cancelled.", sys.stderr)
        raise typer.Exit(1)


def _backup(file, address, embedded, state_dir, keys_file, fmt):
    def take():
        from homelab.cli._vault import login, vault_ctx
        from homelab.ops import vault_backup

        c = vault_ctx(file, address, embedded, state_dir, keys_file, fmt)
        return vault_backup.backup(login(c, None), c.doc.lab, c.target, c.doc.digest)

    return take


def register(app: typer.Typer) -> None:
    app.command("destroy")(destroy)
