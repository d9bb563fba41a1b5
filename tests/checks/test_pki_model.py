"""The lab's certificates and DNS records as the model derives them (lab/certificates.py, lab/dns.py):
the edge cases the rule fixtures do not spell out."""

from __future__ import annotations

import io

import pytest
from ruamel.yaml import YAML

from homelab.checks import run_checks
from homelab.lab.certificates import certificates, ingress_issuer, is_external, tls_secret
from homelab.lab.dns import records, served
from homelab.lab.load import load_text
from homelab.render.ansible_pki import host_certificates


def lab(reference_path, mutate=None):
    data = YAML(typ="safe").load(reference_path.read_text())
    if mutate:
        mutate(data)
    buf = io.StringIO()
    YAML(typ="safe").dump(data, buf)
    return load_text(buf.getvalue(), "homelab.yaml")


def test_external_hosts_match_exactly_or_by_one_label_wildcard(reference_path):
    doc = lab(reference_path, lambda d: d["pki"].update(letsencrypt={"hosts": ["*.ext.thewortmans.org",
                                                                               "files.lab.thewortmans.org"]}))
    lab_ = doc.lab
    assert is_external(lab_, "files.lab.thewortmans.org")
    assert is_external(lab_, "a.ext.thewortmans.org")
    assert not is_external(lab_, "a.b.ext.thewortmans.org")  # a wildcard covers one label, as in a certificate
    assert not is_external(lab_, "ext.thewortmans.org")
    assert ingress_issuer(lab_, "files.lab.thewortmans.org") == "letsencrypt"
    assert ingress_issuer(lab_, "sonarr.lab.thewortmans.org") == "homelab-ca"
    assert tls_secret("*.ext.thewortmans.org") == "wildcard-ext-thewortmans-org-tls"


def test_a_certificate_entry_replaces_the_derived_names_and_keeps_the_files(reference_path):
    def mutate(d):
        d["pki"]["certificates"] = [{"name": "kibana", "sans": ["logs.lab.thewortmans.org", "kibana.lab.thewortmans.org"]}]
    doc = lab(reference_path, mutate)
    cert = certificates(doc.lab, doc.inventory).by_name()["kibana"]
    assert cert.sans == ("logs.lab.thewortmans.org", "kibana.lab.thewortmans.org")
    assert cert.cert_file == "/etc/kibana/certs/kibana.crt" and cert.reload == "systemctl restart kibana"
    assert cert.explicit and cert.common_name == "logs.lab.thewortmans.org"


def test_a_network_host_certificate_is_issued_but_never_installed_by_ansible(reference_doc):
    certs = certificates(reference_doc.lab, reference_doc.inventory).by_name()
    assert certs["truenas"].service == "manual"
    assert "truenas" not in host_certificates(reference_doc)
    assert [c["name"] for c in host_certificates(reference_doc)["vault"]] == ["vault"]


def test_every_es_node_certificate_names_what_its_clients_use(reference_doc):
    certs = certificates(reference_doc.lab, reference_doc.inventory).by_name()
    for vm in reference_doc.inventory.vms:
        if vm.role.startswith("es-"):
            assert set(certs[vm.name].sans) == {vm.fqdn, vm.name, vm.ip, "localhost"}


def test_the_k3s_api_name_is_the_one_name_with_several_addresses(reference_doc):
    multi = {name: ips for name, ips in served(reference_doc.lab, reference_doc.inventory).items() if len(ips) > 1}
    assert multi == {"cp.lab.thewortmans.org": ["192.168.10.71", "192.168.10.72", "192.168.10.73"]}


def test_traefik_without_a_fixed_address_leaves_ingress_names_out_but_checks_clean(reference_path):
    doc = lab(reference_path, lambda d: d["platform"]["traefik"].pop("load_balancer_ip"))
    recs = [r for r in records(doc.lab, doc.inventory) if r.name == "sonarr.lab.thewortmans.org"]
    assert [r.ip for r in recs] == [None]
    assert "sonarr.lab.thewortmans.org" not in served(doc.lab, doc.inventory)
    assert not [d for d in run_checks(doc) if d.rule.startswith("dns-")]


@pytest.mark.parametrize("mutate, rule", [
    (lambda d: d["network"]["hosts"].append({"name": "vault", "ip": "192.168.10.10"}), "dns-record-conflict"),
    (lambda d: d["network"]["hosts"].append({"name": "printer", "ip": "192.168.10.150"}), "dns-address-unowned"),
    (lambda d: d["pki"]["certificates"].append({"name": "vault", "sans": ["vault", "192.168.10.50"]}),
     "certificate-name-missing"),  # vault.address's name (vault.lab.thewortmans.org) is gone
    (lambda d: d["pki"].update(ca="vault"), None),
])
def test_the_reference_lab_catches_what_the_issue_names(reference_path, mutate, rule):
    doc = lab(reference_path, mutate)
    rules = {d.rule for d in run_checks(doc) if d.severity.value == "error"}
    assert rules == ({rule} if rule else set()), rules
