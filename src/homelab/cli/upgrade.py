"""`homelab upgrade k3s --to VERSION [FILE]`: roll a K3s version through the cluster, gated and resumable.

Shows the plan (the versions, one minor at a time; servers one by one, then agent batches), asks, then
runs it (homelab/ops/upgrade_k3s.py): per node cordon, drain (PodDisruptionBudgets honoured), the pinned
install through the k3s role, wait for Ready with the new version, uncordon, health gates. Stops at the
first failed gate (exit 3); the same command resumes. On success the lab's clusters.k3s.version is edited.
"""

from __future__ import annotations

import sys

import typer

from homelab.cli._output import check_format, emit, emit_json, load_or_exit
from homelab.cli.options import (
    FormatOption,
    LabArg,
    RenderOutOption,
    StateDirOption,
    TokenFromOption,
    YesOption,
)

upgrade_app = typer.Typer(help="Upgrades: K3s, one minor version at a time, node by node.", no_args_is_help=True)


def _show(plan, fmt: str) -> None:
    if fmt == "json":
        return
    if not plan.steps:
        emit(f"K3s is at {plan.current} in the lab: nothing to upgrade.", sys.stderr)
        return
    emit(f"upgrade k3s: {plan.current} → {' → '.join(plan.versions)}, {len(plan.steps)} step(s):", sys.stderr)
    for i, step in enumerate(plan.steps, 1):
        emit(f"  {i}. {step.version}: {step.role} {', '.join(step.nodes)}: gates, cordon, drain, install, "
             "wait Ready, uncordon", sys.stderr)
    for note in plan.notes:
        emit(f"  note: {note}", sys.stderr)


@upgrade_app.command("k3s")
def k3s(
    to: str = typer.Option(..., "--to", help="The K3s release to end at, e.g. v1.35.0+k3s1."),
    file: str = LabArg,
    via: list[str] = typer.Option(None, "--via", help="The release to install in an intermediate minor "
                                  "(repeatable), e.g. --via v1.34.1+k3s1."),
    kubeconfig: str = typer.Option(None, "--kubeconfig", help="The cluster's kubeconfig (default: "
                                   "gitops.argocd.kubeconfig, else ~/.kube/<lab name>.yaml)."),
    plan_only: bool = typer.Option(False, "--plan-only", help="Show the plan and stop."),
    token_from: str = TokenFromOption,
    yes: bool = YesOption,
    out: str = RenderOutOption,
    fmt: str = FormatOption,
    state_dir: str = StateDirOption,
):
    """Upgrade K3s to VERSION: one minor at a time, servers one by one, then agents in batches."""
    check_format(fmt)
    from homelab.cli._run import confirm, warn_findings
    from homelab.ops import cluster, join_node, upgrade_k3s
    from homelab.ops.pipeline import require_clean

    doc = load_or_exit(file, fmt)
    warn_findings(require_clean(doc), fmt)
    plan = upgrade_k3s.plan_upgrade(doc, to, via or ())
    _show(plan, fmt)
    if plan_only or not plan.steps:
        if fmt == "json":
            emit_json({"plan": plan.to_json()})
        return
    cluster.require_ssh(doc, "upgrade k3s")
    confirm(yes, doing="upgrade", question=f"Upgrade K3s to {plan.target}?",
            hint="review the plan and pass -y")

    def say(message: str) -> None:
        emit(f"  | {message}", sys.stderr)

    install = upgrade_k3s.install_version(doc, out=out, state_dir=state_dir, progress=say,
                                          options=join_node.join_options(token_from))
    run = upgrade_k3s.upgrade(doc, plan, client=upgrade_k3s.kube_client(doc, kubeconfig), install=install,
                              state_dir=state_dir, out=out, say=say)
    if fmt == "json":
        emit_json(run.to_json())
        return
    emit(f"upgrade k3s: every node runs {plan.target} ({len(run.upgraded)} step(s) run, {len(run.skipped)} "
         f"found done); {doc.file}: clusters.k3s.version = {plan.target}")


def register(app: typer.Typer) -> None:
    app.add_typer(upgrade_app, name="upgrade")
