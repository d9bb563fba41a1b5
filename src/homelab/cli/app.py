"""`homelab app add NAME --chart REPO/CHART@VERSION --namespace NS [--image REPO:TAG] [--port N]
[--ingress HOST]`: a round-trip edit of the lab file, then re-render and plan.
Chart syntax: see homelab/ops/add_app.py (e.g. https://bjw-s-labs.github.io/helm-charts/app-template@4.1.1).
"""

from __future__ import annotations

import typer

from homelab.cli._output import check_format, load_or_exit
from homelab.cli._run import commit_and_plan
from homelab.cli.options import EditOutOption, FileOption, FormatOption, RenderEditOption, StateDirOption

app_app = typer.Typer(help="Add applications (edits homelab.yaml, then plans).", no_args_is_help=True)


@app_app.command("add")
def add(
    name: str = typer.Argument(..., help="Application name (a DNS label)."),
    chart: str = typer.Option(..., "--chart", help="REPO/CHART@VERSION, e.g. "
                              "https://bjw-s-labs.github.io/helm-charts/app-template@4.1.1"),
    namespace: str = typer.Option(..., "--namespace", "-n", help="Kubernetes namespace."),
    image: str = typer.Option(None, "--image", help="REPOSITORY:TAG"),
    port: int = typer.Option(None, "--port", help="Container port."),
    ingress: str = typer.Option(None, "--ingress", help="Ingress host name."),
    file: str = FileOption,
    render: bool = RenderEditOption,
    out: str = EditOutOption,
    fmt: str = FormatOption,
    state_dir: str = StateDirOption,
):
    """Add an application deployed by ArgoCD from a pinned Helm chart; then plan."""
    check_format(fmt)
    from homelab.ops.add_app import add_app

    doc = load_or_exit(file, fmt)
    text = open(doc.file, encoding="utf-8").read()
    edit = add_app(doc, text, name, chart=chart, namespace=namespace, image=image, port=port, ingress=ingress)
    extra = f" (namespace {namespace} added to `namespaces`)" if edit.namespace_added else ""
    commit_and_plan(doc, edit.text, render=render, out=out, state_dir=state_dir, fmt=fmt,
                    summary=f"added app {namespace}/{name} ({edit.chart['name']}@{edit.chart['version']}) "
                            f"to {doc.file}{extra}")


def register(app: typer.Typer) -> None:
    app.add_typer(app_app, name="app")
