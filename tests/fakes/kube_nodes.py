"""Nodes, pods, PodDisruptionBudgets, cordon and eviction on top of the Kubernetes contract fake.

`FakeKubeCluster` is `FakeKubeApiServer` (kube_apiserver.py) serving three more kinds and the eviction
subresource, with a small "kubelet" and "controllers" so a drain and an upgrade can be played against it.
Sources of the shapes:
- Node (v1, cluster scope, `nodes`): `spec.unschedulable` (what `kubectl cordon` sets with a merge patch),
  `status.conditions` with `Ready` and, on K3s servers with embedded etcd, `EtcdIsVoter` (k3s
  `pkg/etcd/etcd.go`: reason `MemberIsVoter` "Node is a voting member of the etcd cluster",
  `MemberIsLearner`, `NotAMember`), `status.nodeInfo.kubeletVersion` (a K3s node reports its release,
  "v1.34.1+k3s1"), the role labels K3s sets on servers (`node-role.kubernetes.io/control-plane`,
  `.../etcd`, `.../master` = "true").
- Pod (v1, `pods`): `spec.nodeName`, `metadata.ownerReferences` (kind ReplicaSet/DaemonSet/...),
  `status.conditions[Ready]`, `status.containerStatuses[].state.waiting.reason` (`CrashLoopBackOff`).
  LIST accepts exactly one selector: `fieldSelector=spec.nodeName=<node>` (kubectl drain's query).
- PodDisruptionBudget (policy/v1, `poddisruptionbudgets`, short name `pdb`): `spec.selector.matchLabels`,
  `spec.minAvailable` / `spec.maxUnavailable` (integers); `status` as the disruption controller keeps it
  (currentHealthy, desiredHealthy, disruptionsAllowed, expectedPods), recomputed on every request.
- Eviction: `POST /api/v1/namespaces/{ns}/pods/{name}/eviction` with a policy/v1 Eviction whose
  metadata.name is the pod's (400 otherwise), 404 for a missing pod, 500 when two budgets select the
  pod, 429 TooManyRequests "Cannot evict pod as it would violate the pod's disruption budget." with
  `details.causes: [{reason: DisruptionBudget, message: "The disruption budget NAME needs N healthy pods
  and has M currently"}]` (kubernetes `pkg/registry/core/pod/storage/eviction.go`), else 201 with a
  Success Status and the pod is gone.

What it simulates beyond the API (the parts a real cluster's agents do)
- the kubelet: `kubelet(name) -> version | None`, asked whenever nodes are read, says what the node
  runs now (a test reads it from the sandbox host's stand-in k3s, or sets it); a new version is the
  node's new `kubeletVersion`. Failure injection: `not_ready_after_upgrade` (the node comes back
  NotReady), `set_ready`, `set_etcd_voter`, `crashloop`.
- the ReplicaSet controller: an evicted pod owned by a ReplicaSet is replaced by a Ready pod with the
  same labels on another schedulable node (when there is one; `replace_evicted=False` turns it off).
"""

from __future__ import annotations

import json
import time
import uuid

from fakes.kube_apiserver import FakeKubeApiServer, ResourceType
from fakes.kube_errors import ApiError, bad_request, not_found_generic, status_body
from fakes.kube_fields import clone, now

NODE = ResourceType("", "v1", "Node", "nodes", False, ("no",), status_subresource=True)
POD = ResourceType("", "v1", "Pod", "pods", True, ("po",), status_subresource=True)
PDB = ResourceType("policy", "v1", "PodDisruptionBudget", "poddisruptionbudgets", True, ("pdb",),
                   status_subresource=True)
ETCD_REMOVE, ETCD_REMOVED = "etcd.k3s.cattle.io/remove", "etcd.k3s.cattle.io/removed-node-name"
ETCD_NAME, ETCD_ADDRESS = "etcd.k3s.cattle.io/node-name", "etcd.k3s.cattle.io/node-address"
SERVER_ROLES = ("node-role.kubernetes.io/control-plane", "node-role.kubernetes.io/etcd",
                "node-role.kubernetes.io/master")


class FakeKubeCluster(FakeKubeApiServer):
    def __post_init__(self):
        super().__post_init__()
        for rt in (NODE, POD, PDB):
            self._types[(rt.group, rt.plural)] = rt
        self.kubelet = None  # callable(node name) -> the version it runs now, or None (unchanged)
        self.not_ready_after_upgrade: set[str] = set()
        self.replace_evicted = True
        self.evictions: list[tuple[str, str]] = []  # (namespace, pod) evicted, in order
        self._replacements = 0

    # ------------------------------------------------------------------ test helpers
    def add_node(self, name: str, version: str, *, server: bool = False, ready: bool = True) -> None:
        labels = {"kubernetes.io/hostname": name, **({r: "true" for r in SERVER_ROLES} if server else {})}
        conditions = [_condition("Ready", ready, "KubeletReady" if ready else "KubeletNotReady",
                                 "kubelet is posting ready status" if ready else "container runtime is down")]
        if server:
            conditions.append(_voter(True))
        meta = self._meta(name, None, labels)
        if server:  # what k3s's etcd sets on a member's node (pkg/etcd NodeNameAnnotation, NodeAddressAnnotation)
            meta["annotations"] = {ETCD_NAME: f"{name}-{uuid.uuid5(uuid.NAMESPACE_DNS, name).hex[:8]}",
                                   ETCD_ADDRESS: "10.0.0.1"}
        obj = {"apiVersion": "v1", "kind": "Node", "metadata": meta, "spec": {},
               "status": {"conditions": conditions, "nodeInfo": _node_info(name, version)}}
        with self._lock:
            self._objects[("", "nodes", "", name)] = obj

    def add_pod(self, namespace: str, name: str, node: str, *, labels: dict | None = None,
                owner: str = "ReplicaSet", ready: bool = True) -> None:
        self._ensure_namespace(namespace)
        meta = self._meta(name, namespace, dict(labels or {}))
        if owner:
            meta["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": owner, "name": f"{name.split('-')[0]}-rs",
                                        "uid": str(uuid.uuid4()), "controller": True}]
        obj = {"apiVersion": "v1", "kind": "Pod", "metadata": meta,
               "spec": {"nodeName": node, "containers": [{"name": "main", "image": "example/app:1"}]},
               "status": {"phase": "Running", "conditions": [_condition("Ready", ready, "", "")],
                          "containerStatuses": [{"name": "main", "ready": ready, "restartCount": 0,
                                                 "state": {"running": {"startedAt": now()}}}]}}
        with self._lock:
            self._objects[("", "pods", namespace, name)] = obj

    def add_pdb(self, namespace: str, name: str, match_labels: dict, *, min_available: int | None = None,
                max_unavailable: int | None = None) -> None:
        self._ensure_namespace(namespace)
        spec = {"selector": {"matchLabels": dict(match_labels)}}
        if min_available is not None:
            spec["minAvailable"] = min_available
        if max_unavailable is not None:
            spec["maxUnavailable"] = max_unavailable
        with self._lock:
            self._objects[("policy", "poddisruptionbudgets", namespace, name)] = {
                "apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
                "metadata": self._meta(name, namespace, {}), "spec": spec, "status": {}}

    def node(self, name: str) -> dict:
        with self._lock:
            self._kubelet_tick()
            return clone(self._objects[("", "nodes", "", name)])

    def pods(self, node: str | None = None) -> list[dict]:
        with self._lock:
            return [clone(o) for (g, p, _, _), o in sorted(self._objects.items())
                    if (g, p) == ("", "pods") and (node is None or o["spec"].get("nodeName") == node)]

    def set_ready(self, name: str, ready: bool) -> None:
        with self._lock:
            _set_condition(self._objects[("", "nodes", "", name)], _condition(
                "Ready", ready, "KubeletReady" if ready else "KubeletNotReady",
                "kubelet is posting ready status" if ready else "container runtime is down"))

    def set_etcd_voter(self, name: str, voter: bool) -> None:
        with self._lock:
            _set_condition(self._objects[("", "nodes", "", name)], _voter(voter))

    def crashloop(self, namespace: str, name: str, on: bool = True) -> None:
        with self._lock:
            pod = self._objects[("", "pods", namespace, name)]
            state = ({"waiting": {"reason": "CrashLoopBackOff",
                                  "message": "back-off 5m0s restarting failed container"}} if on
                     else {"running": {"startedAt": now()}})
            pod["status"]["containerStatuses"][0]["state"] = state
            pod["status"]["containerStatuses"][0]["restartCount"] += 5 if on else 0

    def calls(self) -> list[str]:
        """The requests that changed something, as "METHOD path" (cordon, eviction, uncordon order)."""
        return [f"{r.method} {r.path}" for r in self.requests if r.method in ("PATCH", "POST", "DELETE")]

    # ------------------------------------------------------------------ plumbing
    def _meta(self, name, namespace, labels) -> dict:
        meta = {"name": name, "uid": str(uuid.uuid4()), "creationTimestamp": now(), "resourceVersion": self._next_rv(),
                "labels": labels, "managedFields": []}
        if namespace:
            meta["namespace"] = namespace
        return meta

    def _ensure_namespace(self, namespace: str) -> None:
        with self._lock:
            key = ("", "namespaces", "", namespace)
            if key not in self._objects:
                self._objects[key] = {"apiVersion": "v1", "kind": "Namespace",
                                      "metadata": {**self._meta(namespace, None,
                                                                {"kubernetes.io/metadata.name": namespace})},
                                      "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}}

    def _kubelet_tick(self) -> None:
        if self.kubelet is None:
            return
        for (g, p, _, name), node in list(self._objects.items()):
            if (g, p) != ("", "nodes"):
                continue
            version = self.kubelet(name)
            info = node["status"]["nodeInfo"]
            if version and version != info.get("kubeletVersion"):
                info["kubeletVersion"] = info["kubeProxyVersion"] = version  # one k3s binary runs both
                node["metadata"]["resourceVersion"] = self._next_rv()
                if name in self.not_ready_after_upgrade:
                    _set_condition(node, _condition("Ready", False, "KubeletNotReady", "PLEG is not healthy"))

    def _refresh_pdbs(self) -> None:
        for (g, p, ns, _), pdb in self._objects.items():
            if (g, p) != ("policy", "poddisruptionbudgets"):
                continue
            pods = self._selected(ns, pdb)
            healthy = sum(1 for o in pods if _pod_ready(o))
            spec = pdb["spec"]
            desired = spec["minAvailable"] if "minAvailable" in spec else max(
                0, len(pods) - int(spec.get("maxUnavailable", 0)))
            pdb["status"] = {"currentHealthy": healthy, "desiredHealthy": desired, "expectedPods": len(pods),
                             "disruptionsAllowed": max(0, healthy - desired), "observedGeneration": 1}

    def _selected(self, namespace: str, pdb: dict) -> list[dict]:
        match = (pdb["spec"].get("selector") or {}).get("matchLabels") or {}
        return [o for (g, p, ns, _), o in self._objects.items() if (g, p) == ("", "pods") and ns == namespace
                and all((o["metadata"].get("labels") or {}).get(k) == v for k, v in match.items())]

    # ------------------------------------------------------------------ routing
    def handle(self, method, raw_path, headers, body):
        """As the base server; every request also gets `time_ns` (ordering against what hosts recorded)."""
        start, seen = time.time_ns(), len(self.requests)
        try:
            return super().handle(method, raw_path, headers, body)
        finally:
            for r in self.requests[seen:]:
                r.time_ns = start

    def _route(self, method, path, queries, content_type, body, user):
        segs = [s for s in path.split("/") if s]
        if segs[:2] == ["api", "v1"] and (("nodes" in segs[2:3]) or segs[2:3] == ["pods"] or
                                          (len(segs) > 4 and segs[4] == "pods")):
            self._kubelet_tick()
        self._refresh_pdbs()
        if method == "POST" and len(segs) == 7 and segs[:3] == ["api", "v1", "namespaces"] and \
                segs[4] == "pods" and segs[6] == "eviction":
            return self._evict(segs[3], segs[5], body)
        if method == "GET" and segs == ["api", "v1", "pods"] and "fieldSelector" in queries:
            return 200, self._pods_on_node(queries)
        answer = super()._route(method, path, queries, content_type, body, user)
        if method == "PATCH" and segs[:3] == ["api", "v1", "nodes"] and len(segs) == 4:
            self._etcd_member_controller(segs[3])
        return answer

    def _etcd_member_controller(self, name: str) -> None:
        """k3s pkg/etcd/member_controller.go: `etcd.k3s.cattle.io/remove: "true"` on an etcd node removes its
        member -- then `removed-node-name` is set and the node-name/address annotations go; etcd refuses to
        remove its last voting member, and K3s clears the remove annotation instead."""
        node = self._objects.get(("", "nodes", "", name))
        annotations = (node or {}).get("metadata", {}).get("annotations") or {}
        if node is None or annotations.get(ETCD_REMOVE, "").lower() != "true" or ETCD_REMOVED in annotations:
            return
        if "node-role.kubernetes.io/etcd" not in node["metadata"]["labels"]:
            return
        voters = [o for (g, p, _, n), o in self._objects.items() if (g, p) == ("", "nodes") and n != name
                  and any(c["type"] == "EtcdIsVoter" and c["status"] == "True" for c in o["status"]["conditions"])]
        if not voters:
            del annotations[ETCD_REMOVE]
        else:
            annotations[ETCD_REMOVED] = annotations.pop(ETCD_NAME, name)
            annotations.pop(ETCD_ADDRESS, None)
            _set_condition(node, _voter(False))
        node["metadata"]["resourceVersion"] = self._next_rv()

    def _pods_on_node(self, queries) -> dict:
        selector = queries["fieldSelector"][-1]
        others = sorted(set(queries) - {"fieldSelector"})
        if not selector.startswith("spec.nodeName=") or others:
            raise bad_request(f"the fake Kubernetes API server (tests/fakes) serves only fieldSelector="
                              f"spec.nodeName=<node> on pods, not {selector!r} {others}")
        node = selector.partition("=")[2]
        items = [clone(o) for (g, p, _, _), o in sorted(self._objects.items())
                 if (g, p) == ("", "pods") and o["spec"].get("nodeName") == node]
        return {"kind": "PodList", "apiVersion": "v1", "metadata": {"resourceVersion": str(self._rv)}, "items": items}

    def _evict(self, namespace: str, name: str, body: bytes):
        try:
            data = json.loads(body.decode() or "{}")
        except ValueError:
            raise bad_request("error decoding the Eviction") from None
        if data.get("kind") != "Eviction" or data.get("apiVersion") not in ("policy/v1", "policy/v1beta1"):
            raise bad_request(f"the body is not a policy/v1 Eviction: {data.get('apiVersion')}/{data.get('kind')}")
        if (data.get("metadata") or {}).get("name") != name:
            raise bad_request("name in URL does not match name in Eviction object")
        key = ("", "pods", namespace, name)
        pod = self._objects.get(key)
        if pod is None:
            raise ApiError(status_body(404, "NotFound", f'pods "{name}" not found', {"name": name, "kind": "pods"}))
        budgets = [(k[3], o) for k, o in self._objects.items() if k[:3] == ("policy", "poddisruptionbudgets", namespace)
                   and any(p is pod for p in self._selected(namespace, o))]
        if len(budgets) > 1:
            raise ApiError(status_body(500, "InternalError", "This pod has more than one PodDisruptionBudget, "
                                       "which the eviction subresource does not support.", {}))
        if budgets and _pod_ready(pod):
            pdb_name, pdb = budgets[0]
            st = pdb["status"]
            if st["disruptionsAllowed"] <= 0:
                raise ApiError(status_body(
                    429, "TooManyRequests", "Cannot evict pod as it would violate the pod's disruption budget.",
                    {"causes": [{"reason": "DisruptionBudget", "message": f"The disruption budget {pdb_name} needs "
                                 f"{st['desiredHealthy']} healthy pods and has {st['currentHealthy']} currently"}]}))
        del self._objects[key]
        self.evictions.append((namespace, name))
        self._replace(pod)
        self._refresh_pdbs()
        return 201, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success"}

    def _replace(self, pod: dict) -> None:
        owners = [o.get("kind") for o in pod["metadata"].get("ownerReferences") or []]
        if not self.replace_evicted or "ReplicaSet" not in owners:
            return
        here = pod["spec"].get("nodeName")
        targets = [o["metadata"]["name"] for (g, p, _, _), o in sorted(self._objects.items())
                   if (g, p) == ("", "nodes") and not o["spec"].get("unschedulable")
                   and o["metadata"]["name"] != here and _node_ready(o)]
        if not targets:
            return  # Pending: nowhere to run
        self._replacements += 1
        ns, name = pod["metadata"]["namespace"], pod["metadata"]["name"]
        self.add_pod(ns, f"{name.rsplit('-r', 1)[0]}-r{self._replacements}", targets[0],
                     labels=pod["metadata"].get("labels"))


def _condition(kind: str, ok: bool, reason: str, message: str) -> dict:
    return {"type": kind, "status": "True" if ok else "False", "reason": reason, "message": message,
            "lastHeartbeatTime": now(), "lastTransitionTime": now()}


def _node_info(name: str, version: str) -> dict:
    """status.nodeInfo as a K3s node on Ubuntu reports it (every field is required by the Node schema)."""
    ident = uuid.uuid5(uuid.NAMESPACE_DNS, name)
    return {"architecture": "amd64", "bootID": str(ident), "containerRuntimeVersion": "containerd://2.0.5-k3s1",
            "kernelVersion": "6.8.0-60-generic", "kubeProxyVersion": version, "kubeletVersion": version,
            "machineID": ident.hex, "operatingSystem": "linux", "osImage": "Ubuntu 24.04.2 LTS",
            "systemUUID": str(ident)}


def _voter(voter: bool) -> dict:
    if voter:
        return _condition("EtcdIsVoter", True, "MemberIsVoter", "Node is a voting member of the etcd cluster")
    return _condition("EtcdIsVoter", False, "NotAMember", "Node is not a member of the etcd cluster")


def _set_condition(obj: dict, cond: dict) -> None:
    conds = [c for c in obj["status"].get("conditions") or [] if c["type"] != cond["type"]]
    obj["status"]["conditions"] = [*conds, cond]


def _pod_ready(pod: dict) -> bool:
    return any(c["type"] == "Ready" and c["status"] == "True" for c in pod["status"].get("conditions") or [])


def _node_ready(node: dict) -> bool:
    return any(c["type"] == "Ready" and c["status"] == "True" for c in node["status"].get("conditions") or [])


__all__ = ["FakeKubeCluster", "not_found_generic"]
