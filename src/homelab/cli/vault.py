"""`homelab vault up|down|init|unseal|seal|status|configure|rotate|backup|restore`.

Where Vault is: --address URL|embedded > HOMELAB_VAULT_ADDR > --embedded / HOMELAB_VAULT_EMBEDDED=1 >
vault.address in the lab. Token: --user NAME (password prompt / stdin) > VAULT_TOKEN > the keys file
(admin credentials stored by `configure --revoke-root`, else the initial root token).
State directory: --state-dir > HOMELAB_STATE_DIR > ./.homelab. Keys file: --keys-file >
HOMELAB_VAULT_KEYS_FILE > <state dir>/vault/init-keys.json.
"""

from __future__ import annotations

import sys

import typer

from homelab.cli._output import check_format, emit, emit_json
from homelab.cli._vault import login, run_restore, vault_ctx
from homelab.cli.options import (
    AddressOption,
    BreakLockOption,
    EmbeddedOption,
    FormatOption,
    KeysOption,
    LabOption,
    StateDirOption,
    UserOption,
    YesOption,
)

vault = typer.Typer(
    help="Run Vault: start the embedded server, init, unseal, configure, rotate, back up.\n\n"
         "Address: --address URL|embedded > HOMELAB_VAULT_ADDR > --embedded / HOMELAB_VAULT_EMBEDDED=1 > "
         "vault.address. Token: --user NAME (password prompted or first stdin line) > VAULT_TOKEN > "
         "the keys file (admin credentials after --revoke-root, else the root token). State: --state-dir > "
         "HOMELAB_STATE_DIR > ./.homelab; keys file: --keys-file > HOMELAB_VAULT_KEYS_FILE > "
         "<state dir>/vault/init-keys.json.",
        no_args_is_help=True)


@vault.command()
def up(lab: str = LabOption, address: str = AddressOption, embedded: bool = EmbeddedOption,
       state_dir: str = StateDirOption, fmt: str = FormatOption):
    """Start the embedded OpenBao (vault.address: embedded), or just connect to a real Vault."""
    c = vault_ctx(lab, address, embedded, state_dir, None, fmt, require_running=False)
    if c.target.embedded:
        from homelab.engines.vault.server import up as start

        info = start(c.target.state_dir, audit=c.doc.lab.vault.audit)
        if fmt == "json":
            emit_json({"embedded": True, **info.to_json()})
        elif info.started:
            emit(f"embedded OpenBao started at {info.address} (pid {info.pid}, data in {info.vault_dir})")
            emit("  next: `homelab vault init` (first time) or `homelab vault unseal`")
        else:
            emit(f"embedded OpenBao is already running at {info.address} (pid {info.pid})")
        return
    from homelab.ops.vault_init import status

    st = status(c.target, c.doc.lab)
    if not st["running"]:
        from homelab.engines.vault.client import VaultUnreachableError

        raise VaultUnreachableError(st["reason"], st["hint"])
    if fmt == "json":
        emit_json({"embedded": False, **st})
    else:
        emit(f"Vault at {c.target.address} answers: version {st['version']}, "
             f"{'initialised' if st['initialized'] else 'NOT initialised'}, "
             f"{'sealed' if st['sealed'] else 'unsealed'} (nothing to start: vault.address is a URL)")

@vault.command()
def down(lab: str = LabOption, state_dir: str = StateDirOption, fmt: str = FormatOption,
         timeout: float = typer.Option(15.0, "--timeout", help="Seconds before SIGKILL.")):
    """Stop the embedded OpenBao started by `vault up` (SIGTERM, then SIGKILL after --timeout)."""
    check_format(fmt)
    from homelab.engines.vault.server import down as stop
    from homelab.engines.vault.target import state_dir_for

    result = stop(state_dir_for(state_dir), timeout=timeout)
    if fmt == "json":
        emit_json(result.to_json())
        return
    emit({"terminated": f"embedded OpenBao stopped (pid {result.pid})",
          "killed": f"embedded OpenBao did not stop in {timeout:.0f}s and was killed (pid {result.pid})",
          "stale-pidfile": f"embedded OpenBao was not running (removed a stale pidfile, pid {result.pid})",
          "not-running": "embedded OpenBao is not running"}[result.outcome])

@vault.command()
def init(lab: str = LabOption, address: str = AddressOption, embedded: bool = EmbeddedOption,
         state_dir: str = StateDirOption, keys_file: str = KeysOption, fmt: str = FormatOption,
         shares: int = typer.Option(None, "--shares", help="Key shares (default vault.init.shares, 5)."),
         threshold: int = typer.Option(None, "--threshold", help="Keys needed (default vault.init.threshold, 3)."),
         print_keys: bool = typer.Option(False, "--print-keys",
                                         help="Show the keys and root token once instead of writing the keys file.")):
    """Initialise Vault; the unseal keys and root token go to a new 0600 keys file (never overwritten)."""
    c = vault_ctx(lab, address, embedded, state_dir, keys_file, fmt)
    from homelab.ops.vault_init import init as do_init

    result = do_init(c.target, c.doc.lab, shares=shares, threshold=threshold, print_keys=print_keys)
    if print_keys:
        # Asked for explicitly: the only place keys are ever printed (bypasses the redactor).
        out = sys.stdout
        if fmt == "json":
            import json

            out.write(json.dumps({**result.to_json(), "keys": [k.reveal() for k in result.keys],
                                  "root_token": result.root_token.reveal()}, indent=2) + "\n")
        else:
            for i, k in enumerate(result.keys, 1):
                out.write(f"Unseal key {i}: {k.reveal()}\n")
            out.write(f"Initial root token: {result.root_token.reveal()}\n")
            out.write(f"Store these safely: {result.threshold} of {result.shares} keys unseal Vault. "
                      "They are shown once and were written nowhere.\n")
        out.flush()
        return
    if fmt == "json":
        emit_json(result.to_json())
    else:
        emit(f"Vault initialised ({result.threshold} of {result.shares} keys unseal it); keys and root token "
             f"written to {result.keys_file} (mode 0600) — back it up somewhere safe")
        emit("  next: `homelab vault unseal`")

@vault.command()
def unseal(lab: str = LabOption, address: str = AddressOption, embedded: bool = EmbeddedOption,
           state_dir: str = StateDirOption, keys_file: str = KeysOption, fmt: str = FormatOption,
           stdin: bool = typer.Option(False, "--stdin", help="Read unseal keys from stdin, one per line.")):
    """Unseal Vault with the keys file (refuses a keys file others can read)."""
    c = vault_ctx(lab, address, embedded, state_dir, keys_file, fmt)
    from homelab.ops.vault_init import unseal as do_unseal

    keys = None
    if stdin:
        from homelab.secrets import REDACTOR

        keys = [ln.strip() for ln in sys.stdin.read().splitlines() if ln.strip()]
        for k in keys:
            REDACTOR.add(k)
    result = do_unseal(c.target, keys=keys)
    if fmt == "json":
        emit_json(result.to_json())
    else:
        emit("Vault was already unsealed" if result.already else "Vault unsealed")

@vault.command()
def seal(lab: str = LabOption, address: str = AddressOption, embedded: bool = EmbeddedOption,
         state_dir: str = StateDirOption, keys_file: str = KeysOption, user: str = UserOption,
         fmt: str = FormatOption):
    """Seal Vault (needs a token allowed to seal: root or admin)."""
    c = vault_ctx(lab, address, embedded, state_dir, keys_file, fmt)
    from homelab.ops.vault_init import seal as do_seal

    api = login(c, user, check_ready=False)
    sealed_now = do_seal(api)
    if fmt == "json":
        emit_json({"sealed": True, "changed": sealed_now})
    else:
        emit("Vault sealed" if sealed_now else "Vault was already sealed")

@vault.command()
def status(lab: str = LabOption, address: str = AddressOption, embedded: bool = EmbeddedOption,
           state_dir: str = StateDirOption, keys_file: str = KeysOption, user: str = UserOption,
           fmt: str = FormatOption):
    """Running or not, sealed or not, version, HA, mounts, auth methods, policies. Exit 1 when Vault is not
    running or does not answer (that is the status, not an engine failure)."""
    c = vault_ctx(lab, address, embedded, state_dir, keys_file, fmt, require_running=False)
    from homelab.errors import HomelabError
    from homelab.ops.vault_init import status as do_status

    api = None
    if c.target.address:
        try:
            api = login(c, user, check_ready=False)
        except HomelabError:  # no usable token (or no answer): still report what needs none
            if user:
                raise
    st = do_status(c.target, c.doc.lab, api=api)
    if not st["running"]:
        if fmt == "json":
            emit_json(st)
        else:
            emit(f"address:     {st['address']}" + (f" ({st['url']})" if st["url"] and st["url"] != st["address"]
                                                    else ""))
            emit(f"running:     no ({st['reason']})")
            emit(f"  hint: {st['hint']}")
        raise typer.Exit(1)
    if fmt == "json":
        emit_json(st)
        return
    emit(f"address:     {st['address']}" + (f" ({st['url']})" if st["url"] != st["address"] else ""))
    emit(f"version:     {st['version']}  storage: {st['storage_type']}")
    emit(f"initialised: {'yes' if st['initialized'] else 'no'}")
    emit(f"sealed:      {'yes' if st['sealed'] else 'no'}"
         + (f"  (threshold {st['threshold']} of {st['shares']}, progress {st['unseal_progress']})"
            if st["initialized"] else ""))
    if st.get("ha_enabled") is not None:
        emit(f"HA:          {'enabled' if st['ha_enabled'] else 'disabled'}")
    if st.get("mounts") is not None:
        emit("mounts:      " + ", ".join(f"{k} ({v})" for k, v in st["mounts"].items()))
        emit("auth:        " + ", ".join(f"{k} ({v})" for k, v in st["auth_methods"].items()))
        emit("policies:    " + ", ".join(st["policies"]))
    elif st.get("details_unavailable"):
        emit(f"details:     not available ({st['details_unavailable']})")

@vault.command()
def configure(lab: str = LabOption, address: str = AddressOption, embedded: bool = EmbeddedOption,
              state_dir: str = StateDirOption, keys_file: str = KeysOption, user: str = UserOption,
              fmt: str = FormatOption,
              prune: bool = typer.Option(False, "--prune", help="Delete policies and users the lab does not declare."),
              revoke_root: bool = typer.Option(False, "--revoke-root",
                                               help="Then revoke the initial root token (the admin user stays)."),
              break_lock: bool = BreakLockOption):
    """Bring Vault to what the lab declares (KV v2, policies, userpass users, audit, generated secrets).

    The Vault layer of the plan, applied and recorded in state: `homelab apply --target 'vault_*'`."""
    c = vault_ctx(lab, address, embedded, state_dir, keys_file, fmt)
    from homelab.cli._run import open_session
    from homelab.ops.vault_configure import configure as do_configure
    from homelab.secrets import Secret

    api = login(c, user)
    options = {"vault_token": Secret(api.token), "vault_address": c.address, "vault_keys_file": keys_file}
    session = open_session(c.doc, state_dir=state_dir, options=options)
    try:
        report = do_configure(session, api, c.target, prune=prune, revoke_root=revoke_root, break_lock=break_lock)
    finally:
        session.close()
    if fmt == "json":
        emit_json(report.to_json())
        return
    for item in report.items:
        emit(f"{item.action:<9} {item.address}" + (f"  ({item.detail})" if item.detail else ""))
    counts = report.counts()
    emit(f"{report.changes} change(s): " + ", ".join(f"{n} {k}" for k, n in counts.items()))

@vault.command()
def rotate(paths: list[str] = typer.Argument(None, help="KV paths to rotate (default: all rotatable)."),
           lab: str = LabOption, address: str = AddressOption, embedded: bool = EmbeddedOption,
           state_dir: str = StateDirOption, keys_file: str = KeysOption, user: str = UserOption,
           fmt: str = FormatOption,
           dry_run: bool = typer.Option(False, "--dry-run", help="Show what would rotate; change nothing.")):
    """Rotate automation passwords and generated secrets (KV v2 keeps the previous version)."""
    c = vault_ctx(lab, address, embedded, state_dir, keys_file, fmt)
    from homelab.ops.vault_rotate import rotate as do_rotate

    api = login(c, user)
    rotations = do_rotate(api, c.doc.lab, paths or None, dry_run=dry_run)
    if fmt == "json":
        emit_json({"dry_run": dry_run, "rotations": [r.to_json() for r in rotations]})
        return
    for r in rotations:
        verb = "would rotate" if dry_run else "rotated"
        emit(f"{verb} {c.doc.lab.vault.kv_mount}/{r.path} ({r.kind}): version {r.old_version or '-'} -> "
             f"{r.new_version}")
        for roll in r.roll:
            emit(f"  must be rolled: {roll.who}\n    then: {roll.then}")
    emit(f"{len(rotations)} secret(s) {'would be ' if dry_run else ''}rotated")
    rolled = [r.path for r in rotations if r.roll]
    if rolled:
        emit(f"{len(rolled)} of them held by running services ({', '.join(rolled)}): roll them as said above",
             sys.stderr)

@vault.command()
def backup(lab: str = LabOption, address: str = AddressOption, embedded: bool = EmbeddedOption,
           state_dir: str = StateDirOption, keys_file: str = KeysOption, user: str = UserOption,
           fmt: str = FormatOption,
           directory: str = typer.Option(None, "--dir", help="Backup directory (default backup.vault.directory)."),
           retention: int = typer.Option(None, "--retention", help="Backups kept (default backup.vault.retention)."),
           data_dir: str = typer.Option(None, "--data-dir",
                                        help="File storage: tar this data directory (seal or stop Vault first).")):
    """Raft snapshot + manifest + checksum (or a tar of a file-storage data directory); applies retention."""
    c = vault_ctx(lab, address, embedded, state_dir, keys_file, fmt, require_running=data_dir is None)
    from homelab.ops import vault_backup

    if data_dir:
        from homelab.engines.vault.client import VaultApi

        api = VaultApi(c.target.address, verify=c.target.verify) if c.target.address else None
        result = vault_backup.backup_data_dir(c.doc.lab, c.target, c.doc.digest, data_dir, directory=directory,
                                              retention=retention, api=api)
    else:
        api = login(c, user)
        result = vault_backup.backup(api, c.doc.lab, c.target, c.doc.digest, directory=directory,
                                     retention=retention)
    if fmt == "json":
        emit_json(result.to_json())
        return
    emit(f"backup written: {result.file} ({result.size} bytes, sha256 {result.sha256[:16]}…, "
         f"{result.paths} KV paths recorded)")
    emit(f"manifest: {result.manifest}")
    if result.pruned:
        emit(f"retention: removed {len(result.pruned)} old file(s)")

@vault.command()
def restore(backup_file: str = typer.Argument(..., help="The .manifest.json (or .snap) of the backup."),
            lab: str = LabOption, address: str = AddressOption, embedded: bool = EmbeddedOption,
            state_dir: str = StateDirOption, fmt: str = FormatOption,
            keys_file: str = typer.Option(None, "--keys-file",
                                          help="Keys file of the BACKED-UP Vault (default the usual keys file)."),
            current_keys_file: str = typer.Option(None, "--current-keys-file",
                                                  help="Keys file of the Vault restored into, if it was "
                                                       "initialised anew (else VAULT_TOKEN; an uninitialised "
                                                       "Vault needs neither)."),
            user: str = UserOption, yes: bool = YesOption):
    """Verify the checksum, say what will be rolled back, restore the raft snapshot (onto an empty server
    too), unseal with the backed-up keys, verify the data."""
    c = vault_ctx(lab, address, embedded, state_dir, keys_file, fmt)
    from pathlib import Path

    run_restore(c, Path(backup_file), current_keys_file=current_keys_file, user=user, yes=yes)


def register(app: typer.Typer) -> None:
    app.add_typer(vault, name="vault")
