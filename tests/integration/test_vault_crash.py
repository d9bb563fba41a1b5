"""`vault configure` killed part-way (SIGKILL, no cleanup) converges on the next run.

The test hook HOMELAB_VAULT_PAUSE_AFTER_WRITES=N makes configure announce itself on stderr and sleep
after its Nth write to Vault; the test then SIGKILLs it. Configure applies the plan's Vault layer in
dependency order, each batch by address: first userpass, the KV mount and one write per policy (the
audit device is declared in the embedded server's config: no write); then the generated secrets (one
write each) and the users (admin first: its password in KV, then the user). Pausing after admin's
password kills it between storing admin's password and creating the admin user — the worst moment.
Configure records each resource in state as it is done and holds the state lock meanwhile: the killed
run leaves a stale lock, which the next run refuses until told to break it.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.validators]  # a real OpenBao server


def test_configure_killed_midway_converges(openbao_factory, homelab_tools):
    from homelab.lab.load import load_lab

    vault = load_lab(homelab_tools.reference_lab).lab.vault
    policies = vault.policies
    generated = [s.path for s in vault.secrets if s.generate]
    # cert (the CA's auth method), userpass, mount, policies, generated, admin's password (the PKI handlers'
    # own writes are not counted by the hook)
    pause = 3 + len(policies) + len(generated) + 1
    server = openbao_factory("crash")
    env = server.env(HOMELAB_VAULT_PAUSE_AFTER_WRITES=str(pause))
    proc = subprocess.Popen([sys.executable, "-m", "homelab", "vault", "configure", "--lab",
                             str(homelab_tools.reference_lab)], env=env, cwd=server.cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        seen = []
        for line in proc.stderr:  # progress lines first, then the hook's marker
            seen.append(line)
            if "homelab-test-hook" in line:
                break
        assert f"paused after {pause} writes" in seen[-1], seen
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
    assert root.kv_read("k3s/cluster") is not None  # generated before the users

    stale = server.cli("vault", "configure", "--format", "json")
    assert stale.returncode == 1 and "the state lock is stale" in stale.stderr, stale.stderr
    second = server.cli("vault", "configure", "--break-lock", "--format", "json")
    assert second.returncode == 0, second.stderr
    report = json.loads(second.stdout)
    actions = {i["address"]: i["action"] for i in report["items"]}
    assert actions["vault_user.admin"] == "created"
    assert actions["vault_mount.secret"] == "unchanged" and actions["vault_policy.admin"] == "unchanged"
    assert actions["vault_secret.k3s/cluster"] == "unchanged"  # recorded in state before the kill
    # the admin user got the password that was stored before the crash
    password = root.kv_read("automation/admin")[0]["password"]
    assert root.kv_read("automation/admin")[1] == 1
    assert root.login_works("admin", password)

    third = server.cli("vault", "configure", "--format", "json")
    assert third.returncode == 0, third.stderr
    assert json.loads(third.stdout)["changes"] == 0
