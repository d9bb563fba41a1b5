"""The containment that keeps the test suite off every network but loopback and the test hosts' subnet.

Every address used here is documentation-only (TEST-NET-1, 192.0.2.0/24; names under example.com),
never one of the lab's. Attempts made in this session record into a log of their own (never the
session's, which must stay empty); the deliberate escapes run in a test session of their own
(tests/netguard/probe_outside.py), in a network namespace of its own, and that session must fail.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import homelab_netguard
import pytest

ROOT = Path(__file__).resolve().parent.parent
PROBE = ROOT / "tests" / "netguard" / "probe_outside.py"
TARGET = "192.0.2.1"
NAME = "probe.netguard.example.com"
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root: the deliberate escapes run in a network "
                                "namespace of their own (`unshare --net`); CI runs as root")


@pytest.fixture
def private_log(monkeypatch, tmp_path):
    """Attempts made by this test go to a log of its own, not the session's."""
    log = tmp_path / "netguard.log"
    monkeypatch.setenv("HOMELAB_NETGUARD_LOG", str(log))
    return log


def test_python_guard_refuses_tcp_udp_and_lookups(private_log):
    import _socket

    with pytest.raises(OSError, match="netguard"):
        socket.create_connection((TARGET, 80), timeout=1)
    with socket.socket() as s, pytest.raises(OSError, match="netguard"):
        s.connect_ex((TARGET, 81))
    raw = _socket.socket(socket.AF_INET, socket.SOCK_STREAM)  # the C type, around any Python-level patch
    with pytest.raises(OSError, match="netguard"):
        raw.connect((TARGET, 82))
    raw.close()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        with pytest.raises(OSError, match="netguard"):
            s.sendto(b"x", (TARGET, 53))
        with pytest.raises(OSError, match="netguard"):
            s.sendmsg([b"x"], [], 0, (TARGET, 123))
    with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as s, pytest.raises(OSError, match="netguard"):
        s.sendto(b"x", ("2001:db8::1", 53))  # IPv6 documentation prefix
    for lookup in (lambda: socket.getaddrinfo(NAME, 443), lambda: socket.gethostbyname(NAME),
                   lambda: socket.gethostbyname_ex(NAME), lambda: socket.gethostbyaddr(TARGET),
                   lambda: socket.getnameinfo((TARGET, 80), 0)):
        with pytest.raises(OSError, match="netguard"):
            lookup()
    log = private_log.read_text()
    for line in (f"connect {TARGET}:80", f"connect {TARGET}:81", f"connect {TARGET}:82", f"sendto {TARGET}:53",
                 f"sendmsg {TARGET}:123", "sendto 2001:db8::1:53", f"resolve {NAME}", f"reverse-lookup {TARGET}"):
        assert line in log, line
    assert "test_python_guard_refuses_tcp_udp_and_lookups" in log  # each record names the test


def test_guard_allows_loopback_and_the_test_subnet_only():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    socket.create_connection(server.getsockname(), timeout=2).close()
    server.close()
    assert socket.getaddrinfo("localhost", 80)
    assert homelab_netguard._allowed_ip("10.213.1.11") and homelab_netguard._allowed_ip("::ffff:127.0.0.1")
    assert not homelab_netguard._allowed_ip("10.214.0.1") and not homelab_netguard._allowed_ip(TARGET)


def test_guard_is_active_in_python_children(private_log):
    code = ("import socket\ntry:\n    socket.create_connection(('192.0.2.1', 22), timeout=1)\n"
            "except OSError as e:\n    print(type(e).__name__, e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60).stdout
    assert "netguard" in out
    assert f"connect {TARGET}:22" in private_log.read_text()


@pytest.mark.parametrize("how", ["-I", "-S", "-E", "env"])
def test_a_python_child_without_the_guard_is_reported(private_log, how):
    args = [sys.executable, how, "-c", "pass"] if how != "env" else [sys.executable, "-c", "pass"]
    env = {"PATH": os.environ["PATH"]} if how == "env" else None
    assert subprocess.run(args, env=env, timeout=60).returncode == 0  # it runs; the session is told
    log = private_log.read_text()
    assert "unguarded-python-child" in log
    assert (f"started with {how}" in log) if how != "env" else "no HOMELAB_NETGUARD=1" in log


def test_a_child_whose_guard_cannot_load_stops_loudly(private_log, tmp_path):
    broken = tmp_path / "broken"  # sitecustomize as in tests/netguard, beside a guard module that fails
    broken.mkdir()
    shutil.copy(ROOT / "tests" / "netguard" / "sitecustomize.py", broken / "sitecustomize.py")
    (broken / "homelab_netguard.py").write_text("raise ImportError('simulated: the guard is broken')\n")
    env = dict(os.environ, PYTHONPATH=str(broken))
    proc = subprocess.run([sys.executable, "-c", "print('ran unguarded')"], env=env, capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 97 and "ran unguarded" not in proc.stdout
    assert "the network guard failed to load" in proc.stderr and "simulated: the guard is broken" in proc.stderr
    assert "guard-load-failed" in private_log.read_text()


def test_each_session_has_its_own_log():
    log = Path(os.environ["HOMELAB_NETGUARD_LOG"])
    assert log.parent == Path(os.environ.get("HOMELAB_NETGUARD_LOG_DIR") or ROOT / ".pytest_cache" / "netguard")
    assert log.is_file()
    assert log.read_text() == ""  # nothing so far, and never the records of another run


def test_the_session_is_contained_when_root():
    state = homelab_netguard.containment()
    if os.geteuid() != 0:  # no network namespace without root: the summary says the Python guard is all there is
        assert homelab_netguard.netns_command(["true"]) is None
        return
    assert os.environ.get("HOMELAB_NETGUARD_NETNS") == "off" or state.contained, state.detail
    if state.contained:
        assert all(n == "lo" or n.startswith("hlsb") for n in homelab_netguard.links())
        routes = subprocess.run(["ip", "route", "show", "default"], capture_output=True, text=True).stdout
        assert routes.strip() == ""


def _probe_session(tmp_path: Path, *select: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items()
           if k not in ("HOMELAB_NETGUARD_LOG", "HOMELAB_NETGUARD_REEXEC", "PYTEST_ADDOPTS", "PYTEST_XDIST_WORKER",
                        "PYTEST_XDIST_WORKER_COUNT", "HOMELAB_CI", "CI")}
    env["HOMELAB_NETGUARD_LOG_DIR"] = str(tmp_path)  # its log (kept: it is not empty) is not left in the repo
    command = homelab_netguard.netns_command(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-n", "0",
         "-o", "addopts=", str(PROBE), *select])
    assert command is not None
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


@needs_root
def test_escapes_fail_inside_a_session_and_the_session_reports_them(tmp_path):
    if shutil.which("curl") is None:
        pytest.fail("curl is not installed: scripts/system-deps.sh installs it")
    own_log = Path(os.environ["HOMELAB_NETGUARD_LOG"])
    proc = _probe_session(tmp_path)
    out = proc.stdout + proc.stderr
    assert "8 passed" in out, out  # every attempt failed, as each probe asserts ...
    assert proc.returncode == 1, out  # ... and still the session fails
    reported = out[out.index("netguard: the tests tried to reach"):]
    # the Python layer names each attempt (the process and the test)
    for line in (f"connect {TARGET}:80", f"connect {TARGET}:443", f"sendto {TARGET}:53", f"sendmsg {TARGET}:123",
                 f"resolve {NAME}", f"reverse-lookup {TARGET}"):
        assert line in reported, line
    assert re.search(r"unguarded-python-child .*-I", reported)
    # the OS layer counted the attempts of the non-Python children (and of the `python -I` child)
    for test in ("test_curl_child", "test_ssh_child", "test_dns_from_a_non_python_child", "test_isolated_python_child"):
        assert re.search(rf"kernel: \d+ connection.* had no route during \S*probe_outside.py::{test} ", reported), test
    assert "test_loopback_is_fine" not in reported
    assert "netguard: OS layer: network namespace" in out
    assert [p.name for p in tmp_path.glob("*.log")] and str(tmp_path) in reported  # its own log, named
    # that session's log was its own: this session's log has none of it
    assert TARGET not in own_log.read_text()


@needs_root
def test_a_session_without_escapes_passes(tmp_path):
    proc = _probe_session(tmp_path, "-k", "loopback")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "1 passed" in proc.stdout and "tried to reach" not in proc.stdout + proc.stderr
    assert not list(tmp_path.glob("*.log"))  # an empty log is removed


def _session_in_a_namespace_with_a_way_out(tmp_path, mode: str, **env_extra) -> subprocess.CompletedProcess:
    """A test session started where a default route leads out (a veth link on TEST-NET-2, 198.51.100.0/24,
    stands in for the machine's network), with HOMELAB_NETGUARD_NETNS=`mode`."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("HOMELAB_NETGUARD_LOG", "HOMELAB_NETGUARD_REEXEC", "PYTEST_ADDOPTS", "HOMELAB_CI", "CI")}
    env.update(HOMELAB_NETGUARD_LOG_DIR=str(tmp_path), HOMELAB_NETGUARD_NETNS=mode, **env_extra)
    ip = shutil.which("ip")
    script = (f"{ip} link set lo up && {ip} link add out0 type veth peer name out1 && {ip} link set out0 up && "
              f"{ip} link set out1 up && {ip} addr add 198.51.100.2/24 dev out0 && "
              f"{ip} route add default via 198.51.100.1 && exec \"$@\"")
    command = [shutil.which("unshare"), "--net", "--", "/bin/sh", "-c", script, "outside",
               sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-n", "0", "-o", "addopts=",
               str(PROBE), "-k", "loopback"]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


@needs_root
def test_a_session_with_a_way_out_contains_itself_or_says_it_is_not_contained(tmp_path):
    auto = _session_in_a_namespace_with_a_way_out(tmp_path, "auto")
    assert auto.returncode == 0, auto.stdout + auto.stderr
    assert "netguard: OS layer: network namespace" in auto.stdout  # it re-executed itself in a new namespace
    off = _session_in_a_namespace_with_a_way_out(tmp_path, "off")
    assert off.returncode == 0, off.stdout + off.stderr
    assert ("netguard: NOT contained at the OS level (the session's network namespace has other links: out0, out1): "
            "the Python guard is the only containment here") in " ".join(off.stdout.split())
    required = _session_in_a_namespace_with_a_way_out(tmp_path, "require")  # .ci/run: contains itself ...
    assert required.returncode == 0 and "netguard: OS layer: network namespace" in required.stdout, required.stdout
    # ... and when it cannot (here: no `unshare`/`ip` on PATH, as on a machine without util-linux/iproute2)
    stuck = _session_in_a_namespace_with_a_way_out(tmp_path, "require", PATH="/nonexistent")
    assert stuck.returncode == 4, stuck.stdout + stuck.stderr  # a usage error, before any test ran
    assert ("netguard: this run must be contained in its own network namespace, but the session's network "
            "namespace has other links: out0, out1") in stuck.stderr
