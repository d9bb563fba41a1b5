"""`homelab vm add NAME --role ROLE [--env ENV] [--node N] [--join auto|k3s|elasticsearch|none]` and
`homelab vm remove NAME`: round-trip edits of the lab file (comments, order and style kept), written
atomically and only when the edited lab still checks clean; then re-render and show the plan.
See homelab/ops/add_vm.py for how the address, VMID, node and cluster membership are chosen.
"""

from __future__ import annotations

import typer

from homelab.cli._output import check_format, load_or_exit
from homelab.cli._run import commit_and_plan
from homelab.cli.options import EditOutOption, FileOption, FormatOption, RenderEditOption, StateDirOption

vm_app = typer.Typer(help="Add or remove VMs (edits homelab.yaml, then plans).", no_args_is_help=True)

@vm_app.command("add")
def add(
    name: str = typer.Argument(..., help="Hostname of the new VM, e.g. kube07."),
    role: str = typer.Option(..., "--role", "-r", help="Role (built-in or from `roles`)."),
    env: str = typer.Option(None, "--env", "-e", help="Terraform environment. Default: inferred from the role."),
    node: str = typer.Option(None, "--node", "-n", help="Proxmox node. Default: placed automatically."),
    join: str = typer.Option("auto", "--join", help="Cluster to join: auto (from the role), k3s, "
                             "elasticsearch or none."),
    file: str = FileOption,
    render: bool = RenderEditOption,
    out: str = EditOutOption,
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
    commit_and_plan(doc, edit.text, render=render, out=out, state_dir=state_dir, fmt=fmt,
                    summary=f"added VM {name} to {doc.file}: role {edit.role}, env {edit.env}, ip {edit.ip}, "
                            f"vmid {edit.vmid}, node {edit.node}{joined}")


@vm_app.command("remove")
def remove(
    name: str = typer.Argument(..., help="The VM to remove."),
    file: str = FileOption,
    render: bool = RenderEditOption,
    out: str = EditOutOption,
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
    commit_and_plan(doc, edit.text, render=render, out=out, state_dir=state_dir, fmt=fmt,
                    summary=f"removed VM {name} from {doc.file}{left}")


def register(app: typer.Typer) -> None:
    app.add_typer(vm_app, name="vm")
