"""What the `vault` and `secrets` commands share: the lab, where Vault is, and a logged-in client."""

from __future__ import annotations

from dataclasses import dataclass

from homelab.cli._output import check_format, load_or_exit


@dataclass
class VaultCtx:
    doc: object
    target: object  # engines.vault.target.VaultTarget
    fmt: str
    address: str | None = None  # the --address given (passed on to engine runs)


def vault_ctx(lab: str, address, embedded, state_dir, keys_file, fmt: str, require_running: bool = True) -> VaultCtx:
    check_format(fmt)
    from homelab.engines.vault.target import resolve_target

    doc = load_or_exit(lab, fmt)
    target = resolve_target(doc.lab, address=address, embedded=embedded, state_dir=state_dir,
                            keys_file=keys_file, require_running=require_running)
    return VaultCtx(doc, target, fmt, address or ("embedded" if embedded else None))


def login(c: VaultCtx, user, check_ready: bool = True):
    """An authenticated client: --user (password prompted) > VAULT_TOKEN > the keys file."""
    from homelab.engines.vault.target import authenticate

    return authenticate(c.target, c.doc.lab, user=user, check_ready=check_ready)


def run_restore(c: VaultCtx, manifest_path, *, current_keys_file=None, user=None, yes: bool = False,
                progress=None):
    """Verify the backup, preview what the restore does, confirm, restore, summarise (`vault restore`,
    `restore vault`, and the drill without the confirmation). Returns the RestoreResult."""
    import sys
    from pathlib import Path

    from homelab.cli._output import emit, emit_json
    from homelab.cli._run import confirm
    from homelab.engines.vault.client import VaultApi
    from homelab.engines.vault.target import VaultTarget, authenticate, read_keys_file
    from homelab.ops import vault_restore
    from homelab.ops.vault_backup import load_manifest

    load_manifest(manifest_path)  # checksum first, before anything else
    backup_keys = read_keys_file(c.target.keys_file)
    current = None
    if VaultApi(c.target.address, verify=c.target.verify).seal_status().get("initialized"):
        # a token for the Vault as it is now: --user > VAULT_TOKEN > --current-keys-file/keys file
        t = c.target
        cur_target = VaultTarget(t.address, t.embedded, t.state_dir,
                                 Path(current_keys_file) if current_keys_file else t.keys_file, t.verify)
        current = authenticate(cur_target, c.doc.lab, user=user)
    plan = vault_restore.prepare(c.target, c.doc.lab, manifest_path, backup_keys=backup_keys,
                                 current_api=current)
    err = sys.stderr
    if c.fmt != "json":
        emit(f"checksum verified: {plan.payload.name} (backup of {plan.created})", err)
        for line in restore_preview(plan):
            emit(line, err)
    confirm(yes, doing="restore", question="Restore this backup?",
            hint="read what the restore rolls back (above) and pass -y")
    result = vault_restore.execute(plan, c.doc.lab, progress=progress or (None if c.fmt == "json" else
                                   (lambda message: emit(f"  | {message}", err))))
    if c.fmt == "json":
        emit_json(result.to_json())
    else:
        for line in restore_summary(result):
            emit(line)
    return result


def restore_preview(plan) -> list[str]:
    where = "the embedded Vault" if plan.target.embedded else f"the Vault at {plan.target.address}"
    if not plan.initialized:
        return [f"{where} is empty: the restore brings back {len(plan.expected)} KV path(s), the policies, users "
                f"and keys of the backed-up Vault ({plan.seal[1]} of {plan.seal[0]} keys unseal it)"]
    lines = [f"restoring into {where} rolls it back to {plan.created}; policies, users and tokens become the "
             "backup's (tokens issued since stop working)"]
    if plan.current_kv is None:
        return [*lines, "  (the current secrets cannot be listed with this token: what changes is not shown)"]
    lines += [f"  {p}: version {now} -> {then}" for p, now, then in plan.rolled_back]
    lines += [f"  {p}: created after the backup, will be gone" for p, _ in plan.removed]
    lines += [f"  {p}: deleted since the backup, comes back at version {v}" for p, v in plan.returned]
    lines.append(f"will roll back {len(plan.rolled_back)} KV path(s), remove {len(plan.removed)}, bring back "
                 f"{len(plan.returned)}; {plan.unchanged} unchanged")
    return lines


def restore_summary(result) -> list[str]:
    plan = result.plan
    lines = []
    if not plan.initialized:
        lines.append(f"restored {result.verified_paths} KV path(s) from {result.file.name} (backup of "
                     f"{plan.created}) onto the empty Vault; verified against the manifest")
    else:
        lines += [f"  {p}: version {now} -> {then}" for p, now, then in plan.rolled_back]
        lines += [f"  {p}: created after the backup, gone" for p, _ in plan.removed]
        lines += [f"  {p}: deleted since the backup, back at version {v}" for p, v in plan.returned]
        if plan.current_kv is not None:
            lines.append(f"rolled back {len(plan.rolled_back)} KV path(s), removed {len(plan.removed)}, brought "
                         f"back {len(plan.returned)}; {plan.unchanged} unchanged")
        lines.append(f"restored {result.file.name} (backup of {plan.created}); verified {result.verified_paths} "
                     "KV path(s) against the manifest")
    if result.verified_versions:
        lines.append(f"  {result.verified_versions} version(s) compared by hash with the backup: equal")
    if result.restarted:
        lines.append("  the embedded server was restarted to take the backed-up Vault's seal configuration")
    lines.append(f"  Vault now has the backed-up Vault's unseal keys and tokens (keys file: {plan.target.keys_file})")
    if result.keys_copied_to:
        lines.append(f"  copied that keys file to {result.keys_copied_to} (mode 0600), where the other commands "
                     "look for it")
    return lines
