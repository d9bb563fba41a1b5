"""The Kubernetes API fake checked against the documented shapes (engine-api-facts.md §1).

Expected bodies below are typed from the facts document (apimachinery code), not from the fake: a
mismatch here means the fake drifted from the real API.
"""

from __future__ import annotations

import http.client
import json
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from fakes import argocd_crds  # noqa: E402
from fakes.kube_apiserver import APPLY, FakeKubeApiServer, crd_manifest  # noqa: E402

CM_PATH = "/api/v1/namespaces/default/configmaps/test-cm"


def call(server, method, path, body=None, ctype=APPLY, token=None):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    headers = {"Accept": "application/json"}
    data = None
    if body is not None:
        data = body if isinstance(body, (bytes, str)) else json.dumps(body)
        headers["Content-Type"] = ctype
    if token:
        headers["Authorization"] = f"Bearer {token}"
    conn.request(method, path, body=data, headers=headers)
    resp = conn.getresponse()
    payload = json.loads(resp.read() or b"null")
    ctype_back = resp.getheader("Content-Type")
    conn.close()
    return resp.status, payload, ctype_back


def cm(data=None, labels=None, name="test-cm", ns="default"):
    meta = {"name": name, "namespace": ns}
    if labels:
        meta["labels"] = labels
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": data or {}}


@pytest.fixture
def server():
    with FakeKubeApiServer() as srv:
        assert call(srv, "PATCH", "/api/v1/namespaces/default?fieldManager=setup",
                    {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "default"}})[0] == 201
        yield srv


def test_discovery_shapes(server):
    code, version, _ = call(server, "GET", "/version")
    assert code == 200 and {"major", "minor", "gitVersion", "gitCommit", "gitTreeState", "buildDate", "goVersion",
                            "compiler", "platform"} == set(version)
    code, api, _ = call(server, "GET", "/api")
    assert api["kind"] == "APIVersions" and api["versions"] == ["v1"]
    code, apis, _ = call(server, "GET", "/apis")
    assert apis["kind"] == "APIGroupList" and apis["apiVersion"] == "v1"
    storage = next(g for g in apis["groups"] if g["name"] == "storage.k8s.io")
    assert storage == {"name": "storage.k8s.io", "versions": [{"groupVersion": "storage.k8s.io/v1", "version": "v1"}],
                       "preferredVersion": {"groupVersion": "storage.k8s.io/v1", "version": "v1"}}
    assert "argoproj.io" not in {g["name"] for g in apis["groups"]}
    code, core, _ = call(server, "GET", "/api/v1")
    assert core["kind"] == "APIResourceList" and core["groupVersion"] == "v1"
    by_name = {r["name"]: r for r in core["resources"]}
    assert by_name["configmaps"]["namespaced"] is True and by_name["configmaps"]["kind"] == "ConfigMap"
    assert by_name["namespaces"]["namespaced"] is False
    assert {"name", "singularName", "namespaced", "kind", "verbs"} <= set(by_name["secrets"])
    assert "patch" in by_name["serviceaccounts"]["verbs"]
    assert by_name["namespaces/status"]["verbs"] == ["get", "patch", "update"]
    code, sc, _ = call(server, "GET", "/apis/storage.k8s.io/v1")
    assert [r["name"] for r in sc["resources"]] == ["storageclasses"] and sc["resources"][0]["namespaced"] is False


def test_crd_kinds_appear_only_after_their_crd(tmp_path):
    with FakeKubeApiServer(establish_delay=0.4) as srv:
        before = call(srv, "GET", "/apis/argoproj.io/v1alpha1")
        assert before[0] == 404
        crd = crd_manifest("argoproj.io", "Application", "applications", short_names=("app",))
        code, body, _ = call(srv, "PATCH", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/"
                             "applications.argoproj.io?fieldManager=t", crd)
        assert code == 201
        assert call(srv, "GET", "/apis/argoproj.io/v1alpha1")[0] == 404  # not established yet
        time.sleep(0.5)
        code, res, _ = call(srv, "GET", "/apis/argoproj.io/v1alpha1")
        assert code == 200
        assert res["resources"][0] == {"name": "applications", "singularName": "application", "namespaced": True,
                                       "kind": "Application", "verbs": res["resources"][0]["verbs"],
                                       "shortNames": ["app"]}
        assert "argoproj.io" in {g["name"] for g in call(srv, "GET", "/apis")[1]["groups"]}
        got = call(srv, "GET", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/applications.argoproj.io")[1]
        assert got["status"]["conditions"][0]["type"] == "Established"


def test_ssa_create_then_update_and_noop(server):
    code, obj, ctype = call(server, "PATCH", CM_PATH + "?fieldManager=platform-engine&force=true",
                            cm({"key": "some value"}, {"test-label": "test"}))
    assert code == 201 and ctype == "application/json"
    meta = obj["metadata"]
    assert {"name", "namespace", "uid", "resourceVersion", "creationTimestamp", "managedFields"} <= set(meta)
    assert len(meta["creationTimestamp"]) == 20 and meta["creationTimestamp"].endswith("Z")
    [entry] = meta["managedFields"]
    assert set(entry) == {"manager", "operation", "apiVersion", "time", "fieldsType", "fieldsV1"}
    assert (entry["manager"], entry["operation"], entry["apiVersion"], entry["fieldsType"]) == (
        "platform-engine", "Apply", "v1", "FieldsV1")
    assert entry["fieldsV1"] == {"f:data": {"f:key": {}}, "f:metadata": {"f:labels": {"f:test-label": {}}}}
    # same apply again: 200, nothing written
    code, again, _ = call(server, "PATCH", CM_PATH + "?fieldManager=platform-engine", cm({"key": "some value"},
                                                                                          {"test-label": "test"}))
    assert code == 200 and again["metadata"]["resourceVersion"] == meta["resourceVersion"]
    assert again["metadata"]["managedFields"] == meta["managedFields"]
    # a changed value: 200 and a new resourceVersion
    code, changed, _ = call(server, "PATCH", CM_PATH + "?fieldManager=platform-engine", cm({"key": "other"}))
    assert code == 200 and changed["metadata"]["resourceVersion"] != meta["resourceVersion"]
    # the label the manager no longer applies is removed; the data changed
    assert changed["data"] == {"key": "other"} and "labels" not in changed["metadata"]
    # YAML bodies are accepted too
    yaml_body = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: test-cm\n  namespace: default\ndata:\n  key: y\n"
    code, fromyaml, _ = call(server, "PATCH", CM_PATH + "?fieldManager=platform-engine", yaml_body)
    assert code == 200 and fromyaml["data"] == {"key": "y"}


def test_conflict_body_and_force(server):
    assert call(server, "PATCH", CM_PATH + "?fieldManager=kube-a", cm({"key": "a", "other": "x"}))[0] == 201
    code, body, ctype = call(server, "PATCH", CM_PATH + "?fieldManager=kube-b", cm({"key": "b"}))
    assert (code, ctype) == (409, "application/json")
    assert body == {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": 'Apply failed with 1 conflict: conflict with "kube-a": .data.key',
        "reason": "Conflict",
        "details": {"causes": [{"reason": "FieldManagerConflict", "message": 'conflict with "kube-a"',
                                "field": ".data.key"}]},
        "code": 409,
    }
    code, body, _ = call(server, "PATCH", CM_PATH + "?fieldManager=kube-b", cm({"key": "b", "other": "y"}))
    assert code == 409
    assert body["message"] == 'Apply failed with 2 conflicts: conflicts with "kube-a":\n- .data.key\n- .data.other'
    # the same value is shared, not a conflict
    code, shared, _ = call(server, "PATCH", CM_PATH + "?fieldManager=kube-b", cm({"key": "a"}))
    assert code == 200
    owners = {e["manager"]: e["fieldsV1"] for e in shared["metadata"]["managedFields"]}
    assert owners["kube-b"] == {"f:data": {"f:key": {}}} and "f:key" in owners["kube-a"]["f:data"]
    # force takes the field over from the other manager
    code, forced, _ = call(server, "PATCH", CM_PATH + "?fieldManager=kube-b&force=true", cm({"key": "b"}))
    assert code == 200 and forced["data"] == {"key": "b", "other": "x"}
    owners = {e["manager"]: e["fieldsV1"] for e in forced["metadata"]["managedFields"]}
    assert owners == {"kube-a": {"f:data": {"f:other": {}}}, "kube-b": {"f:data": {"f:key": {}}}}


def test_update_manager_is_named_with_its_api_version(server):
    call(server, "PATCH", CM_PATH + "?fieldManager=homelab", cm({"key": "a"}))
    code, _, _ = call(server, "PATCH", CM_PATH + "?fieldManager=kubectl-edit", {"data": {"key": "edited"}},
                      ctype="application/merge-patch+json")
    assert code == 200
    code, body, _ = call(server, "PATCH", CM_PATH + "?fieldManager=homelab", cm({"key": "a"}))
    assert code == 409
    assert body["message"] == 'Apply failed with 1 conflict: conflict with "kubectl-edit" using v1: .data.key'
    # force on a non-apply patch is invalid
    code, body, _ = call(server, "PATCH", CM_PATH + "?fieldManager=x&force=true", {"data": {}},
                         ctype="application/merge-patch+json")
    assert code == 422 and body["details"]["causes"][0]["field"] == "force"
    assert body["message"].endswith("force: Forbidden: may not be specified for non-apply patch")


def test_missing_field_manager_is_422_exactly(server):
    code, body, ctype = call(server, "PATCH", CM_PATH, cm({"key": "v"}))
    assert (code, ctype) == (422, "application/json")
    assert body == {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": 'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch',
        "reason": "Invalid",
        "details": {"group": "meta.k8s.io", "kind": "PatchOptions",
                    "causes": [{"reason": "FieldValueRequired", "message": "Required value: is required for apply "
                                "patch", "field": "fieldManager"}]},
        "code": 422,
    }


def test_wrong_content_type_is_415(server):
    for ctype in ("application/json", "application/strategic-merge-patch+json"):
        code, body, _ = call(server, "PATCH", CM_PATH + "?fieldManager=m", cm({"k": "v"}), ctype=ctype)
        assert code == 415 and body["reason"] == "UnsupportedMediaType"
        assert body["message"].startswith("the body of the request was in an unknown format - accepted media types "
                                          "include: ")
        assert APPLY in body["message"]
    # a charset suffix is ignored
    assert call(server, "PATCH", CM_PATH + "?fieldManager=m", cm({"k": "v"}), ctype=APPLY + "; charset=utf-8")[0] == 201


def test_404_shapes(server):
    code, body, _ = call(server, "GET", "/apis/argoproj.io/v1alpha1/namespaces/argocd/applications/x")
    assert (code, body) == (404, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                                  "message": "the server could not find the requested resource",
                                  "reason": "NotFound", "details": {}, "code": 404})
    code, body, _ = call(server, "GET", "/api/v1/namespaces/default/configmaps/x")
    assert (code, body) == (404, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                                  "message": 'configmaps "x" not found', "reason": "NotFound",
                                  "details": {"name": "x", "kind": "configmaps"}, "code": 404})
    code, body, _ = call(server, "GET", "/apis/apps/v1/namespaces/default/deployments/web")
    assert body["message"] == 'deployments.apps "web" not found' and body["details"]["group"] == "apps"
    code, body, _ = call(server, "PATCH", "/api/v1/namespaces/nope/configmaps/c?fieldManager=m", cm(ns="nope",
                                                                                                     name="c"))
    assert (code, body["message"], body["details"]) == (404, 'namespaces "nope" not found',
                                                        {"name": "nope", "kind": "namespaces"})
    assert call(server, "GET", "/api/v1/widgets")[0] == 404


def test_body_must_name_the_url_object(server):
    code, body, _ = call(server, "PATCH", CM_PATH + "?fieldManager=m", cm(name="other"))
    assert code == 400 and body["reason"] == "BadRequest"
    assert body["message"] == "the name of the object (other) does not match the name on the URL (test-cm)"


def test_list_get_delete(server):
    for name in ("b", "a"):
        call(server, "PATCH", f"/api/v1/namespaces/default/configmaps/{name}?fieldManager=m", cm(name=name))
    code, lst, _ = call(server, "GET", "/api/v1/namespaces/default/configmaps")
    assert code == 200 and lst["kind"] == "ConfigMapList" and lst["apiVersion"] == "v1"
    assert "resourceVersion" in lst["metadata"] and [i["metadata"]["name"] for i in lst["items"]] == ["a", "b"]
    code, got, _ = call(server, "GET", "/api/v1/namespaces/default/configmaps/a")
    assert code == 200 and got["kind"] == "ConfigMap" and got["apiVersion"] == "v1"
    code, gone, _ = call(server, "DELETE", "/api/v1/namespaces/default/configmaps/a")
    assert code == 200
    assert gone == {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                    "details": {"name": "a", "kind": "configmaps", "uid": got["metadata"]["uid"]}}
    assert call(server, "GET", "/api/v1/namespaces/default/configmaps/a")[0] == 404
    assert call(server, "DELETE", "/api/v1/namespaces/default/configmaps/a")[0] == 404


def test_bearer_token_auth_and_forbidden():
    with FakeKubeApiServer(tokens={"good-token-123": "admin", "ro-token-456": "viewer"},
                           read_only_users={"viewer"}) as srv:
        code, body, ctype = call(srv, "GET", "/api/v1")
        assert (code, ctype) == (401, "application/json")
        assert body == {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                        "message": "Unauthorized", "reason": "Unauthorized", "code": 401}
        assert call(srv, "GET", "/api/v1", token="wrong")[0] == 401
        assert call(srv, "GET", "/api/v1", token="good-token-123")[0] == 200
        ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "media"}}
        code, body, _ = call(srv, "PATCH", "/api/v1/namespaces/media?fieldManager=m", ns, token="ro-token-456")
        assert code == 403 and body["reason"] == "Forbidden"
        assert body["message"] == ('namespaces "media" is forbidden: User "viewer" cannot patch resource '
                                   '"namespaces" in API group "" at the cluster scope')
        assert call(srv, "PATCH", "/api/v1/namespaces/media?fieldManager=m", ns, token="good-token-123")[0] == 201


def test_namespace_defaults_and_cascade(server):
    code, ns, _ = call(server, "PATCH", "/api/v1/namespaces/media?fieldManager=m",
                       {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "media"}})
    assert code == 201 and ns["metadata"]["labels"] == {"kubernetes.io/metadata.name": "media"}
    assert ns["status"] == {"phase": "Active"}
    call(server, "PATCH", "/api/v1/namespaces/media/configmaps/c?fieldManager=m", cm(name="c", ns="media"))
    assert call(server, "DELETE", "/api/v1/namespaces/media")[0] == 200
    assert call(server, "GET", "/api/v1/namespaces/media/configmaps/c")[0] == 404


# ------------------------------------------------------------------ finalizers and deletion
HOLD = "example.com/hold"


def test_delete_of_an_object_with_finalizers_waits_for_them(server):
    body = cm({"k": "v"})
    body["metadata"]["finalizers"] = [HOLD]
    assert call(server, "PATCH", CM_PATH + "?fieldManager=m", body)[0] == 201
    code, got, _ = call(server, "DELETE", CM_PATH)
    # store.go: a delete that waits on finalizers answers 200 with the object, deletionTimestamp set
    assert code == 200 and got["kind"] == "ConfigMap" and got["metadata"]["finalizers"] == [HOLD]
    stamp = got["metadata"]["deletionTimestamp"]
    assert len(stamp) == 20 and stamp.endswith("Z") and got["metadata"]["deletionGracePeriodSeconds"] == 0
    code, again, _ = call(server, "GET", CM_PATH)
    assert code == 200 and again["metadata"]["deletionTimestamp"] == stamp  # still there, readable
    assert call(server, "DELETE", CM_PATH)[1]["metadata"]["deletionTimestamp"] == stamp  # a second DELETE: same
    # an apply neither brings it back nor may add a finalizer (apimachinery ValidateNoNewFinalizers)
    code, reapplied, _ = call(server, "PATCH", CM_PATH + "?fieldManager=m", body)
    assert code == 200 and reapplied["metadata"]["deletionTimestamp"] == stamp
    more = cm({"k": "v"})
    more["metadata"]["finalizers"] = [HOLD, "example.com/other"]
    code, err, _ = call(server, "PATCH", CM_PATH + "?fieldManager=m", more)
    assert (code, err) == (422, {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": 'ConfigMap "test-cm" is invalid: metadata.finalizers: Forbidden: no new finalizers can be added if '
                   'the object is being deleted, found new finalizers []string{"example.com/other"}',
        "reason": "Invalid",
        "details": {"name": "test-cm", "kind": "ConfigMap", "causes": [
            {"reason": "FieldValueForbidden", "field": "metadata.finalizers",
             "message": 'Forbidden: no new finalizers can be added if the object is being deleted, found new '
                        'finalizers []string{"example.com/other"}'}]},
        "code": 422})
    # the finalizer's owner removes it: the object is gone
    code, _, _ = call(server, "PATCH", CM_PATH + "?fieldManager=owner", {"metadata": {"finalizers": None}},
                      ctype="application/merge-patch+json")
    assert code == 200
    assert call(server, "GET", CM_PATH)[0] == 404


def test_a_terminating_namespace_takes_no_new_objects(server):
    call(server, "PATCH", "/api/v1/namespaces/media?fieldManager=m",
         {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "media"}})
    held = cm(name="held", ns="media")
    held["metadata"]["finalizers"] = [HOLD]
    call(server, "PATCH", "/api/v1/namespaces/media/configmaps/held?fieldManager=m", held)
    call(server, "PATCH", "/api/v1/namespaces/media/configmaps/plain?fieldManager=m", cm(name="plain", ns="media"))
    code, ns, _ = call(server, "DELETE", "/api/v1/namespaces/media")
    assert code == 200 and ns["status"] == {"phase": "Terminating"} and ns["metadata"]["deletionTimestamp"]
    assert call(server, "GET", "/api/v1/namespaces/media/configmaps/plain")[0] == 404
    assert call(server, "GET", "/api/v1/namespaces/media/configmaps/held")[1]["metadata"]["deletionTimestamp"]
    code, body, _ = call(server, "PATCH", "/api/v1/namespaces/media/configmaps/new?fieldManager=m",
                         cm(name="new", ns="media"))
    assert (code, body) == (403, {  # NamespaceLifecycle admission
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": 'configmaps "new" is forbidden: unable to create new content in namespace media because it is '
                   "being terminated",
        "reason": "Forbidden",
        "details": {"name": "new", "kind": "configmaps", "causes": [
            {"reason": "NamespaceTerminating", "message": "namespace media is being terminated",
             "field": "metadata.namespace"}]},
        "code": 403})
    server.remove_finalizer("v1", "ConfigMap", "held", "media", HOLD)
    assert call(server, "GET", "/api/v1/namespaces/media/configmaps/held")[0] == 404
    assert call(server, "GET", "/api/v1/namespaces/media")[0] == 404  # nothing left in it: gone


# ------------------------------------------------------------------ the real Argo CD CRDs
APP_PATH = "/apis/argoproj.io/v1alpha1/namespaces/argocd/applications/demo"


def _argocd(server):
    for kind in ("Application", "AppProject"):
        crd = argocd_crds.crd(kind)
        assert call(server, "PATCH", f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/"
                    f"{crd['metadata']['name']}?fieldManager=helm", crd)[0] == 201
    call(server, "PATCH", "/api/v1/namespaces/argocd?fieldManager=m",
         {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "argocd"}})


def _app(**spec_extra) -> dict:
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
            "metadata": {"name": "demo", "namespace": "argocd",
                         "finalizers": ["resources-finalizer.argocd.argoproj.io"]},
            "spec": {"project": "homelab", "destination": {"server": "https://kubernetes.default.svc",
                                                           "namespace": "demo"},
                     "sources": [{"repoURL": "https://charts.example", "chart": "demo", "targetRevision": "1.0.0"},
                                 {"repoURL": "https://git.example/values.git", "targetRevision": "main",
                                  "ref": "values"}], **spec_extra}}


def test_the_application_crd_is_the_charts_and_has_no_status_subresource(server):
    crd = argocd_crds.application_crd()
    assert crd["spec"]["versions"][0]["subresources"] == {}  # argo-cd 10.1.1 templates/crds/crd-application.yaml
    _argocd(server)
    resources = {r["name"] for r in call(server, "GET", "/apis/argoproj.io/v1alpha1")[1]["resources"]}
    assert resources == {"applications", "appprojects"}  # no applications/status
    # .status is an ordinary field: an apply that sends it owns and writes it ...
    with_status = _app()
    with_status["status"] = {"sync": {"status": "Synced"}}
    code, obj, _ = call(server, "PATCH", APP_PATH + "?fieldManager=someone", with_status)
    assert code == 201 and obj["status"] == {"sync": {"status": "Synced"}}
    assert "f:status" in obj["metadata"]["managedFields"][0]["fieldsV1"]
    # ... the controller's write is an Update of the object itself (no subresource) and takes it over ...
    server.set_status("argoproj.io/v1alpha1", "Application", "demo", "argocd",
                      {"sync": {"status": "OutOfSync", "revisions": ["1.0.0", "abc"]}})
    entry = next(e for e in server.get_object("argoproj.io/v1alpha1", "Application", "demo", "argocd")[
        "metadata"]["managedFields"] if e["manager"] == "argocd-application-controller")
    assert entry["operation"] == "Update" and "subresource" not in entry
    # ... and an apply without status leaves it alone
    code, obj, _ = call(server, "PATCH", APP_PATH + "?fieldManager=homelab&force=true", _app())
    assert code == 200 and obj["status"]["sync"]["status"] == "OutOfSync"


def test_custom_resources_are_checked_against_their_crd(server):
    _argocd(server)
    code, body, ctype = call(server, "PATCH", APP_PATH + "?fieldManager=m", _app(syncPolicy={"selfheal": True}))
    assert (code, ctype) == (500, "application/json")
    assert body == {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                    "message": "failed to create typed patch object (argocd/demo; argoproj.io/v1alpha1, "
                               "Kind=Application): .spec.syncPolicy.selfheal: field not declared in schema",
                    "code": 500}
    missing = _app()
    del missing["spec"]["project"]
    code, body, _ = call(server, "PATCH", APP_PATH + "?fieldManager=m", missing)
    assert (code, body["reason"]) == (422, "Invalid")
    assert body["message"] == 'Application.argoproj.io "demo" is invalid: spec.project: Required value'
    assert body["details"] == {"name": "demo", "group": "argoproj.io", "kind": "Application", "causes": [
        {"reason": "FieldValueRequired", "message": "Required value", "field": "spec.project"}]}
    assert call(server, "GET", APP_PATH)[0] == 404  # nothing stored by a refused apply


# ------------------------------------------------------------------ built-in objects are validated on apply
def test_builtin_objects_are_typed_on_apply(server):
    """structured-merge-diff types the applied object; failing that is a 500 (kubernetes#122480, #139253),
    whatever fieldValidation says."""
    for query in ("", "&fieldValidation=Strict"):
        code, body, _ = call(server, "PATCH", CM_PATH + "?fieldManager=m" + query, cm({"port": 8080}))
        assert (code, body) == (500, {
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": "failed to create typed patch object (default/test-cm; /v1, Kind=ConfigMap): .data.port: "
                       "expected string, got &value.valueUnstructured{Value:8080}",
            "code": 500}), query
    unknown = cm({"k": "v"})
    unknown["spec"] = {"x": 1}
    unknown["metadata"]["lables"] = {"a": "b"}
    code, body, _ = call(server, "PATCH", CM_PATH + "?fieldManager=m&fieldValidation=Strict", unknown)
    assert code == 500
    assert body["message"] == ("failed to create typed patch object (default/test-cm; /v1, Kind=ConfigMap): errors:\n"
                               "  .metadata.lables: field not declared in schema\n"
                               "  .spec: field not declared in schema")
    assert call(server, "GET", CM_PATH)[0] == 404
    deploy = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "default"},
              "spec": {"template": {"spec": {"containers": [{"name": "web", "image": "nginx"}]}}}}
    code, body, _ = call(server, "PATCH", "/apis/apps/v1/namespaces/default/deployments/web?fieldManager=m", deploy)
    assert (code, body["message"]) == (422, 'Deployment.apps "web" is invalid: spec.selector: Required value')
    assert body["details"]["group"] == "apps" and body["details"]["kind"] == "Deployment"


# ------------------------------------------------------------------ request options
def test_dry_run_checks_everything_and_stores_nothing(server):
    code, obj, _ = call(server, "PATCH", CM_PATH + "?fieldManager=m&dryRun=All", cm({"k": "v"}))
    assert code == 201 and obj["data"] == {"k": "v"}
    assert call(server, "GET", CM_PATH)[0] == 404
    assert call(server, "PATCH", CM_PATH + "?fieldManager=m&dryRun=All", cm({"k": 1}))[0] == 500
    code, body, _ = call(server, "PATCH", CM_PATH + "?fieldManager=m&dryRun=Yes", cm({"k": "v"}))
    assert (code, body["message"]) == (422, 'PatchOptions.meta.k8s.io "" is invalid: dryRun: Unsupported value: '
                                            '[]string{"Yes"}: supported values: "All"')
    assert body["details"]["causes"] == [{"reason": "FieldValueNotSupported", "field": "dryRun",
                                          "message": 'Unsupported value: []string{"Yes"}: supported values: "All"'}]
    call(server, "PATCH", CM_PATH + "?fieldManager=m", cm({"k": "v"}))
    assert call(server, "DELETE", CM_PATH + "?dryRun=All")[0] == 200
    assert call(server, "GET", CM_PATH)[0] == 200  # still there


def test_options_the_fake_does_not_reproduce_are_refused(server):
    for method, path in (("GET", "/api/v1/namespaces/default/configmaps?watch=true"),
                         ("GET", "/api/v1/namespaces/default/configmaps?limit=1"),
                         ("GET", "/api/v1/namespaces/default/configmaps?labelSelector=a%3Db"),
                         ("GET", CM_PATH + "?resourceVersion=0"),
                         ("DELETE", CM_PATH + "?propagationPolicy=Foreground"),
                         ("DELETE", CM_PATH + "?gracePeriodSeconds=0")):
        code, body, ctype = call(server, method, path)
        assert (code, ctype, body["reason"], body["kind"]) == (400, "application/json", "BadRequest", "Status"), path
        assert "does not reproduce" in body["message"], path
    code, body, _ = call(server, "PATCH", CM_PATH + "?fieldManager=m&fieldValidation=Bogus", cm())
    assert (code, body["reason"], body["details"]["causes"][0]["field"]) == (422, "Invalid", "fieldValidation")


def test_a_user_denied_a_verb_gets_403_on_it():
    with FakeKubeApiServer(tokens={"t-admin": "admin", "t-viewer": "viewer"},
                           denied={"viewer": {("get", "configmaps")}}) as srv:
        call(srv, "PATCH", "/api/v1/namespaces/default?fieldManager=m",
             {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "default"}}, token="t-admin")
        call(srv, "PATCH", CM_PATH + "?fieldManager=m", cm(), token="t-admin")
        code, body, _ = call(srv, "GET", CM_PATH, token="t-viewer")
        assert (code, body) == (403, {
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": 'configmaps "test-cm" is forbidden: User "viewer" cannot get resource "configmaps" in API '
                       'group "" in the namespace "default"',
            "reason": "Forbidden", "details": {"name": "test-cm", "kind": "configmaps"}, "code": 403})
        assert call(srv, "GET", "/api/v1/namespaces/default", token="t-viewer")[0] == 200  # only what is denied
