"""What the lab's CA looks like inside Vault (pure): mounts, the issuing roles, their policies and the auth
roles that may use them. The plan (plan/desired/vault_pki.py) carries it, the Vault engine writes it.

Least privilege, one role per client:

- each host certificate `X` has PKI role `X` on the intermediate mount that allows exactly its names and
  addresses, policy `pki-X` that may only issue from that role, and a cert auth role `X` that trusts the
  CA chain, accepts only X's common name and hands out a short token with `pki-X`. The renewal timer
  on the host logs in with the certificate it is about to renew: no other secret lives on the host.
- cert-manager (when it uses Vault: `pki.ca: vault`) has PKI role `cert-manager`: server certificates
  for names below the lab's domain (no IP SANs, no wildcards), policy `pki-cert-manager` (sign and issue
  with that role only) and the AppRole `cert-manager` with that policy. Its role id is the fixed string
  `cert-manager` (rendered into the ClusterIssuer); its secret id is kept in KV at `pki/cert-manager`.
"""

from __future__ import annotations

from dataclasses import dataclass

from homelab.lab.certificates import cert_manager_on, certificates, duration_seconds, is_ip

CERT_AUTH = "cert"
APPROLE = "approle"
CERT_MANAGER = "cert-manager"
KV_CERT_MANAGER = "pki/cert-manager"  # role_id, secret_id of the cert-manager AppRole
KV_STEP_CA = "pki/step-ca"  # root_cert, intermediate_cert, intermediate_key of step-ca
TOKEN_TTL = 300  # seconds: a renewal needs one request


@dataclass(frozen=True)
class PkiRole:
    name: str
    params: dict  # the PKI role, as Vault reads it back
    policy: str  # HCL of pki-<name>
    auth: str  # cert | approle
    common_names: tuple[str, ...]  # cert auth: the only CN that may log in
    source: tuple = ()


def policy_name(role: str) -> str:
    return f"pki-{role}"


def root_common_name(lab) -> str:
    return lab.pki.vault.common_name or f"{lab.name} Root CA"


def intermediate_common_name(lab) -> str:
    return f"{root_common_name(lab).removesuffix(' Root CA')} Intermediate CA"


def step_ca_common_name(lab) -> str:
    return f"{root_common_name(lab).removesuffix(' Root CA')} step-ca Intermediate CA"


def _policy(mount: str, role: str, verbs: tuple[str, ...]) -> str:
    blocks = [f'path "{mount}/{verb}/{role}" {{\n  capabilities = ["create", "update"]\n}}\n' for verb in verbs]
    return f"# {policy_name(role)}: may only {' and '.join(verbs)} with PKI role {mount}/{role}.\n" + "\n".join(blocks)


def _host_params(lab, cert) -> dict:
    ttl = duration_seconds(lab.pki.certificate_ttl)
    dns = sorted({s for s in cert.dns_names if s != "localhost"})
    ips = sorted(cert.ip_sans)
    return {
        "allowed_domains": dns, "allow_bare_domains": True, "allow_subdomains": False,
        "allow_glob_domains": False, "allow_wildcard_certificates": False, "allow_any_name": False,
        "allow_localhost": "localhost" in cert.sans, "enforce_hostnames": True,
        "allow_ip_sans": bool(ips), "allowed_ip_sans_cidr": [f"{ip}/32" for ip in ips],
        # client_flag: the renewal logs in to Vault's cert auth with it, Elasticsearch transport is mutual TLS.
        "server_flag": True, "client_flag": True, "key_type": "ec", "key_bits": 256,
        "ttl": ttl, "max_ttl": ttl,
    }


def _cert_manager_params(lab) -> dict:
    ttl = duration_seconds(lab.pki.certificate_ttl)
    return {
        "allowed_domains": [lab.network.domain], "allow_bare_domains": False, "allow_subdomains": True,
        "allow_glob_domains": False, "allow_wildcard_certificates": False, "allow_any_name": False,
        "allow_localhost": False, "enforce_hostnames": True, "allow_ip_sans": False,
        "server_flag": True, "client_flag": False, "key_type": "any", "ttl": ttl, "max_ttl": ttl,
    }


def pki_roles(lab, inventory) -> list[PkiRole]:
    mount = lab.pki.vault.intermediate_mount
    out = [PkiRole(c.name, _host_params(lab, c), _policy(mount, c.name, ("issue",)), CERT_AUTH,
                   (c.common_name,), c.source)
           for c in certificates(lab, inventory).certificates if not is_ip(c.common_name)]
    if lab.pki.ca == "vault" and cert_manager_on(lab):
        out.append(PkiRole(CERT_MANAGER, _cert_manager_params(lab), _policy(mount, CERT_MANAGER, ("sign", "issue")),
                           APPROLE, (), ("pki", "cert_manager")))
    return sorted(out, key=lambda r: r.name)
