"""`homelab upgrade k3s --to VERSION [FILE]` and `homelab upgrade app NAME --to VERSION`.

k3s: roll a K3s version through the cluster, gated and resumable.

Shows the plan (the versions, one minor at a time; servers one by one, then agent batches), asks, then
runs it (homelab/ops/upgrade_k3s.py): per node cordon, drain (PodDisruptionBudgets honoured), the pinned
install through the k3s role, wait for Ready with the new version, uncordon, health gates. Stops at the
first failed gate (exit 3); the same command resumes. On success the lab's clusters.k3s.version is edited.
app: a chart version edit, with old and new chart templated with the same values (homelab/ops/upgrade_app.py).
"""

from __future__ import annotations

import sys

import typer

from homelab.cli._output import check_format, emit, emit_json, load_or_exit
from homelab.cli.options import (
    AddressOption,
    EmbeddedOption,
    FormatOption,
    KeysOption,
    LabArg,
    RenderOutOption,
    StateDirOption,
    TokenFromOption,
    YesOption,
)

upgrade_app = typer.Typer(help="Upgrades: K3s (one minor at a time, node by node), app charts, Elasticsearch, Vault.",
                          no_args_is_help=True)


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


def _show_app(r) -> None:
    emit(f"upgrade app {r.app}: {r.chart} {r.old} → {r.new}, both templated with the app's values")
    kinds = {k: [c for c in r.defaults if c.kind == k] for k in ("removed", "changed", "added")}
    emit(f"  the chart's defaults (values.yaml): {len(kinds['removed'])} removed, {len(kinds['changed'])} "
         f"changed, {len(kinds['added'])} added")
    for c in kinds["removed"]:
        emit(f"    - {c.key} (was {c.old!r})")
    for c in kinds["changed"]:
        emit(f"    ~ {c.key}: {c.old!r} → {c.new!r}")
    for c in kinds["added"]:
        emit(f"    + {c.key}: {c.new!r}")
    if r.keys_gone:
        emit(f"  your values the new chart's values.yaml no longer has: {', '.join(r.keys_gone)}")
    if r.now_ignored:
        emit(f"  your values that shaped {r.old}'s output and change nothing in {r.new}'s: {', '.join(r.now_ignored)}")
    for what, names in r.objects.items():
        if names:
            emit(f"  objects {what}: {', '.join(names)}")


@upgrade_app.command("app")
def app(
    name: str = typer.Argument(..., help="The app (apps[].name)."),
    to: str = typer.Option(..., "--to", help="The chart version to move to."),
    file: str = typer.Option("homelab.yaml", "--lab", "-l", help="The lab file."),
    plan_only: bool = typer.Option(False, "--plan-only", help="Show the differences; do not edit the lab."),
    out: str = RenderOutOption,
    fmt: str = FormatOption,
    state_dir: str = StateDirOption,
):
    """Move an app to another chart version: edits the lab, shows what the new chart does with the same values."""
    check_format(fmt)
    from homelab.charts.cache import ChartCache, default_dir
    from homelab.charts.template import DiskCache
    from homelab.cli._run import warn_findings
    from homelab.ops import upgrade_app as ops

    doc = load_or_exit(file, fmt)
    warn_findings(ops.validate_edit(doc, ops.edited_text(doc, name, to)), fmt)
    cache_dir = default_dir(state_dir)
    result = ops.compare(doc, name, to, ChartCache(cache_dir), DiskCache(cache_dir.parent / "cache"))
    if not plan_only:
        ops.commit(doc, result, out=out)
    if fmt == "json":
        emit_json({**result.to_json(), "lab_edited": not plan_only})
        return
    _show_app(result)
    if not plan_only:
        emit(f"{doc.file}: apps[{name}].chart.version = {to} (rendered). Run `homelab plan` to see the change.")


@upgrade_app.command("elasticsearch")
def elasticsearch(
    to: str = typer.Option(..., "--to", help="The Elasticsearch version to end at, e.g. 8.19.2."),
    file: str = LabArg,
    plan_only: bool = typer.Option(False, "--plan-only", help="Show the plan and stop."),
    no_api_gates: bool = typer.Option(False, "--no-api-gates", help="Rely on the role's gates only (when the "
                                      "controller cannot reach Elasticsearch's API or Vault)."),
    yes: bool = YesOption,
    out: str = RenderOutOption,
    fmt: str = FormatOption,
    state_dir: str = StateDirOption,
):
    """Rolling upgrade of Elasticsearch: data nodes first, masters last, the role's allocation and health gates."""
    check_format(fmt)
    from homelab.cli._run import confirm, warn_findings
    from homelab.ops import cluster, upgrade_es
    from homelab.ops.pipeline import require_clean

    doc = load_or_exit(file, fmt)
    warn_findings(require_clean(doc), fmt)
    plan = upgrade_es.plan_es_upgrade(doc, to)
    if fmt != "json":
        emit(f"upgrade elasticsearch: {plan.current} → {plan.target}, {len(plan.steps)} node(s) one at a time:",
             sys.stderr)
        for i, step in enumerate(plan.steps, 1):
            emit(f"  {i}. {step.node} ({step.role}): allocation primaries, flush, upgrade, rejoin, allocation "
                 "all, wait for no initializing/relocating shards", sys.stderr)
    if plan_only or not plan.steps:
        if fmt == "json":
            emit_json({"plan": plan.to_json()})
        return
    cluster.require_ssh(doc, "upgrade elasticsearch")
    confirm(yes, doing="upgrade", question=f"Upgrade Elasticsearch to {plan.target}?", hint="review the plan and pass -y")

    def say(message: str) -> None:
        emit(f"  | {message}", sys.stderr)

    api = None if no_api_gates else upgrade_es.lab_api(doc, state_dir=state_dir)
    done = upgrade_es.upgrade(doc, plan, run_node=upgrade_es.playbook_runner(doc, out=out, progress=say),
                              state_dir=state_dir, out=out, say=say, api=api)
    if fmt == "json":
        emit_json({"plan": plan.to_json(), "upgraded": done})
        return
    emit(f"upgrade elasticsearch: {len(done)} node(s) upgraded; {doc.file}: clusters.elasticsearch.version = {to}")


@upgrade_app.command("vault")
def vault(
    to: str = typer.Option(..., "--to", help="The Vault/OpenBao version to move to."),
    file: str = typer.Option("homelab.yaml", "--lab", "-l", help="The lab file."),
    address: str = AddressOption,
    embedded: bool = EmbeddedOption,
    keys_file: str = KeysOption,
    yes: bool = YesOption,
    out: str = RenderOutOption,
    fmt: str = FormatOption,
    state_dir: str = StateDirOption,
):
    """Upgrade Vault/OpenBao: snapshot first, standbys before the active node, each unsealed and checked."""
    from homelab.cli._run import confirm
    from homelab.cli._vault import login, vault_ctx
    from homelab.errors import UsageError
    from homelab.ops import upgrade_vault, vault_backup

    c = vault_ctx(file, address, embedded, state_dir, keys_file, fmt)
    plan = upgrade_vault.plan_vault_upgrade(c.doc, to)
    api = login(c, None)
    if len(api.raft_servers()) > 1:
        raise UsageError("the Vault cluster has several raft servers; the lab names one (vault.server)",
                         "upgrade the standbys by hand first, then run this for the active node")
    if fmt != "json":
        emit(f"upgrade vault: {plan.current} → {plan.target}: snapshot, then restart at {plan.target}, unseal, "
             "check the version it reports", sys.stderr)
    confirm(yes, doing="upgrade", question=f"Upgrade Vault to {plan.target}?", hint="review and pass -y")

    def say(message: str) -> None:
        emit(f"  | {message}", sys.stderr)

    restart, unseal, status = upgrade_vault.runners(c.doc, c.target, out=out, progress=say)
    result = upgrade_vault.upgrade(
        c.doc, plan, api=api, restart=restart, unseal=unseal, status=status, out=out, say=say,
        backup=lambda: vault_backup.backup(api, c.doc.lab, c.target, c.doc.digest))
    if fmt == "json":
        emit_json(result.to_json())
        return
    emit(f"upgrade vault: {', '.join(result.upgraded)} at {plan.target}; backup {result.backup.file}; "
         f"{c.doc.file}: vault.version = {plan.target}")


def register(app: typer.Typer) -> None:
    app.add_typer(upgrade_app, name="upgrade")
