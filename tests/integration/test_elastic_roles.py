"""The Elasticsearch, Kibana and Fleet Server roles' own tasks (issue 11, items 5-10), run by the real
ansible-playbook on this machine (connection local) with a real OpenBao (dev server) for Vault and the
Elasticsearch contract fake (tests/fakes/elasticsearch.py: no Elasticsearch server can run here).

- item 5: the elastic password from Vault goes into every node's keystore as `bootstrap.password`
  (ReservedRealm: it beats the .deb's generated autoconfiguration hash), the cluster setup logs in with
  it, stores it in the cluster on the run that formed it, and stops with a clear message when the
  cluster has another one;
- item 6: Kibana's and Fleet Server's service account tokens are created through the ES API when Vault
  has none (or a rejected one) and written to Vault; never printed;
- items 7, 10: Kibana and Fleet Server get the lab's CA and their own certificates from tls/, Kibana
  serves https (its publicBaseUrl is https) and both reach Elasticsearch by name;
- item 8: kibana.yml preconfigures the agent policy `fleet-server-policy` the fleet_server role enrolls with;
- item 9: the snapshot repository and the SLM policy (the lab's schedule as an Elasticsearch cron, 30 days)
  are registered, and a second run changes nothing.

The `-e` given below point host paths into temporary directories, the API at the fake and the run at this
machine; everything else (secret paths, policy, repository, schedule) comes from the rendered reference lab.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from fakes.elasticsearch import FakeElasticsearch  # noqa: E402
from homelab.lab.load import load_lab  # noqa: E402
from homelab.render import render_all  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
SEED = ROOT / "examples" / "reference" / "homelab.yaml"
BIN = Path(sys.executable).parent
COLLECTIONS = ROOT / ".venv" / "share" / "homelab-test-collections" / "ansible-12.3.0"

pytestmark = pytest.mark.validators  # real ansible-playbook, real OpenBao


def play(hosts: str, role: str, tasks_from: str) -> str:
    return (f"---\n- name: Test\n  hosts: {hosts}\n  gather_facts: false\n  tasks:\n"
            f"    - name: Run\n      ansible.builtin.include_role:\n        name: {role}\n"
            f"        tasks_from: {tasks_from}\n")


@pytest.fixture
def repo(tmp_path) -> Path:
    for f in render_all(load_lab(SEED)):
        path = tmp_path / "repo" / f.path
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f.content, encoding="utf-8")
    if not (COLLECTIONS / "ansible_collections" / "community" / "hashi_vault").is_dir():
        pytest.fail(f"community.hashi_vault is not installed at {COLLECTIONS}: run `make test` "
                    "(or scripts/test-collections.sh)")
    return tmp_path / "repo"


@pytest.fixture
def es(tmp_path, openbao_dev):
    addr, root, client = openbao_dev
    password = "elastic-" + secrets.token_hex(12)
    client.secrets.kv.v2.create_or_update_secret(path="elastic/cluster", secret={"elastic_password": password},
                                                 mount_point="secret")
    fake = FakeElasticsearch(bootstrap_password=password)
    url = fake.start(tmp_path / "es-tls")
    yield fake, url, password, client, {"VAULT_ADDR": addr, "VAULT_TOKEN": root}
    fake.stop()


def run(repo: Path, text: str, extra: dict, env: dict) -> subprocess.CompletedProcess:
    tree = repo / "ansible"
    (tree / "_test.yml").write_text(text)
    environ = {k: v for k, v in os.environ.items()
               if not k.startswith(("ANSIBLE_", "VAULT_", "HOMELAB_")) or k.startswith("HOMELAB_NETGUARD")}
    environ.update({"ANSIBLE_NOCOLOR": "1", "PATH": f"{BIN}{os.pathsep}{environ.get('PATH', '')}",
                    "ANSIBLE_COLLECTIONS_PATH": str(COLLECTIONS), **env})
    args = [str(BIN / "ansible-playbook"), "-i", "inventory.yml", "_test.yml",
            "-e", json.dumps({"ansible_connection": "local", "ansible_become": False,
                              "ansible_python_interpreter": sys.executable, **extra})]
    try:
        return subprocess.run(args, cwd=tree, env=environ, capture_output=True, text=True, timeout=600)
    finally:
        (tree / "_test.yml").unlink()


def changed(result: subprocess.CompletedProcess, host: str) -> int:
    for line in result.stdout.splitlines():
        if line.startswith(f"{host} ") and "changed=" in line:
            return int(line.split("changed=")[1].split()[0])
    raise AssertionError(result.stdout)


def writes(fake: FakeElasticsearch) -> list[tuple[str, str]]:
    return [(m, p) for m, p, _ in fake.requests if m != "GET"]


# ----------------------------------------------------------------------------------------- cluster setup
def cluster_vars(fake, url, tmp_path, **more):
    certs = tmp_path / "es-certs"
    certs.mkdir(exist_ok=True)
    shutil.copy(fake.ca_file, certs / "ca.crt")
    return {"elasticsearch_api": url, "elasticsearch_certs_dir": str(certs), **more}


def test_cluster_setup_sets_the_password_repository_and_lifecycle_policy(repo, es, tmp_path):
    fake, url, password, _, env = es
    first = run(repo, play("es07", "elasticsearch", "cluster.yml"),
                cluster_vars(fake, url, tmp_path, elasticsearch_cluster_bootstrap=True), env)
    out = first.stdout + first.stderr
    assert first.returncode == 0, out
    assert password not in out
    # item 5: the bootstrap password from the keystore let it in, and it is now stored in the cluster
    assert fake.stored_password == password
    bodies = {(m, p): b for m, p, b in fake.requests}
    assert bodies[("POST", "/_security/user/elastic/_password")] == {"password": password}
    # item 9: the repository from the lab (endpoint is a client setting, not a repository one) ...
    assert fake.repositories == {"s3-backups": {"type": "s3", "settings": {
        "bucket": "es-snapshots", "base_path": "homelab-logs", "client": "default"}}}
    # ... and the SLM policy: backup.elasticsearch "0 2 * * *" daily 02:00 -> Quartz, kept 30 days
    assert fake.slm["homelab-snapshots"]["policy"] == {
        "name": "<homelab-logs-snap-{now/d}>", "schedule": "0 0 2 * * ?", "repository": "s3-backups",
        "retention": {"expire_after": "30d"}}
    # a later run (not the one that formed the cluster) checks and changes nothing
    fake.requests.clear()
    second = run(repo, play("es07", "elasticsearch", "cluster.yml"), cluster_vars(fake, url, tmp_path), env)
    assert second.returncode == 0, second.stdout + second.stderr
    assert writes(fake) == [] and changed(second, "es07") == 0


def test_cluster_setup_stops_when_the_cluster_has_another_elastic_password(repo, es, tmp_path):
    fake, url, password, _, env = es
    fake.stored_password = "someone-else-set-this"
    result = run(repo, play("es07", "elasticsearch", "cluster.yml"), cluster_vars(fake, url, tmp_path), env)
    assert result.returncode != 0
    assert "rejects the elastic password kept in Vault (elastic/cluster#elastic_password)" in result.stdout
    assert "elasticsearch-reset-password -u elastic -i" in result.stdout
    assert writes(fake) == []  # nothing was registered with a password the cluster refused


# ----------------------------------------------------------------------------------------- keystore
KEYSTORE_STUB = """#!/bin/sh
set -eu
store=STORE
case "$1" in
    show) [ -f "$store/$2" ] || exit 65; cat "$store/$2" ;;
    add) IFS= read -r value || true; printf '%s' "$value" > "$store/$4"; echo "$4" >> "$store/.writes" ;;
    *) exit 64 ;;
esac
"""


def test_every_node_gets_the_elastic_password_as_bootstrap_password(repo, es, tmp_path, openbao_dev):
    fake, _, password, client, env = es
    client.secrets.kv.v2.create_or_update_secret(path="elastic/s3", secret={"access_key": "ak-1", "secret_key": "sk-1"},
                                                 mount_point="secret")
    store = tmp_path / "keystore"
    store.mkdir()
    stub = tmp_path / "elasticsearch-keystore"
    stub.write_text(KEYSTORE_STUB.replace("STORE", str(store)))
    stub.chmod(0o755)
    result = run(repo, play("es01", "elasticsearch", "keystore.yml"),
                 {"elasticsearch_keystore_bin": str(stub), "elasticsearch_manage_services": False}, env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (store / "bootstrap.password").read_text() == password
    assert password not in result.stdout + result.stderr


# ----------------------------------------------------------------------------------------- service tokens
def token_vars(url, fake, service, **more):
    api = {"kibana": "kibana_elasticsearch_hosts", "fleet-server": "fleet_server_elasticsearch_host"}[service]
    return {api: [url] if service == "kibana" else url, **more}


@pytest.mark.parametrize(("host", "role", "service", "path", "field"), [
    ("kibana", "kibana", "kibana", "elastic/kibana", "service_account_token"),
    ("fleet", "fleet_server", "fleet-server", "elastic/fleet", "service_token"),
])
def test_service_tokens_are_created_through_the_api_and_kept_in_vault(repo, es, tmp_path, host, role, service,
                                                                      path, field):
    fake, url, password, client, env = es
    include = (f"---\n- name: Test\n  hosts: {host}\n  gather_facts: false\n  tasks:\n"
               "    - name: Token\n      ansible.builtin.include_role:\n        name: elasticsearch\n"
               "        tasks_from: service_token.yml\n      vars:\n"
               f"        elasticsearch_service_token: {{service: {service}, path: {path}, field: {field}}}\n"
               f"        elasticsearch_service_token_api: {url}\n"
               f"        elasticsearch_service_token_ca: {fake.ca_file}\n")
    first = run(repo, include, {}, env)
    out = first.stdout + first.stderr
    assert first.returncode == 0, out
    stored = client.secrets.kv.v2.read_secret_version(path=path, mount_point="secret",
                                                      raise_on_deleted_version=True)["data"]["data"][field]
    assert fake.tokens == {("elastic", service, "homelab"): stored}
    assert stored not in out and password not in out
    # a second run finds it valid: nothing created
    fake.requests.clear()
    second = run(repo, include, {}, env)
    assert second.returncode == 0 and writes(fake) == [] and changed(second, host) == 0
    # a rejected token in Vault (say, the cluster was rebuilt) is replaced, under the same name
    client.secrets.kv.v2.create_or_update_secret(path=path, secret={field: "AAEAAstale"}, mount_point="secret")
    third = run(repo, include, {}, env)
    assert third.returncode == 0, third.stdout + third.stderr
    renewed = client.secrets.kv.v2.read_secret_version(path=path, mount_point="secret",
                                                       raise_on_deleted_version=True)["data"]["data"][field]
    assert renewed != stored and fake.tokens == {("elastic", service, "homelab"): renewed}
    assert [w for w in writes(fake) if "credential" in w[1]] == [
        ("DELETE", f"/_security/service/elastic/{service}/credential/token/homelab"),
        ("POST", f"/_security/service/elastic/{service}/credential/token/homelab")]


# ----------------------------------------------------------------------------------------- Kibana, Fleet
# These tests take the tls/ path: no certificate from the lab's CA (host_certificate_list empty); the CA's own
# path (host_certificate issuing from Vault) is tested on the sandbox hosts (tests/sandbox/test_pki_real.py).
def put_tls(repo: Path, host: str) -> None:
    tls = repo / "tls"
    for name, text in ((f"{host}.crt", "CERT"), (f"{host}.key", "KEY"), ("ca.crt", "CA")):
        (tls / name).write_text(f"-----BEGIN {text}-----\n{host}\n")


def test_kibana_serves_https_reaches_elasticsearch_by_name_and_preconfigures_fleet(repo, tmp_path):
    put_tls(repo, "kibana")
    etc = tmp_path / "etc-kibana"
    etc.mkdir()
    result = run(repo, play("kibana", "kibana", "config.yml"),
                 {"kibana_config_dir": str(etc), "kibana_certs_dir": str(etc / "certs"), "kibana_group": "root",
                  "host_certificate_list": []}, {})
    assert result.returncode == 0, result.stdout + result.stderr
    # item 7: the CA (and Kibana's own certificate) installed from tls/
    assert (etc / "certs" / "ca.crt").read_text() == (repo / "tls" / "ca.crt").read_text()
    assert (etc / "certs" / "kibana.key").read_text() == (repo / "tls" / "kibana.key").read_text()
    cfg = yaml.safe_load((etc / "kibana.yml").read_text())
    # item 10: https for the https publicBaseUrl; Elasticsearch by the names its certificates carry
    assert cfg["server.publicBaseUrl"] == "https://kibana.lab.thewortmans.org:5601"
    assert cfg["server.ssl.enabled"] is True
    assert cfg["server.ssl.certificate"] == str(etc / "certs" / "kibana.crt")
    assert cfg["elasticsearch.hosts"] == [f"https://es0{i}.lab.thewortmans.org:9200" for i in range(1, 7)]
    assert cfg["elasticsearch.ssl.certificateAuthorities"] == [str(etc / "certs" / "ca.crt")]
    # item 8: the policy fleet_server enrolls with, and Fleet Server's https URL
    policies = {p["id"]: p for p in cfg["xpack.fleet.agentPolicies"]}
    fleet_defaults = yaml.safe_load((repo / "ansible" / "roles" / "fleet_server" / "defaults" / "main.yml").read_text())
    assert fleet_defaults["fleet_server_policy"] in policies
    policy = policies["fleet-server-policy"]
    assert policy["is_default_fleet_server"] is True
    assert [pp["package"]["name"] for pp in policy["package_policies"]] == ["fleet_server"]
    assert {"name": "fleet_server", "version": "latest"} in cfg["xpack.fleet.packages"]
    assert cfg["xpack.fleet.fleetServerHosts"][0]["host_urls"] == ["https://fleet.lab.thewortmans.org:8220"]
    assert "serviceAccountToken" not in (etc / "kibana.yml").read_text()  # the keystore holds it


def test_kibana_without_its_certificate_stops_and_says_where_it_goes(repo, tmp_path):
    etc = tmp_path / "etc-kibana"
    etc.mkdir()
    result = run(repo, play("kibana", "kibana", "config.yml"),
                 {"kibana_config_dir": str(etc), "kibana_certs_dir": str(etc / "certs"), "kibana_group": "root",
                  "host_certificate_list": []}, {})
    assert result.returncode != 0
    assert "kibana.crt" in result.stdout and "tls/README.md" in result.stdout


AGENT_STUB = """#!/bin/sh
printf '%s\\n' "$@" > RECORD
cp "$(printf '%s\\n' "$@" | sed -n 's/^--fleet-server-service-token-path=//p')" RECORD.token
"""


def test_fleet_server_enrolls_with_the_preconfigured_policy_and_its_certificates(repo, es, tmp_path):
    fake, _, _, client, env = es
    client.secrets.kv.v2.create_or_update_secret(path="elastic/fleet", secret={"service_token": "AAEAAfleet-token-1"},
                                                 mount_point="secret")
    put_tls(repo, "fleet")
    certs, record = tmp_path / "agent-certs", tmp_path / "argv"
    stub = tmp_path / "elastic-agent"
    stub.write_text(AGENT_STUB.replace("RECORD", str(record)))
    stub.chmod(0o755)
    text = (play("fleet", "fleet_server", "certs.yml")
            + "    - name: Enroll\n      ansible.builtin.include_role:\n        name: fleet_server\n"
              "        tasks_from: enroll.yml\n")
    result = run(repo, text, {"fleet_server_certs_dir": str(certs), "fleet_server_agent_bin": str(stub), "host_certificate_list": [],
                              "fleet_server_token_file": str(tmp_path / "token"),
                              "fleet_server_enrolled_marker": str(tmp_path / "enrolled")}, env)
    assert result.returncode == 0, result.stdout + result.stderr
    argv = record.read_text().splitlines()
    assert argv[:2] == ["enroll", "--non-interactive"]
    flags = dict(a.split("=", 1) for a in argv[2:])
    assert flags["--fleet-server-policy"] == "fleet-server-policy"
    assert flags["--url"] == "https://fleet.lab.thewortmans.org:8220"
    assert flags["--fleet-server-es"] == "https://es01.lab.thewortmans.org:9200"
    assert flags["--fleet-server-es-ca"] == flags["--certificate-authorities"] == str(certs / "ca.crt")
    assert flags["--fleet-server-cert"] == str(certs / "fleet-server.crt")
    assert flags["--fleet-server-cert-key"] == str(certs / "fleet-server.key")
    assert (certs / "ca.crt").read_text() == (repo / "tls" / "ca.crt").read_text()
    assert Path(str(record) + ".token").read_text() == "AAEAAfleet-token-1"  # the token reached the agent ...
    assert not (tmp_path / "token").exists() and "AAEAAfleet-token-1" not in result.stdout  # ... and nothing else
