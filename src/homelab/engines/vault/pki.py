"""The Vault engine's PKI handlers: what one change of `vault_pki.*` or `vault_pki_role.*` does, and the
live facts of those resources (plan/desired/vault_pki.py decides what should exist).

  vault_pki.<mount>  create: enable the PKI engine, generate the root (kind root) or an intermediate
                     signed by the parent mount's root (kind intermediate), set the CA/CRL URLs.
                     A mount that already has a CA is kept as it is: homelab never replaces a CA (a
                     different common name is an error saying so). delete: refused.
  vault_pki.step-ca  create: a key and CSR made here (cryptography), signed by the root; certificate,
                     key and root are written to KV (pki/step-ca) for the step_ca role. Kept once there.
  vault_pki_role.X   create/update: the PKI role X, the policy pki-X, and the auth role clients log in
                     with (cert: trusts the CA chain, accepts only X's common name; approle: role id
                     `cert-manager`, a secret id generated once and kept in KV). delete: all three.

Facts: a CA's common name (and for an intermediate, which mount's root signed it); a role's digest
(over the fields the plan sets), its policy's sha256 and whether its login works (`auth`).
"""

from __future__ import annotations

import hashlib

from homelab.engines.vault.client import VaultApi, VaultError
from homelab.lab.pki_roles import APPROLE, KV_CERT_MANAGER, policy_name
from homelab.plan.desired.common import digest

KINDS = ("vault_pki", "vault_pki_role")
STEP_CA = "step-ca"


def _cn(pem: str | None) -> str | None:
    if not pem:
        return None
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    cert = x509.load_pem_x509_certificate(pem.encode())
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(names[0].value) if names else None


def _issuer_cn(pem: str) -> str | None:
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    names = x509.load_pem_x509_certificate(pem.encode()).issuer.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(names[0].value) if names else None


def _mounts(api: VaultApi) -> dict:
    return api.list_mounts()


# --------------------------------------------------------------------------------------- facts


def read_live(api: VaultApi, addresses: list[str], desired_params: dict[str, dict]) -> dict[str, dict]:
    out: dict[str, dict] = {}
    mounts = None
    for address in sorted(set(addresses)):
        kind, _, name = address.partition(".")
        if kind == "vault_pki" and name == STEP_CA:
            got = api.kv_read("pki/step-ca")
            if got and got[0].get("intermediate_cert") and got[0].get("intermediate_key"):
                out[address] = {"common_name": _cn(got[0]["intermediate_cert"])}
        elif kind == "vault_pki":
            mounts = mounts if mounts is not None else _mounts(api)
            if (mounts.get(f"{name}/") or {}).get("type") != "pki":
                continue
            pem = api.pki_ca(name)
            if pem:
                live = {"common_name": _cn(pem)}
                issuer = _issuer_cn(pem)
                for other, m in mounts.items():
                    if other != f"{name}/" and m.get("type") == "pki" and _cn(api.pki_ca(other.rstrip("/"))) == issuer:
                        live["parent"] = other.rstrip("/")
                out[address] = live
        elif kind == "vault_pki_role":
            want = desired_params.get(name) or {}
            mount, params = want.get("mount"), want.get("params") or {}
            role = api.role_read(f"{mount}/roles/{name}") if mount else None
            if role is None:
                continue
            seen = {k: role.get(k, params[k]) for k in params}  # fields this Vault does not know: as asked
            for k, v in seen.items():
                if isinstance(v, list):
                    seen[k] = sorted(v)
            policy = api.read_policy(policy_name(name))
            out[address] = {"role": digest(seen),
                            "policy_sha256": hashlib.sha256(policy.encode()).hexdigest() if policy else None,
                            "auth": _auth_state(api, name, want)}
    return out


def _auth_state(api: VaultApi, name: str, want: dict) -> str:
    if want.get("auth_method") == APPROLE:
        stored = api.kv_read(KV_CERT_MANAGER)
        if api.role_read(f"auth/approle/role/{name}") is None:
            return "no AppRole"
        if not stored or not stored[0].get("secret_id"):
            return f"no secret id at {api.kv_mount}/{KV_CERT_MANAGER}"
        return "ok" if _approle_works(api, name, stored[0]["secret_id"]) else "the stored secret id is refused"
    role = api.role_read(f"auth/cert/certs/{name}")
    if role is None:
        return "no cert auth role"
    return "ok" if sorted(role.get("allowed_common_names") or []) == sorted(want.get("common_names") or []) \
        else "cert auth role accepts other names"


def _approle_works(api: VaultApi, role: str, secret_id: str) -> bool:
    anon = api.factory(api.url, token=None, verify=api.verify)
    try:
        token = anon.auth.approle.login(role_id=role, secret_id=secret_id)["auth"]["client_token"]
    except Exception:  # noqa: BLE001 - refused or unreachable: not working
        return False
    from homelab.secrets import REDACTOR

    REDACTOR.add(token)
    return True


# --------------------------------------------------------------------------------------- changes


def apply_pki(api: VaultApi, base_url: str, change) -> str:
    name = change.address.partition(".")[2]
    if change.action == "delete":
        raise VaultError(f"homelab never deletes a CA ({change.address}): every certificate it issued would "
                         "lose its issuer", "disable the mount by hand if you really mean it")
    after = change.after or {}
    if after.get("kind") == "step-ca":
        return _step_ca(api, after)
    mount, cn = name, after["common_name"]
    mounts = _mounts(api)
    if f"{mount}/" in mounts and mounts[f"{mount}/"].get("type") != "pki":
        raise VaultError(f"{mount}/ is mounted as {mounts[f'{mount}/'].get('type')}, not pki",
                         "choose other mounts in pki.vault")
    if f"{mount}/" not in mounts:
        api.enable_pki(mount, f"{after['ttl']}s")
    existing = api.pki_ca(mount)
    if existing:
        if _cn(existing) != cn:
            raise VaultError(f"{mount}/ already holds the CA {_cn(existing)!r}, not {cn!r}; homelab never replaces "
                             "a CA", "set pki.vault.common_name back, or rotate the CA by hand")
        return f"CA {cn!r} already there"
    if after.get("kind") == "root":
        api.pki_generate(mount, "root/generate/internal", cn, ttl=f"{after['ttl']}s", issuer_name="root")
    else:
        csr = api.pki_generate(mount, "intermediate/generate/internal", cn)["csr"]
        api.pki_set_signed(mount, api.pki_sign_intermediate(after["parent"], csr, cn, f"{after['ttl']}s"))
    api.pki_config_urls(mount, base_url)
    return f"{after['kind']} CA {cn!r} generated"


def _step_ca(api: VaultApi, after: dict) -> str:
    path = after["kv_path"]
    got = api.kv_read(path)
    if got and got[0].get("intermediate_cert") and got[0].get("intermediate_key"):
        return f"step-ca's intermediate is kept at {api.kv_mount}/{path}"
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    from homelab.secrets import REDACTOR

    key = ec.generate_private_key(ec.SECP256R1())
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    REDACTOR.add(key_pem)
    csr = (x509.CertificateSigningRequestBuilder()
           .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, after["common_name"])]))
           .sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM).decode())
    bundle = api.pki_sign_intermediate(after["parent"], csr, after["common_name"], f"{after['ttl']}s")
    cert = bundle.split("-----END CERTIFICATE-----")[0] + "-----END CERTIFICATE-----\n"
    root = api.pki_ca(after["parent"]) or ""
    api.kv_write(path, {"root_cert": root, "intermediate_cert": cert, "intermediate_key": key_pem})
    return f"step-ca's intermediate signed by the root and kept at {api.kv_mount}/{path}"


def apply_role(api: VaultApi, change) -> str:
    name = change.address.partition(".")[2]
    before, after = change.before or {}, change.after or {}
    if change.action == "delete":
        mount = before.get("mount") or "pki_int"
        method = before.get("auth_method") or "cert"
        auth_path = f"auth/approle/role/{name}" if method == APPROLE else f"auth/cert/certs/{name}"
        for path in (f"{mount}/roles/{name}", auth_path):
            with api._t(f"delete {path}"):
                api.client.delete(path)
        api.delete_policy(policy_name(name))
        return "role, policy and login deleted"
    mount = after["mount"]
    api.role_write(f"{mount}/roles/{name}", after["params"])
    api.write_policy(policy_name(name), after["policy"])
    login = {"token_policies": [policy_name(name)], "token_ttl": 300, "token_max_ttl": 600}
    if after.get("auth_method") == APPROLE:
        api.role_write(f"auth/approle/role/{name}", {**login, "secret_id_ttl": 0, "secret_id_num_uses": 0})
        api.role_write(f"auth/approle/role/{name}/role-id", {"role_id": name})
        stored = api.kv_read(KV_CERT_MANAGER)
        if stored and stored[0].get("secret_id") and _approle_works(api, name, stored[0]["secret_id"]):
            return f"PKI role, policy {policy_name(name)} and AppRole written; secret id kept"
        api.kv_write(KV_CERT_MANAGER, {"role_id": name, "secret_id": api.approle_secret_id(name)})
        return f"PKI role, policy {policy_name(name)} and AppRole written; new secret id at {api.kv_mount}/{KV_CERT_MANAGER}"
    chain = api.pki_ca_chain(mount)
    api.role_write(f"auth/cert/certs/{name}", {**login, "certificate": chain,
                                                "allowed_common_names": after.get("common_names") or []})
    return f"PKI role, policy {policy_name(name)} and cert login written"
