"""`homelab node drain NAME` and `homelab node remove NAME`.

drain: cordon the node and evict its pods through the eviction API (ops/drain.py: PodDisruptionBudgets
honoured, retried until `clusters.k3s.upgrade.drain_timeout`). The node stays cordoned.

remove, in this order (each step safe to run again: a re-run after a failure picks up where it stopped):
1. refuse what would break the cluster: the first server (the others join it), the last server, or a
   server whose leaving would cost etcd quorum (the voters left, Ready, must be more than half of the
   servers left);
2. drain it;
3. a server leaves etcd first: the node is annotated `etcd.k3s.cattle.io/remove: "true"`, which K3s's
   etcd member controller answers by removing the member and setting `etcd.k3s.cattle.io/removed-node-name`
   (k3s pkg/etcd/member_controller.go; if etcd refuses, K3s clears the annotation instead);
4. the lab is edited: the node leaves `clusters.k3s` (servers/agents/GPU nodes; comments kept), and the
   targeted plan `k3s_*.NAME` is applied: its delete runs the k3s role's uninstall path
   (playbooks/k3s-uninstall.yml), the VM still being in the inventory;
5. the lab is edited again: the VM leaves `vms` (ops/add_vm.remove_vm), and the targeted plan of its
   remaining addresses (`host.NAME`, `proxmox_vm.NAME`: Terraform destroys the VM) is applied --
   deletions only, in the graph's reverse order;
6. the Node object is deleted from the cluster.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from homelab.errors import EngineError, HomelabError, UsageError
from homelab.ops.drain import Clock

REMOVE = "etcd.k3s.cattle.io/remove"
REMOVED = "etcd.k3s.cattle.io/removed-node-name"


@dataclass
class NodeRemoval:
    name: str
    role: str  # server | agent
    evicted: list[str] = field(default_factory=list)
    left_etcd: bool = False
    deleted: list[str] = field(default_factory=list)  # addresses the plan deleted
    node_deleted: bool = False

    def to_json(self) -> dict:
        return {"name": self.name, "role": self.role, "evicted": self.evicted, "left_etcd": self.left_etcd,
                "deleted": self.deleted, "node_deleted": self.node_deleted}


def drain_node(doc, client, name: str, *, say=lambda m: None, clock: Clock | None = None) -> list[str]:
    from homelab.ops.cluster import require_k3s
    from homelab.ops.drain import cordon, drain

    k3s = require_k3s(doc)
    cordon(client, [name], say)
    return drain(client, [name], timeout=k3s.upgrade.drain_timeout, say=say, clock=clock).evicted


def role_of(doc, name: str, state: dict) -> str:
    """server or agent: from the lab, or (a re-run after the lab was edited) from state."""
    k3s = doc.lab.clusters.k3s
    if k3s and name in k3s.servers:
        return "server"
    if k3s and name in k3s.agents:
        return "agent"
    if f"k3s_server.{name}" in state:
        return "server"
    if f"k3s_agent.{name}" in state:
        return "agent"
    raise UsageError(f"{name} is not a K3s node of {doc.file} (nor one being removed)",
                     "`homelab vm remove NAME` removes a VM that is not a cluster node")


def check_removable(doc, client, name: str, role: str) -> None:
    from homelab.engines.kubernetes import nodes as api

    k3s = doc.lab.clusters.k3s
    servers = list(k3s.servers) if k3s else []
    if role != "server" or name not in servers:
        return
    if servers[0] == name:
        raise UsageError(f"{name} is the first server: the other nodes join it (cluster-init)",
                         "make another server first in clusters.k3s.servers (they all hold etcd), then remove it")
    if len(servers) == 1:
        raise UsageError(f"{name} is the only server", "`homelab destroy --layer clusters` takes the cluster down")
    from homelab.ops.drain import is_true

    by_name = {n["metadata"]["name"]: n for n in api.list_nodes(client)}
    remaining = [s for s in servers if s != name]
    need = len(remaining) // 2 + 1
    voters = [s for s in remaining if s in by_name and is_true(by_name[s], "Ready") and is_true(by_name[s], "EtcdIsVoter")]
    if len(voters) < need:
        raise UsageError(f"removing {name} would cost etcd quorum: {len(remaining)} servers left need {need} "
                         f"voting members, and {len(voters)} ({', '.join(voters) or 'none'}) are Ready voters",
                         "bring the other servers back first, then remove it")


def leave_etcd(client, name: str, *, say, clock: Clock, timeout: float) -> bool:
    from homelab.engines.kubernetes import nodes as api

    node = api.get_node(client, name)
    if node is None or (node["metadata"].get("annotations") or {}).get(REMOVED):
        return node is not None
    api.annotate(client, name, {REMOVE: "true"})
    deadline = clock.now() + timeout
    while True:
        node = api.get_node(client, name) or {}
        annotations = (node.get("metadata") or {}).get("annotations") or {}
        if annotations.get(REMOVED):
            say(f"{name}: left etcd")
            return True
        if REMOVE not in annotations:
            raise EngineError(f"etcd refused to remove {name}'s member (K3s cleared {REMOVE})",
                              "etcd keeps its last voting member; see the k3s log of the other servers")
        if clock.now() >= deadline:
            raise EngineError(f"{name} did not leave etcd within {timeout:g}s (no {REMOVED} annotation)",
                              "is k3s running on the servers? run the same command again")
        clock.sleep(clock.poll)


def without_node(doc, text: str, name: str) -> str:
    """The lab text with NAME out of clusters.k3s (servers, agents, GPU nodes), the VM kept."""
    from homelab.lab.edit import LabEditor

    ed = LabEditor(text, doc.file)
    for path in (("clusters", "k3s", "servers"), ("clusters", "k3s", "agents"), ("clusters", "k3s", "gpu", "nodes")):
        ed.remove_from_list(path, name)
    return ed.dumps()


def remove_node(doc, name: str, *, client, state: dict, edit: Callable[[str], object],
                apply_deletes: Callable[[str], list], say=lambda m: None, clock: Clock | None = None) -> NodeRemoval:
    """The steps above. `edit("cluster")` / `edit("vm")` commit the two lab edits (each skipped when done
    already); `apply_deletes(pattern)` applies the targeted deletions and returns the addresses deleted."""
    from homelab.engines.kubernetes import nodes as api

    clock = clock or Clock()
    role = role_of(doc, name, state)
    result = NodeRemoval(name, role)
    in_lab = name in doc.inventory.by_name
    if in_lab:
        check_removable(doc, client, name, role)
    if api.get_node(client, name) is not None:
        result.evicted = drain_node(doc, client, name, say=say, clock=clock) if in_lab else []
        if role == "server":
            timeout = doc.lab.clusters.k3s.upgrade.ready_timeout if doc.lab.clusters.k3s else 600
            result.left_etcd = leave_etcd(client, name, say=say, clock=clock, timeout=timeout)
    k3s = doc.lab.clusters.k3s
    try:
        if k3s and name in [*k3s.servers, *k3s.agents]:
            edit("cluster")
        result.deleted = apply_deletes(f"k3s_*.{name}")
        if in_lab:
            edit("vm")
        result.deleted += apply_deletes(f"*.{name}")
    except HomelabError as exc:
        raise EngineError(f"removing {name}: {exc.message}", f"fix the cause and run `homelab node remove {name}` "
                          "again: it goes on from here") from None
    if api.delete_node(client, name):
        say(f"{name}: Node object deleted")
        result.node_deleted = True
    return result


def targeted_deletes(session, pattern: str) -> list[str]:
    """Plan the deletions the pattern selects (`k3s_*.NAME`, `*.NAME`), apply them; the addresses deleted."""
    from homelab.errors import UsageError as _Usage

    try:
        plan = session.plan(targets=[pattern])
    except _Usage:
        return []  # nothing of it in the lab or the state any more
    plan.changes = [c for c in plan.changes if c.action == "delete"]
    if not plan.changes:
        return []
    report = session.apply(plan)
    failed = [o for o in report.outcomes if o.status != "applied"]
    if failed:
        raise EngineError(failed[0].message, output_tail=failed[0].output_tail)
    return [o.address for o in report.outcomes]
