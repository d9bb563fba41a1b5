"""`homelab plan / apply / up` through the CLI entry point, with fake engines (a test double of our
engine protocol, tests/plan/fake_engine.py) injected where the commands look engines up."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "plan"))

from fake_engine import fake_engines, lookup  # noqa: E402

from homelab.apply import session as apply_session  # noqa: E402
from homelab.cli.main import main  # noqa: E402
from homelab.plan.model import Plan  # noqa: E402

REFERENCE = Path(__file__).resolve().parent.parent / "examples" / "reference" / "homelab.yaml"


@pytest.fixture
def lab(tmp_path, monkeypatch):
    shutil.copy(REFERENCE, tmp_path / "homelab.yaml")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("HOMELAB_STATE_DIR", raising=False)
    engines = fake_engines()
    monkeypatch.setattr(apply_session, "default_engines", lambda: lookup(engines))
    return tmp_path, engines


def run(argv) -> int:
    with pytest.raises(SystemExit) as ex:
        main(argv)
    return ex.value.code


def test_detailed_exitcode_is_terraforms(lab, capsys):
    tmp, engines = lab
    assert run(["plan", "--detailed-exitcode"]) == 2  # changes present
    out = capsys.readouterr().out
    assert "Plan: 146 to add, 0 to change, 0 to destroy." in out
    assert run(["plan"]) == 0  # without the flag: 0 on success
    assert run(["apply", "-y"]) == 0
    capsys.readouterr()
    assert run(["plan", "--detailed-exitcode"]) == 0  # nothing to do
    assert "No changes." in capsys.readouterr().out
    (tmp / "broken.yaml").write_text("version: 1\nname: [unclosed\n")
    assert run(["plan", "broken.yaml", "--detailed-exitcode"]) == 1  # any error is 1 with the flag
    assert run(["plan", "broken.yaml"]) == 2  # and 2 (unusable input) without it
    assert "yaml-syntax" in capsys.readouterr().err


def test_plan_text_groups_by_layer_and_says_which_layers_are_not_configured(lab, capsys):
    tmp, engines = lab
    engines["terraform"].configured = engines["terraform"].reachable = False
    engines["terraform"].reason = "proxmox.endpoint is not set"
    assert run(["plan"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert ("vms (terraform): not configured: proxmox.endpoint is not set — planned from state; "
            "apply will skip this layer") in lines
    assert "    + proxmox_vm.kube01  (create: not in state)" in lines
    layer_lines = [ln for ln in lines if ln and not ln.startswith(" ") and "(" in ln and ln.split(" ")[0]
                   in ("vault", "vms", "hosts", "clusters", "gitops", "platform", "apps")]
    assert [ln.split(" ")[0] for ln in layer_lines] == ["vault", "vms", "hosts", "clusters", "gitops", "platform",
                                                         "apps"]


def test_saved_plan_round_trips_applies_and_is_refused_when_stale(lab, capsys):
    tmp, engines = lab
    assert run(["plan", "-o", "plan.json", "--format", "json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    saved = json.loads((tmp / "plan.json").read_text())
    assert printed == saved and saved["format_version"] == 1
    plan = Plan.from_json(saved)
    assert plan.to_json() == saved  # JSON round trip
    assert Plan.loads(plan.dumps()).dumps() == (tmp / "plan.json").read_text()
    assert saved["summary"] == {"add": 146, "change": 0, "destroy": 0, "no_op": 0}
    assert [lay["name"] for lay in saved["layers"]] == ["vault", "vms", "hosts", "clusters", "gitops", "platform",
                                                        "apps", "nas"]

    assert run(["apply", "plan.json"]) == 0  # a saved plan needs no confirmation
    assert len(engines["terraform"].calls) == 22
    capsys.readouterr()
    assert run(["apply", "plan.json"]) == 1  # the state moved on: stale
    err = capsys.readouterr().err
    assert "the plan is stale: the state changed since the plan was made (serial 0 → 146)" in err
    assert len(engines["terraform"].calls) == 22  # nothing applied twice

    assert run(["plan", "-o", "plan2.json"]) == 0
    text = (tmp / "homelab.yaml").read_text().replace("memory: 24GiB", "memory: 32GiB")
    (tmp / "homelab.yaml").write_text(text)
    capsys.readouterr()
    assert run(["apply", "plan2.json"]) == 1
    assert "the plan is stale: homelab.yaml changed since the plan was made" in capsys.readouterr().err


def test_apply_without_a_terminal_and_without_yes_refuses(lab, capsys):
    tmp, engines = lab
    assert run(["apply"]) == 2
    err = capsys.readouterr().err
    assert "refusing to apply without confirmation" in err
    assert all(not e.calls for e in engines.values())


def test_apply_failure_exits_3_naming_the_resource_with_the_output_tail_then_resumes(lab, capsys):
    tmp, engines = lab
    engines["kubernetes"].fail = {"argocd_bootstrap.argocd"}
    assert run(["apply", "-y"]) == 3
    err = capsys.readouterr().err
    assert "error: argocd_bootstrap.argocd failed: kubernetes could not apply argocd_bootstrap.argocd" in err
    assert "step 2: argocd_bootstrap.argocd: boom" in err
    assert "not started: it depends on argocd_bootstrap.argocd, which failed — 22 dependent resource(s) not started" in err
    engines["kubernetes"].fail = set()
    assert run(["apply", "-y"]) == 0
    calls = [a for e in engines.values() for a in e.calls]
    assert len(calls) == len(set(calls)) == 146


def test_up_checks_renders_plans_and_applies(lab, capsys):
    tmp, engines = lab
    assert run(["up", "-y", "--out", "out"]) == 0
    captured = capsys.readouterr()
    assert "check: homelab.yaml: ok" in captured.out
    assert "render: out:" in captured.out
    assert (tmp / "out" / "tf").is_dir()
    assert "Apply complete: 146 applied, 0 failed" in captured.out
    assert len([a for e in engines.values() for a in e.calls]) == 146
    assert (tmp / ".homelab" / "state.db").is_file()
    assert run(["plan", "--detailed-exitcode", "--out", "out"]) == 0


def test_up_stops_on_check_errors(lab, capsys):
    tmp, engines = lab
    text = (tmp / "homelab.yaml").read_text().replace("ip: 192.168.10.71,", "ip: 10.9.9.9,")
    (tmp / "homelab.yaml").write_text(text)
    assert run(["up", "-y"]) == 1
    assert "vm-ip-outside-network" in capsys.readouterr().err
    assert all(not e.calls for e in engines.values())
