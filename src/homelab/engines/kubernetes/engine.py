"""The kubernetes engine: server-side apply of the rendered manifests; ArgoCD status for facts.

Talks to the cluster of the user's kubeconfig (`gitops.argocd.kubeconfig`, a path relative to the lab
file's directory; context `gitops.argocd.context` or the current one) through `KubeClient`.

- Order: Namespaces, then CustomResourceDefinitions, then the rest (AppProjects before Applications);
  an object whose kind is not served yet waits (up to `crd_timeout`) while its CRD establishes. An ArgoCD
  kind that nothing being applied defines fails at once with an instruction (see `rendered`). The ArgoCD
  install is the argo-cd chart rendered with the Helm library (`argocd_install`).
- Result of one object: created (201), configured, or unchanged (200 and the resourceVersion did not move).
- Delete: the address's objects in reverse order, never a Namespace or a CRD (that would cascade away
  everything in it); an object already gone is "absent".
- Errors: an apply that fails names the object ("applying ConfigMap/argocd/argocd-cm failed: ...").

Facts: `argocd_app.*` -> {namespace (destination), sync, health, revision, operation} read from the
Application's `.status` (several Applications of one address: the worst, see `argocd_status`);
`argocd_bootstrap.<ns>` -> {namespace} when ArgoCD's namespace exists and its Application CRD is served.
A missing object is absent from the facts — and as both types are in `fact_types`, the planner reads that
as "not live" (create), not as "plan from state".
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from homelab.engines.base import ApplyResult, Change, Engine, EngineContext, EngineStatus
from homelab.engines.kubernetes import rendered
from homelab.engines.kubernetes.argocd_status import (
    ARGOCD_API_VERSION,
    ARGOCD_GROUP,
    application_facts,
    worst_facts,
)
from homelab.engines.kubernetes.client import KubeApiError, KubeClient, NotServed
from homelab.engines.kubernetes.kubeconfig import load_kubeconfig
from homelab.engines.kubernetes.manifests import apply_order, ident
from homelab.errors import EngineError

_SERVER_SET = ("managedFields", "resourceVersion", "uid", "creationTimestamp", "generation")


@dataclass
class ObjectResult:
    ident: str
    action: str  # created | configured | unchanged | deleted | absent


@dataclass
class KubernetesEngine(Engine):
    """Engine for `argocd_bootstrap.*` and `argocd_app.*`."""

    crd_timeout: float = 180.0
    poll_interval: float = 1.0
    sleep: Callable[[float], None] = time.sleep
    name: str = field(default="kubernetes", init=False)
    # read_facts reports every live Application / bootstrap it is asked about: absence means "not live"
    fact_types: ClassVar[frozenset[str]] = frozenset({"argocd_app", "argocd_bootstrap"})

    # -------------------------------------------------------------------- plumbing
    @staticmethod
    def _argocd(ctx: EngineContext):
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
        argo_ns = self._argocd(ctx).namespace
        facts: dict[str, dict] = {}
        argocd_served = _argocd_served(client)
        for address in sorted(set(addresses)):
            kind, _, name = address.partition(".")
            if kind == "argocd_bootstrap":
                ns = name or argo_ns
                if argocd_served and client.get("v1", "Namespace", ns) is not None:
                    facts[address] = {"namespace": ns}
            elif kind == "argocd_app" and argocd_served:
                found = [client.get(obj["apiVersion"], "Application", obj["metadata"]["name"],
                                    obj["metadata"].get("namespace"))
                         for obj in rendered.app_objects(ctx.workdir, name, argo_ns) if obj["kind"] == "Application"]
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
        results: list[ApplyResult] = []
        for change in sorted(changes, key=_change_order):
            try:
                objects = self._objects_of(ctx, change, argo.namespace)
                if change.action == "delete":
                    done = self.delete_objects(ctx, client, objects)
                elif change.action == "no-op":
                    done = []
                else:
                    done = self.apply_objects(ctx, client, objects, argo)
            except EngineError as exc:
                exc.results = list(results)
                raise
            results.append(ApplyResult(change.address, True, _summary(done),
                                       attrs={"objects": sorted(r.ident for r in done)}))
        return results

    # -------------------------------------------------------------------- work
    @staticmethod
    def _objects_of(ctx: EngineContext, change: Change, argo_ns: str) -> list[dict]:
        kind, _, name = change.address.partition(".")
        if kind == "argocd_bootstrap":
            install = KubernetesEngine._argocd(ctx) if change.action != "delete" else None  # never template to delete
            objects = rendered.bootstrap_objects(ctx.workdir, install, ctx.state_dir)
            if not objects:
                raise EngineError("k8s/bootstrap has no Kubernetes manifests", hint="run `homelab render` first")
            return objects
        if kind == "argocd_app":
            objects = rendered.app_objects(ctx.workdir, name, argo_ns)
            if change.action != "delete" and not rendered.is_rendered(ctx.workdir, name):
                raise EngineError(f"{change.address} has no rendered manifest in k8s/",
                                  hint="run `homelab render` first")
            return objects
        raise EngineError(f"the kubernetes engine cannot apply {change.address}")

    def apply_objects(self, ctx: EngineContext, client: KubeClient, objects: list[dict], argo) -> list[ObjectResult]:
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
                raise rendered.argocd_missing(first, argo)
            now = time.monotonic()
            deadline = deadline or now + self.crd_timeout
            if now >= deadline:
                kinds = sorted({f"{o['kind']} ({o['apiVersion']})" for o in waiting})
                raise EngineError(f"the cluster still does not serve {', '.join(kinds)} after "
                                  f"{self.crd_timeout:g}s", hint="is the CRD that defines it installed "
                                  "(its chart synced by ArgoCD)?")
            ctx.progress(f"kubernetes: waiting for {first['kind']} ({first['apiVersion']}) to be served")
            self.sleep(self.poll_interval)
            client.invalidate()
            pending = waiting
        return done

    @staticmethod
    def _apply_one(ctx: EngineContext, client: KubeClient, obj: dict) -> ObjectResult:
        name = ident(obj)
        body = {k: v for k, v in obj.items() if k != "status"}
        meta = {k: v for k, v in (body.get("metadata") or {}).items() if k not in _SERVER_SET}
        body["metadata"] = meta
        info = client.resource_for(obj["apiVersion"], obj["kind"])
        if info.namespaced and not meta.get("namespace"):
            meta["namespace"] = "default"
        before = client.get(obj["apiVersion"], obj["kind"], meta["name"], meta.get("namespace"))
        try:
            code, live = client.apply(body)
        except KubeApiError as exc:
            raise KubeApiError(exc.code, exc.reason, f"applying {name} failed: {exc.message}", exc.hint,
                               exc.body) from None
        if code == 201:
            action = "created"
        elif before and (before.get("metadata") or {}).get("resourceVersion") == \
                (live.get("metadata") or {}).get("resourceVersion"):
            action = "unchanged"
        else:
            action = "configured"
        ctx.progress(f"kubernetes: {name} {action}")
        return ObjectResult(name, action)

    @staticmethod
    def delete_objects(ctx: EngineContext, client: KubeClient, objects: list[dict]) -> list[ObjectResult]:
        out = []
        for obj in reversed(apply_order(objects)):
            meta = obj.get("metadata") or {}
            if obj["kind"] in ("Namespace", "CustomResourceDefinition"):
                continue  # never cascade away a namespace or a CRD (and everything in it) implicitly
            gone = client.delete(obj["apiVersion"], obj["kind"], meta["name"], meta.get("namespace"))
            out.append(ObjectResult(ident(obj), "deleted" if gone else "absent"))
            ctx.progress(f"kubernetes: {ident(obj)} {'deleted' if gone else 'already absent'}")
        return out


def _argocd_served(client: KubeClient) -> bool:
    try:
        client.resource_for(ARGOCD_API_VERSION, "Application")
        return True
    except NotServed:
        return False


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
