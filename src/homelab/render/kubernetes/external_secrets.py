"""External Secrets: the Vault `ClusterSecretStore`, `ExternalSecret`s, and the Secrets apps read.

- `k8s/platform/external-secrets-store.yaml`: a `ClusterSecretStore` for Vault KV v2. It logs in with
  userpass as the lab's dedicated Vault user for it (see `external_secrets_user`: read-only, reads every
  path the ExternalSecrets use and no other secret tree; the reference lab's `external-secrets` user and
  policy), the password in a Secret created out of band. Without such a user (or without userpass) it
  falls back to a token from an out-of-band Secret. Credentials are never rendered.
- `k8s/apps/<ns>/<app>.secrets.yaml`: one `ExternalSecret` per app that uses Vault fields, syncing them
  into the Secret `<app>-secrets` (path and field only, never a value). The keys of that Secret and the
  environment variables they become (`app_secret_keys`) are shared with the chart values and ArgoCD.

`external_secret()` builds every ExternalSecret of the package (the platform ones are in `storage.py`
and `velero.py`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from homelab.lab.vault_access import (
    external_secret_paths,
    external_secrets_on,
    external_secrets_user,
    vault_server,
)
from homelab.render.base import RenderedFile
from homelab.render.kubernetes.common import WAVES, crd_options, meta, sorted_apps, yaml_file
from homelab.render.serializers import LiteralStr

SECRET_STORE = "vault"
VAULT_TOKEN_SECRET = {"name": "vault-token", "key": "token"}
VAULT_PASSWORD_SECRET = {"name": "vault-userpass", "key": "password"}
USERPASS_MOUNT = "userpass"  # where `homelab vault configure` enables userpass
# The lab's root CA in every namespace (cert_manager.trust_bundle, from pki.root_ca): Vault's certificate
# is issued by it.
VAULT_CA_CONFIGMAP = {"name": "homelab-ca", "key": "ca.crt"}


# ------------------------------------------------------------------------------ the Secrets apps read


def env_name(field_name: str) -> str:
    name = re.sub(r"[^A-Za-z0-9_]", "_", field_name).upper()
    return name if not name[:1].isdigit() else f"_{name}"


def app_secret_name(app) -> str:
    return f"{app.name}-secrets"


@dataclass(frozen=True)
class SecretKey:
    path: str  # Vault KV path below the mount
    field: str
    key: str  # key inside the Kubernetes Secret
    env: str  # environment variable in the container


def app_secret_keys(app) -> list[SecretKey]:
    """Each distinct (path, field) the app uses, with its key in `<app>-secrets` and its env var name."""
    uses: dict[tuple[str, str], SecretKey] = {}
    fields = [u.field for u in app.secrets]
    for use in app.secrets:
        if (use.path, use.field) in uses:
            continue
        key = use.field if fields.count(use.field) == 1 else f"{use.path.replace('/', '_')}_{use.field}"
        uses[(use.path, use.field)] = SecretKey(use.path, use.field, key, use.env or env_name(use.field))
    return list(uses.values())


# -------------------------------------------------------------------------------- ClusterSecretStore


def store_login_user(lab):
    """The user the store logs in as with userpass, or None (then it presents a token)."""
    return external_secrets_user(lab) if "userpass" in lab.vault.auth else None


def store_credentials(lab) -> str:
    """The out-of-band Secret the ClusterSecretStore authenticates with (documented, never rendered)."""
    ns = lab.platform.external_secrets.namespace
    user = store_login_user(lab)
    if user is not None:
        return (f"Secret {ns}/{VAULT_PASSWORD_SECRET['name']} (key {VAULT_PASSWORD_SECRET['key']}: the Vault "
                f"password of user {user.name}, KV path automation/{user.name})")
    return f"Secret {ns}/{VAULT_TOKEN_SECRET['name']} (key {VAULT_TOKEN_SECRET['key']}: a read-only Vault token)"


def secret_store_object(lab) -> dict:
    vault = lab.vault
    ns = lab.platform.external_secrets.namespace
    user = store_login_user(lab)
    if user is not None:
        auth = {"userPass": {"path": USERPASS_MOUNT, "username": user.name,
                             "secretRef": {**VAULT_PASSWORD_SECRET, "namespace": ns}}}
    else:
        auth = {"tokenSecretRef": {**VAULT_TOKEN_SECRET, "namespace": ns}}
    requires = store_credentials(lab)
    provider: dict = {
        "server": vault_server(lab),
        "path": vault.kv_mount,
        "version": "v2",
        "auth": auth,
    }
    if vault.tls.ca in ("step-ca", "self-signed") and provider["server"].startswith("https://"):
        provider["caProvider"] = {"type": "ConfigMap", **VAULT_CA_CONFIGMAP, "namespace": ns}
        if not lab.pki.root_ca:  # rendered by cert_manager.trust_bundle once `homelab pki init` recorded the root
            requires += (f", ConfigMap {ns}/{VAULT_CA_CONFIGMAP['name']} (key {VAULT_CA_CONFIGMAP['key']}: the "
                         "lab's root CA; `homelab pki init` records it and it is rendered)")
    return {
        "apiVersion": "external-secrets.io/v1",
        "kind": "ClusterSecretStore",
        "metadata": meta(SECRET_STORE, wave=WAVES["operator-config"],
                         annotations={**crd_options(), "homelab/requires": requires}),
        "spec": {"provider": {"vault": provider}},
    }


def store_comment(lab) -> str:
    kv = lab.vault.kv_mount
    ns = lab.platform.external_secrets.namespace
    reads = "\n".join(f"  {kv}/data/{path}" for path in external_secret_paths(lab))
    user = external_secrets_user(lab)
    if user is not None and "userpass" in lab.vault.auth:
        pw = VAULT_PASSWORD_SECRET
        return (
            f"Vault KV v2 as a ClusterSecretStore. It logs in (userpass) as Vault user {user.name}, policies "
            f"{', '.join(user.policies)}:\nread-only, allowed to read what the ExternalSecrets use:\n"
            f"{reads}\n"
            f"The password is never rendered: create Secret {ns}/{pw['name']} (key {pw['key']}) out of band from\n"
            f"  homelab secrets get automation/{user.name} --reveal --field password\n"
            "and update it after `homelab vault rotate` changes that password.")
    if user is not None:
        who = f"carrying policies {', '.join(user.policies)} (those of Vault user {user.name})"
    else:
        who = "carrying a read-only policy (no lab user qualifies: rule external-secrets-policy-missing)"
    return (
        "Vault KV v2 as a ClusterSecretStore. Its token is created out of band (never rendered) in\n"
        f"Secret {ns}/{VAULT_TOKEN_SECRET['name']} (key {VAULT_TOKEN_SECRET['key']}), {who},\n"
        f"and must be allowed to read:\n{reads}")


# ------------------------------------------------------------------------------------ ExternalSecrets


def external_secret(name: str, namespace: str, data: list[tuple[str, str, str]], *, wave: int,
                    template: dict | None = None, description: str = "") -> dict:
    """ExternalSecret syncing Vault fields: data = [(secretKey, vault path, field)] (references only)."""
    target: dict = {"name": name, "creationPolicy": "Owner"}
    if template:
        target["template"] = template
    annotations = {**crd_options()}
    if description:
        annotations["homelab/description"] = description
    return {
        "apiVersion": "external-secrets.io/v1",
        "kind": "ExternalSecret",
        "metadata": meta(name, namespace, wave=wave, annotations=annotations),
        "spec": {
            "refreshInterval": "1h",
            "secretStoreRef": {"kind": "ClusterSecretStore", "name": SECRET_STORE},
            "target": target,
            "data": [{"secretKey": key, "remoteRef": {"key": path, "property": fld}} for key, path, fld in data],
        },
    }


def file_template(key: str, text: str) -> dict:
    """An ExternalSecret `target.template` whose Secret holds one file, `text` templated from the data."""
    return {"engineVersion": "v2", "data": {key: LiteralStr(text)}}


def app_external_secret(app) -> dict | None:
    keys = app_secret_keys(app)
    if not keys:
        return None
    return external_secret(app_secret_name(app), app.namespace, [(k.key, k.path, k.field) for k in keys],
                           wave=WAVES["app-secrets"], description=f"Secrets of {app.name} from Vault")


# -------------------------------------------------------------------------------------------- files


def store_files(lab) -> list[RenderedFile]:
    if not external_secrets_on(lab):
        return []
    return [yaml_file("k8s/platform/external-secrets-store.yaml", [secret_store_object(lab)], store_comment(lab))]


def app_secret_files(lab) -> list[RenderedFile]:
    if not external_secrets_on(lab):
        return []
    out = []
    for app in sorted_apps(lab):
        es = app_external_secret(app)
        if es is not None:
            out.append(yaml_file(f"k8s/apps/{app.namespace}/{app.name}.secrets.yaml", [es]))
    return out
