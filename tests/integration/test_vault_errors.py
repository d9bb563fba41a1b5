"""Wrong inputs against a real OpenBao: exact exit codes (3 = Vault/engine, 1 = local keys file, 2 = usage)
and a clear message with a hint — never a traceback."""

from __future__ import annotations

import json
import os
import socket
import stat

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.validators]  # a real OpenBao server


def _no_traceback(proc):
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr, proc.stderr


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_sealed_vault(openbao):
    openbao.api().seal()
    try:
        proc = openbao.cli("secrets", "list")
        assert proc.returncode == 3
        assert "is sealed" in proc.stderr and "homelab vault unseal" in proc.stderr
        _no_traceback(proc)
        proc = openbao.cli("vault", "configure")
        assert proc.returncode == 3 and "is sealed" in proc.stderr
        st = json.loads(openbao.cli("vault", "status", "--format", "json").stdout)
        assert st["sealed"] is True and st["initialized"] is True
    finally:
        proc = openbao.cli("vault", "unseal")
    assert proc.returncode == 0, proc.stderr
    assert openbao.api().seal_status()["sealed"] is False


def test_wrong_unseal_key(openbao, tmp_path):
    openbao.api().seal()
    bad = tmp_path / "bad-keys.json"
    # same format and length as the real keys, different content
    wrong = ["".join("0" if c != "0" else "1" for c in k) for k in openbao.keys]
    fd = os.open(bad, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump({"keys": wrong}, fh)
    try:
        proc = openbao.cli("vault", "unseal", "--keys-file", str(bad))
        assert proc.returncode == 3
        assert "rejected an unseal key" in proc.stderr and "--keys-file" in proc.stderr
        _no_traceback(proc)
        st = openbao.api().seal_status()
        assert st["sealed"] is True and st["progress"] == 0  # progress reset, nothing half-done
    finally:
        proc = openbao.cli("vault", "unseal")
    assert proc.returncode == 0, proc.stderr


def test_wrong_address_connection_refused(openbao):
    port = _closed_port()
    for args in (("secrets", "list"), ("vault", "up")):
        proc = openbao.cli(*args, "--address", f"http://127.0.0.1:{port}")
        assert proc.returncode == 3, (args, proc.stderr)
        assert f"cannot reach Vault at 127.0.0.1:{port}: connection refused" in proc.stderr
        _no_traceback(proc)
    # `vault status` reports a Vault that does not answer: that is its answer, not an engine failure
    proc = openbao.cli("vault", "status", "--address", f"http://127.0.0.1:{port}")
    assert proc.returncode == 1, proc.stderr
    assert f"running:     no (cannot reach Vault at 127.0.0.1:{port}: connection refused)" in proc.stdout
    _no_traceback(proc)
    proc = openbao.cli("vault", "status", env_extra={"HOMELAB_VAULT_ADDR": f"http://127.0.0.1:{port}"})
    assert proc.returncode == 1 and "connection refused" in proc.stdout
    proc = openbao.cli("vault", "status", "--address", "ftp://x")
    assert proc.returncode == 2 and "invalid Vault address" in proc.stderr


def test_embedded_not_running(openbao, tmp_path):
    proc = openbao.cli("vault", "status", env_extra={"HOMELAB_STATE_DIR": str(tmp_path / ".homelab")})
    assert proc.returncode == 1  # a status, not an engine failure (3)
    assert "the embedded Vault is not running" in proc.stdout and "homelab vault up" in proc.stdout
    proc = openbao.cli("vault", "status", "--format", "json", env_extra={"HOMELAB_STATE_DIR": str(tmp_path / "x")})
    assert proc.returncode == 1 and json.loads(proc.stdout)["running"] is False
    proc = openbao.cli("secrets", "list", env_extra={"HOMELAB_STATE_DIR": str(tmp_path / ".homelab")})
    assert proc.returncode == 3 and "homelab vault up" in proc.stderr  # a command that needs Vault fails


def test_permission_denied_and_invalid_token(openbao):
    token = openbao.api().create_token(policies=["default"], ttl="5m")
    proc = openbao.cli("secrets", "list", env_extra={"VAULT_TOKEN": token})
    assert proc.returncode == 3 and "permission denied" in proc.stderr
    assert token not in proc.stdout + proc.stderr
    proc = openbao.cli("secrets", "list", env_extra={"VAULT_TOKEN": "s.not-a-real-token"})
    assert proc.returncode == 3 and "invalid or expired" in proc.stderr


def test_keys_file_missing(openbao, tmp_path):
    openbao.api().seal()
    try:
        proc = openbao.cli("vault", "unseal", "--keys-file", str(tmp_path / "nope.json"))
        assert proc.returncode == 1
        assert "does not exist" in proc.stderr and "--keys-file" in proc.stderr
        _no_traceback(proc)
        # a command that needs a token and finds none says so
        proc = openbao.cli("vault", "status", "--format", "json",
                           env_extra={"HOMELAB_VAULT_KEYS_FILE": str(tmp_path / "nope.json")})
        assert proc.returncode == 0 and json.loads(proc.stdout)["sealed"] is True
    finally:
        assert openbao.cli("vault", "unseal").returncode == 0
    proc = openbao.cli("secrets", "list", env_extra={"HOMELAB_VAULT_KEYS_FILE": str(tmp_path / "nope.json")})
    assert proc.returncode == 3 and "no Vault token" in proc.stderr


def test_keys_file_world_readable(openbao, tmp_path):
    openbao.api().seal()
    loose = tmp_path / "loose.json"
    loose.write_bytes(openbao.keys_file.read_bytes())
    loose.chmod(0o644)
    try:
        proc = openbao.cli("vault", "unseal", "--keys-file", str(loose))
        assert proc.returncode == 1
        assert "readable by others (mode 0644)" in proc.stderr and f"chmod 600 {loose}" in proc.stderr
        assert openbao.api().seal_status()["sealed"] is True  # nothing was sent
        loose.chmod(0o640)  # group-readable is refused too
        assert openbao.cli("vault", "unseal", "--keys-file", str(loose)).returncode == 1
    finally:
        assert openbao.cli("vault", "unseal").returncode == 0


def test_not_initialised_then_print_keys_once(openbao_factory):
    server = openbao_factory("uninit", initialise=False)
    for args in (("vault", "configure"), ("vault", "unseal"), ("vault", "backup")):
        proc = server.cli(*args)
        assert proc.returncode == 3, (args, proc.stderr)
        assert "is not initialised" in proc.stderr and "homelab vault init" in proc.stderr
    st = json.loads(server.cli("vault", "status", "--format", "json").stdout)
    assert st["initialized"] is False
    # --print-keys: shown once, no keys file written
    proc = server.cli("vault", "init", "--print-keys", "--shares", "3", "--threshold", "2")
    assert proc.returncode == 0, proc.stderr
    keys = [ln.split(": ", 1)[1] for ln in proc.stdout.splitlines() if ln.startswith("Unseal key")]
    assert len(keys) == 3 and "Initial root token: " in proc.stdout
    assert not server.keys_file.exists()
    # the printed keys work (read from stdin, never argv)
    proc = server.cli("vault", "unseal", "--stdin", input="\n".join(keys[:2]) + "\n")
    assert proc.returncode == 0, proc.stderr
    assert keys[0] not in proc.stdout + proc.stderr
    assert server.api().seal_status()["sealed"] is False


def test_init_refuses_an_existing_keys_file(openbao_factory):
    server = openbao_factory("keysexist", initialise=False)
    server.keys_file.parent.mkdir(parents=True, exist_ok=True)
    server.keys_file.write_text("precious\n")
    proc = server.cli("vault", "init")
    assert proc.returncode == 1 and "refusing to overwrite" in proc.stderr
    assert server.keys_file.read_text() == "precious\n"
    assert server.api().seal_status()["initialized"] is False  # Vault was not initialised either
    other = server.keys_file.with_name("second.json")
    proc = server.cli("vault", "init", "--keys-file", str(other))
    assert proc.returncode == 0, proc.stderr
    assert stat.S_IMODE(other.stat().st_mode) == 0o600
