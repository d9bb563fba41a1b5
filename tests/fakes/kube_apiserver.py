"""A contract fake of the Kubernetes API server: discovery + server-side apply, in process.

An HTTP (optionally HTTPS) server on 127.0.0.1 and a free port, run in a thread. Source of every shape:
`shared/reference/engine-api-facts.md` §1 (apimachinery / apiserver code and the API docs); the Status
bodies and the request options it serves are in `kube_errors.py`, the field sets of server-side apply in
`kube_fields.py`, the schema checks in `kube_schema.py`, the real Argo CD CRDs in `argocd_crds.py`.

What of the real API it reproduces
- Discovery: `GET /version`, `/api` (APIVersions), `/api/v1`, `/apis` (APIGroupList with
  preferredVersion), `/apis/{group}/{version}` (APIResourceList: name, singularName, namespaced, kind,
  verbs, shortNames; `<plural>/status` entries for types with a status subresource).
  Built-in kinds: Namespace, ConfigMap, Secret, ServiceAccount, Service (v1), Deployment, StatefulSet (apps/v1),
  Job (batch/v1), Ingress, NetworkPolicy (networking.k8s.io/v1),
  StorageClass (storage.k8s.io/v1), ClusterRole/ClusterRoleBinding/Role/RoleBinding
  (rbac.authorization.k8s.io/v1), CustomResourceDefinition (apiextensions.k8s.io/v1).
- CRDs: a kind defined by a CustomResourceDefinition is served and appears in discovery ONLY after its
  CRD object was applied, and only `establish_delay` seconds later; until then its URLs get the generic
  404. Its scope, names, schema and subresources are the CRD's own: the real Argo CD Application CRD has
  `subresources: {}`, so an Application's `.status` is an ordinary field — a manager that applies
  `status` owns and overwrites it. The CRD object's `status.conditions` says `Established=True` at once.
- Server-side apply (§1.2/1.3): `PATCH` with `Content-Type: application/apply-patch+yaml` (a `; charset=`
  suffix is ignored; JSON or YAML body); `fieldManager` required (422, exact PatchOptions body); `force=true`
  only for apply (422 otherwise); `dryRun=All` (everything is checked, nothing stored); 201 when the apply
  created the object, 200 otherwise; body must name the object of the URL (400); the response is the whole
  object with uid, resourceVersion, creationTimestamp, generation (custom resources and Deployments) and
  `managedFields`. Field ownership per manager: a field applied with a different value than the one another
  manager owns is a 409 conflict (§1.4); the same value is shared; `force=true` takes the fields over; a
  field the manager applied before and omits now is removed unless another manager owns it. An apply that
  changes nothing keeps resourceVersion and managedFields as they were.
- What the server checks in an applied object (kube_schema.py): a field its schema does not declare or a
  value of the wrong type (an integer in `ConfigMap.data`) -> the real 500 "failed to create typed patch
  object" body; a missing required field -> 422 Invalid. Built-in kinds against the Kubernetes 1.31
  schemas of kubernetes-validate, custom resources against their CRD's openAPIV3Schema.
- Deletion and finalizers: DELETE of an object with `metadata.finalizers` sets `deletionTimestamp` (and
  `deletionGracePeriodSeconds: 0`) and answers 200 with the object; it stays, readable, until its
  finalizers are removed (by a merge patch or an apply of the finalizer's owner, or `remove_finalizer()`
  for a controller), then it is gone. An apply to a terminating object may not add finalizers (422
  "no new finalizers can be added if the object is being deleted") and never brings it back. Without
  finalizers: 200 with a `status: Success` Status (details.kind = the plural). Deleting a namespace makes it
  Terminating and deletes what is in it (honouring their finalizers); creating in a terminating namespace
  is 403 (NamespaceLifecycle). Deleting a CRD deletes its objects and, when they are gone, its kind.
- Non-apply `PATCH` with `application/merge-patch+json` (RFC 7386): an `Update` manager that takes
  ownership of what it set (404 on a missing object). Any other content type: 415 UnsupportedMediaType.
- GET object, LIST (`<Kind>List` with metadata.resourceVersion and items), 404 shapes (§1.4), 401 with
  bearer tokens, 403 Forbidden for `read_only_users` (everything but get/list) and per user/verb/resource
  in `denied` (e.g. no `get` of applications.argoproj.io), 405 for other methods.
- Request options it does not reproduce (watch, pagination, selectors, ...) are refused with a 400
  Status that says so (kube_errors.check_options) — never silently ignored.

What it does NOT reproduce
- Defaulting (beyond uid/resourceVersion/timestamps/generation and a Namespace's
  `kubernetes.io/metadata.name` label, `spec.finalizers` and `status.phase`), admission beyond
  NamespaceLifecycle, RBAC beyond the two rules above, watches, pagination, protobuf/CBOR,
  strategic-merge and JSON patches, POST/PUT, subresource endpoints (tests set status through
  `set_status()`, as the owning controller would), garbage collection by ownerReferences, several
  versions of one kind, validation beyond kube_schema.py's. Lists are atomic for field ownership.
- Times are real UTC seconds; resourceVersions are a global counter.
"""

from __future__ import annotations

import json
import ssl
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from fakes import kube_schema
from fakes.kube_errors import ApiError, bad_request, check_options, invalid, not_found_generic, status_body
from fakes.kube_fields import (
    applied_fields,
    clone,
    conflict_body,
    delete_path,
    fields_v1,
    get_path,
    leaves,
    manager_id,
    merge_patch,
    now,
    paths_of,
    set_path,
)

APPLY = "application/apply-patch+yaml"
MERGE = "application/merge-patch+json"
ACCEPTED_PATCH_TYPES = [MERGE, APPLY]
VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
__all__ = ["APPLY", "MERGE", "FakeKubeApiServer", "ResourceType", "crd_manifest", "conflict_body", "status_body"]


@dataclass
class ResourceType:
    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    crd: bool = False
    status_subresource: bool = False
    ready_at: float = 0.0  # CRD kinds: served from this monotonic time on
    schema: dict | None = None  # CRD kinds: the openAPIV3Schema (built-in kinds: kube_schema.builtin_schema)

    @property
    def group_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def qualified(self) -> str:  # "configmaps", "applications.argoproj.io"
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def tracks_generation(self) -> bool:
        return self.crd or self.kind in ("Deployment", "CustomResourceDefinition")

    def object_schema(self) -> dict | None:
        return self.schema if self.crd else kube_schema.builtin_schema(self.group, self.version, self.kind)


BUILTIN = [
    ResourceType("", "v1", "Namespace", "namespaces", False, ("ns",), status_subresource=True),
    ResourceType("", "v1", "ConfigMap", "configmaps", True, ("cm",)),
    ResourceType("", "v1", "Secret", "secrets", True),
    ResourceType("", "v1", "ServiceAccount", "serviceaccounts", True, ("sa",)),
    ResourceType("", "v1", "Service", "services", True, ("svc",), status_subresource=True),
    ResourceType("apps", "v1", "Deployment", "deployments", True, ("deploy",), status_subresource=True),
    ResourceType("apps", "v1", "StatefulSet", "statefulsets", True, ("sts",), status_subresource=True),
    ResourceType("batch", "v1", "Job", "jobs", True, (), status_subresource=True),
    ResourceType("networking.k8s.io", "v1", "Ingress", "ingresses", True, ("ing",), status_subresource=True),
    ResourceType("networking.k8s.io", "v1", "NetworkPolicy", "networkpolicies", True, ("netpol",)),
    ResourceType("storage.k8s.io", "v1", "StorageClass", "storageclasses", False, ("sc",)),
    ResourceType("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", False),
    ResourceType("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", "clusterrolebindings", False),
    ResourceType("rbac.authorization.k8s.io", "v1", "Role", "roles", True),
    ResourceType("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings", True),
    ResourceType("apiextensions.k8s.io", "v1", "CustomResourceDefinition", "customresourcedefinitions", False,
                 ("crd", "crds"), status_subresource=True),
]


def crd_manifest(group: str, kind: str, plural: str, *, version: str = "v1alpha1", namespaced: bool = True,
                 short_names: tuple[str, ...] = ()) -> dict:
    """A minimal CustomResourceDefinition (any field allowed, a status subresource) for kinds other than
    Argo CD's — those come from the chart (fakes.argocd_crds)."""
    names = {"kind": kind, "listKind": f"{kind}List", "plural": plural, "singular": kind.lower()}
    if short_names:
        names["shortNames"] = list(short_names)
    return {
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{group}"},
        "spec": {"group": group, "names": names, "scope": "Namespaced" if namespaced else "Cluster",
                 "versions": [{"name": version, "served": True, "storage": True,
                               "schema": {"openAPIV3Schema": {"type": "object",
                                                              "x-kubernetes-preserve-unknown-fields": True}},
                               "subresources": {"status": {}}}]},
    }


def _not_found(rt: ResourceType, name: str) -> ApiError:
    details = {"name": name, "kind": rt.plural}
    if rt.group:
        details = {"name": name, "group": rt.group, "kind": rt.plural}
    return ApiError(status_body(404, "NotFound", f'{rt.qualified} "{name}" not found', details))


def _terminating(obj: dict | None) -> bool:
    return bool(obj and (obj.get("metadata") or {}).get("deletionTimestamp"))


@dataclass
class _Request:
    method: str
    path: str
    query: dict
    content_type: str
    user: str | None
    body: dict | None = None  # a PATCH's decoded body


@dataclass
class FakeKubeApiServer:
    tokens: dict[str, str] | None = None  # bearer token -> user name; None = no authentication
    read_only_users: set[str] = field(default_factory=set)
    denied: dict[str, set[tuple[str, str]]] = field(default_factory=dict)  # user -> {(verb, "plural[.group]")}
    establish_delay: float = 0.0
    git_version: str = "v1.31.0"
    ssl_context: ssl.SSLContext | None = None
    requests: list[_Request] = field(default_factory=list)

    def __post_init__(self):
        self._lock = threading.RLock()
        self._types: dict[tuple[str, str], ResourceType] = {(t.group, t.plural): t for t in BUILTIN}
        self._objects: dict[tuple[str, str, str, str], dict] = {}  # (group, plural, ns, name) -> object
        self._rv = 100
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------ lifecycle
    def start(self) -> FakeKubeApiServer:
        fake = self

        class Handler(_Handler):
            server_fake = fake

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        if self.ssl_context is not None:
            self._server.socket = self.ssl_context.wrap_socket(self._server.socket, server_side=True)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        scheme = "https" if self.ssl_context is not None else "http"
        return f"{scheme}://127.0.0.1:{self.port}"

    # ------------------------------------------------------------ helpers for tests
    def served(self, rt: ResourceType) -> bool:
        return not rt.crd or time.monotonic() >= rt.ready_at

    def get_object(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> dict | None:
        with self._lock:
            rt = self._type_for_kind(api_version, kind)
            if rt is None:
                return None
            obj = self._objects.get((rt.group, rt.plural, namespace or "", name))
            return clone(obj) if obj else None

    def set_status(self, api_version: str, kind: str, name: str, namespace: str | None, status: dict,
                   manager: str = "argocd-application-controller") -> None:
        """What the owning controller writes: through the /status subresource when the type has one, else an
        Update of the object itself (the Argo CD Application CRD has no status subresource)."""
        with self._lock:
            rt = self._type_for_kind(api_version, kind)
            obj = self._objects[(rt.group, rt.plural, namespace or "", name)]
            obj["status"] = clone(status)
            sub = "status" if rt.status_subresource else None
            entries = [e for e in obj["metadata"]["managedFields"]
                       if not (e["manager"] == manager and e.get("subresource") == sub and e["operation"] == "Update")]
            owned = set(leaves({"status": status}))
            if sub is None:  # the same fields leave whoever else owned them
                for e in entries:
                    e["fieldsV1"] = fields_v1(paths_of(e["fieldsV1"]) - owned)
                entries = [e for e in entries if e["fieldsV1"]]
            entry = {"manager": manager, "operation": "Update", "apiVersion": rt.group_version, "time": now(),
                     "fieldsType": "FieldsV1", "fieldsV1": fields_v1(owned)}
            if sub:
                entry["subresource"] = sub
            obj["metadata"]["managedFields"] = [*entries, entry]
            obj["metadata"]["resourceVersion"] = self._next_rv()

    def remove_finalizer(self, api_version: str, kind: str, name: str, namespace: str | None, finalizer: str) -> None:
        """What the finalizer's controller does when its clean-up is done (an object being deleted goes once
        its last finalizer is gone)."""
        with self._lock:
            rt = self._type_for_kind(api_version, kind)
            key = (rt.group, rt.plural, namespace or "", name)
            obj = self._objects[key]
            obj["metadata"]["finalizers"] = [f for f in obj["metadata"].get("finalizers") or [] if f != finalizer]
            if not obj["metadata"]["finalizers"]:
                del obj["metadata"]["finalizers"]
            obj["metadata"]["resourceVersion"] = self._next_rv()
            self._finish_if_done(rt, key)

    def _type_for_kind(self, api_version: str, kind: str) -> ResourceType | None:
        group, _, version = api_version.rpartition("/")
        for rt in self._types.values():
            if rt.group == group and rt.kind == kind and rt.version == version:
                return rt
        return None

    def _next_rv(self) -> str:
        self._rv += 1
        return str(self._rv)

    # ------------------------------------------------------------ routing
    def handle(self, method: str, raw_path: str, headers, body: bytes) -> tuple[int, dict]:
        parts = urlsplit(raw_path)
        queries = parse_qs(parts.query, keep_blank_values=True)
        query = {k: v[-1] for k, v in queries.items()}
        content_type = (headers.get("Content-Type") or "").split(";")[0].strip().lower()
        user = None
        if self.tokens is not None:
            auth = headers.get("Authorization") or ""
            token = auth[7:] if auth.startswith("Bearer ") else None
            user = self.tokens.get(token) if token else None
            if user is None:
                self.requests.append(_Request(method, parts.path, query, content_type, None))
                return 401, status_body(401, "Unauthorized", "Unauthorized")
        request = _Request(method, parts.path, query, content_type, user)
        if method == "PATCH" and body:
            try:
                request.body = _decode(body)
            except ValueError:
                pass
        self.requests.append(request)
        try:
            with self._lock:
                return self._route(method, parts.path, queries, content_type, body, user)
        except ApiError as exc:
            return exc.code, exc.body

    def _route(self, method, path, queries, content_type, body, user):
        segs = [s for s in path.split("/") if s]
        if method == "GET" and segs == ["version"]:
            return 200, {"major": "1", "minor": self.git_version.split(".")[1], "gitVersion": self.git_version,
                         "gitCommit": "0" * 40, "gitTreeState": "clean", "buildDate": "2024-08-13T07:28:49Z",
                         "goVersion": "go1.22.5", "compiler": "gc", "platform": "linux/amd64"}
        if method == "GET" and segs == ["api"]:
            return 200, {"kind": "APIVersions", "versions": ["v1"],
                         "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1:6443"}]}
        if method == "GET" and segs == ["apis"]:
            return 200, self._group_list()
        if segs[:1] == ["api"] and len(segs) >= 2:
            group, version, rest = "", segs[1], segs[2:]
        elif segs[:1] == ["apis"] and len(segs) >= 3:
            group, version, rest = segs[1], segs[2], segs[3:]
        else:
            raise not_found_generic()
        if not rest:
            if method != "GET":
                raise _method_not_allowed()
            return 200, self._resource_list(group, version)
        namespace = None
        if rest[0] == "namespaces" and len(rest) >= 3:
            namespace, rest = rest[1], rest[2:]
        if len(rest) > 2:
            raise not_found_generic()  # subresources are not served here
        rt = self._types.get((group, rest[0]))
        if rt is None or rt.version != version or not self.served(rt):
            raise not_found_generic()
        if namespace is not None and not rt.namespaced:
            raise not_found_generic()
        name = rest[1] if len(rest) == 2 else None
        if name is not None and rt.namespaced and namespace is None:
            raise not_found_generic()
        if name is None:
            if method != "GET":
                raise _method_not_allowed()
            check_options("LIST", queries)
            self._authorize(user, "list", rt, namespace, "")
            return 200, self._list(rt, namespace)
        if method not in ("GET", "PATCH", "DELETE"):
            raise _method_not_allowed()
        dry_run = check_options(method, queries)
        self._authorize(user, {"GET": "get", "PATCH": "patch", "DELETE": "delete"}[method], rt, namespace, name)
        if method == "GET":
            obj = self._objects.get((rt.group, rt.plural, namespace or "", name))
            if obj is None:
                raise _not_found(rt, name)
            return 200, clone(obj)
        if method == "DELETE":
            return 200, self._delete(rt, namespace, name, dry_run)
        query = {k: v[-1] for k, v in queries.items()}
        return self._patch(rt, namespace, name, query, content_type, body, dry_run)

    def _authorize(self, user, verb, rt, namespace, name):
        if user is None:
            return
        if not (user in self.read_only_users and verb not in ("get", "list")) and \
                (verb, rt.qualified) not in self.denied.get(user, set()):
            return
        where = f'in the namespace "{namespace}"' if namespace else "at the cluster scope"
        details = {"name": name, "kind": rt.plural}
        if rt.group:
            details = {"name": name, "group": rt.group, "kind": rt.plural}
        subject = f'{rt.qualified} "{name}"' if name else rt.qualified
        raise ApiError(status_body(
            403, "Forbidden", f'{subject} is forbidden: User "{user}" cannot {verb} resource '
            f'"{rt.plural}" in API group "{rt.group}" {where}', details))

    # ------------------------------------------------------------ discovery
    def _served_types(self):
        return [rt for rt in self._types.values() if self.served(rt)]

    def _group_list(self) -> dict:
        groups: dict[str, str] = {}
        for rt in self._served_types():
            if rt.group:
                groups.setdefault(rt.group, rt.version)
        return {"kind": "APIGroupList", "apiVersion": "v1", "groups": [
            {"name": g, "versions": [{"groupVersion": f"{g}/{v}", "version": v}],
             "preferredVersion": {"groupVersion": f"{g}/{v}", "version": v}} for g, v in sorted(groups.items())]}

    def _resource_list(self, group: str, version: str) -> dict:
        types = [rt for rt in self._served_types() if rt.group == group and rt.version == version]
        if not types:
            raise not_found_generic()
        resources = []
        for rt in sorted(types, key=lambda t: t.plural):
            entry = {"name": rt.plural, "singularName": rt.kind.lower(), "namespaced": rt.namespaced,
                     "kind": rt.kind, "verbs": VERBS}
            if rt.short_names:
                entry["shortNames"] = list(rt.short_names)
            resources.append(entry)
            if rt.status_subresource:
                resources.append({"name": f"{rt.plural}/status", "singularName": "", "namespaced": rt.namespaced,
                                  "kind": rt.kind, "verbs": ["get", "patch", "update"]})
        return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": types[0].group_version,
                "resources": resources}

    # ------------------------------------------------------------ reads / deletes
    def _list(self, rt: ResourceType, namespace: str | None) -> dict:
        items = [clone(o) for (g, p, ns, _), o in sorted(self._objects.items())
                 if g == rt.group and p == rt.plural and (namespace is None or ns == namespace)]
        return {"kind": f"{rt.kind}List", "apiVersion": rt.group_version,
                "metadata": {"resourceVersion": str(self._rv)}, "items": items}

    def _delete(self, rt: ResourceType, namespace: str | None, name: str, dry_run: bool = False) -> dict:
        key = (rt.group, rt.plural, namespace or "", name)
        obj = self._objects.get(key)
        if obj is None:
            raise _not_found(rt, name)
        if dry_run:
            return self._delete_answer(rt, name, obj, gone=not obj["metadata"].get("finalizers"))
        if not _terminating(obj):
            if obj["metadata"].get("finalizers") or self._contents(rt, obj) or rt.kind == "Namespace":
                obj["metadata"]["deletionTimestamp"] = now()
                obj["metadata"]["deletionGracePeriodSeconds"] = 0
                obj["metadata"]["resourceVersion"] = self._next_rv()
            if rt.kind == "Namespace":
                obj["status"] = {"phase": "Terminating"}
            for k in self._contents(rt, obj):  # their own finalizers hold each of them
                self._delete(self._types[k[:2]], k[2] or None, k[3])
        gone = self._finish_if_done(rt, key)
        return self._delete_answer(rt, name, obj, gone)

    def _delete_answer(self, rt, name, obj, gone: bool) -> dict:
        if not gone:
            return clone(obj)  # the object, with its deletionTimestamp: it waits on finalizers
        details = {"name": name, "kind": rt.plural, "uid": obj["metadata"]["uid"]}
        if rt.group:
            details = {"name": name, "group": rt.group, "kind": rt.plural, "uid": obj["metadata"]["uid"]}
        return status_body(200, "", "", details, status="Success")

    def _contents(self, rt: ResourceType, obj: dict) -> list:
        """What a namespace or a CRD holds (deleting them waits for it to go)."""
        if rt.kind == "Namespace":
            return [k for k in self._objects if k[2] == obj["metadata"]["name"]]
        if rt.kind == "CustomResourceDefinition":
            spec = obj.get("spec") or {}
            kind_key = (spec.get("group"), (spec.get("names") or {}).get("plural"))
            return [k for k in self._objects if k[:2] == kind_key]
        return []

    def _finish_if_done(self, rt: ResourceType, key) -> bool:
        """Remove an object being deleted once nothing holds it: no finalizer left (a namespace or a CRD:
        nothing left in it either, as their controllers do). True when it is gone."""
        obj = self._objects.get(key)
        if obj is None:
            return True
        if obj["metadata"].get("finalizers") or self._contents(rt, obj):
            return False
        if rt.kind == "CustomResourceDefinition":
            spec = obj.get("spec") or {}
            self._types.pop((spec.get("group"), (spec.get("names") or {}).get("plural")), None)
        del self._objects[key]
        holders = [(("", "namespaces"), ("", "namespaces", "", key[2]))] if key[2] else []
        holders += [(("apiextensions.k8s.io", "customresourcedefinitions"),
                     ("apiextensions.k8s.io", "customresourcedefinitions", "", f"{key[1]}.{key[0]}"))] if key[0] else []
        for type_key, holder in holders:  # the last object of a terminating namespace / CRD lets it go
            if _terminating(self._objects.get(holder)):
                self._finish_if_done(self._types[type_key], holder)
        return True

    # ------------------------------------------------------------ patches
    def _patch(self, rt, namespace, name, query, content_type, body, dry_run: bool):
        if content_type not in ACCEPTED_PATCH_TYPES:
            raise ApiError(status_body(415, "UnsupportedMediaType",
                                       "the body of the request was in an unknown format - accepted media types "
                                       f"include: {', '.join(ACCEPTED_PATCH_TYPES)}"))
        manager = query.get("fieldManager", "")
        force = query.get("force", "").lower() == "true"
        if content_type == APPLY and not manager:
            raise ApiError(status_body(
                422, "Invalid",
                'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch',
                {"group": "meta.k8s.io", "kind": "PatchOptions",
                 "causes": [{"reason": "FieldValueRequired", "message": "Required value: is required for apply patch",
                             "field": "fieldManager"}]}))
        if content_type != APPLY and "force" in query:
            raise ApiError(status_body(
                422, "Invalid",
                'PatchOptions.meta.k8s.io "" is invalid: force: Forbidden: may not be specified for non-apply patch',
                {"group": "meta.k8s.io", "kind": "PatchOptions",
                 "causes": [{"reason": "FieldValueForbidden", "message": "Forbidden: may not be specified for "
                             "non-apply patch", "field": "force"}]}))
        try:
            data = _decode(body)
        except ValueError as exc:
            raise bad_request(f"error decoding YAML: {exc}") from None
        if not isinstance(data, dict):
            raise bad_request("error decoding YAML: the body is not an object")
        if namespace and not rt.kind == "Namespace" and ("", "namespaces", "", namespace) not in self._objects:
            raise ApiError(status_body(404, "NotFound", f'namespaces "{namespace}" not found',
                                       {"name": namespace, "kind": "namespaces"}))
        if content_type == APPLY:
            return self._apply(rt, namespace, name, data, manager, force, dry_run)
        return self._merge(rt, namespace, name, data, manager or "unknown", dry_run)

    def _check_identity(self, rt, namespace, name, data):
        if data.get("apiVersion") != rt.group_version or data.get("kind") != rt.kind:
            raise bad_request(f"the API version in the data ({data.get('apiVersion')}) and kind ({data.get('kind')}) "
                              f"do not match the request ({rt.group_version}, {rt.kind})")
        meta = data.get("metadata") or {}
        if meta.get("name") != name:
            raise bad_request(f"the name of the object ({meta.get('name')}) does not match the name on the URL ({name})")
        if rt.namespaced and meta.get("namespace") not in (None, namespace):
            raise bad_request("the namespace of the provided object does not match the namespace sent on the request")
        if "managedFields" in meta:
            raise bad_request("metadata.managedFields must be nil")

    def _check_types(self, rt, namespace, name, data):
        """structured-merge-diff's typing of the applied object (kube_schema): the real 500 on failure."""
        schema = rt.object_schema()
        errors = kube_schema.typing_errors(data, schema) if schema else []
        if errors:
            gvk = f"{rt.group_version if rt.group else '/' + rt.version}, Kind={rt.kind}"
            raise ApiError(status_body(500, "", f"failed to create typed patch object ({namespace or ''}/{name}; {gvk}): "
                                       f"{kube_schema.smd_message(errors)}"))

    def _check_valid(self, rt, name, obj, before):
        causes = [("FieldValueRequired", f, "Required value") for f in
                  kube_schema.required_errors(obj, rt.object_schema() or {})]
        if _terminating(before):
            new = sorted(set(obj["metadata"].get("finalizers") or []) - set(before["metadata"].get("finalizers") or []))
            if new:  # apimachinery ValidateNoNewFinalizers
                shown = "[]string{" + ", ".join(json.dumps(f) for f in new) + "}"
                causes.append(("FieldValueForbidden", "metadata.finalizers", "Forbidden: no new finalizers can be added "
                               f"if the object is being deleted, found new finalizers {shown}"))
        if causes:
            raise invalid(rt.kind, rt.group, name, causes)

    def _check_namespace_open(self, rt, namespace, name):
        ns = self._objects.get(("", "namespaces", "", namespace or ""))
        if namespace and _terminating(ns):  # NamespaceLifecycle admission
            raise ApiError(status_body(
                403, "Forbidden", f'{rt.qualified} "{name}" is forbidden: unable to create new content in namespace '
                f"{namespace} because it is being terminated",
                {"name": name, **({"group": rt.group} if rt.group else {}), "kind": rt.plural,
                 "causes": [{"reason": "NamespaceTerminating", "message": f"namespace {namespace} is being terminated",
                             "field": "metadata.namespace"}]}))

    def _new_object(self, rt, namespace, name) -> dict:
        meta = {"name": name, "uid": str(uuid.uuid4()), "creationTimestamp": now(), "managedFields": []}
        if namespace:
            meta["namespace"] = namespace
        obj = {"apiVersion": rt.group_version, "kind": rt.kind, "metadata": meta}
        if rt.kind == "Namespace":
            meta["labels"] = {"kubernetes.io/metadata.name": name}
            obj["spec"] = {"finalizers": ["kubernetes"]}
            obj["status"] = {"phase": "Active"}
        return obj

    def _apply(self, rt, namespace, name, data, manager, force, dry_run=False):
        self._check_identity(rt, namespace, name, data)
        self._check_types(rt, namespace, name, data)
        key = (rt.group, rt.plural, namespace or "", name)
        existing = self._objects.get(key)
        created = existing is None
        obj = clone(existing) if existing else self._new_object(rt, namespace, name)
        applied = applied_fields(data, rt.status_subresource)
        entries = obj["metadata"]["managedFields"]
        mine = next((e for e in entries if e["manager"] == manager and e["operation"] == "Apply"
                     and not e.get("subresource")), None)
        others = [e for e in entries if e is not mine]
        # conflicts: another manager owns a field we set to a different value (fields of a subresource
        # belong to it: never the main resource's)
        conflicts = []
        for entry in others:
            if entry.get("subresource"):
                continue
            owned = paths_of(entry["fieldsV1"])
            for path in sorted(owned & set(applied)):
                if get_path(obj, path) != applied[path]:
                    conflicts.append((entry, path))
        if conflicts and not force:
            raise ApiError(conflict_body(conflicts))
        if created:
            self._check_namespace_open(rt, namespace, name)
        before = clone(obj)
        new_entries = []
        for entry in others:
            owned = paths_of(entry["fieldsV1"])
            if force:
                owned -= {p for e, p in conflicts if e is entry}
            if owned:
                new_entries.append({**entry, "fieldsV1": fields_v1(owned)})
        # fields this manager applied before and omits now go, unless someone else owns them
        previously = paths_of(mine["fieldsV1"]) if mine else set()
        still_owned = set().union(*(paths_of(e["fieldsV1"]) for e in new_entries if not e.get("subresource"))) \
            if new_entries else set()
        for path in sorted(previously - set(applied) - still_owned, reverse=True):
            delete_path(obj, path)
        for path, value in applied.items():
            set_path(obj, path, value)
        self._check_valid(rt, name, obj, existing)
        my_entry = {"manager": manager, "operation": "Apply", "apiVersion": rt.group_version, "time": now(),
                    "fieldsType": "FieldsV1", "fieldsV1": fields_v1(applied)}
        if applied:
            new_entries.append(my_entry)
        unchanged_fields = ({manager_id(e): paths_of(e["fieldsV1"]) for e in new_entries} ==
                            {manager_id(e): paths_of(e["fieldsV1"]) for e in entries if paths_of(e["fieldsV1"])})
        obj_content = {k: v for k, v in obj.items() if k != "metadata"}
        before_content = {k: v for k, v in before.items() if k != "metadata"}
        meta_now = {k: v for k, v in obj["metadata"].items() if k != "managedFields"}
        meta_before = {k: v for k, v in before["metadata"].items() if k != "managedFields"}
        if not created and unchanged_fields and obj_content == before_content and meta_now == meta_before:
            return 200, clone(existing)  # a no-op apply writes nothing
        obj["metadata"]["managedFields"] = new_entries
        if dry_run:
            return (201 if created else 200), obj  # checked, never stored
        obj["metadata"]["resourceVersion"] = self._next_rv()
        if rt.tracks_generation:
            spec_changed = created or {k: v for k, v in obj_content.items() if k != "status"} != {
                k: v for k, v in before_content.items() if k != "status"}
            gen = obj["metadata"].get("generation", 0)
            obj["metadata"]["generation"] = gen + 1 if spec_changed else gen
        self._objects[key] = obj
        if rt.kind == "CustomResourceDefinition":
            self._register_crd(obj)
        if _terminating(obj):
            self._finish_if_done(rt, key)  # the apply removed the last finalizer
        return (201 if created else 200), clone(obj)

    def _merge(self, rt, namespace, name, data, manager, dry_run=False):
        key = (rt.group, rt.plural, namespace or "", name)
        existing = self._objects.get(key)
        if existing is None:
            raise _not_found(rt, name)
        obj = merge_patch(existing, data)
        obj["metadata"]["name"], obj["apiVersion"], obj["kind"] = name, rt.group_version, rt.kind
        for k in ("deletionTimestamp", "deletionGracePeriodSeconds", "uid", "creationTimestamp"):
            if k in existing["metadata"]:
                obj["metadata"][k] = existing["metadata"][k]  # set by the server only
        self._check_valid(rt, name, obj, existing)
        touched = set(applied_fields(data, rt.status_subresource))
        entries = []
        for entry in existing["metadata"]["managedFields"]:
            if entry["manager"] == manager and entry["operation"] == "Update" and not entry.get("subresource"):
                touched |= paths_of(entry["fieldsV1"])
                continue
            owned = paths_of(entry["fieldsV1"]) - (set() if entry.get("subresource") else touched)
            if owned:
                entries.append({**entry, "fieldsV1": fields_v1(owned)})
        entries.append({"manager": manager, "operation": "Update", "apiVersion": rt.group_version, "time": now(),
                        "fieldsType": "FieldsV1", "fieldsV1": fields_v1(touched)})
        obj["metadata"]["managedFields"] = entries
        if dry_run:
            return 200, obj
        obj["metadata"]["resourceVersion"] = self._next_rv()
        self._objects[key] = obj
        if _terminating(obj):
            self._finish_if_done(rt, key)  # its last finalizer went: the object is gone
        return 200, clone(obj)

    def _register_crd(self, crd: dict) -> None:
        spec = crd.get("spec") or {}
        names = spec.get("names") or {}
        versions = [v for v in spec.get("versions") or [] if v.get("served", True)]
        if not (spec.get("group") and names.get("plural") and names.get("kind") and versions):
            return
        key = (spec["group"], names["plural"])
        if key in self._types:
            return
        self._types[key] = ResourceType(
            spec["group"], versions[0]["name"], names["kind"], names["plural"], spec.get("scope") != "Cluster",
            tuple(names.get("shortNames") or ()), crd=True,
            status_subresource="status" in (versions[0].get("subresources") or {}),
            ready_at=time.monotonic() + self.establish_delay, schema=kube_schema.crd_object_schema(versions[0]))
        crd["status"] = {"conditions": [{"type": "Established", "status": "True", "reason": "InitialNamesAccepted"}],
                         "acceptedNames": names}


def _method_not_allowed() -> ApiError:
    return ApiError(status_body(405, "MethodNotAllowed", "the server does not allow this method on the requested "
                                "resource", {}))


def _decode(body: bytes):
    text = body.decode("utf-8")
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        pass
    from ruamel.yaml import YAML

    try:
        return YAML(typ="safe", pure=True).load(text)
    except Exception as exc:  # noqa: BLE001 - any YAML error is a 400
        raise ValueError(str(exc).splitlines()[0] if str(exc) else "invalid YAML") from None


class _Handler(BaseHTTPRequestHandler):
    server_fake: FakeKubeApiServer
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # quiet
        pass

    def _serve(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        code, payload = self.server_fake.handle(self.command, self.path, self.headers, body)
        data = json.dumps(payload).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_PATCH = do_DELETE = do_POST = do_PUT = _serve
