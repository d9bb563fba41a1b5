"""The command line as a new user meets it (issue 11, item 22 and the exit codes of item 19): `plan` before
`vault up` says what to do, `vault status` of a Vault that is not running is an answer (exit 1), not an
engine failure (3)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def clean_env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("VAULT_", "HOMELAB_", "BAO_")) or k.startswith("HOMELAB_NETGUARD")}
    env.update(extra)
    return env


def homelab(*args, cwd, env=None, input=None):
    out = subprocess.run([sys.executable, "-m", "homelab", *args], cwd=cwd, capture_output=True, text=True,
                         timeout=120, env=env or clean_env(), input=input)
    assert "Traceback" not in out.stdout + out.stderr
    return out


@pytest.fixture(scope="module")
def starter(tmp_path_factory):
    """A fresh `homelab init` directory: the starter lab, embedded Vault, nothing started."""
    d = tmp_path_factory.mktemp("starter")
    assert homelab("init", ".", cwd=d).returncode == 0
    return d


def test_plan_before_vault_up_says_start_it(starter):
    out = homelab("plan", cwd=starter)
    assert out.returncode == 0, out.stderr
    first = out.stdout.splitlines()[0]
    assert first.startswith("vault (vault): not configured: the embedded Vault is not running: start it with "
                            "`homelab vault up`, then `homelab vault init` and `homelab vault unseal`"), first
    plan = json.loads(homelab("plan", "--format", "json", cwd=starter).stdout)
    vault = next(layer for layer in plan["layers"] if layer["name"] == "vault")
    assert "homelab vault up" in vault["reason"]


def test_vault_status_of_a_stopped_embedded_vault_is_exit_1(starter):
    out = homelab("vault", "status", cwd=starter)
    assert out.returncode == 1, out.stderr
    assert out.stdout == ("address:     embedded\n"
                          "running:     no (the embedded Vault is not running)\n"
                          "  hint: start it with `homelab vault up`\n")
    js = homelab("vault", "status", "--format", "json", cwd=starter)
    assert js.returncode == 1
    assert json.loads(js.stdout) == {"address": "embedded", "url": None, "running": False,
                                     "reason": "the embedded Vault is not running",
                                     "hint": "start it with `homelab vault up`"}
