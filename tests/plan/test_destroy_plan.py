"""`homelab destroy` as a plan (ops/destroy.py, planner `destroy`): it lists everything of the layers that
state holds and the engines discover live, the layers depending on them come along, a Vault backup is
taken before anything of the vault layer goes, and applying deletes exactly what the plan listed."""

from __future__ import annotations

import pytest
from fake_engine import RecordingEngine, fake_engines, lookup
from plan_helpers import doc_of, reference_data

from homelab.apply import open_session
from homelab.errors import UsageError
from homelab.ops import destroy as ops


class DiscoveringVault(RecordingEngine):
    def discover(self, ctx):
        return sorted(a for a in self.live if a.startswith("vault_"))


@pytest.fixture
def applied(tmp_path):
    """The reference lab applied through recording engines; a policy made by hand lives in Vault."""
    engines = fake_engines()
    engines["vault"] = DiscoveringVault("vault")
    s = open_session(doc_of(reference_data()), state_dir=tmp_path / "state", workdir=tmp_path,
                     engines=lookup(engines))
    report = s.apply(s.plan())
    assert not report.failed
    engines["vault"].live["vault_policy.by-hand"] = {"sha256": "x"}
    for e in engines.values():
        e.calls.clear()
    yield s, engines
    s.close()


def test_destroy_apps_lists_and_deletes_exactly_the_apps(applied):
    s, engines = applied
    state_before = set(s.store.resources())
    plan, covered = ops.destroy_plan(s, ops.layers_for(["apps"]))
    assert covered == ["apps"]
    listed = [c.address for c in plan.changes]
    apps = sorted(a for a, r in s.store.resources().items() if r.layer == "apps")
    assert sorted(listed) == apps and apps
    assert all(c.action == "delete" and "homelab destroy" in c.reason for c in plan.changes)
    report, made = ops.destroy(s, plan, backup=None)
    assert made is None and not report.failed
    deleted = [a for e in engines.values() for a in e.calls]
    assert sorted(deleted) == sorted(listed)  # nothing else was touched
    assert set(s.store.resources()) == state_before - set(listed)


def test_destroy_vms_takes_what_runs_on_them_and_says_so(applied):
    s, _ = applied
    plan, covered = ops.destroy_plan(s, ["vms"])
    assert covered[0] == "vms" and "hosts" in covered and "clusters" in covered
    assert any(n.startswith("layer hosts is destroyed too: host.") for n in plan.notes)
    assert "vault" not in covered  # Vault does not depend on the VMs
    assert not any(c.layer == "vault" for c in plan.changes)


def test_destroy_all_backs_up_vault_first_and_deletes_the_discovered_policy(applied):
    s, engines = applied
    plan, covered = ops.destroy_plan(s, ops.layers_for([]))
    assert covered == ["vault", "vms", "hosts", "clusters", "gitops", "platform", "apps", "nas"]
    by = plan.by_address()
    assert by["vault_policy.by-hand"].action == "delete"  # live, in neither lab nor state
    assert set(by) == set(s.store.resources()) | {"vault_policy.by-hand"}
    order: list[str] = []

    def backup():
        order.append("backup")
        assert not any(e.calls for e in engines.values()), "a deletion ran before the backup"
        return "vault-backup"

    report, made = ops.destroy(s, plan, backup=backup)
    assert made == "vault-backup" and order == ["backup"] and not report.failed
    assert s.store.resources() == {}
    assert sorted(a for e in engines.values() for a in e.calls) == sorted(by)
    # a second destroy finds nothing left to delete
    again, _ = ops.destroy_plan(s, ops.layers_for([]))
    assert again.changes == []


def test_vault_deletions_without_a_backup_are_refused_before_anything_goes(applied):
    s, engines = applied
    plan, _ = ops.destroy_plan(s, ["vault"])
    with pytest.raises(UsageError, match="no Vault backup"):
        ops.destroy(s, plan, backup=None)
    assert not any(e.calls for e in engines.values())


def test_unknown_layer_is_a_usage_error():
    with pytest.raises(UsageError, match="not a layer"):
        ops.layers_for(["vm"])
