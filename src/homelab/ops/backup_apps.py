"""Kubernetes apps in `homelab backup apps` / `homelab restore app` / `homelab drill`: Velero objects made
through the Kubernetes API (engines/kubernetes/client.py), never the velero CLI.

* backup: like `velero backup create NAME --from-schedule SCHEDULE` (velero pkg/builder/backup_builder.go
  FromSchedule): a `velero.io/v1 Backup` named `<schedule>-<UTC YYYYMMDDHHMMSS>` in Velero's namespace,
  whose spec is the Schedule's `spec.template` as it is in the cluster, labelled
  `velero.io/schedule-name: <schedule>`. Created with server-side apply (a new name, so it creates).
* restore: a `velero.io/v1 Restore` with `backupName` = the newest Backup in phase Completed whose
  `includedNamespaces` covers the app's namespace (`*` or empty = every namespace, minus
  `excludedNamespaces`), `includedNamespaces: [ns]` and, with --to, `namespaceMapping: {ns: to}` (Velero
  docs, "Restore Reference": restore into a different namespace).
* Phases (the Backup/Restore CRDs of the velero chart 12.1.0, `status.phase` enums): polled until one of
  the terminal ones or the wait runs out.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

from homelab.errors import EngineError, UsageError
from homelab.ops.backup import Prepared
from homelab.render.kubernetes.velero import schedule_object_name

VELERO = "velero.io/v1"
SCHEDULE_LABEL = "velero.io/schedule-name"  # velero pkg/apis/velero/v1/labels_annotations.go
BACKUP_DONE = {"Completed", "PartiallyFailed", "Failed", "FailedValidation"}
RESTORE_DONE = {"Completed", "PartiallyFailed", "Failed", "FailedValidation"}


def _kubeconfig(doc, kubeconfig: str | None) -> Path | None:
    if kubeconfig:
        return Path(kubeconfig).expanduser()
    argo = doc.lab.gitops.argocd if getattr(doc.lab, "gitops", None) else None
    if argo and argo.kubeconfig:
        p = Path(argo.kubeconfig).expanduser()
        return p if p.is_absolute() else Path(doc.file).parent / p
    return None


def client_for(doc, kubeconfig: str | None, context: str | None):
    from homelab.engines.kubernetes.client import KubeClient
    from homelab.engines.kubernetes.kubeconfig import load_kubeconfig
    from homelab.secrets import REDACTOR

    path = _kubeconfig(doc, kubeconfig)
    if path is None:
        return None
    argo = doc.lab.gitops.argocd if getattr(doc.lab, "gitops", None) else None
    return KubeClient(load_kubeconfig(path, context or (argo.context if argo else None)), redactor=REDACTOR)


def _namespace(doc) -> str:
    return doc.lab.platform.velero.namespace


def _stamp() -> str:
    return datetime.now(UTC).strftime("%Y%m%d%H%M%S")


def wait_phase(client, kind: str, name: str, ns: str, done: set[str], wait: float, say, every: float = 1.0) -> dict:
    deadline = time.monotonic() + wait
    last = None
    while True:
        obj = client.get(VELERO, kind, name, ns) or {}
        phase = (obj.get("status") or {}).get("phase") or "New"
        if phase != last:
            say(f"{kind} {name}: {phase}")
            last = phase
        if phase in done or time.monotonic() >= deadline:
            return obj
        time.sleep(every)


def prepare_backup(doc, kubeconfig: str | None, context: str | None, schedule: str | None,
                   wait: float = 600.0) -> Prepared:
    velero = doc.lab.backup.velero
    if not velero or not velero.schedules:
        return Prepared(skip="the lab has no Velero schedule (backup.velero.schedules)")
    names = [s.name for s in velero.schedules]
    name = schedule or names[0]
    if name not in names and not name.startswith("app-"):
        raise UsageError(f"no Velero schedule {name!r} in the lab", f"one of: {', '.join(names)}")
    client = client_for(doc, kubeconfig, context)
    if client is None:
        return Prepared(skip="no Kubernetes connection (pass --kubeconfig or set gitops.argocd.kubeconfig)")
    ns = _namespace(doc)
    obj = schedule_object_name(name)  # the lab's `daily-apps` is the chart's Schedule `velero-daily-apps`
    lines = [f"apps: a Velero Backup from Schedule {ns}/{obj} (its template as the cluster has it) at "
             f"{client.access.server}; waits up to {wait:.0f}s for it to finish"]
    return Prepared(lines, lambda say: run_backup(client, ns, obj, say, wait))


def run_backup(client, ns: str, schedule: str, say, wait: float) -> dict:
    sched = client.get(VELERO, "Schedule", schedule, ns)
    if sched is None:
        raise EngineError(f"the cluster has no Velero Schedule {ns}/{schedule}",
                          "sync Velero and its schedules first (`homelab apply`)")
    name = f"{schedule}-{_stamp()}"
    labels = {**((sched.get("metadata") or {}).get("labels") or {}), SCHEDULE_LABEL: schedule}
    labels.pop("app.kubernetes.io/managed-by", None)  # the Backup is not a rendered object
    obj = {"apiVersion": VELERO, "kind": "Backup", "metadata": {"name": name, "namespace": ns, "labels": labels},
           "spec": dict((sched.get("spec") or {}).get("template") or {})}
    say(f"apps: creating Backup {ns}/{name}")
    client.apply(obj)
    done = wait_phase(client, "Backup", name, ns, BACKUP_DONE, wait, say)
    status = done.get("status") or {}
    progress = status.get("progress") or {}
    return {"kind": "apps", "what": f"Velero Backup {ns}/{name} from schedule {schedule}",
            "backup": name, "phase": status.get("phase") or "New", "created": _now(),
            "items": progress.get("itemsBackedUp"), "errors": status.get("errors", 0),
            "warnings": status.get("warnings", 0), "namespaces": obj["spec"].get("includedNamespaces")}


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def covers(backup: dict, ns: str) -> bool:
    spec = backup.get("spec") or {}
    included = spec.get("includedNamespaces") or ["*"]
    return ("*" in included or ns in included) and ns not in (spec.get("excludedNamespaces") or [])


def _finished(b: dict) -> str:
    st = b.get("status") or {}
    return st.get("completionTimestamp") or (b.get("metadata") or {}).get("creationTimestamp") or ""


def backups(client, ns: str) -> list[dict]:
    info = client.resource_for(VELERO, "Backup")
    return list(client.request("GET", info.url(None, ns))[1].get("items") or [])


def latest_completed(client, velero_ns: str, app_ns: str | None = None) -> dict | None:
    good = [b for b in backups(client, velero_ns) if (b.get("status") or {}).get("phase") == "Completed"
            and (app_ns is None or covers(b, app_ns))]
    return max(good, key=_finished) if good else None


def prepare_restore(doc, app: str, to: str | None, kubeconfig: str | None, context: str | None) -> Prepared:
    found = next((a for a in doc.lab.apps if a.name == app), None)
    if found is None:
        raise UsageError(f"no app {app!r} in the lab", "give the name of one of apps[]")
    client = client_for(doc, kubeconfig, context)
    if client is None:
        raise UsageError("no Kubernetes connection", "pass --kubeconfig or set gitops.argocd.kubeconfig")
    ns, velero_ns = found.namespace, _namespace(doc)
    latest = latest_completed(client, velero_ns, ns)
    if latest is None:
        raise EngineError(f"no Completed Velero Backup covers namespace {ns!r} (app {app})",
                          "run `homelab backup apps` first, or check `kubectl -n velero get backups`")
    bname = latest["metadata"]["name"]
    where = f"namespace {to!r} (mapped from {ns!r})" if to else f"namespace {ns!r}"
    lines = [f"app {app}: a Velero Restore of {ns!r} from Backup {bname} (finished {_finished(latest)}) into "
             f"{where} at {client.access.server}"]
    return Prepared(lines, lambda say, wait=300.0: run_restore(client, velero_ns, app, ns, to, bname, say, wait))


def run_restore(client, velero_ns, app, ns, to, backup_name, say, wait) -> dict:
    name = f"{app}-{_stamp()}"
    spec: dict = {"backupName": backup_name, "includedNamespaces": [ns]}
    if to:
        spec["namespaceMapping"] = {ns: to}
    obj = {"apiVersion": VELERO, "kind": "Restore",
           "metadata": {"name": name, "namespace": velero_ns, "labels": {"homelab/app": app}}, "spec": spec}
    say(f"creating Restore {velero_ns}/{name}")
    started = time.monotonic()
    client.apply(obj)
    done = wait_phase(client, "Restore", name, velero_ns, RESTORE_DONE, wait, say) if wait > 0 else obj
    status = done.get("status") or {}
    phase = status.get("phase") or "New"
    detail = f"{status.get('errors', 0)} error(s), {status.get('warnings', 0)} warning(s)" if status else ""
    return {"kind": "apps", "what": f"Velero Restore {velero_ns}/{name} of {ns} from {backup_name}",
            "restore": name, "backup": backup_name, "phase": phase, "detail": detail, "namespace": to or ns,
            "seconds": round(time.monotonic() - started, 3)}
