"""The node/pod/budget/eviction part of the Kubernetes fake (kube_nodes.py) against the documented shapes.

Expected bodies are typed from the sources named in kube_nodes.py (kubernetes pkg/registry/core/pod/storage/
eviction.go, k3s pkg/etcd/etcd.go), not copied from the fake."""

from __future__ import annotations

import http.client
import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from fakes.kube_nodes import FakeKubeCluster  # noqa: E402

MERGE = "application/merge-patch+json"


def call(server, method, path, body=None, ctype="application/json"):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    headers = {"Accept": "application/json"}
    data = json.dumps(body) if body is not None else None
    if data is not None:
        headers["Content-Type"] = ctype
    conn.request(method, path, body=data, headers=headers)
    resp = conn.getresponse()
    payload = json.loads(resp.read() or b"null")
    conn.close()
    return resp.status, payload


def eviction(name, ns="web"):
    return {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": name, "namespace": ns}}


@pytest.fixture
def fake():
    with FakeKubeCluster() as f:
        f.add_node("s1", "v1.33.4+k3s1", server=True)
        f.add_node("a1", "v1.33.4+k3s1")
        f.add_pod("web", "web-0", "s1", labels={"app": "web"})
        f.add_pod("web", "web-1", "a1", labels={"app": "web"})
        f.add_pdb("web", "web", {"app": "web"}, min_available=2)
        yield f


def test_discovery_serves_nodes_pods_and_budgets(fake):
    _, core = call(fake, "GET", "/api/v1")
    names = {r["name"] for r in core["resources"]}
    assert {"nodes", "nodes/status", "pods", "pods/status"} <= names
    _, policy = call(fake, "GET", "/apis/policy/v1")
    pdb = next(r for r in policy["resources"] if r["name"] == "poddisruptionbudgets")
    assert pdb["kind"] == "PodDisruptionBudget" and pdb["namespaced"] and pdb["shortNames"] == ["pdb"]


def test_a_k3s_server_node_has_the_role_labels_ready_and_etcd_voter_conditions(fake):
    code, node = call(fake, "GET", "/api/v1/nodes/s1")
    assert code == 200 and node["metadata"]["labels"]["node-role.kubernetes.io/etcd"] == "true"
    conds = {c["type"]: c for c in node["status"]["conditions"]}
    assert conds["Ready"]["status"] == "True" and conds["Ready"]["reason"] == "KubeletReady"
    assert conds["EtcdIsVoter"]["reason"] == "MemberIsVoter"
    assert node["status"]["nodeInfo"]["kubeletVersion"] == "v1.33.4+k3s1"
    _, agent = call(fake, "GET", "/api/v1/nodes/a1")
    assert "EtcdIsVoter" not in {c["type"] for c in agent["status"]["conditions"]}


def test_cordon_is_a_merge_patch_of_spec_unschedulable(fake):
    code, node = call(fake, "PATCH", "/api/v1/nodes/a1", {"spec": {"unschedulable": True}}, MERGE)
    assert code == 200 and node["spec"]["unschedulable"] is True
    code, _ = call(fake, "PATCH", "/api/v1/nodes/a1", {"spec": {"unschedulable": True}})
    assert code == 415  # application/json is not a patch type


def test_pods_of_a_node_by_field_selector_only(fake):
    code, pods = call(fake, "GET", "/api/v1/pods?fieldSelector=spec.nodeName%3Da1")
    assert code == 200 and pods["kind"] == "PodList" and [p["metadata"]["name"] for p in pods["items"]] == ["web-1"]
    code, body = call(fake, "GET", "/api/v1/pods?labelSelector=app%3Dweb")
    assert code == 400 and "does not reproduce" in body["message"]


def test_eviction_refused_by_the_budget_is_429_with_the_disruption_budget_cause(fake):
    code, body = call(fake, "POST", "/api/v1/namespaces/web/pods/web-0/eviction", eviction("web-0"))
    assert code == 429
    assert body == {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                    "message": "Cannot evict pod as it would violate the pod's disruption budget.",
                    "reason": "TooManyRequests", "code": 429,
                    "details": {"causes": [{"reason": "DisruptionBudget",
                                            "message": "The disruption budget web needs 2 healthy pods and has 2 "
                                                       "currently"}]}}
    _, pdb = call(fake, "GET", "/apis/policy/v1/namespaces/web/poddisruptionbudgets/web")
    assert pdb["status"]["disruptionsAllowed"] == 0 and pdb["status"]["expectedPods"] == 2


def test_eviction_allowed_is_201_success_and_the_pod_is_replaced_elsewhere(fake):
    fake.add_pod("web", "web-2", "a1", labels={"app": "web"})
    code, body = call(fake, "POST", "/api/v1/namespaces/web/pods/web-0/eviction", eviction("web-0"))
    assert code == 201 and body["status"] == "Success"
    assert call(fake, "GET", "/api/v1/namespaces/web/pods/web-0")[0] == 404
    assert [p["spec"]["nodeName"] for p in fake.pods() if p["metadata"]["name"].startswith("web-0-r")] == ["a1"]
    assert call(fake, "POST", "/api/v1/namespaces/web/pods/web-0/eviction", eviction("web-0"))[0] == 404


def test_eviction_body_must_name_the_pod_and_two_budgets_are_a_500(fake):
    code, body = call(fake, "POST", "/api/v1/namespaces/web/pods/web-0/eviction", eviction("other"))
    assert code == 400 and body["reason"] == "BadRequest"
    fake.add_pdb("web", "web-too", {"app": "web"}, max_unavailable=1)
    code, body = call(fake, "POST", "/api/v1/namespaces/web/pods/web-1/eviction", eviction("web-1"))
    assert code == 500 and "more than one PodDisruptionBudget" in body["message"]


def test_failure_injection_shows_in_the_api(fake):
    fake.set_ready("a1", False)
    fake.set_etcd_voter("s1", False)
    fake.crashloop("web", "web-1")
    conds = {c["type"]: c for c in call(fake, "GET", "/api/v1/nodes/a1")[1]["status"]["conditions"]}
    assert conds["Ready"]["status"] == "False"
    s1 = {c["type"]: c for c in call(fake, "GET", "/api/v1/nodes/s1")[1]["status"]["conditions"]}
    assert s1["EtcdIsVoter"] == {**s1["EtcdIsVoter"], "status": "False", "reason": "NotAMember"}
    pod = call(fake, "GET", "/api/v1/namespaces/web/pods/web-1")[1]
    assert pod["status"]["containerStatuses"][0]["state"]["waiting"]["reason"] == "CrashLoopBackOff"
    fake.kubelet = {"a1": "v1.34.1+k3s1"}.get
    fake.not_ready_after_upgrade = {"a1"}
    info = call(fake, "GET", "/api/v1/nodes/a1")[1]["status"]["nodeInfo"]
    assert info["kubeletVersion"] == info["kubeProxyVersion"] == "v1.34.1+k3s1"
