"""`homelab upgrade elasticsearch --to VERSION`: Elastic's rolling upgrade as plan steps.

The plan: refuse what Elastic does not support (lab/es_versions.py: no downgrade, 7 → 8 only from 7.17,
8 → 9.0 only from 8.18 and 9.1+ only from 8.19, never two majors); then one step per node, the data-only
nodes first and the master-eligible nodes last, each in lab order (Elastic's rolling-upgrade order).

Each step runs the rendered `playbooks/elasticsearch-rolling-upgrade.yml` limited to its node, with the
lab's version set to the target: the role's per-node procedure (roles/elasticsearch/tasks/upgrade.yml)
refuses a red cluster, sets `cluster.routing.allocation.enable: primaries`, flushes, upgrades the package,
waits until the node rejoined at the new version, re-enables allocation and waits until no shard
initializes or relocates; on the last master the playbook waits for green. A failed step stops the
upgrade (exit 3); the same command resumes after the steps recorded done (`upgrade-elasticsearch.json`
in the state directory, written atomically), and the role skips a node already at the version. When
every node is done the lab's `clusters.elasticsearch.version` is edited (comments kept) and rendered.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from homelab.errors import EngineError, HomelabError, UsageError

RECORD = "upgrade-elasticsearch.json"
PLAYBOOK = "playbooks/elasticsearch-rolling-upgrade.yml"


@dataclass(frozen=True)
class EsStep:
    node: str
    role: str  # data | master

    def to_json(self) -> dict:
        return {"node": self.node, "role": self.role}


@dataclass
class EsPlan:
    current: str
    target: str
    steps: list[EsStep] = field(default_factory=list)

    def to_json(self) -> dict:
        return {"current": self.current, "target": self.target, "steps": [s.to_json() for s in self.steps]}


def plan_es_upgrade(doc, target: str) -> EsPlan:
    from homelab.lab.es_versions import parse, path_problem

    es = doc.lab.clusters.elasticsearch
    if es is None:
        raise HomelabError(f"{doc.file} declares no Elasticsearch cluster")
    problem = path_problem(es.version, target)
    if problem:
        raise UsageError(problem, "see Elastic's upgrade paths; homelab upgrades one supported step at a time")
    if parse(target)[0] != 8:
        raise UsageError(f"{target}: the lab's Elasticsearch roles install from Elastic's 8.x repository",
                         "homelab cannot install another major yet")
    plan = EsPlan(es.version, target)
    if parse(target) == parse(es.version):
        return plan
    masters = list(es.master_nodes)
    plan.steps = [EsStep(n, "data") for n in es.data_nodes if n not in masters] + [EsStep(n, "master") for n in masters]
    return plan


def _record(state_dir, plan: EsPlan) -> tuple[Path, dict]:
    path = Path(state_dir) / RECORD
    data = {}
    if path.exists():
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except ValueError:
            raise HomelabError(f"{path} is not readable JSON", "remove it to plan afresh") from None
    if data.get("target") and data["target"] != plan.target and not data.get("finished"):
        raise UsageError(f"an Elasticsearch upgrade to {data['target']} is in progress ({path})",
                         f"finish it: `homelab upgrade elasticsearch --to {data['target']}`")
    if data.get("target") != plan.target or data.get("finished"):
        data = {"format_version": 1, "from": plan.current, "target": plan.target, "done": [], "finished": False}
    return path, data


def _save(path: Path, data: dict) -> None:
    from homelab.lab.edit import write_atomic

    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, json.dumps(data, indent=2, sort_keys=True) + "\n")


def upgrade(doc, plan: EsPlan, *, run_node: Callable[[str, str], None], state_dir=None, out=None,
            say=lambda m: None, api=None, clock=None, timeout: float = 600.0) -> list[str]:
    """Run (or resume) the steps; the nodes upgraded by this run. On success the lab is edited. With `api`
    (engines/elasticsearch.EsApi) homelab gates each node itself too: not red before, and after it the node
    at the version, allocation enabled again, green or yellow with nothing initializing or relocating."""
    from homelab.apply import state_dir_for
    from homelab.ops.edit_lab import commit_edit

    path, data = _record(state_dir_for(state_dir), plan)
    _save(path, data)
    upgraded = []
    for step in plan.steps:
        if step.node in data["done"]:
            continue
        say(f"{step.node} ({step.role}): rolling upgrade to {plan.target}")
        try:
            if api is not None:
                _gate(api, step.node, plan.target, before=True, clock=clock, timeout=0)
            run_node(step.node, plan.target)
            if api is not None:
                _gate(api, step.node, plan.target, before=False, clock=clock, timeout=timeout)
        except HomelabError as exc:
            from homelab.ops.pipeline import render_into

            render_into(doc, out)  # the repository matches the lab file again
            raise EngineError(f"Elasticsearch upgrade to {plan.target} stopped at {step.node}: {exc.message}",
                              f"fix the cause, then run `homelab upgrade elasticsearch --to {plan.target}` again: "
                              "it resumes at this node", getattr(exc, "output_tail", "")) from None
        data["done"].append(step.node)
        _save(path, data)
        upgraded.append(step.node)
    commit_edit(doc, with_version(doc, plan.target), render=True, out=out)
    data["finished"] = True
    _save(path, data)
    return upgraded


def _gate(api, node: str, target: str, *, before: bool, clock, timeout: float) -> None:
    """The cluster's state through the API, polled until it passes or `timeout` ends (then EngineError)."""
    from homelab.ops.drain import Clock

    clock = clock or Clock()
    deadline = clock.now() + timeout
    while True:
        health = api.health()
        problems = []
        if before:
            if health.get("status") == "red":
                problems.append("the cluster is red")
        else:
            version = api.node_versions().get(node)
            if version != target:
                problems.append(f"{node} reports {version or 'no node of that name'}, not {target}")
            allocation = api.allocation()
            if allocation not in (None, "all"):
                problems.append(f"cluster.routing.allocation.enable is {allocation!r}, not back to all")
            if health.get("status") not in ("green", "yellow"):
                problems.append(f"the cluster is {health.get('status')}")
            busy = {k: health.get(k) for k in ("initializing_shards", "relocating_shards") if health.get(k)}
            if busy:
                problems.append(", ".join(f"{v} {k.replace('_', ' ')}" for k, v in busy.items()))
        if not problems:
            return
        if clock.now() >= deadline:
            raise EngineError(("before it: " if before else f"after {timeout:g}s: ") + "; ".join(problems))
        clock.sleep(clock.poll)


def with_version(doc, version: str) -> str:
    from homelab.lab.edit import LabEditor

    editor = LabEditor(Path(doc.file).read_text(encoding="utf-8"), Path(doc.file).name)
    editor.tree["clusters"]["elasticsearch"]["version"] = version
    return editor.dumps()


def playbook_runner(doc, *, out=None, progress=None, runner=None):
    """`run_node(node, version)`: the lab rendered with the version, the rolling-upgrade playbook limited to
    the node through the ansible engine (runner: engines.ansible.run_playbook)."""
    import os

    from homelab.lab.edit import reload
    from homelab.ops.pipeline import render_into
    from homelab.secrets import REDACTOR

    def run_node(node: str, version: str) -> None:
        from homelab.engines.ansible import run_playbook

        step_doc = reload(doc, with_version(doc, version))
        rendered = render_into(step_doc, out)
        access = doc.lab.access
        result = (runner or run_playbook)(
            Path(rendered.out_dir) / "ansible", PLAYBOOK, limit=node,
            private_key=os.path.expanduser(access.ssh_private_key) if access.ssh_private_key else None,
            progress=progress, redactor=REDACTOR)
        if not result.succeeded:
            detail = "; ".join(str(f) for f in result.failures[:3]) or f"{PLAYBOOK} ended {result.status}"
            raise EngineError(f"ansible: {detail}", output_tail=result.tail)

    return run_node


def lab_api(doc, *, state_dir=None):
    """An EsApi for the lab's cluster: the first master by the name its certificate is issued for (port 9200),
    the lab's CA (tls/ca.crt beside the lab file), the `elastic` password from Vault (elastic/cluster)."""
    from homelab.engines.elasticsearch import EsApi
    from homelab.engines.vault.target import secret_reader

    es = doc.lab.clusters.elasticsearch
    first = es.master_nodes[0]
    vm = doc.inventory.by_name.get(first)
    host = vm.fqdn if vm is not None else f"{first}.{doc.lab.network.domain}"
    ca = Path(doc.file).resolve().parent / "tls" / "ca.crt"
    password = secret_reader(doc, state_dir)("elastic/cluster", "elastic_password")
    return EsApi(f"https://{host}:9200", password, ca_file=str(ca) if ca.is_file() else None)
