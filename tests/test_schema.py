"""The committed JSON Schema (schema/homelab.schema.json) is `homelab schema`'s output, and labs validate."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from homelab.lab.load import load_lab
from homelab.lab.schema import json_schema_text

ROOT = Path(__file__).resolve().parent.parent
COMMITTED = ROOT / "schema" / "homelab.schema.json"
TEMPLATE = ROOT / "src" / "homelab" / "lab" / "templates" / "homelab.yaml"


@pytest.fixture(scope="module")
def validator():
    schema = json.loads(COMMITTED.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def test_committed_schema_is_what_homelab_schema_prints():
    out = subprocess.run([sys.executable, "-m", "homelab", "schema"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    committed = COMMITTED.read_text(encoding="utf-8")
    assert out.stdout == committed, "schema/homelab.schema.json is stale: run `homelab schema > schema/homelab.schema.json`"
    assert committed == json_schema_text()


def test_reference_lab_modeline_points_at_the_committed_schema(reference_path):
    first = reference_path.read_text(encoding="utf-8").splitlines()[0]
    assert first.startswith("# yaml-language-server: $schema=")
    target = (reference_path.parent / first.split("$schema=", 1)[1]).resolve()
    assert target == COMMITTED.resolve()


def test_reference_lab_validates_against_the_schema(validator, reference_path):
    data = load_lab(reference_path).data
    errors = [f"{list(e.path)}: {e.message}" for e in validator.iter_errors(data)]
    assert errors == []


def test_init_template_validates_against_the_schema(validator):
    errors = [e.message for e in validator.iter_errors(load_lab(TEMPLATE).data)]
    assert errors == []


@pytest.mark.parametrize(("mutate", "where"), [
    (lambda d: d["vms"][0].update(ipp="192.168.10.9"), ["vms", 0]),                 # unknown key
    (lambda d: d["proxmox"]["nodes"][0].update(memory=4096), ["proxmox", "nodes", 0, "memory"]),  # bare number
    (lambda d: d["network"].pop("gateway"), ["network"]),                           # missing key
    (lambda d: d.update(version=2), ["version"]),                                   # wrong version
])
def test_schema_rejects_what_the_loader_rejects(validator, reference_path, mutate, where):
    data = load_lab(reference_path).data
    mutate(data)
    errors = list(validator.iter_errors(data))
    assert [list(e.path) for e in errors] == [where]
