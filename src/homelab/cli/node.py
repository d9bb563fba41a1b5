"""`homelab node join|drain|remove NAME [FILE]`.

join: checks and renders the lab, then applies the targeted plan of that one node (`k3s_agent.NAME` or
`k3s_server.NAME`): the other nodes are left as they are. See homelab/ops/join_node.py.
drain: cordon and evict its pods (PodDisruptionBudgets honoured); uncordon undoes the cordon. remove: drain, leave etcd (a server),
edit the lab, uninstall K3s and destroy the VM through the targeted plan, delete the Node object. See
homelab/ops/remove_node.py.
"""

from __future__ import annotations

import typer

from homelab.cli._output import check_format, load_or_exit
from homelab.cli._run import run_k3s_command
from homelab.cli.options import FormatOption, LabArg, RenderOutOption, StateDirOption, TokenFromOption

node_app = typer.Typer(help="Cluster nodes: join, drain, uncordon or remove a K3s node.", no_args_is_help=True)
KubeconfigOption = typer.Option(None, "--kubeconfig", help="The cluster's kubeconfig (default: "
                                "gitops.argocd.kubeconfig, else ~/.kube/<lab name>.yaml).")


@node_app.command("join")
def join(
    name: str = typer.Argument(..., help="The VM to join (a member of clusters.k3s.servers or agents)."),
    file: str = LabArg,
    token_from: str = TokenFromOption,
    out: str = RenderOutOption,
    fmt: str = FormatOption,
    state_dir: str = StateDirOption,
):
    """Join one node to the running K3s cluster without touching the others."""
    check_format(fmt)
    from homelab.ops import cluster, join_node

    doc = load_or_exit(file, fmt)
    cluster.require_ssh(doc, "node join")
    steps = join_node.join_plan(doc, name)
    run_k3s_command(doc, steps, title=f"node join {name}:", done=f"node join: {name} configured",
                    options=join_node.join_options(token_from), out=out, state_dir=state_dir, fmt=fmt,
                    work=lambda session: join_node.join(doc, session, name))


@node_app.command("drain")
def drain(
    name: str = typer.Argument(..., help="The node to drain."),
    file: str = LabArg,
    kubeconfig: str = KubeconfigOption,
    fmt: str = FormatOption,
):
    """Cordon NAME and evict its pods through the eviction API (PodDisruptionBudgets honoured)."""
    check_format(fmt)
    import sys

    from homelab.cli._output import emit, emit_json
    from homelab.ops import remove_node, upgrade_k3s

    doc = load_or_exit(file, fmt)
    if name not in doc.inventory.by_name:
        from homelab.errors import UsageError

        raise UsageError(f"there is no VM named {name} in {doc.file}")
    evicted = remove_node.drain_node(doc, upgrade_k3s.kube_client(doc, kubeconfig), name,
                                     say=lambda m: emit(f"  | {m}", sys.stderr))
    if fmt == "json":
        emit_json({"node": name, "cordoned": True, "evicted": evicted})
        return
    emit(f"node drain: {name} cordoned, {len(evicted)} pod(s) evicted (undo: `homelab node uncordon {name}`)")


@node_app.command("uncordon")
def uncordon(
    name: str = typer.Argument(..., help="The node to schedule pods on again."),
    file: str = LabArg,
    kubeconfig: str = KubeconfigOption,
    fmt: str = FormatOption,
):
    """Let pods be scheduled on NAME again (after `node drain`)."""
    check_format(fmt)
    from homelab.cli._output import emit, emit_json
    from homelab.ops import drain, upgrade_k3s

    doc = load_or_exit(file, fmt)
    drain.uncordon(upgrade_k3s.kube_client(doc, kubeconfig), [name], lambda m: None)
    if fmt == "json":
        emit_json({"node": name, "cordoned": False})
        return
    emit(f"node uncordon: {name} schedulable again")


@node_app.command("remove")
def remove(
    name: str = typer.Argument(..., help="The node to remove (its VM is destroyed)."),
    file: str = LabArg,
    kubeconfig: str = KubeconfigOption,
    yes: bool = typer.Option(False, "-y", "--yes", help="Do not ask for confirmation."),
    out: str = RenderOutOption,
    fmt: str = FormatOption,
    state_dir: str = StateDirOption,
):
    """Drain NAME, take it out of etcd (a server), uninstall K3s, destroy its VM, edit the lab."""
    check_format(fmt)
    import sys
    from pathlib import Path

    from homelab.cli._output import emit, emit_json
    from homelab.cli._run import confirm, open_session
    from homelab.lab.edit import reload
    from homelab.ops import remove_node, upgrade_k3s
    from homelab.ops.add_vm import remove_vm
    from homelab.ops.edit_lab import commit_edit
    from homelab.ops.pipeline import render_into

    doc = load_or_exit(file, fmt)
    session = open_session(doc, state_dir=state_dir)
    state = session.store.resources()
    session.close()
    role = remove_node.role_of(doc, name, state)
    confirm(yes, doing="remove", question=f"Drain {name}, uninstall K3s and destroy its VM?",
            hint=f"pass -y to remove {name}")

    def current():
        return reload(doc, Path(doc.file).read_text(encoding="utf-8"))

    def edit(what: str):
        now = current()
        text = Path(doc.file).read_text(encoding="utf-8")
        new = remove_node.without_node(now, text, name) if what == "cluster" else remove_vm(now, text, name).text
        commit_edit(now, new, render=True, out=out)

    def apply_deletes(pattern: str):
        edited = current()
        rendered = render_into(edited, out)
        s = open_session(edited, state_dir=state_dir, workdir=rendered.out_dir)
        try:
            return remove_node.targeted_deletes(s, pattern)
        finally:
            s.close()

    result = remove_node.remove_node(doc, name, client=upgrade_k3s.kube_client(doc, kubeconfig), state=state,
                                     edit=edit, apply_deletes=apply_deletes,
                                     say=lambda m: emit(f"  | {m}", sys.stderr))
    if fmt == "json":
        emit_json(result.to_json())
        return
    emit(f"node remove: {name} ({role}) removed: {len(result.evicted)} pod(s) evicted"
         + (", left etcd" if result.left_etcd else "") + f", deleted {', '.join(result.deleted) or 'nothing'}"
         + (", Node object deleted" if result.node_deleted else ""))


def register(app: typer.Typer) -> None:
    app.add_typer(node_app, name="node")
