"""The value hashes of a Vault backup manifest (ops/vault_backup.py): keyed with the backed-up Vault's unseal
keys when the keys file is at hand, else with a random salt kept in the manifest; a restore verifies either
way (ops/vault_restore.verify_hashes), and a changed value, a changed deletion state or another key fails."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from homelab.engines.vault.target import VaultTarget
from homelab.ops.vault_backup import hash_key, key_from_unseal_keys, kv_hashes
from homelab.ops.vault_restore import RestoreVerificationError, verify_hashes


class Versions:
    """What kv_hashes reads of a KV v2 mount: metadata (versions with deletion_time/destroyed) and data."""

    def __init__(self, data: dict[str, list[dict | None]]):
        self.data = data

    def kv_metadata(self, path):
        return {"versions": {str(i): {"deletion_time": "" if d is not None else "2026-01-01T00:00:00Z",
                                      "destroyed": False} for i, d in enumerate(self.data[path], 1)}}

    def kv_read(self, path, version):
        d = self.data[path][version - 1]
        return (d, version) if d is not None else None


KEYS = {"keys": ["b" * 64, "a" * 64, "c" * 64], "root_token": "s.root"}


def _target(tmp_path: Path, keys: dict | None) -> VaultTarget:
    keys_file = tmp_path / "init-keys.json"
    if keys is not None:
        keys_file.write_text(json.dumps(keys))
        keys_file.chmod(0o600)
    return VaultTarget("http://127.0.0.1:1", True, tmp_path, keys_file, True)


@pytest.mark.parametrize("keys", [KEYS, None])
def test_hashes_verify_and_catch_a_change(tmp_path, keys):
    api = Versions({"apps/a": [{"p": "one"}, {"p": "two"}, None], "apps/b": [{"x": "ü", "y": "1"}]})
    key, described = hash_key(_target(tmp_path, keys))
    assert described["key"] == ("unseal-keys" if keys else "salt") and ("salt" in described) is (keys is None)
    manifest = {"kv_hash": described, "kv_hashes": kv_hashes(api, ["apps/a", "apps/b"], key)}
    assert manifest["kv_hashes"]["apps/a"]["3"] == "deleted"
    assert "one" not in json.dumps(manifest) and "two" not in json.dumps(manifest)
    assert verify_hashes(api, manifest, keys) == 4
    api.data["apps/b"][0] = {"x": "ü", "y": "2"}
    with pytest.raises(RestoreVerificationError, match=r"1 version\(s\), e.g. apps/b v1"):
        verify_hashes(api, manifest, keys)
    api.data["apps/b"][0] = {"y": "1", "x": "ü"}  # same data, other key order: equal
    assert verify_hashes(api, manifest, keys) == 4
    api.data["apps/a"][2] = {"p": "undeleted"}
    with pytest.raises(RestoreVerificationError, match="apps/a v3"):
        verify_hashes(api, manifest, keys)


def test_the_key_depends_on_every_unseal_key_not_their_order():
    assert key_from_unseal_keys(KEYS) == key_from_unseal_keys({"keys": list(reversed(KEYS["keys"]))})
    assert key_from_unseal_keys(KEYS) != key_from_unseal_keys({"keys": KEYS["keys"][:2]})
    assert key_from_unseal_keys({}) is None


def test_other_unseal_keys_do_not_verify(tmp_path):
    api = Versions({"apps/a": [{"p": "one"}]})
    key, described = hash_key(_target(tmp_path, KEYS))
    manifest = {"kv_hash": described, "kv_hashes": kv_hashes(api, ["apps/a"], key)}
    with pytest.raises(RestoreVerificationError):
        verify_hashes(api, manifest, {"keys": ["d" * 64]})
