"""The kubernetes engine: server-side apply of the rendered manifests; ArgoCD status for facts.

Talks to the cluster of the user's kubeconfig (`gitops.argocd.kubeconfig`, a path relative to the lab
file's directory; context `gitops.argocd.context` or the current one) through `KubeClient`.

- Order: Namespaces, then CustomResourceDefinitions, then the rest (AppProjects before Applications);
  an object whose kind is not served yet waits (up to `crd_timeout`) while its CRD establishes. An ArgoCD
  kind that nothing being applied defines fails at once with an instruction (see `rendered`). The ArgoCD
  install is the argo-cd chart rendered with the Helm library (`argocd_install`).
- Result of one object: created (201), configured, or unchanged (200 and the resourceVersion did not move).
- Being deleted: an object with `metadata.deletionTimestamp` (finalizers hold it — ArgoCD's
  `resources-finalizer.argocd.argoproj.io` while it removes the app's resources) is gone as far as homelab
  is concerned: applying to it would change nothing and it would vanish afterwards, so apply waits (up to
  `delete_wait`) until it is gone, then creates it; still there then is an error naming the finalizers.
- Delete: the address's objects in reverse order, never a Namespace or a CRD (that would cascade away
  everything in it); an object already gone is "absent"; one its finalizers still hold after `delete_wait`
  is "deleting" (the API server accepted the deletion; its controller finishes it).
- Errors: an apply that fails names the object ("applying ConfigMap/argocd/argocd-cm failed: ...").

Facts: `argocd_app.*` -> {namespace (destination), sync, health, revision | revisions, operation} read from
the Application's `.status` (several Applications of one address: the worst, see `argocd_status`), plus
{deleting, finalizers} while it is being deleted; `argocd_bootstrap.<ns>` -> {namespace} (and {deleting}) when
ArgoCD's namespace exists and its Application CRD is served. A missing object is absent from the facts —
and as both types are in `fact_types`, the planner reads that as "not live" (create), not as "plan from
state". A 403 on a read is an error that names what may not be read (the planner then plans the layer
from state and says why), never "absent".
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
    deletion_facts,
    worst_facts,
)
from homelab.engines.kubernetes.client import KubeApiError, KubeClient, NotServed
from homelab.engines.kubernetes.kubeconfig import load_kubeconfig
from homelab.engines.kubernetes.manifests import apply_order, ident, kind_rank
from homelab.errors import EngineError

_SERVER_SET = ("managedFields", "resourceVersion", "uid", "creationTimestamp", "generation")


@dataclass
class ObjectResult:
    ident: str
    action: str  # created | configured | unchanged | deleted | deleting | absent


@dataclass
class KubernetesEngine(Engine):
    """Engine for `argocd_bootstrap.*` and `argocd_app.*`."""

    crd_timeout: float = 180.0
    delete_wait: float = 30.0  # how long an object being deleted may take to go
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
        try:
            return self._read_facts(ctx, client, argo_ns, addresses)
        except KubeApiError as exc:
            if exc.code != 403:
                raise
            raise EngineError(f"the kubeconfig's user may not read what the plan needs: {exc.message}",
                              hint="give it get/list on Namespaces and argoproj.io Applications (or use the "
                                   "cluster-admin kubeconfig)") from None

    @staticmethod
    def _read_facts(ctx, client: KubeClient, argo_ns: str, addresses: list[str]) -> dict[str, dict]:
        facts: dict[str, dict] = {}
        argocd_served = _argocd_served(client)
        for address in sorted(set(addresses)):
            kind, _, name = address.partition(".")
            if kind == "argocd_bootstrap":
                ns = name or argo_ns
                live_ns = client.get("v1", "Namespace", ns) if argocd_served else None
                if live_ns is not None:
                    facts[address] = {"namespace": ns, **deletion_facts(live_ns)}
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
                if waiting and kind_rank(obj) > kind_rank(waiting[0]):
                    waiting.append(obj)  # keep the order: an Application never before its AppProject
                    continue
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

    def _apply_one(self, ctx: EngineContext, client: KubeClient, obj: dict) -> ObjectResult:
        name = ident(obj)
        body = {k: v for k, v in obj.items() if k != "status"}
        meta = {k: v for k, v in (body.get("metadata") or {}).items() if k not in _SERVER_SET}
        body["metadata"] = meta
        info = client.resource_for(obj["apiVersion"], obj["kind"])
        if info.namespaced and not meta.get("namespace"):
            meta["namespace"] = "default"
        before = client.get(obj["apiVersion"], obj["kind"], meta["name"], meta.get("namespace"))
        if before is not None and deletion_facts(before):
            before = self._wait_gone(ctx, client, obj, before)
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

    def _wait_gone(self, ctx: EngineContext, client: KubeClient, obj: dict, live: dict | None,
                   then: str = "creating it again") -> None:
        """An object being deleted: wait (up to `delete_wait`) until its finalizers let it go."""
        meta = obj.get("metadata") or {}
        deadline = time.monotonic() + self.delete_wait
        while live is not None and deletion_facts(live):
            if time.monotonic() >= deadline:
                held = ", ".join(live["metadata"].get("finalizers") or []) or "its finalizers"
                raise EngineError(f"{ident(obj)} is being deleted (since {live['metadata']['deletionTimestamp']}) and "
                                  f"is still held by {held} after {self.delete_wait:g}s",
                                  hint="its controller is still cleaning up (ArgoCD removes the app's resources "
                                       "first): apply again once it is gone")
            ctx.progress(f"kubernetes: {ident(obj)} is being deleted; waiting for it to go, then {then}")
            self.sleep(self.poll_interval)
            live = client.get(obj["apiVersion"], obj["kind"], meta["name"], meta.get("namespace"))
        return None

    def delete_objects(self, ctx: EngineContext, client: KubeClient, objects: list[dict]) -> list[ObjectResult]:
        out = []
        for obj in reversed(apply_order(objects)):
            meta = obj.get("metadata") or {}
            if obj["kind"] in ("Namespace", "CustomResourceDefinition"):
                continue  # never cascade away a namespace or a CRD (and everything in it) implicitly
            answer = client.delete(obj["apiVersion"], obj["kind"], meta["name"], meta.get("namespace"))
            if answer is None:
                action, said = "absent", "already absent"
            elif answer.get("kind") == "Status" or not deletion_facts(answer):
                action, said = "deleted", "deleted"
            else:
                try:
                    self._wait_gone(ctx, client, obj, answer, then="it is deleted")
                    action, said = "deleted", "deleted"
                except EngineError:
                    held = ", ".join(answer["metadata"].get("finalizers") or [])
                    action, said = "deleting", f"deletion accepted; still held by {held} after {self.delete_wait:g}s"
            out.append(ObjectResult(ident(obj), action))
            ctx.progress(f"kubernetes: {ident(obj)} {said}")
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
