"""The lab's CA on a real OpenBao: `homelab pki init` (the vault_pki* part of the plan, applied), `pki
issue` (certificates for the reference lab's names, verified against the root with `cryptography` and
`openssl verify`), renewal (a second issue), revocation and the CRL, the least-privilege roles (a role
issues only its own names), convergence (the plan has nothing left to do) and step-ca's intermediate."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from homelab.engines.base import EngineContext
from homelab.engines.vault import VaultEngine
from homelab.engines.vault.client import VaultError
from homelab.lab.load import load_lab
from homelab.ops.pki import verify
from homelab.plan.desired import desired

pytestmark = [pytest.mark.integration, pytest.mark.validators]  # a real OpenBao server


@pytest.fixture(scope="module")
def ca(openbao_factory, tmp_path_factory, homelab_tools):
    """An OpenBao with the reference lab's CA created by `homelab pki init` (on a copy of the lab)."""
    server = openbao_factory("pki")
    work = tmp_path_factory.mktemp("pki-lab")
    lab = work / "homelab.yaml"
    shutil.copy(homelab_tools.reference_lab, lab)
    out = server.cli("pki", "init", "--out", str(work / "repo"), "--format", "json", lab=lab)
    assert out.returncode == 0, out.stdout + out.stderr
    return server, lab, work, json.loads(out.stdout)


def _sans(pem: bytes) -> set[str]:
    cert = x509.load_pem_x509_certificates(pem)[0]
    ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return {str(v) for v in ext.get_values_for_type(x509.DNSName)} | {
        str(v) for v in ext.get_values_for_type(x509.IPAddress)}


def test_init_creates_root_intermediate_and_roles_and_records_the_root(ca):
    server, lab, work, report = ca
    addresses = {a["address"] for a in report["applied"]}
    assert {"vault_pki.pki", "vault_pki.pki_int", "vault_pki.step-ca", "vault_auth.cert",
            "vault_pki_role.vault", "vault_pki_role.es01", "vault_pki_role.kibana"} <= addresses
    assert report["root_subject"] == "CN=thewortmans Root CA" and report["recorded"]
    root_pem = (work / "repo" / "tls" / "ca.crt").read_text()
    recorded = load_lab(lab).lab.pki.root_ca
    assert recorded.strip() == root_pem.strip()
    root = x509.load_pem_x509_certificate(root_pem.encode())
    assert root.subject == root.issuer  # self-signed root
    assert root.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    again = server.cli("pki", "init", "--format", "json", lab=lab)
    assert again.returncode == 0 and json.loads(again.stdout)["applied"] == []  # converged: nothing to do
    assert not json.loads(again.stdout)["recorded"]


@pytest.mark.parametrize("name", ["vault", "es01", "es07", "kibana", "fleet"])
def test_issue_verifies_against_the_root_with_openssl_and_carries_the_names(ca, name):
    server, lab, work, _ = ca
    out = server.cli("pki", "issue", name, "--out", str(work / "repo"), "--format", "json", lab=lab)
    assert out.returncode == 0, out.stdout + out.stderr
    issued = json.loads(out.stdout)
    tls = work / "repo" / "tls"
    crt, key = tls / f"{name}.crt", tls / f"{name}.key"
    assert (key.stat().st_mode & 0o777) == 0o600 and (crt.stat().st_mode & 0o777) == 0o644
    pems = x509.load_pem_x509_certificates(crt.read_bytes())
    assert len(pems) == 2  # leaf + intermediate (the root comes from ca.crt)
    chain = tls / f"{name}.chain.pem"
    chain.write_bytes(pems[1].public_bytes(serialization.Encoding.PEM))
    res = subprocess.run(["openssl", "verify", "-CAfile", str(tls / "ca.crt"), "-untrusted", str(chain), str(crt)],
                         capture_output=True, text=True)
    assert res.returncode == 0 and res.stdout.strip().endswith(": OK"), res.stdout + res.stderr
    vm = {v.name: v for v in load_lab(lab).inventory.vms}[name]
    assert {vm.fqdn, vm.name, vm.ip} <= _sans(crt.read_bytes()) == set(issued["sans"])
    # the private key belongs to the certificate
    priv = serialization.load_pem_private_key(key.read_bytes(), None)
    assert priv.public_key().public_numbers() == pems[0].public_key().public_numbers()
    assert "PRIVATE KEY" not in out.stdout + out.stderr


def test_renew_revoke_and_the_crl(ca):
    server, lab, work, _ = ca
    api = server.api()
    doc = load_lab(lab)
    first = api.pki_issue("pki_int", "es02", "es02.lab.thewortmans.org", alt_names=["es02"], ip_sans=["192.168.10.82"])
    second = api.pki_issue("pki_int", "es02", "es02.lab.thewortmans.org", alt_names=["es02"], ip_sans=["192.168.10.82"])
    assert first["serial_number"] != second["serial_number"]  # a renewal is a new certificate
    root = api.pki_ca("pki")
    chain = "".join(second["ca_chain"])
    assert verify(second["certificate"], chain, root, ["es02.lab.thewortmans.org", "192.168.10.82"])[0]
    assert api.pki_revoke("pki_int", first["serial_number"])["state"] == "revoked"
    crl = x509.load_pem_x509_crl(api.pki_crl("pki_int").encode())
    revoked = {f"{r.serial_number:x}" for r in crl}
    assert first["serial_number"].replace(":", "").lstrip("0") in revoked
    assert second["serial_number"].replace(":", "").lstrip("0") not in revoked
    issuer = x509.load_pem_x509_certificate(second["ca_chain"][0].encode())
    assert crl.is_signature_valid(issuer.public_key())  # signed by the intermediate
    st = server.cli("pki", "status", "--format", "json", lab=lab)
    assert json.loads(st.stdout)["revoked"] >= 1
    assert doc.lab.pki.vault.intermediate_mount == "pki_int"


def test_each_role_issues_only_its_own_names(ca):
    server, _, _, _ = ca
    api = server.api()
    with pytest.raises(VaultError, match="not allowed"):
        api.pki_issue("pki_int", "es01", "vault.lab.thewortmans.org")
    with pytest.raises(VaultError):
        api.pki_issue("pki_int", "es01", "es01.lab.thewortmans.org", ip_sans=["192.168.10.50"])  # Vault's address
    policy = api.read_policy("pki-es01")
    assert 'path "pki_int/issue/es01"' in policy and "sign" not in policy and "*" not in policy
    login = api.role_read("auth/cert/certs/es01")
    assert login["allowed_common_names"] == ["es01.lab.thewortmans.org"] and login["token_policies"] == ["pki-es01"]


def test_the_plan_reads_the_ca_back_and_has_nothing_to_do(ca, monkeypatch, tmp_path):
    server, lab, _, _ = ca
    monkeypatch.setenv("HOMELAB_VAULT_ADDR", "embedded")
    for name in ("VAULT_TOKEN", "HOMELAB_VAULT_KEYS_FILE"):
        monkeypatch.delenv(name, raising=False)
    doc = load_lab(lab)
    ctx = EngineContext(doc=doc, workdir=tmp_path, state_dir=server.state_dir)
    want = desired(doc)
    ours = sorted(a for a in want if a.startswith("vault_pki"))
    facts = VaultEngine().read_facts(ctx, ours)
    for address in ours:
        live, attrs = facts[address], want[address].attrs
        assert {k: attrs[k] for k in live} == live, address
    assert facts["vault_pki.pki_int"]["parent"] == "pki"
    api = server.api()
    api.role_write("pki_int/roles/es03", {"allowed_domains": ["evil.example.org"]})  # drift made by hand
    assert VaultEngine().read_facts(ctx, ["vault_pki_role.es03"])["vault_pki_role.es03"]["role"] != \
        want["vault_pki_role.es03"].attrs["role"]


def test_step_ca_intermediate_is_signed_by_the_root_and_kept_in_kv(ca):
    server, _, _, _ = ca
    api = server.api()
    kept = api.kv_read("pki/step-ca")[0]
    cert = x509.load_pem_x509_certificate(kept["intermediate_cert"].encode())
    root = x509.load_pem_x509_certificate(kept["root_cert"].encode())
    cert.verify_directly_issued_by(root)
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    key = serialization.load_pem_private_key(kept["intermediate_key"].encode(), None)
    assert key.public_key().public_numbers() == cert.public_key().public_numbers()


def test_issue_of_an_unknown_name_and_status_in_text(ca):
    server, lab, _, _ = ca
    bad = server.cli("pki", "issue", "nope", lab=lab)
    assert bad.returncode == 2 and "the lab has no certificate 'nope'" in bad.stderr
    assert "one of: es01" in bad.stderr and "Traceback" not in bad.stderr
    st = server.cli("pki", "status", lab=lab)
    assert st.returncode == 0, st.stderr
    assert "CA: step-ca (root recorded in the lab: yes)" in st.stdout
    assert "issuing roles: 13 of 13 in Vault" in st.stdout
    assert "vault      on vault    vault" in st.stdout


def test_init_without_a_running_vault_is_a_clear_error(tmp_path, homelab_tools):
    env = homelab_tools.clean_env(HOMELAB_STATE_DIR=str(tmp_path / ".homelab"), HOMELAB_VAULT_ADDR="embedded")
    out = homelab_tools.run_homelab(["pki", "init", "--lab", str(homelab_tools.reference_lab)], env=env, cwd=tmp_path)
    assert out.returncode == 3 and "the embedded Vault is not running" in out.stderr, out.stderr
    assert "Traceback" not in out.stderr
