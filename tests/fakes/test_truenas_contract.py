"""The TrueNAS contract fake behaves as the TrueNAS 24.10 middleware does (sources in fakes/truenas.py):
bearer API keys and the 401 texts, the CRUD routes, the 422 envelopes of ValidationErrors and CallError,
404 for a GET of a missing id, InstanceNotFound for an update of one, the snapshot-task and replication
validations the engine can run into, and filters on keychain credentials."""

from __future__ import annotations

import json
import ssl
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from fakes.truenas import FakeTrueNas  # noqa: E402

KEY = "7-contract-key-abcdefghijklmnopqrstuvwxyz"
TASK = {"dataset": "tank", "recursive": True, "lifetime_value": 2, "lifetime_unit": "WEEK",
        "naming_schema": "auto-%Y-%m-%d_%H-%M", "schedule": {"minute": "0", "hour": "*"}}


@pytest.fixture
def nas(tmp_path):
    fake = FakeTrueNas(api_key=KEY)
    fake.url = fake.start(tmp_path / "tls")
    yield fake
    fake.stop()


def call(nas, method, path, body=None, key=KEY):
    headers = {"Content-Type": "application/json"}
    if key is not None:
        headers["Authorization"] = f"Bearer {key}"
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(nas.url + path, data=data, method=method, headers=headers)
    context = ssl.create_default_context(cafile=str(nas.ca_file))
    try:
        with urllib.request.urlopen(req, context=context, timeout=10) as resp:
            return resp.status, resp.headers.get_content_type(), resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get_content_type(), exc.read().decode()


def test_bearer_keys_and_the_401_texts(nas):
    assert call(nas, "GET", "/system/version")[::2] == (200, '"TrueNAS-SCALE-24.10.2"')
    assert call(nas, "GET", "/system/version", key="wrong") == (401, "text/plain", "Invalid API key")
    assert call(nas, "GET", "/system/version", key=None)[0] == 401
    with pytest.raises(urllib.error.URLError):  # its certificate is its own CA's
        urllib.request.urlopen(nas.url + "/system/version", context=ssl.create_default_context(), timeout=10)


def test_snapshot_task_crud_and_the_entry_shape(nas):
    status, _, text = call(nas, "POST", "/pool/snapshottask", TASK)
    entry = json.loads(text)
    assert status == 200 and entry["schedule"] == {"minute": "0", "hour": "*", "dom": "*", "month": "*", "dow": "*",
                                                   "begin": "00:00", "end": "23:59"}
    assert entry["exclude"] == [] and entry["enabled"] is True and entry["allow_empty"] is True
    assert entry["state"] == {"state": "PENDING"} and entry["vmware_sync"] is False
    status, _, text = call(nas, "PUT", f"/pool/snapshottask/id/{entry['id']}", {"lifetime_value": 5})
    assert status == 200 and json.loads(text)["lifetime_value"] == 5 and json.loads(text)["dataset"] == "tank"
    assert [t["id"] for t in json.loads(call(nas, "GET", "/pool/snapshottask")[2])] == [entry["id"]]
    assert call(nas, "DELETE", f"/pool/snapshottask/id/{entry['id']}")[::2] == (200, "true")
    status, _, text = call(nas, "GET", f"/pool/snapshottask/id/{entry['id']}")
    assert status == 404 and "message" in json.loads(text)
    status, _, text = call(nas, "PUT", f"/pool/snapshottask/id/{entry['id']}", {"enabled": False})
    assert status == 422 and json.loads(text) == {"null": [{"message": f"Periodic Snapshot Task {entry['id']} does "
                                                                       "not exist", "errno": 2}]}


def test_validation_errors_have_the_documented_envelope(nas):
    status, _, text = call(nas, "POST", "/pool/snapshottask", {"dataset": "tank", "colour": "blue"})
    errors = json.loads(text)
    assert status == 422
    assert errors["periodic_snapshot_create.colour"] == [{"message": "Field was not expected", "errno": 22}]
    assert errors["periodic_snapshot_create.lifetime_unit"] == [{"message": "attribute required", "errno": 22}]
    status, _, text = call(nas, "POST", "/pool/snapshottask", {**TASK, "dataset": "nope", "lifetime_unit": "DECADE"})
    assert status == 422 and "Invalid choice: DECADE" in text
    status, _, text = call(nas, "POST", "/pool/snapshottask", {**TASK, "dataset": "nope"})
    assert json.loads(text) == {"periodic_snapshot_create.dataset": [{"message": "Dataset not found", "errno": 22}]}


def test_replication_rules_and_the_call_error_of_deleting_its_last_task(nas):
    task = json.loads(call(nas, "POST", "/pool/snapshottask", TASK)[2])
    rep = {"name": "off", "direction": "PUSH", "transport": "SSH", "source_datasets": ["tank"],
           "target_dataset": "tank/replica", "recursive": True, "auto": True, "retention_policy": "SOURCE",
           "periodic_snapshot_tasks": [task["id"]]}
    status, _, text = call(nas, "POST", "/replication", rep)
    assert status == 422 and "SSH Credentials are required for non-local replication" in text
    conn = nas.add_ssh_connection("offsite")
    status, _, text = call(nas, "POST", "/replication", {**rep, "ssh_credentials": conn, "lifetime_value": 3})
    assert json.loads(text) == {"replication_create.lifetime_value": [
        {"message": "This field has no sense for specified retention policy", "errno": 22}]}
    status, _, text = call(nas, "POST", "/replication", {**rep, "ssh_credentials": conn})
    entry = json.loads(text)
    assert status == 200 and entry["ssh_credentials"]["name"] == "offsite"  # the whole credential, as documented
    assert [t["id"] for t in entry["periodic_snapshot_tasks"]] == [task["id"]]
    assert call(nas, "POST", "/replication", {**rep, "ssh_credentials": conn})[0] == 422  # name taken
    status, _, text = call(nas, "DELETE", f"/pool/snapshottask/id/{task['id']}")
    body = json.loads(text)
    assert status == 422 and set(body) == {"message", "errno"} and "last periodic snapshot task" in body["message"]


def test_keychain_credentials_filter_by_type(nas):
    nas.add_ssh_connection("offsite")
    found = json.loads(call(nas, "GET", "/keychaincredential?type=SSH_CREDENTIALS")[2])
    assert [c["name"] for c in found] == ["offsite"] and {c["type"] for c in found} == {"SSH_CREDENTIALS"}
