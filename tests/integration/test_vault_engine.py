"""VaultEngine (the planner's seam) against a real OpenBao: status, facts, and apply of exactly the
changes it is handed — with the attributes the plan computed (plan/desired/vault.py)."""

from __future__ import annotations

import hashlib

import pytest

from homelab.engines.base import Change, EngineContext
from homelab.engines.vault import VaultEngine
from homelab.errors import EngineError
from homelab.plan.desired import desired
from homelab.render.vault import policy_hcl

pytestmark = [pytest.mark.integration, pytest.mark.validators]  # a real OpenBao server


@pytest.fixture
def ctx(openbao, reference_doc, monkeypatch, tmp_path):
    for name in ("VAULT_TOKEN", "HOMELAB_VAULT_KEYS_FILE", "HOMELAB_STATE_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOMELAB_VAULT_ADDR", "embedded")  # never the reference lab's real address
    return EngineContext(doc=reference_doc, workdir=tmp_path, state_dir=openbao.state_dir)


def _change(want, address, action="create"):
    return Change(address, action, "test", None, want[address].attrs)


def test_engine_applies_only_the_changes_it_is_handed(ctx, openbao):
    engine = VaultEngine()
    st = engine.status(ctx)
    assert st.configured and st.reachable, st.reason
    want = desired(ctx.doc)
    wanted = ["vault_mount.secret", "vault_policy.apps", "vault_policy.terraform"]
    assert engine.read_facts(ctx, ["vault_policy.apps"]) == {}  # nothing there yet
    results = engine.apply(ctx, [_change(want, a) for a in reversed(wanted)])
    assert [r.address for r in results] == sorted(wanted) and all(r.ok for r in results)
    facts = engine.read_facts(ctx, wanted + ["vault_user.terraform"])
    text = policy_hcl(ctx.doc.lab, "terraform")  # the text `homelab render` writes, uploaded as is
    assert facts["vault_policy.terraform"] == {"sha256": hashlib.sha256(text.encode()).hexdigest()}
    assert openbao.api().read_policy("terraform") == text
    assert facts["vault_mount.secret"] == {"type": "kv", "version": "2"}
    assert "vault_user.terraform" not in facts  # not handed to apply: not created
    assert engine.apply(ctx, [Change("vault_policy.terraform", "no-op", "in sync")]) == []  # nothing to do
    with pytest.raises(EngineError, match="cannot apply vault_thing.x"):
        engine.apply(ctx, [Change("vault_thing.x", "create", "?")])


def test_a_user_is_created_with_a_stored_password_and_its_login_is_a_fact(ctx, openbao):
    engine = VaultEngine()
    want = desired(ctx.doc)
    engine.apply(ctx, [_change(want, a) for a in ("vault_mount.secret", "vault_auth.userpass",
                                                 "vault_policy.terraform")])
    engine.apply(ctx, [_change(want, "vault_user.terraform")])
    live = engine.read_facts(ctx, ["vault_user.terraform"])["vault_user.terraform"]
    assert live == {"policies": ["terraform"], "token_ttl": 1200, "token_max_ttl": 3600, "login": "ok"}
    root = openbao.api()
    root.set_user_password("terraform", "changed-behind-our-back-123")  # drift: the stored password fails
    live = engine.read_facts(ctx, ["vault_user.terraform"])["vault_user.terraform"]
    assert live["login"] == "the password at automation/terraform is refused"
    results = engine.apply(ctx, [_change(want, "vault_user.terraform", "update")])
    assert "password reset to the one stored" in results[0].message
    assert engine.read_facts(ctx, ["vault_user.terraform"])["vault_user.terraform"]["login"] == "ok"


def test_destructive_deletes_are_refused_and_secrets_are_only_soft_deleted(ctx, openbao):
    engine = VaultEngine()
    want = desired(ctx.doc)
    engine.apply(ctx, [_change(want, "vault_mount.secret")])
    engine.apply(ctx, [_change(want, "vault_secret.k3s/cluster")])
    before = openbao.api().kv_read("k3s/cluster")
    assert before is not None and sorted(before[0]) == ["token"]
    with pytest.raises(EngineError, match="never disables the KV mount"):
        engine.apply(ctx, [Change("vault_mount.secret", "delete", "gone from the lab")])
    engine.apply(ctx, [Change("vault_secret.k3s/cluster", "delete", "gone from the lab")])
    assert openbao.api().kv_read("k3s/cluster") is None  # the latest version is deleted ...
    meta = openbao.api().kv_metadata("k3s/cluster")
    assert meta["versions"]["1"]["deletion_time"] and not meta["versions"]["1"]["destroyed"]  # ... not destroyed
