"""`vault backup --data-dir` (the file-storage path: a tar of the data directory, as the seed does by
hand) refuses while Vault runs unsealed, and works on a stopped server; the tar restores a working Vault."""

from __future__ import annotations

import hashlib
import json
import tarfile

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.validators]  # a real OpenBao server


def test_data_dir_tar_backup_is_consistent_and_restorable(openbao_factory, tmp_path):
    from homelab.engines.vault import server as vault_server

    server = openbao_factory("datadir")
    server.api().enable_kv2("secret")
    server.api().wait_active()
    server.api().kv_write("apps/x", {"v": "before-backup"})
    data_dir = server.state_dir / "vault" / "data"
    out_dir = tmp_path / "backups"

    proc = server.cli("vault", "backup", "--data-dir", str(data_dir), "--dir", str(out_dir))
    assert proc.returncode == 3 and "running unsealed" in proc.stderr and "seal it first" in proc.stderr
    assert not out_dir.exists() or not list(out_dir.iterdir())

    vault_server.down(server.state_dir)
    proc = server.cli("vault", "backup", "--data-dir", str(data_dir), "--dir", str(out_dir), "--format", "json")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    archive = tmp_path / "backups" / result["file"].rsplit("/", 1)[1]
    manifest = json.loads((archive.parent / archive.name.replace(".tar.gz", ".manifest.json")).read_text())
    assert manifest["kind"] == "data-dir-tar" and manifest["sha256"] == hashlib.sha256(archive.read_bytes()).hexdigest()

    # restore by hand (as documented): wipe the data directory, extract the tar, start the same server
    import shutil

    shutil.rmtree(data_dir)
    new_state = server.state_dir
    with tarfile.open(archive) as tar:
        tar.extractall(new_state / "vault", filter="data")
    vault_server.up(new_state)
    try:
        from homelab.engines.vault import VaultApi

        api = VaultApi(vault_server.running_address(new_state), server.root_token)
        assert api.seal_status()["initialized"] is True
        for key in server.keys[:3]:
            api.submit_unseal_key(key)
        api.wait_active()
        assert api.kv_read("apps/x")[0] == {"v": "before-backup"}
    finally:
        vault_server.down(new_state)
