"""Per-rule fixtures: tests/fixtures/validate/<rule-id>/{pass,fail}/ are small repositories (with a
homelab.yaml where the rule needs the lab). In fail/, `# expect: rule-a, rule-a` at the end of a line lists
the findings that must point at that file and line; the fail fixture gives exactly those for the rule under
test, the pass fixture none at all. Chart-based fixtures template the real charts of ../shared/charts."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

from homelab.validate import all_rules, get_rule, validate

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "validate"
EXPECT_RE = re.compile(r"#\s*expect:\s*([a-z0-9, -]+?)\s*$")
RULES = sorted(r.id for r in all_rules())
DEEP = {r.id for r in all_rules() if r.deep}


def expected(root: Path, rule_id: str) -> Counter:
    pairs: Counter = Counter()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            m = EXPECT_RE.search(line)
            if m:
                for rid in (r.strip() for r in m.group(1).split(",")):
                    if rid == rule_id:
                        pairs[(path.relative_to(root).as_posix(), n)] += 1
    return pairs


def run(root: Path, rule_id: str, options):
    from homelab.lab.load import load_lab

    doc = load_lab(root / "homelab.yaml") if (root / "homelab.yaml").is_file() else None
    return validate(root, doc, options(only={rule_id}, deep=rule_id in DEEP))


def _params():
    return [pytest.param(r, marks=pytest.mark.validators) if r in DEEP or r.startswith("terraform-fmt") else r
            for r in RULES]


def test_every_rule_has_fixtures_and_every_fixture_dir_is_a_rule():
    dirs = sorted(p.name for p in FIXTURES.iterdir() if p.is_dir())
    assert dirs == RULES
    assert len(RULES) >= 20


@pytest.mark.parametrize("rule_id", _params())
def test_pass_fixture_is_clean(rule_id, options):
    diags = run(FIXTURES / rule_id / "pass", rule_id, options)
    assert [d.format() for d in diags] == []


@pytest.mark.parametrize("rule_id", _params())
def test_fail_fixture_gives_exactly_the_expected_findings(rule_id, options):
    root = FIXTURES / rule_id / "fail"
    want = expected(root, rule_id)
    assert want, f"{root} marks no line with `# expect: {rule_id}`"
    diags = run(root, rule_id, options)
    got = Counter((d.location.file, d.location.line) for d in diags if d.rule == rule_id)
    assert got == want, "\n".join(d.format() for d in diags)
    assert not any(d.rule == "internal-error" for d in diags), [d.format() for d in diags]
    for d in diags:
        assert d.message and d.hint, d.format()


@pytest.mark.parametrize("rule_id", RULES)
def test_rule_has_documentation(rule_id):
    rule = get_rule(rule_id)
    text = rule.explain()
    assert text.startswith(f"# {rule_id}\n")
    assert f"**Severity:** {rule.severity.value}" in text
    assert "## Problematic" in text and "## Correct" in text
    assert len(re.findall(r"```(yaml|hcl)\n", text)) >= 2


def test_explain_lists_and_explains_validate_rules_too():
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "homelab", "explain"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "daemonset-taint" in out.stdout and "vm-ip-duplicate" in out.stdout
    one = subprocess.run([sys.executable, "-m", "homelab", "explain", "values-ignored"], capture_output=True, text=True)
    assert one.returncode == 0 and one.stdout.startswith("# values-ignored")


def test_check_and_validate_rule_ids_never_collide():
    from homelab.checks import all_rules as check_rules

    assert not {r.id for r in check_rules()} & set(RULES)


def test_terraform_fmt_says_so_when_terraform_is_absent(options, monkeypatch):
    import shutil

    from homelab.diagnostics import Severity

    monkeypatch.setattr(shutil, "which", lambda name, *a, **k: None)
    diags = validate(FIXTURES / "terraform-fmt" / "fail", None, options(only={"terraform-fmt"}))
    assert [(d.severity, d.message) for d in diags] == [
        (Severity.INFO, "terraform is not on PATH: `terraform fmt -check` was not run")]
