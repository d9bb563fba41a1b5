"""Nodes, their pods and PodDisruptionBudgets through the Kubernetes API: what a drain is made of.

Thin: each function is one request and says what came back; deciding (which pods, how long to retry,
whether the cluster is healthy) is the workflow's (homelab/ops/drain.py, ops/upgrade_k3s.py).

- cordon / uncordon: `PATCH /api/v1/nodes/{name}` with `application/merge-patch+json`
  `{"spec": {"unschedulable": true|false}}` -- what `kubectl cordon` changes.
- the pods of a node: `GET /api/v1/pods?fieldSelector=spec.nodeName=<node>` (as `kubectl drain` lists them).
- eviction: `POST /api/v1/namespaces/{ns}/pods/{name}/eviction` with a policy/v1 `Eviction`; 201 when the
  pod is being evicted, 404 when it is gone already, 429 TooManyRequests while a PodDisruptionBudget
  forbids it (the Status' `details.causes[].reason == "DisruptionBudget"` names the budget in its message:
  "The disruption budget web needs 2 healthy pods and has 2 currently") -- kubernetes `pkg/registry/core/
  pod/storage/eviction.go`.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

from homelab.engines.kubernetes.client import KubeApiError, KubeClient

MERGE_PATCH = "application/merge-patch+json"


@dataclass(frozen=True)
class Eviction:
    outcome: str  # evicted | gone | blocked
    message: str = ""


def list_nodes(client: KubeClient) -> list[dict]:
    return list(client.request("GET", "/api/v1/nodes")[1].get("items") or [])


def get_node(client: KubeClient, name: str) -> dict | None:
    try:
        return client.request("GET", f"/api/v1/nodes/{quote(name, safe='')}")[1]
    except KubeApiError as exc:
        if exc.code == 404:
            return None
        raise


def set_unschedulable(client: KubeClient, name: str, unschedulable: bool) -> dict:
    return client.request("PATCH", f"/api/v1/nodes/{quote(name, safe='')}",
                          body={"spec": {"unschedulable": unschedulable}}, content_type=MERGE_PATCH)[1]


def pods_on(client: KubeClient, node: str) -> list[dict]:
    query = {"fieldSelector": f"spec.nodeName={node}"}
    return list(client.request("GET", "/api/v1/pods", query=query)[1].get("items") or [])


def pods_in(client: KubeClient, namespace: str) -> list[dict]:
    return list(client.request("GET", f"/api/v1/namespaces/{quote(namespace, safe='')}/pods")[1].get("items") or [])


def disruption_budgets(client: KubeClient) -> list[dict]:
    return list(client.request("GET", "/apis/policy/v1/poddisruptionbudgets")[1].get("items") or [])


def evict(client: KubeClient, namespace: str, name: str) -> Eviction:
    body = {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": name, "namespace": namespace}}
    path = f"/api/v1/namespaces/{quote(namespace, safe='')}/pods/{quote(name, safe='')}/eviction"
    try:
        client.request("POST", path, body=body)
    except KubeApiError as exc:
        if exc.code == 404:
            return Eviction("gone")
        if exc.code == 429:
            causes = ((exc.body.get("details") or {}).get("causes") or [])
            said = [c.get("message", "") for c in causes if c.get("reason") == "DisruptionBudget"]
            return Eviction("blocked", "; ".join(said) or exc.body.get("message") or "429 TooManyRequests")
        raise
    return Eviction("evicted")


def annotate(client: KubeClient, name: str, annotations: dict) -> dict:
    return client.request("PATCH", f"/api/v1/nodes/{quote(name, safe='')}",
                          body={"metadata": {"annotations": annotations}}, content_type=MERGE_PATCH)[1]


def delete_node(client: KubeClient, name: str) -> bool:
    """DELETE the Node object; False when it was not there."""
    try:
        client.request("DELETE", f"/api/v1/nodes/{quote(name, safe='')}")
    except KubeApiError as exc:
        if exc.code == 404:
            return False
        raise
    return True
