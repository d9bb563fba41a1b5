"""The vault_server role's own tasks, run by the real ansible-playbook on this machine (connection local)
against temporary paths, and against a real OpenBao for unsealing (issue 11, items 11 and 14).

- TLS (tasks/tls.yml, item 14): `site.yml --limit vault` as the README says must pass the TLS step
  without extra variables. The certificate comes from the repository's `tls/<host>.crt|.key`; on a
  brand-new lab (no internal CA yet) a self-signed bootstrap certificate is made there and becomes
  `tls/ca.crt`; with a CA root but no certificate for Vault the run stops and names the command to run.
- Unseal (tasks/unseal.yml, item 11): a restart leaves Vault sealed. With the keys file `homelab vault
  init` wrote, the role unseals it (no key in the output); without it, the run stops with a message
  that says so, instead of letting later plays fail on their secret lookups.

The `-e` given below only point the role's *host* paths into a temporary directory and run it as the
current user (no `vault` account here); the controller side (tls/, keys file) uses the role's defaults.
"""

from __future__ import annotations

import getpass
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from homelab.lab.load import load_lab
from homelab.render import render_all

ROOT = Path(__file__).resolve().parents[2]
SEED = ROOT / "examples" / "reference" / "homelab.yaml"
BIN = Path(sys.executable).parent

pytestmark = pytest.mark.validators  # the real ansible-playbook and OpenBao

TLS_PLAY = """---
- name: Vault's TLS files only
  hosts: vault
  gather_facts: false
  tasks:
    - name: TLS
      ansible.builtin.import_role:
        name: vault_server
        tasks_from: tls.yml
"""

UNSEAL_PLAY = """---
- name: Unseal only
  hosts: vault
  gather_facts: false
  tasks:
    - name: Unseal
      ansible.builtin.import_role:
        name: vault_server
        tasks_from: unseal.yml
"""


def tool(name: str) -> str:
    path = BIN / name
    if path.exists():
        return str(path)
    found = shutil.which(name)
    if not found:
        pytest.fail(f"{name} is not installed (it comes with ansible-core)")
    return found


@pytest.fixture
def repo(tmp_path) -> Path:
    """The reference lab rendered into a temporary repository (tls/ holds only its README, as on a new lab)."""
    for f in render_all(load_lab(SEED)):
        path = tmp_path / "repo" / f.path
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f.content, encoding="utf-8")
    return tmp_path / "repo"


def playbook(repo: Path, play: str, *extra: str, **env: str) -> subprocess.CompletedProcess:
    tree = repo / "ansible"
    (tree / "_test.yml").write_text(play)
    host = repo.parent / "host"  # stands for the Vault VM's /opt/vault/tls (created by tasks/main.yml)
    host.mkdir(exist_ok=True)
    environ = {k: v for k, v in os.environ.items()
               if not k.startswith(("ANSIBLE_", "VAULT_", "HOMELAB_")) or k.startswith("HOMELAB_NETGUARD")}
    environ.update({"ANSIBLE_NOCOLOR": "1", "PATH": f"{BIN}{os.pathsep}{environ.get('PATH', '')}", **env})
    args = [tool("ansible-playbook"), "-i", "inventory.yml", "_test.yml",
            "-e", "ansible_connection=local", "-e", "ansible_become=false",
            "-e", f"ansible_python_interpreter={sys.executable}",
            "-e", f"vault_server_user={getpass.getuser()}",
            "-e", f"vault_server_tls_cert_file={host}/vault.crt", "-e", f"vault_server_tls_key_file={host}/vault.key",
            *extra]
    try:
        return subprocess.run(args, cwd=tree, env=environ, capture_output=True, text=True, timeout=300)
    finally:
        (tree / "_test.yml").unlink()


def recap(output: str) -> dict[str, int]:
    for line in output.splitlines():
        if line.startswith("vault ") and "ok=" in line:
            return {k: int(v) for k, v in (part.split("=") for part in line.split(":", 1)[1].split())}
    raise AssertionError(output)


def sans(cert: Path) -> str:
    out = subprocess.run(["openssl", "x509", "-in", str(cert), "-noout", "-ext", "subjectAltName"],
                         capture_output=True, text=True, check=True)
    return out.stdout


# ------------------------------------------------------------------------------------------------- TLS
def test_a_brand_new_lab_gets_a_bootstrap_certificate_that_clients_trust(repo):
    first = playbook(repo, TLS_PLAY)
    assert first.returncode == 0, first.stdout + first.stderr
    tls = repo / "tls"
    cert, key, ca = tls / "vault.crt", tls / "vault.key", tls / "ca.crt"
    assert key.stat().st_mode & 0o777 == 0o600
    assert ca.read_bytes() == cert.read_bytes()  # the client trust anchor, until the internal CA exists
    names = sans(cert)
    for name in ("DNS:vault.lab.thewortmans.org", "DNS:vault", "IP Address:192.168.10.50"):
        assert name in names, names
    host = repo.parent / "host"
    assert (host / "vault.crt").read_bytes() == cert.read_bytes()
    assert (host / "vault.key").stat().st_mode & 0o777 == 0o600
    assert "gets a self-signed bootstrap certificate" in first.stdout
    # the certificate verifies as its own trust anchor, for the name clients use
    check = subprocess.run(["openssl", "verify", "-CAfile", str(ca), "-verify_hostname", "vault.lab.thewortmans.org",
                            str(cert)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    # a second run changes nothing and makes no new certificate
    again = playbook(repo, TLS_PLAY)
    assert again.returncode == 0, again.stdout + again.stderr
    assert recap(again.stdout)["changed"] == 0
    assert (tls / "vault.crt").read_bytes() == cert.read_bytes()


def test_a_certificate_issued_by_the_ca_is_installed_as_is(repo, tmp_path):
    tls = repo / "tls"
    tls.mkdir(exist_ok=True)  # holds the rendered README.md
    # stand-in for `step ca certificate ...`: a CA and a certificate it signed
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-subj", "/CN=Test Root", "-keyout", str(tmp_path / "ca.key"), "-out", str(tls / "ca.crt")],
                   check=True, capture_output=True)
    subprocess.run(["openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-subj", "/CN=vault.lab.thewortmans.org", "-keyout", str(tls / "vault.key"),
                    "-out", str(tmp_path / "vault.csr")], check=True, capture_output=True)
    subprocess.run(["openssl", "x509", "-req", "-in", str(tmp_path / "vault.csr"), "-CA", str(tls / "ca.crt"),
                    "-CAkey", str(tmp_path / "ca.key"), "-out", str(tls / "vault.crt")], check=True, capture_output=True)
    issued = (tls / "vault.crt").read_bytes()
    result = playbook(repo, TLS_PLAY)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (repo.parent / "host" / "vault.crt").read_bytes() == issued
    assert (tls / "vault.crt").read_bytes() == issued and "gets a self-signed bootstrap certificate" not in result.stdout


def test_a_lab_with_its_ca_but_no_certificate_for_vault_stops_and_says_what_to_run(repo, tmp_path):
    tls = repo / "tls"
    tls.mkdir(exist_ok=True)  # holds the rendered README.md
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-subj", "/CN=Test Root", "-keyout", str(tmp_path / "ca.key"), "-out", str(tls / "ca.crt")],
                   check=True, capture_output=True)
    result = playbook(repo, TLS_PLAY)
    assert result.returncode != 0
    assert "step ca certificate vault.lab.thewortmans.org" in result.stdout
    assert "--san vault.lab.thewortmans.org --san vault --san 192.168.10.50" in result.stdout
    assert not (tls / "vault.crt").exists()  # no self-signed certificate the clients would not trust


# ------------------------------------------------------------------------------------------------- unseal
@pytest.fixture
def sealed(openbao_factory):
    """A real OpenBao, initialised by homelab (keys file), then sealed as a restart leaves it."""
    server = openbao_factory("restarted")
    server.api().client.sys.seal()
    assert server.api().client.sys.read_seal_status()["sealed"] is True
    yield server
    api = server.api()
    if api.client.sys.read_seal_status()["sealed"]:
        api.client.sys.submit_unseal_key(reset=True)  # drop a half-done attempt
        api.client.sys.submit_unseal_keys(server.keys[:3])


def test_a_sealed_vault_is_unsealed_with_the_keys_homelab_keeps(repo, sealed):
    result = playbook(repo, UNSEAL_PLAY, "-e", f"vault_server_api_url={sealed.url}",
                      HOMELAB_VAULT_KEYS_FILE=str(sealed.keys_file))
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert sealed.api().client.sys.read_seal_status()["sealed"] is False
    assert all(k not in output for k in sealed.keys)  # no_log
    assert recap(result.stdout)["changed"] >= 1
    # unsealed: a second run has nothing to do
    again = playbook(repo, UNSEAL_PLAY, "-e", f"vault_server_api_url={sealed.url}",
                     HOMELAB_VAULT_KEYS_FILE=str(sealed.keys_file))
    assert again.returncode == 0 and recap(again.stdout)["changed"] == 0, again.stdout


def test_the_keys_file_is_found_in_the_state_directory_by_default(repo, sealed):
    result = playbook(repo, UNSEAL_PLAY, "-e", f"vault_server_api_url={sealed.url}",
                      HOMELAB_STATE_DIR=str(sealed.state_dir))
    assert result.returncode == 0, result.stdout + result.stderr
    assert sealed.api().client.sys.read_seal_status()["sealed"] is False


def test_a_sealed_vault_without_keys_stops_the_run_with_a_clear_message(repo, sealed, tmp_path):
    missing = tmp_path / "nowhere" / "init-keys.json"
    result = playbook(repo, UNSEAL_PLAY, "-e", f"vault_server_api_url={sealed.url}",
                      HOMELAB_VAULT_KEYS_FILE=str(missing))
    assert result.returncode != 0
    assert "is sealed" in result.stdout and "homelab vault unseal" in result.stdout and str(missing) in result.stdout
    assert sealed.api().client.sys.read_seal_status()["sealed"] is True


def test_wrong_keys_leave_it_sealed_and_stop_the_run(repo, sealed, tmp_path):
    other = tmp_path / "other-keys.json"
    data = json.loads(sealed.keys_file.read_text())
    data["keys"] = ["ab" * (len(k) // 2) for k in data["keys"]]  # well-formed, not this Vault's shares
    other.write_text(json.dumps(data))
    other.chmod(0o600)
    result = playbook(repo, UNSEAL_PLAY, "-e", f"vault_server_api_url={sealed.url}",
                      HOMELAB_VAULT_KEYS_FILE=str(other))
    assert result.returncode != 0
    assert "is still sealed after the keys in" in result.stdout
    assert sealed.api().client.sys.read_seal_status()["sealed"] is True


# ------------------------------------------------------------------------------------------------- wiring
def test_a_restart_is_followed_by_unsealing_before_any_later_play(repo):
    """The restart is a handler (only on a change); right after the handlers run, unseal.yml runs."""
    role = repo / "ansible" / "roles" / "vault_server"
    tasks = yaml.safe_load((role / "tasks" / "main.yml").read_text())
    names = [t["name"] for t in tasks]
    flush = names.index("Restart Vault if its package, configuration or certificate changed")
    assert tasks[flush]["ansible.builtin.meta"] == "flush_handlers"
    unseal = next(i for i, t in enumerate(tasks) if t.get("ansible.builtin.include_tasks") == "unseal.yml")
    assert unseal > flush
    handlers = {h["name"]: h for h in yaml.safe_load((role / "handlers" / "main.yml").read_text())}
    assert handlers["Restart vault"]["ansible.builtin.systemd_service"]["state"] == "restarted"
    notifying = [t["name"] for t in tasks if t.get("notify") == "Restart vault"]
    assert "Install the rendered server configuration (vault/config/vault.hcl)" in notifying
    tls = yaml.safe_load((role / "tasks" / "tls.yml").read_text())
    assert any(t.get("notify") == "Restart vault" for t in tls)
    # site.yml: the Vault play comes before every play that reads a secret
    site = [p["ansible.builtin.import_playbook"] for p in yaml.safe_load((repo / "ansible" / "site.yml").read_text())]
    assert site.index("playbooks/vault.yml") < site.index("playbooks/k3s.yml")
