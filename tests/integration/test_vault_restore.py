"""`homelab vault restore` against a real OpenBao: onto an EMPTY server (data directory removed), into a
Vault initialised anew with another key configuration, and in place (with a summary of what it rolls
back). Confirmation: `-y`, else a terminal; never silently.

Why an empty server needs care (hashicorp/vault#24975, canonical/vault-k8s-operator#794, reproduced here
with OpenBao 2.7.2): a raft snapshot can only be uploaded to an initialised, unsealed Vault, and after a
force restore the node keeps the seal configuration (key shares/threshold) it was initialised with in
memory while its keyring is the snapshot's. A temporary 1-of-1 init therefore makes Vault reject the
backed-up Vault's (3-of-5) keys — "Vault rejected an unseal key" — until it is restarted.

The tests of one module share one embedded server, in file order.
"""

from __future__ import annotations

import json
import shutil
import stat
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from homelab.engines.vault import VaultApi

pytestmark = [pytest.mark.integration, pytest.mark.validators]  # a real OpenBao server

REFERENCE_LAB = Path(__file__).resolve().parents[2] / "examples" / "reference" / "homelab.yaml"


@dataclass
class Box:
    state: Path
    tools: object
    outputs: list[str] = field(default_factory=list)
    kv: dict = field(default_factory=dict)  # path -> {version: data}, as backed up
    manifest: Path | None = None
    keys: Path | None = None  # the backed-up Vault's keys file, kept outside the state directory

    @property
    def cwd(self) -> Path:
        return self.state.parent

    @property
    def default_keys(self) -> Path:
        return self.state / "vault" / "init-keys.json"

    def run(self, *args: str, input: str | None = None):
        env = self.tools.clean_env(HOMELAB_STATE_DIR=str(self.state), HOMELAB_VAULT_ADDR="embedded")
        proc = self.tools.run_homelab([*args, "--lab", str(REFERENCE_LAB)], env=env, cwd=self.cwd, input=input)
        self.outputs += [proc.stdout, proc.stderr]
        return proc

    def cli(self, *args: str, expect: int = 0, input: str | None = None) -> str:
        proc = self.run(*args, input=input)
        if proc.returncode != expect:
            pytest.fail(f"homelab {' '.join(args)}: exit {proc.returncode}, expected {expect}\n"
                        f"{proc.stdout}{proc.stderr}")
        return proc.stdout

    def url(self) -> str:
        return (self.state / "vault" / "address").read_text().strip()

    def root(self, keys: Path | None = None) -> VaultApi:
        return VaultApi(self.url(), json.loads((keys or self.keys).read_text())["root_token"])

    def wipe(self) -> None:
        """Stop the server, delete its data directory (and the default keys file), start it again: empty."""
        assert "stopped" in self.cli("vault", "down")
        shutil.rmtree(self.state / "vault" / "data")
        self.default_keys.unlink(missing_ok=True)
        self.cli("vault", "up")
        assert VaultApi(self.url()).seal_status()["initialized"] is False


def all_kv(api: VaultApi) -> dict[str, dict]:
    out: dict[str, dict] = {}
    for path in api.kv_walk(""):
        meta = api.kv_metadata(path)
        out[path] = {int(v): api.kv_read(path, int(v))[0] for v in meta["versions"]}
    return out


@pytest.fixture(scope="module")
def box(tmp_path_factory, bao_binary, homelab_tools):
    from homelab.engines.vault import server as vault_server

    state = tmp_path_factory.mktemp("restore") / ".homelab"
    b = Box(state, homelab_tools)
    b.cli("vault", "up")
    b.cli("vault", "init")  # the lab's 3-of-5
    b.cli("vault", "unseal")
    b.cli("vault", "configure")
    b.keys = b.cwd / "backed-up-keys.json"
    shutil.copy2(b.default_keys, b.keys)
    b.cli("secrets", "put", "apps/plex", "claim_token", input="claim-one\n")
    b.cli("secrets", "put", "apps/plex", "claim_token", input="claim-two\n")  # two versions
    b.kv = all_kv(b.root())
    result = json.loads(b.cli("vault", "backup", "--format", "json"))
    b.manifest = Path(result["manifest"])
    yield b
    vault_server.down(state)


def test_backup_records_the_seal_configuration(box):
    manifest = json.loads(box.manifest.read_text())
    assert (manifest["shares"], manifest["threshold"]) == (5, 3)


def test_restore_onto_an_empty_server_asks_first(box):
    box.wipe()
    proc = box.run("vault", "restore", str(box.manifest), "--keys-file", str(box.keys))  # no -y, no terminal
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "confirmation" in proc.stderr and "-y" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert VaultApi(box.url()).seal_status()["initialized"] is False  # nothing was done


def test_restore_onto_an_empty_server(box):
    assert VaultApi(box.url()).seal_status()["initialized"] is False
    proc = box.run("vault", "restore", str(box.manifest), "--keys-file", str(box.keys), "-y")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    st = VaultApi(box.url()).seal_status()
    assert st["initialized"] is True and st["sealed"] is False
    assert (st["n"], st["t"]) == (5, 3)  # the backed-up Vault's seal configuration
    assert all_kv(box.root()) == box.kv  # every version of every secret
    # progress on stderr, a summary on stdout
    for step in ("checksum", "temporary", "upload", "unseal", "verif"):
        assert step in proc.stderr.lower(), (step, proc.stderr)
    assert f"restored {len(box.kv)} KV path(s)" in proc.stdout
    assert "empty" in proc.stdout
    # the backed-up keys file now sits where every other command looks for it
    assert json.loads(box.default_keys.read_text()) == json.loads(box.keys.read_text())
    assert stat.S_IMODE(box.default_keys.stat().st_mode) == 0o600
    st = json.loads(box.cli("vault", "status", "--format", "json"))
    assert st["sealed"] is False and "secret/" in st["mounts"]
    assert json.loads(box.cli("vault", "configure", "--format", "json"))["changes"] == 0
    # and the Vault comes back after a restart with the same keys
    box.cli("vault", "down")
    box.cli("vault", "up")
    box.cli("vault", "unseal")
    assert box.root().kv_read("apps/plex")[0] == {"claim_token": "claim-two"}


def test_restore_in_place_says_what_it_rolls_back(box):
    box.cli("secrets", "put", "apps/plex", "claim_token", input="claim-three\n")  # version 3, after the backup
    box.cli("secrets", "put", "apps/later", "token", input="made-after-the-backup\n")
    box.cli("vault", "rotate", "apps/grafana")
    proc = box.run("vault", "restore", str(box.manifest), "-y")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    assert "apps/plex: version 3 -> 2" in out
    assert "apps/grafana: version 2 -> 1" in out
    assert "apps/later: created after the backup, gone" in out
    assert "rolled back 2 KV path(s), removed 1" in out
    api = box.root()
    assert api.kv_read("apps/later") is None
    assert api.kv_read("apps/plex")[0] == {"claim_token": "claim-two"}
    js = json.loads(box.cli("vault", "restore", str(box.manifest), "-y", "--format", "json"))
    assert js["rolled_back"] == [] and js["removed"] == [] and js["verified_paths"] == len(box.kv)


def test_restore_into_a_vault_initialised_anew_with_another_key_configuration(box):
    """The documented recovery (init anew, restore with force) with a 1-of-1 init: the embedded server is
    restarted after the restore so that it reads the snapshot's seal configuration."""
    box.wipe()
    new_keys = box.cwd / "one-of-one.json"
    box.cli("vault", "init", "--keys-file", str(new_keys), "--shares", "1", "--threshold", "1")
    box.cli("vault", "unseal", "--keys-file", str(new_keys))
    out = box.cli("vault", "restore", str(box.manifest), "--keys-file", str(box.keys),
                  "--current-keys-file", str(new_keys), "-y")
    assert "restarted" in out
    st = VaultApi(box.url()).seal_status()
    assert st["sealed"] is False and (st["n"], st["t"]) == (5, 3)
    assert all_kv(box.root()) == box.kv


def test_no_secret_in_any_output(box):
    keys = json.loads(box.keys.read_text())
    secrets = set(keys["keys"] + keys["keys_base64"] + [keys["root_token"]])
    for versions in box.kv.values():
        for data in versions.values():
            secrets.update(str(v) for v in data.values() if len(str(v)) >= 8)
    for text in box.outputs:
        for s in secrets:
            assert s not in text
