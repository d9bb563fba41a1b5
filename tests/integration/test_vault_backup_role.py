"""The vault_server role's backup tasks (tasks/backup.yml) run by the real ansible-playbook on this machine
(connection local, host paths in a temporary directory), reading the off-site bucket's keys from a real
OpenBao with the community.hashi_vault lookup: the settings file, the 0600 keys file, the script, the timer
(checked with `systemd-analyze verify`); a second run changes nothing; and the script the role installed,
with the settings and keys the role wrote, backs up and copies the set to a real S3 server (moto).

The `-e` below only move the role's host paths into the temporary directory, run it as the current user
and point the bucket at the loopback S3 server; everything else is the reference lab's rendering.
"""

from __future__ import annotations

import getpass
import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from homelab.lab.load import load_lab  # noqa: E402
from homelab.render import render_all  # noqa: E402
from s3_server import ACCESS_KEY, SECRET_KEY, s3_server  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
SEED = ROOT / "examples" / "reference" / "homelab.yaml"
BIN = Path(sys.executable).parent
COLLECTIONS = ROOT / ".venv" / "share" / "homelab-test-collections" / "ansible-12.3.0"  # scripts/test-collections.sh

pytestmark = [pytest.mark.integration, pytest.mark.validators]  # ansible-playbook, OpenBao, S3

PLAY = """---
- name: Vault backups only
  hosts: vault
  gather_facts: false
  tasks:
    - name: Backups
      ansible.builtin.import_role:
        name: vault_server
        tasks_from: backup.yml
"""


@pytest.fixture(scope="module")
def bao(openbao_factory):
    server = openbao_factory("backup-role")
    api = server.api()
    api.enable_kv2("secret")
    api.kv_write("backup/vault", {"access_key": ACCESS_KEY, "secret_key": SECRET_KEY})
    return server


def _playbook(tmp: Path, s3_url: str, bao) -> subprocess.CompletedProcess:
    repo = tmp / "repo"
    if not repo.exists():
        for f in render_all(load_lab(SEED)):
            path = repo / f.path
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(f.content, encoding="utf-8")
    host = tmp / "host"
    for d in ("etc", "lib", "units"):
        (host / d).mkdir(parents=True, exist_ok=True)
    (host / "data" / "core").mkdir(parents=True, exist_ok=True)
    (host / "data" / "core" / "_keyring").write_bytes(b"keyring")
    tree = repo / "ansible"
    (tree / "_test.yml").write_text(PLAY)
    extra = {"vault_server_user": getpass.getuser(), "vault_server_config_dir": str(host / "etc"),
             "vault_server_backup_dir": str(host / "backups"), "vault_server_backup_script": str(host / "lib" / "vb.py"),
             "vault_server_systemd_dir": str(host / "units"), "vault_server_data_dir": str(host / "data"),
             "vault_server_backup_offsite": {"endpoint": s3_url, "bucket": "vault-backups", "prefix": "vm",
                                             "region": "us-east-1", "verify": True},
             "vault_server_seal": {"json": {"initialized": True}}, "lab_vault_addr": bao.url,
             "lab_vault_validate_certs": False, "vault_server_manage_services": False}
    environ = {k: v for k, v in os.environ.items()
               if not k.startswith(("ANSIBLE_", "VAULT_", "HOMELAB_")) or k.startswith("HOMELAB_NETGUARD")}
    if not (COLLECTIONS / "ansible_collections" / "community" / "hashi_vault").is_dir():
        pytest.fail(f"community.hashi_vault is not installed at {COLLECTIONS}: run `make test` "
                    "(or scripts/test-collections.sh)")
    environ.update({"ANSIBLE_NOCOLOR": "1", "PATH": f"{BIN}{os.pathsep}{environ.get('PATH', '')}",
                    "VAULT_TOKEN": bao.root_token, "ANSIBLE_COLLECTIONS_PATH": str(COLLECTIONS)})
    args = [str(BIN / "ansible-playbook"), "-i", "inventory.yml", "_test.yml", "-e", "ansible_connection=local",
            "-e", "ansible_become=false", "-e", f"ansible_python_interpreter={sys.executable}",
            "-e", json.dumps(extra)]
    return subprocess.run(args, cwd=tree, env=environ, capture_output=True, text=True, timeout=300)


def _changed(output: str) -> int:
    line = next(row for row in output.splitlines() if row.startswith("vault ") and "ok=" in row)
    return int(line.split("changed=")[1].split()[0])


def test_the_role_installs_the_timer_and_the_script_copies_off_site(tmp_path, bao):
    with s3_server() as s3:
        s3.client().create_bucket(Bucket="vault-backups")
        first = _playbook(tmp_path, s3.url, bao)
        assert first.returncode == 0, first.stdout + first.stderr
        host = tmp_path / "host"
        settings = json.loads((host / "etc" / "backup.json").read_text())
        assert settings == {"storage": "file", "data_dir": str(host / "data"), "backup_dir": str(host / "backups"),
                            "retention": 14, "vault_addr": bao.url,  # vault_server_api_url: lab_vault_addr
                            "token_file": str(host / "etc" / "backup-token"),
                            "offsite": {"endpoint": s3.url, "bucket": "vault-backups", "prefix": "vm",
                                        "region": "us-east-1", "verify": True},
                            "offsite_credentials_file": str(host / "etc" / "backup-offsite.json")}
        creds = host / "etc" / "backup-offsite.json"
        assert stat.S_IMODE(creds.stat().st_mode) == 0o600
        assert json.loads(creds.read_text()) == {"access_key": ACCESS_KEY, "secret_key": SECRET_KEY}
        assert SECRET_KEY not in first.stdout + first.stderr  # no_log
        script = host / "lib" / "vb.py"
        assert stat.S_IMODE(script.stat().st_mode) == 0o755
        timer = (host / "units" / "vault-backup.timer").read_text()
        assert "OnCalendar=*-*-* 03:00:00 UTC\n" in timer and "Persistent=true" in timer
        service = (host / "units" / "vault-backup.service").read_text()
        assert f"ExecStart=/usr/bin/python3 {script} --config {host / 'etc'}/backup.json" in service
        assert f"ReadWritePaths={host / 'backups'}" in service
        assert shutil.which("systemd-analyze"), "scripts/system-deps.sh installs systemd (systemd-analyze)"
        check = subprocess.run(["systemd-analyze", "verify", str(host / "units" / "vault-backup.timer"),
                                str(host / "units" / "vault-backup.service")], capture_output=True, text=True)
        assert check.returncode == 0, check.stdout + check.stderr
        bad = [row for row in (check.stdout + check.stderr).splitlines() if "vault-backup" in row]
        assert bad == [], check.stdout + check.stderr
        again = _playbook(tmp_path, s3.url, bao)
        assert again.returncode == 0 and _changed(again.stdout) == 0, again.stdout
        # the installed script, with what the role wrote, is what the timer runs
        run = subprocess.run([sys.executable, str(script), "--config", str(host / "etc" / "backup.json")],
                             capture_output=True, text=True, timeout=120)
        assert run.returncode == 0, run.stdout + run.stderr
        names = sorted(p.name for p in (host / "backups").iterdir())
        assert len(names) == 3 and s3.keys("vault-backups", "vm/") == [f"vm/{n}" for n in names]
