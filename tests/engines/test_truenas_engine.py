"""The truenas engine through plan and apply, against the TrueNAS contract fake (tests/fakes/truenas.py: no
TrueNAS runs here). ZFS snapshot and replication tasks of the lab are created through the REST API in the
documented shapes; the next plan reads them back and has nothing to do; a task changed on the NAS is an
update, one deleted there a create, one made by hand a delete only with --prune; a bad key, a missing SSH
connection and a refused request are clear errors; no key and no private key reaches a plan or the state."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plan"))
from fake_engine import RecordingEngine  # noqa: E402
from plan_helpers import doc_of, reference_data  # noqa: E402

from fakes.truenas import DOCUMENTED, FakeTrueNas  # noqa: E402
from homelab.apply import open_session  # noqa: E402
from homelab.engines.truenas import TrueNasEngine  # noqa: E402
from homelab.secrets import Secret  # noqa: E402

KEY = "1-TrueNasApiKeyForTheContractFake0123456789"
NAS = ("zfs_snapshot_task.tank", "zfs_snapshot_task.tank/k8s", "zfs_replication.offsite")


@pytest.fixture
def nas(tmp_path):
    fake = FakeTrueNas(api_key=KEY)
    url = fake.start(tmp_path / "tls")
    fake.url = url
    fake.connection = fake.add_ssh_connection("truenas-offsite")
    yield fake
    fake.stop()


def lab(nas, **truenas):
    data = reference_data()
    data["storage"]["truenas"].update({"api_url": nas.url, "ca_file": str(nas.ca_file), **truenas})
    return doc_of(data)


def session(doc, tmp_path, key=KEY, engine=None):
    others = {n: RecordingEngine(n, configured=False, reason=f"{n} not configured here")
              for n in ("vault", "terraform", "ansible", "kubernetes")}
    engines = {**others, "truenas": engine or TrueNasEngine()}
    s = open_session(doc, state_dir=tmp_path / "state", workdir=tmp_path, engines=lambda n: engines[n])
    s.ctx.read_secret = lambda path, field: Secret(key) if (path, field) == ("storage/truenas", "api_key") else None
    return s


def nas_changes(plan) -> dict:
    return {c.address: c for c in plan.changes if c.layer == "nas"}


def test_apply_creates_the_tasks_in_the_documented_shapes_then_nothing_to_do(nas, tmp_path):
    s = session(lab(nas), tmp_path)
    plan = s.plan()
    layer = next(lay for lay in plan.layers if lay.name == "nas")
    assert layer.configured and layer.reachable and layer.source == "facts"
    assert "TrueNAS-SCALE-24.10.2" in layer.reason
    changes = nas_changes(plan)
    assert sorted(changes) == sorted(NAS) and {c.action for c in changes.values()} == {"create"}
    assert {c.reason for c in changes.values()} == {"not found on the live system"}
    report = s.apply(plan)
    assert sorted(o.address for o in report.of("applied")) == sorted(NAS), report.to_json()

    posts = [(p, b) for m, p, q, b in nas.requests if m == "POST"]
    assert [p for p, _ in posts] == ["/api/v2.0/pool/snapshottask"] * 2 + ["/api/v2.0/replication"]
    for path, body in posts:
        schema = DOCUMENTED["periodic_snapshot_create" if "snapshottask" in path else "replication_create"]
        assert set(body) <= set(schema), set(body) - set(schema)
        assert {k for k, (required, _) in schema.items() if required} <= set(body)
    tank = next(t for t in nas.tasks.values() if t["dataset"] == "tank")
    assert tank["lifetime_value"] == 14 and tank["lifetime_unit"] == "DAY" and tank["recursive"] is True
    assert tank["schedule"] == {"minute": "0", "hour": "0", "dom": "*", "month": "*", "dow": "*",
                                "begin": "00:00", "end": "23:59"}
    hourly = next(t for t in nas.tasks.values() if t["dataset"] == "tank/k8s")
    assert (hourly["lifetime_value"], hourly["lifetime_unit"], hourly["schedule"]["hour"]) == (48, "HOUR", "*")
    (rep,) = nas.replications.values()
    assert rep["periodic_snapshot_tasks"] == [tank["id"]] and rep["ssh_credentials"] == nas.connection
    assert (rep["direction"], rep["transport"], rep["target_dataset"]) == ("PUSH", "SSH", "tank/replica")
    assert (rep["retention_policy"], rep["lifetime_value"], rep["lifetime_unit"]) == ("CUSTOM", 8, "WEEK")

    again = nas_changes(s.plan())
    assert {c.action for c in again.values()} == {"no-op"}, {a: c.reason for a, c in again.items()}
    assert {c.reason for c in again.values()} == {"matches the live system"}


def test_drift_on_the_nas_is_an_update_and_a_deleted_task_a_create(nas, tmp_path):
    s = session(lab(nas), tmp_path)
    s.apply(s.plan())
    tank = next(t for t in nas.tasks.values() if t["dataset"] == "tank")
    tank["lifetime_value"] = 7
    tank["schedule"]["hour"] = "5"
    nas.replications[next(iter(nas.replications))]["enabled"] = False
    del nas.tasks[next(i for i, t in nas.tasks.items() if t["dataset"] == "tank/k8s")]
    changes = nas_changes(s.plan())
    assert changes["zfs_snapshot_task.tank"].action == "update"
    assert "drift: lifetime_value is 7 live, 14 desired" in changes["zfs_snapshot_task.tank"].reason
    assert 'drift: schedule is {"begin":"00:00"' in changes["zfs_snapshot_task.tank"].reason
    assert changes["zfs_snapshot_task.tank/k8s"].action == "create"
    assert "deleted outside homelab" in changes["zfs_snapshot_task.tank/k8s"].reason
    assert changes["zfs_replication.offsite"].action == "update"
    assert "drift: enabled is false live, true desired" in changes["zfs_replication.offsite"].reason
    before = len(nas.requests)
    report = s.apply(s.plan())
    assert not report.failed, report.to_json()
    tank = next(t for t in nas.tasks.values() if t["dataset"] == "tank")
    methods = [(m, re.sub(r"/id/\d+$", "/id/N", p)) for m, p, _, _ in nas.requests[before:]
               if m in ("POST", "PUT", "DELETE")]
    assert sorted(methods) == sorted([("PUT", "/api/v2.0/pool/snapshottask/id/N"),
                                      ("POST", "/api/v2.0/pool/snapshottask"), ("PUT", "/api/v2.0/replication/id/N")])
    assert tank["lifetime_value"] == 14 and tank["schedule"]["hour"] == "0"
    for method, path, _, body in nas.requests[before:]:
        if method == "PUT":  # an update takes the create schema's attributes (Patch ... attr update=True)
            schema = DOCUMENTED["periodic_snapshot_create" if "snapshottask" in path else "replication_create"]
            assert set(body) <= set(schema), set(body) - set(schema)
    assert {c.action for c in nas_changes(s.plan()).values()} == {"no-op"}


def test_a_task_made_by_hand_is_deleted_only_with_prune(nas, tmp_path):
    s = session(lab(nas), tmp_path)
    s.apply(s.plan())
    status, made = nas.route("POST", "/pool/snapshottask", {}, {
        "dataset": "tank/k8s/nfs", "recursive": False, "lifetime_value": 1, "lifetime_unit": "YEAR",
        "naming_schema": "manual-%Y%m%d%H%M", "schedule": {"minute": "30"}})
    assert status == 200
    assert {c.action for c in nas_changes(s.plan()).values()} == {"no-op"}
    pruned = s.plan(prune=True)
    (change,) = [c for c in pruned.changes if c.action == "delete"]
    assert change.address == f"zfs_snapshot_task.truenas-id-{made['id']}"
    assert "--prune deletes it" in change.reason and change.before["dataset"] == "tank/k8s/nfs"
    report = s.apply(pruned)
    assert not report.failed and made["id"] not in nas.tasks
    assert ("DELETE", f"/api/v2.0/pool/snapshottask/id/{made['id']}") in [(m, p) for m, p, _, _ in nas.requests]


def test_a_task_removed_from_the_lab_is_deleted_on_the_nas(nas, tmp_path):
    s = session(lab(nas), tmp_path)
    s.apply(s.plan())
    data = reference_data()
    data["storage"]["truenas"].update({"api_url": nas.url, "ca_file": str(nas.ca_file)})
    data["backup"]["zfs"] = [z for z in data["backup"]["zfs"] if z["dataset"] != "tank/k8s"]
    s2 = session(doc_of(data), tmp_path)
    plan = s2.plan()
    assert nas_changes(plan)["zfs_snapshot_task.tank/k8s"].action == "delete"
    report = s2.apply(plan)
    assert not report.failed
    assert [t["dataset"] for t in nas.tasks.values()] == ["tank"]


def test_a_bad_key_is_a_clear_not_reachable_and_never_printed(nas, tmp_path):
    s = session(lab(nas), tmp_path, key="not-the-key-0123456789")
    plan = s.plan()
    layer = next(lay for lay in plan.layers if lay.name == "nas")
    assert layer.configured and not layer.reachable and layer.source == "state"
    assert "401" in layer.reason and "Invalid API key" in layer.reason
    assert "not-the-key-0123456789" not in json.dumps(plan.to_json())
    assert {c.action for c in nas_changes(plan).values()} == {"create"}  # planned from (empty) state
    report = s.apply(plan)
    assert {o.address for o in report.of("skipped")} >= set(NAS)


def test_without_an_api_url_the_layer_is_not_configured(tmp_path):
    s = session(doc_of(reference_data()), tmp_path)
    layer = next(lay for lay in s.plan().layers if lay.name == "nas")
    assert not layer.configured and layer.reason == "storage.truenas.api_url is not set"


def test_a_missing_ssh_connection_and_a_refused_request_fail_with_the_apis_reason(nas, tmp_path):
    nas.credentials.clear()
    nas.datasets.discard("tank/k8s")
    s = session(lab(nas), tmp_path)
    report = s.apply(s.plan())
    failed = {o.address: o.message for o in report.failed}
    assert "no SSH connection named 'truenas-offsite' on the NAS" in failed["zfs_replication.offsite"]
    assert "(422): periodic_snapshot_create.dataset: Dataset not found" in failed["zfs_snapshot_task.tank/k8s"]
    assert [o.address for o in report.of("applied")] == ["zfs_snapshot_task.tank"]


def test_no_key_and_no_private_key_in_plans_or_state(nas, tmp_path):
    s = session(lab(nas), tmp_path)
    s.apply(s.plan())
    text = json.dumps(s.plan(prune=True).to_json())
    raw = (tmp_path / "state" / "state.db").read_bytes()
    for secret in (KEY, "FAKE-PRIVATE-KEY-DO-NOT-LEAK"):
        assert secret not in text and secret.encode() not in raw
    assert '"ssh_credentials": "truenas-offsite"' in text


def test_a_key_missing_from_vault_makes_the_layer_not_reachable_with_the_reason(nas, tmp_path):
    from homelab.errors import EngineError

    s = session(lab(nas), tmp_path)

    def no_value(path, field):
        raise EngineError(f"Vault has no value for {path}#{field}")

    s.ctx.read_secret = no_value
    layer = next(lay for lay in s.plan().layers if lay.name == "nas")
    assert layer.configured and not layer.reachable
    assert layer.reason == "Vault has no value for storage/truenas#api_key"
    s.ctx.read_secret = None
    layer = next(lay for lay in s.plan().layers if lay.name == "nas")
    assert "no Vault access to read the TrueNAS API key (storage/truenas#api_key)" in layer.reason
    assert nas.requests == []  # nothing is sent without a key


def test_removing_a_replication_and_its_task_deletes_the_replication_first(nas, tmp_path):
    s = session(lab(nas), tmp_path)
    s.apply(s.plan())
    data = reference_data()
    data["storage"]["truenas"].update({"api_url": nas.url, "ca_file": str(nas.ca_file)})
    data["backup"]["zfs"] = [z for z in data["backup"]["zfs"] if z["dataset"] != "tank"]
    data["backup"]["zfs_replication"] = []
    s2 = session(doc_of(data), tmp_path)
    plan = s2.plan()
    assert {a: c.action for a, c in nas_changes(plan).items() if c.action != "no-op"} == {
        "zfs_replication.offsite": "delete", "zfs_snapshot_task.tank": "delete"}
    before = len(nas.requests)
    report = s2.apply(plan)
    assert not report.failed, report.to_json()  # the task alone would be refused: the replication still binds it
    deletes = [p for m, p, _, _ in nas.requests[before:] if m == "DELETE"]
    assert [p.split("/id/")[0] for p in deletes] == ["/api/v2.0/replication", "/api/v2.0/pool/snapshottask"]
    assert nas.replications == {} and [t["dataset"] for t in nas.tasks.values()] == ["tank/k8s"]
