"""The Elasticsearch contract fake behaves as the documentation says (see fakes/elasticsearch.py for sources):
TLS with its CA, 401 + WWW-Authenticate without valid credentials, the bootstrap/stored elastic password,
the service token lifecycle (create, conflict, authenticate as bearer, delete, 404 when gone), repository
settings kept as strings, SLM refusing what Elasticsearch refuses (a Unix cron, a missing repository)."""

from __future__ import annotations

import base64
import json
import ssl
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from fakes.elasticsearch import FakeElasticsearch, valid_es_cron  # noqa: E402


@pytest.fixture
def es(tmp_path):
    fake = FakeElasticsearch(bootstrap_password="boot-pw-123456")
    url = fake.start(tmp_path / "tls")
    yield fake, url
    fake.stop()


def call(url, method, path, *, fake, user=("elastic", None), bearer=None, body=None):
    headers = {"Content-Type": "application/json"}
    if bearer:
        headers["Authorization"] = f"Bearer {bearer}"
    elif user:
        password = user[1] if user[1] is not None else fake.elastic_password()
        headers["Authorization"] = "Basic " + base64.b64encode(f"{user[0]}:{password}".encode()).decode()
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url + path, data=data, method=method, headers=headers)
    context = ssl.create_default_context(cafile=str(fake.ca_file))
    try:
        with urllib.request.urlopen(request, context=context, timeout=10) as resp:
            return resp.status, json.loads(resp.read()), dict(resp.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read()), dict(exc.headers)


def test_tls_auth_and_the_product_header(es):
    fake, url = es
    status, body, headers = call(url, "GET", "/_security/_authenticate", fake=fake)
    assert status == 200 and body["username"] == "elastic" and body["authentication_realm"]["name"] == "reserved"
    assert headers["X-Elastic-Product"] == "Elasticsearch"
    status, body, headers = call(url, "GET", "/_security/_authenticate", fake=fake, user=("elastic", "wrong-pw"))
    assert status == 401 and body["error"]["type"] == "security_exception" and body["status"] == 401
    assert "WWW-Authenticate" in headers
    with pytest.raises(urllib.error.URLError):  # an unverified client is refused: the CA is the fake's own
        urllib.request.urlopen(url + "/_cluster/health", context=ssl.create_default_context(), timeout=10)


def test_the_bootstrap_password_until_one_is_stored(es):
    fake, url = es
    assert call(url, "POST", "/_security/user/elastic/_password", fake=fake, body={"password": "new-pw-123456"})[0] == 200
    assert fake.stored_password == "new-pw-123456"
    assert call(url, "GET", "/_security/_authenticate", fake=fake, user=("elastic", "boot-pw-123456"))[0] == 401
    assert call(url, "POST", "/_security/user/elastic/_password", fake=fake, body={"password": "x"})[0] == 400


def test_service_token_lifecycle(es):
    fake, url = es
    path = "/_security/service/elastic/kibana/credential/token/homelab"
    status, body, _ = call(url, "POST", path, fake=fake)
    assert status == 200 and body["created"] is True and body["token"]["name"] == "homelab"
    token = body["token"]["value"]
    status, body, _ = call(url, "POST", path, fake=fake)
    assert status == 409 and body["error"]["type"] == "version_conflict_engine_exception"
    status, who, _ = call(url, "GET", "/_security/_authenticate", fake=fake, bearer=token)
    assert status == 200 and who["username"] == "elastic/kibana" and who["authentication_type"] == "token"
    assert call(url, "DELETE", path, fake=fake)[:2] == (200, {"found": True})
    assert call(url, "DELETE", path, fake=fake)[:2] == (404, {"found": False})
    assert call(url, "GET", "/_security/_authenticate", fake=fake, bearer=token)[0] == 401
    assert call(url, "POST", "/_security/service/elastic/nope/credential/token/x", fake=fake)[0] == 400


def test_repository_and_slm(es):
    fake, url = es
    repo = {"type": "s3", "settings": {"bucket": "es-snapshots", "base_path": "homelab-logs", "client": "default"}}
    assert call(url, "GET", "/_snapshot/s3-backups", fake=fake)[0] == 404
    policy = {"schedule": "0 0 2 * * ?", "name": "<snap-{now/d}>", "repository": "s3-backups",
              "retention": {"expire_after": "30d"}}
    status, body, _ = call(url, "PUT", "/_slm/policy/p", fake=fake, body=policy)
    assert status == 400 and "no such repository" in body["error"]["reason"]
    assert call(url, "PUT", "/_snapshot/s3-backups", fake=fake, body=repo)[:2] == (200, {"acknowledged": True})
    assert call(url, "GET", "/_snapshot/s3-backups", fake=fake)[1] == {"s3-backups": repo}
    status, body, _ = call(url, "PUT", "/_slm/policy/p", fake=fake, body={**policy, "schedule": "0 2 * * *"})
    assert status == 400 and "cron" in body["error"]["reason"]  # a Unix cron is not an Elasticsearch one
    assert call(url, "PUT", "/_slm/policy/p", fake=fake, body=policy)[:2] == (200, {"acknowledged": True})
    status, body, _ = call(url, "GET", "/_slm/policy/p", fake=fake)
    assert status == 200 and body["p"]["policy"] == policy and body["p"]["version"] == 1


@pytest.mark.parametrize(("expr", "ok"), [
    ("0 30 1 * * ?", True), ("0 0 2 ? * SUN", True), ("0 0 2 ? * 1-5", True), ("0 0 0 1 1 ? 2030", True),
    ("0 2 * * *", False), ("0 0 2 * * *", False), ("0 0 2 ? * ?", False), ("0 0 2 ? * 0", False),
])
def test_cron_rules(expr, ok):
    assert (valid_es_cron(expr) is None) is ok


def test_cluster_settings_put_get_flat_and_nested_and_null_removes(es):
    """cluster/put_settings echoes what was set (nested) with acknowledged; get_settings with flat_settings=true
    has dotted keys; a null value removes the setting (Elasticsearch reference, "Cluster update settings")."""
    fake, url = es
    key = "cluster.routing.allocation.enable"
    status, body, _ = call(url, "PUT", "/_cluster/settings", fake=fake, body={"persistent": {key: "primaries"}})
    assert status == 200 and body == {"acknowledged": True, "persistent": {"cluster": {"routing": {
        "allocation": {"enable": "primaries"}}}}, "transient": {}}
    assert call(url, "GET", "/_cluster/settings?flat_settings=true", fake=fake)[1] == {
        "persistent": {key: "primaries"}, "transient": {}}
    nested = call(url, "GET", "/_cluster/settings", fake=fake)[1]
    assert nested["persistent"]["cluster"]["routing"]["allocation"]["enable"] == "primaries"
    call(url, "PUT", "/_cluster/settings", fake=fake, body={"persistent": {key: None}})
    assert call(url, "GET", "/_cluster/settings?flat_settings=true", fake=fake)[1]["persistent"] == {}


def test_cat_nodes_as_json_and_health_as_set(es):
    fake, url = es
    fake.nodes = {"es01": {"version": "8.18.0", "node.role": "d"}, "es07": {"version": "8.19.2", "node.role": "m"}}
    fake.health.update(status="yellow", initializing_shards=2)
    status, rows, _ = call(url, "GET", "/_cat/nodes?format=json&h=name,version,node.role", fake=fake)
    assert status == 200 and rows == [{"name": "es01", "version": "8.18.0", "node.role": "d"},
                                      {"name": "es07", "version": "8.19.2", "node.role": "m"}]
    health = call(url, "GET", "/_cluster/health", fake=fake)[1]
    assert health["status"] == "yellow" and health["initializing_shards"] == 2 and health["number_of_nodes"] == 2
    assert call(url, "GET", "/_cat/nodes", fake=fake)[0] == 400  # only format=json is served


# ------------------------------------------------------------------------------- snapshots (issue 14)
def _with_repo_and_indices(fake, url):
    status, _, _ = call(url, "PUT", "/_snapshot/s3-backups", fake=fake,
                        body={"type": "s3", "settings": {"bucket": "es-snapshots"}})
    assert status == 200
    fake.indices.update({"logs-2026.01.01": {"docs": 10, "open": True}, "metrics-1": {"docs": 3, "open": True}})


def test_create_get_and_restore_a_snapshot_in_the_documented_shapes(es):
    fake, url = es
    _with_repo_and_indices(fake, url)
    status, body, _ = call(url, "PUT", "/_snapshot/s3-backups/snap-1?wait_for_completion=true", fake=fake,
                           body={"include_global_state": True, "metadata": {"taken_by": "test"}})
    assert status == 200
    snap = body["snapshot"]  # SnapshotInfo
    assert snap["snapshot"] == "snap-1" and snap["state"] == "SUCCESS" and snap["repository"] == "s3-backups"
    assert snap["indices"] == ["logs-2026.01.01", "metrics-1"] and snap["shards"]["failed"] == 0
    assert snap["metadata"] == {"taken_by": "test"} and snap["end_time_in_millis"] >= snap["start_time_in_millis"]
    status, body, _ = call(url, "GET", "/_snapshot/s3-backups/_all", fake=fake)
    assert status == 200 and body["total"] == 1 and body["remaining"] == 0
    assert body["snapshots"][0]["uuid"] == snap["uuid"]
    # restore under new names (Java regex groups: $1)
    status, body, _ = call(url, "POST", "/_snapshot/s3-backups/snap-1/_restore?wait_for_completion=true", fake=fake,
                           body={"indices": "logs-*", "rename_pattern": "(.+)", "rename_replacement": "restored-$1",
                                 "include_global_state": False})
    assert status == 200 and body["snapshot"]["indices"] == ["restored-logs-2026.01.01"]
    assert fake.indices["restored-logs-2026.01.01"]["docs"] == 10
    status, body, _ = call(url, "GET", "/restored-logs-2026.01.01/_count", fake=fake)
    assert status == 200 and body["count"] == 10
    status, body, _ = call(url, "DELETE", "/restored-logs-2026.01.01", fake=fake)
    assert status == 200 and body == {"acknowledged": True} and "restored-logs-2026.01.01" not in fake.indices


def test_snapshot_errors_are_elasticsearchs(es):
    fake, url = es
    status, body, _ = call(url, "PUT", "/_snapshot/nope/s1", fake=fake, body={})
    assert status == 404 and body["error"]["type"] == "repository_missing_exception"
    _with_repo_and_indices(fake, url)
    assert call(url, "PUT", "/_snapshot/s3-backups/Upper", fake=fake, body={})[1]["error"]["type"] == \
        "invalid_snapshot_name_exception"
    assert call(url, "PUT", "/_snapshot/s3-backups/s1", fake=fake, body={})[1] == {"accepted": True}
    status, body, _ = call(url, "PUT", "/_snapshot/s3-backups/s1", fake=fake, body={})
    assert status == 400 and "already exists" in body["error"]["reason"]
    status, body, _ = call(url, "GET", "/_snapshot/s3-backups/missing", fake=fake)
    assert status == 404 and body["error"]["type"] == "snapshot_missing_exception"
    # restoring over an open index of the same name is refused
    status, body, _ = call(url, "POST", "/_snapshot/s3-backups/s1/_restore", fake=fake, body={"indices": "metrics-1"})
    assert status == 500 and body["error"]["type"] == "snapshot_restore_exception"
    assert "open index with same name already exists" in body["error"]["reason"]
    status, body, _ = call(url, "POST", "/_snapshot/s3-backups/s1/_restore", fake=fake, body={"rename": "x"})
    assert status == 400 and body["error"]["type"] == "x_content_parse_exception"


def test_slm_execute_and_list_every_policy(es):
    fake, url = es
    _with_repo_and_indices(fake, url)
    status, _, _ = call(url, "PUT", "/_slm/policy/nightly", fake=fake, body={
        "schedule": "0 30 1 * * ?", "name": "<nightly-snap-{now/d}>", "repository": "s3-backups",
        "retention": {"expire_after": "30d"}})
    assert status == 200
    status, body, _ = call(url, "GET", "/_slm/policy", fake=fake)
    assert status == 200 and set(body) == {"nightly"} and body["nightly"]["policy"]["repository"] == "s3-backups"
    status, body, _ = call(url, "POST", "/_slm/policy/nightly/_execute", fake=fake)
    assert status == 200 and body["snapshot_name"].startswith("nightly-snap-")
    snaps = call(url, "GET", "/_snapshot/s3-backups/_all", fake=fake)[1]["snapshots"]
    assert snaps[0]["metadata"] == {"policy": "nightly"}
