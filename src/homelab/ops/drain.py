"""Cordon, drain and health gates of K3s nodes, through the Kubernetes API (engines/kubernetes/nodes.py).

A drain is `kubectl drain --ignore-daemonsets --delete-emptydir-data` done by hand: the nodes are cordoned
(`spec.unschedulable: true`), then every pod on them is evicted through the eviction subresource, which
honours PodDisruptionBudgets: a 429 means a budget forbids it *now* (its pods elsewhere are not ready
yet), so the eviction is retried with a growing pause (1 s, 2 s, 4 s ... at most 10 s) until the drain's
timeout -- then the drain gives up naming the budget. Pods of a DaemonSet (they would come straight back)
and static/mirror pods (`kubernetes.io/config.mirror`; the kubelet owns them) are left, as kubectl does.

The health gates are read from the nodes and kube-system's pods:
- every node Ready (condition `Ready` = True);
- etcd: every server a voting member (K3s's node condition `EtcdIsVoter` = True, set by k3s pkg/etcd),
  and before a server is taken down, the voters left keep quorum (more than half of the servers);
- no pod in kube-system in CrashLoopBackOff.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from homelab.errors import EngineError

MIRROR = "kubernetes.io/config.mirror"


class DrainBlocked(EngineError):
    """A node could not be drained in time (a PodDisruptionBudget kept refusing an eviction)."""


@dataclass
class Clock:
    """Time, injectable: tests run the waits without sleeping."""

    sleep: Callable[[float], None] = time.sleep
    now: Callable[[], float] = time.monotonic
    poll: float = 2.0
    max_backoff: float = 10.0


@dataclass
class DrainReport:
    evicted: list[str] = field(default_factory=list)  # "namespace/pod"
    left: list[str] = field(default_factory=list)  # DaemonSet / mirror pods, as kubectl leaves them


def condition(obj: dict, kind: str) -> dict | None:
    return next((c for c in (obj.get("status") or {}).get("conditions") or [] if c.get("type") == kind), None)


def is_true(obj: dict, kind: str) -> bool:
    c = condition(obj, kind)
    return bool(c and c.get("status") == "True")


def kubelet_version(node: dict) -> str:
    return str(((node.get("status") or {}).get("nodeInfo") or {}).get("kubeletVersion") or "")


def _evictable(pod: dict) -> bool:
    meta = pod.get("metadata") or {}
    if MIRROR in (meta.get("annotations") or {}):
        return False
    if any(o.get("kind") == "DaemonSet" for o in meta.get("ownerReferences") or []):
        return False
    return (pod.get("status") or {}).get("phase") not in ("Succeeded", "Failed")


def cordon(client, names: list[str], say) -> list[str]:
    """Cordon the nodes; returns those that were cordoned already (left cordoned after the work)."""
    from homelab.engines.kubernetes import nodes as api

    already = []
    for name in names:
        node = api.get_node(client, name)
        if node is None:
            raise EngineError(f"node {name} is not in the cluster", "is it joined? `homelab node join NAME`")
        if (node.get("spec") or {}).get("unschedulable"):
            already.append(name)
            continue
        api.set_unschedulable(client, name, True)
        say(f"{name}: cordoned")
    return already


def uncordon(client, names: list[str], say) -> None:
    from homelab.engines.kubernetes import nodes as api

    for name in names:
        api.set_unschedulable(client, name, False)
        say(f"{name}: uncordoned")


def drain(client, names: list[str], *, timeout: float, say, clock: Clock | None = None) -> DrainReport:
    """Evict every evictable pod of the (cordoned) nodes; retry budget refusals until `timeout` seconds."""
    from homelab.engines.kubernetes import nodes as api

    clock = clock or Clock()
    deadline = clock.now() + timeout
    report = DrainReport()
    pause = 1.0
    while True:
        pods = [p for n in names for p in api.pods_on(client, n)]
        live = [p for p in pods if _evictable(p)]
        terminating = [p for p in live if p["metadata"].get("deletionTimestamp")]
        pending = sorted((p["metadata"].get("namespace", ""), p["metadata"]["name"]) for p in live
                         if not p["metadata"].get("deletionTimestamp"))
        report.left = sorted({f"{p['metadata'].get('namespace', '')}/{p['metadata']['name']}"
                              for p in pods if not _evictable(p)})
        blocked: dict[str, str] = {}
        for ns, pod in pending:
            result = api.evict(client, ns, pod)
            if result.outcome == "blocked":
                blocked[f"{ns}/{pod}"] = result.message
            else:
                report.evicted.append(f"{ns}/{pod}")
                say(f"{ns}/{pod}: evicted" if result.outcome == "evicted" else f"{ns}/{pod}: gone already")
        if not pending and not terminating:
            return report
        if blocked and clock.now() >= deadline:
            first = sorted(blocked)[0]
            raise DrainBlocked(
                f"draining {', '.join(names)} gave up after {timeout:g}s: {first} cannot be evicted: {blocked[first]}"
                + (f" (and {len(blocked) - 1} more pod(s))" if len(blocked) > 1 else ""),
                "the PodDisruptionBudget allows no disruption: scale the workload up, lower the budget's "
                "minAvailable, or raise clusters.k3s.upgrade.drain_timeout; the node stays cordoned")
        if blocked:
            say(f"{len(blocked)} pod(s) wait for their disruption budget: {blocked[sorted(blocked)[0]]}")
            clock.sleep(pause)
            pause = min(pause * 2, clock.max_backoff)
        elif not pending:  # only pods still terminating: wait for them to go
            if clock.now() >= deadline:
                raise DrainBlocked(f"draining {', '.join(names)} gave up after {timeout:g}s: "
                                   f"{len(terminating) + len(pending)} pod(s) are still terminating")
            clock.sleep(clock.poll)


# ------------------------------------------------------------------------------------------ health gates
def gate_failures(nodes: list[dict], kube_system_pods: list[dict], servers: list[str],
                  expected: list[str] | None = None) -> list[str]:
    """What keeps the cluster from being healthy, one line each (empty: all gates pass)."""
    problems = []
    by_name = {n["metadata"]["name"]: n for n in nodes}
    for name in expected or []:
        if name not in by_name:
            problems.append(f"node {name} is not in the cluster")
    for name, node in sorted(by_name.items()):
        if not is_true(node, "Ready"):
            c = condition(node, "Ready") or {}
            problems.append(f"node {name} is not Ready ({c.get('reason') or 'no Ready condition'}"
                            + (f": {c['message']}" if c.get("message") else "") + ")")
    for name in servers:
        node = by_name.get(name)
        if node is not None and not is_true(node, "EtcdIsVoter"):
            c = condition(node, "EtcdIsVoter") or {}
            problems.append(f"etcd: {name} is not a voting member ({c.get('reason') or 'no EtcdIsVoter condition'})")
    for pod in kube_system_pods:
        for cs in (pod.get("status") or {}).get("containerStatuses") or []:
            if ((cs.get("state") or {}).get("waiting") or {}).get("reason") == "CrashLoopBackOff":
                problems.append(f"kube-system/{pod['metadata']['name']}: {cs.get('name')} is in CrashLoopBackOff")
    return problems


def quorum_after(nodes: list[dict], servers: list[str], taking: list[str]) -> str | None:
    """None when etcd keeps quorum with `taking` down; else why not. A single server has no quorum to keep."""
    if len(servers) < 2 or not set(taking) & set(servers):
        return None
    by_name = {n["metadata"]["name"]: n for n in nodes}
    voters = [s for s in servers if s in by_name and is_true(by_name[s], "Ready") and is_true(by_name[s], "EtcdIsVoter")]
    left = [s for s in voters if s not in taking]
    need = len(servers) // 2 + 1
    if len(left) < need:
        return (f"etcd would lose quorum: {len(servers)} servers need {need} voting members, and only "
                f"{len(left)} ({', '.join(left) or 'none'}) would be left while {', '.join(taking)} restarts")
    return None


def cluster_health(client, servers: list[str], expected: list[str]) -> tuple[list[dict], list[str]]:
    from homelab.engines.kubernetes import nodes as api

    nodes = api.list_nodes(client)
    return nodes, gate_failures(nodes, api.pods_in(client, "kube-system"), servers, expected)
