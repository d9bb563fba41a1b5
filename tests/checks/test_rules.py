"""Per-rule fixtures: tests/fixtures/rules/<rule-id>/{pass,fail}.yaml.

In fail.yaml, `# expect: rule-a, rule-b` at the end of a line lists the diagnostics that must point
at that line (a rule id twice = two diagnostics on that line). For the rule under test, the fail
fixture must give exactly those (rule, line) pairs; the pass fixture must give no diagnostic at all.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from homelab.checks import all_rules, get_rule, run_checks
from homelab.lab.load import load_lab

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "rules"
EXPECT_RE = re.compile(r"#\s*expect:\s*([a-z0-9, -]+?)\s*$")
RULE_IDS = sorted(r.id for r in all_rules())


def expected_pairs(path: Path, rule_id: str) -> Counter:
    pairs: Counter = Counter()
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        m = EXPECT_RE.search(line)
        if m:
            for rid in (r.strip() for r in m.group(1).split(",")):
                if rid == rule_id:
                    pairs[(rid, lineno)] += 1
    return pairs


def diagnostics(path: Path):
    doc = load_lab(path)
    return run_checks(doc)


def test_every_rule_has_fixtures_and_the_fixture_dirs_are_rules():
    dirs = sorted(p.name for p in FIXTURES.iterdir() if p.is_dir())
    assert dirs == RULE_IDS
    assert len(RULE_IDS) >= 40


@pytest.mark.parametrize("rule_id", RULE_IDS)
def test_pass_fixture_is_clean(rule_id):
    diags = diagnostics(FIXTURES / rule_id / "pass.yaml")
    assert [d.format() for d in diags] == []


@pytest.mark.parametrize("rule_id", RULE_IDS)
def test_fail_fixture_gives_exactly_the_expected_diagnostics(rule_id):
    path = FIXTURES / rule_id / "fail.yaml"
    expected = expected_pairs(path, rule_id)
    assert expected, f"{path} marks no line with `# expect: {rule_id}`"
    diags = diagnostics(path)
    got = Counter((d.rule, d.location.line) for d in diags if d.rule == rule_id)
    assert got == expected, "\n".join(d.format() for d in diags)
    assert not any(d.rule == "internal-error" for d in diags)
    for d in diags:
        if d.rule == rule_id:
            assert d.location.file == str(path) and d.location.col >= 1
            assert d.message and d.hint, d.format()


@pytest.mark.parametrize("rule_id", RULE_IDS)
def test_rule_has_documentation(rule_id):
    rule = get_rule(rule_id)
    text = rule.explain()
    assert text.startswith(f"# {rule_id}\n")
    assert f"**Severity:** {rule.severity.value}" in text
    assert "## Problematic" in text and "## Correct" in text
    assert text.count("```yaml") >= 2
    from ruamel.yaml import YAML

    for block in re.findall(r"```yaml\n(.*?)```", text, flags=re.S):
        assert isinstance(YAML(typ="safe").load(block), dict), block
    assert rule.func.__module__.endswith("." + rule_id.replace("-", "_"))


def test_explain_prints_the_rule_doc():
    rule = get_rule("pool-overlap")
    out = subprocess.run([sys.executable, "-m", "homelab", "explain", "pool-overlap"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert rule.explain().endswith("\n")
    assert out.stdout == rule.explain()
    assert out.stdout.startswith("# pool-overlap\n")


def test_rules_do_not_fire_on_the_reference_lab(reference_doc):
    assert [d.format() for d in run_checks(reference_doc)] == []
