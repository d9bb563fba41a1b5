"""The Vault VM's scheduled backup (vault_server role, files/vault-backup.py as rendered for the reference
lab), run here with this Python against a temporary data directory, a real OpenBao (raft snapshots through
`bao operator raft snapshot save`, the same CLI as `vault`) and a real S3 server on loopback (moto): the
set it writes is one `homelab` verifies (ops/vault_backup.load_manifest), the copy lands in the bucket,
retention holds locally and in the bucket, and a data directory that keeps changing is never archived."""

from __future__ import annotations

import json
import runpy
import stat
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from homelab.lab.load import load_lab  # noqa: E402
from homelab.ops.vault_backup import load_manifest  # noqa: E402
from homelab.render import render_all  # noqa: E402
from s3_server import ACCESS_KEY, SECRET_KEY, s3_server  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
SEED = ROOT / "examples" / "reference" / "homelab.yaml"

pytestmark = [pytest.mark.integration, pytest.mark.validators]  # a real OpenBao and S3 server


@pytest.fixture(scope="module")
def script(tmp_path_factory) -> Path:
    doc = load_lab(SEED)
    f = next(f for f in render_all(doc) if f.path.endswith("roles/vault_server/files/vault-backup.py"))
    path = tmp_path_factory.mktemp("script") / "vault-backup.py"
    path.write_text(f.content)
    return path


@pytest.fixture(scope="module")
def s3():
    with s3_server() as server:
        server.client().create_bucket(Bucket="vault-backups")
        yield server


def _config(tmp: Path, s3, **extra) -> Path:
    creds = tmp / "offsite.json"
    creds.write_text(json.dumps({"access_key": ACCESS_KEY, "secret_key": SECRET_KEY}))
    cfg = {"storage": "file", "data_dir": str(tmp / "data"), "backup_dir": str(tmp / "backups"), "retention": 2,
           "vault_addr": "http://127.0.0.1:9", "token_file": str(tmp / "token"),
           "offsite": {"endpoint": s3.url, "bucket": "vault-backups", "prefix": "vault", "region": "us-east-1",
                       "verify": True},
           "offsite_credentials_file": str(creds), **extra}
    path = tmp / "backup.json"
    path.write_text(json.dumps(cfg))
    return path


def _run(script: Path, config: Path) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, str(script), "--config", str(config)], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def test_file_storage_backup_is_archived_checked_and_copied(tmp_path, script, s3):
    data = tmp_path / "data"
    (data / "core").mkdir(parents=True)
    (data / "core" / "_keyring").write_bytes(b"\x00keyring\xff")
    (data / "logical" / "abc").mkdir(parents=True)
    (data / "logical" / "abc" / "_secret").write_bytes(b"ciphertext-1")
    cfg = _config(tmp_path, s3)
    _run(script, cfg)
    backups = tmp_path / "backups"
    manifests = sorted(backups.glob("*.manifest.json"))
    assert len(manifests) == 1
    manifest, payload = load_manifest(manifests[0])  # homelab verifies size and sha256
    assert manifest["kind"] == "data-dir-tar" and payload.suffixes[-2:] == [".tar", ".gz"]
    for f in backups.iterdir():
        assert stat.S_IMODE(f.stat().st_mode) == 0o600, f
    with tarfile.open(payload) as tar:
        assert tar.extractfile("data/core/_keyring").read() == b"\x00keyring\xff"
        assert tar.extractfile("data/logical/abc/_secret").read() == b"ciphertext-1"
    keys = s3.keys("vault-backups", "vault/")
    assert keys == sorted(f"vault/{f.name}" for f in backups.iterdir())
    body = s3.client().get_object(Bucket="vault-backups", Key=f"vault/{payload.name}")["Body"].read()
    assert body == payload.read_bytes()


def test_retention_holds_on_the_vm_and_in_the_bucket(tmp_path, script, s3):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "f").write_text("x")
    cfg = _config(tmp_path, s3, offsite={"endpoint": s3.url, "bucket": "vault-backups", "prefix": "ret",
                                         "region": "us-east-1", "verify": True})
    names = []
    for _ in range(3):
        _run(script, cfg)
        names.append(sorted(p.name for p in (tmp_path / "backups").glob("*.manifest.json"))[-1])
    left = sorted(p.name for p in (tmp_path / "backups").glob("*.manifest.json"))
    assert left == names[1:]  # the oldest set is gone, the newest two stay
    in_bucket = [k for k in s3.keys("vault-backups", "ret/") if k.endswith(".manifest.json")]
    assert in_bucket == [f"ret/{n}" for n in names[1:]]
    assert len(s3.keys("vault-backups", "ret/")) == 6  # payload, .sha256, manifest per set


def test_a_changing_data_directory_is_never_archived(tmp_path, script):
    mod = runpy.run_path(str(script))
    data = tmp_path / "data"
    data.mkdir()
    (data / "f").write_text("0")
    g = mod["stable_copy"].__globals__
    real = g["shutil"]

    class Writing:  # Vault writes to its data directory while every copy is taken
        rmtree, writes = staticmethod(real.rmtree), 0

        @staticmethod
        def copytree(src, dst, symlinks=False):
            real.copytree(src, dst, symlinks=symlinks)
            Writing.writes += 1
            (data / "f").write_text(str(Writing.writes))

    g["shutil"] = Writing
    try:
        with pytest.raises(SystemExit, match="kept changing"):
            mod["stable_copy"](str(data), str(tmp_path / "work"), tries=3, pause=0)
    finally:
        g["shutil"] = real
    assert Writing.writes == 6  # two copies per try, compared, three tries
    (tmp_path / "work").mkdir(exist_ok=True)
    copy = mod["stable_copy"](str(data), str(tmp_path / "work"), tries=1, pause=0)  # quiet now: one try is enough
    assert (Path(copy) / "f").read_text() == "6"


def test_raft_storage_snapshot_with_the_vault_cli(tmp_path, script, s3, openbao, bao_binary):
    (tmp_path / "token").write_text(openbao.root_token)
    cfg = _config(tmp_path, s3, storage="raft", vault_addr=openbao.url, vault_bin=bao_binary,
                  offsite={"endpoint": s3.url, "bucket": "vault-backups", "prefix": "raft", "region": "us-east-1",
                           "verify": True})
    _run(script, cfg)
    manifest, payload = load_manifest(next((tmp_path / "backups").glob("*.manifest.json")))
    assert manifest["kind"] == "raft-snapshot" and payload.suffix == ".snap"
    with tarfile.open(payload) as tar:  # a raft snapshot is a gzipped tar with meta.json and state.bin
        assert {"meta.json", "state.bin"} <= set(tar.getnames())
    assert len(s3.keys("vault-backups", "raft/")) == 3


def test_without_the_bucket_keys_the_backup_is_kept_and_the_failure_says_why(tmp_path, script, s3):
    (tmp_path / "data").mkdir()
    cfg = _config(tmp_path, s3)
    (tmp_path / "offsite.json").unlink()
    proc = subprocess.run([sys.executable, str(script), "--config", str(cfg)], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert "the backup is kept locally" in proc.stderr and "run the vault playbook" in proc.stderr
    assert len(list((tmp_path / "backups").glob("*.manifest.json"))) == 1


def test_raft_without_a_token_fails_clearly(tmp_path, script, s3):
    cfg = _config(tmp_path, s3, storage="raft")
    proc = subprocess.run([sys.executable, str(script), "--config", str(cfg)], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode != 0 and "need a token in" in proc.stderr and "Traceback" not in proc.stderr


def _lab_for(tmp: Path, s3, prefix: str) -> Path:
    text = SEED.read_text()
    old = "endpoint: https://truenas.lab.thewortmans.org:9000\n      bucket: vault-backups\n      prefix: vault"
    assert old in text
    lab = tmp / "homelab.yaml"
    lab.write_text(text.replace(old, f"endpoint: {s3.url}\n      bucket: vault-backups\n      prefix: {prefix}"))
    return lab


def _drill(tmp: Path, lab: Path, keys: Path, homelab_tools):
    env = homelab_tools.clean_env(HOMELAB_STATE_DIR=str(tmp / ".homelab"), AWS_ACCESS_KEY_ID=ACCESS_KEY,
                                  AWS_SECRET_ACCESS_KEY=SECRET_KEY)
    proc = homelab_tools.run_homelab(["drill", "--lab", str(lab), "--vault-from", "s3", "--keys-file", str(keys),
                                      "--out", str(tmp / "drills"), "--format", "json"], env=env, cwd=tmp)
    return proc, json.loads(proc.stdout) if proc.stdout.strip().startswith("{") else None


def test_the_drill_restores_a_snapshot_the_vm_made_from_the_bucket(tmp_path, s3, openbao, homelab_tools):
    """The VM's raft snapshots carry no KV inventory (no listing token on the VM); the drill restores the newest
    one from the bucket into a scratch OpenBao and unseals it with the backed-up keys."""
    assert len(s3.keys("vault-backups", "raft/")) == 3  # from test_raft_storage_snapshot_with_the_vault_cli
    proc, data = _drill(tmp_path, _lab_for(tmp_path, s3, "raft"), openbao.keys_file, homelab_tools)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    vault = data["kinds"][0]
    assert vault["status"] == "ok" and vault["rto_seconds"] > 0 and vault["rpo_seconds"] < 3600
    assert "made on the Vault VM without a KV inventory, so not compared" in vault["detail"]
    assert vault["facts"]["compared"] is False and vault["facts"]["kv_paths"] >= 0


def test_the_drill_checks_a_file_storage_archive_but_cannot_restore_it(tmp_path, s3, openbao, homelab_tools):
    proc, data = _drill(tmp_path, _lab_for(tmp_path, s3, "vault"), openbao.keys_file, homelab_tools)
    assert proc.returncode == 0, proc.stdout + proc.stderr  # not checked is not a miss
    vault = data["kinds"][0]
    assert vault["status"] == "not checked" and "checksum verified" in vault["detail"]
    assert "no file backend" in vault["detail"] and vault["rpo_seconds"] is not None
