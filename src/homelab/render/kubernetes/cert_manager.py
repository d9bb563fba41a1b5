"""cert-manager's issuers, the cluster's trust bundle, and how every Ingress gets its certificate.

- `k8s/platform/cert-manager-issuers.yaml`: the ClusterIssuer of the internal CA (`pki.cert_manager.issuer`)
  and, with `pki.letsencrypt`, the Let's Encrypt one (ACME DNS-01). Internal CA:
  - `pki.ca: step-ca`: ACME against step-ca's provisioner (`<url>/acme/<provisioner>/directory`), HTTP-01
    answered through Traefik (whose http->https redirect lets ACME challenges through: charts.traefik);
    step-ca's certificate is verified with the lab's root (`caBundle`).
  - `pki.ca: vault`: Vault's PKI (`<intermediate>/sign/cert-manager`, the least-privilege role of
    lab/pki_roles.py), logged in with the AppRole `cert-manager` (role id rendered; the secret id synced by
    external-secrets from KV `pki/cert-manager`, or created out of band).
  Field names: cert-manager v1.21.1 `deploy/crds/cert-manager.io_clusterissuers.yaml` (spec.acme.{server,
  email, caBundle, privateKeySecretRef, solvers[].http01.ingress.ingressClassName, solvers[].dns01.
  {cloudflare.apiTokenSecretRef, rfc2136.{nameserver, tsigKeyName, tsigAlgorithm, tsigSecretSecretRef}}},
  spec.vault.{server, path, caBundle, auth.appRole.{path, roleId, secretRef}}).
- `k8s/platform/trust-bundle.yaml`: ConfigMap `homelab-ca` (key `ca.crt`, the root recorded in
  `pki.root_ca`) in every namespace of the lab: what pods mount to trust the lab's services; the
  External Secrets store reads Vault's CA from it.

Every Ingress homelab renders carries `cert-manager.io/cluster-issuer: <issuer of its host>` and a `tls`
entry naming the Secret `<host with dashes>-tls`: cert-manager's ingress-shim (on by default in the chart)
makes a Certificate for it and keeps it renewed (chosen over explicit Certificates: the Ingress is the one
place that names the host, the issuer and the Secret, whatever chart renders it).
"""

from __future__ import annotations

import base64

from homelab.lab.certificates import cert_manager_on, ingress_issuer, tls_secret
from homelab.lab.pki_roles import CERT_MANAGER, KV_CERT_MANAGER
from homelab.lab.refs import parse_ref
from homelab.lab.vault_access import external_secrets_on, vault_server
from homelab.render.base import RenderedFile
from homelab.render.kubernetes.common import WAVES, crd_options, meta, yaml_file
from homelab.render.kubernetes.external_secrets import VAULT_CA_CONFIGMAP as TRUST_BUNDLE
from homelab.render.kubernetes.external_secrets import external_secret
from homelab.render.kubernetes.namespaces import namespaces

ISSUER_ANNOTATION = "cert-manager.io/cluster-issuer"
APPROLE_SECRET = {"name": "vault-approle", "key": "secretId"}
DNS01_SECRET = "letsencrypt-dns01"
LETSENCRYPT = {True: "https://acme-staging-v02.api.letsencrypt.org/directory",
               False: "https://acme-v02.api.letsencrypt.org/directory"}


def root_bundle(lab) -> str | None:
    """The recorded root, base64 (what `caBundle` fields take), or None before `homelab pki init`."""
    pem = lab.pki.root_ca
    return base64.b64encode(pem.strip().encode() + b"\n").decode() if pem else None


# ----------------------------------------------------------------------------------------- ingress


def ingress_annotations(lab, host: str | None) -> dict:
    return {ISSUER_ANNOTATION: ingress_issuer(lab, host)} if host and cert_manager_on(lab) else {}


def ingress_tls_entry(lab, host: str) -> dict:
    """`{hosts: [host]}` and, with cert-manager, the Secret its certificate goes to (ingress-shim)."""
    return {"hosts": [host], "secretName": tls_secret(host)} if cert_manager_on(lab) else {"hosts": [host]}


# ----------------------------------------------------------------------------------------- issuers


def internal_issuer(lab) -> dict:
    pki = lab.pki
    ca = root_bundle(lab)
    if pki.ca == "step-ca" and pki.step_ca:
        acme: dict = {
            "server": f"{pki.step_ca.url.rstrip('/')}/acme/{pki.step_ca.provisioner}/directory",
            "privateKeySecretRef": {"name": f"{pki.cert_manager.issuer}-acme-account"},
            "solvers": [{"http01": {"ingress": {"ingressClassName": "traefik"}}}],
        }
        if ca:
            acme["caBundle"] = ca
        spec: dict = {"acme": acme}
    else:
        vault: dict = {
            "server": vault_server(lab) or "",
            "path": f"{pki.vault.intermediate_mount}/sign/{CERT_MANAGER}",
            "auth": {"appRole": {"path": "approle", "roleId": CERT_MANAGER,
                                 "secretRef": dict(APPROLE_SECRET)}},
        }
        if ca:
            vault["caBundle"] = ca
        spec = {"vault": vault}
    requires = issuer_requires(lab)
    ann = {**crd_options(), **({"homelab/requires": requires} if requires else {})}
    return {"apiVersion": "cert-manager.io/v1", "kind": "ClusterIssuer",
            "metadata": meta(pki.cert_manager.issuer, wave=WAVES["platform-config"], annotations=ann),
            "spec": spec}


def letsencrypt_issuer(lab) -> dict:
    le = lab.pki.letsencrypt
    dns = le.dns01
    if dns is not None and dns.provider == "cloudflare":
        solver = {"cloudflare": {"apiTokenSecretRef": {"name": DNS01_SECRET, "key": "api-token"}}}
    elif dns is not None:
        solver = {"rfc2136": {"nameserver": dns.nameserver or "", "tsigKeyName": dns.tsig_key_name or "",
                              "tsigAlgorithm": dns.tsig_algorithm,
                              "tsigSecretSecretRef": {"name": DNS01_SECRET, "key": "tsig-secret"}}}
    else:
        solver = {}
    acme = {"server": LETSENCRYPT[le.staging], "email": le.email or "",
            "privateKeySecretRef": {"name": f"{le.issuer}-account"},
            "solvers": [{"dns01": solver, "selector": {"dnsNames": sorted(le.hosts)}}] if solver else []}
    return {"apiVersion": "cert-manager.io/v1", "kind": "ClusterIssuer",
            "metadata": meta(le.issuer, wave=WAVES["platform-config"], annotations=crd_options()),
            "spec": {"acme": acme}}


def issuer_secrets(lab) -> list[dict]:
    """ExternalSecrets for what the issuers log in with (in cert-manager's namespace)."""
    if not external_secrets_on(lab):
        return []
    ns = lab.platform.cert_manager.namespace
    out = []
    if lab.pki.ca == "vault":
        out.append(external_secret(APPROLE_SECRET["name"], ns, [(APPROLE_SECRET["key"], KV_CERT_MANAGER, "secret_id")],
                                   wave=WAVES["platform-secrets"],
                                   description="The secret id of Vault AppRole cert-manager (homelab pki init)"))
    dns = lab.pki.letsencrypt.dns01
    ref = (dns.api_token if dns.provider == "cloudflare" else dns.tsig_secret) if dns else None
    if lab.pki.letsencrypt.enabled and ref:
        path, fields = parse_ref(ref)
        key = "api-token" if dns.provider == "cloudflare" else "tsig-secret"
        out.append(external_secret(DNS01_SECRET, ns, [(key, path, fields[0])], wave=WAVES["platform-secrets"],
                                   description="Let's Encrypt DNS-01 credentials from Vault"))
    return out


def issuer_requires(lab) -> str:
    """What the internal issuer needs that is not rendered (nothing when external-secrets syncs it)."""
    if lab.pki.ca == "vault" and not external_secrets_on(lab):
        ns = lab.platform.cert_manager.namespace
        return (f"Secret {ns}/{APPROLE_SECRET['name']} (key {APPROLE_SECRET['key']}: the secret id at "
                f"{lab.vault.kv_mount}/{KV_CERT_MANAGER}, field secret_id)")
    return ""


# ------------------------------------------------------------------------------------ trust bundle


def trust_bundle(lab) -> list[dict]:
    if not lab.pki.root_ca:
        return []
    from homelab.render.serializers import LiteralStr

    return [{"apiVersion": "v1", "kind": "ConfigMap",
             "metadata": meta(TRUST_BUNDLE["name"], ns, wave=WAVES["operator-config"],
                              annotations={"homelab/description": "The lab's root CA (pki.root_ca)"}),
             "data": {TRUST_BUNDLE["key"]: LiteralStr(lab.pki.root_ca.strip() + "\n")}}
            for ns in sorted(set(namespaces(lab)))]


def files(lab) -> list[RenderedFile]:
    out = []
    if cert_manager_on(lab):
        docs = [internal_issuer(lab)]
        if lab.pki.letsencrypt.enabled:
            docs.append(letsencrypt_issuer(lab))
        out.append(yaml_file("k8s/platform/cert-manager-issuers.yaml", [*issuer_secrets(lab), *docs],
                             "cert-manager ClusterIssuers: the lab's internal CA"
                             + (" and Let's Encrypt (DNS-01) for the hosts marked external" if lab.pki.letsencrypt.enabled
                                else "") + ".\nEvery Ingress names its issuer (cert-manager.io/cluster-issuer)."))
    bundle = trust_bundle(lab)
    if bundle:
        out.append(yaml_file("k8s/platform/trust-bundle.yaml", bundle,
                             "The lab's root CA in every namespace (ConfigMap homelab-ca, key ca.crt)."))
    return out
