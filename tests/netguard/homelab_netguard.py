"""Test-time network containment: only loopback and the test hosts' subnet may be contacted.

Two layers (tests/conftest.py wires them up):

1. The OS layer. As root, the whole pytest session runs in its own network namespace: loopback and
   the links the sandbox test hosts add (`hlsb*` veths into 10.213.0.0/16), no default route. Any
   process of the session — Python or not (terraform, bao, ssh, curl, git), guarded or not — gets
   "Network is unreachable" for every other address, and the kernel counts each such attempt in the
   namespace's own `OutNoRoutes` counters (/proc/net/snmp, /proc/net/snmp6; tcp/udp connect and
   udp sendmsg count an ENETUNREACH there). The session reads them before and after each test and
   fails when they moved: that is how an attempt by a non-Python child is reported.
   `containment()` checks the namespace really is one (not the machine's, no default route, no
   foreign link); `netns_command()` is the command that re-executes the session inside one.
2. The Python layer, in every Python process of the session (the pytest process through conftest,
   every Python child through sitecustomize.py in this directory, on PYTHONPATH with
   HOMELAB_NETGUARD=1): an audit hook (PEP 578: it sees the C-level socket calls, so calling the base
   class or `_socket` does not get round it, and it cannot be removed) refuses `connect`/`connect_ex`,
   `sendto`, `sendmsg`, `getaddrinfo`, `gethostbyname`/`gethostbyname_ex`, `gethostbyaddr` and
   `getnameinfo` for anything else: `NetguardViolation` (an OSError, so code under test sees an
   ordinary network error) or `socket.gaierror` for a lookup. It also notices a Python child the guard
   cannot reach (`python -I`/`-E`/`-S`, or an environment without the guard) and a child where
   sitecustomize failed to load it. Everything is recorded in the file named by HOMELAB_NETGUARD_LOG
   (one per test session) and the session fails when that file is not empty.

Every test here uses documentation-only addresses (TEST-NET-1, 192.0.2.0/24; example.com names),
never a lab address.
"""

from __future__ import annotations

import ipaddress
import os
import shutil
import socket
import sys
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
SANDBOX_NET = "10.213.0.0/16"  # homelab.sandbox: the test hosts' subnets
ALLOWED_NETS = [ipaddress.ip_network(n) for n in ("127.0.0.0/8", "::1/128", SANDBOX_NET)]
ALLOWED_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback", ""}
SANDBOX_LINK_PREFIX = "hlsb"  # homelab.sandbox.hosts.PREFIX: the controller's veth of a test subnet
ENV_ON = "HOMELAB_NETGUARD"
ENV_LOG = "HOMELAB_NETGUARD_LOG"


class NetguardViolation(ConnectionRefusedError):
    pass


# ------------------------------------------------------------------------------------ the record
def record(what: str) -> None:
    """Append one line to this session's log (HOMELAB_NETGUARD_LOG); the session fails on any line."""
    log = os.environ.get(ENV_LOG)
    if not log:
        return
    test = os.environ.get("PYTEST_CURRENT_TEST")  # children inherit it: the test that started them
    where = f"pid {os.getpid()}" + (f", test {test}" if test else "")
    try:
        with open(log, "a", encoding="utf-8") as f:
            f.write(f"{what} [{where}]\n")
    except OSError:
        pass


def _allowed_ip(host: str) -> bool:
    try:
        addr = ipaddress.ip_address(str(host).split("%")[0])
    except ValueError:
        return False
    if addr.version == 6 and addr.ipv4_mapped:
        addr = addr.ipv4_mapped
    return any(addr.version == net.version and addr in net for net in ALLOWED_NETS)


def _allowed_name(host) -> bool:
    if host is None:
        return True
    name = host.decode() if isinstance(host, (bytes, bytearray)) else str(host)
    return name in ALLOWED_NAMES or name == socket.gethostname() or _allowed_ip(name)


# ------------------------------------------------------------------------------------ the audit hook
def _address_event(what: str, sock, address) -> None:
    if address is None or not isinstance(address, tuple):
        return
    if getattr(sock, "family", None) not in (socket.AF_INET, socket.AF_INET6):
        return
    host = str(address[0])
    if not _allowed_ip(host):
        port = address[1] if len(address) > 1 else "?"
        record(f"{what} {host}:{port}")
        raise NetguardViolation(f"netguard: tests may not contact {host} (only loopback and {SANDBOX_NET})")


def _is_ip_literal(host) -> bool:
    try:
        ipaddress.ip_address((host.decode() if isinstance(host, (bytes, bytearray)) else str(host)).split("%")[0])
        return True
    except ValueError:
        return False


def _lookup_event(what: str, host, numeric_ok: bool = True) -> None:
    """A name lookup; an IP literal needs none (what is then contacted is checked at connect/send)."""
    if numeric_ok and host is not None and _is_ip_literal(host):
        return
    if not _allowed_name(host):
        name = host.decode() if isinstance(host, (bytes, bytearray)) else str(host)
        record(f"{what} {name}")
        raise socket.gaierror(socket.EAI_NONAME, f"netguard: tests may not resolve {name}")


def _python_child(executable, args, env) -> str | None:
    """Why a Python child started with these arguments runs without the guard, or None."""
    argv = [os.fsdecode(a) for a in ([args] if isinstance(args, (str, bytes)) else list(args or []))]
    if not argv:
        return None
    exe = os.fsdecode(executable) if executable else argv[0]
    path = exe if os.sep in exe else shutil.which(exe, path=(env or os.environ).get("PATH"))
    name = os.path.basename(exe)
    flags: list[str] = []
    if name.startswith("python"):
        rest = argv[1:]
    elif path and _is_python_script(path):
        rest = []
    else:
        return None
    for arg in rest:  # interpreter options come before the script / -c / -m
        if not arg.startswith("-") or arg.startswith("--") or arg in ("-c", "-m"):
            break
        flags += [f"-{ch}" for ch in arg[1:] if ch in "IES"]
        if arg[1:2] in ("c", "m", "W", "X"):
            break
    if flags:
        return f"started with {' '.join(sorted(set(flags)))} (no sitecustomize / PYTHONPATH)"
    if env is not None:
        if env.get(ENV_ON) != "1":
            return f"its environment has no {ENV_ON}=1"
        if str(HERE) not in (env.get("PYTHONPATH") or "").split(os.pathsep):
            return f"its PYTHONPATH does not hold {HERE}"
    return None


def _is_python_script(path: str) -> bool:
    try:
        with open(path, "rb") as f:
            first = f.readline(200)
    except OSError:
        return False
    return first.startswith(b"#!") and b"python" in first


def _popen_event(executable, args, cwd, env) -> None:
    why = _python_child(executable, args, env)
    if why:
        shown = " ".join(os.fsdecode(a) for a in ([args] if isinstance(args, (str, bytes)) else args))[:200]
        record(f"unguarded-python-child {shown!r}: {why}")
        sys.stderr.write(f"netguard: a Python child runs WITHOUT the network guard ({why}): {shown}\n")


def _hook(event: str, args) -> None:
    if event == "socket.connect":
        _address_event("connect", *args)
    elif event == "socket.sendto":
        _address_event("sendto", *args)
    elif event == "socket.sendmsg":
        _address_event("sendmsg", *args)
    elif event == "socket.getaddrinfo":
        _lookup_event("resolve", args[0])
    elif event == "socket.gethostbyname":
        _lookup_event("resolve", args[0])
    elif event == "socket.gethostbyaddr":
        _lookup_event("reverse-lookup", args[0], numeric_ok=False)
    elif event == "socket.getnameinfo":
        sockaddr = args[0]
        _lookup_event("reverse-lookup", sockaddr[0] if isinstance(sockaddr, tuple) else sockaddr, numeric_ok=False)
    elif event == "subprocess.Popen":
        _popen_event(*args)


def install() -> None:
    """Install the audit hook in this process (idempotent; an audit hook cannot be removed)."""
    if getattr(sys, "_homelab_netguard", False):
        return
    sys.addaudithook(_hook)
    sys._homelab_netguard = True  # type: ignore[attr-defined]
    socket._homelab_netguard = True  # type: ignore[attr-defined]


def installed() -> bool:
    return bool(getattr(sys, "_homelab_netguard", False))


# ------------------------------------------------------------------------------------ the OS layer
@dataclass(frozen=True)
class Containment:
    contained: bool
    detail: str


def _netns_id(pid: str) -> str | None:
    try:
        return os.readlink(f"/proc/{pid}/ns/net")
    except OSError:
        return None


def _default_routes() -> list[str]:
    found = []
    try:
        for line in Path("/proc/net/route").read_text().splitlines()[1:]:
            parts = line.split()
            if len(parts) > 7 and parts[1] == "00000000" and parts[7] == "00000000":
                found.append(f"IPv4 default via {parts[0]}")
    except OSError:
        pass
    try:
        for line in Path("/proc/net/ipv6_route").read_text().splitlines():
            parts = line.split()
            if len(parts) > 9 and parts[0] == "0" * 32 and parts[1] == "00" and parts[9] != "lo":
                found.append(f"IPv6 default via {parts[9]}")
    except OSError:
        pass
    return found


def links() -> list[str]:
    try:
        lines = Path("/proc/net/dev").read_text().splitlines()[2:]
    except OSError:
        return []
    return sorted(line.split(":", 1)[0].strip() for line in lines if ":" in line)


def containment() -> Containment:
    """Is this process in a network namespace with loopback and test-host links only, no default route?

    (That is the definition: whether it is the machine's namespace does not matter — /proc/1/ns/net is
    often unreadable in a container anyway.)"""
    mine = _netns_id("self") or "?"
    foreign = [n for n in links() if n != "lo" and not n.startswith(SANDBOX_LINK_PREFIX)]
    if foreign:
        return Containment(False, f"the session's network namespace has other links: {', '.join(foreign)}")
    if "lo" not in links():
        return Containment(False, "cannot read the session's network links (/proc/net/dev)")
    routes = _default_routes()
    if routes:
        return Containment(False, f"the session's network namespace has a default route: {'; '.join(routes)}")
    return Containment(True, f"network namespace {mine}: loopback and test-host links only, no default route")


def no_route_count() -> int:
    """Connections/datagrams the kernel refused in this network namespace for want of a route."""
    total = 0
    try:
        lines = Path("/proc/net/snmp").read_text().splitlines()
        heads = [line.split() for line in lines if line.startswith("Ip:")]
        if len(heads) >= 2:
            total += int(dict(zip(heads[0][1:], heads[1][1:], strict=False)).get("OutNoRoutes", 0))
    except (OSError, ValueError):
        pass
    try:
        for line in Path("/proc/net/snmp6").read_text().splitlines():
            parts = line.split()
            if len(parts) == 2 and parts[0] == "Ip6OutNoRoutes":
                total += int(parts[1])
    except (OSError, ValueError):
        pass
    return total


def netns_command(argv: list[str]) -> list[str] | None:
    """`argv` run in a new network namespace with loopback up, or None when this machine cannot."""
    unshare, ip = shutil.which("unshare"), shutil.which("ip")
    if os.geteuid() != 0 or not unshare or not ip:
        return None
    script = f'{ip} link set lo up || exit 97; exec "$@"'
    return [unshare, "--net", "--", "/bin/sh", "-c", script, "homelab-test-netns", *argv]
