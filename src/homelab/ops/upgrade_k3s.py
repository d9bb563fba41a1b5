"""`homelab upgrade k3s --to VERSION`: the seed's one-minor-at-a-time K3s upgrade as gated, resumable steps.

The plan (`plan_upgrade`): the versions to install, one minor at a time (lab/k3s_versions.py: the K3s
docs forbid skipping a minor), and for each of them the servers one by one (lab order), then the agents
in batches of `clusters.k3s.upgrade.agent_batch`. Two servers are refused: etcd loses quorum while
either restarts.

Each step (`run_upgrade`), for its node(s):
1. health gates (ops/drain.py): every node Ready, every server an etcd voter, and quorum kept with this
   node down; no CrashLoopBackOff in kube-system;
2. cordon, then drain through the eviction API (PodDisruptionBudgets honoured, retried with backoff
   until `drain_timeout`);
3. the pinned install: the rendered k3s role (INSTALL_K3S_VERSION = the step's version) through the
   ansible engine, as a targeted plan of a copy of the lab that names this version (`install_version`);
   state records the node at the new version;
4. wait until the node is Ready and its kubelet reports the version (`ready_timeout`);
5. uncordon (a node that was cordoned before the upgrade stays cordoned), then the gates again, polled
   until they pass or `ready_timeout` ends.
The first gate that fails stops the upgrade (exit 3) with what failed. Progress is a JSON record in the
state directory (`upgrade-k3s.json`, written atomically after every stage), so the same command again
resumes: finished steps are skipped, and a node already at a step's version is not reinstalled. When
every node runs the target, the lab file's `clusters.k3s.version` is edited (comments kept) and rendered.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from homelab.errors import EngineError, HomelabError, UsageError
from homelab.ops.drain import Clock

RECORD = "upgrade-k3s.json"


class UpgradeStopped(EngineError):
    """A gate failed: the upgrade stopped where it was; the same command resumes it."""


@dataclass(frozen=True)
class Step:
    version: str
    role: str  # server | agent
    nodes: tuple[str, ...]

    @property
    def key(self) -> str:
        return f"{self.version}:{','.join(self.nodes)}"

    def to_json(self) -> dict:
        return {"version": self.version, "role": self.role, "nodes": list(self.nodes)}


@dataclass
class UpgradePlan:
    current: str
    target: str
    versions: list[str]
    steps: list[Step]
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        return {"current": self.current, "target": self.target, "versions": self.versions,
                "steps": [s.to_json() for s in self.steps], "notes": self.notes}


def plan_upgrade(doc, target: str, via=()) -> UpgradePlan:
    from homelab.lab.k3s_versions import walk
    from homelab.ops.cluster import require_k3s

    k3s = require_k3s(doc)
    versions = [str(v) for v in walk(k3s.version, target, via)]
    servers, agents = list(k3s.servers), [a for a in k3s.agents if a not in k3s.servers]
    if len(servers) == 2 and versions:
        raise UsageError("2 servers: etcd loses quorum while either restarts (2 members need both)",
                         "add a third server to clusters.k3s.servers before upgrading (odd counts keep quorum)")
    notes = []
    if len(servers) == 1:
        notes.append(f"one server ({servers[0]}): the Kubernetes API is down while it restarts")
    size = k3s.upgrade.agent_batch
    steps = []
    for version in versions:
        steps += [Step(version, "server", (s,)) for s in servers]
        steps += [Step(version, "agent", tuple(agents[i:i + size])) for i in range(0, len(agents), size)]
    return UpgradePlan(k3s.version, target, versions, steps, notes)


# ----------------------------------------------------------------------------------------- the record
@dataclass
class Record:
    path: Path
    data: dict

    @classmethod
    def open(cls, state_dir, plan: UpgradePlan) -> Record:
        path = Path(state_dir) / RECORD
        data = {}
        if path.exists():
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except ValueError:
                raise HomelabError(f"{path} is not readable JSON",
                                   "it records an interrupted upgrade; remove it to plan afresh") from None
        if data.get("target") and data["target"] != plan.target and not data.get("finished"):
            raise UsageError(f"an upgrade to {data['target']} is in progress ({path})",
                             f"finish it: `homelab upgrade k3s --to {data['target']}`")
        if data.get("target") != plan.target or data.get("finished"):
            data = {"format_version": 1, "from": plan.current, "target": plan.target, "versions": plan.versions,
                    "done": [], "cordoned_before": [], "stage": {}, "stopped": None, "finished": False}
        return cls(path, data)

    def save(self) -> None:
        from homelab.lab.edit import write_atomic

        self.path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(self.path, json.dumps(self.data, indent=2, sort_keys=True) + "\n")

    def stage(self, step: Step, stage: str) -> None:
        self.data["stage"][step.key] = stage
        self.save()


# ----------------------------------------------------------------------------------------- the run
@dataclass
class UpgradeRun:
    plan: UpgradePlan
    upgraded: list[str] = field(default_factory=list)  # step keys done by this run
    skipped: list[str] = field(default_factory=list)  # step keys found done
    evicted: list[str] = field(default_factory=list)
    lab_edited: bool = False

    def to_json(self) -> dict:
        return {"plan": self.plan.to_json(), "upgraded": self.upgraded, "skipped": self.skipped,
                "evicted": self.evicted, "lab_edited": self.lab_edited}


@dataclass
class Upgrade:
    """One run of the steps: the cluster's API client, the installer (`install(nodes, version)`), timing."""

    doc: object
    plan: UpgradePlan
    client: object
    install: Callable[[list[str], str], None]
    record: Record
    say: Callable[[str], None] = lambda message: None
    clock: Clock = field(default_factory=Clock)

    @property
    def servers(self) -> list[str]:
        return list(self.doc.lab.clusters.k3s.servers)

    @property
    def expected(self) -> list[str]:
        k3s = self.doc.lab.clusters.k3s
        return [*k3s.servers, *[a for a in k3s.agents if a not in k3s.servers]]

    def stop(self, step: Step, gate: str, why: str, hint: str | None = None) -> UpgradeStopped:
        self.record.data["stopped"] = {"step": step.key, "gate": gate, "message": why}
        self.record.save()
        return UpgradeStopped(f"upgrade to {self.plan.target} stopped at {', '.join(step.nodes)} ({step.version}), "
                              f"gate '{gate}': {why}",
                              hint or f"fix the cause, then run `homelab upgrade k3s --to {self.plan.target}` again: "
                              "it resumes at this step")

    def run(self) -> UpgradeRun:
        result = UpgradeRun(self.plan)
        for step in self.plan.steps:
            if step.key in self.record.data["done"] or self._already(step):
                result.skipped.append(step.key)
                if step.key not in self.record.data["done"]:
                    self.record.data["done"].append(step.key)
                    self.record.save()
                continue
            self.say(f"{step.version}: {step.role} {', '.join(step.nodes)}")
            self._step(step, result)
            result.upgraded.append(step.key)
        self.record.data["stopped"] = None
        self.record.save()
        return result

    def _already(self, step: Step) -> bool:
        """Every node of the step runs the version (or newer), is Ready and is not cordoned by us."""
        from homelab.engines.kubernetes import nodes as api
        from homelab.lab.k3s_versions import parse
        from homelab.ops.drain import is_true, kubelet_version

        want = parse(step.version)
        for name in step.nodes:
            node = api.get_node(self.client, name)
            have = parse(kubelet_version(node)) if node else None
            if have is None or have < want or not is_true(node, "Ready"):
                return False
            if (node.get("spec") or {}).get("unschedulable") and name not in self.record.data["cordoned_before"]:
                return False
        return True

    def _gates(self, step: Step, when: str, *, wait: float = 0.0) -> None:
        from homelab.ops.drain import cluster_health, quorum_after

        deadline = self.clock.now() + wait
        while True:
            nodes, problems = cluster_health(self.client, self.servers, self.expected)
            if when == "before" and not problems:
                lost = quorum_after(nodes, self.servers, list(step.nodes))
                problems = [lost] if lost else []
            if not problems:
                return
            if self.clock.now() >= deadline:
                raise self.stop(step, f"{when} {', '.join(step.nodes)}", "; ".join(problems))
            self.clock.sleep(self.clock.poll)

    def _step(self, step: Step, result: UpgradeRun) -> None:
        """Gates, cordon, drain, install, wait, uncordon, gates; a resumed step starts after its last stage."""
        from homelab.ops.drain import DrainBlocked, cordon, drain, uncordon

        settings = self.doc.lab.clusters.k3s.upgrade
        stage = self.record.data["stage"].get(step.key)
        if stage is None:
            self._gates(step, "before")
            before = cordon(self.client, list(step.nodes), self.say)
            self.record.data["cordoned_before"] = sorted({*self.record.data["cordoned_before"], *before})
            self.record.stage(step, "cordoned")
        if stage in (None, "cordoned", "drained"):
            cordon(self.client, list(step.nodes), self.say)  # resumed: still (or again) cordoned
            try:
                result.evicted += drain(self.client, list(step.nodes), timeout=settings.drain_timeout,
                                        say=self.say, clock=self.clock).evicted
            except DrainBlocked as exc:
                raise self.stop(step, "drain", exc.message, exc.hint) from None
            self.record.stage(step, "drained")
            try:
                self.install(list(step.nodes), step.version)
            except HomelabError as exc:
                raise self.stop(step, "install", exc.message) from None
            self.record.stage(step, "installed")
        self._wait_version(step, settings.ready_timeout)
        keep = set(self.record.data["cordoned_before"])
        uncordon(self.client, [n for n in step.nodes if n not in keep], self.say)
        self.record.stage(step, "uncordoned")
        self._gates(step, "after", wait=settings.ready_timeout)
        self.record.data["done"].append(step.key)
        self.record.data["stage"].pop(step.key, None)
        self.record.save()

    def _wait_version(self, step: Step, timeout: float) -> None:
        from homelab.engines.kubernetes import nodes as api
        from homelab.ops.drain import condition, is_true, kubelet_version

        deadline = self.clock.now() + timeout
        while True:
            waiting = []
            for name in step.nodes:
                node = api.get_node(self.client, name) or {}
                version = kubelet_version(node)
                if version != step.version:
                    waiting.append(f"{name} reports {version or 'no version'}")
                elif not is_true(node, "Ready"):
                    c = condition(node, "Ready") or {}
                    waiting.append(f"{name} is not Ready ({c.get('reason') or 'unknown'})")
            if not waiting:
                for name in step.nodes:
                    self.say(f"{name}: Ready, {step.version}")
                return
            if self.clock.now() >= deadline:
                raise self.stop(step, "ready", f"after {timeout:g}s " + "; ".join(waiting),
                                "the node stays cordoned; see its k3s log, fix it, then run the same command again")
            self.clock.sleep(self.clock.poll)


def finish(doc, plan: UpgradePlan, record: Record, *, out=None):
    """Every node runs the target: set clusters.k3s.version in the lab (comments kept) and render it."""
    from homelab.lab import lock
    from homelab.lab.edit import write_atomic
    from homelab.ops.edit_lab import commit_edit

    if doc.lock_file is not None:  # what runs now (the k3s-version-skip check compares the lab with it)
        text = lock.lock_update(doc.lock_file, doc.lock, doc.file, plan.target)
        if text is not None:
            write_atomic(doc.lock_file, text)
    committed = commit_edit(doc, with_version(doc, plan.target), render=True, out=out)
    record.data["finished"] = True
    record.save()
    return committed


def with_version(doc, version: str) -> str:
    from homelab.lab.edit import LabEditor

    editor = LabEditor(Path(doc.file).read_text(encoding="utf-8"), Path(doc.file).name)
    editor.tree["clusters"]["k3s"]["version"] = version
    return editor.dumps()


def install_version(doc, *, out=None, state_dir=None, options=None, progress=None):
    """The installer: the lab as it is but for `clusters.k3s.version`, rendered, and a targeted plan of the
    nodes applied (the k3s role installs the pinned version and restarts k3s)."""
    from homelab.lab.edit import reload
    from homelab.ops.cluster import run_targeted
    from homelab.ops.pipeline import render_into, session_for

    def install(nodes: list[str], version: str) -> None:
        step_doc = reload(doc, with_version(doc, version))
        rendered = render_into(step_doc, out)
        servers = set(step_doc.lab.clusters.k3s.servers)
        targets = [f"k3s_server.{n}" if n in servers else f"k3s_agent.{n}" for n in nodes]
        session = session_for(step_doc, state_dir=state_dir, workdir=rendered.out_dir, options=options,
                              progress=progress)
        try:
            run_targeted(session, targets, f"upgrade k3s --to {version}")
        finally:
            session.close()

    return install


def upgrade(doc, plan: UpgradePlan, *, client, install, state_dir, out=None, say=lambda m: None,
            clock: Clock | None = None) -> UpgradeRun:
    """Run (or resume) the plan; on success edit the lab. On a stop the rendered repository is put back to
    what the lab file says (a step renders its own version) and the error goes up."""
    from homelab.apply import state_dir_for
    from homelab.ops.pipeline import render_into

    record = Record.open(state_dir_for(state_dir), plan)
    record.save()
    try:
        run = Upgrade(doc, plan, client, install, record, say, clock or Clock()).run()
    except HomelabError:
        render_into(doc, out)
        raise
    finish(doc, plan, record, out=out)
    run.lab_edited = True
    return run


def kube_client(doc, kubeconfig=None):
    """A Kubernetes API client for the lab's cluster: --kubeconfig, else gitops.argocd.kubeconfig (relative to
    the lab file), else the one `homelab cluster bootstrap` saved (~/.kube/<lab name>.yaml)."""
    from homelab.engines.kubernetes.client import KubeClient
    from homelab.engines.kubernetes.kubeconfig import load_kubeconfig
    from homelab.ops.cluster import default_kubeconfig
    from homelab.secrets import REDACTOR

    argo = getattr(getattr(doc.lab, "gitops", None), "argocd", None)
    context = None
    if kubeconfig:
        path = Path(kubeconfig).expanduser()
    elif argo is not None and argo.kubeconfig:
        path = Path(argo.kubeconfig).expanduser()
        path = path if path.is_absolute() else Path(doc.file).resolve().parent / path
        context = argo.context
    else:
        path = default_kubeconfig(doc)
    return KubeClient(load_kubeconfig(path, context), redactor=REDACTOR)
