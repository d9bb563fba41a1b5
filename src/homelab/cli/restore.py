"""`homelab restore vault|app|elasticsearch`: each verifies and previews what it will bring back and where,
asks (-y skips), then restores with progress and writes a run manifest in <state dir>/backups/runs/.

vault [--from s3|s3:NAME|FILE]: the newest off-site set (downloaded and checked against its sha256) or a
local backup, restored with the same code as `vault restore` (onto an empty server too).
app NAME [--to NS]: a Velero Restore from the newest Completed Backup that covers the app's namespace.
elasticsearch SNAPSHOT [--index X --as NEW]: a snapshot restore under new index names, through --es-url.
"""

from __future__ import annotations

import sys

import typer

from homelab.cli._output import emit, emit_json
from homelab.cli._vault import run_restore, vault_ctx
from homelab.cli.options import (
    AddressOption,
    EmbeddedOption,
    FormatOption,
    LabOption,
    StateDirOption,
    UserOption,
    YesOption,
)

restore = typer.Typer(help="Restore a backup: Vault (from S3 or a file), an app (Velero), an Elasticsearch "
                           "snapshot under a new name.", no_args_is_help=True)


@restore.command("vault")
def vault_(source: str = typer.Option(None, "--from", help="s3 (the newest off-site backup), s3:NAME, or a "
                                      "backup's .manifest.json/.snap (default: the newest local backup)."),
           lab: str = LabOption, address: str = AddressOption, embedded: bool = EmbeddedOption,
           state_dir: str = StateDirOption, fmt: str = FormatOption,
           keys_file: str = typer.Option(None, "--keys-file", help="Keys file of the BACKED-UP Vault."),
           current_keys_file: str = typer.Option(None, "--current-keys-file",
                                                 help="Keys file of the Vault restored into, if initialised anew."),
           directory: str = typer.Option(None, "--dir", help="Where downloads go (default backup.vault.directory)."),
           user: str = UserOption, yes: bool = YesOption):
    """Restore Vault from the off-site bucket or a local backup (an empty server too); verify every KV path,
    version and value hash against the manifest."""
    from homelab.errors import UsageError
    from homelab.ops import backup as ops
    from homelab.ops import backup_vault

    c = vault_ctx(lab, address, embedded, state_dir, keys_file, fmt)
    say = (lambda message: None) if fmt == "json" else (lambda message: emit(f"  | {message}", sys.stderr))
    if source is None:
        manifest = backup_vault.latest_local(c.doc.lab, c.target, directory)
        if manifest is None:
            raise UsageError("there is no local Vault backup", "pass --from s3 or --from FILE")
    else:
        manifest = backup_vault.fetch(c.doc.lab, c.target, source, directory=directory, api=_current_api(c, user),
                                      say=say)
    record = ops.start()
    result = run_restore(c, manifest, current_keys_file=current_keys_file, user=user, yes=yes)
    record.entries.append({"kind": "vault", "what": f"restore into {c.target.address}", "from": str(manifest),
                           "sha256": result.plan.manifest.get("sha256"), "size": result.plan.manifest.get("size"),
                           "kv_paths": result.verified_paths, "versions_verified": result.verified_versions})
    path = ops.write_run_manifest(c.target.state_dir, record, "restore")
    if fmt != "json":
        emit(f"manifest: {path}")


def _current_api(c, user):
    """A client for the Vault as it is now, when it is initialised and unsealed (to read the bucket's keys)."""
    from homelab.engines.vault.client import VaultError

    try:
        from homelab.cli._vault import login

        return login(c, user)
    except VaultError:
        return None


@restore.command("app")
def app_(name: str = typer.Argument(..., help="The app (apps[].name) to restore."),
         to: str = typer.Option(None, "--to", help="Restore into this namespace instead (namespaceMapping)."),
         lab: str = LabOption, state_dir: str = StateDirOption, fmt: str = FormatOption, yes: bool = YesOption,
         kubeconfig: str = typer.Option(None, "--kubeconfig", help="Kubeconfig (default gitops.argocd.kubeconfig)."),
         context: str = typer.Option(None, "--context", help="Kubeconfig context."),
         wait: float = typer.Option(300.0, "--wait", help="Seconds to wait for the Restore to finish (0: do not).")):
    """Create a Velero Restore of the app's namespace from the newest Completed Backup covering it; report
    its phase."""
    from homelab.cli._output import load_or_exit
    from homelab.cli._run import confirm
    from homelab.engines.vault.target import state_dir_for
    from homelab.ops import backup as ops
    from homelab.ops import backup_apps

    doc = load_or_exit(lab, fmt)
    say = (lambda message: None) if fmt == "json" else (lambda message: emit(f"  | {message}", sys.stderr))
    plan = backup_apps.prepare_restore(doc, name, to, kubeconfig, context)
    if fmt != "json":
        for line in plan.lines:
            emit(f"will restore  {line}", sys.stderr)
    confirm(yes, doing="restore", question="Restore now?", hint="read the preview above and pass -y")
    record = ops.start()
    entry = plan.run(say, wait)
    record.entries.append(entry)
    path = ops.write_run_manifest(state_dir_for(state_dir), record, "restore")
    if fmt == "json":
        emit_json({**record.to_json(), "manifest": str(path)})
    else:
        emit(f"restore {entry['restore']}: phase {entry['phase']}" + (f" ({entry['detail']})" if entry.get("detail")
                                                                       else ""))
        emit(f"manifest: {path}")
    if entry["phase"] not in ("Completed", "InProgress", "New"):
        raise typer.Exit(1)


@restore.command("elasticsearch")
def elasticsearch_(snapshot: str = typer.Argument(..., help="Snapshot name (see `homelab backup elasticsearch`)."),
                   index: str = typer.Option(None, "--index", help="Only this index (or pattern)."),
                   as_: str = typer.Option(None, "--as", help="Restore --index under this new name."),
                   es_url: str = typer.Option(..., "--es-url", help="Elasticsearch URL (explicit)."),
                   es_ca: str = typer.Option(None, "--es-ca", help="CA file to verify Elasticsearch."),
                   lab: str = LabOption, address: str = AddressOption, embedded: bool = EmbeddedOption,
                   state_dir: str = StateDirOption, fmt: str = FormatOption, user: str = UserOption,
                   yes: bool = YesOption):
    """Restore indices of a snapshot under new names (never over the live ones) and report the result."""
    from homelab.cli._run import confirm
    from homelab.ops import backup as ops
    from homelab.ops import backup_elastic

    c = vault_ctx(lab, address, embedded, state_dir, None, fmt, require_running=False)
    plan = backup_elastic.prepare_restore(c.doc.lab, es_url, es_ca, snapshot, index, as_,
                                          api=lambda: _current_api(c, user))
    if fmt != "json":
        for line in plan.lines:
            emit(f"will restore  {line}", sys.stderr)
    confirm(yes, doing="restore", question="Restore now?", hint="read the preview above and pass -y")
    say = (lambda message: None) if fmt == "json" else (lambda message: emit(f"  | {message}", sys.stderr))
    record = ops.start()
    entry = plan.run(say)
    record.entries.append(entry)
    path = ops.write_run_manifest(c.target.state_dir, record, "restore")
    if fmt == "json":
        emit_json({**record.to_json(), "manifest": str(path)})
    else:
        emit(f"restored {', '.join(entry['indices']) or 'no index'} from snapshot {snapshot}")
        emit(f"manifest: {path}")


def register(app: typer.Typer) -> None:
    app.add_typer(restore, name="restore")
