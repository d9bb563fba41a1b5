"""`homelab node join NAME [FILE] [--token-from first-server|vault]`.

Checks and renders the lab, then runs the K3s playbook limited to NAME (the other nodes are left as
they are; the join token is read from the first server). See homelab/ops/join_node.py.
"""

from __future__ import annotations

import sys

import typer

from homelab.cli._output import FormatOption, check_format, load_or_exit
from homelab.cli.cluster import TokenOption, progress_printer, show_run, show_steps


def register(app: typer.Typer) -> None:
    node_app = typer.Typer(help="Cluster nodes: join a new VM to the K3s cluster.", no_args_is_help=True)
    app.add_typer(node_app, name="node")

    @node_app.command("join")
    def join(
        name: str = typer.Argument(..., help="The VM to join (a member of clusters.k3s.servers or agents)."),
        file: str = typer.Argument("homelab.yaml", help="The lab file (or a directory holding homelab.yaml)."),
        token_from: str = TokenOption,
        out: str = typer.Option(None, "--out", "-o", help="Render into this directory (default: the lab file's directory)."),
        fmt: str = FormatOption,
    ):
        """Join one node to the running K3s cluster without touching the others."""
        check_format(fmt)
        from pathlib import Path

        from homelab.cli.up import check_clean, render_to
        from homelab.ops import cluster, join_node
        from homelab.secrets import REDACTOR

        doc = load_or_exit(file, fmt)
        cluster.require_ssh(doc, "node join")
        steps = join_node.join_plan(doc, name)
        cluster.check_token_source(token_from)
        check_clean(doc, fmt)
        workdir = render_to(doc, out, fmt, sys.stderr)
        show_steps(steps, fmt, f"node join {name}:")
        run = join_node.join(doc, Path(workdir) / "ansible", name, token_source=token_from,
                             progress=progress_printer(fmt), redactor=REDACTOR)
        show_run(run, fmt, f"node join: {name} configured")
