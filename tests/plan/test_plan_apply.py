"""Apply: ready batches, recording each success at once, failure + resume without applying twice,
stale plans, skipped layers, parallelism, and no secret reaching the state."""

from __future__ import annotations

from collections import Counter

import pytest
from fake_engine import ENGINE_NAMES, RecordingEngine, fake_engines, lookup
from plan_helpers import doc_of, patch_lab, reference_data

from homelab.apply import StalePlanError, open_session
from homelab.errors import StateError
from homelab.secrets import REDACTOR, Secret


@pytest.fixture(scope="module")
def ref_doc():
    return doc_of(reference_data())


def session(doc, tmp_path, engines):
    return open_session(doc, state_dir=tmp_path / "state", workdir=tmp_path, engines=lookup(engines))


def all_calls(engines) -> list[str]:
    return [a for e in engines.values() for a in e.calls]


def test_apply_everything_then_nothing_to_do(ref_doc, tmp_path):
    engines = fake_engines()
    s = session(ref_doc, tmp_path, engines)
    plan = s.plan()
    assert plan.summary()["add"] == 146
    report = s.apply(plan)
    assert report.exit_code == 0 and not report.failed
    assert len(report.of("applied")) == 146
    calls = all_calls(engines)
    assert sorted(calls) == sorted(c.address for c in plan.changes)
    assert len(s.store.resources()) == 146
    assert s.store.serial() == 146  # one write per resource
    # the engines' live systems now match: the next plan reads facts and has nothing to do
    again = s.plan()
    assert not again.has_changes
    # what the engines report back (their fact vocabulary, fake_engine.VOCABULARY) matches; ArgoCD synced the apps
    assert {c.reason for c in again.changes} == {"matches the live system", "Synced and Healthy in ArgoCD"}
    assert {c.address for c in again.changes if c.reason == "Synced and Healthy in ArgoCD"} == {
        c.address for c in again.changes if c.address.startswith("argocd_app.")}
    # each engine was handed only its own layers' resources
    assert all(a.startswith(("vault_",)) for a in engines["vault"].calls)
    assert all(a.startswith("proxmox_vm.") for a in engines["terraform"].calls)
    s.close()


def test_failure_stops_dependents_records_successes_and_resume_never_applies_twice(ref_doc, tmp_path):
    engines = fake_engines()
    engines["ansible"].fail = {"k3s_server.kube01"}
    s = session(ref_doc, tmp_path, engines)
    report = s.apply(s.plan())
    assert report.exit_code == 3
    assert [o.address for o in report.failed] == ["k3s_server.kube01"]
    failed = report.failed[0]
    assert "could not apply k3s_server.kube01" in failed.message
    assert "boom" in failed.output_tail
    blocked = {o.address for o in report.of("blocked")}
    # everything downstream of the first server is not started ...
    assert {"k3s_server.kube02", "k3s_server.kube03", "k3s_agent.kube04", "argocd_bootstrap.argocd",
            "argocd_app.media/sonarr", "argocd_app.platform/metallb"} <= blocked
    # ... but independent work went on and is recorded
    state = s.store.resources()
    assert "es_node.es01" in state and "fleet_server.fleet" in state and "host.kube01" in state
    assert "k3s_server.kube01" not in state and "k3s_server.kube02" not in state
    first_calls = all_calls(engines)
    assert "k3s_server.kube02" not in first_calls

    # resume: the cause is fixed; the new plan only holds what did not happen
    engines["ansible"].fail = set()
    plan2 = s.plan()
    todo = {c.address for c in plan2.actionable()}
    assert todo == blocked | {"k3s_server.kube01"}
    report2 = s.apply(plan2)
    assert report2.exit_code == 0
    counts = Counter(all_calls(engines))
    assert set(counts) == {c.address for c in plan2.changes}  # every resource applied ...
    assert max(counts.values()) == 1  # ... exactly once over both runs
    assert not s.plan().has_changes
    s.close()


def test_a_saved_plan_is_refused_when_the_state_or_the_lab_changed(ref_doc, tmp_path):
    engines = fake_engines()
    s = session(ref_doc, tmp_path, engines)
    plan = s.plan()
    s.store.record("vault_mount.secret", layer="vault", engine="vault", attrs={}, lab_digest="x")
    with pytest.raises(StalePlanError) as err:
        s.apply(plan)
    assert "state changed since the plan was made (serial 0 → 1)" in err.value.message
    assert err.value.exit_code == 1
    assert all_calls(engines) == []
    s.close()

    other = doc_of(patch_lab(reference_data(), [{"set": "vms[name=kube04].memory", "value": "16GiB"}]))
    s2 = session(other, tmp_path, engines)
    plan = session(ref_doc, tmp_path, engines).plan()
    with pytest.raises(StalePlanError) as err:
        s2.apply(plan)
    assert "homelab.yaml changed since the plan was made" in err.value.message
    assert all_calls(engines) == []
    assert s2.store.lock_info() is None  # the lock was released
    s2.close()


def test_layers_without_a_configured_engine_are_skipped_with_the_reason(ref_doc, tmp_path):
    engines = fake_engines()
    engines["terraform"] = RecordingEngine("terraform", configured=False, reachable=False,
                                           reason="proxmox.endpoint is not set")
    s = session(ref_doc, tmp_path, engines)
    plan = s.plan()
    assert plan.layer("vms").describe() == "not configured: proxmox.endpoint is not set"
    report = s.apply(plan)
    assert report.exit_code == 0
    skipped = {o.address: o.message for o in report.of("skipped")}
    assert skipped["proxmox_vm.kube01"] == "skipped: terraform not configured: proxmox.endpoint is not set"
    assert len(skipped) == 22
    blocked = {o.address: o.message for o in report.of("blocked")}
    assert blocked["host.kube01"] == "not started: it depends on proxmox_vm.kube01, which was skipped"
    assert len(blocked) == 146 - 37 - 22 - 3  # everything after the VMs (37 in the vault layer, 17 of them the CA; the 3 ZFS tasks need no VM)
    assert sorted(engines["vault"].calls) == sorted(c.address for c in plan.changes if c.layer == "vault")
    assert engines["terraform"].calls == [] and engines["ansible"].calls == []
    s.close()


@pytest.mark.parametrize("parallelism,expect_parallel", [(1, False), (4, True)])
def test_parallelism_runs_independent_resources_of_a_batch_at_once(ref_doc, tmp_path, parallelism,
                                                                   expect_parallel):
    engines = {n: RecordingEngine(n, configured=(n == "vault"), reachable=(n == "vault"), delay=0.05)
               for n in ENGINE_NAMES}
    s = session(ref_doc, tmp_path, engines)
    report = s.apply(s.plan(), parallelism=parallelism)
    assert len(report.of("applied")) == 37  # the vault layer (17 of them the CA: mounts, cert auth, issuing roles)
    assert (engines["vault"].max_active > 1) is expect_parallel
    assert engines["vault"].max_active <= parallelism
    s.close()


def test_no_secret_value_reaches_the_state(ref_doc, tmp_path):
    engines = fake_engines()
    REDACTOR.add("known-secret-value-0451")
    engines["vault"].outputs = {
        "vault_mount.secret": {"token": Secret("planted-secret-value-9731")},
        "vault_auth.userpass": {"note": "password is known-secret-value-0451"},
    }
    s = session(ref_doc, tmp_path, engines)
    report = s.apply(s.plan())
    failed = {o.address: o.message for o in report.failed}
    assert failed == {"vault_mount.secret": "refusing to store a secret value in state (attrs.token)",
                      "vault_auth.userpass": "refusing to store a secret value in state (attrs.note)"}
    assert report.exit_code == 3
    s.close()
    raw = b"".join(p.read_bytes() for p in (tmp_path / "state").iterdir())
    assert b"planted-secret-value-9731" not in raw
    assert b"known-secret-value-0451" not in raw


def test_the_store_refuses_a_secret_directly(tmp_path):
    from homelab.state.store import StateStore

    store = StateStore(tmp_path)
    with pytest.raises(StateError):
        store.record("vault_user.x", layer="vault", engine="vault", attrs={"nested": [{"pw": Secret("abcd1234")}]},
                     lab_digest="d")
    assert store.serial() == 0 and store.resources() == {}
    store.close()


def test_no_secret_from_live_facts_reaches_the_plan(ref_doc, tmp_path):
    REDACTOR.add("fact-secret-value-2718")
    engines = fake_engines()
    engines["vault"].live = {"vault_user.terraform": {"policies": ["terraform"], "password": Secret("hunter2-x9"),
                                                      "token_ttl": "token fact-secret-value-2718"}}
    s = session(ref_doc, tmp_path, engines)
    text = s.plan().dumps()
    assert "hunter2-x9" not in text and "fact-secret-value-2718" not in text
    # the lab's secret *references* are there, never values
    assert '"token": "k3s/cluster#token"' in text
    s.close()
