"""VaultEngine (the planner's seam) against a real OpenBao: status, facts, apply of chosen addresses."""

from __future__ import annotations

import pytest

from homelab.engines.base import Change, EngineContext
from homelab.engines.vault import VaultEngine, desired_resources

pytestmark = pytest.mark.integration


@pytest.fixture
def ctx(openbao, reference_doc, monkeypatch, tmp_path):
    for name in ("VAULT_TOKEN", "HOMELAB_VAULT_KEYS_FILE", "HOMELAB_STATE_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOMELAB_VAULT_ADDR", "embedded")  # never the reference lab's real address
    return EngineContext(doc=reference_doc, workdir=tmp_path, state_dir=openbao.state_dir)


def test_engine_applies_only_the_changes_it_is_handed(ctx, openbao):
    engine = VaultEngine()
    st = engine.status(ctx)
    assert st.configured and st.reachable, st.reason
    desired = desired_resources(ctx.doc.lab)
    wanted = ["vault_mount.secret", "vault_policy.apps", "vault_policy.terraform"]
    assert engine.read_facts(ctx, ["vault_policy.apps"]) in ({}, {"vault_policy.apps": desired["vault_policy.apps"]})
    changes = [Change(a, "create", "missing") for a in reversed(wanted)]
    results = engine.apply(ctx, changes)
    assert [r.address for r in results] == sorted(wanted) and all(r.ok for r in results)
    facts = engine.read_facts(ctx, wanted + ["vault_user.terraform"])
    assert facts["vault_policy.terraform"] == desired["vault_policy.terraform"]  # same text as rendered
    assert facts["vault_mount.secret"] == {"type": "kv", "version": "2"}
    assert "vault_user.terraform" not in facts  # not handed to apply: not created
    # applying again is a no-op in Vault
    again = engine.apply(ctx, [Change("vault_policy.terraform", "no-op", "in sync")])
    assert again[0].ok and again[0].message.startswith("unchanged")
    unknown = engine.apply(ctx, [Change("vault_thing.x", "create", "?")])
    assert unknown[0].ok is False
