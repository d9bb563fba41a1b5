"""`homelab cluster bootstrap [FILE] [--kubeconfig PATH] [--token-from first-server|vault]`.

Checks and renders the lab, shows the plan (first server, the other servers one at a time, then the
agents), runs it through the ansible engine and saves the kubeconfig. See homelab/ops/cluster.py.
"""

from __future__ import annotations

import sys

import typer

from homelab.cli._output import FormatOption, check_format, emit, emit_json, load_or_exit

TokenOption = typer.Option("first-server", "--token-from",
                           help="Join token: read from the first server (first-server) or from Vault (vault).")


def show_steps(steps, fmt: str, title: str) -> None:
    if fmt == "json":
        return
    emit(title, sys.stderr)
    for i, step in enumerate(steps, 1):
        emit(f"  {i}. {step.address} ({step.ip or 'no address'}): {step.what}", sys.stderr)


def progress_printer(fmt: str):
    def say(message: str) -> None:
        emit(message, sys.stderr)

    return say


def show_run(run, fmt: str, done: str) -> None:
    if fmt == "json":
        emit_json(run.to_json())
        return
    changed = ", ".join(f"{h}={n}" for h, n in sorted(run.changed.items())) or "nothing"
    emit(f"{done}; changed: {changed}")
    if run.kubeconfig:
        emit(f"kubeconfig: {run.kubeconfig}")


def register(app: typer.Typer) -> None:
    cluster_app = typer.Typer(help="The K3s cluster: bootstrap it on the lab's VMs.", no_args_is_help=True)
    app.add_typer(cluster_app, name="cluster")

    @cluster_app.command("bootstrap")
    def bootstrap(
        file: str = typer.Argument("homelab.yaml", help="The lab file (or a directory holding homelab.yaml)."),
        kubeconfig: str = typer.Option(None, "--kubeconfig", help="Where to save the kubeconfig "
                                       "(default: ~/.kube/<lab name>.yaml, mode 0600)."),
        token_from: str = TokenOption,
        out: str = typer.Option(None, "--out", "-o", help="Render into this directory (default: the lab file's directory)."),
        fmt: str = FormatOption,
    ):
        """Form the K3s cluster: first server (cluster-init), other servers one at a time, then agents."""
        check_format(fmt)
        from pathlib import Path

        from homelab.cli.up import check_clean, render_to
        from homelab.ops import cluster
        from homelab.secrets import REDACTOR

        doc = load_or_exit(file, fmt)
        cluster.require_ssh(doc, "cluster bootstrap")
        steps = cluster.bootstrap_plan(doc)
        cluster.check_token_source(token_from)
        check_clean(doc, fmt)
        workdir = render_to(doc, out, fmt, sys.stderr)
        show_steps(steps, fmt, f"cluster bootstrap: {len(steps)} node(s), in this order:")
        run = cluster.bootstrap(doc, Path(workdir) / "ansible", kubeconfig=Path(kubeconfig) if kubeconfig else None,
                                token_source=token_from, progress=progress_printer(fmt), redactor=REDACTOR)
        show_run(run, fmt, f"cluster bootstrap: {len(steps)} node(s) configured")
