"""`homelab app add NAME --chart REPO/CHART@VERSION --namespace NS [--create-namespace] [--image REPO:TAG]
[--port N] [--ingress HOST] [--storage NAME:SIZE:MOUNT[:CLASS]]... [--secret PATH#FIELD[=ENV]]... [--gpu N]
[--backup SCHEDULE[:DAYS]]` and `homelab app remove NAME [--namespace NS]`: round-trip edits of the lab
file, then re-render and plan. Syntax of each value: homelab/ops/add_app.py.
"""

from __future__ import annotations

import typer

from homelab.cli._output import check_format, load_or_exit
from homelab.cli._run import commit_and_plan
from homelab.cli.options import EditOutOption, FileOption, FormatOption, RenderEditOption, StateDirOption

app_app = typer.Typer(help="Add and remove applications (edits homelab.yaml, then plans).", no_args_is_help=True)


@app_app.command("add")
def add(
    name: str = typer.Argument(..., help="Application name (a DNS label)."),
    chart: str = typer.Option(..., "--chart", help="REPO/CHART@VERSION, e.g. "
                              "https://bjw-s-labs.github.io/helm-charts/app-template@4.1.1"),
    namespace: str = typer.Option(..., "--namespace", "-n", help="Kubernetes namespace."),
    image: str = typer.Option(None, "--image", help="REPOSITORY:TAG"),
    port: int = typer.Option(None, "--port", help="Container port."),
    ingress: str = typer.Option(None, "--ingress", help="Ingress host name."),
    create_namespace: bool = typer.Option(False, "--create-namespace",
                                          help="Add the namespace to `namespaces` when the lab does not declare it."),
    storage: list[str] = typer.Option(None, "--storage", help="A volume NAME:SIZE:MOUNT[:CLASS], e.g. "
                                      "config:5GiB:/config (repeatable)."),
    secret: list[str] = typer.Option(None, "--secret", help="A Vault field as an env var PATH#FIELD[=ENV], e.g. "
                                     "apps/plex#claim_token=PLEX_CLAIM (repeatable)."),
    gpu: int = typer.Option(None, "--gpu", help="nvidia.com/gpu count (pins the app to a GPU node)."),
    backup: str = typer.Option(None, "--backup", help="Velero backup of its volumes: hourly, daily or weekly, "
                               "optionally :DAYS kept, e.g. daily:30."),
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
    edit = add_app(doc, text, name, chart=chart, namespace=namespace, image=image, port=port, ingress=ingress,
                   storage=storage or [], secrets=secret or [], gpu=gpu, backup=backup,
                   create_namespace=create_namespace)
    extra = f" (namespace {namespace} added to `namespaces`)" if edit.namespace_added else ""
    commit_and_plan(doc, edit.text, render=render, out=out, state_dir=state_dir, fmt=fmt,
                    summary=f"added app {namespace}/{name} ({edit.chart['name']}@{edit.chart['version']}) "
                            f"to {doc.file}{extra}")


@app_app.command("remove")
def remove(
    name: str = typer.Argument(..., help="Application name."),
    namespace: str = typer.Option(None, "--namespace", "-n", help="Its namespace, when two apps share the name."),
    file: str = FileOption,
    render: bool = RenderEditOption,
    out: str = EditOutOption,
    fmt: str = FormatOption,
    state_dir: str = StateDirOption,
):
    """Remove an application from the lab; then plan (ArgoCD deletes it on apply)."""
    check_format(fmt)
    import sys

    from homelab.cli._output import emit
    from homelab.ops.add_app import remove_app

    doc = load_or_exit(file, fmt)
    text = open(doc.file, encoding="utf-8").read()
    edit = remove_app(doc, text, name, namespace)
    commit_and_plan(doc, edit.text, render=render, out=out, state_dir=state_dir, fmt=fmt,
                    summary=f"removed app {edit.namespace}/{edit.name} from {doc.file}")
    for note in edit.notes:
        emit(f"note: {note}", sys.stderr)


def register(app: typer.Typer) -> None:
    app.add_typer(app_app, name="app")
