"""The PKI and DNS renderings checked by their real consumers: cert-manager's ClusterIssuers against
cert-manager v1.21.1's CRD schema (its chart is not among the packaged ones: the schema is
tests/fixtures/crds/cert-manager-v1.21.1-clusterissuer.json, taken from the v1.21.1 tag's
deploy/crds/cert-manager.io_clusterissuers.yaml), and the Pi-hole, Traefik, app and democratic-csi charts
templated with homelab's values by the Helm engine (helm_charts.py)."""

from __future__ import annotations

import base64
import copy
import json
from pathlib import Path

import jsonschema
import pytest
from test_chart_rendering import lab_doc, releases, render_tree, rendered
from test_pki import ROOT_PEM, docs

from helm_charts import of_kind, pod_spec

pytestmark = pytest.mark.validators  # the Helm engine

CRD = Path(__file__).resolve().parent.parent / "fixtures" / "crds" / "cert-manager-v1.21.1-clusterissuer.json"


def strict(schema):
    """The CRD schema, stricter: an object that lists its properties accepts no other key (the API server
    would prune a misspelt key silently and the issuer would not work)."""
    schema = copy.deepcopy(schema)

    def walk(node):
        if isinstance(node, dict):
            if node.get("type") == "object" and "properties" in node and "additionalProperties" not in node:
                node["additionalProperties"] = False
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)
    walk(schema)
    return schema


@pytest.fixture(scope="module")
def issuer_schema():
    return strict(json.loads(CRD.read_text())["openAPIV3Schema"])


def _issuers(tree):
    return [d for d in docs(tree["k8s/platform/cert-manager-issuers.yaml"]) if d["kind"] == "ClusterIssuer"]


def _mutations():
    def step_ca(data):
        data["pki"]["root_ca"] = ROOT_PEM

    def vault(data):
        step_ca(data)
        data["pki"]["ca"] = "vault"
        data["vault"]["policies"]["external-secrets"]["rules"].append({"secrets": "pki/cert-manager",
                                                                      "capabilities": ["read"]})

    def letsencrypt(provider):
        def mutate(data):
            step_ca(data)
            dns = ({"provider": "cloudflare", "api_token": "apps/dns#token"} if provider == "cloudflare" else
                   {"provider": "rfc2136", "nameserver": "192.168.10.1:53", "tsig_key_name": "homelab",
                    "tsig_secret": "apps/dns#token"})
            data["pki"]["letsencrypt"] = {"enabled": True, "email": "admin@thewortmans.org",
                                          "hosts": ["*.lab.thewortmans.org"], "dns01": dns}
            data["vault"]["secrets"].append({"path": "apps/dns", "fields": ["token"]})
        return mutate
    return {"step-ca": step_ca, "vault": vault, "le-cloudflare": letsencrypt("cloudflare"),
            "le-rfc2136": letsencrypt("rfc2136")}


@pytest.mark.parametrize("case", sorted(_mutations()))
def test_cluster_issuers_validate_against_cert_manager_crd(reference_path, issuer_schema, case):
    tree = render_tree(lab_doc(reference_path, _mutations()[case]))
    issuers = _issuers(tree)
    assert issuers
    for issuer in issuers:
        jsonschema.validate(issuer, issuer_schema)
        assert issuer["apiVersion"] == "cert-manager.io/v1"
        spec = issuer["spec"]
        assert len(spec) == 1 and next(iter(spec)) in ("acme", "vault")  # exactly one issuer type


def test_the_strict_schema_catches_a_misspelt_key(issuer_schema):
    bad = {"apiVersion": "cert-manager.io/v1", "kind": "ClusterIssuer", "metadata": {"name": "x"},
           "spec": {"acme": {"server": "https://x", "privateKeySecretRef": {"name": "x"},
                             "solvers": [{"http01": {"ingress": {"ingressClass": "traefik"}}}]}}}
    with pytest.raises(jsonschema.ValidationError, match="ingressClass"):
        jsonschema.validate(bad, issuer_schema)


@pytest.fixture(scope="module")
def charts(reference_path):
    def mutate(data):
        data["pki"]["root_ca"] = ROOT_PEM
    tree = render_tree(lab_doc(reference_path, mutate))
    return {app["metadata"]["name"]: (app, chart, values, rendered(app, chart, values))
            for app, chart, values in releases(tree)}


def test_pihole_chart_serves_the_lab_records_from_its_hosts_file(charts, reference_doc):
    _app, _chart, values, manifests = charts["pihole"]
    cm = next(c for c in of_kind(manifests, "ConfigMap") if c["metadata"]["name"].endswith("-custom-dnsmasq"))
    hosts = [line.strip() for line in cm["data"]["addn-hosts"].splitlines() if line.strip()]
    assert hosts == values["dnsmasq"]["additionalHostsEntries"]
    assert "addn-hosts=/etc/addn-hosts" in cm["data"]["02-custom.conf"]
    for vm in reference_doc.inventory.vms:
        assert f"{vm.ip} {vm.fqdn}" in hosts
    assert "192.168.10.201 sonarr.lab.thewortmans.org" in hosts
    deploy = of_kind(manifests, "Deployment")[0]
    container = pod_spec(deploy)["containers"][0]
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    assert mounts["/etc/addn-hosts"]["subPath"] == "addn-hosts"
    assert mounts["/etc/dnsmasq.d/02-custom.conf"]["subPath"] == "02-custom.conf"
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env.get("FTLCONF_misc_etc_dnsmasq_d") == "true"  # Pi-hole v6 reads /etc/dnsmasq.d only then


def test_traefik_chart_redirects_web_to_websecure(charts):
    _app, _chart, _values, manifests = charts["traefik"]
    args = pod_spec(of_kind(manifests, "Deployment")[0])["containers"][0]["args"]
    assert "--entryPoints.web.http.redirections.entryPoint.to=:443" in args
    assert "--entryPoints.web.http.redirections.entryPoint.scheme=https" in args
    assert "--entryPoints.web.http.redirections.entryPoint.permanent=true" in args
    assert "--entryPoints.web.allowACMEByPass=true" in args  # traefik 41.3.0 templates/_podtemplate.tpl


def test_every_chart_ingress_asks_cert_manager_for_its_hosts(charts):
    seen = 0
    for name, (_app, _chart, _values, manifests) in charts.items():
        for ing in of_kind(manifests, "Ingress"):
            seen += 1
            assert ing["metadata"]["annotations"]["cert-manager.io/cluster-issuer"] == "homelab-ca", name
            hosts = [r["host"] for r in ing["spec"]["rules"]]
            assert [t["secretName"] for t in ing["spec"]["tls"]] == [h.replace(".", "-") + "-tls" for h in hosts]
    assert seen >= 15  # every app and ArgoCD


def test_democratic_csi_controller_trusts_the_lab_root(charts):
    _app, _chart, _values, manifests = charts["democratic-csi-iscsi"]
    controller = next(d for d in of_kind(manifests, "Deployment") if "controller" in d["metadata"]["name"])
    spec = pod_spec(controller)
    driver = next(c for c in spec["containers"] if c["name"] == "csi-driver")
    assert {"name": "NODE_EXTRA_CA_CERTS", "value": "/etc/homelab-ca/ca.crt"} in driver["env"]
    assert any(m["mountPath"] == "/etc/homelab-ca" for m in driver["volumeMounts"])
    assert {"name": "homelab-ca", "configMap": {"name": "homelab-ca"}} in spec["volumes"]


def test_velero_chart_gets_the_root_as_ca_cert(charts):
    _app, _chart, _values, manifests = charts["velero"]
    bsl = of_kind(manifests, "BackupStorageLocation")[0]
    assert base64.b64decode(bsl["spec"]["objectStorage"]["caCert"]).decode() == ROOT_PEM
