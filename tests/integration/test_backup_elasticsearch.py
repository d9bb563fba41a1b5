"""`homelab backup elasticsearch` and `homelab restore elasticsearch` against the Elasticsearch contract fake
(tests/fakes/elasticsearch.py, HTTPS on loopback with its own CA): the requests are the documented ones
(create snapshot with wait_for_completion, restore with indices / rename_pattern / rename_replacement and
no global state), a restore never lands on a live index, and the elastic password never shows."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from fakes.elasticsearch import FakeElasticsearch  # noqa: E402

REFERENCE_LAB = Path(__file__).resolve().parents[2] / "examples" / "reference" / "homelab.yaml"
PASSWORD = "es-test-password-7f3a"


@pytest.fixture
def es(tmp_path):
    fake = FakeElasticsearch(bootstrap_password=PASSWORD)
    url = fake.start(tmp_path / "tls")
    fake.repositories["s3-backups"] = {"type": "s3", "settings": {"bucket": "es-snapshots"}}
    fake.indices.update({"logs-2026.01.01": {"docs": 120, "open": True}, ".kibana_1": {"docs": 7, "open": True}})
    yield fake, url
    fake.stop()


def run(tools, tmp_path, *args, password=PASSWORD):
    env = tools.clean_env(HOMELAB_STATE_DIR=str(tmp_path / ".homelab"), HOMELAB_VAULT_ADDR="embedded",
                          ELASTIC_PASSWORD=password)
    return tools.run_homelab([*args, "--lab", str(REFERENCE_LAB)], env=env, cwd=tmp_path)


def test_backup_elasticsearch_takes_a_snapshot_now(es, homelab_tools, tmp_path):
    fake, url = es
    proc = run(homelab_tools, tmp_path, "backup", "elasticsearch", "--es-url", url, "--es-ca", str(fake.ca_file),
               "-y", "--format", "json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (entry,) = json.loads(proc.stdout)["backups"]
    assert entry["state"] == "SUCCESS" and entry["indices"] == [".kibana_1", "logs-2026.01.01"]
    (put,) = [q for q in fake.queries if q[0] == "PUT" and q[1].startswith("/_snapshot/s3-backups/manual-")]
    assert put[2] == "wait_for_completion=true"
    body = next(b for m, p, b in fake.requests if p == put[1])
    assert body == {"include_global_state": True, "metadata": {"taken_by": "homelab backup"}}
    assert entry["snapshot"] in fake.snapshots["s3-backups"]


def test_without_an_endpoint_elasticsearch_is_not_run(es, homelab_tools, tmp_path):
    proc = run(homelab_tools, tmp_path, "backup", "elasticsearch", "-y")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "not run       elasticsearch: no endpoint (pass --es-url" in proc.stderr
    assert es[0].requests == []


def test_restore_an_index_under_a_new_name(es, homelab_tools, tmp_path):
    fake, url = es
    run(homelab_tools, tmp_path, "backup", "elasticsearch", "--es-url", url, "--es-ca", str(fake.ca_file), "-y")
    (snap,) = fake.snapshots["s3-backups"]
    fake.indices["logs-2026.01.01"]["docs"] = 999  # the live index moved on
    proc = run(homelab_tools, tmp_path, "restore", "elasticsearch", snap, "--index", "logs-2026.01.01",
               "--as", "logs-check", "--es-url", url, "--es-ca", str(fake.ca_file), "-y")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "restored logs-check" in proc.stdout
    (method, path, body) = [r for r in fake.requests if r[1].endswith("/_restore")][0]
    assert (method, path) == ("POST", f"/_snapshot/s3-backups/{snap}/_restore")
    assert body == {"indices": "logs-2026.01.01", "rename_pattern": "^logs\\-2026\\.01\\.01$",
                    "rename_replacement": "logs-check", "include_global_state": False, "include_aliases": False}
    assert fake.indices["logs-check"]["docs"] == 120 and fake.indices["logs-2026.01.01"]["docs"] == 999


def test_restore_every_index_gets_a_prefix_and_as_alone_is_refused(es, homelab_tools, tmp_path):
    fake, url = es
    run(homelab_tools, tmp_path, "backup", "elasticsearch", "--es-url", url, "--es-ca", str(fake.ca_file), "-y")
    (snap,) = fake.snapshots["s3-backups"]
    proc = run(homelab_tools, tmp_path, "restore", "elasticsearch", snap, "--es-url", url, "--es-ca",
               str(fake.ca_file), "-y")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    restored = sorted(i for i in fake.indices if i.startswith("restored-"))
    assert len(restored) == 2 and restored[0].endswith("-.kibana_1") and restored[1].endswith("-logs-2026.01.01")
    proc = run(homelab_tools, tmp_path, "restore", "elasticsearch", snap, "--as", "x", "--es-url", url, "-y")
    assert proc.returncode == 2 and "--as needs --index" in proc.stderr


def test_a_wrong_password_is_an_engine_error_without_the_password(es, homelab_tools, tmp_path):
    fake, url = es
    proc = run(homelab_tools, tmp_path, "backup", "elasticsearch", "--es-url", url, "--es-ca", str(fake.ca_file),
               "-y", password="wrong-password-123")
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "security_exception" in proc.stderr and "wrong-password-123" not in proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
