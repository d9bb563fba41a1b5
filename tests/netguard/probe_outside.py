"""Deliberate attempts to leave the test network, run as a test session of its own by
tests/test_netguard.py (the file name does not match test_*.py: the suite never collects it).

Every target is documentation-only: TEST-NET-1 (192.0.2.0/24, RFC 5737) and a name under example.com
(RFC 2606). Each test asserts that its attempt FAILED; the session that runs them must still fail and
name every attempt (that is what test_netguard.py checks).
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys

import pytest

TARGET = "192.0.2.1"
NAME = "probe.netguard.example.com"


def test_python_tcp():
    with pytest.raises(OSError):
        socket.create_connection((TARGET, 80), timeout=3)
    with pytest.raises(OSError):  # straight through the C socket type, around any Python-level patch
        import _socket

        raw = _socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            raw.settimeout(3)
            raw.connect((TARGET, 443))
        finally:
            raw.close()


def test_python_udp():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s, pytest.raises(OSError):
        s.sendto(b"probe", (TARGET, 53))
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s, pytest.raises(OSError):
        s.sendmsg([b"probe"], [], 0, (TARGET, 123))


def test_python_dns():
    with pytest.raises(OSError):
        socket.getaddrinfo(NAME, 443)
    with pytest.raises(OSError):
        socket.gethostbyname(NAME)
    with pytest.raises(OSError):
        socket.gethostbyaddr(TARGET)


def test_curl_child():
    proc = subprocess.run([shutil.which("curl") or "curl", "-sS", "-m", "5", f"http://{TARGET}/"],
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode != 0, proc.stdout
    assert "unreachable" in proc.stderr.lower() or "couldn't connect" in proc.stderr.lower(), proc.stderr


def test_ssh_child():
    proc = subprocess.run(["ssh", "-o", "BatchMode=yes", "-o", "ConnectTimeout=5", "-o", "StrictHostKeyChecking=no",
                           "-o", "UserKnownHostsFile=/dev/null", f"probe@{TARGET}", "true"],
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 255, proc.stderr
    assert "Network is unreachable" in proc.stderr, proc.stderr


def test_dns_from_a_non_python_child():
    proc = subprocess.run(["getent", "hosts", NAME], capture_output=True, text=True, timeout=30)
    assert proc.returncode != 0 and not proc.stdout.strip()


def test_isolated_python_child():
    """`python -I` skips sitecustomize: no Python guard in there, only the OS layer stops it."""
    code = f"import socket\ntry:\n    socket.create_connection(({TARGET!r}, 80), timeout=3)\nexcept OSError as e:\n" \
           "    print('refused:', e.strerror or e)\nelse:\n    print('CONNECTED')\n"
    proc = subprocess.run([sys.executable, "-I", "-c", code], capture_output=True, text=True, timeout=30)
    assert proc.stdout.startswith("refused:") and "netguard" not in proc.stdout, proc.stdout + proc.stderr


def test_loopback_is_fine():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        socket.create_connection(server.getsockname(), timeout=3).close()
