"""The public API the README shows: load → check → render → plan → apply (and up), as a library."""

from __future__ import annotations

import shutil

from fake_engine import fake_engines, lookup

import homelab


def test_the_readme_example_runs_end_to_end(reference_path, tmp_path):
    lab = tmp_path / "homelab.yaml"
    shutil.copy(reference_path, lab)
    engines = lookup(fake_engines())
    doc = homelab.load(lab)
    assert homelab.check(doc) == []
    files = homelab.render(doc)  # pure
    assert not (tmp_path / "repo").exists()
    written = homelab.render(doc, out=tmp_path / "repo")
    assert [f.path for f in written] == [f.path for f in files]
    assert (tmp_path / "repo" / "tf" / "lab" / "main.tf").read_text() == next(
        f.content for f in files if f.path == "tf/lab/main.tf")
    plan = homelab.plan(doc, targets=["vault_*"], state_dir=tmp_path / "state", engines=engines)
    assert plan.changes and all(c.layer == "vault" for c in plan.changes)
    report = homelab.apply(plan, doc, state_dir=tmp_path / "state", engines=engines)
    assert report.exit_code == 0 and len(report.of("applied")) == len(plan.changes)
    again = homelab.plan(doc, targets=["vault_*"], state_dir=tmp_path / "state", engines=engines)
    assert not again.has_changes  # recorded: nothing left to do


def test_up_does_everything_and_refuses_a_lab_with_errors(reference_path, tmp_path):
    import pytest

    from homelab.ops.pipeline import CheckFailed

    engines = lookup(fake_engines())
    report = homelab.up(reference_path, out=tmp_path / "repo", state_dir=tmp_path / "state", engines=engines)
    assert report.exit_code == 0 and report.of("applied")
    bad = tmp_path / "bad.yaml"
    bad.write_text(reference_path.read_text().replace("gateway: 192.168.10.1", "gateway: 10.9.9.1"))
    with pytest.raises(CheckFailed) as err:
        homelab.up(bad, out=tmp_path / "repo2", state_dir=tmp_path / "state2", engines=engines)
    assert err.value.diagnostics and "not applying" in err.value.message
    assert not (tmp_path / "repo2").exists()
