"""`homelab vm add NAME --role ROLE [--env ENV] [--node N] [--join auto|k3s|elasticsearch|none]` and
`homelab vm remove NAME`: round-trip edits of the lab file (comments, order and style kept), written
atomically and only when the edited lab still checks clean; then re-render and show the plan.
See homelab/ops/add_vm.py for how the address, VMID, node and cluster membership are chosen.
"""

from __future__ import annotations

import sys

import typer

from homelab.cli._output import FormatOption, check_format, emit, load_or_exit, print_diagnostics
from homelab.cli.plan import StateDirOption, open_lab_session, show_plan

FileOption = typer.Option("homelab.yaml", "--lab", "-l", "--file", help="The lab file.")


def commit_edit(doc, new_text: str, *, summary: str, render: bool, out: str | None, state_dir: str | None,
                fmt: str, verbose: bool = False) -> None:
    """Validate the edited lab, render it (in memory, then into the output directory), and only then
    write the lab file atomically; plan and show the plan. Any failure before the last step (the edit
    would not load or check, rendering fails, the output directory is unusable) leaves the lab file
    untouched, so the same command can simply be run again."""
    from homelab.checks import run_checks
    from homelab.diagnostics import Severity
    from homelab.errors import LoadError
    from homelab.lab.edit import write_atomic
    from homelab.lab.load import load_text

    try:
        new_doc = load_text(new_text, doc.file)
    except LoadError as exc:
        print_diagnostics(exc.diagnostics, stream=sys.stderr)
        emit(f"{doc.file} was not changed: the edited file would not load", sys.stderr)
        raise typer.Exit(1) from None
    diags = run_checks(new_doc)
    if any(d.severity is Severity.ERROR for d in diags):
        print_diagnostics(diags, stream=sys.stderr)
        emit(f"{doc.file} was not changed: the edited lab would not check clean", sys.stderr)
        raise typer.Exit(1)
    stream = sys.stderr if fmt == "json" else None
    workdir = out
    if render:
        workdir = _render_before_commit(doc, new_doc, out, fmt, stream)
    write_atomic(doc.file, new_text)
    emit(summary, stream)
    session = open_lab_session(new_doc, state_dir=state_dir, workdir=workdir)
    try:
        plan = session.plan()
    finally:
        session.close()
    show_plan(plan, fmt, verbose)
    if fmt != "json":
        emit("Run `homelab apply` to make it so.")


def _render_before_commit(doc, new_doc, out: str | None, fmt: str, stream):
    """Render the edited lab into memory, validate the output directory with the writer's dry run, then
    write the tree. Raises (lab file not yet written) on any failure; the error names the file kept."""
    from pathlib import Path

    from homelab.errors import HomelabError
    from homelab.render import render_all
    from homelab.render.output import write_tree

    out_dir = Path(out) if out else Path(doc.file).parent
    try:
        files = render_all(new_doc)
        write_tree(files, out_dir, check=True)  # rendered paths, the directory itself, the manifest
        anchor = next((p for p in (out_dir.absolute(), *out_dir.absolute().parents) if p.exists()), None)
        if anchor is not None and not anchor.is_dir():
            from homelab.render.output import OutputError

            raise OutputError(f"cannot render into {out_dir}: {anchor} is not a directory",
                              "pass a directory with --out")
        report = write_tree(files, out_dir)
    except HomelabError:
        emit(f"{doc.file} was not changed: the edited lab could not be rendered into {out_dir}", sys.stderr)
        raise
    if fmt != "json":
        emit(f"render: {out_dir}: {len(files)} files ({len(report.created)} created, {len(report.updated)} updated, "
             f"{len(report.removed)} removed, {len(report.unchanged)} unchanged)", stream)
    return out_dir


def register(app: typer.Typer) -> None:
    vm_app = typer.Typer(help="Add or remove VMs (edits homelab.yaml, then plans).", no_args_is_help=True)
    app.add_typer(vm_app, name="vm")

    @vm_app.command("add")
    def add(
        name: str = typer.Argument(..., help="Hostname of the new VM, e.g. kube07."),
        role: str = typer.Option(..., "--role", "-r", help="Role (built-in or from `roles`)."),
        env: str = typer.Option(None, "--env", "-e", help="Terraform environment. Default: inferred from the role."),
        node: str = typer.Option(None, "--node", "-n", help="Proxmox node. Default: placed automatically."),
        join: str = typer.Option("auto", "--join", help="Cluster to join: auto (from the role), k3s, "
                                 "elasticsearch or none."),
        file: str = FileOption,
        render: bool = typer.Option(True, "--render/--no-render", help="Re-render after the edit."),
        out: str = typer.Option(None, "--out", help="Where to render. Default: the lab file's directory."),
        fmt: str = FormatOption,
        state_dir: str = StateDirOption,
    ):
        """Add a VM: next free IP and VMID, placement, cluster membership; then plan."""
        check_format(fmt)
        from homelab.ops.add_vm import add_vm

        doc = load_or_exit(file, fmt)
        text = open(doc.file, encoding="utf-8").read()
        edit = add_vm(doc, text, name, role, env=env, node=node, join=join)
        joined = f", joins {', '.join(edit.joined)}" if edit.joined else ""
        if edit.pinned:
            joined += f"; pinned {', '.join(edit.pinned)} to their current nodes so they do not move"
        commit_edit(doc, edit.text, render=render, out=out, state_dir=state_dir, fmt=fmt,
                    summary=f"added VM {name} to {doc.file}: role {edit.role}, env {edit.env}, ip {edit.ip}, "
                            f"vmid {edit.vmid}, node {edit.node}{joined}")

    @vm_app.command("remove")
    def remove(
        name: str = typer.Argument(..., help="The VM to remove."),
        file: str = FileOption,
        render: bool = typer.Option(True, "--render/--no-render", help="Re-render after the edit."),
        out: str = typer.Option(None, "--out", help="Where to render. Default: the lab file's directory."),
        fmt: str = FormatOption,
        state_dir: str = StateDirOption,
    ):
        """Remove a VM (and its cluster memberships); then plan."""
        check_format(fmt)
        from homelab.ops.add_vm import remove_vm

        doc = load_or_exit(file, fmt)
        text = open(doc.file, encoding="utf-8").read()
        edit = remove_vm(doc, text, name)
        left = f", left {', '.join(edit.joined)}" if edit.joined else ""
        if edit.pinned:
            left += f"; pinned {', '.join(edit.pinned)} to their current nodes so they do not move"
        commit_edit(doc, edit.text, render=render, out=out, state_dir=state_dir, fmt=fmt,
                    summary=f"removed VM {name} from {doc.file}{left}")
