"""`homelab cluster bootstrap [FILE] [--kubeconfig PATH] [--token-from first-server|vault]`.

Checks and renders the lab, shows the order (first server, the other servers one at a time, then the
agents), and applies the targeted plan `k3s_server.*` + `k3s_agent.*` (see homelab/ops/cluster.py);
saves the kubeconfig.
"""

from __future__ import annotations

import typer

from homelab.cli._output import check_format, load_or_exit
from homelab.cli._run import run_k3s_command
from homelab.cli.options import FormatOption, LabArg, RenderOutOption, StateDirOption, TokenFromOption

cluster_app = typer.Typer(help="The K3s cluster: bootstrap it on the lab's VMs.", no_args_is_help=True)


@cluster_app.command("bootstrap")
def bootstrap(
    file: str = LabArg,
    kubeconfig: str = typer.Option(None, "--kubeconfig", help="Where to save the kubeconfig "
                                   "(default: ~/.kube/<lab name>.yaml, mode 0600)."),
    token_from: str = TokenFromOption,
    out: str = RenderOutOption,
    fmt: str = FormatOption,
    state_dir: str = StateDirOption,
):
    """Form the K3s cluster: first server (cluster-init), other servers one at a time, then agents."""
    check_format(fmt)
    from homelab.ops import cluster

    doc = load_or_exit(file, fmt)
    cluster.require_ssh(doc, "cluster bootstrap")
    steps = cluster.bootstrap_plan(doc)
    options = cluster.bootstrap_options(doc, kubeconfig=kubeconfig, token_source=token_from)
    run_k3s_command(doc, steps, title=f"cluster bootstrap: {len(steps)} node(s), in this order:",
                    done=f"cluster bootstrap: {len(steps)} node(s) configured", options=options, out=out,
                    state_dir=state_dir, fmt=fmt,
                    work=lambda session: cluster.bootstrap(doc, session, kubeconfig=kubeconfig))


def register(app: typer.Typer) -> None:
    app.add_typer(cluster_app, name="cluster")
