"""`homelab backup [vault|elasticsearch|apps|all]`: a preview of what will be backed up and where, a
confirmation (-y skips it), progress lines, and a run manifest (JSON) in <state dir>/backups/runs/.

vault: a raft snapshot (+ checksum, manifest with every KV path, version and value hash) in
backup.vault.directory, copied to backup.vault.offsite (S3) unless --no-offsite. elasticsearch: a
snapshot now in the cluster's repository, through the endpoint given with --es-url. apps: a Velero
Backup made from one of backup.velero.schedules, through --kubeconfig (else gitops.argocd.kubeconfig).
"""

from __future__ import annotations

import sys

import typer

from homelab.cli._output import emit, emit_json
from homelab.cli._vault import login, vault_ctx
from homelab.cli.options import (
    AddressOption,
    EmbeddedOption,
    FormatOption,
    KeysOption,
    LabOption,
    StateDirOption,
    UserOption,
    YesOption,
)


def backup(kind: str = typer.Argument("all", help="vault, elasticsearch, apps or all."),
           lab: str = LabOption, address: str = AddressOption, embedded: bool = EmbeddedOption,
           state_dir: str = StateDirOption, keys_file: str = KeysOption, user: str = UserOption,
           fmt: str = FormatOption, yes: bool = YesOption,
           directory: str = typer.Option(None, "--dir", help="Vault backup directory (default backup.vault.directory)."),
           no_offsite: bool = typer.Option(False, "--no-offsite", help="Do not copy the Vault backup to S3."),
           es_url: str = typer.Option(None, "--es-url", help="Elasticsearch URL for the snapshot (explicit: never "
                                      "guessed from the lab)."),
           es_ca: str = typer.Option(None, "--es-ca", help="CA file to verify Elasticsearch's certificate."),
           kubeconfig: str = typer.Option(None, "--kubeconfig", help="Kubeconfig for Velero (default "
                                          "gitops.argocd.kubeconfig)."),
           context: str = typer.Option(None, "--context", help="Kubeconfig context."),
           schedule: str = typer.Option(None, "--schedule", help="Velero schedule to back up from (default the "
                                        "first of backup.velero.schedules).")):
    """Back up now: preview, confirm, run with progress, write a manifest (sizes, checksums)."""
    from homelab.cli._run import confirm
    from homelab.ops import backup as ops

    kinds = ops.kinds_of(kind)
    c = vault_ctx(lab, address, embedded, state_dir, keys_file, fmt, require_running="vault" in kinds)
    doc, err, say = c.doc, sys.stderr, _progress(fmt)
    preview, runners = ops.RunPlan(), {}
    if "vault" in kinds:
        from homelab.ops import backup_vault
        from homelab.ops.vault_backup import backup_dir

        api = login(c, user)
        preview.lines["vault"] = backup_vault.describe(doc.lab, c.target, backup_dir(doc.lab, c.target, directory),
                                                     not no_offsite)
        store = None if no_offsite else backup_vault.store_for(doc.lab, api)  # keys first, before anything
        runners["vault"] = lambda: backup_vault.backup(api, doc, c.target, directory=directory, store=store, say=say)
    if "elasticsearch" in kinds:
        from homelab.ops import backup_elastic

        _add(preview, runners, "elasticsearch", backup_elastic.prepare_backup(doc.lab, es_url, es_ca,
                                                            api=lambda: _api(c, user)),
             say)
    if "apps" in kinds:
        from homelab.ops import backup_apps

        _add(preview, runners, "apps", backup_apps.prepare_backup(doc, kubeconfig, context, schedule), say)
    if fmt != "json":
        for lines in preview.lines.values():
            for line in lines:
                emit(f"will back up  {line}", err)
        for k, why in preview.skipped.items():
            emit(f"not run       {k}: {why}", err)
    if not runners:
        emit_json(preview.to_json()) if fmt == "json" else emit("nothing to back up", err)
        raise typer.Exit(1)
    confirm(yes, doing="back up", question="Back up now?", hint="read the preview above and pass -y")
    record = ops.start()
    record.skipped = dict(preview.skipped)
    for run in runners.values():
        record.entries.append(run())
    path = ops.write_run_manifest(c.target.state_dir, record)
    if fmt == "json":
        emit_json({**record.to_json(), "manifest": str(path)})
        return
    for e in record.entries:
        emit(f"{e['kind']}: {e['what']}" + (f", {e['size']} bytes, sha256 {e['sha256'][:16]}…" if e.get("sha256")
                                            else "") + (f" -> {e['offsite']['where']}" if e.get("offsite") else ""))
    emit(f"manifest: {path}")


def _api(c, user):
    """A logged-in Vault client when Vault answers (the ES password is read from it), else None."""
    from homelab.engines.vault.client import VaultError

    try:
        return login(c, user)
    except VaultError:
        return None


def _add(preview, runners, kind: str, prepared, say) -> None:
    if prepared.skip:
        preview.skipped[kind] = prepared.skip
    else:
        preview.lines[kind] = prepared.lines
        runners[kind] = lambda: prepared.run(say)


def _progress(fmt: str):
    if fmt == "json":
        return lambda message: None
    return lambda message: emit(f"  | {message}", sys.stderr)


def register(app: typer.Typer) -> None:
    app.command(name="backup")(backup)
