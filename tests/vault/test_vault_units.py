"""Vault pieces that need no server: address/keys-file precedence, keys file safety, process stop,
desired resources, TTL parsing. (Everything that talks to Vault is tested against a real OpenBao in
tests/integration/test_vault_*.py.)"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from homelab.engines.base import EngineContext
from homelab.engines.vault import VaultEngine
from homelab.engines.vault import server as vault_server
from homelab.engines.vault.client import ttl_seconds
from homelab.engines.vault.target import (
    KeysFileError,
    VaultNotRunningError,
    read_keys_file,
    replace_keys_file,
    reserve_keys_file,
    resolve_target,
    write_fd_json,
)
from homelab.errors import UsageError
from homelab.secrets import REDACTOR


@pytest.fixture
def no_env(monkeypatch):
    for name in list(os.environ):
        if name.startswith(("HOMELAB_", "VAULT_")) and not name.startswith("HOMELAB_NETGUARD"):
            monkeypatch.delenv(name)


def test_address_precedence(reference_doc, tmp_path, monkeypatch, no_env):
    lab = reference_doc.lab
    t = resolve_target(lab, state_dir=tmp_path)
    assert t.address == "https://vault.lab.thewortmans.org:8200" and not t.embedded  # the lab (not contacted)
    assert t.verify is True  # the reference lab verifies Vault's certificate (issue 11, item 4)
    monkeypatch.setenv("VAULT_CACERT", str(tmp_path / "ca.crt"))  # what the README exports: the lab's CA file
    assert resolve_target(lab, state_dir=tmp_path).verify == str(tmp_path / "ca.crt")
    monkeypatch.delenv("VAULT_CACERT")
    monkeypatch.setenv("HOMELAB_VAULT_EMBEDDED", "1")
    with pytest.raises(VaultNotRunningError):
        resolve_target(lab, state_dir=tmp_path)
    assert resolve_target(lab, state_dir=tmp_path, require_running=False).embedded
    monkeypatch.setenv("HOMELAB_VAULT_ADDR", "http://127.0.0.1:1234")
    assert resolve_target(lab, state_dir=tmp_path).address == "http://127.0.0.1:1234"  # env beats --embedded
    assert resolve_target(lab, state_dir=tmp_path, address="http://127.0.0.1:99/").address == "http://127.0.0.1:99"
    with pytest.raises(UsageError):
        resolve_target(lab, state_dir=tmp_path, address="vault.example:8200")


def test_state_dir_and_keys_file_defaults(reference_doc, tmp_path, monkeypatch, no_env):
    t = resolve_target(reference_doc.lab, address="http://127.0.0.1:1")
    assert t.state_dir == Path(".homelab") and t.keys_file == Path(".homelab/vault/init-keys.json")
    monkeypatch.setenv("HOMELAB_STATE_DIR", str(tmp_path))
    monkeypatch.setenv("HOMELAB_VAULT_KEYS_FILE", str(tmp_path / "k.json"))
    t = resolve_target(reference_doc.lab, address="http://127.0.0.1:1")
    assert t.state_dir == tmp_path and t.keys_file == tmp_path / "k.json"
    t = resolve_target(reference_doc.lab, address="http://127.0.0.1:1", keys_file=tmp_path / "o.json")
    assert t.keys_file == tmp_path / "o.json"


def test_keys_file_is_created_0600_exclusively_even_with_a_lax_umask(tmp_path):
    path = tmp_path / "sub" / "keys.json"
    old = os.umask(0)
    try:
        fd = reserve_keys_file(path)
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600  # from the first byte, not chmod-ed later
    write_fd_json(fd, {"keys": ["k" * 20], "root_token": "r" * 20})
    with pytest.raises(KeysFileError, match="refusing to overwrite"):
        reserve_keys_file(path)
    assert json.loads(path.read_text())["root_token"] == "r" * 20


def test_read_keys_file_refuses_loose_modes_and_registers_secrets(tmp_path):
    path = tmp_path / "keys.json"
    path.write_text(json.dumps({"keys": ["unseal-key-abcdef"], "root_token": "root-token-123456"}))
    for mode in (0o644, 0o640, 0o604):
        path.chmod(mode)
        with pytest.raises(KeysFileError) as info:
            read_keys_file(path)
        assert f"chmod 600 {path}" in info.value.hint
    path.chmod(0o600)
    data = read_keys_file(path)
    assert data["keys"] == ["unseal-key-abcdef"]
    assert REDACTOR("x root-token-123456 unseal-key-abcdef") == "x <sensitive> <sensitive>"
    with pytest.raises(KeysFileError, match="does not exist"):
        read_keys_file(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{nope")
    (tmp_path / "bad.json").chmod(0o600)
    with pytest.raises(KeysFileError, match="not a readable JSON"):
        read_keys_file(tmp_path / "bad.json")


def test_replace_keys_file_keeps_0600(tmp_path):
    path = tmp_path / "keys.json"
    write_fd_json(reserve_keys_file(path), {"a": 1})
    replace_keys_file(path, {"a": 2})
    assert json.loads(path.read_text()) == {"a": 2} and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["keys.json"]


def test_down_with_stale_pidfile(tmp_path):
    vdir = tmp_path / "vault"
    vdir.mkdir()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (vdir / "server.pid").write_text(f"{dead.pid}\n")
    (vdir / "address").write_text("http://127.0.0.1:1\n")
    assert vault_server.running_address(tmp_path) is None
    result = vault_server.down(tmp_path)
    assert result.outcome == "stale-pidfile" and result.pid == dead.pid
    assert not (vdir / "server.pid").exists() and not (vdir / "address").exists()
    assert vault_server.down(tmp_path).outcome == "not-running"


def test_a_pidfile_naming_another_program_is_not_killed(tmp_path):
    (tmp_path / "vault").mkdir()
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        (tmp_path / "vault" / "server.pid").write_text(f"{other.pid}\n")
        assert vault_server.down(tmp_path).outcome == "stale-pidfile"
        assert other.poll() is None  # still alive: it is not a bao server
    finally:
        other.kill()
        other.wait()


def test_stop_escalates_to_sigkill():
    stubborn = subprocess.Popen([sys.executable, "-c",
                                 "import signal, sys, time\n"
                                 "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
                                 "print('ready', flush=True)\n"
                                 "time.sleep(60)\n"], stdout=subprocess.PIPE, text=True)
    assert stubborn.stdout.readline().strip() == "ready"
    t0 = time.monotonic()
    assert vault_server._stop_pid(stubborn.pid, 0.5) == "killed"
    with pytest.raises(ProcessLookupError):  # gone (and reaped by _stop_pid)
        os.kill(stubborn.pid, 0)
    stubborn.wait(timeout=5)
    assert time.monotonic() - t0 < 10


def test_embedded_config_is_loopback_raft_with_declared_audit(tmp_path):
    text = vault_server.server_config(tmp_path, 18200, 18201, audit=True)
    assert 'address         = "127.0.0.1:18200"' in text and 'storage "raft"' in text
    assert 'audit "file" "file"' in text and "disable_mlock" not in text  # OpenBao rejects disable_mlock
    assert 'audit "file"' not in vault_server.server_config(tmp_path, 1, 2, audit=False)


def test_ttl_seconds():
    assert [ttl_seconds(x) for x in ("20m", "1h", "8h", "30s", "2d", 90, None)] == [1200, 3600, 28800, 30, 172800, 90, 0]


def test_the_plan_wants_the_reference_labs_vault_exactly(reference_doc):
    from homelab.plan.desired import desired
    from homelab.render.vault import policy_hcl

    want = {a: r.attrs for a, r in desired(reference_doc).items() if r.layer == "vault"}
    assert want["vault_mount.secret"] == {"path": "secret", "type": "kv", "version": "2"}
    assert want["vault_user.terraform"] == {"policies": ["terraform"], "token_ttl": 1200, "token_max_ttl": 3600,
                                            "login": "ok"}
    assert {a for a in want if a.startswith("vault_policy.")} == {
        "vault_policy.admin", "vault_policy.ansible", "vault_policy.apps", "vault_policy.external-secrets",
        "vault_policy.terraform"}
    assert want["vault_policy.apps"]["policy"] == policy_hcl(reference_doc.lab, "apps")  # what is uploaded
    assert "vault_secret.k3s/cluster" in want and "vault_secret.infra/proxmox" not in want  # generated only


def test_engine_without_credentials_is_not_configured_and_contacts_nothing(reference_doc, tmp_path, no_env):
    # the reference lab's real address: must not be contacted (a lookup would fail with another reason)
    ctx = EngineContext(doc=reference_doc, workdir=tmp_path, state_dir=tmp_path / ".homelab")
    st = VaultEngine(factory=_no_client).status(ctx)
    assert not st.configured and not st.reachable and "no Vault credentials" in st.reason


def test_engine_status_when_embedded_is_not_running(reference_doc, tmp_path, monkeypatch, no_env):
    monkeypatch.setenv("HOMELAB_VAULT_ADDR", "embedded")
    monkeypatch.setenv("VAULT_TOKEN", "t" * 20)
    ctx = EngineContext(doc=reference_doc, workdir=tmp_path, state_dir=tmp_path / ".homelab")
    st = VaultEngine(factory=_no_client).status(ctx)
    assert st.configured and not st.reachable and "not running" in st.reason


def _no_client(*args, **kwargs):
    raise AssertionError("the engine must not build a client here")


def test_automation_exposure_matches_policies_as_vault_does(reference_path):
    from homelab.lab.load import load_text
    from homelab.lab.vault_access import automation_exposure

    text = reference_path.read_text()
    assert automation_exposure(load_text(text).lab) == []  # the reference lab keeps them admin-only
    old = "      description: Read application-specific secrets\n      rules:\n        - {secrets: apps/*"
    assert old in text
    loose = load_text(text.replace(old, old.replace("apps/*", '"*"')))
    assert automation_exposure(loose.lab) == ["apps"]
    raw = load_text(text.replace("{path: auth/token/create, capabilities: [update]}",
                                 "{path: secret/data/+/terraform, capabilities: [read]}"))
    assert automation_exposure(raw.lab) == ["terraform"]
