"""`homelab upgrade elasticsearch` (ops/upgrade_es.py): Elastic's supported paths, the rolling order (data
nodes first, masters last), one rolling-upgrade playbook run per node with the target version rendered,
stop on a failure and resume, the lab edited at the end. The playbook runs are a recording stand-in for
the ansible engine here (no Elasticsearch can be installed on the test hosts); what each run would get is
read from the rendered repository at the moment it runs."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

import homelab
from homelab.errors import EngineError, UsageError
from homelab.lab.es_versions import path_problem
from homelab.ops import upgrade_es

ROOT = Path(__file__).resolve().parents[2]
DATA = ["es01", "es02", "es03", "es04", "es05", "es06"]
MASTERS = ["es07", "es08", "es09"]


@pytest.mark.parametrize(("current", "target", "problem"), [
    ("8.18.0", "8.19.2", None),  # minors may be skipped within a major
    ("8.10.4", "8.19.2", None),
    ("7.17.29", "8.0.0", None),
    ("7.16.3", "8.19.2", "only from 7.17"),
    ("8.17.5", "9.0.0", "only from 8.18"),
    ("8.18.3", "9.0.4", None),
    ("8.18.3", "9.1.0", "only from 8.19"),  # 8.19 is the last 8 minor: the bridge to 9.1+
    ("8.19.2", "9.2.0", None),
    ("7.17.29", "9.2.0", "crosses two majors"),
    ("8.19.2", "8.18.0", "cannot be downgraded"),
])
def test_elastic_upgrade_paths(current, target, problem):
    got = path_problem(current, target)
    assert (got is None) if problem is None else (problem in got), got


@dataclass
class Runs:
    """Stands in for engines.ansible.run_playbook; records the node and the version rendered for it."""

    fail: set = field(default_factory=set)
    calls: list = field(default_factory=list)

    def __call__(self, project_dir, playbook, *, limit, private_key=None, progress=None, redactor=None):
        group_vars = yaml.safe_load((Path(project_dir) / "group_vars" / "elasticsearch.yml").read_text())
        self.calls.append((limit, playbook, group_vars["elasticsearch_version"]))

        @dataclass
        class Result:
            succeeded: bool
            status: str = "failed"
            failures: tuple = ()
            tail: str = ""

        return Result(limit not in self.fail)


@pytest.fixture
def lab(tmp_path):
    shutil.copy(ROOT / "examples" / "reference" / "homelab.yaml", tmp_path / "homelab.yaml")
    return tmp_path / "homelab.yaml"


def run(lab, runs, target="8.19.2"):
    doc = homelab.load(str(lab))
    plan = upgrade_es.plan_es_upgrade(doc, target)
    return plan, upgrade_es.upgrade(doc, plan, run_node=upgrade_es.playbook_runner(doc, out=lab.parent, runner=runs),
                                    state_dir=lab.parent / "state", out=lab.parent)


def test_data_nodes_first_masters_last_each_with_the_target_rendered(lab):
    runs = Runs()
    plan, done = run(lab, runs)
    assert [s.node for s in plan.steps] == DATA + MASTERS
    assert runs.calls == [(n, upgrade_es.PLAYBOOK, "8.19.2") for n in DATA + MASTERS]
    assert done == DATA + MASTERS
    text = lab.read_text()
    assert "version: 8.19.2" in text.split("elasticsearch:")[1][:400]
    assert "elasticsearch_version: 8.19.2" in (lab.parent / "ansible" / "group_vars" / "elasticsearch.yml").read_text()


def test_a_failed_node_stops_the_upgrade_and_the_rerun_resumes_there(lab):
    before = lab.read_text()
    runs = Runs(fail={"es03"})
    with pytest.raises(EngineError, match="stopped at es03") as exc:
        run(lab, runs)
    assert "resumes at this node" in exc.value.hint
    assert [c[0] for c in runs.calls] == ["es01", "es02", "es03"]
    assert lab.read_text() == before  # the lab says the old version until every node is done
    group_vars = (lab.parent / "ansible" / "group_vars" / "elasticsearch.yml").read_text()
    assert "elasticsearch_version: 8.19.2" not in group_vars  # rendered back to what the lab says
    runs.fail.clear()
    runs.calls.clear()
    _, done = run(lab, runs)
    assert done == ["es03", "es04", "es05", "es06", *MASTERS]


def test_unsupported_targets_are_refused_before_anything_runs(lab):
    doc = homelab.load(str(lab))
    current = doc.lab.clusters.elasticsearch.version
    with pytest.raises(UsageError, match="cannot be downgraded"):
        upgrade_es.plan_es_upgrade(doc, "8.0.0")
    with pytest.raises(UsageError):
        upgrade_es.plan_es_upgrade(doc, "9.1.0")
    assert upgrade_es.plan_es_upgrade(doc, current).steps == []


# ------------------------------------------------------------------ homelab's own gates, through the ES API
@pytest.fixture
def es(tmp_path):
    from fakes.elasticsearch import FakeElasticsearch

    fake = FakeElasticsearch(bootstrap_password="bootstrap-pw-123")
    url = fake.start(tmp_path / "es-tls")
    fake.nodes = {n: {"version": "8.18.0", "node.role": "m" if n in MASTERS else "d"} for n in DATA + MASTERS}
    yield fake, url
    fake.stop()


class RoleOnFake(Runs):
    """What the role's per-node procedure leaves in the cluster: the node back at the version, allocation
    set to primaries and back (unless `stuck` says it stayed at primaries)."""

    def __init__(self, fake, stuck=()):
        super().__init__()
        self.fake, self.stuck = fake, set(stuck)

    def __call__(self, project_dir, playbook, *, limit, **kw):
        result = super().__call__(project_dir, playbook, limit=limit, **kw)
        self.fake.settings["persistent"]["cluster.routing.allocation.enable"] = "primaries"
        self.fake.nodes[limit]["version"] = self.calls[-1][2]
        if limit not in self.stuck:
            del self.fake.settings["persistent"]["cluster.routing.allocation.enable"]
        return result


def run_gated(lab, es, runs):
    from k3s_lab import FakeClock

    from homelab.engines.elasticsearch import EsApi
    from homelab.ops.drain import Clock

    fake, url = es
    doc = homelab.load(str(lab))
    plan = upgrade_es.plan_es_upgrade(doc, "8.19.2")
    clock = FakeClock()
    api = EsApi(url, "bootstrap-pw-123", ca_file=str(fake.ca_file))
    return upgrade_es.upgrade(doc, plan, run_node=upgrade_es.playbook_runner(doc, out=lab.parent, runner=runs),
                              state_dir=lab.parent / "state", out=lab.parent, api=api, timeout=30,
                              clock=Clock(sleep=clock.sleep, now=clock.now, poll=5))


def test_each_node_is_gated_on_version_allocation_and_health(lab, es):
    fake, _ = es
    done = run_gated(lab, es, RoleOnFake(fake))
    assert done == DATA + MASTERS
    reads = [p for m, p, _ in fake.requests if m == "GET"]
    assert reads.count("/_cat/nodes") == 9 and reads.count("/_cluster/settings") == 9
    assert reads.count("/_cluster/health") == 18  # before and after every node


def test_allocation_left_at_primaries_stops_at_that_node(lab, es):
    fake, _ = es
    runs = RoleOnFake(fake, stuck={"es02"})
    with pytest.raises(EngineError, match="stopped at es02: after 30s: cluster.routing.allocation.enable is "
                                          "'primaries', not back to all"):
        run_gated(lab, es, runs)
    assert [c[0] for c in runs.calls] == ["es01", "es02"]


def test_a_red_cluster_stops_before_the_first_node(lab, es):
    fake, _ = es
    fake.health["status"] = "red"
    runs = RoleOnFake(fake)
    with pytest.raises(EngineError, match="stopped at es01: before it: the cluster is red"):
        run_gated(lab, es, runs)
    assert runs.calls == []
