"""Host certificates renewed by the script the host_certificate role installs (homelab-cert-renew, run
here with the system's python3 exactly as the timer runs it on a host), against a real OpenBao with a TLS
listener: the Vault server's own listener certificate comes from the lab's CA, is renewed by logging in
to Vault's cert auth method with the certificate being renewed, and is picked up with SIGHUP (the reload
the role runs) while Vault stays unsealed — a restart would have sealed a real Vault."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from homelab.lab.load import load_text
from tls_vault import install_pki, serial_of, serve_lab_cert, tls_openbao, wait_served

NETGUARD = Path(__file__).resolve().parents[1] / "netguard"

pytestmark = [pytest.mark.integration, pytest.mark.validators]  # a real OpenBao server

RENEWER = (Path(__file__).resolve().parents[2] / "src" / "homelab" / "render" / "assets" / "ansible" / "roles"
           / "host_certificate" / "files" / "homelab-cert-renew")

LAB = """version: 1
name: renewal
network: {cidr: 10.0.0.0/24, gateway: 10.0.0.1, dns: [10.0.0.1], domain: lab.example.org,
          pools: {vms: 10.0.0.20-10.0.0.99}}
proxmox: {nodes: [{name: pve1, cores: 16, memory: 64GiB, storages: {local-lvm: 2TiB}}]}
vms: [{name: vault, role: vault, env: vault, ip: 10.0.0.50}]
vault: {address: "ADDRESS", server: vault, secrets: [{path: infra/proxmox, fields: [a]}]}
pki: {certificate_ttl: 720h, renew_before: 240h}
"""


@pytest.fixture(scope="module")
def vault_tls(tmp_path_factory):
    with tls_openbao(tmp_path_factory.mktemp("tls-bao")) as server:
        yield server


@pytest.fixture
def setup(vault_tls, tmp_path, monkeypatch):
    doc = load_text(LAB.replace("ADDRESS", vault_tls.https_url), str(tmp_path / "homelab.yaml"))
    install_pki(doc, vault_tls, tmp_path, monkeypatch)
    client = vault_tls.client()
    root = client.read("pki/cert/ca")["data"]["certificate"]
    (tmp_path / "root.pem").write_text(root + "\n")
    # Vault's certificate (lab/certificates.py: FQDN, name, address and the host of vault.address).
    issued = serve_lab_cert(vault_tls, "pki_int", "vault", "vault.lab.example.org", "10.0.0.50,127.0.0.1")
    marker = tmp_path / "reloaded"
    config = {
        "name": "vault", "vault_addr": vault_tls.https_url, "ca_file": str(tmp_path / "root.pem"),
        "mount": "pki_int", "role": "vault", "common_name": "vault.lab.example.org", "alt_names": ["vault"],
        "ip_sans": ["10.0.0.50", "127.0.0.1"], "ttl": "720h", "renew_before": 240 * 3600,
        "cert_file": str(vault_tls.cert), "key_file": str(vault_tls.key), "key_mode": "0600",
        "owner": "root", "group": "root",
        # what `systemctl reload vault` does (ExecReload: SIGHUP), plus a marker for the test
        "reload": f"sh -c 'kill -HUP {vault_tls.pid} && touch {marker}'",
    }
    path = tmp_path / "vault.json"
    path.write_text(json.dumps(config))
    return {"config": path, "issued": issued, "marker": marker, "tmp": tmp_path, "root": root}


def renew(config: Path, *args: str) -> subprocess.CompletedProcess:
    # The system interpreter, without this project's packages or the venv: the script needs the standard library
    # only. PYTHONPATH holds nothing but the test network guard (stdlib-only), so the child is guarded too
    # (`-I` would drop it; -s keeps the user's site-packages out instead).
    env = {"PATH": os.environ["PATH"], "PYTHONPATH": str(NETGUARD),
           **{k: v for k, v in os.environ.items() if k.startswith("HOMELAB_NETGUARD")}}
    return subprocess.run(["/usr/bin/python3", "-s", str(RENEWER), str(config), *args], capture_output=True,
                          text=True, timeout=60, env=env)


def test_not_due_changes_nothing(setup, vault_tls):
    before = vault_tls.cert.read_bytes()
    out = renew(setup["config"])
    assert out.returncode == 0 and "29 days left" in out.stdout, out.stdout + out.stderr
    assert vault_tls.cert.read_bytes() == before and not setup["marker"].exists()


def test_renewal_logs_in_with_the_certificate_and_vault_reloads_it_without_sealing(setup, vault_tls):
    old = serial_of(vault_tls.cert.read_bytes())
    out = renew(setup["config"], "--force")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "renewed" in out.stdout and "ran `sh -c" in out.stdout
    new = serial_of(vault_tls.cert.read_bytes())
    assert new != old and setup["marker"].exists()
    wait_served(vault_tls, new)  # the listener serves the renewed certificate after SIGHUP
    assert not vault_tls.sealed()  # a reload, not a restart: still unsealed
    assert (vault_tls.key.stat().st_mode & 0o777) == 0o600 and (vault_tls.cert.stat().st_mode & 0o777) == 0o644
    chain = setup["tmp"] / "chain.pem"
    pems = vault_tls.cert.read_text().split("-----END CERTIFICATE-----")
    chain.write_text(pems[1].strip() + "\n-----END CERTIFICATE-----\n")
    res = subprocess.run(["openssl", "verify", "-CAfile", str(setup["tmp"] / "root.pem"), "-untrusted", str(chain),
                          str(vault_tls.cert)], capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "PRIVATE KEY" not in out.stdout + out.stderr


def test_a_certificate_of_another_name_cannot_renew_this_one(setup, vault_tls, tmp_path):
    # A certificate of the lab's CA for another name (another role) is refused by role vault's login.
    other = vault_tls.client().write_data("pki_int/roles/other", data={
        "allowed_domains": ["other.lab.example.org"], "allow_bare_domains": True, "client_flag": True})
    assert other is None or isinstance(other, dict)
    data = vault_tls.client().write_data("pki_int/issue/other", data={"common_name": "other.lab.example.org"})["data"]
    cert, key = tmp_path / "other.crt", tmp_path / "other.key"
    cert.write_text(data["certificate"] + "\n")
    key.write_text(data["private_key"] + "\n")
    config = json.loads(setup["config"].read_text()) | {"cert_file": str(cert), "key_file": str(key)}
    path = tmp_path / "other.json"
    path.write_text(json.dumps(config))
    out = renew(path, "--force")
    assert out.returncode == 1 and "renewal failed, the current certificate stays" in out.stdout, out.stdout
    assert cert.read_text().strip() == data["certificate"].strip()


def test_a_missing_certificate_is_a_clear_failure(setup, tmp_path):
    config = json.loads(setup["config"].read_text()) | {"cert_file": str(tmp_path / "none.crt")}
    path = tmp_path / "none.json"
    path.write_text(json.dumps(config))
    out = renew(path)
    assert out.returncode == 1 and "no certificate at" in out.stdout and "playbooks/pki.yml" in out.stdout
