"""Apps and platform charts get what their images really read (issue 10, items 8, 9, 11-15), proven on the
Deployments the real charts template from the rendered values (helm_charts.py).

Facts the expectations come from (not from the renderer):
- paperless-ngx 2.17 docs/configuration.md: PAPERLESS_REDIS (start-up waits for Redis), PAPERLESS_ADMIN_PASSWORD
  "only used when PAPERLESS_ADMIN_USER is set", PAPERLESS_URL for logins through a proxy;
- Atinoda/text-generation-webui-docker scripts/docker-entrypoint.sh: EXTRA_LAUNCH_ARGS are appended to
  server.py, which binds 127.0.0.1 unless given --listen;
- linuxserver/docker-qbittorrent: no password variable (a temporary password is logged at first start);
  mealie: the first admin's password is the private _DEFAULT_PASSWORD, no setting;
- copyparty scripts/docker: ENTRYPOINT `python3 -m copyparty --no-crt -c /z/initcfg`; accounts are
  `-a user:pass`, volumes `-v src:dst:perm,user`; without -v, /w is read-write for anyone;
- kube-prometheus-stack 75.18.1 / grafana 9.3.1: `grafana.admin.existingSecret` replaces the default
  admin password `prom-operator`;
- velero 12.1.0 templates/backupstoragelocation.yaml: `caCert` (base64 PEM) and config entries.
"""

from __future__ import annotations

import base64
import io
import re

import pytest

from helm_charts import of_kind, pod_spec, render
from homelab.lab.load import load_text
from homelab.lab.models.gitops import Chart
from homelab.render import docs, kubernetes

# The Helm engine renders every chart here: a real engine, so the validators lane (make test) runs it.
pytestmark = pytest.mark.validators

APP_TEMPLATE = Chart(repo="https://bjw-s-labs.github.io/helm-charts", name="app-template", version="4.1.1")
KPS = Chart(repo="https://prometheus-community.github.io/helm-charts", name="kube-prometheus-stack",
            version="75.18.1")
VELERO = Chart(repo="https://vmware-tanzu.github.io/helm-charts", name="velero", version="12.1.0")


def _yaml():
    from ruamel.yaml import YAML

    return YAML(typ="safe")


def lab_doc(reference_path, mutate=None):
    data = _yaml().load(reference_path.read_text())
    if mutate:
        mutate(data)
    buf = io.StringIO()
    _yaml().dump(data, buf)
    return load_text(buf.getvalue(), "homelab.yaml")


@pytest.fixture(scope="module")
def tree(reference_doc):
    return {f.path: f.content for f in kubernetes.render(reference_doc)}


def values(tree, name: str) -> dict:
    return _yaml().load(tree[f"k8s/values/{name}.yaml"])


def app_manifests(tree, name: str, namespace: str):
    return render(APP_TEMPLATE, values(tree, name), name, namespace)


def container_env(container: dict) -> dict:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container.get("env", [])}


def main_container(manifests, deployment: str) -> dict:
    dep = next(d for d in of_kind(manifests, "Deployment") if d["metadata"]["name"] == deployment)
    return next(c for c in pod_spec(dep)["containers"] if c["name"] == "main")


# ------------------------------------------------------------------------------ item 8: paperless Redis


def test_paperless_gets_a_redis_it_can_reach(tree):
    manifests = app_manifests(tree, "paperless-ngx", "paperless")
    deployments = {d["metadata"]["name"]: d for d in of_kind(manifests, "Deployment")}
    paperless = next(d for n, d in deployments.items() if "redis" not in n)
    env = container_env(pod_spec(paperless)["containers"][0])
    m = re.fullmatch(r"redis://([a-z0-9-]+):(\d+)", env.get("PAPERLESS_REDIS") or "")
    assert m, f"PAPERLESS_REDIS is {env.get('PAPERLESS_REDIS')!r}: paperless waits for localhost:6379 and exits"
    host, port = m.group(1), int(m.group(2))
    svc = next((s for s in of_kind(manifests, "Service") if s["metadata"]["name"] == host), None)
    assert svc is not None, f"no Service {host} in the release"
    assert port in [p["port"] for p in svc["spec"]["ports"]]
    # The Service selects a Deployment whose container is a Redis listening on that port.
    backing = [d for d in deployments.values()
               if all(pod_spec_labels(d).get(k) == v for k, v in svc["spec"]["selector"].items())]
    assert len(backing) == 1
    redis = pod_spec(backing[0])["containers"][0]
    assert redis["image"].startswith("docker.io/library/redis:8.")
    # The app's volumes are mounted into paperless only, not into Redis.
    assert not pod_spec(backing[0]).get("volumes")
    assert {v["persistentVolumeClaim"]["claimName"] for v in pod_spec(paperless)["volumes"]} == {
        "paperless-ngx-data", "paperless-ngx-media"}
    # The admin password is used only with PAPERLESS_ADMIN_USER; logins through the Ingress need PAPERLESS_URL.
    assert env["PAPERLESS_ADMIN_USER"] == "admin" and "PAPERLESS_ADMIN_PASSWORD" in env
    assert env["PAPERLESS_URL"] == "https://paperless.lab.thewortmans.org"


def pod_spec_labels(deployment: dict) -> dict:
    return deployment["spec"]["template"]["metadata"]["labels"]


# ------------------------------------------------------------------- item 9: text-generation-webui listens


def test_text_generation_webui_listens_beyond_localhost(tree):
    manifests = app_manifests(tree, "text-generation-webui", "llm")
    container = main_container(manifests, "text-generation-webui")
    args = (container_env(container).get("EXTRA_LAUNCH_ARGS") or "").split()
    assert "--listen" in args, "server.py binds 127.0.0.1 without --listen: the Service cannot reach it"
    svc = next(s for s in of_kind(manifests, "Service"))
    assert [p["targetPort"] for p in svc["spec"]["ports"]] == [7860]  # the web UI's default port
    # ...and the tag is pinned (item 18), with models where v3+ keeps them.
    assert container["image"] == "atinoda/text-generation-webui:default-nvidia-v3.16"
    assert {m["mountPath"] for m in container["volumeMounts"]} == {"/app/user_data/models"}


# ----------------------------------------------------------------------- items 11-14: secrets that go nowhere


def test_no_app_gets_a_password_variable_its_image_does_not_read(tree):
    ignored = {"qbittorrent": "WEBUI_PASSWORD", "mealie": "DEFAULT_PASSWORD"}
    namespaces = {"qbittorrent": "media", "mealie": "mealie"}
    for app, variable in ignored.items():
        container = main_container(app_manifests(tree, app, namespaces[app]), app)
        assert variable not in container_env(container), f"{app}: the image never reads {variable}"
    assert "k8s/apps/media/qbittorrent.secrets.yaml" not in tree
    assert "k8s/apps/mealie/mealie.secrets.yaml" not in tree


def test_the_catalogue_drops_those_secrets_and_the_docs_say_how_to_log_in(reference_doc):
    paths = {s.path for s in reference_doc.lab.vault.secrets}
    assert not {"apps/qbittorrent", "apps/mealie"} & paths
    apps_md = {f.path: f.content for f in docs.render(reference_doc)}["docs/apps.md"]
    assert "temporary Web UI password" in apps_md  # qBittorrent
    assert "changeme@example.com" in apps_md  # Mealie


def test_copyparty_shares_w_with_the_admin_account_only(tree):
    container = main_container(app_manifests(tree, "copyparty", "files"), "copyparty")
    env = container_env(container)
    args = container.get("args") or []
    assert "-a" in args and "-v" in args, "no account, no volume: copyparty shares /w read-write with anyone"
    user, _, password = args[args.index("-a") + 1].partition(":")
    variable = re.fullmatch(r"\$\(([A-Z_][A-Z0-9_]*)\)", password)
    assert variable, "the password must come from the environment (Kubernetes expands $(VAR) in args)"
    assert env[variable.group(1)] == {"secretKeyRef": {"name": "copyparty-secrets", "key": "admin_password"}}
    src, dst, *perms = args[args.index("-v") + 1].split(":")
    assert (src, dst) == ("/w", "")
    # every permission set names the account: nothing is granted to anonymous users
    assert perms and all(user in p.split(",")[1:] for p in perms), perms


def test_grafana_admin_password_comes_from_vault(tree):
    secret = next(o for text in tree.values() for o in _yaml().load_all(text)
                  if isinstance(o, dict) and o.get("kind") == "ExternalSecret"
                  and o["metadata"]["namespace"] == "prometheus")
    assert [(d["remoteRef"]["key"], d["remoteRef"]["property"]) for d in secret["spec"]["data"]] == [
        ("apps/grafana", "admin_password")]
    target = secret["spec"]["target"]
    kps_values = _yaml().load(tree["k8s/values/platform/kube-prometheus-stack.yaml"])
    manifests = render(KPS, kps_values, "kube-prometheus-stack", "prometheus")
    grafana = next(d for d in of_kind(manifests, "Deployment") if d["metadata"]["name"].endswith("grafana"))
    env = {e["name"]: e for c in pod_spec(grafana)["containers"] for e in c.get("env", [])}
    ref = env["GF_SECURITY_ADMIN_PASSWORD"]["valueFrom"]["secretKeyRef"]
    assert ref["name"] == target["name"] and ref["key"] in target["template"]["data"]
    assert "{{ .password }}" in target["template"]["data"][ref["key"]]
    assert "prom-operator" not in str(manifests)


# ----------------------------------------------------------------------------- item 15: Velero and TLS


def _location(doc):
    vals = _yaml().load({f.path: f.content for f in kubernetes.render(doc)}["k8s/values/platform/velero.yaml"])
    bsl = of_kind(render(VELERO, vals, "velero", "velero"), "BackupStorageLocation")
    assert len(bsl) == 1
    return bsl[0]


def test_velero_s3_location_trusts_the_lab_ca_or_says_it_does_not_verify(reference_path, reference_doc):
    # The reference lab: TrueNAS' certificate comes from the lab's own CA, so Velero never skips verification.
    bsl = _location(reference_doc)
    assert bsl["spec"]["config"]["s3Url"].startswith("https://")
    assert "insecureSkipTLSVerify" not in bsl["spec"]["config"]
    pem = "-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n"

    # Once `homelab pki init` recorded the root (pki.root_ca), the location carries it (base64) and verifies.
    def with_root(data):
        data["pki"]["root_ca"] = pem

    bsl = _location(lab_doc(reference_path, with_root))
    assert base64.b64decode(bsl["spec"]["objectStorage"]["caCert"]).decode() == pem

    # An endpoint the lab's CA did not issue: its own CA's PEM (backup.velero.ca_cert) ...
    def with_ca(data):
        data["backup"]["velero"]["s3_url"] = "https://minio.example.org:9000"
        data["backup"]["velero"]["ca_cert"] = pem

    bsl = _location(lab_doc(reference_path, with_ca))
    assert base64.b64decode(bsl["spec"]["objectStorage"]["caCert"]).decode() == pem
    assert "insecureSkipTLSVerify" not in bsl["spec"]["config"]

    # ... or, said out loud, no verification.
    def insecure(data):
        data["backup"]["velero"]["s3_url"] = "https://minio.example.org:9000"
        data["backup"]["velero"]["insecure_skip_tls_verify"] = True

    bsl = _location(lab_doc(reference_path, insecure))
    assert bsl["spec"]["config"]["insecureSkipTLSVerify"] == "true"
    assert "caCert" not in bsl["spec"]["objectStorage"]
