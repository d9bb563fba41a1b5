"""`homelab node join NAME [FILE] [--token-from first-server|vault]`.

Checks and renders the lab, then applies the targeted plan of that one node (`k3s_agent.NAME` or
`k3s_server.NAME`): the other nodes are left as they are. See homelab/ops/join_node.py.
"""

from __future__ import annotations

import sys

import typer

from homelab.cli._output import check_format, emit, load_or_exit
from homelab.cli._run import open_session, show_cluster_run, show_steps, warn_findings
from homelab.cli.options import FormatOption, LabArg, RenderOutOption, StateDirOption, TokenFromOption

node_app = typer.Typer(help="Cluster nodes: join a new VM to the K3s cluster.", no_args_is_help=True)


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
    from homelab.ops.pipeline import render_into, require_clean

    doc = load_or_exit(file, fmt)
    cluster.require_ssh(doc, "node join")
    steps = join_node.join_plan(doc, name)
    options = join_node.join_options(token_from)
    warn_findings(require_clean(doc), fmt)
    rendered = render_into(doc, out)
    if fmt != "json":
        emit(f"render: {rendered.out_dir}: {len(rendered.files)} files", sys.stderr)
    show_steps(steps, fmt, f"node join {name}:")
    session = open_session(doc, state_dir=state_dir, workdir=rendered.out_dir, options=options)
    try:
        run = join_node.join(doc, session, name)
    finally:
        session.close()
    show_cluster_run(run, fmt, f"node join: {name} configured")


def register(app: typer.Typer) -> None:
    app.add_typer(node_app, name="node")
