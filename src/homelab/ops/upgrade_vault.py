"""`homelab upgrade vault --to VERSION`: Vault/OpenBao upgraded with a snapshot first, standbys before the
active node, each unsealed and checked before the next.

1. A backup (ops/vault_backup.py: a raft snapshot with its manifest and checksum, or the file-storage tar)
   is taken first; without it nothing is touched.
2. The order comes from the cluster itself: `GET /v1/sys/storage/raft/configuration` lists the raft
   servers with their `leader` flag; the standbys go first and the leader last (HashiCorp's and
   OpenBao's upgrade guidance: upgrade the standbys, then the active node, which then steps down). File
   storage has one node (the lab's `vault.server`).
3. Per node: `restart(node, version)` installs and restarts it (the rendered vault playbook limited to the
   node with `vault_server_version`, or a restart of the embedded OpenBao); it comes back sealed and is
   unsealed with the keys file; the gate: unsealed, `sys/seal-status` reports the target version, and the
   node answers `sys/health` (active or standby). The first failed gate stops (exit 3).
4. When every node runs the version, `vault.version` in the lab is edited (comments kept).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from homelab.errors import EngineError, HomelabError, UsageError


def _parse(text: str) -> tuple[int, ...] | None:
    parts = str(text).strip().lstrip("v").split("+")[0].split("-")[0].split(".")
    return tuple(int(p) for p in parts) if len(parts) == 3 and all(p.isdigit() for p in parts) else None


@dataclass
class VaultPlan:
    current: str
    target: str
    nodes: list[str] = field(default_factory=list)  # filled at run time from the raft configuration

    def to_json(self) -> dict:
        return {"current": self.current, "target": self.target, "nodes": self.nodes}


def plan_vault_upgrade(doc, target: str) -> VaultPlan:
    vault = doc.lab.vault
    cur, tgt = _parse(vault.version), _parse(target)
    if tgt is None:
        raise UsageError(f"--to {target!r} is not a version (MAJOR.MINOR.PATCH)")
    if cur is not None and tgt < cur:
        raise UsageError(f"{target} is older than {vault.version}: a Vault downgrade is not supported",
                         "restore the snapshot taken before the upgrade (`homelab vault restore`)")
    return VaultPlan(vault.version, target)


def node_order(api) -> list[tuple[str, bool]]:
    """(node id, is leader) of the raft servers, standbys first; [] without raft storage."""
    servers = api.raft_servers()
    return sorted(((str(s.get("node_id")), bool(s.get("leader"))) for s in servers), key=lambda s: (s[1], s[0]))


@dataclass
class VaultUpgrade:
    plan: VaultPlan
    backup: object = None
    upgraded: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        made = self.backup
        return {"plan": self.plan.to_json(), "upgraded": self.upgraded,
                "backup": str(getattr(made, "file", "")) or None}


def upgrade(doc, plan: VaultPlan, *, api, backup: Callable[[], object], restart: Callable[[str, str], None],
            unseal: Callable[[str], object], status: Callable[[str], dict], out=None,
            say=lambda m: None) -> VaultUpgrade:
    """Snapshot, then each node (standbys first): restart at the version, unseal, gate; then the lab edit.
    `status(node)` is the node's `sys/seal-status` after its unseal."""
    from homelab.ops.edit_lab import commit_edit

    result = VaultUpgrade(plan)
    result.backup = backup()
    say(f"backup: {getattr(result.backup, 'file', result.backup)}")
    order = node_order(api) or [(doc.lab.vault.server or "embedded", True)]
    plan.nodes = [n for n, _ in order]
    for node, leader in order:
        say(f"{node} ({'active' if leader else 'standby'}): upgrade to {plan.target}")
        try:
            restart(node, plan.target)
            unseal(node)
        except HomelabError as exc:
            raise _stopped(plan, node, exc.message) from None
        st = status(node)
        if st.get("sealed"):
            raise _stopped(plan, node, "still sealed after the unseal")
        version = str(st.get("version") or "")
        if _parse(version) != _parse(plan.target):
            raise _stopped(plan, node, f"it reports version {version or 'none'}, not {plan.target}")
        result.upgraded.append(node)
    commit_edit(doc, with_version(doc, plan.target), render=True, out=out)
    return result


def _stopped(plan: VaultPlan, node: str, why: str) -> EngineError:
    return EngineError(f"Vault upgrade to {plan.target} stopped at {node}: {why}",
                       f"fix it, then run `homelab upgrade vault --to {plan.target}` again (a node already at the "
                       "version restarts into the same version); the backup taken first restores the data")


def with_version(doc, version: str) -> str:
    from homelab.lab.edit import LabEditor

    editor = LabEditor(Path(doc.file).read_text(encoding="utf-8"), Path(doc.file).name)
    editor.tree["vault"]["version"] = version
    return editor.dumps()


def runners(doc, target, *, out=None, progress=None):
    """(restart, unseal, status) for the lab's Vault: the embedded OpenBao restarted in place, or the rendered
    `playbooks/vault.yml` run on `vault.server` with the version (the vault_server role installs it)."""
    import os

    from homelab.engines.vault.client import VaultApi
    from homelab.engines.vault.target import resolve_target
    from homelab.ops.vault_init import unseal as vault_unseal

    def current():
        if not target.embedded:
            return target
        return resolve_target(doc.lab, address="embedded", state_dir=target.state_dir, keys_file=target.keys_file)

    def restart(node: str, version: str) -> None:
        if target.embedded:
            from homelab.engines.vault import server

            server.down(target.state_dir)
            server.up(target.state_dir)
            return
        from homelab.engines.ansible import run_playbook
        from homelab.lab.edit import reload
        from homelab.ops.pipeline import render_into

        rendered = render_into(reload(doc, with_version(doc, version)), out)
        access = doc.lab.access
        result = run_playbook(Path(rendered.out_dir) / "ansible", "playbooks/vault.yml", limit=doc.lab.vault.server,
                              private_key=os.path.expanduser(access.ssh_private_key) if access.ssh_private_key
                              else None, progress=progress)
        if not result.succeeded:
            detail = "; ".join(str(f) for f in result.failures[:3]) or f"playbooks/vault.yml ended {result.status}"
            raise EngineError(f"ansible: {detail}", output_tail=result.tail)

    def unseal(node: str) -> None:
        vault_unseal(current())

    def status(node: str) -> dict:
        t = current()
        return VaultApi(t.address, verify=t.verify).seal_status()

    return restart, unseal, status
