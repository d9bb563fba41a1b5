"""`homelab vm add` / `homelab vm remove` as edits of the lab file (the seed's add-vm.sh, without the sed).

vm add NAME --role ROLE [--env ENV] [--node N] [--join auto|k3s|elasticsearch|none]
* IP: the first free address of `network.pools.vms` (not reserved, not used by any VM — allocated ones
  included — and outside the MetalLB pool); VMID: the lowest free id of `proxmox.vmid_range`. Both
  are written into the file (pinned), so later edits never move them.
* env: `--env`, else the env most VMs of that role have, else the role's usual one
  (k8s-* → kubernetes, es-*/kibana/fleet → lab, vault → vault, plex/torrent/proxy/infra → home-apps).
* join (decided here): `auto` infers membership from the role — k8s-control-plane → K3s servers,
  k8s-worker → K3s agents, es-master → Elasticsearch masters, es-data → Elasticsearch data nodes,
  any other role joins nothing. `--join none` never joins; `--join k3s`/`elasticsearch` force it.
* node: `--node`, else the placement `lab/resolve.py` uses: fewest members of the same HA group,
  then the lowest memory commitment, then the name — but a node where no existing VM without `node:`
  would be moved by the new memory commitment is preferred (a moved VM is a replaced VM). If every
  node would move one, those VMs are pinned (`node:` written) where they are now, and reported.
* The entry goes after the last VM of the same role (else at the end), styled like its neighbour.

vm remove NAME takes the VM out of `vms` and every cluster member list (servers, agents, GPU nodes,
ES masters/data); VMs without `node:` that the freed memory would move are pinned where they are. A VM that other settings name as a single host (Kibana, Fleet, Vault server, step-ca
host) is refused until that setting is changed.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

from homelab.errors import UsageError
from homelab.lab.edit import LabEditor
from homelab.lab.resolve import _pool_candidates, effective_roles, reserved_addresses

NAME_RE = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")

ROLE_ENV = {"k8s-control-plane": "kubernetes", "k8s-worker": "kubernetes", "es-data": "lab", "es-master": "lab",
            "kibana": "lab", "fleet": "lab", "vault": "vault", "plex": "home-apps", "torrent": "home-apps",
            "proxy": "home-apps", "infra": "home-apps"}

# role -> (cluster, member list path, HA spread group)
ROLE_JOIN = {
    "k8s-control-plane": ("k3s", ("clusters", "k3s", "servers"), "k3s-servers"),
    "k8s-worker": ("k3s", ("clusters", "k3s", "agents"), "k3s-agents"),
    "es-master": ("elasticsearch", ("clusters", "elasticsearch", "master_nodes"), "es-masters"),
    "es-data": ("elasticsearch", ("clusters", "elasticsearch", "data_nodes"), "es-data"),
}
JOIN_CHOICES = ("auto", "k3s", "elasticsearch", "none")


@dataclass
class VmEdit:
    name: str
    text: str  # the edited lab file
    role: str = ""
    env: str = ""
    ip: str | None = None
    vmid: int | None = None
    node: str | None = None
    joined: list[str] = field(default_factory=list)  # e.g. ["clusters.k3s.agents"]
    pinned: list[str] = field(default_factory=list)  # VMs given `node:` so that they do not move


def _join_target(lab, role: str, join: str):
    if join not in JOIN_CHOICES:
        raise UsageError(f"--join {join!r} is not one of {', '.join(JOIN_CHOICES)}")
    if join == "none":
        return None
    target = ROLE_JOIN.get(role)
    if join == "auto":
        if target is None or getattr(lab.clusters, target[0]) is None:
            return None
        return target
    if target is None or target[0] != join:
        wants = {"k3s": "k8s-control-plane or k8s-worker", "elasticsearch": "es-master or es-data"}[join]
        raise UsageError(f"--join {join} needs a role of {wants}, not {role!r}")
    if getattr(lab.clusters, join) is None:
        raise UsageError(f"--join {join}: the lab has no clusters.{join}", f"add clusters.{join} first")
    return target


def _place(doc, group: str | None, memory: int) -> list[str]:
    """Proxmox nodes in order of preference for the new VM."""
    from homelab.lab.resolve import spread_group

    lab, inv = doc.lab, doc.inventory
    nodes = sorted(n.name for n in lab.proxmox.nodes)
    if not nodes:
        return []
    capacity = {n.name: n.memory for n in lab.proxmox.nodes}
    committed = dict.fromkeys(nodes, 0)
    counts: Counter = Counter()
    for vm in inv.vms:
        if vm.node in committed:
            committed[vm.node] += vm.memory
            if group and spread_group(lab, vm.name) == group:
                counts[vm.node] += 1
    return sorted(nodes, key=lambda n: (counts[n], (committed[n] + memory) / max(capacity[n], 1), n))


def add_vm(doc, text: str, name: str, role: str, *, env: str | None = None, node: str | None = None,
           join: str = "auto") -> VmEdit:
    lab, inv = doc.lab, doc.inventory
    if not NAME_RE.match(name or ""):
        raise UsageError(f"{name!r} is not a valid VM name",
                         "use a hostname label: lowercase letters, digits and '-', e.g. kube07")
    if name in inv.by_name:
        raise UsageError(f"a VM named {name} already exists in {doc.file}")
    roles = effective_roles(lab)
    if role not in roles:
        raise UsageError(f"unknown role {role!r}", "known roles: " + ", ".join(sorted(roles)))
    if env is None:
        seen = Counter(vm.env for vm in inv.vms if vm.role == role)
        env = seen.most_common(1)[0][0] if seen else ROLE_ENV.get(role, "lab")
    if env not in lab.environments:
        raise UsageError(f"unknown environment {env!r}", "environments: " + ", ".join(lab.environments))
    if node is not None and node not in {n.name for n in lab.proxmox.nodes}:
        raise UsageError(f"unknown Proxmox node {node!r}",
                         "nodes: " + ", ".join(sorted(n.name for n in lab.proxmox.nodes)))

    taken_ips = reserved_addresses(lab) | {vm.ip for vm in inv.vms if vm.ip}
    taken_ips |= {a.ip for a in inv.held.values() if a.ip}  # removed VMs still in state keep theirs
    ip = next((a for a in _pool_candidates(lab) if a not in taken_ips), None)
    if ip is None:
        raise UsageError("no free address left in network.pools.vms", "widen the pool or remove a VM")
    lo, hi = lab.proxmox.vmid_range
    taken_ids = {vm.vmid for vm in inv.vms if vm.vmid is not None}
    taken_ids |= {a.vmid for a in inv.held.values() if a.vmid is not None}
    vmid = next((i for i in range(lo, hi + 1) if i not in taken_ids), None)
    if vmid is None:
        raise UsageError(f"no free VMID left in proxmox.vmid_range {lo}-{hi}", "widen proxmox.vmid_range")

    target = _join_target(lab, role, join)
    candidates = [node] if node else _place(doc, target[2] if target else None, roles[role].memory)

    def edit(on_node: str | None, pin: dict[str, str]) -> str:
        ed = LabEditor(text, doc.file)
        ed.append_entry(("vms",), {"name": name, "role": role, "env": env, "ip": ip, "vmid": vmid,
                                   "node": on_node},
                        after=lambda item: hasattr(item, "get") and item.get("role") == role)
        for vm_name, vm_node in sorted(pin.items()):
            entry = next(item for item in ed.get("vms") if hasattr(item, "get") and item.get("name") == vm_name)
            entry["node"] = vm_node
        if target:
            ed.add_to_list(target[1], name)
        return ed.dumps()

    # Automatic placement of the VMs without `node:` weighs every node's memory commitment, so a new VM
    # can move one of them (a replace in the plan). Prefer a node where nothing moves; if there is none,
    # pin the VMs that would move to where they are now, and say so.
    current = {vm.name: vm.node for vm in inv.vms}
    chosen, new_text, moved = None, None, {}
    for cand in candidates or [None]:
        candidate_text = edit(cand, {})
        moved = _moved(doc, candidate_text, current)
        if not moved:
            chosen, new_text = cand, candidate_text
            break
    if new_text is None:
        chosen = candidates[0] if candidates else None
        new_text = edit(chosen, {n: current[n] for n in moved})
    joined = [".".join(target[1])] if target else []
    return VmEdit(name, new_text, role, env, ip, vmid, chosen, joined, pinned=sorted(moved) if moved else [])


def _moved(doc, text: str, current: dict[str, str | None]) -> list[str]:
    """Existing VMs whose automatic placement the edited lab would change (with the lab's lock, nothing
    recorded there moves; this pins what is not recorded yet)."""
    from homelab.errors import LoadError
    from homelab.lab.edit import reload

    try:
        new = reload(doc, text).inventory.by_name
    except LoadError:
        return []  # reported by the caller's validation of the edited file
    return sorted(n for n, node in current.items() if n in new and new[n].node != node)


def remove_vm(doc, text: str, name: str) -> VmEdit:
    lab = doc.lab
    if name not in doc.inventory.by_name:
        raise UsageError(f"there is no VM named {name} in {doc.file}")
    singles = []
    es = lab.clusters.elasticsearch
    if es and es.kibana == name:
        singles.append("clusters.elasticsearch.kibana")
    if es and es.fleet_server == name:
        singles.append("clusters.elasticsearch.fleet_server")
    if lab.vault.server == name:
        singles.append("vault.server")
    if lab.pki.step_ca and lab.pki.step_ca.host == name:
        singles.append("pki.step_ca.host")
    if singles:
        raise UsageError(f"{name} is named by {', '.join(singles)}",
                         "point that setting at another VM (or remove it) first, then remove the VM")
    ed = LabEditor(text, doc.file)
    ed.remove_entry(("vms",), lambda item: hasattr(item, "get") and item.get("name") == name)
    left = []
    for path in (("clusters", "k3s", "servers"), ("clusters", "k3s", "agents"), ("clusters", "k3s", "gpu", "nodes"),
                 ("clusters", "elasticsearch", "master_nodes"), ("clusters", "elasticsearch", "data_nodes")):
        if ed.remove_from_list(path, name):
            left.append(".".join(path))
    # the memory freed could move VMs without `node:`; pin them where they are
    current = {vm.name: vm.node for vm in doc.inventory.vms if vm.name != name}
    moved = _moved(doc, ed.dumps(), current)
    for vm_name in moved:
        entry = next(item for item in ed.get("vms") if hasattr(item, "get") and item.get("name") == vm_name)
        entry["node"] = current[vm_name]
    return VmEdit(name, ed.dumps(), joined=left, pinned=moved)
