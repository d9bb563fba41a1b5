"""`homelab upgrade app NAME --to VERSION` with real charts: the reference lab's pihole moved from the
upstream 2.26.0 (tests/fixtures/charts, packaged from the chart's git tag) to 2.38.0 (/work/shared/charts),
both templated by the Helm engine with the same values. Expected differences were read from the two
releases' values.yaml (MoJo2600/pihole-kubernetes tags pihole-2.26.0 and pihole-2.38.0): the liveness
probe's `type` default went from httpGet to command, and its `port`/`scheme` defaults were commented out."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from helm_charts import chart_archive

pytestmark = pytest.mark.validators  # the real Helm engine over two chart versions

ROOT = Path(__file__).resolve().parents[2]
OLD = ROOT / "tests" / "fixtures" / "charts" / "pihole-2.26.0.tgz"
PIHOLE = "chart: {repo: \"https://mojo2600.github.io/pihole-kubernetes/\", name: pihole, version: 2.38.0}"
VALUES = "values: {serviceDns: {type: LoadBalancer, loadBalancerIP: 192.168.10.200, mixedService: true}}"


def cli(*args, cwd):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HOMELAB_STATE", "VAULT_"))}
    env["HOMELAB_STATE_DIR"] = str(cwd / "state")
    return subprocess.run([sys.executable, "-m", "homelab", *args], cwd=cwd, capture_output=True, text=True,
                          env=env, timeout=300)


@pytest.fixture
def lab(tmp_path):
    text = (ROOT / "examples" / "reference" / "homelab.yaml").read_text()
    assert PIHOLE in text and VALUES in text
    text = text.replace(PIHOLE, PIHOLE.replace("2.38.0", "2.26.0"))
    # a value the lab sets explicitly that 2.38.0 no longer reads (its liveness probe runs a command)
    text = text.replace(VALUES, VALUES[:-1] + ", probes: {liveness: {port: http}}}")
    (tmp_path / "homelab.yaml").write_text(text)
    charts = tmp_path / "state" / "charts"
    charts.mkdir(parents=True)
    shutil.copy(OLD, charts)
    shutil.copy(chart_archive("pihole", "2.38.0"), charts)
    return tmp_path


def test_plan_only_shows_what_changed_meaning_and_edits_nothing(lab):
    before = (lab / "homelab.yaml").read_text()
    proc = cli("upgrade", "app", "pihole", "--to", "2.38.0", "--lab", "homelab.yaml", "--plan-only", "--format",
               "json", cwd=lab)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    changes = {c["key"]: c for c in result["defaults"]}
    assert changes["probes.liveness.type"] == {"key": "probes.liveness.type", "kind": "changed", "old": "httpGet",
                                               "new": "command"}
    assert changes["probes.liveness.port"]["kind"] == "removed" and changes["probes.liveness.port"]["old"] == "http"
    assert "probes.liveness.port" in result["keys_gone"]
    assert "probes.liveness.port" in result["now_ignored"]  # it shaped 2.26.0's probe; 2.38.0 ignores it
    assert "Deployment/pihole" in result["objects"]["changed"]
    assert result["lab_edited"] is False and (lab / "homelab.yaml").read_text() == before


def test_the_upgrade_edits_the_lab_and_renders(lab):
    proc = cli("upgrade", "app", "pihole", "--to", "2.38.0", "--lab", "homelab.yaml", cwd=lab)
    assert proc.returncode == 0, proc.stderr
    assert "~ probes.liveness.type: 'httpGet' → 'command'" in proc.stdout
    assert "- probes.liveness.port (was 'http')" in proc.stdout
    text = (lab / "homelab.yaml").read_text()
    assert PIHOLE in text and "# " in text.splitlines()[0]  # edited in place, comments kept
    app = (lab / "k8s" / "apps" / "home-automation" / "pihole.yaml").read_text()
    assert "targetRevision: 2.38.0" in app


def test_a_version_not_in_the_chart_cache_is_refused_with_the_way_to_get_it(lab):
    proc = cli("upgrade", "app", "pihole", "--to", "2.39.0", "--lab", "homelab.yaml", cwd=lab)
    assert proc.returncode == 2 and "pihole-2.39.0.tgz is not in the chart cache" in proc.stderr
    assert "homelab charts pull" in proc.stderr and "Traceback" not in proc.stderr
    same = cli("upgrade", "app", "pihole", "--to", "2.26.0", "--lab", "homelab.yaml", cwd=lab)
    assert same.returncode == 2 and "already runs chart pihole 2.26.0" in same.stderr
    none = cli("upgrade", "app", "nope", "--to", "1.0.0", "--lab", "homelab.yaml", cwd=lab)
    assert none.returncode == 2 and "no app named nope" in none.stderr
