"""`homelab drill`: restore the newest Vault backup into a scratch embedded OpenBao and verify it by hash,
restore the newest Elasticsearch snapshot under a temporary name (--es-url), check the newest Velero
Backup (--kubeconfig), and write docs/drills/DATE.md + .json with RPO and RTO against backup.targets.
Exit 1 when a target is missed or a restore fails. Kinds without an endpoint are "not checked".
"""

from __future__ import annotations

import sys

import typer

from homelab.cli._output import emit, emit_json, load_or_exit
from homelab.cli.options import FormatOption, LabOption, StateDirOption


def drill(lab: str = LabOption, state_dir: str = StateDirOption, fmt: str = FormatOption,
          keys_file: str = typer.Option(None, "--keys-file", help="Keys file of the backed-up Vault (default the "
                                        "usual keys file)."),
          vault_from: str = typer.Option(None, "--vault-from", help="s3 (the newest off-site backup), s3:NAME or "
                                         "a .manifest.json; default the newest local backup."),
          es_url: str = typer.Option(None, "--es-url", help="Elasticsearch URL (explicit; else not checked)."),
          es_ca: str = typer.Option(None, "--es-ca", help="CA file to verify Elasticsearch."),
          kubeconfig: str = typer.Option(None, "--kubeconfig", help="Kubeconfig for Velero (default "
                                         "gitops.argocd.kubeconfig; else not checked)."),
          context: str = typer.Option(None, "--context", help="Kubeconfig context."),
          out: str = typer.Option(None, "--out", help="Report directory (default docs/drills beside the lab).")):
    """Restore the newest backups somewhere harmless, verify them, report RPO/RTO against the lab's targets."""
    from datetime import UTC, datetime
    from pathlib import Path

    from homelab.engines.vault.target import read_keys_file, resolve_target
    from homelab.ops import drill as ops
    from homelab.ops.drill_report import report_json, write_report

    doc = load_or_exit(lab, fmt)
    say = (lambda message: None) if fmt == "json" else (lambda message: emit(f"  | {message}", sys.stderr))
    started = datetime.now(UTC)
    target = resolve_target(doc.lab, address="embedded", state_dir=state_dir, keys_file=keys_file,
                            require_running=False)
    results = [_vault(doc, target, vault_from, say, started, ops, read_keys_file)]
    if es_url and doc.lab.clusters.elasticsearch and doc.lab.clusters.elasticsearch.snapshot_repository:
        from homelab.ops.backup_elastic import client

        results.append(ops.drill_elasticsearch(doc.lab, client(doc.lab, es_url, es_ca), say, started))
    else:
        results.append(ops.not_checked("elasticsearch", doc.lab.backup.targets))
    from homelab.ops.backup_apps import client_for

    kube = client_for(doc, kubeconfig, context)
    results.append(ops.drill_apps(doc, kube, say, started) if kube is not None
                   else ops.not_checked("apps", doc.lab.backup.targets))
    data = report_json(results, started, Path(lab).name)
    md, js = write_report(Path(out) if out else Path(lab).resolve().parent / "docs" / "drills", data)
    if fmt == "json":
        emit_json({**data, "report": str(md), "report_json": str(js)})
    else:
        for r in results:
            emit(f"{r.kind:<14} {r.status:<12} {r.detail}")
            if r.rpo_seconds is not None or r.rto_seconds is not None:
                emit(f"{'':<14} RPO {_num(r.rpo_seconds)} (target {r.rpo_target}), "
                     f"RTO {_num(r.rto_seconds)} (target {r.rto_target})" + (
                         f"  MISSED: {', '.join(r.missed)}" if r.missed else ""))
        emit(f"report: {md} (+ {js.name})")
    if not data["passed"]:
        raise typer.Exit(1)


def _num(v) -> str:
    return "—" if v is None else f"{v:.1f}s"


def _vault(doc, target, vault_from, say, started, ops, read_keys_file):
    from homelab.errors import HomelabError
    from homelab.ops import backup_vault

    try:
        if vault_from:
            manifest = backup_vault.fetch(doc.lab, target, vault_from, say=say)
        else:
            manifest = backup_vault.latest_local(doc.lab, target)
        if manifest is None:
            return ops.KindResult("vault", "failed", "no Vault backup to restore (`homelab backup vault` first, or "
                                  "--vault-from s3)", rpo_target=doc.lab.backup.targets.vault.rpo,
                                  rto_target=doc.lab.backup.targets.vault.rto)
        return ops.drill_vault(doc.lab, manifest, read_keys_file(target.keys_file), say, started)
    except HomelabError as exc:
        t = doc.lab.backup.targets.vault
        return ops.KindResult("vault", "failed", exc.message, rpo_target=t.rpo, rto_target=t.rto)


def register(app: typer.Typer) -> None:
    app.command(name="drill")(drill)
