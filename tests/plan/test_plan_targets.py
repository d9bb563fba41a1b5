"""`--target`: a plan of exactly the matching resources, with notes for what they still wait on;
`--prune`: live resources nobody declared or recorded are planned for deletion."""

from __future__ import annotations

import pytest
from fake_engine import RecordingEngine, fake_engines, lookup
from plan_helpers import doc_of, reference_data

from homelab.apply import open_session
from homelab.errors import UsageError
from homelab.plan.model import Plan


@pytest.fixture(scope="module")
def ref_doc():
    return doc_of(reference_data())


def session(doc, tmp_path, engines):
    return open_session(doc, state_dir=tmp_path / "state", workdir=tmp_path, engines=lookup(engines))


def test_a_target_keeps_exactly_the_matching_changes_and_notes_what_they_wait_on(ref_doc, tmp_path):
    s = session(ref_doc, tmp_path, fake_engines())
    plan = s.plan(targets=["k3s_agent.kube06"])
    assert [c.address for c in plan.changes] == ["k3s_agent.kube06"]
    assert [lay.name for lay in plan.layers] == ["clusters"]  # nothing else was asked
    assert len(plan.notes) == 1 and plan.notes[0].startswith("k3s_agent.kube06 depends on")
    assert "host.kube06" in plan.notes[0] and "not applied yet" in plan.notes[0]
    again = Plan.loads(plan.dumps())  # a saved targeted plan keeps its targets and notes
    assert again.targets == ("k3s_agent.kube06",) and again.notes == plan.notes
    s.close()


def test_globs_select_a_whole_kind_and_a_type_glob_alone_works(ref_doc, tmp_path):
    s = session(ref_doc, tmp_path, fake_engines())
    vault = s.plan(targets=["vault_*"])
    assert vault.changes and {c.layer for c in vault.changes} == {"vault"}
    assert vault.notes == []  # the Vault layer depends on nothing
    servers = s.plan(targets=["k3s_server.*"])
    assert [c.address for c in servers.changes] == ["k3s_server.kube01", "k3s_server.kube02", "k3s_server.kube03"]
    s.close()


def test_applying_a_target_applies_nothing_else_and_records_it(ref_doc, tmp_path):
    engines = fake_engines()
    s = session(ref_doc, tmp_path, engines)
    report = s.apply(s.plan(targets=["vault_policy.*", "vault_mount.*"]))
    assert not report.failed
    applied = sorted(o.address for o in report.of("applied"))
    assert applied and all(a.startswith(("vault_policy.", "vault_mount.")) for a in applied)
    assert sorted(s.store.resources()) == applied
    assert engines["terraform"].calls == [] and engines["ansible"].calls == []
    s.close()


@pytest.mark.parametrize("pattern,message", [
    ("proxmox-vm.kube01", "is not an address or a glob"),
    ("nosuch_kind.x", "no resource type matches 'nosuch_kind'"),
    ("k3s_agent.kube99", "matches no resource of the lab or the state"),
])
def test_a_target_that_cannot_match_is_refused(ref_doc, tmp_path, pattern, message):
    s = session(ref_doc, tmp_path, fake_engines())
    with pytest.raises(UsageError) as err:
        s.plan(targets=[pattern])
    assert message in err.value.message
    s.close()


class DiscoveringVault(RecordingEngine):
    def discover(self, ctx):
        return sorted(a for a in self.live if a.startswith(("vault_policy.", "vault_user.")))


def test_prune_plans_deleting_what_is_live_but_neither_declared_nor_recorded(ref_doc, tmp_path):
    engines = fake_engines()
    engines["vault"] = DiscoveringVault("vault", live={"vault_policy.stray": {"sha256": "x"}})
    s = session(ref_doc, tmp_path, engines)
    assert "vault_policy.stray" not in s.plan().by_address()  # without --prune: left alone
    plan = s.plan(targets=["vault_*"], prune=True)
    stray = plan.by_address()["vault_policy.stray"]
    assert stray.action == "delete" and "--prune" in stray.reason and stray.before == {"sha256": "x"}
    s.apply(plan)
    assert "vault_policy.stray" not in engines["vault"].live
    s.close()
