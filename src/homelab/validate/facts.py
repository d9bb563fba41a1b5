"""What validate knows about the cluster besides the manifests: from the lab when it is known, else from
the rendered Ansible variables (`ansible/group_vars/k8s.yml`, what the k3s role configures the nodes with).

Node labels are the ones K3s sets itself (kubernetes.io/hostname, kubernetes.io/os, and on servers
node-role.kubernetes.io/control-plane|master|etcd = "true") plus the lab's GPU label; taints are the
lab's GPU taint on the GPU nodes (K3s taints no server unless told to).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Taint:
    key: str
    value: str
    effect: str

    @classmethod
    def parse(cls, text: str) -> Taint:
        kv, _, effect = text.rpartition(":")
        key, _, value = kv.partition("=")
        return cls(key, value, effect)

    def __str__(self) -> str:
        return f"{self.key}{'=' + self.value if self.value else ''}:{self.effect}"


@dataclass
class Node:
    name: str
    labels: dict[str, str]
    taints: list[Taint] = field(default_factory=list)
    gpus: int = 0


@dataclass
class Facts:
    k8s_version: str = "v1.33.0"
    nodes: list[Node] = field(default_factory=list)
    domain: str | None = None
    local_path: bool = True  # K3s' bundled local-path StorageClass (unless `disable: [local-storage]`)
    source: str = "defaults"


def _node(name: str, server: bool, gpu_label: str | None, taint: str | None, gpus: int) -> Node:
    labels = {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64"}
    if server:
        labels.update({f"node-role.kubernetes.io/{r}": "true" for r in ("control-plane", "master", "etcd")})
    if gpu_label:
        k, _, v = gpu_label.partition("=")
        labels[k] = v
    return Node(name, labels, [Taint.parse(taint)] if taint else [], gpus)


def from_lab(doc) -> Facts:
    lab = doc.lab
    k3s = (lab.clusters.k3s if lab.clusters else None)
    facts = Facts(domain=lab.network.domain, source="lab")
    if k3s is None:
        return facts
    facts.k8s_version = k3s.version
    facts.local_path = "local-storage" not in k3s.disable
    vms = {vm.name: vm for vm in lab.vms}
    gpu_nodes = set(k3s.gpu.nodes)
    for name in [*k3s.servers, *k3s.agents]:
        gpu = name in gpu_nodes
        vm = vms.get(name)
        gpus = 1 if gpu and vm is not None and getattr(vm, "gpu", None) else 0
        facts.nodes.append(_node(name, name in k3s.servers, k3s.gpu.label if gpu else None,
                                 k3s.gpu.taint if gpu else None, gpus))
    return facts


def from_tree(tree) -> Facts:
    data = tree.mapping("ansible/group_vars/k8s.yml") or {}
    facts = Facts(source="ansible/group_vars/k8s.yml" if data else "defaults")
    if not data:
        return facts
    facts.k8s_version = str(data.get("k3s_version") or facts.k8s_version)
    facts.local_path = "local-storage" not in (data.get("k3s_disable") or [])
    gpu_nodes = [str(n) for n in data.get("k3s_gpu_nodes") or []]
    labels = [str(x) for x in data.get("k3s_gpu_node_labels") or []]
    taints = [str(x) for x in data.get("k3s_gpu_node_taints") or []]
    for name in data.get("k3s_servers") or []:
        facts.nodes.append(_node(str(name), True, None, None, 0))
    for name in gpu_nodes:
        node = _node(name, False, labels[0] if labels else None, taints[0] if taints else None, 1)
        facts.nodes.append(node)
    facts.nodes.append(_node("(any other agent)", False, None, None, 0))
    return facts
