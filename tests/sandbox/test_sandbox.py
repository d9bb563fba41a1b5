"""The test-host harness itself: isolation, reachability, complete teardown, stale sweep."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import textwrap
import time

from helpers import subnet_index

from homelab.sandbox.hosts import PREFIX, _links, _namespaces, sweep_stale


def _machine_fingerprint():
    links = sorted(link for link in _links())
    with open("/etc/hosts", "rb") as f:
        hosts = hashlib.sha256(f.read()).hexdigest()
    mounts = sorted(line.split()[1] for line in open("/proc/mounts") if "homelab-sandbox" in line)
    return links, sorted(_namespaces()), hosts, mounts


def test_each_host_has_its_own_name_address_and_sshd(sandbox3):
    seen = {}
    for name, host in sandbox3.hosts.items():
        proc = host.run("hostname; cat /etc/hostname; python3 -c 'import socket; print(socket.gethostname())'")
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.split() == [name, name, name]
        addr = host.run("ip -4 -o addr show dev eth0").stdout
        assert f"inet {host.ip}/24" in addr
        seen[name] = host.ip
    assert len(set(seen.values())) == 3


def test_hosts_reach_each_other_but_only_on_the_test_subnet(sandbox3):
    alpha, beta = sandbox3.hosts["alpha"], sandbox3.hosts["beta"]
    probe = (f"python3 -c \"import socket; s=socket.create_connection(('{beta.ip}', 22), 2); "
             f"print(s.recv(4).decode())\"")
    proc = alpha.run(probe)
    assert proc.returncode == 0 and proc.stdout.strip() == "SSH-", proc.stderr
    # The host's only routes are the test subnet and the controller; no other interface exists.
    links = alpha.run("ls /sys/class/net").stdout.split()
    assert sorted(links) == ["eth0", "lo"]


def test_hosts_are_isolated_from_each_other_filesystems(sandbox3):
    alpha, beta = sandbox3.hosts["alpha"], sandbox3.hosts["beta"]
    assert alpha.run("echo marker-$(hostname) > /root/only-on-alpha").returncode == 0
    assert alpha.read_file("/root/only-on-alpha") == "marker-alpha\n"
    assert beta.read_file("/root/only-on-alpha") is None
    assert beta.run("test -e /root/only-on-alpha").returncode == 1  # absent, not unreadable


def test_down_removes_everything_it_created(tmp_path):
    from homelab.sandbox import Sandbox

    before = _machine_fingerprint()
    sb = Sandbox(["one", "two"], workdir=tmp_path / "sb", index=subnet_index(2))
    sb.up()
    during = _machine_fingerprint()
    assert any(ns.startswith(sb.tag) for ns in during[1])
    assert sb.tag in during[0]
    sb.down()
    assert _machine_fingerprint() == before


def test_a_sandbox_of_a_killed_process_is_swept(tmp_path):
    code = textwrap.dedent(f"""
        import os, signal, sys
        from homelab.sandbox import Sandbox
        sb = Sandbox(["orphan"], workdir={str(tmp_path / 'orphan')!r}, index={subnet_index(3)})
        sb.up()
        print(sb.tag, flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    tag = proc.stdout.strip()
    assert tag.startswith(PREFIX)
    # The dead owner's namespaces and sshd are still there...
    assert any(ns.startswith(tag + "-") for ns in _namespaces())
    removed = sweep_stale()
    assert any(r.startswith(tag) for r in removed)
    # ...and after the sweep nothing of it is left, and its sshd processes are gone.
    time.sleep(0.2)
    assert not any(ns.startswith(tag) for ns in _namespaces())
    assert tag not in _links()


def test_cli_up_status_down(tmp_path):
    env = dict(os.environ)
    hl = [sys.executable, "-m", "homelab"]
    wd = str(tmp_path / "cli")
    net = f"10.213.{subnet_index(4)}"
    up = subprocess.run(hl + ["sandbox", "up", "--hosts", "solo", "--dir", wd, "--subnet", f"{net}.0/24"],
                        capture_output=True, text=True, env=env, timeout=240)
    try:
        assert up.returncode == 0, up.stderr
        assert "solo" in up.stdout and f"{net}.11" in up.stdout
        st = subprocess.run(hl + ["sandbox", "status", "--dir", wd, "--format", "json"],
                            capture_output=True, text=True, timeout=30)
        assert st.returncode == 0
        assert f'"ip": "{net}.11"' in st.stdout
    finally:
        down = subprocess.run(hl + ["sandbox", "down", "--dir", wd], capture_output=True, text=True, timeout=60)
    assert down.returncode == 0 and "stopped" in down.stdout
    assert not any(f"{net}." in line for line in subprocess.run(
        ["ip", "-4", "-o", "addr"], capture_output=True, text=True).stdout.splitlines())


def test_the_test_hosts_live_inside_the_sessions_network_namespace(sandbox3):
    """As root the session runs in its own network namespace (tests/conftest.py): the hosts' named namespaces
    are made beside it, the controller's veth lands in it, and nothing a host sends gets further."""
    import homelab_netguard

    if os.environ.get("HOMELAB_NETGUARD_NETNS") == "off":
        return  # a session explicitly run in the machine's namespace (a debugger); the summary says so
    state = homelab_netguard.containment()
    assert state.contained, state.detail  # the sandbox's veth is a test-host link: still contained
    assert sandbox3.tag in homelab_netguard.links()
    with open("/proc/sys/net/ipv4/ip_forward") as f:
        assert f.read().strip() == "0"  # the session's namespace forwards nothing for the hosts
    alpha = sandbox3.hosts["alpha"]
    probe = ("python3 -c \"import socket\ntry:\n socket.create_connection(('192.0.2.1', 80), 2)\n print('CONNECTED')\n"
             "except OSError as e:\n print('refused', e)\"")
    proc = alpha.run(probe)
    assert proc.returncode == 0 and proc.stdout.startswith("refused"), proc.stdout + proc.stderr
