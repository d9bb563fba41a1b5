"""`homelab node join NAME [FILE] [--token-from first-server|vault]`.

Checks and renders the lab, then applies the targeted plan of that one node (`k3s_agent.NAME` or
`k3s_server.NAME`): the other nodes are left as they are. See homelab/ops/join_node.py.
"""

from __future__ import annotations

import typer

from homelab.cli._output import check_format, load_or_exit
from homelab.cli._run import run_k3s_command
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

    doc = load_or_exit(file, fmt)
    cluster.require_ssh(doc, "node join")
    steps = join_node.join_plan(doc, name)
    run_k3s_command(doc, steps, title=f"node join {name}:", done=f"node join: {name} configured",
                    options=join_node.join_options(token_from), out=out, state_dir=state_dir, fmt=fmt,
                    work=lambda session: join_node.join(doc, session, name))


def register(app: typer.Typer) -> None:
    app.add_typer(node_app, name="node")
