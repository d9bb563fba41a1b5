"""`vault configure` killed part-way (SIGKILL, no cleanup) converges on the next run.

The test hook HOMELAB_VAULT_PAUSE_AFTER_WRITES=N makes configure announce itself on stderr and sleep
after its Nth write to Vault; the test then SIGKILLs it. With the reference lab on a fresh Vault
the writes are: 1 KV mount, then one per policy (5 in the reference lab), then userpass, then per
user (admin first) the password in KV and the user. Pausing after admin's password (write 8 with five
policies) kills it between storing admin's password and creating the admin user — the worst moment.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys

import pytest

pytestmark = pytest.mark.integration


def test_configure_killed_midway_converges(openbao_factory, homelab_tools):
    from homelab.lab.load import load_lab

    policies = load_lab(homelab_tools.reference_lab).lab.vault.policies
    pause = 1 + len(policies) + 1 + 1  # mount, policies, userpass, admin's password
    server = openbao_factory("crash")
    env = server.env(HOMELAB_VAULT_PAUSE_AFTER_WRITES=str(pause))
    proc = subprocess.Popen([sys.executable, "-m", "homelab", "vault", "configure", "--lab",
                             str(homelab_tools.reference_lab)], env=env, cwd=server.cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stderr.readline()
        assert f"paused after {pause} writes" in line, line
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL

    root = server.api()
    # part-way: policies are in, admin's password is stored, but the admin user does not exist yet
    assert set(root.list_policies()) >= set(policies)
    assert root.kv_read("automation/admin") is not None
    assert root.read_user("admin") is None
    assert root.kv_read("k3s/cluster") is None

    second = server.cli("vault", "configure", "--format", "json")
    assert second.returncode == 0, second.stderr
    report = json.loads(second.stdout)
    actions = {i["address"]: i["action"] for i in report["items"]}
    assert actions["vault_user.admin"] == "created"
    assert actions["vault_mount.secret"] == "unchanged" and actions["vault_policy.admin"] == "unchanged"
    assert actions["vault_secret.k3s/cluster"] == "created"
    # the admin user got the password that was stored before the crash
    password = root.kv_read("automation/admin")[0]["password"]
    assert root.kv_read("automation/admin")[1] == 1
    assert root.login_works("admin", password)

    third = server.cli("vault", "configure", "--format", "json")
    assert third.returncode == 0, third.stderr
    assert json.loads(third.stdout)["changes"] == 0
