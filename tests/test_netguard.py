"""The guard that keeps the test suite off every network but loopback and the sandbox subnet."""

from __future__ import annotations

import socket
import subprocess
import sys

import pytest


def test_guard_blocks_the_reference_lab_in_process(monkeypatch, tmp_path):
    monkeypatch.setenv("HOMELAB_NETGUARD_LOG", str(tmp_path / "log"))
    with pytest.raises(OSError, match="netguard"):
        socket.create_connection(("192.168.10.50", 8200), timeout=1)
    with pytest.raises(OSError, match="netguard"):
        socket.getaddrinfo("vault.lab.thewortmans.org", 8200)
    assert "192.168.10.50" in (tmp_path / "log").read_text()


def test_guard_allows_loopback():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    client = socket.create_connection(server.getsockname(), timeout=2)
    client.close()
    server.close()


def test_guard_is_active_in_python_subprocesses(tmp_path):
    code = ("import socket\ntry:\n    socket.create_connection(('192.168.10.71', 22), timeout=1)\n"
            "except OSError as e:\n    print(type(e).__name__, e)\n")
    env_log = tmp_path / "sub.log"
    import os

    env = dict(os.environ, HOMELAB_NETGUARD_LOG=str(env_log))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env).stdout
    assert "netguard" in out
    assert "192.168.10.71" in env_log.read_text()
