"""A contract fake of the Kubernetes API server: discovery + server-side apply, in process.

An HTTP (optionally HTTPS) server on 127.0.0.1 and a free port, run in a thread. Source of every shape:
`shared/reference/engine-api-facts.md` §1 (apimachinery / apiserver code and the API docs).

What of the real API it reproduces
- Discovery: `GET /version`, `/api` (APIVersions), `/api/v1`, `/apis` (APIGroupList with
  preferredVersion), `/apis/{group}/{version}` (APIResourceList: name, singularName, namespaced, kind,
  verbs, shortNames; `<plural>/status` entries for types with a status subresource).
  Built-in kinds: Namespace, ConfigMap, Secret, ServiceAccount, Service (v1), Deployment, StatefulSet (apps/v1),
  Job (batch/v1), Ingress, NetworkPolicy (networking.k8s.io/v1),
  StorageClass (storage.k8s.io/v1), ClusterRole/ClusterRoleBinding/Role/RoleBinding
  (rbac.authorization.k8s.io/v1), CustomResourceDefinition (apiextensions.k8s.io/v1).
- CRDs: a kind defined by a CustomResourceDefinition (argoproj.io Application/AppProject, metallb.io
  IPAddressPool/L2Advertisement, anything) is served and appears in discovery ONLY after its CRD object was
  applied, and only `establish_delay` seconds later (the real server needs a moment to establish it);
  until then its URLs get the generic 404. The CRD object's `status.conditions` says `Established=True`
  at once (the real one turns True when the kind is served).
- URL shapes of §1.1 (core/named group, namespaced/cluster-scoped, collection/object).
- Server-side apply (§1.2/1.3): `PATCH` with `Content-Type: application/apply-patch+yaml` (a
  `; charset=` suffix is ignored; JSON or YAML body); `fieldManager` required (422 with the exact
  PatchOptions Invalid body); `force=true` only for apply (422 otherwise); 201 when the apply created the
  object, 200 otherwise; body must name the object of the URL (400); the response is the whole object with
  uid, resourceVersion, creationTimestamp, generation (custom resources and Deployments) and
  `managedFields` entries {manager, operation, apiVersion, time, fieldsType: FieldsV1, fieldsV1}.
  Field ownership per manager: a field applied with a different value than the one another manager owns
  is a conflict -> 409 with the exact Status of §1.4 (message "Apply failed with 1 conflict: conflict with
  "m": .data.key" / "Apply failed with N conflicts: conflicts with "m":\\n- .a\\n- .b", causes
  {reason: FieldManagerConflict, message, field}, details without name/kind); the same value is shared
  ownership; `force=true` takes the fields over. A field the manager applied before and omits now is
  removed unless another manager owns it; a manager left owning nothing has no entry. An apply that
  changes nothing keeps resourceVersion and managedFields as they were.
- Non-apply `PATCH` with `application/merge-patch+json` (RFC 7386): an `Update` manager that takes
  ownership of what it set (404 on a missing object). Any other content type: 415 UnsupportedMediaType.
- GET object, LIST (`<Kind>List` with metadata.resourceVersion and items), DELETE (200 with a
  `status: Success` Status naming the plural in `details.kind`); deleting a namespace deletes what is in
  it, deleting a CRD its objects and its kind.
- Errors: Status bodies (`kind: Status`, `apiVersion: v1`, `metadata: {}`, `status`, `message`,
  `reason`, `details`, `code`) sent with exactly `Content-Type: application/json`: 404 for a missing object
  (`configmaps "x" not found`, `applications.argoproj.io "x" not found` with details.group), for a missing
  namespace on apply (`namespaces "x" not found`), and the generic "the server could not find the requested
  resource" with empty details for an unknown path; 401 `Unauthorized` when bearer tokens are configured
  and the request has none or a wrong one; 403 Forbidden (`... is forbidden: User "u" cannot patch
  resource "configmaps" in API group "" in the namespace "ns"`) for read-only users; 405 for other methods.

What it does NOT reproduce
- Schema validation, defaulting (beyond uid/resourceVersion/timestamps/generation and a Namespace's
  `kubernetes.io/metadata.name` label, `spec.finalizers` and `status.phase`), admission, RBAC beyond
  "read-only user", watches, pagination (`limit`/`continue`), dryRun, fieldValidation, protobuf/CBOR,
  strategic-merge and JSON patches, POST/PUT, subresource endpoints (`.../status` — tests set status
  through `set_status()`), namespace Terminating phase, finalizers, garbage collection, several versions of
  one kind. Lists are atomic for field ownership (the real server merges lists keyed by name etc.), and
  managedFields do not carry the `"."` set-membership entries.
- Times in managedFields/creationTimestamp are real UTC seconds; resourceVersions are a global counter.
"""

from __future__ import annotations

import copy
import json
import ssl
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

APPLY = "application/apply-patch+yaml"
MERGE = "application/merge-patch+json"
ACCEPTED_PATCH_TYPES = [MERGE, APPLY]
VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]


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

    @property
    def group_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def qualified(self) -> str:  # "configmaps", "applications.argoproj.io"
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def tracks_generation(self) -> bool:
        return self.crd or self.kind in ("Deployment", "CustomResourceDefinition")


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
    """A minimal CustomResourceDefinition object (as in an install manifest) for tests."""
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


def status_body(code: int, reason: str, message: str, details: dict | None = None, status: str = "Failure") -> dict:
    body = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": status, "message": message,
            "reason": reason}
    if details is not None:
        body["details"] = details
    body["code"] = code
    if status == "Success":  # a delete's Status carries only status and details
        for key in ("message", "reason", "code"):
            body.pop(key)
    return body


class ApiError(Exception):
    def __init__(self, body: dict):
        super().__init__(body.get("message"))
        self.body = body
        self.code = body["code"]


def _not_found_generic() -> ApiError:
    return ApiError(status_body(404, "NotFound", "the server could not find the requested resource", {}))


def _not_found(rt: ResourceType, name: str) -> ApiError:
    details = {"name": name, "kind": rt.plural}
    if rt.group:
        details = {"name": name, "group": rt.group, "kind": rt.plural}
    return ApiError(status_body(404, "NotFound", f'{rt.qualified} "{name}" not found', details))


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


# ---------------------------------------------------------------- field sets
def _leaves(obj, prefix=()) -> dict[tuple, object]:
    """Leaf paths of an applied object (maps recurse; lists and scalars and empty maps are leaves)."""
    out: dict[tuple, object] = {}
    if isinstance(obj, dict) and obj:
        for k, v in obj.items():
            out.update(_leaves(v, (*prefix, k)))
    else:
        out[prefix] = obj
    return out


def _applied_fields(body: dict, rt: ResourceType) -> dict[tuple, object]:
    fields = {}
    for path, value in _leaves(body).items():
        if path[:1] in (("apiVersion",), ("kind",)):
            continue
        if path[:2] in (("metadata", "name"), ("metadata", "namespace"), ("metadata", "managedFields"),
                        ("metadata", "resourceVersion"), ("metadata", "uid"), ("metadata", "creationTimestamp"),
                        ("metadata", "generation")):
            continue
        if path[:1] == ("status",) and rt.status_subresource:
            continue  # the main resource ignores status when a status subresource exists
        fields[path] = value
    return fields


def _get(obj, path):
    for k in path:
        if not isinstance(obj, dict) or k not in obj:
            return _MISSING
        obj = obj[k]
    return obj


def _set(obj, path, value):
    for k in path[:-1]:
        nxt = obj.get(k)
        if not isinstance(nxt, dict):
            nxt = obj[k] = {}
        obj = nxt
    obj[path[-1]] = copy.deepcopy(value)


def _delete(obj, path):
    parents = []
    for k in path[:-1]:
        if not isinstance(obj, dict) or k not in obj:
            return
        parents.append((obj, k))
        obj = obj[k]
    if isinstance(obj, dict):
        obj.pop(path[-1], None)
    for parent, k in reversed(parents):  # drop maps the removal emptied (never metadata itself)
        if parent[k] == {} and k != "metadata":
            del parent[k]
        else:
            break


_MISSING = object()


def _fields_v1(paths) -> dict:
    tree: dict = {}
    for path in sorted(paths):
        node = tree
        for k in path:
            node = node.setdefault(f"f:{k}", {})
    return tree


def _paths_of(fields_v1: dict, prefix=()) -> set[tuple]:
    out: set[tuple] = set()
    for key, sub in fields_v1.items():
        path = (*prefix, key[2:])
        if sub:
            out |= _paths_of(sub, path)
        else:
            out.add(path)
    return out


def _path_str(path) -> str:
    return "".join(f".{k}" for k in path)


def _manager_id(entry: dict) -> str:
    text = json.dumps(entry["manager"])
    if entry.get("subresource"):
        text += f' with subresource {json.dumps(entry["subresource"])}'
    if entry["operation"] == "Update":
        text += f' using {entry["apiVersion"]}'
    return text


def conflict_body(conflicts: list[tuple[dict, tuple]]) -> dict:
    """409 Status exactly as apimachinery's managedfields conflict.go builds it."""
    causes = [{"reason": "FieldManagerConflict", "message": f"conflict with {_manager_id(e)}",
               "field": _path_str(p)} for e, p in conflicts]
    if len(conflicts) == 1:
        entry, path = conflicts[0]
        message = f"Apply failed with 1 conflict: conflict with {_manager_id(entry)}: {_path_str(path)}"
    else:
        by_manager: dict[str, list[str]] = {}
        for entry, path in conflicts:
            by_manager.setdefault(_manager_id(entry), []).append(_path_str(path))
        lines = []
        for manager in sorted(by_manager):
            lines.append(f"conflicts with {manager}:")
            lines.extend(f"- {p}" for p in by_manager[manager])
        message = f"Apply failed with {len(conflicts)} conflicts: " + "\n".join(lines)
    return status_body(409, "Conflict", message, {"causes": causes})


def _merge_patch(target, patch):
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = copy.deepcopy(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = _merge_patch(out.get(k), v)
    return out


# ---------------------------------------------------------------- the server state
@dataclass
class _Request:
    method: str
    path: str
    query: dict
    content_type: str
    user: str | None


@dataclass
class FakeKubeApiServer:
    tokens: dict[str, str] | None = None  # bearer token -> user name; None = no authentication
    read_only_users: set[str] = field(default_factory=set)
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
            return copy.deepcopy(obj) if obj else None

    def set_status(self, api_version: str, kind: str, name: str, namespace: str | None, status: dict,
                   manager: str = "argocd-application-controller") -> None:
        """What a controller does through the /status subresource (an Update manager)."""
        with self._lock:
            rt = self._type_for_kind(api_version, kind)
            obj = self._objects[(rt.group, rt.plural, namespace or "", name)]
            obj["status"] = copy.deepcopy(status)
            entries = [e for e in obj["metadata"]["managedFields"]
                       if not (e["manager"] == manager and e.get("subresource") == "status")]
            entries.append({"manager": manager, "operation": "Update", "apiVersion": rt.group_version,
                            "time": _now(), "fieldsType": "FieldsV1",
                            "fieldsV1": _fields_v1(p for p in _leaves({"status": status})), "subresource": "status"})
            obj["metadata"]["managedFields"] = entries
            obj["metadata"]["resourceVersion"] = self._next_rv()

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
        query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        content_type = (headers.get("Content-Type") or "").split(";")[0].strip().lower()
        user = None
        if self.tokens is not None:
            auth = headers.get("Authorization") or ""
            token = auth[7:] if auth.startswith("Bearer ") else None
            user = self.tokens.get(token) if token else None
            if user is None:
                self.requests.append(_Request(method, parts.path, query, content_type, None))
                return 401, status_body(401, "Unauthorized", "Unauthorized")
        self.requests.append(_Request(method, parts.path, query, content_type, user))
        try:
            with self._lock:
                return self._route(method, parts.path, query, content_type, body, user)
        except ApiError as exc:
            return exc.code, exc.body

    def _route(self, method, path, query, content_type, body, user):
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
            raise _not_found_generic()
        if not rest:
            if method != "GET":
                raise ApiError(status_body(405, "MethodNotAllowed", "the server does not allow this method on "
                                           "the requested resource", {}))
            return 200, self._resource_list(group, version)
        namespace = None
        if rest[0] == "namespaces" and len(rest) >= 3:
            namespace, rest = rest[1], rest[2:]
        if len(rest) > 2:
            raise _not_found_generic()  # subresources are not served here
        rt = self._types.get((group, rest[0]))
        if rt is None or rt.version != version or not self.served(rt):
            raise _not_found_generic()
        if namespace is not None and not rt.namespaced:
            raise _not_found_generic()
        name = rest[1] if len(rest) == 2 else None
        if name is not None and rt.namespaced and namespace is None:
            raise _not_found_generic()
        if name is None:
            if method != "GET":
                raise ApiError(status_body(405, "MethodNotAllowed",
                                           "the server does not allow this method on the requested resource", {}))
            return 200, self._list(rt, namespace)
        if method == "GET":
            obj = self._objects.get((rt.group, rt.plural, namespace or "", name))
            if obj is None:
                raise _not_found(rt, name)
            return 200, copy.deepcopy(obj)
        if method in ("PATCH", "DELETE"):
            self._authorize(user, "patch" if method == "PATCH" else "delete", rt, namespace, name)
        if method == "DELETE":
            return 200, self._delete(rt, namespace, name)
        if method == "PATCH":
            return self._patch(rt, namespace, name, query, content_type, body)
        raise ApiError(status_body(405, "MethodNotAllowed",
                                   "the server does not allow this method on the requested resource", {}))

    def _authorize(self, user, verb, rt, namespace, name):
        if user is None or user not in self.read_only_users:
            return
        where = f'in the namespace "{namespace}"' if namespace else "at the cluster scope"
        details = {"name": name, "kind": rt.plural}
        if rt.group:
            details = {"name": name, "group": rt.group, "kind": rt.plural}
        raise ApiError(status_body(
            403, "Forbidden", f'{rt.qualified} "{name}" is forbidden: User "{user}" cannot {verb} resource '
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
            raise _not_found_generic()
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
        items = [copy.deepcopy(o) for (g, p, ns, _), o in sorted(self._objects.items())
                 if g == rt.group and p == rt.plural and (namespace is None or ns == namespace)]
        return {"kind": f"{rt.kind}List", "apiVersion": rt.group_version,
                "metadata": {"resourceVersion": str(self._rv)}, "items": items}

    def _delete(self, rt: ResourceType, namespace: str | None, name: str) -> dict:
        key = (rt.group, rt.plural, namespace or "", name)
        obj = self._objects.pop(key, None)
        if obj is None:
            raise _not_found(rt, name)
        if rt.kind == "Namespace":
            for k in [k for k in self._objects if k[2] == name]:
                del self._objects[k]
        if rt.kind == "CustomResourceDefinition":
            spec = obj.get("spec", {})
            gone = self._types.pop((spec.get("group"), spec.get("names", {}).get("plural")), None)
            if gone:
                for k in [k for k in self._objects if k[:2] == (gone.group, gone.plural)]:
                    del self._objects[k]
        details = {"name": name, "kind": rt.plural, "uid": obj["metadata"]["uid"]}
        if rt.group:
            details = {"name": name, "group": rt.group, "kind": rt.plural, "uid": obj["metadata"]["uid"]}
        return status_body(200, "", "", details, status="Success")

    # ------------------------------------------------------------ patches
    def _patch(self, rt, namespace, name, query, content_type, body):
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
            raise ApiError(status_body(400, "BadRequest", f"error decoding YAML: {exc}")) from None
        if not isinstance(data, dict):
            raise ApiError(status_body(400, "BadRequest", "error decoding YAML: the body is not an object"))
        if namespace and not rt.kind == "Namespace" and ("", "namespaces", "", namespace) not in self._objects:
            raise ApiError(status_body(404, "NotFound", f'namespaces "{namespace}" not found',
                                       {"name": namespace, "kind": "namespaces"}))
        if content_type == APPLY:
            return self._apply(rt, namespace, name, data, manager, force)
        return self._merge(rt, namespace, name, data, manager or "unknown")

    def _check_identity(self, rt, namespace, name, data):
        if data.get("apiVersion") != rt.group_version or data.get("kind") != rt.kind:
            raise ApiError(status_body(400, "BadRequest",
                                       f"the API version in the data ({data.get('apiVersion')}) and kind "
                                       f"({data.get('kind')}) do not match the request ({rt.group_version}, "
                                       f"{rt.kind})"))
        meta = data.get("metadata") or {}
        if meta.get("name") != name:
            raise ApiError(status_body(400, "BadRequest", f"the name of the object ({meta.get('name')}) does not "
                                       f"match the name on the URL ({name})"))
        if rt.namespaced and meta.get("namespace") not in (None, namespace):
            raise ApiError(status_body(400, "BadRequest", "the namespace of the provided object does not match "
                                       "the namespace sent on the request"))
        if "managedFields" in meta:
            raise ApiError(status_body(400, "BadRequest", "metadata.managedFields must be nil"))

    def _new_object(self, rt, namespace, name) -> dict:
        meta = {"name": name, "uid": str(uuid.uuid4()), "creationTimestamp": _now(), "managedFields": []}
        if namespace:
            meta["namespace"] = namespace
        obj = {"apiVersion": rt.group_version, "kind": rt.kind, "metadata": meta}
        if rt.kind == "Namespace":
            meta["labels"] = {"kubernetes.io/metadata.name": name}
            obj["spec"] = {"finalizers": ["kubernetes"]}
            obj["status"] = {"phase": "Active"}
        return obj

    def _apply(self, rt, namespace, name, data, manager, force):
        self._check_identity(rt, namespace, name, data)
        key = (rt.group, rt.plural, namespace or "", name)
        existing = self._objects.get(key)
        created = existing is None
        obj = copy.deepcopy(existing) if existing else self._new_object(rt, namespace, name)
        applied = _applied_fields(data, rt)
        entries = obj["metadata"]["managedFields"]
        mine = next((e for e in entries if e["manager"] == manager and e["operation"] == "Apply"
                     and not e.get("subresource")), None)
        others = [e for e in entries if e is not mine]
        # conflicts: another manager owns a field we set to a different value
        conflicts = []
        for entry in others:
            owned = _paths_of(entry["fieldsV1"])
            for path in sorted(owned & set(applied)):
                if _get(obj, path) != applied[path]:
                    conflicts.append((entry, path))
        if conflicts and not force:
            raise ApiError(conflict_body(conflicts))
        before = copy.deepcopy(obj)
        new_entries = []
        for entry in others:
            owned = _paths_of(entry["fieldsV1"])
            if force:
                owned -= {p for e, p in conflicts if e is entry}
            if owned:
                new_entries.append({**entry, "fieldsV1": _fields_v1(owned)})
        # fields this manager applied before and omits now go, unless someone else owns them
        previously = _paths_of(mine["fieldsV1"]) if mine else set()
        still_owned = set().union(*(_paths_of(e["fieldsV1"]) for e in new_entries)) if new_entries else set()
        for path in sorted(previously - set(applied) - still_owned, reverse=True):
            _delete(obj, path)
        for path, value in applied.items():
            _set(obj, path, value)
        my_entry = {"manager": manager, "operation": "Apply", "apiVersion": rt.group_version, "time": _now(),
                    "fieldsType": "FieldsV1", "fieldsV1": _fields_v1(applied)}
        if applied:
            new_entries.append(my_entry)
        unchanged_fields = ({_manager_id(e): _paths_of(e["fieldsV1"]) for e in new_entries} ==
                            {_manager_id(e): _paths_of(e["fieldsV1"]) for e in entries if _paths_of(e["fieldsV1"])})
        obj_content = {k: v for k, v in obj.items() if k != "metadata"}
        before_content = {k: v for k, v in before.items() if k != "metadata"}
        meta_now = {k: v for k, v in obj["metadata"].items() if k != "managedFields"}
        meta_before = {k: v for k, v in before["metadata"].items() if k != "managedFields"}
        if not created and unchanged_fields and obj_content == before_content and meta_now == meta_before:
            return 200, copy.deepcopy(existing)  # a no-op apply writes nothing
        obj["metadata"]["managedFields"] = new_entries
        obj["metadata"]["resourceVersion"] = self._next_rv()
        if rt.tracks_generation:
            spec_changed = created or {k: v for k, v in obj_content.items() if k != "status"} != {
                k: v for k, v in before_content.items() if k != "status"}
            gen = obj["metadata"].get("generation", 0)
            obj["metadata"]["generation"] = gen + 1 if spec_changed else gen
        self._objects[key] = obj
        if rt.kind == "CustomResourceDefinition":
            self._register_crd(obj)
        return (201 if created else 200), copy.deepcopy(obj)

    def _merge(self, rt, namespace, name, data, manager):
        key = (rt.group, rt.plural, namespace or "", name)
        existing = self._objects.get(key)
        if existing is None:
            raise _not_found(rt, name)
        obj = _merge_patch(existing, data)
        obj["metadata"]["name"], obj["apiVersion"], obj["kind"] = name, rt.group_version, rt.kind
        touched = set(_applied_fields(data, rt))
        entries = []
        for entry in existing["metadata"]["managedFields"]:
            if entry["manager"] == manager and entry["operation"] == "Update":
                touched |= _paths_of(entry["fieldsV1"])
                continue
            owned = _paths_of(entry["fieldsV1"]) - touched
            if owned:
                entries.append({**entry, "fieldsV1": _fields_v1(owned)})
        entries.append({"manager": manager, "operation": "Update", "apiVersion": rt.group_version, "time": _now(),
                        "fieldsType": "FieldsV1", "fieldsV1": _fields_v1(touched)})
        obj["metadata"]["managedFields"] = entries
        obj["metadata"]["resourceVersion"] = self._next_rv()
        self._objects[key] = obj
        return 200, copy.deepcopy(obj)

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
            ready_at=time.monotonic() + self.establish_delay)
        crd["status"] = {"conditions": [{"type": "Established", "status": "True", "reason": "InitialNamesAccepted"}],
                         "acceptedNames": names}


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
