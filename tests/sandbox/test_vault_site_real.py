"""`ansible-playbook site.yml --limit <vault VM>`, as the rendered README says, for real on a sandbox host
(issue 11, item 14): it used to stop at a TLS assertion unless `-e vault_server_tls_cert_src=...
-e vault_server_tls_key_src=...` were given. Now a brand-new lab (no internal CA yet) gets a self-signed
bootstrap certificate in the repository's tls/, which also becomes tls/ca.crt (what clients trust), and
the Vault host gets it; a second run changes nothing.

The one extra variable below is the offline install (a stand-in `vault` .deb already on the host: the
sandbox has no route to apt.releases.hashicorp.com), not TLS.
"""

from __future__ import annotations

import subprocess

import pytest
import yaml
from helpers import render, ssh_env, write_lab

from homelab.engines.ansible import run_playbook

DEB_ON_HOST = "/root/vault_1.18.3-1_all.deb"


def _standin_vault_deb(directory):
    """A tiny `vault` .deb: a stub binary, and a postinst that creates the vault user as HashiCorp's does."""
    root = directory / "vaultpkg"
    (root / "DEBIAN").mkdir(parents=True)
    (root / "DEBIAN" / "control").write_text(
        "Package: vault\nVersion: 1.18.3-1\nArchitecture: all\nMaintainer: homelab tests <t@example.org>\n"
        "Description: stand-in Vault package for the offline tests\n")
    postinst = root / "DEBIAN" / "postinst"
    postinst.write_text("#!/bin/sh\nset -e\ngetent group vault >/dev/null || groupadd --system vault\n"
                        "getent passwd vault >/dev/null || useradd --system --gid vault --home-dir /etc/vault.d "
                        "--shell /bin/false vault\n")
    postinst.chmod(0o755)
    stub = root / "usr" / "bin" / "vault"
    stub.parent.mkdir(parents=True)
    stub.write_text("#!/bin/sh\necho 'Vault v1.18.3 (stand-in)'\n")
    stub.chmod(0o755)
    deb = directory / "vault_1.18.3-1_all.deb"
    subprocess.run(["dpkg-deb", "--root-owner-group", "--build", str(root), str(deb)], check=True, capture_output=True)
    return deb


@pytest.fixture(scope="module")
def vault_site(sandbox3, tmp_path_factory):
    work = tmp_path_factory.mktemp("vault-site")
    ips = {n: h.ip for n, h in sandbox3.hosts.items()}
    lab_file = write_lab(work / "lab" / "homelab.yaml", ips, 1, sandbox3.key_file)
    lab = yaml.safe_load(lab_file.read_text())
    # by address: the controller cannot resolve the sandbox names (no DNS in the sealed test network)
    lab["vault"].update({"server": "alpha", "address": f"https://{ips['alpha']}:8200"})
    lab_file.write_text(yaml.safe_dump(lab, sort_keys=False))
    tree = render(lab_file)
    alpha = sandbox3.hosts["alpha"]
    deb = _standin_vault_deb(work)
    copy = subprocess.run([*alpha.ssh_args(), f"cat > {DEB_ON_HOST}"], input=deb.read_bytes(), capture_output=True,
                          timeout=60)
    assert copy.returncode == 0, copy.stderr
    runs = []
    for _ in range(2):
        runs.append(run_playbook(tree, "site.yml", limit="alpha", private_key=str(sandbox3.key_file),
                                 extravars={"vault_server_package_source": DEB_ON_HOST}, envvars=ssh_env(work)))
    return {"sb": sandbox3, "tree": tree, "repo": lab_file.parent, "first": runs[0], "second": runs[1],
            "alpha": alpha}


def test_site_limited_to_the_vault_server_passes_the_tls_step(vault_site):
    first = vault_site["first"]
    assert first.succeeded, [str(f) for f in first.failures] or first.tail
    assert first.changed["alpha"] > 0 and set(first.changed) == {"alpha"}


def test_the_vault_host_serves_the_bootstrap_certificate_clients_trust(vault_site):
    alpha, tls = vault_site["alpha"], vault_site["repo"] / "tls"
    cert = (tls / "alpha.crt").read_text()
    assert (tls / "ca.crt").read_text() == cert  # the trust anchor until the internal CA exists
    assert (tls / "alpha.key").stat().st_mode & 0o777 == 0o600
    assert alpha.read_file("/opt/vault/tls/vault.crt") == cert
    assert alpha.run("stat -c '%U %a' /opt/vault/tls/vault.key").stdout.strip() == "vault 600"
    sans = subprocess.run(["openssl", "x509", "-noout", "-ext", "subjectAltName"], input=cert, capture_output=True,
                          text=True, check=True).stdout
    for name in ("DNS:alpha.sbx.test", "DNS:alpha", f"IP Address:{alpha.ip}"):
        assert name in sans, sans
    assert alpha.run("test -s /etc/vault.d/vault.hcl && test -f /etc/systemd/system/vault.service").returncode == 0


def test_a_second_run_changes_nothing(vault_site):
    second = vault_site["second"]
    assert second.succeeded, [str(f) for f in second.failures] or second.tail
    assert not any(second.changed.values()), second.changed_tasks
