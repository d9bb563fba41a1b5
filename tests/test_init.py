"""`homelab init DIR`: a commented starter lab that checks clean, its schema beside it, no clobbering."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from homelab.checks import run_checks
from homelab.cli.main import main
from homelab.lab.load import load_lab
from homelab.lab.schema import json_schema_text

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "src" / "homelab" / "lab" / "templates" / "homelab.yaml"


def run(capsys, *args):
    with pytest.raises(SystemExit) as exc:
        main(list(args))
    out, err = capsys.readouterr()
    return exc.value.code, out, err


def test_init_writes_lab_and_schema(tmp_path):
    target = tmp_path / "mylab"
    out = subprocess.run([sys.executable, "-m", "homelab", "init", str(target)],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    lab, schema = target / "homelab.yaml", target / "homelab.schema.json"
    assert out.stdout == (f"wrote {lab}\nwrote {schema}\n"
                          f"next: edit {lab}, then run `homelab check {lab}`\n")
    text = lab.read_text(encoding="utf-8")
    assert text.splitlines()[0] == "# yaml-language-server: $schema=./homelab.schema.json"
    assert text == TEMPLATE.read_text(encoding="utf-8")
    assert schema.read_text(encoding="utf-8") == json_schema_text()
    assert json.loads(schema.read_text())["title"] == "homelab.yaml"
    assert sorted(p.name for p in target.iterdir()) == ["homelab.schema.json", "homelab.yaml"]  # no temp files


def test_written_lab_checks_clean(tmp_path):
    target = tmp_path / "lab"
    subprocess.run([sys.executable, "-m", "homelab", "init", str(target)], check=True, capture_output=True, timeout=60)
    out = subprocess.run([sys.executable, "-m", "homelab", "check"], cwd=target, capture_output=True, text=True,
                         timeout=60)
    assert (out.returncode, out.stdout, out.stderr) == (0, "homelab.yaml: ok (5 VMs, 3 apps)\n", "")


def test_starter_lab_content():
    doc = load_lab(TEMPLATE)
    lab = doc.lab
    assert run_checks(doc) == []
    assert lab.vault.address == "embedded"
    assert len(lab.clusters.k3s.servers) == 3 and len(lab.clusters.k3s.agents) >= 2
    assert set(lab.clusters.k3s.servers) | set(lab.clusters.k3s.agents) <= {vm.name for vm in lab.vms}
    assert len(lab.apps) >= 3
    assert all(app.chart.version for app in lab.apps)
    assert sorted(lab.vault.policies) == ["admin", "ansible", "apps", "terraform"]
    # every section is explained: the file has a comment line for each top-level key
    text = TEMPLATE.read_text(encoding="utf-8")
    assert text.count("\n# ---") >= 7


def test_init_refuses_to_overwrite(capsys, tmp_path):
    (tmp_path / "homelab.yaml").write_text("mine\n")
    code, out, err = run(capsys, "init", str(tmp_path))
    assert code == 2 and out == ""
    assert err == (f"error: {tmp_path / 'homelab.yaml'} already exists; not overwriting\n"
                   "  hint: pass --force to overwrite, or choose another directory\n")
    assert (tmp_path / "homelab.yaml").read_text() == "mine\n"
    assert not (tmp_path / "homelab.schema.json").exists()  # nothing half-written


def test_init_refuses_when_only_the_schema_exists(capsys, tmp_path):
    (tmp_path / "homelab.schema.json").write_text("{}\n")
    code, _, err = run(capsys, "init", str(tmp_path))
    assert code == 2 and "homelab.schema.json already exists" in err
    assert not (tmp_path / "homelab.yaml").exists()


def test_init_force_overwrites(capsys, tmp_path):
    (tmp_path / "homelab.yaml").write_text("mine\n")
    (tmp_path / "homelab.schema.json").write_text("{}\n")
    code, out, err = run(capsys, "init", str(tmp_path), "--force", "--format", "json")
    assert (code, err) == (0, "")
    assert json.loads(out) == {"written": [str(tmp_path / "homelab.yaml"), str(tmp_path / "homelab.schema.json")]}
    assert (tmp_path / "homelab.yaml").read_text() == TEMPLATE.read_text()


def test_init_into_a_file_is_a_usage_error(capsys, tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    code, out, err = run(capsys, "init", str(f))
    assert code == 2 and out == ""
    assert err.startswith(f"error: {f} exists and is not a directory\n")


def test_init_default_is_the_current_directory(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, _ = run(capsys, "init")
    assert code == 0
    assert out.startswith("wrote homelab.yaml\nwrote homelab.schema.json\n")
    assert (tmp_path / "homelab.yaml").is_file()
