"""Issue 14's done-check: `homelab backup vault` -> wipe -> `homelab restore vault --from s3` on a real embedded
OpenBao and a real S3 server on loopback (moto) gives back every KV path, every version, byte for byte
(compared here by reading every version through the API, not through homelab's own verification).

The lab is the reference lab with the off-site endpoint pointed at the loopback S3 server (the reference's
TrueNAS is never contacted). The tests of this module share one server, in file order.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import shutil
import stat
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from homelab.engines.vault import VaultApi  # noqa: E402
from s3_server import ACCESS_KEY, SECRET_KEY, s3_server  # noqa: E402

pytestmark = [pytest.mark.integration, pytest.mark.validators]  # a real OpenBao and S3 server

REFERENCE_LAB = Path(__file__).resolve().parents[2] / "examples" / "reference" / "homelab.yaml"
S3_ENV = {"AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY}
VALUES = {  # awkward values: unicode, newlines, JSON-looking text, long
    "apps/plex": [{"claim_token": "claim-één"}, {"claim_token": "claim-two\nwith a newline"}],
    "apps/paperless": [{"secret_key": '{"looks": "like json"}', "admin_password": "p" * 300}],
    "infra/proxmox": [{"api_token_id": "terraform@pve!homelab", "api_token_secret": "0b1d-ü-\t-x"}],
}


@dataclass
class Box:
    state: Path
    lab: Path
    tools: object
    s3: object
    outputs: list[str] = field(default_factory=list)
    kv: dict = field(default_factory=dict)
    keys: Path | None = None

    @property
    def cwd(self) -> Path:
        return self.state.parent

    def run(self, *args: str, input: str | None = None, env: dict | None = None):
        e = self.tools.clean_env(HOMELAB_STATE_DIR=str(self.state), HOMELAB_VAULT_ADDR="embedded", **(env or {}))
        proc = self.tools.run_homelab([*args, "--lab", str(self.lab)], env=e, cwd=self.cwd, input=input)
        self.outputs += [proc.stdout, proc.stderr]
        return proc

    def cli(self, *args: str, expect: int = 0, input: str | None = None, env: dict | None = None) -> str:
        proc = self.run(*args, input=input, env=env)
        if proc.returncode != expect:
            pytest.fail(f"homelab {' '.join(args)}: exit {proc.returncode}, expected {expect}\n"
                        f"{proc.stdout}{proc.stderr}")
        return proc.stdout

    def url(self) -> str:
        return (self.state / "vault" / "address").read_text().strip()

    def root(self) -> VaultApi:
        return VaultApi(self.url(), json.loads(self.keys.read_text())["root_token"])

    def wipe(self) -> None:
        self.cli("vault", "down")
        shutil.rmtree(self.state / "vault" / "data")
        (self.state / "vault" / "init-keys.json").unlink(missing_ok=True)
        shutil.rmtree(self.state / "backups" / "vault", ignore_errors=True)  # the local copies are gone too
        self.cli("vault", "up")
        assert VaultApi(self.url()).seal_status()["initialized"] is False


def every_version(api: VaultApi) -> dict:
    """path -> {version: data or the state of a version with no data}: read through the API."""
    out: dict = {}
    for path in api.kv_walk(""):
        meta = api.kv_metadata(path)
        versions = {}
        for v, info in meta["versions"].items():
            if info.get("destroyed") or info.get("deletion_time"):
                versions[int(v)] = ("deleted", bool(info.get("destroyed")))
            else:
                versions[int(v)] = api.kv_read(path, int(v))[0]
        out[path] = versions
    return out


@pytest.fixture(scope="module")
def box(tmp_path_factory, bao_binary, homelab_tools):
    from homelab.engines.vault import server as vault_server

    with s3_server() as s3:
        s3.client().create_bucket(Bucket="vault-backups")
        root = tmp_path_factory.mktemp("roundtrip")
        lab = root / "homelab.yaml"
        text = REFERENCE_LAB.read_text()
        old = "endpoint: https://truenas.lab.thewortmans.org:9000\n      bucket: vault-backups"
        assert old in text
        lab.write_text(text.replace(old, f"endpoint: {s3.url}\n      bucket: vault-backups"))
        b = Box(root / ".homelab", lab, homelab_tools, s3)
        b.cli("vault", "up")
        b.cli("vault", "init")
        b.cli("vault", "unseal")
        b.cli("vault", "configure")
        b.keys = root / "backed-up-keys.json"
        shutil.copy2(b.state / "vault" / "init-keys.json", b.keys)
        api = b.root()
        for path, versions in VALUES.items():
            for data in versions:
                api.kv_write(path, data)
        api.kv_write("apps/pihole", {"admin_password": "first"})
        api.kv_write("apps/pihole", {"admin_password": "second"})
        api.kv_delete_latest("apps/pihole")  # a soft-deleted newest version must stay deleted
        b.cli("secrets", "put", "backup/vault", "access_key", "secret_key", input=f"{ACCESS_KEY}\n{SECRET_KEY}\n")
        b.kv = every_version(b.root())
        yield b
        vault_server.down(b.state)


def test_backup_previews_asks_and_does_nothing_without_consent(box):
    proc = box.run("backup", "vault")  # no -y, no terminal
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "will back up  vault: raft snapshot of the embedded OpenBao" in proc.stderr
    assert f"s3://vault-backups/vault/ at {box.s3.url}" in proc.stderr
    assert "-y" in proc.stderr and "Traceback" not in proc.stderr
    assert box.s3.keys("vault-backups") == []
    assert not (box.state / "backups" / "vault").exists()


def test_backup_writes_a_manifest_of_hashes_and_copies_off_site(box):
    out = json.loads(box.cli("backup", "vault", "-y", "--format", "json"))
    (entry,) = out["backups"]
    manifest_path = Path(entry["manifest"])
    manifest = json.loads(manifest_path.read_text())
    assert entry["sha256"] == manifest["sha256"] and entry["size"] == manifest["size"] > 0
    assert manifest["kv"] == {p: max(v) for p, v in box.kv.items()}  # every path with its current version
    assert {p: sorted(int(v) for v in h) for p, h in manifest["kv_hashes"].items()} == \
        {p: sorted(v) for p, v in box.kv.items()}  # and a hash for every version
    newest = str(max(box.kv["apps/pihole"]))
    assert manifest["kv_hashes"]["apps/pihole"][newest] == "deleted"
    assert len(manifest["kv_hashes"]["apps/plex"]) == 2
    # keyed with the backed-up Vault's unseal keys (no salt in the manifest): recomputed here from the keys file
    assert manifest["kv_hash"] == {"algorithm": "hmac-sha256", "key": "unseal-keys",
                                   "over": "canonical JSON of each version's data"}
    shares = sorted(json.loads(box.keys.read_text())["keys"])
    key = hashlib.sha256(("homelab kv hash v1\0" + "\0".join(shares)).encode()).digest()
    for version, data in enumerate(VALUES["apps/plex"], start=1):
        canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
        assert manifest["kv_hashes"]["apps/plex"][str(version)] == hmac.new(key, canonical, hashlib.sha256).hexdigest()
    text = manifest_path.read_text()
    for versions in VALUES.values():  # no value in the manifest, only hashes
        for data in versions:
            for value in data.values():
                assert json.dumps(value)[1:-1] not in text and value not in text
    name = manifest_path.name[: -len(".manifest.json")]
    assert box.s3.keys("vault-backups", "vault/") == sorted(f"vault/{name}{s}" for s in
                                                           (".snap", ".sha256", ".manifest.json"))
    run = Path(out["manifest"])
    assert run.parent == box.state / "backups" / "runs" and stat.S_IMODE(run.stat().st_mode) == 0o600
    assert json.loads(run.read_text())["backups"][0]["sha256"] == manifest["sha256"]


def test_wipe_and_restore_from_s3_is_byte_for_byte_equal(box):
    box.wipe()
    proc = box.run("restore", "vault", "--from", "s3", "--keys-file", str(box.keys), "-y", env=S3_ENV)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "downloading vault-" in proc.stderr and "is empty" in proc.stderr
    assert "compared by hash with the backup: equal" in proc.stdout
    assert every_version(box.root()) == box.kv  # every path, every version, every byte
    downloaded = sorted((box.state / "backups" / "vault").iterdir())
    assert len(downloaded) == 3 and all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in downloaded)


def test_the_hash_check_catches_data_that_differs(box):
    """The hashes are compared for real: a manifest whose hash for one version differs fails the restore,
    naming the path and version, never a value."""
    (manifest,) = (box.state / "backups" / "vault").glob("*.manifest.json")
    data = json.loads(manifest.read_text())
    data["kv_hashes"]["apps/plex"]["1"] = "0" * 64
    manifest.write_text(json.dumps(data))
    proc = box.run("restore", "vault", "--from", str(manifest), "--keys-file", str(box.keys), "-y")
    assert proc.returncode != 0, proc.stdout + proc.stderr
    assert "differs from the backup in 1 version(s), e.g. apps/plex v1" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_tampered_copy_in_the_bucket_is_refused_before_anything_is_sent(box):
    shutil.rmtree(box.state / "backups" / "vault")
    s3 = box.s3.client()
    (key,) = [k for k in box.s3.keys("vault-backups", "vault/") if k.endswith(".snap")]
    s3.put_object(Bucket="vault-backups", Key=key, Body=b"not the snapshot")
    before = every_version(box.root())
    proc = box.run("restore", "vault", "--from", "s3", "--keys-file", str(box.keys), "-y", env=S3_ENV)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "does not match its manifest" in proc.stderr and "Traceback" not in proc.stderr
    assert every_version(box.root()) == before


def test_an_unreachable_bucket_keeps_the_local_backup_and_missing_keys_stop_before_it(box):
    local = box.state / "backups" / "vault"
    before = set(local.glob("*.manifest.json")) if local.exists() else set()
    text = box.lab.read_text()
    box.lab.write_text(text.replace("bucket: vault-backups", "bucket: no-such-bucket"))
    try:
        proc = box.run("backup", "vault", "-y")
    finally:
        box.lab.write_text(text)
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "NoSuchBucket" in proc.stderr and "the backup is kept locally" in proc.stderr
    made = set(local.glob("*.manifest.json")) - before
    assert len(made) == 1 and next(iter(made)).name in proc.stderr
    # without the bucket's keys in Vault (and none in the environment) nothing is taken at all
    api = box.root()
    api.client.secrets.kv.v2.delete_metadata_and_all_versions("backup/vault", mount_point="secret")
    try:
        proc = box.run("backup", "vault", "-y")
        assert proc.returncode == 2, proc.stdout + proc.stderr
        assert "the off-site bucket's keys are not in Vault at backup/vault" in proc.stderr
        assert set(local.glob("*.manifest.json")) - before == made
    finally:
        api.kv_write("backup/vault", {"access_key": ACCESS_KEY, "secret_key": SECRET_KEY})


def test_no_secret_in_any_output(box):
    keys = json.loads(box.keys.read_text())
    secrets = set(keys["keys"] + keys["keys_base64"] + [keys["root_token"], SECRET_KEY])
    for versions in VALUES.values():
        for data in versions:
            secrets.update(v for v in data.values() if len(v) >= 8)
    for text in box.outputs:
        for s in secrets:
            assert s not in text
