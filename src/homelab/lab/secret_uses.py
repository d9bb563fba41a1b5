"""Who holds a copy of a Vault secret, and what must be rolled after it changes (pure: the lab in, words out).

`homelab vault rotate` writes a new value to Vault; the services that took the old one keep it. This
module names them for one KV path, with what to do:

* the K3s join token (`clusters.k3s.token`): the servers keep it in their config and their datastore
  is encrypted with it (docs.k3s.io/cli/token: "the server token is also used as the PBKDF2
  passphrase ..."). It is changed with `k3s token rotate --token OLD --new-token NEW` on one server
  (K3s ≥ v1.28.1, k3s-io/k3s#8392), then every server and agent restarts with the new token. Until then
  a node joining with the value in Vault is refused.
* the `elastic` superuser's password (`elastic/cluster#elastic_password`, what the Elasticsearch role
  logs in with): Elasticsearch keeps its own copy; change it with the change-password API
  (`POST /_security/user/elastic/_password`), authenticated with the previous version.
* app secrets synced by External Secrets into `<app>-secrets` (refreshInterval 1h, or at once with the
  `force-sync` annotation — external-secrets.io, "Force ExternalSecret refresh"): the pods read them
  as environment variables when they start, so they must be restarted. Apps that use a value only to
  create their first admin keep the old password until it is changed in the app.
* the password of the Vault user the ClusterSecretStore logs in as: in an out-of-band Kubernetes Secret
  (render/kubernetes/external_secrets.py); until that is updated External Secrets cannot read Vault.
Automation users homelab itself logs in as (terraform, ansible, admin) read their password from Vault
on every run: nothing to roll.
"""

from __future__ import annotations

from dataclasses import dataclass

from homelab.lab.refs import parse_ref
from homelab.lab.vault_access import AUTOMATION_PREFIX, external_secrets_on, external_secrets_user

ELASTIC_PASSWORD = "elastic/cluster#elastic_password"  # what render/ansible.py gives the Elasticsearch role
ESO_PASSWORD_SECRET = "vault-userpass"  # render/kubernetes/external_secrets.py VAULT_PASSWORD_SECRET
ESO_REFRESH = "1h"  # render/kubernetes/external_secrets.py refreshInterval


@dataclass(frozen=True)
class Roll:
    """A holder of a secret's value and what to do after the value changed."""

    who: str
    then: str

    def to_json(self) -> dict:
        return {"who": self.who, "then": self.then}


def _k3s(lab, path: str) -> list[Roll]:
    k3s = lab.clusters.k3s
    if not k3s or parse_ref(k3s.token)[0] != path:
        return []
    field = parse_ref(k3s.token)[1][0] if parse_ref(k3s.token)[1] else "token"
    return [Roll("the K3s cluster: its join token (clusters.k3s.token); the servers encrypt their datastore "
                 "with it and every node has it in /etc/rancher/k3s/config.yaml",
                 f"on one server run `k3s token rotate --token <previous version> --new-token <new version>` "
                 f"(K3s v1.28.1 or later; values: `homelab secrets get {path} --field {field} --reveal "
                 "[--version N]`), then re-run the k3s playbook so every server and agent restarts with the new "
                 "token; until then a node joining with the token in Vault is refused")]


def _elastic(lab, path: str) -> list[Roll]:
    if not lab.clusters.elasticsearch or parse_ref(ELASTIC_PASSWORD)[0] != path:
        return []
    return [Roll("Elasticsearch: the `elastic` superuser's password, which the Elasticsearch, Kibana and Fleet "
                 "playbooks log in with; Elasticsearch keeps its own copy",
                 "change it in Elasticsearch with `POST /_security/user/elastic/_password` (body "
                 '{"password": <new version>}), authenticated as elastic with the previous version '
                 f"(`homelab secrets get {path} --field elastic_password --reveal --version N`); the playbooks "
                 "fail to log in until then")]


def _apps(lab, path: str) -> list[Roll]:
    out = []
    for app in lab.apps:
        if not any(use.path == path for use in app.secrets):
            continue
        secret = f"{app.namespace}/{app.name}-secrets"
        if external_secrets_on(lab):
            sync = (f"External Secrets copies it into Secret {secret} within {ESO_REFRESH} (at once: `kubectl -n "
                    f"{app.namespace} annotate externalsecret {app.name} force-sync=$(date +%s) --overwrite`)")
        else:
            sync = f"update Secret {secret}, which is created out of band (External Secrets is not deployed)"
        out.append(Roll(f"app {app.namespace}/{app.name}: reads it from Secret {secret} when it starts",
                        f"{sync}; then restart the app's pods (`kubectl -n {app.namespace} rollout restart "
                        f"deployment -l app.kubernetes.io/instance={app.name}`, a StatefulSet likewise). An app that uses the value only to create its first admin keeps "
                        "the old password until you change it in the app"))
    return out


def _store_user(lab, path: str) -> list[Roll]:
    if not external_secrets_on(lab) or "userpass" not in lab.vault.auth:
        return []
    user = external_secrets_user(lab)
    if user is None or path != f"{AUTOMATION_PREFIX}/{user.name}":
        return []
    ns = lab.platform.external_secrets.namespace
    return [Roll(f"External Secrets: the ClusterSecretStore logs in to Vault as {user.name} with the password in "
                 f"Secret {ns}/{ESO_PASSWORD_SECRET}",
                 f"update that Secret: `homelab secrets get {path} --field password --reveal | kubectl -n {ns} "
                 f"create secret generic {ESO_PASSWORD_SECRET} --from-file=password=/dev/stdin --dry-run=client "
                 "-o yaml | kubectl apply -f -`; until then no ExternalSecret can read Vault")]


def rolls_for(lab, path: str) -> list[Roll]:
    """Everything that keeps a copy of the secret at `path` (below the KV mount) and must be rolled."""
    path = path.strip("/")
    return [*_k3s(lab, path), *_elastic(lab, path), *_apps(lab, path), *_store_user(lab, path)]
