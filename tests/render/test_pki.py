"""What the lab's PKI and DNS put into the rendered repository (pure renderers, no engine): issuers and
Ingress certificates, the trust bundle and who reads it, Traefik's redirect, Pi-hole's records."""

from __future__ import annotations

import base64
import io

import pytest
from ruamel.yaml import YAML

from homelab.lab.dns import records, served
from homelab.lab.load import load_text
from homelab.render import render_all

ROOT_PEM = """-----BEGIN CERTIFICATE-----
MIIBoTCCAUegAwIBAgIUR6ucv5q7qH+ViE9uErP11w5RUWkwCgYIKoZIzj0EAwIw
HjEcMBoGA1UEAxMTdGhld29ydG1hbnMgUm9vdCBDQTAeFw0yNjEyMDIwMDI2MDBa
-----END CERTIFICATE-----
"""


def _yaml():
    return YAML(typ="safe")


def lab(reference_path, mutate=None):
    data = _yaml().load(reference_path.read_text())
    if mutate:
        mutate(data)
    buf = io.StringIO()
    _yaml().dump(data, buf)
    return load_text(buf.getvalue(), "homelab.yaml")


def tree(doc) -> dict[str, str]:
    return {f.path: f.content for f in render_all(doc)}


def docs(text: str) -> list[dict]:
    return [d for d in _yaml().load_all(text) if isinstance(d, dict)]


def with_root(data):
    data["pki"]["root_ca"] = ROOT_PEM


def vault_ca(data):
    data["pki"]["ca"] = "vault"


@pytest.fixture(scope="module")
def reference_tree(reference_doc):
    return tree(reference_doc)


def _values_ingresses(t: dict) -> list[tuple[str, dict, list]]:
    """(file, annotations, tls) of every ingress in the rendered values, in each chart's shape."""
    out = []
    for path, text in t.items():
        if not path.startswith("k8s/values/") and path != "k8s/bootstrap/argocd-values.yaml":
            continue
        values = _yaml().load(text) or {}
        ing = (values.get("server") or {}).get("ingress") if "argocd" in path else values.get("ingress")
        if not ing:
            continue
        if "main" in ing:  # app-template
            ing = ing["main"]
        out.append((path, ing.get("annotations") or {}, ing.get("tls") or ing.get("extraTls") or []))
    return out


def test_every_rendered_ingress_has_tls_from_the_internal_issuer(reference_doc, reference_tree):
    ingresses = _values_ingresses(reference_tree)
    assert len(ingresses) == sum(1 for a in reference_doc.lab.apps if a.ingress) + 1 == 15  # every app + ArgoCD
    for path, ann, tls in ingresses:
        assert ann == {"cert-manager.io/cluster-issuer": "homelab-ca"}, path
        assert len(tls) == 1 and tls[0]["secretName"] == tls[0]["hosts"][0].replace(".", "-") + "-tls", path


def test_external_hosts_get_lets_encrypt_and_the_rest_stays_internal(reference_path):
    def mutate(data):
        data["pki"]["letsencrypt"] = {"enabled": True, "email": "admin@thewortmans.org", "staging": False,
                                      "hosts": ["files.lab.thewortmans.org"],
                                      "dns01": {"provider": "cloudflare", "api_token": "apps/cloudflare#api_token"}}
        data["vault"]["secrets"].append({"path": "apps/cloudflare", "fields": ["api_token"]})
    t = tree(lab(reference_path, mutate))
    issuers = {path: ann for path, ann, _ in _values_ingresses(t)}
    assert issuers["k8s/values/copyparty.yaml"] == {"cert-manager.io/cluster-issuer": "letsencrypt"}
    assert issuers["k8s/values/sonarr.yaml"] == {"cert-manager.io/cluster-issuer": "homelab-ca"}
    objs = docs(t["k8s/platform/cert-manager-issuers.yaml"])
    le = next(o for o in objs if o["kind"] == "ClusterIssuer" and o["metadata"]["name"] == "letsencrypt")
    assert le["spec"]["acme"]["server"] == "https://acme-v02.api.letsencrypt.org/directory"
    solver = le["spec"]["acme"]["solvers"][0]
    assert solver["dns01"]["cloudflare"]["apiTokenSecretRef"] == {"name": "letsencrypt-dns01", "key": "api-token"}
    assert solver["selector"] == {"dnsNames": ["files.lab.thewortmans.org"]}
    token = next(o for o in objs if o["kind"] == "ExternalSecret")
    assert token["spec"]["data"] == [{"secretKey": "api-token",
                                      "remoteRef": {"key": "apps/cloudflare", "property": "api_token"}}]
    assert "api_token" not in t["k8s/platform/cert-manager-issuers.yaml"].split("property")[0]  # a reference only


def test_step_ca_issuer_is_acme_with_the_root_as_ca_bundle(reference_path):
    t = tree(lab(reference_path, with_root))
    issuer = docs(t["k8s/platform/cert-manager-issuers.yaml"])[0]
    acme = issuer["spec"]["acme"]
    assert acme["server"] == "https://ca.lab.thewortmans.org:9000/acme/acme/directory"
    assert base64.b64decode(acme["caBundle"]).decode() == ROOT_PEM
    assert acme["solvers"] == [{"http01": {"ingress": {"ingressClassName": "traefik"}}}]


def test_vault_issuer_uses_the_cert_manager_approle_synced_by_external_secrets(reference_path):
    t = tree(lab(reference_path, lambda d: (vault_ca(d), with_root(d), d["vault"]["policies"]["external-secrets"]
                                             ["rules"].append({"secrets": "pki/cert-manager", "capabilities": ["read"]}))))
    objs = docs(t["k8s/platform/cert-manager-issuers.yaml"])
    issuer = next(o for o in objs if o["kind"] == "ClusterIssuer")
    vault = issuer["spec"]["vault"]
    assert vault["server"] == "https://vault.lab.thewortmans.org:8200"
    assert vault["path"] == "pki_int/sign/cert-manager"
    assert vault["auth"] == {"appRole": {"path": "approle", "roleId": "cert-manager",
                                         "secretRef": {"name": "vault-approle", "key": "secretId"}}}
    secret = next(o for o in objs if o["kind"] == "ExternalSecret")
    assert secret["metadata"]["namespace"] == "cert-manager"
    assert secret["spec"]["data"][0]["remoteRef"] == {"key": "pki/cert-manager", "property": "secret_id"}
    assert "homelab/requires" not in issuer["metadata"]["annotations"]


def test_the_root_becomes_the_trust_bundle_and_the_external_secrets_store_reads_it(reference_path, reference_tree):
    store = docs(reference_tree["k8s/platform/external-secrets-store.yaml"])[0]
    assert "homelab pki init" in store["metadata"]["annotations"]["homelab/requires"]  # no root recorded yet
    assert "k8s/platform/trust-bundle.yaml" not in reference_tree
    t = tree(lab(reference_path, with_root))
    bundle = docs(t["k8s/platform/trust-bundle.yaml"])
    namespaces = {d["metadata"]["name"] for d in docs(t["k8s/platform/namespaces.yaml"])}
    assert {d["metadata"]["namespace"] for d in bundle} == namespaces
    assert all(d["data"]["ca.crt"] == ROOT_PEM for d in bundle)
    store = docs(t["k8s/platform/external-secrets-store.yaml"])[0]
    assert store["spec"]["provider"]["vault"]["caProvider"] == {
        "type": "ConfigMap", "name": "homelab-ca", "key": "ca.crt", "namespace": "external-secrets"}
    assert "ConfigMap" not in store["metadata"]["annotations"]["homelab/requires"]


def test_velero_and_democratic_csi_verify_truenas_with_the_root(reference_path, reference_tree):
    velero = _yaml().load(reference_tree["k8s/values/platform/velero.yaml"])
    bsl = velero["configuration"]["backupStorageLocation"][0]
    assert "caCert" not in bsl and "insecureSkipTLSVerify" not in bsl["config"]  # root not recorded yet
    t = tree(lab(reference_path, with_root))
    bsl = _yaml().load(t["k8s/values/platform/velero.yaml"])["configuration"]["backupStorageLocation"][0]
    assert base64.b64decode(bsl["caCert"]).decode() == ROOT_PEM
    csi = _yaml().load(t["k8s/values/platform/democratic-csi-iscsi.yaml"])
    assert csi["controller"]["driver"]["extraEnv"] == [{"name": "NODE_EXTRA_CA_CERTS", "value": "/etc/homelab-ca/ca.crt"}]
    assert csi["controller"]["extraVolumes"] == [{"name": "homelab-ca", "configMap": {"name": "homelab-ca"}}]
    config = docs(t["k8s/platform/democratic-csi-secrets.yaml"])[0]["spec"]["target"]["template"]["data"]
    assert "allowInsecure: false" in config["driver-config-file.yaml"]

    def no_truenas_cert(data):
        with_root(data)
        data["pki"]["certificates"] = []
    t = tree(lab(reference_path, no_truenas_cert))
    config = docs(t["k8s/platform/democratic-csi-secrets.yaml"])[0]["spec"]["target"]["template"]["data"]
    assert "allowInsecure: true" in config["driver-config-file.yaml"]  # the lab's CA does not vouch for it


def test_traefik_redirects_http_to_https(reference_tree):
    web = _yaml().load(reference_tree["k8s/values/platform/traefik.yaml"])["ports"]["web"]
    assert web["http"]["redirections"]["entryPoint"] == {"to": "websecure", "scheme": "https", "permanent": True}
    assert web["allowACMEByPass"] is True  # step-ca's HTTP-01 challenges still reach cert-manager's solver


def test_pihole_serves_every_vm_ingress_api_vault_ca_and_declared_host(reference_doc, reference_tree):
    lines = _yaml().load(reference_tree["k8s/values/pihole.yaml"])["dnsmasq"]["additionalHostsEntries"]
    pairs = {tuple(line.split()) for line in lines}
    lab = reference_doc.lab
    for vm in reference_doc.inventory.vms:
        assert (vm.ip, vm.fqdn) in pairs
    for app in lab.apps:
        if app.ingress:
            assert ("192.168.10.201", app.ingress) in pairs, app.name
    assert {ip for ip, name in pairs if name == "cp.lab.thewortmans.org"} == {
        "192.168.10.71", "192.168.10.72", "192.168.10.73"}
    assert ("192.168.10.50", "vault.lab.thewortmans.org") in pairs
    assert ("192.168.10.51", "ca.lab.thewortmans.org") in pairs
    assert ("192.168.10.10", "truenas.lab.thewortmans.org") in pairs
    assert ("192.168.10.201", "argocd.lab.thewortmans.org") in pairs
    assert len(pairs) == len(lines) == sum(len(v) for v in served(lab, reference_doc.inventory).values())
    names = [line.split()[1] for line in lines]
    assert names == sorted(names)  # deterministic order


def test_records_know_where_each_name_comes_from(reference_doc):
    by_name = {}
    for rec in records(reference_doc.lab, reference_doc.inventory):
        by_name.setdefault(rec.name, []).append(rec)
    assert [r.source for r in by_name["watch.lab.thewortmans.org"]] == [("apps", 0, "ingress")]
    assert {r.group for r in by_name["cp.lab.thewortmans.org"]} == {"k3s-api"}
