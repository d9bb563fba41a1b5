"""`homelab validate` as a user runs it: exit codes as `check` (0 clean, 1 findings, 2 unusable input),
text/json/SARIF output — the SARIF checked against the OASIS SARIF 2.1.0 schema."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "validate"
SARIF_SCHEMA = Path(__file__).resolve().parents[1] / "fixtures" / "sarif" / "sarif-schema-2.1.0.json"


def homelab(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "homelab", *args], capture_output=True, text=True, cwd=cwd)


@pytest.fixture
def common(charts_dir, template_cache):
    return ["--charts", str(charts_dir), "--cache-dir", str(template_cache)]


def test_findings_exit_1_with_located_messages_and_a_clean_tree_exits_0(common):
    only = ["--rule", "loadbalancer-address"]
    bad = homelab("validate", str(FIXTURES / "loadbalancer-address" / "fail"), *common, *only)
    assert bad.returncode == 1, bad.stderr
    assert re.search(r"^k8s/apps/svc\.yaml:\d+:1: error\[loadbalancer-address\]: Service apps/dns2 pins 10\.0\.0\.200",
                     bad.stdout, re.M), bad.stdout
    assert "\n  hint: " in bad.stdout and "3 error(s), 0 warning(s)" in bad.stderr
    good = homelab("validate", str(FIXTURES / "loadbalancer-address" / "pass"), *common, *only)
    assert good.returncode == 0, good.stdout + good.stderr
    assert good.stdout.strip().endswith(": ok")


def test_warnings_fail_only_with_strict(common):
    tree = str(FIXTURES / "ingress-host" / "fail")
    assert homelab("validate", tree, *common, "--rule", "ingress-host").returncode == 0
    assert homelab("validate", tree, *common, "--rule", "ingress-host", "--strict").returncode == 1


def test_unusable_input_exits_2(tmp_path, common):
    missing = homelab("validate", str(tmp_path / "nope"), *common)
    assert missing.returncode == 2 and "is not a directory" in missing.stderr
    (tmp_path / "homelab.yaml").write_text("version: 1\nname: [\n")
    broken = homelab("validate", str(tmp_path), *common)
    assert broken.returncode == 2 and "homelab.yaml:" in broken.stderr
    assert "Traceback" not in broken.stderr + missing.stderr
    assert homelab("validate", str(tmp_path), "--format", "xml").returncode == 2
    assert homelab("validate", ".", "--rule", "no-such-rule").returncode == 2


def test_json_output_carries_the_lab_location(common):
    out = homelab("validate", str(FIXTURES / "external-secret-key" / "fail"), *common, "--format", "json",
                  "--rule", "external-secret-key")
    assert out.returncode == 1
    data = json.loads(out.stdout)
    d = data["diagnostics"][0]
    assert d["rule"] == "external-secret-key" and d["location"]["file"] == "k8s/apps/es.yaml"
    assert set(d) == {"rule", "severity", "message", "hint", "location", "lab"}


def test_sarif_is_valid_sarif_2_1_0(common):
    out = homelab("validate", str(FIXTURES / "daemonset-taint" / "fail"), *common, "--format", "sarif",
                  "--rule", "daemonset-taint")
    assert out.returncode == 1, out.stderr
    log = json.loads(out.stdout)
    schema = json.loads(SARIF_SCHEMA.read_text())
    jsonschema.Draft4Validator(schema).validate(log)
    # and the schema can fail: a result without a message is refused
    broken = json.loads(out.stdout)
    del broken["runs"][0]["results"][0]["message"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft4Validator(schema).validate(broken)
    run = log["runs"][0]
    result = run["results"][0]
    assert result["ruleId"] == "daemonset-taint" and result["level"] == "error"
    assert run["tool"]["driver"]["rules"][result["ruleIndex"]]["id"] == "daemonset-taint"
    loc = result["locations"][0]["physicalLocation"]
    assert loc["artifactLocation"]["uri"] == "k8s/platform/agents.yaml" and loc["region"]["startLine"] == 2
