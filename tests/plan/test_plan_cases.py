"""Plan cases as data: tests/plan/cases/*.yaml — a patch of the reference lab + prior state + live facts
-> the expected actionable changes (action and reason) and layer statuses.

Live facts (engines with `live: reference`) come from tests/plan/live/, written by hand from the seed and the
lab file in the real engines' vocabularies, and differ from them only where a case's `live_patch` says so —
so "nothing to do" is an outside expectation, never the desired state compared with itself."""

from __future__ import annotations

from pathlib import Path

import pytest
from plan_helpers import doc_of, engines_for, patch_lab, plan_for, record_all, reference_data, reference_live
from ruamel.yaml import YAML

CASES = sorted((Path(__file__).parent / "cases").glob("*.yaml"))


def load_case(path: Path) -> dict:
    return YAML(typ="safe").load(path.read_text())


@pytest.mark.parametrize("case_path", CASES, ids=[p.stem for p in CASES])
def test_plan_case(case_path, tmp_path):
    from homelab.state.store import StateStore

    case = load_case(case_path)
    base = reference_data()
    base_doc = doc_of(base)
    doc = doc_of(patch_lab(base, case.get("patch", [])))
    store = StateStore(tmp_path / "state")
    if case.get("state", "applied") == "applied":
        record_all(store, base_doc, case.get("state_patch"))
    live = reference_live()  # written from outside homelab: never the desired attributes themselves
    for addr, attrs in (case.get("live_patch") or {}).items():
        if attrs is None:
            live.pop(addr, None)
        else:
            live.setdefault(addr, {}).update(attrs)
    engines = engines_for(case.get("engines"), live)
    plan = plan_for(doc, store, engines, tmp_path)

    expect = case["expect"]
    actual = {c.address: c for c in plan.changes if c.action != "no-op"}
    if "changes" in expect:
        want = expect["changes"] or {}
        assert sorted(actual) == sorted(want), "actionable changes differ"
        for addr, w in want.items():
            assert actual[addr].action == w["action"], addr
            if "reason" in w:
                assert actual[addr].reason == w["reason"], addr
            if "reason_contains" in w:
                assert w["reason_contains"] in actual[addr].reason, addr
    if "counts" in expect:
        counts = {}
        for c in plan.changes:
            counts[c.action] = counts.get(c.action, 0) + 1
        assert counts == expect["counts"]
    for addr, w in (expect.get("includes") or {}).items():
        assert actual[addr].action == w["action"], addr
        if "reason" in w:
            assert actual[addr].reason == w["reason"], addr
    for name, describe in (expect.get("layers") or {}).items():
        layer = plan.layer(name)
        assert layer is not None, name
        assert layer.describe() == describe["status"], name
        assert layer.source == describe["source"], name
    if "summary" in expect:
        assert plan.summary() == expect["summary"]
    store.close()
