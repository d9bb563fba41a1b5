"""`homelab cluster bootstrap [FILE] [--kubeconfig PATH] [--token-from first-server|vault]`.

Checks and renders the lab, shows the order (first server, the other servers one at a time, then the
agents), and applies the targeted plan `k3s_server.*` + `k3s_agent.*` (see homelab/ops/cluster.py);
saves the kubeconfig.
"""

from __future__ import annotations

import sys

import typer

from homelab.cli._output import check_format, emit, load_or_exit
from homelab.cli._run import open_session, show_cluster_run, show_steps, warn_findings
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
    from homelab.ops.pipeline import render_into, require_clean

    doc = load_or_exit(file, fmt)
    cluster.require_ssh(doc, "cluster bootstrap")
    steps = cluster.bootstrap_plan(doc)
    options = cluster.bootstrap_options(doc, kubeconfig=kubeconfig, token_source=token_from)
    warn_findings(require_clean(doc), fmt)
    rendered = render_into(doc, out)
    if fmt != "json":
        emit(f"render: {rendered.out_dir}: {len(rendered.files)} files", sys.stderr)
    show_steps(steps, fmt, f"cluster bootstrap: {len(steps)} node(s), in this order:")
    session = open_session(doc, state_dir=state_dir, workdir=rendered.out_dir, options=options)
    try:
        run = cluster.bootstrap(doc, session, kubeconfig=kubeconfig)
    finally:
        session.close()
    show_cluster_run(run, fmt, f"cluster bootstrap: {len(steps)} node(s) configured")


def register(app: typer.Typer) -> None:
    app.add_typer(cluster_app, name="cluster")
