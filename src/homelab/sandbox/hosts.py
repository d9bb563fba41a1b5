"""Start and stop sandbox hosts (see the package docstring for the layout)."""

from __future__ import annotations

import ipaddress
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from homelab.errors import HomelabError
from homelab.processes import pid_alive
from homelab.sandbox.rootfs import ensure_rootfs

PREFIX = "hlsb"
_NS_RE = re.compile(rf"^{PREFIX}(\d+)x(\d+)-")
_LINK_RE = re.compile(rf"^{PREFIX}(\d+)x(\d+)(@\S+)?$")


class SandboxError(HomelabError):
    exit_code = 3


def require_root() -> None:
    if os.geteuid() != 0:
        raise SandboxError("the sandbox needs root (network namespaces, mounts, chroot)",
                           "run as root, e.g. in CI or a disposable VM")
    for tool in ("ip", "unshare", "chroot", "ssh", "ssh-keygen"):
        if shutil.which(tool) is None:
            raise SandboxError(f"{tool} is not installed", "apt-get install iproute2 openssh-client util-linux")


def _run(args: list[str], check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(args, capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise SandboxError(f"`{' '.join(args)}` failed: {(proc.stderr or proc.stdout).strip()[:500]}")
    return proc


def _namespaces() -> list[str]:
    proc = _run(["ip", "netns", "list"], check=False)
    return [line.split()[0] for line in proc.stdout.splitlines() if line.strip()]


def _destroy_namespace(ns: str) -> None:
    pids = _run(["ip", "netns", "pids", ns], check=False).stdout.split()
    for pid in pids:
        try:
            os.kill(int(pid), signal.SIGKILL)
        except (ProcessLookupError, ValueError):
            pass
    for _ in range(50):
        if not _run(["ip", "netns", "pids", ns], check=False).stdout.split():
            break
        time.sleep(0.1)
    _run(["ip", "netns", "del", ns], check=False)


def _links() -> list[str]:
    proc = _run(["ip", "-o", "link", "show"], check=False)
    names = []
    for line in proc.stdout.splitlines():
        parts = line.split(":")
        if len(parts) > 1:
            names.append(parts[1].strip().split("@")[0])
    return names


def sweep_stale(log=None) -> list[str]:
    """Remove sandboxes whose owner process is dead (left behind by a killed run)."""
    removed = []
    for ns in _namespaces():
        match = _NS_RE.match(ns)
        if match and not pid_alive(int(match.group(1))):
            _destroy_namespace(ns)
            removed.append(ns)
    for link in _links():
        match = _LINK_RE.match(link)
        if match and not pid_alive(int(match.group(1))):
            _run(["ip", "link", "del", link], check=False)
            removed.append(link)
    if removed and log:
        log(f"removed stale sandbox pieces: {', '.join(sorted(removed))}")
    return removed


@dataclass
class SandboxHost:
    name: str
    ip: str
    namespace: str
    root_upper: Path
    process: subprocess.Popen | None = None
    key_file: Path | None = None

    def ssh_args(self, user: str = "root") -> list[str]:
        return ["ssh", "-i", str(self.key_file), "-o", "StrictHostKeyChecking=no",
                "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR", "-o", "BatchMode=yes",
                "-o", "ConnectTimeout=5", f"{user}@{self.ip}"]

    def run(self, command: str, user: str = "root", timeout: float = 60) -> subprocess.CompletedProcess:
        """Run a shell command on the host over SSH (for testinfra-style assertions)."""
        return subprocess.run(self.ssh_args(user) + [command], capture_output=True, text=True, timeout=timeout)

    def read_file(self, path: str) -> str | None:
        proc = self.run(f"cat {shlex.quote(path)}")
        return proc.stdout if proc.returncode == 0 else None


@dataclass
class Sandbox:
    """N isolated hosts. Use as a context manager, or call up()/down()."""

    host_names: list[str]
    workdir: Path | None = None
    cache_dir: Path | None = None
    index: int = 0
    subnet: str | None = None
    log: object = None
    hosts: dict[str, SandboxHost] = field(default_factory=dict)

    def __post_init__(self):
        self.owner = os.getpid()
        self.tag = f"{PREFIX}{self.owner}x{self.index}"
        self.subnet = self.subnet or f"10.213.{self.index}.0/24"
        net = ipaddress.IPv4Network(self.subnet)
        self.controller_ip = str(net.network_address + 1)
        self.prefixlen = net.prefixlen
        self._addresses = [str(net.network_address + 11 + i) for i in range(len(self.host_names))]
        self._own_workdir = self.workdir is None
        self.workdir = Path(self.workdir or tempfile.mkdtemp(prefix="homelab-sandbox-"))
        self.switch_ns = f"{self.tag}-sw"

    # -- lifecycle -------------------------------------------------------------------------------
    def __enter__(self) -> Sandbox:
        self.up()
        return self

    def __exit__(self, *exc) -> None:
        self.down()

    def _say(self, message: str) -> None:
        if callable(self.log):
            self.log(message)

    @property
    def key_file(self) -> Path:
        return self.workdir / "id_ed25519"

    def up(self, timeout: float = 60) -> Sandbox:
        require_root()
        sweep_stale(self._say)
        rootfs = ensure_rootfs(self.cache_dir, log=self._say)
        self.workdir.mkdir(parents=True, exist_ok=True)
        if not self.key_file.exists():
            _run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "homelab-sandbox", "-f", str(self.key_file)])
        pubkey = (self.workdir / "id_ed25519.pub").read_text()
        try:
            self._network()
            for name, ip in zip(self.host_names, self._addresses, strict=True):
                self.hosts[name] = self._start_host(name, ip, rootfs, pubkey)
            self._wait_ready(timeout)
        except BaseException:
            self.down()
            raise
        self._write_state()
        return self

    def down(self) -> None:
        for host in self.hosts.values():
            if host.process and host.process.poll() is None:
                try:
                    os.killpg(host.process.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                host.process.wait(timeout=10)
        for ns in _namespaces():
            if ns.startswith(self.tag + "-"):
                _destroy_namespace(ns)
        if self.tag in _links():
            _run(["ip", "link", "del", self.tag], check=False)
        for host in self.hosts.values():
            shutil.rmtree(host.root_upper.parent, ignore_errors=True)
        self.hosts.clear()
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)
        else:
            (self.workdir / "sandbox.json").unlink(missing_ok=True)

    # -- pieces ----------------------------------------------------------------------------------
    def _subnet_in_use(self) -> str | None:
        net = ipaddress.IPv4Network(self.subnet)
        for line in _run(["ip", "-o", "-4", "addr", "show"], check=False).stdout.splitlines():
            parts = line.split()
            if "inet" in parts:
                iface = ipaddress.IPv4Interface(parts[parts.index("inet") + 1])
                if iface.network.overlaps(net):
                    return parts[1]
        return None

    def _network(self) -> None:
        busy = self._subnet_in_use()
        if busy:
            raise SandboxError(f"the test subnet {self.subnet} is already in use on this machine (interface {busy})",
                               "another sandbox is running: stop it, or use another index/subnet")
        _run(["ip", "netns", "add", self.switch_ns])
        _run(["ip", "-n", self.switch_ns, "link", "add", "br0", "type", "bridge"])
        _run(["ip", "-n", self.switch_ns, "link", "set", "br0", "up"])
        _run(["ip", "-n", self.switch_ns, "link", "set", "lo", "up"])
        # The controller's leg: the only interface created outside our namespaces.
        _run(["ip", "link", "add", self.tag, "type", "veth", "peer", "name", "ctl", "netns", self.switch_ns])
        _run(["ip", "-n", self.switch_ns, "link", "set", "ctl", "master", "br0", "up"])
        _run(["ip", "addr", "add", f"{self.controller_ip}/{self.prefixlen}", "dev", self.tag])
        _run(["ip", "link", "set", self.tag, "up"])

    def _start_host(self, name: str, ip: str, rootfs: Path, pubkey: str) -> SandboxHost:
        ns = f"{self.tag}-{name}"[:200]
        peer = f"h{len(self.hosts)}"
        _run(["ip", "netns", "add", ns])
        _run(["ip", "-n", ns, "link", "set", "lo", "up"])
        _run(["ip", "link", "add", "eth0", "netns", ns, "type", "veth", "peer", "name", peer, "netns", self.switch_ns])
        _run(["ip", "-n", self.switch_ns, "link", "set", peer, "master", "br0", "up"])
        _run(["ip", "-n", ns, "addr", "add", f"{ip}/{self.prefixlen}", "dev", "eth0"])
        _run(["ip", "-n", ns, "link", "set", "eth0", "up"])
        _run(["ip", "-n", ns, "route", "add", "default", "via", self.controller_ip], check=False)

        base = self.workdir / "hosts" / name
        upper, work, merged = base / "upper", base / "work", base / "root"
        for d in (upper, work, merged):
            d.mkdir(parents=True, exist_ok=True)
        (upper / "root" / ".ssh").mkdir(parents=True, exist_ok=True, mode=0o700)
        (upper / "root" / ".ssh" / "authorized_keys").write_text(pubkey)
        os.chmod(upper / "root" / ".ssh" / "authorized_keys", 0o600)
        (upper / "etc").mkdir(exist_ok=True)
        (upper / "etc" / "hostname").write_text(name + "\n")
        (upper / "etc" / "hosts").write_text(f"127.0.0.1\tlocalhost\n127.0.1.1\t{name}\n")

        script = " && ".join([
            "set -e",
            f"mount -t overlay overlay -o lowerdir={rootfs},upperdir={upper},workdir={work} {merged}",
            f"mount -t proc proc {merged}/proc",
            f"mount --rbind /dev {merged}/dev",
            f"mount -t sysfs sysfs {merged}/sys",
            f"mount -t tmpfs -o mode=755 tmpfs {merged}/run",
            f"mkdir -p {merged}/run/sshd {merged}/run/lock",
            f"mount -t tmpfs tmpfs {merged}/tmp",
            f"hostname {shlex.quote(name)}",
            f"exec chroot {merged} /usr/sbin/sshd -D -e -o ListenAddress={ip} -o UseDNS=no",
        ])
        log = open(base / "sshd.log", "w")  # noqa: SIM115 - owned by the child process
        proc = subprocess.Popen(
            ["ip", "netns", "exec", ns, "unshare", "--uts", "--mount", "--pid", "--fork", "--kill-child",
             "sh", "-c", script],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
        )
        log.close()
        return SandboxHost(name=name, ip=ip, namespace=ns, root_upper=upper, process=proc, key_file=self.key_file)

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        pending = dict(self.hosts)
        while pending and time.monotonic() < deadline:
            for name, host in list(pending.items()):
                if host.process.poll() is not None:
                    log = (host.root_upper.parent / "sshd.log").read_text()[-800:]
                    raise SandboxError(f"test host {name} exited during start (rc {host.process.returncode}):\n{log}")
                try:
                    with socket.create_connection((host.ip, 22), timeout=0.5) as sock:
                        if sock.recv(4).startswith(b"SSH-"):
                            del pending[name]
                except OSError:
                    pass
            time.sleep(0.1)
        if pending:
            raise SandboxError(f"test hosts did not start sshd in {timeout:.0f}s: {', '.join(sorted(pending))}")

    def _write_state(self) -> None:
        state = {
            "owner": self.owner, "tag": self.tag, "subnet": self.subnet, "controller_ip": self.controller_ip,
            "key_file": str(self.key_file),
            "hosts": {n: {"ip": h.ip, "namespace": h.namespace, "pid": h.process.pid} for n, h in self.hosts.items()},
        }
        path = self.workdir / "sandbox.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=2, sort_keys=True) + "\n")
        os.replace(tmp, path)
