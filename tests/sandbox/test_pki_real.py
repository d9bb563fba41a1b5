"""The rendered playbooks/pki.yml, for real, on 2 sandbox hosts, against a real OpenBao holding the lab's CA
(created by `homelab pki init`) on a TLS listener the hosts reach at the sandbox's controller address.

- `ca1` runs step-ca (`pki.ca: step-ca`): a stand-in `step-ca` executable (step-ca is neither a Debian
  bookworm package nor on PyPI, so the real one cannot be installed here), installed through the role's
  `step_ca_binary_source` path, records how it is called; the root, intermediate and key come from Vault.
- `web1` has a certificate of the lab (`pki.certificates`), issued by the role from the controller and
  then renewed ON THE HOST by the installed homelab-cert-renew (what its systemd timer runs; the test
  hosts have no systemd), over the network to Vault, verified with the host's trust store into which
  the pki_trust role put the lab's root.
"""

from __future__ import annotations

import json

import helpers
import pytest
import yaml
from helpers import BIN, cli, ssh_env, write_lab

from homelab.engines.ansible import run_playbook
from homelab.ops.pki import verify
from tls_vault import serial_of, serve_lab_cert, tls_openbao

INDEX = getattr(helpers, "subnet_index", lambda n: n)(7)
STANDIN_LOG = "/var/log/step-ca-standin.jsonl"
STANDIN_STEP_CA = '''#!/usr/bin/python3
"""Stand-in step-ca for tests: records argv; `step-ca version` answers like the real one."""
import json, sys, time
with open("/var/log/step-ca-standin.jsonl", "a") as fh:
    fh.write(json.dumps({"time": time.time(), "argv": sys.argv[1:]}) + "\\n")
if sys.argv[1:2] == ["version"]:
    print("Smallstep CA/0.28.4 (linux/amd64) (stand-in)")
    sys.exit(0)
sys.exit(0)
'''


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    from homelab.sandbox import Sandbox

    collections = BIN.parent / "share" / "homelab-test-collections" / "ansible-12.3.0"
    if not (collections / "ansible_collections" / "community" / "hashi_vault").is_dir():
        pytest.fail(f"community.hashi_vault is not installed at {collections}: run scripts/test-collections.sh")
    work = tmp_path_factory.mktemp("pki")
    work.chmod(0o755)
    with Sandbox(["ca1", "web1"], workdir=work / "sb", index=INDEX) as sb, \
            tls_openbao(work / "bao", bind_ip=sb.controller_ip) as bao:
        ips = {n: h.ip for n, h in sb.hosts.items()}
        lab = write_lab(work / "lab" / "homelab.yaml", ips, INDEX, sb.key_file)
        data = yaml.safe_load(lab.read_text())
        data["vault"]["address"] = bao.https_url
        data["pki"] = {"ca": "step-ca", "step_ca": {"url": "https://ca1.sbx.test:9000", "host": "ca1"},
                       "certificates": [{"name": "web1", "host": "web1", "sans": ["web1.sbx.test", "web1", ips["web1"]],
                                         "reload": "touch /var/lib/web1-reloaded"}]}
        lab.write_text(yaml.safe_dump(data, sort_keys=False))
        env = {"HOMELAB_VAULT_ADDR": bao.http_url, "VAULT_TOKEN": bao.token}
        init = cli("pki", "init", "--lab", str(lab), "--out", str(lab.parent), **env)
        assert init.returncode == 0, init.stdout + init.stderr
        root = bao.client().read("pki/cert/ca")["data"]["certificate"].strip() + "\n"
        root_file = work / "root.pem"
        root_file.write_text(root)
        # The listener the hosts reach: a certificate of the lab's CA for the controller's sandbox address.
        bao.client().write_data("pki_int/roles/listener", data={
            "allowed_domains": ["vault.sbx.test"], "allow_bare_domains": True, "allow_ip_sans": True})
        serve_lab_cert(bao, "pki_int", "listener", "vault.sbx.test", sb.controller_ip)
        rendered = cli("render", str(lab), "--out", str(lab.parent))
        assert rendered.returncode == 0, rendered.stdout + rendered.stderr
        standin = work / "step-ca"
        standin.write_text(STANDIN_STEP_CA)
        standin.chmod(0o755)
        run_env = {**ssh_env(work), "VAULT_TOKEN": bao.token, "VAULT_ADDR": bao.https_url,
                   "VAULT_CACERT": str(root_file), "ANSIBLE_COLLECTIONS_PATH": str(collections)}
        extravars = {"step_ca_binary_source": str(standin), "host_certificate_reload": True}
        runs = [run_playbook(lab.parent / "ansible", "playbooks/pki.yml", private_key=str(sb.key_file),
                             extravars=extravars, envvars=run_env) for _ in range(2)]
        yield {"sb": sb, "bao": bao, "root": root, "runs": runs, "ips": ips, "lab": lab,
               "recorded": yaml.safe_load(lab.read_text())["pki"]["root_ca"]}


def test_pki_init_recorded_the_root_the_playbook_installs(pki):
    assert pki["recorded"].strip() == pki["root"].strip()
    first = pki["runs"][0]
    assert first.succeeded, f"{first.failures}\n{first.tail}"


def test_every_host_trusts_the_lab_root(pki):
    for name, host in pki["sb"].hosts.items():
        assert host.read_file("/usr/local/share/ca-certificates/homelab-root-ca.crt").strip() == pki["root"].strip()
        bundle = host.read_file("/etc/ssl/certs/ca-certificates.crt")
        assert pki["root"].strip().splitlines()[1] in bundle, name  # update-ca-certificates ran


def test_step_ca_gets_root_intermediate_and_an_acme_provisioner(pki):
    ca1 = pki["sb"].hosts["ca1"]
    assert ca1.read_file("/etc/step-ca/certs/root_ca.crt").strip() == pki["root"].strip()
    inter = ca1.read_file("/etc/step-ca/certs/intermediate_ca.crt")
    ok = ca1.run("openssl verify -CAfile /etc/step-ca/certs/root_ca.crt /etc/step-ca/certs/intermediate_ca.crt")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    key = ca1.run("stat -c '%a %U' /etc/step-ca/secrets/intermediate_ca_key").stdout.split()
    assert key == ["600", "step"]
    match = ca1.run("openssl pkey -in /etc/step-ca/secrets/intermediate_ca_key -pubout | sha256sum; "
                    "openssl x509 -in /etc/step-ca/certs/intermediate_ca.crt -pubkey -noout | sha256sum").stdout.split("\n")
    assert match[0] == match[1]  # the key belongs to the intermediate
    config = json.loads(ca1.read_file("/etc/step-ca/config/ca.json"))
    assert config["authority"]["provisioners"] == [{"type": "ACME", "name": "acme"}]
    assert config["address"] == ":9000" and config["crt"] == "/etc/step-ca/certs/intermediate_ca.crt"
    assert {"ca1.sbx.test", "ca1", pki["ips"]["ca1"]} <= set(config["dnsNames"])
    assert config["authority"]["claims"]["defaultTLSCertDuration"] == "720h"
    calls = [json.loads(line)["argv"] for line in ca1.read_file(STANDIN_LOG).splitlines()]
    assert calls == [["version"], ["version"]]  # checked on each run, never started without systemd
    unit = ca1.read_file("/etc/systemd/system/step-ca.service")
    assert "ExecStart=/usr/bin/step-ca /etc/step-ca/config/ca.json" in unit and "ExecReload=/bin/kill -HUP" in unit
    assert inter and "PRIVATE KEY" not in pki["runs"][0].tail
    assert pki["sb"].hosts["web1"].read_file("/etc/step-ca/config/ca.json") is None  # only on the CA host


def test_the_host_certificate_is_issued_installed_and_verifies(pki):
    web1 = pki["sb"].hosts["web1"]
    cert = web1.read_file("/etc/homelab/tls/web1.crt")
    pems = cert.split("-----END CERTIFICATE-----")
    chain = pems[1].strip() + "\n-----END CERTIFICATE-----\n"
    assert verify(cert, chain, pki["root"], ["web1.sbx.test", "web1", pki["ips"]["web1"]])[0]
    assert web1.run("stat -c '%a' /etc/homelab/tls/web1.key").stdout.strip() == "600"
    assert web1.run("test -e /var/lib/web1-reloaded").returncode == 0  # reloaded after the new certificate
    settings = json.loads(web1.read_file("/etc/homelab/pki/web1.json"))
    assert settings["vault_addr"] == pki["bao"].https_url and settings["role"] == "web1"
    assert settings["renew_before"] == 864000 and settings["ttl"] == "720h"
    assert web1.run("stat -c '%a' /etc/homelab/pki/web1.json").stdout.strip() == "600"
    timer = web1.read_file("/etc/systemd/system/homelab-cert-renew@.timer")
    assert "OnCalendar=daily" in timer and "Persistent=true" in timer
    assert pki["sb"].hosts["ca1"].read_file("/etc/homelab/pki/web1.json") is None


def test_the_host_renews_its_certificate_itself(pki):
    web1 = pki["sb"].hosts["web1"]
    web1.run("rm -f /var/lib/web1-reloaded")
    before = serial_of(web1.read_file("/etc/homelab/tls/web1.crt").encode())
    not_due = web1.run("/usr/local/sbin/homelab-cert-renew /etc/homelab/pki/web1.json")
    assert not_due.returncode == 0 and "days left" in not_due.stdout
    done = web1.run("/usr/local/sbin/homelab-cert-renew /etc/homelab/pki/web1.json --force")
    assert done.returncode == 0, done.stdout + done.stderr
    after = serial_of(web1.read_file("/etc/homelab/tls/web1.crt").encode())
    assert after != before
    assert web1.run("test -e /var/lib/web1-reloaded").returncode == 0
    # the new certificate is on record in Vault's PKI (issued by the intermediate, not by anyone else)
    listed = pki["bao"].client().list("pki_int/certs")["data"]["keys"]
    assert f"{after:x}".zfill(40) in {k.replace(":", "").replace("-", "") for k in listed}


def test_second_run_changes_nothing(pki):
    second = pki["runs"][1]
    assert second.succeeded, f"{second.failures}\n{second.tail}"
    assert set(second.ok) == {"ca1", "web1"}
    assert all(v == 0 for v in second.changed.values()), second.changed  # idempotent: nothing reissued or reloaded
