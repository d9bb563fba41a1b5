"""Test-time network guard: only loopback and the sandbox test subnet may be contacted.

Installed in the pytest process by tests/conftest.py and in every Python subprocess the tests
start (through sitecustomize.py in this directory, which tests/conftest.py puts on PYTHONPATH
with HOMELAB_NETGUARD=1). A connection or name lookup for anything else raises
`NetguardViolation` (an OSError, so code under test sees an ordinary network error) and is
recorded in the file named by HOMELAB_NETGUARD_LOG so the suite can fail on it.
"""

from __future__ import annotations

import ipaddress
import os
import socket

ALLOWED_NETS = [ipaddress.ip_network(n) for n in ("127.0.0.0/8", "::1/128", "10.213.0.0/16")]
ALLOWED_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost"}


class NetguardViolation(ConnectionRefusedError):
    pass


def _record(what: str) -> None:
    log = os.environ.get("HOMELAB_NETGUARD_LOG")
    if log:
        try:
            with open(log, "a") as f:
                f.write(what + "\n")
        except OSError:
            pass


def _allowed_ip(host: str) -> bool:
    try:
        addr = ipaddress.ip_address(host.split("%")[0])
    except ValueError:
        return False
    return any(addr in net for net in ALLOWED_NETS)


def install() -> None:
    if getattr(socket, "_homelab_netguard", False):
        return
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex
    real_getaddrinfo = socket.getaddrinfo

    def check(sock, address):
        if sock.family in (socket.AF_INET, socket.AF_INET6) and isinstance(address, tuple):
            host = str(address[0])
            if not _allowed_ip(host):
                _record(f"connect {host}:{address[1]}")
                raise NetguardViolation(f"netguard: tests may not contact {host} (only loopback and 10.213.0.0/16)")

    def connect(self, address):
        check(self, address)
        return real_connect(self, address)

    def connect_ex(self, address):
        check(self, address)
        return real_connect_ex(self, address)

    def getaddrinfo(host, *args, **kwargs):
        if host is not None:
            name = host.decode() if isinstance(host, bytes) else str(host)
            if name not in ALLOWED_NAMES and not _allowed_ip(name):
                _record(f"resolve {name}")
                raise socket.gaierror(socket.EAI_NONAME, f"netguard: tests may not resolve {name}")
        return real_getaddrinfo(host, *args, **kwargs)

    socket.socket.connect = connect
    socket.socket.connect_ex = connect_ex
    socket.getaddrinfo = getaddrinfo
    socket._homelab_netguard = True
