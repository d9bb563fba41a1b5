"""A small Kubernetes REST client: JSON over `http.client`, TLS and auth from a `ClusterAccess`.

- TLS: the kubeconfig's CA (file or inline PEM) or `insecure-skip-tls-verify`; a client certificate/key
  given inline is written to 0600 temporary files only while the TLS context loads them, then deleted.
  A bearer token goes in the `Authorization` header; it and the key are added to the redactor and never
  appear in any message.
- Discovery (`/api/v1`, `/apis`, `/apis/{group}/{version}`) finds each kind's plural and scope, cached per
  group/version and refreshed once when a kind is missing (a CRD installed a moment ago).
- Server-side apply: `PATCH <object URL>?fieldManager=homelab&force=true` with
  `Content-Type: application/apply-patch+yaml` and a JSON body (JSON is YAML); 201 = created, 200 = the
  object existed. `force=true`: homelab is the source of truth and takes over fields another manager owns.
- Errors: a `kind: Status` body (401/403/404/409/422/...) becomes a `KubeApiError` quoting the server's
  `message` with a hint for the usual causes; an unreachable server or a failed TLS verification is an
  `EngineError` saying which.
"""

from __future__ import annotations

import http.client
import json
import os
import ssl
import tempfile
from dataclasses import dataclass
from urllib.parse import quote, urlencode, urlsplit

from homelab.engines.kubernetes.kubeconfig import ClusterAccess
from homelab.errors import EngineError
from homelab.secrets import Redactor

FIELD_MANAGER = "homelab"
APPLY_PATCH = "application/apply-patch+yaml"

_HINTS = {
    401: "the kubeconfig's credentials were refused: fetch a fresh kubeconfig from the cluster",
    403: "the kubeconfig's user lacks RBAC permission for this; use the cluster-admin kubeconfig",
    409: "another field manager owns these fields; homelab applies with force=true, so this is a "
         "resourceVersion conflict: run the apply again",
    422: "the object is invalid for this cluster: check the rendered manifest",
    500: "a server-side apply answers 500 \"failed to create typed patch object\" for a field the cluster's schema "
         "does not declare or a value of the wrong type: check the rendered manifest",
}


class KubeApiError(EngineError):
    """The API server answered with an error Status."""

    def __init__(self, code: int, reason: str, message: str, hint: str | None = None, body: dict | None = None):
        super().__init__(message, hint)
        self.code = code
        self.reason = reason
        self.body = body or {}


class NotServed(EngineError):
    """The cluster does not serve this apiVersion/kind (yet)."""


@dataclass(frozen=True)
class ResourceInfo:
    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool

    def url(self, name: str | None = None, namespace: str | None = None) -> str:
        base = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if self.namespaced and namespace:
            base += f"/namespaces/{quote(namespace, safe='')}"
        base += f"/{self.plural}"
        return base + (f"/{quote(name, safe='')}" if name else "")


class KubeClient:
    """Requests, discovery and the object verbs the engine needs (apply, get, delete)."""

    def __init__(self, access: ClusterAccess, *, redactor: Redactor, timeout: float = 30.0):
        self.access = access
        self.timeout = timeout
        self.redactor = redactor
        if access.token is not None:
            self.redactor.add(access.token)
        if access.key_pem is not None:
            self.redactor.add(access.key_pem)
        parts = urlsplit(access.server)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise EngineError(f"kubeconfig server {access.server!r} is not an http(s) URL")
        self._scheme = parts.scheme
        self._host = parts.hostname
        self._port = parts.port or (443 if parts.scheme == "https" else 80)
        self._prefix = parts.path.rstrip("/")
        self._ssl = _tls_context(access) if parts.scheme == "https" else None
        self._discovery: dict[str, dict[str, ResourceInfo]] = {}  # groupVersion -> kind -> info
        self._groups: dict[str, list[str]] | None = None  # group -> versions, preferred first

    # -------------------------------------------------------------------- raw requests
    def request(self, method: str, path: str, *, query: dict | None = None, body: dict | None = None,
                content_type: str = "application/json") -> tuple[int, dict]:
        url = self._prefix + path + (("?" + urlencode(query)) if query else "")
        headers = {"Accept": "application/json", "User-Agent": "homelab"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = content_type
        if self.access.token is not None:
            headers["Authorization"] = f"Bearer {self.access.token.reveal()}"
        status, raw = self._send(method, url, data, headers)
        try:
            payload = json.loads(raw) if raw else {}
        except ValueError:
            payload = {"message": self.redactor(raw[:200].decode("utf-8", "replace"))}
        if status >= 400:
            message = self.redactor(str(payload.get("message") or f"HTTP {status}"))
            reason = str(payload.get("reason") or "")
            said = f"{status} {reason}" if reason else str(status)
            raise KubeApiError(status, reason, f"Kubernetes API {method} {path}: {said}: {message}",
                               _HINTS.get(status), payload)
        return status, payload

    def _send(self, method: str, url: str, data: bytes | None, headers: dict) -> tuple[int, bytes]:
        if self._scheme == "https":
            conn = http.client.HTTPSConnection(self._host, self._port, timeout=self.timeout, context=self._ssl)
        else:
            conn = http.client.HTTPConnection(self._host, self._port, timeout=self.timeout)
        try:
            conn.request(method, url, body=data, headers=headers)
            resp = conn.getresponse()
            return resp.status, resp.read()
        except ssl.SSLCertVerificationError as exc:
            raise EngineError(f"TLS verification of the Kubernetes API at {self.access.server} failed: "
                              f"{exc.verify_message or exc.reason}",
                              hint="check certificate-authority-data in the kubeconfig") from None
        except (OSError, http.client.HTTPException) as exc:
            what = "connection refused" if isinstance(exc, ConnectionRefusedError) else (
                "timed out" if isinstance(exc, TimeoutError) else type(exc).__name__)
            raise EngineError(f"cannot reach the Kubernetes API at {self.access.server}: {what}",
                              hint="is the cluster up, and are gitops.argocd.kubeconfig/context right?") from None
        finally:
            conn.close()

    # -------------------------------------------------------------------- discovery
    def _group_versions(self, group: str) -> list[str]:
        if group == "":
            return ["v1"]
        if self._groups is None:
            _, data = self.request("GET", "/apis")
            self._groups = {}
            for g in data.get("groups") or []:
                pref = (g.get("preferredVersion") or {}).get("version")
                versions = [v.get("version") for v in g.get("versions") or []]
                self._groups[g.get("name")] = [pref, *[v for v in versions if v != pref]] if pref else versions
        return list(self._groups.get(group) or [])

    def _resources(self, group_version: str) -> dict[str, ResourceInfo]:
        if group_version not in self._discovery:
            group, _, version = group_version.rpartition("/")
            path = f"/apis/{group}/{version}" if group else f"/api/{version}"
            try:
                _, data = self.request("GET", path)
            except KubeApiError as exc:
                if exc.code == 404:
                    return {}
                raise
            kinds = {}
            for r in data.get("resources") or []:
                if "/" in r.get("name", ""):
                    continue  # subresource
                kinds[r["kind"]] = ResourceInfo(group, version, r["kind"], r["name"], bool(r.get("namespaced")))
            self._discovery[group_version] = kinds
        return self._discovery[group_version]

    def invalidate(self) -> None:
        self._discovery.clear()
        self._groups = None

    def resource_for(self, api_version: str, kind: str) -> ResourceInfo:
        """The kind's discovery entry; asked once more after dropping the cache before `NotServed`."""
        group, _, version = api_version.rpartition("/")
        for attempt in (0, 1):
            if group and version not in self._group_versions(group):
                info = None
            else:
                info = self._resources(api_version).get(kind)
            if info:
                return info
            if attempt == 0:
                self._discovery.pop(api_version, None)
                self._groups = None
        raise NotServed(f"the cluster does not serve {kind} ({api_version})")

    # -------------------------------------------------------------------- objects
    def apply(self, obj: dict) -> tuple[int, dict]:
        """Server-side apply as the `homelab` field manager, taking over conflicting fields."""
        info = self.resource_for(obj["apiVersion"], obj["kind"])
        meta = obj.get("metadata") or {}
        return self.request("PATCH", info.url(meta["name"], meta.get("namespace")),
                            query={"fieldManager": FIELD_MANAGER, "force": "true"}, body=obj,
                            content_type=APPLY_PATCH)

    def get(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> dict | None:
        info = self.resource_for(api_version, kind)
        try:
            return self.request("GET", info.url(name, namespace))[1]
        except KubeApiError as exc:
            if exc.code == 404:
                return None
            raise

    def delete(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> dict | None:
        """DELETE the object: None when it was not there; else the answer — a `status: Success` Status
        when it is gone, or the object itself with `metadata.deletionTimestamp` while finalizers hold it."""
        try:
            info = self.resource_for(api_version, kind)
            return self.request("DELETE", info.url(name, namespace))[1]
        except NotServed:
            return None
        except KubeApiError as exc:
            if exc.code == 404:
                return None
            raise

    def version(self) -> dict:
        return self.request("GET", "/version")[1]


def _tls_context(a: ClusterAccess) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=a.ca_file) if a.ca_file else ssl.create_default_context()
    if a.ca_data:
        ctx.load_verify_locations(cadata=a.ca_data)
    if a.insecure:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if a.cert_pem or a.cert_file:
        temps: list[str] = []
        try:
            cert = a.cert_file or _temp_file(a.cert_pem, temps)
            key = a.key_file or (_temp_file(a.key_pem.reveal(), temps) if a.key_pem else None)
            ctx.load_cert_chain(cert, key)
        except (OSError, ssl.SSLError) as exc:
            raise EngineError(f"kubeconfig client certificate/key cannot be loaded: {type(exc).__name__}") from None
        finally:
            for t in temps:
                try:
                    os.unlink(t)
                except FileNotFoundError:
                    pass
    return ctx


def _temp_file(content: str, temps: list[str]) -> str:
    fd, path = tempfile.mkstemp(prefix="homelab-kube-", suffix=".pem")  # 0600
    temps.append(path)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(content)
    return path
