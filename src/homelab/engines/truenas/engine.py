"""The truenas engine: ZFS periodic snapshot tasks and replication tasks on TrueNAS, through its REST API.

Thin: it reads the tasks that are on the NAS (facts) and executes the creates, updates and deletes the
plan hands it; what the tasks should be is `plan/desired/nas.py`. Configured by `storage.truenas.api_url`;
the API key is read from Vault at `storage.truenas.api_key` (a `path#field` reference), never from the lab.

Identity on the NAS: a snapshot task by (dataset, naming_schema) — TrueNAS tasks have no name — and a
replication task by its (unique) name. A task on the NAS that the lab does not declare is discovered as
`zfs_snapshot_task.truenas-id-<id>` (or `zfs_replication.<name>`) for `plan --prune`.

Facts: the desired attributes' keys as TrueNAS reports them, with the two translations of `nas.py`: a
replication's bound snapshot tasks as addresses and its SSH connection by name (never its attributes).
"""

from __future__ import annotations

import re
import ssl
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from homelab.engines.base import ApplyResult, Change, Engine, EngineContext, EngineStatus
from homelab.engines.truenas.client import TrueNasClient
from homelab.errors import EngineError, HomelabError
from homelab.lab.refs import parse_ref
from homelab.plan.desired.nas import snapshot_tasks

TASK = "zfs_snapshot_task"
REPLICATION = "zfs_replication"
SERVICES = {TASK: "pool/snapshottask", REPLICATION: "replication"}
SCHEDULE_KEYS = ("minute", "hour", "dom", "month", "dow", "begin", "end")
TASK_KEYS = ("dataset", "recursive", "exclude", "lifetime_value", "lifetime_unit", "naming_schema", "schedule",
             "allow_empty", "enabled")
REPLICATION_KEYS = ("name", "direction", "transport", "source_datasets", "target_dataset", "recursive", "auto",
                    "retention_policy", "lifetime_value", "lifetime_unit", "readonly", "enabled")
UNMANAGED = re.compile(r"^truenas-id-(\d+)$")
_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]*$")


def _key(task: dict) -> tuple[str, str]:
    return task.get("dataset", ""), task.get("naming_schema", "")


def task_facts(task: dict) -> dict:
    out = {k: task[k] for k in TASK_KEYS if k in task}
    out["exclude"] = sorted(task.get("exclude") or [])
    if isinstance(task.get("schedule"), dict):
        out["schedule"] = {k: task["schedule"][k] for k in SCHEDULE_KEYS if k in task["schedule"]}
    return {**out, "id": task["id"]}


@dataclass
class Live:
    """What is on the NAS, with the lab's addresses for it."""

    tasks: dict[str, dict] = field(default_factory=dict)  # address -> live task
    replications: dict[str, dict] = field(default_factory=dict)  # address -> live replication
    connections: dict[int, str] = field(default_factory=dict)  # SSH connection id -> name
    ids: dict[int, str] = field(default_factory=dict)  # snapshot task id -> address


@dataclass
class TrueNasEngine(Engine):
    """Engine for `zfs_snapshot_task.*` and `zfs_replication.*`."""

    client_factory: object = None  # (url, api_key, ssl_context) -> client; tests may inject one
    name: str = field(default="truenas", init=False)
    # read_facts reports every task it finds: a desired one it does not report is not on the NAS (create)
    fact_types: ClassVar[frozenset[str]] = frozenset({TASK, REPLICATION})

    # -------------------------------------------------------------------- plumbing
    @staticmethod
    def _nas(ctx: EngineContext):
        return ctx.doc.lab.storage.truenas

    def _ssl(self, ctx: EngineContext, nas) -> ssl.SSLContext:
        if nas.tls_insecure:
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            return context
        if nas.ca_file:
            path = Path(nas.ca_file).expanduser()
            if not path.is_absolute():
                path = Path(ctx.doc.file).resolve().parent / path
            return ssl.create_default_context(cafile=str(path))
        return ssl.create_default_context()

    def client(self, ctx: EngineContext) -> TrueNasClient:
        nas = self._nas(ctx)
        if ctx.read_secret is None:
            raise EngineError(f"no Vault access to read the TrueNAS API key ({nas.api_key})",
                              "start or point homelab at the lab's Vault (homelab vault up / --vault-addr)")
        path, fields = parse_ref(nas.api_key)
        key = ctx.read_secret(path, fields[0] if fields else "api_key")
        ctx.redactor.add(key)
        factory = self.client_factory or TrueNasClient
        return factory(nas.api_url, key, self._ssl(ctx, nas))

    @staticmethod
    def _live(client, desired: dict[str, dict]) -> Live:
        live = Live()
        by_key = {_key(attrs): addr for addr, attrs in desired.items()}
        for task in sorted(client.snapshot_tasks(), key=lambda t: t["id"]):
            addr = by_key.get(_key(task))
            if addr is None or addr in live.tasks:
                addr = f"{TASK}.truenas-id-{task['id']}"
            live.tasks[addr] = task
            live.ids[task["id"]] = addr
        live.connections = {c["id"]: c["name"] for c in client.ssh_connections()}
        for rep in sorted(client.replications(), key=lambda r: r["id"]):
            name = str(rep.get("name", ""))
            addr = f"{REPLICATION}.{name}" if _NAME.match(name) else f"{REPLICATION}.truenas-id-{rep['id']}"
            live.replications[addr] = rep
        return live

    @staticmethod
    def _replication_facts(rep: dict, live: Live) -> dict:
        out = {k: rep[k] for k in REPLICATION_KEYS if k in rep}
        creds = rep.get("ssh_credentials")
        # an entry carries the whole keychain credential (KeychainCredentialEntry); keep its name only
        out["ssh_credentials"] = (creds.get("name") if isinstance(creds, dict)
                                  else live.connections.get(creds) if creds is not None else None)
        bound = [t["id"] if isinstance(t, dict) else t for t in rep.get("periodic_snapshot_tasks") or []]
        out["periodic_snapshot_tasks"] = sorted(live.ids.get(t, f"{TASK}.truenas-id-{t}") for t in bound)
        return {**out, "id": rep["id"]}

    def _open(self, ctx: EngineContext):
        client = self.client(ctx)
        return client, self._live(client, snapshot_tasks(ctx.doc.lab))

    # -------------------------------------------------------------------- Engine protocol
    def status(self, ctx: EngineContext) -> EngineStatus:
        nas = self._nas(ctx)
        if nas is None or not nas.api_url:
            return EngineStatus(False, False, "storage.truenas.api_url is not set")
        try:
            version = self.client(ctx).version()
        except HomelabError as exc:  # the key could not be read from Vault, or the NAS refused or is down
            return EngineStatus(True, False, ctx.redactor(exc.message))
        return EngineStatus(True, True, f"{version} at {nas.api_url}")

    def read_facts(self, ctx: EngineContext, addresses: list[str]) -> dict[str, dict]:
        _, live = self._open(ctx)
        facts = {a: task_facts(t) for a, t in live.tasks.items()}
        facts.update({a: self._replication_facts(r, live) for a, r in live.replications.items()})
        return {a: facts[a] for a in addresses if a in facts}

    def discover(self, ctx: EngineContext) -> list[str]:
        _, live = self._open(ctx)
        lab = ctx.doc.lab
        known = set(snapshot_tasks(lab)) | {f"{REPLICATION}.{r.name}" for r in lab.backup.zfs_replication}
        return sorted(a for a in [*live.tasks, *live.replications] if a not in known)

    def partition(self, changes: list[Change]) -> list[list[Change]]:
        """Each task is its own unit: one refused by the NAS does not fail the others (the plan's graph
        already orders a replication after the snapshot tasks it binds)."""
        return [[c] for c in changes]

    def apply(self, ctx: EngineContext, changes: list[Change]) -> list[ApplyResult]:
        client, live = self._open(ctx)
        results = []
        for change in changes:
            kind = change.address.partition(".")[0]
            current = self._find(live, kind, change)
            ident = current["id"] if current else None
            if change.action == "delete":
                gone = ident is None or not client.delete(SERVICES[kind], ident)
                results.append(ApplyResult(change.address, True, "already gone" if gone else "deleted"))
                continue
            body = dict(change.after or {})
            if kind == REPLICATION:
                body = self._replication_body(body, live)
            if ident is None:
                made = client.create(SERVICES[kind], body)
                verb = "created"
            else:
                made = client.update(SERVICES[kind], ident, body)
                verb = "updated"
            made_id = made.get("id") if isinstance(made, dict) else None
            if kind == TASK and made_id is not None:  # bound by the replications applied after it
                live.tasks[change.address] = made
                live.ids[made_id] = change.address
            results.append(ApplyResult(change.address, True, f"{verb} (id {made_id})", attrs={"id": made_id}))
        return results

    @staticmethod
    def _find(live: Live, kind: str, change: Change) -> dict | None:
        """The live task of a change: by its address, else (one no longer in the lab) by its identity."""
        found = (live.tasks if kind == TASK else live.replications).get(change.address)
        if found is not None:
            return found
        unmanaged = UNMANAGED.match(change.address.partition(".")[2])
        prior = change.before or {}
        for task in (live.tasks if kind == TASK else live.replications).values():
            if unmanaged and task["id"] == int(unmanaged.group(1)):
                return task
            if prior and (_key(task) == _key(prior) if kind == TASK else task.get("name") == prior.get("name")):
                return task
        return None

    def _replication_body(self, body: dict, live: Live) -> dict:
        """The API's ids for what the plan names: bound snapshot tasks and the SSH connection."""
        ids = []
        for addr in body.get("periodic_snapshot_tasks", []):
            task = live.tasks.get(addr)
            if task is None:
                raise EngineError(f"{body['name']}: its snapshot task {addr} is not on the NAS",
                                  "apply the snapshot tasks first (homelab apply without targets)")
            ids.append(task["id"])
        body["periodic_snapshot_tasks"] = ids
        name = body.get("ssh_credentials")
        if name is not None:
            by_name = {v: k for k, v in live.connections.items()}
            if name not in by_name:
                raise EngineError(f"{body['name']}: no SSH connection named {name!r} on the NAS",
                                  "create it in TrueNAS (Credentials > Backup Credentials > SSH Connections) "
                                  "or fix backup.zfs_replication[].ssh_credentials")
            body["ssh_credentials"] = by_name[name]
        return body
