"""The rendered repository's CI (`.github/workflows/validate.yml`), Renovate config and pre-commit hooks
(render/repo_ci.py). Renovate's regexes are run here (RE2/ECMAScript named groups turned into Python's) over
the reference lab — flow style as it is, and block style as an editor may reformat it — and a version
Renovate would write at the matched span must land in the loaded lab."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest
import yaml

from homelab.lab.load import load_text
from homelab.render import repo

ROOT = Path(__file__).resolve().parents[2]
LAB = ROOT / "examples" / "reference" / "homelab.yaml"


@pytest.fixture(scope="module")
def files(reference_doc):
    return {f.path: f.content for f in repo.render(reference_doc)}


def py(regex: str) -> re.Pattern:
    return re.compile(regex.replace("(?<", "(?P<").replace("(?P<=", "(?<=").replace("(?P<!", "(?<!"))


def deps(config: dict, text: str) -> dict[str, set]:
    out: dict[str, set] = {}
    for m in config["customManagers"]:
        found = set()
        for s in m["matchStrings"]:
            for hit in py(s).finditer(text):
                g = hit.groupdict()
                found.add((g.get("registryUrl"), g.get("depName") or m.get("depNameTemplate"), g["currentValue"]))
        out[m["datasourceTemplate"]] = found
    return out


def test_workflow_runs_render_check_validate_and_a_history_scan_on_every_push(files):
    wf = yaml.safe_load(files[".github/workflows/validate.yml"])
    assert set(wf[True] if True in wf else wf["on"]) >= {"push"}  # YAML 1.1 readers see `on` as true: quoted
    assert "'on':" in files[".github/workflows/validate.yml"]
    steps = wf["jobs"]["validate"]["steps"]
    assert steps[0]["uses"].startswith("actions/checkout@") and steps[0]["with"]["fetch-depth"] == 0
    runs = [s.get("run", "") for s in steps]
    order = [next(i for i, r in enumerate(runs) if cmd in r) for cmd in
             ("homelab render --check", "homelab charts pull", "homelab validate", "homelab secrets scan .")]
    assert order == sorted(order)
    assert "--no-history" not in runs[order[-1]]
    upload = next(s for s in steps if "upload-sarif" in s.get("uses", ""))
    assert upload["if"] == "always()" and upload["with"]["sarif_file"] == "validate.sarif"


def test_renovate_finds_every_chart_image_and_the_k3s_version_of_the_lab(files, reference_doc):
    config = json.loads(files["renovate.json"])
    found = deps(config, LAB.read_text())
    lab = reference_doc.lab
    charts = {(a.chart.repo, a.chart.name, a.chart.version) for a in lab.apps}
    charts |= {(c.chart.repo, c.chart.name, c.chart.version) for key, c in lab.platform.components().items()
               if reference_doc.sourcemap.has(("platform", key, "chart"))}  # the charts the file itself names
    assert found["helm"] == charts and len(charts) >= 7
    named = len(lab.apps) + sum(reference_doc.sourcemap.has(("platform", k, "chart")) for k in lab.platform.components())
    chart_strings = config["customManagers"][0]["matchStrings"]
    assert sum(len(list(py(s).finditer(LAB.read_text()))) for s in chart_strings) == named  # every occurrence
    assert found["docker"] == {(None, a.image.repository, a.image.tag) for a in lab.apps if a.image}
    assert found["github-releases"] == {(None, "k3s-io/k3s", lab.clusters.k3s.version)}
    k3s = next(m for m in config["customManagers"] if m["datasourceTemplate"] == "github-releases")
    versioning = py(k3s["versioningTemplate"].removeprefix("regex:"))
    assert versioning.match("v1.33.4+k3s1").groupdict() == {"major": "1", "minor": "33", "patch": "4", "build": "1"}


def test_renovate_finds_the_same_in_block_style(files):
    from ruamel.yaml import YAML

    y = YAML()
    data = y.load(LAB.read_text())
    y.default_flow_style = False
    buf = io.StringIO()
    for app in data["apps"]:  # an editor reformatted the flow mappings
        app["chart"].fa.set_block_style()
        if "image" in app:
            app["image"].fa.set_block_style()
    y.dump(data, buf)
    config = json.loads(files["renovate.json"])
    assert deps(config, buf.getvalue())["docker"] == deps(config, LAB.read_text())["docker"]
    assert deps(config, buf.getvalue())["helm"] == deps(config, LAB.read_text())["helm"]


def test_a_version_written_at_the_matched_span_lands_in_the_lab(files):
    config = json.loads(files["renovate.json"])
    text = LAB.read_text()
    chart_re = py(config["customManagers"][0]["matchStrings"][0])
    m = next(m for m in chart_re.finditer(text) if m["depName"] == "ollama")  # an app's chart
    start, end = m.span("currentValue")
    doc = load_text(text[:start] + "9.9.9" + text[end:], "homelab.yaml")
    names = {a.name: a.chart.version for a in doc.lab.apps}
    assert "9.9.9" in names.values()
    image_re = py(config["customManagers"][1]["matchStrings"][0])
    m = next(image_re.finditer(text))
    start, end = m.span("currentValue")
    doc = load_text(text[:start] + "1.2.3-renovated" + text[end:], "homelab.yaml")
    assert "1.2.3-renovated" in {a.image.tag for a in doc.lab.apps if a.image}
    k3s_re = py(config["customManagers"][2]["matchStrings"][0])
    m = next(k3s_re.finditer(text))
    start, end = m.span("currentValue")
    assert load_text(text[:start] + "v1.34.1+k3s1" + text[end:]).lab.clusters.k3s.version == "v1.34.1+k3s1"


def test_pre_commit_runs_validate_and_the_secret_scan(files):
    hooks = {h["id"]: h for r in yaml.safe_load(files[".pre-commit-config.yaml"])["repos"] for h in r["hooks"]}
    assert hooks["homelab-validate"]["entry"] == "homelab validate ."
    assert hooks["homelab-secrets-scan"]["entry"].startswith("homelab secrets scan .")
    project = {h["id"]: h for h in yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())}
    assert project["homelab-validate"]["entry"].startswith("homelab validate")
    assert project["homelab-secrets-scan"]["entry"].startswith("homelab secrets scan")
