"""The kubernetes engine: server-side apply of the rendered manifests; ArgoCD status for facts.

Talks to the cluster of the user's kubeconfig (`gitops.argocd.kubeconfig`, context
`gitops.argocd.context` or the current one) over plain HTTPS with the standard library:

- TLS from the kubeconfig: `server`, `certificate-authority(-data)`, `insecure-skip-tls-verify`, a client
  certificate/key (`client-certificate(-data)`, `client-key(-data)`; inline data is written to 0600
  temporary files only while the TLS context loads them, then deleted) or a bearer `token` /
  `tokenFile`. `exec` / `auth-provider` credential plugins are not run (clear error).
- Discovery (`/api/v1`, `/apis`, `/apis/{group}/{version}`) finds each kind's plural and scope, cached per
  group/version and refreshed when a kind is missing (a CRD installed a moment ago).
- Server-side apply: `PATCH <object URL>?fieldManager=homelab&force=true` with
  `Content-Type: application/apply-patch+yaml` and a JSON body; 201 = created, 200 = configured (or
  unchanged when the resourceVersion did not move).
- Order: Namespaces, then CustomResourceDefinitions, then the rest (AppProjects before Applications);
  an object whose kind is not served yet waits (up to `crd_timeout`) while its CRD establishes.
- Errors: a Status body (401/403/404/409/422/...) becomes an EngineError quoting the server's `message`.
  The bearer token is added to the redactor and never appears in any message.

What is applied for which address (the planner's addresses, see plan/address.py):

- `argocd_bootstrap.<namespace>` — every manifest under `k8s/bootstrap/` of the rendered repository.
  ArgoCD itself: homelab cannot run Helm here, so the ArgoCD install is a PRE-RENDERED manifest the user
  puts beside the bootstrap files (documented in the rendered README):

      helm template argocd argo-cd --repo https://argoproj.github.io/argo-helm --version <chart version> \\
          --namespace argocd --include-crds -f k8s/bootstrap/<argocd values file> \\
          > k8s/bootstrap/argocd-install.yaml

  It is applied with the rest (its CRDs and namespace first). Without it, and without ArgoCD already on the
  cluster, the apply stops with that instruction instead of waiting for CRDs that will never come.
  YAML documents that are not Kubernetes objects (Helm values files) are skipped.
- `argocd_app.<ns>/<name>` — `k8s/apps/<ns>/<name>.yaml`; `argocd_app.platform/<name>` —
  `k8s/platform/<name>.yaml` (or the directory `k8s/platform/<name>/`, or else the Applications of
  `k8s/platform/<name>-*.yaml`: one component rendered as several Applications, e.g. democratic-csi's
  iscsi and nfs drivers). A delete removes the objects of that file (or, when it is gone, the Application
  `<name>` in ArgoCD's namespace); a create/update of an address with no rendered file is an error
  ("run homelab render"), never a bare Application.

Facts: `argocd_app.*` -> {namespace (destination), sync, health, revision, operation} read from the
Application's `.status` (argoproj.io/v1alpha1; several Applications of one address: the worst sync and
health, in ArgoCD's own health order); `argocd_bootstrap.<ns>` -> {namespace} when ArgoCD's namespace
exists and its Application CRD is served. A missing object is absent from the facts — and as both types
are in `fact_types`, the planner reads that as "not live" (create), not as "plan from state".
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import ssl
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar
from urllib.parse import quote, urlencode, urlsplit

from homelab.engines.base import ApplyResult, Change, Engine, EngineContext, EngineStatus
from homelab.errors import EngineError
from homelab.secrets import Redactor, Secret

FIELD_MANAGER = "homelab"
APPLY_PATCH = "application/apply-patch+yaml"
ARGOCD_GROUP = "argoproj.io"
ARGOCD_VERSION = "v1alpha1"
ARGOCD_INSTALL_FILE = "argocd-install.yaml"
HELM_HINT = ("homelab cannot run Helm: render the ArgoCD install manifest once with\n"
             "  helm template argocd {chart} --repo {repo} --version {version} --namespace {ns} --include-crds "
             "-f <k8s/bootstrap values file> > k8s/bootstrap/" + ARGOCD_INSTALL_FILE + "\n"
             "and run the apply again (or install ArgoCD on the cluster yourself)")

_KIND_RANK = {"Namespace": 0, "CustomResourceDefinition": 1, "ServiceAccount": 2, "ClusterRole": 2, "Role": 2,
              "StorageClass": 2, "PriorityClass": 2, "ClusterRoleBinding": 3, "RoleBinding": 3, "Secret": 3,
              "ConfigMap": 3, "AppProject": 6, "Application": 7, "ApplicationSet": 7}


class KubeApiError(EngineError):
    """The API server answered with an error Status."""

    def __init__(self, code: int, reason: str, message: str, hint: str | None = None, body: dict | None = None):
        super().__init__(message, hint)
        self.code = code
        self.reason = reason
        self.body = body or {}


class NotServed(EngineError):
    """The cluster does not serve this apiVersion/kind (yet)."""


# ------------------------------------------------------------------------------------------ kubeconfig
@dataclass
class ClusterAccess:
    server: str
    context: str = ""
    ca_data: str | None = None  # PEM
    ca_file: str | None = None
    insecure: bool = False
    token: Secret | None = None
    cert_pem: str | None = None
    key_pem: Secret | None = None
    cert_file: str | None = None
    key_file: str | None = None
    tls_server_name: str | None = None


def _b64(text: str, what: str) -> str:
    try:
        return base64.b64decode(text).decode()
    except (ValueError, UnicodeDecodeError):
        raise EngineError(f"kubeconfig: {what} is not valid base64 PEM data") from None


def load_kubeconfig(path: str | os.PathLike, context: str | None = None) -> ClusterAccess:
    """Read the cluster, user and TLS settings of one context. Never puts a secret in a message."""
    from ruamel.yaml import YAML

    p = Path(path).expanduser()
    try:
        data = YAML(typ="safe", pure=True).load(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise EngineError(f"kubeconfig {p} does not exist",
                          hint="set gitops.argocd.kubeconfig to the file k3s wrote (fetched by the k3s playbook)"
                          ) from None
    except Exception as exc:  # noqa: BLE001 - any parse error is the user's file
        raise EngineError(f"kubeconfig {p} cannot be read: {type(exc).__name__}") from None
    if not isinstance(data, dict):
        raise EngineError(f"kubeconfig {p} is not a kubeconfig file")
    base = p.parent

    def named(section: str, name: str) -> dict:
        for item in data.get(section) or []:
            if isinstance(item, dict) and item.get("name") == name:
                return item.get(section[:-1]) or {}
        raise EngineError(f"kubeconfig {p}: no {section[:-1]} named {name!r}")

    ctx_name = context or data.get("current-context")
    if not ctx_name:
        raise EngineError(f"kubeconfig {p} has no current-context", hint="set gitops.argocd.context")
    ctx = named("contexts", ctx_name)
    cluster = named("clusters", ctx.get("cluster", ""))
    user = named("users", ctx.get("user", "")) if ctx.get("user") else {}
    if not cluster.get("server"):
        raise EngineError(f"kubeconfig {p}: cluster of context {ctx_name!r} has no server")

    def rel(value):
        return str((base / value).resolve()) if value and not os.path.isabs(value) else value

    access = ClusterAccess(server=str(cluster["server"]).rstrip("/"), context=ctx_name,
                           insecure=bool(cluster.get("insecure-skip-tls-verify")),
                           tls_server_name=cluster.get("tls-server-name"))
    if cluster.get("certificate-authority-data"):
        access.ca_data = _b64(cluster["certificate-authority-data"], "certificate-authority-data")
    elif cluster.get("certificate-authority"):
        access.ca_file = rel(cluster["certificate-authority"])
    if user.get("exec") or user.get("auth-provider"):
        raise EngineError(f"kubeconfig {p}: user of context {ctx_name!r} uses a credential plugin "
                          "(exec/auth-provider), which homelab does not run",
                          hint="use a kubeconfig with a client certificate or a bearer token (k3s writes one)")
    if user.get("token"):
        access.token = Secret(str(user["token"]))
    elif user.get("tokenFile"):
        access.token = Secret(Path(rel(user["tokenFile"])).read_text(encoding="utf-8").strip())
    if user.get("client-certificate-data"):
        access.cert_pem = _b64(user["client-certificate-data"], "client-certificate-data")
    elif user.get("client-certificate"):
        access.cert_file = rel(user["client-certificate"])
    if user.get("client-key-data"):
        access.key_pem = Secret(_b64(user["client-key-data"], "client-key-data"))
    elif user.get("client-key"):
        access.key_file = rel(user["client-key"])
    return access


# ------------------------------------------------------------------------------------------ client
@dataclass(frozen=True)
class ResourceInfo:
    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool

    @property
    def group_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    def url(self, name: str | None = None, namespace: str | None = None) -> str:
        base = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if self.namespaced and namespace:
            base += f"/namespaces/{quote(namespace, safe='')}"
        base += f"/{self.plural}"
        return base + (f"/{quote(name, safe='')}" if name else "")


class KubeClient:
    """A small Kubernetes REST client: JSON over http.client, TLS and auth from a ClusterAccess."""

    def __init__(self, access: ClusterAccess, *, timeout: float = 30.0, redactor: Redactor | None = None):
        self.access = access
        self.timeout = timeout
        self.redactor = redactor or Redactor()
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
        self._ssl = self._tls_context() if parts.scheme == "https" else None
        self._discovery: dict[str, dict[str, ResourceInfo]] = {}  # groupVersion -> kind -> info
        self._groups: dict[str, list[str]] | None = None  # group -> versions, preferred first

    def _tls_context(self) -> ssl.SSLContext:
        a = self.access
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
                raise EngineError(f"kubeconfig client certificate/key cannot be loaded: {type(exc).__name__}"
                                  ) from None
            finally:
                for t in temps:
                    try:
                        os.unlink(t)
                    except FileNotFoundError:
                        pass
        return ctx

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
        if self._scheme == "https":
            conn = http.client.HTTPSConnection(self._host, self._port, timeout=self.timeout, context=self._ssl)
        else:
            conn = http.client.HTTPConnection(self._host, self._port, timeout=self.timeout)
        try:
            conn.request(method, url, body=data, headers=headers)
            resp = conn.getresponse()
            raw = resp.read()
            status = resp.status
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
        try:
            payload = json.loads(raw) if raw else {}
        except ValueError:
            payload = {"message": self.redactor(raw[:200].decode("utf-8", "replace"))}
        if status >= 400:
            raise self._error(status, payload, method, path)
        return status, payload

    def _error(self, status: int, payload: dict, method: str, path: str) -> KubeApiError:
        message = self.redactor(str(payload.get("message") or f"HTTP {status}"))
        reason = str(payload.get("reason") or "")
        hints = {
            401: "the kubeconfig's credentials were refused: fetch a fresh kubeconfig from the cluster",
            403: "the kubeconfig's user lacks RBAC permission for this; use the cluster-admin kubeconfig",
            409: "another field manager owns these fields; homelab applies with force=true, so this is a "
                 "resourceVersion conflict: run the apply again",
            422: "the object is invalid for this cluster: check the rendered manifest",
        }
        return KubeApiError(status, reason, f"Kubernetes API {method} {path}: {status} {reason}: {message}",
                            hints.get(status), payload)

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

    def resource_for(self, api_version: str, kind: str, *, refresh: bool = True) -> ResourceInfo:
        group, _, version = api_version.rpartition("/")
        for attempt in (0, 1):
            if group and version not in self._group_versions(group):
                info = None
            else:
                info = self._resources(api_version).get(kind)
            if info:
                return info
            if attempt == 0 and refresh:
                self._discovery.pop(api_version, None)
                self._groups = None
                continue
            break
        raise NotServed(f"the cluster does not serve {kind} ({api_version})")

    # -------------------------------------------------------------------- objects
    def apply(self, obj: dict, *, field_manager: str = FIELD_MANAGER, force: bool = True) -> tuple[int, dict]:
        info = self.resource_for(obj["apiVersion"], obj["kind"])
        meta = obj.get("metadata") or {}
        query = {"fieldManager": field_manager}
        if force:
            query["force"] = "true"
        return self.request("PATCH", info.url(meta["name"], meta.get("namespace")), query=query, body=obj,
                            content_type=APPLY_PATCH)

    def get(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> dict | None:
        info = self.resource_for(api_version, kind)
        try:
            return self.request("GET", info.url(name, namespace))[1]
        except KubeApiError as exc:
            if exc.code == 404:
                return None
            raise

    def delete(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> bool:
        try:
            info = self.resource_for(api_version, kind)
            self.request("DELETE", info.url(name, namespace))
            return True
        except NotServed:
            return False
        except KubeApiError as exc:
            if exc.code == 404:
                return False
            raise

    def version(self) -> dict:
        return self.request("GET", "/version")[1]


def _temp_file(content: str, temps: list[str]) -> str:
    fd, path = tempfile.mkstemp(prefix="homelab-kube-", suffix=".pem")  # 0600
    temps.append(path)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(content)
    return path


# ------------------------------------------------------------------------------------------ manifests
def load_manifests(paths: Iterable[Path]) -> list[dict]:
    """Kubernetes objects from YAML files (multi-document; `kind: List` expanded); others skipped."""
    from ruamel.yaml import YAML

    yaml = YAML(typ="safe", pure=True)
    objects: list[dict] = []
    for path in paths:
        files = sorted(p for p in path.rglob("*") if p.suffix in (".yaml", ".yml")) if path.is_dir() else [path]
        for f in files:
            try:
                docs = list(yaml.load_all(f.read_text(encoding="utf-8")))
            except Exception as exc:  # noqa: BLE001
                raise EngineError(f"{f}: not valid YAML ({type(exc).__name__})") from None
            for doc in docs:
                for obj in (doc.get("items") or []) if isinstance(doc, dict) and doc.get("kind") == "List" else [doc]:
                    if isinstance(obj, dict) and obj.get("apiVersion") and obj.get("kind") and \
                            (obj.get("metadata") or {}).get("name"):
                        objects.append(obj)
    return objects


def apply_order(objects: list[dict]) -> list[dict]:
    return [o for _, _, o in sorted(((_KIND_RANK.get(o["kind"], 5), i, o) for i, o in enumerate(objects)),
                                    key=lambda t: (t[0], t[1]))]


def _ident(obj: dict) -> str:
    meta = obj.get("metadata") or {}
    ns = f"{meta['namespace']}/" if meta.get("namespace") else ""
    return f"{obj['kind']}/{ns}{meta.get('name')}"


@dataclass
class ObjectResult:
    ident: str
    action: str  # created | configured | unchanged | deleted | absent


# ------------------------------------------------------------------------------------------ engine
@dataclass
class KubernetesEngine(Engine):
    """Engine for `argocd_bootstrap.*` and `argocd_app.*`."""

    client_factory: Callable[[ClusterAccess, Redactor], KubeClient] | None = None
    field_manager: str = FIELD_MANAGER
    force: bool = True  # take over fields another manager owns (homelab is the source of truth)
    crd_timeout: float = 180.0
    poll_interval: float = 1.0
    sleep: Callable[[float], None] = time.sleep
    name: str = field(default="kubernetes", init=False)
    # read_facts reports every live Application / bootstrap it is asked about: absence means "not live"
    fact_types: ClassVar[frozenset[str]] = frozenset({"argocd_app", "argocd_bootstrap"})

    # -------------------------------------------------------------------- plumbing
    def _argocd(self, ctx: EngineContext):
        gitops = getattr(ctx.doc.lab, "gitops", None)
        return gitops.argocd if gitops else None

    def _kubeconfig_path(self, ctx: EngineContext) -> Path | None:
        argo = self._argocd(ctx)
        if not argo or not argo.kubeconfig:
            return None
        p = Path(argo.kubeconfig).expanduser()
        if not p.is_absolute():
            lab_dir = Path(ctx.doc.file).parent if getattr(ctx.doc, "file", None) else Path.cwd()
            p = lab_dir / p
        return p

    def client(self, ctx: EngineContext) -> KubeClient:
        path = self._kubeconfig_path(ctx)
        if path is None:
            raise EngineError("gitops.argocd.kubeconfig is not set")
        access = load_kubeconfig(path, self._argocd(ctx).context)
        if access.token is not None:
            ctx.redactor.add(access.token)
        if self.client_factory is not None:
            return self.client_factory(access, ctx.redactor)
        return KubeClient(access, redactor=ctx.redactor)

    # -------------------------------------------------------------------- Engine protocol
    def status(self, ctx: EngineContext) -> EngineStatus:
        if self._kubeconfig_path(ctx) is None:
            return EngineStatus(False, False, "gitops.argocd.kubeconfig is not set")
        try:
            client = self.client(ctx)
            version = client.version()
            client.request("GET", "/api")  # unlike /version (often anonymous), this needs valid credentials
        except EngineError as exc:
            return EngineStatus(True, False, ctx.redactor(exc.message))
        return EngineStatus(True, True, f"Kubernetes {version.get('gitVersion', '?')} at {client.access.server}")

    def read_facts(self, ctx: EngineContext, addresses: list[str]) -> dict[str, dict]:
        client = self.client(ctx)
        argo = self._argocd(ctx)
        argo_ns = argo.namespace if argo else "argocd"
        facts: dict[str, dict] = {}
        argocd_served = self._argocd_served(client)
        for address in sorted(set(addresses)):
            kind, _, name = address.partition(".")
            if kind == "argocd_bootstrap":
                ns = name or argo_ns
                if argocd_served and client.get("v1", "Namespace", ns) is not None:
                    facts[address] = {"namespace": ns}
            elif kind == "argocd_app" and argocd_served:
                found = []
                for obj in self._app_objects(ctx, name, argo_ns):
                    if obj["kind"] != "Application":
                        continue
                    meta = obj["metadata"]
                    found.append(client.get(obj["apiVersion"], "Application", meta["name"], meta.get("namespace")))
                if found and all(live is not None for live in found):  # one missing: not (fully) live
                    facts[address] = worst_facts([application_facts(live) for live in found])
        return facts

    @staticmethod
    def partition(changes: list[Change]) -> list[list[Change]]:
        """Each address is an independent set of objects: one unit per change."""
        return [[c] for c in sorted(changes, key=_change_order)]

    def apply(self, ctx: EngineContext, changes: list[Change]) -> list[ApplyResult]:
        client = self.client(ctx)
        argo = self._argocd(ctx)
        argo_ns = argo.namespace if argo else "argocd"
        results: list[ApplyResult] = []
        for change in sorted(changes, key=_change_order):
            kind, _, name = change.address.partition(".")
            try:
                if kind == "argocd_bootstrap":
                    objects = load_manifests(self._existing(ctx, ["k8s/bootstrap"]))
                    if not objects:
                        raise EngineError("k8s/bootstrap has no Kubernetes manifests",
                                          hint="run `homelab render` first")
                elif kind == "argocd_app":
                    objects = self._app_objects(ctx, name, argo_ns)
                    if change.action != "delete" and not self._rendered(ctx, name):
                        raise EngineError(f"{change.address} has no rendered manifest in k8s/",
                                          hint="run `homelab render` first")
                else:
                    raise EngineError(f"the kubernetes engine cannot apply {change.address}")
                if change.action == "delete":
                    done = self.delete_objects(ctx, client, objects)
                elif change.action == "no-op":
                    done = []
                else:
                    done = self.apply_objects(ctx, client, objects, argo=argo)
            except EngineError as exc:
                exc.results = list(results)
                raise
            summary = _summary(done)
            results.append(ApplyResult(change.address, True, summary,
                                       attrs={"objects": sorted(r.ident for r in done)}))
        return results

    # -------------------------------------------------------------------- work
    def _existing(self, ctx: EngineContext, rels: list[str]) -> list[Path]:
        return [Path(ctx.workdir) / r for r in rels if (Path(ctx.workdir) / r).exists()]

    @staticmethod
    def _app_files(ctx: EngineContext, name: str) -> tuple[list[Path], bool]:
        """(files, applications only) of an argocd_app address; ([], False) when nothing is rendered."""
        ns, _, app = name.partition("/")
        base = Path(ctx.workdir) / "k8s"
        candidates = ([base / "platform" / f"{app}.yaml", base / "platform" / app] if ns == "platform" else
                      [base / "apps" / ns / f"{app}.yaml", base / "apps" / ns / app])
        for c in candidates:
            if c.exists():
                return [c], False
        if ns == "platform" and (base / "platform").is_dir():
            return sorted((base / "platform").glob(f"{app}-*.yaml")), True
        return [], False

    def _rendered(self, ctx: EngineContext, name: str) -> bool:
        files, only_apps = self._app_files(ctx, name)
        return bool(files) and (not only_apps or any(o["kind"] == "Application" for o in load_manifests(files)))

    def _app_objects(self, ctx: EngineContext, name: str, argo_ns: str) -> list[dict]:
        ns, _, app = name.partition("/")
        files, only_apps = self._app_files(ctx, name)
        if files:
            objects = load_manifests(files)
            if only_apps:
                objects = [o for o in objects if o["kind"] == "Application"]
            if objects:
                return objects
        # not rendered (e.g. removed from the lab): the Application by its name in ArgoCD's namespace
        return [{"apiVersion": f"{ARGOCD_GROUP}/{ARGOCD_VERSION}", "kind": "Application",
                 "metadata": {"name": app, "namespace": argo_ns}}]

    @staticmethod
    def _argocd_served(client: KubeClient) -> bool:
        try:
            client.resource_for(f"{ARGOCD_GROUP}/{ARGOCD_VERSION}", "Application")
            return True
        except NotServed:
            return False

    def apply_objects(self, ctx: EngineContext, client: KubeClient, objects: list[dict], *, argo=None
                      ) -> list[ObjectResult]:
        """Server-side apply, in order; waits for kinds whose CRD is establishing."""
        crd_kinds = {((o.get("spec") or {}).get("group"), ((o.get("spec") or {}).get("names") or {}).get("kind"))
                     for o in objects if o["kind"] == "CustomResourceDefinition"}
        pending = apply_order(objects)
        done: list[ObjectResult] = []
        deadline = None
        while pending:
            waiting = []
            for obj in pending:
                try:
                    client.resource_for(obj["apiVersion"], obj["kind"])
                except NotServed:
                    waiting.append(obj)
                    continue
                done.append(self._apply_one(ctx, client, obj))
            if not waiting:
                break
            first = waiting[0]
            group = first["apiVersion"].rpartition("/")[0]
            if (group, first["kind"]) not in crd_kinds and group == ARGOCD_GROUP:
                chart = argo.chart if argo else None
                raise EngineError(
                    f"ArgoCD is not installed on the cluster ({first['kind']} {first['apiVersion']} is not served) "
                    f"and k8s/bootstrap has no {ARGOCD_INSTALL_FILE}",
                    hint=HELM_HINT.format(chart=chart.name if chart else "argo-cd",
                                          repo=chart.repo if chart else "https://argoproj.github.io/argo-helm",
                                          version=(chart.version if chart else None) or "<version>",
                                          ns=argo.namespace if argo else "argocd"))
            now = time.monotonic()
            deadline = deadline or now + self.crd_timeout
            if now >= deadline:
                kinds = sorted({f"{o['kind']} ({o['apiVersion']})" for o in waiting})
                raise EngineError(f"the cluster still does not serve {', '.join(kinds)} after "
                                  f"{self.crd_timeout:g}s", hint="is the CRD that defines it installed "
                                  "(its chart synced by ArgoCD)?")
            ctx.progress(f"kubernetes: waiting for {waiting[0]['kind']} ({waiting[0]['apiVersion']}) to be served")
            self.sleep(self.poll_interval)
            client.invalidate()
            pending = waiting
        return done

    def _apply_one(self, ctx: EngineContext, client: KubeClient, obj: dict) -> ObjectResult:
        ident = _ident(obj)
        body = {k: v for k, v in obj.items() if k != "status"}
        meta = dict(body.get("metadata") or {})
        for k in ("managedFields", "resourceVersion", "uid", "creationTimestamp", "generation"):
            meta.pop(k, None)
        body["metadata"] = meta
        info = client.resource_for(obj["apiVersion"], obj["kind"])
        if info.namespaced and not meta.get("namespace"):
            meta["namespace"] = "default"
        before = client.get(obj["apiVersion"], obj["kind"], meta["name"], meta.get("namespace"))
        try:
            code, live = client.apply(body, field_manager=self.field_manager, force=self.force)
        except KubeApiError as exc:
            raise KubeApiError(exc.code, exc.reason, f"applying {ident} failed: {exc.message}", exc.hint,
                               exc.body) from None
        if code == 201:
            action = "created"
        elif before and (before.get("metadata") or {}).get("resourceVersion") == \
                (live.get("metadata") or {}).get("resourceVersion"):
            action = "unchanged"
        else:
            action = "configured"
        ctx.progress(f"kubernetes: {ident} {action}")
        return ObjectResult(ident, action)

    def delete_objects(self, ctx: EngineContext, client: KubeClient, objects: list[dict]) -> list[ObjectResult]:
        out = []
        for obj in reversed(apply_order(objects)):
            meta = obj.get("metadata") or {}
            if obj["kind"] in ("Namespace", "CustomResourceDefinition"):
                continue  # never cascade away a namespace or a CRD (and everything in it) implicitly
            gone = client.delete(obj["apiVersion"], obj["kind"], meta["name"], meta.get("namespace"))
            out.append(ObjectResult(_ident(obj), "deleted" if gone else "absent"))
            ctx.progress(f"kubernetes: {_ident(obj)} {'deleted' if gone else 'already absent'}")
        return out


def _change_order(change: Change):
    kind = change.address.partition(".")[0]
    return (0 if kind == "argocd_bootstrap" else 1, change.address)


def _summary(done: list[ObjectResult]) -> str:
    if not done:
        return "nothing to do"
    counts: dict[str, int] = {}
    for r in done:
        counts[r.action] = counts.get(r.action, 0) + 1
    return ", ".join(f"{n} {a}" for a, n in sorted(counts.items()))


SYNC_ORDER = ("Synced", "OutOfSync", "Unknown")
HEALTH_ORDER = ("Healthy", "Suspended", "Progressing", "Missing", "Degraded", "Unknown")  # ArgoCD's healthOrder


def worst_facts(facts: list[dict]) -> dict:
    """One address, several Applications: the first one's facts with the worst sync and health."""
    out = dict(facts[0])
    for key, order in (("sync", SYNC_ORDER), ("health", HEALTH_ORDER)):
        values = [f.get(key, "Unknown") for f in facts]
        out[key] = max(values, key=lambda v: order.index(v) if v in order else len(order))
    return out


def application_facts(app: dict) -> dict:
    """{namespace, sync, health, revision, operation} of an ArgoCD Application (absent keys omitted)."""
    status = app.get("status") or {}
    spec = app.get("spec") or {}
    sync = status.get("sync") or {}
    out = {
        "sync": sync.get("status") or "Unknown",
        "health": (status.get("health") or {}).get("status") or "Unknown",
    }
    revision = sync.get("revision") or (sync.get("revisions") or [None])[0]
    if revision:
        out["revision"] = revision
    dest_ns = (spec.get("destination") or {}).get("namespace")
    if dest_ns:
        out["namespace"] = dest_ns
    phase = (status.get("operationState") or {}).get("phase")
    if phase:
        out["operation"] = phase
    return out
