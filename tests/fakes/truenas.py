"""A contract fake of the TrueNAS REST API v2.0 calls the truenas engine makes (no TrueNAS can run here):
HTTPS on 127.0.0.1 with a throw-away CA, API keys as bearer tokens, the documented paths, request schemas,
response entries and error envelopes. It records every request (method, path, query, JSON body) so tests can
check what the engine sent against the documented shapes (`DOCUMENTED`).

Written from primary sources, not from the engine (TrueNAS 24.10 middleware, tag TS-24.10.2):
- `restful.py`: `Authorization: Bearer <key>`, a bad key -> 401 text `Invalid API key`, no credentials ->
  401; CRUD routes `GET|POST /api/v2.0/<service>` and `GET|PUT|DELETE /api/v2.0/<service>/id/{id}`; query
  filters as `?field=value`; ValidationErrors -> 422 `{"<schema>.<attr>": [{"message", "errno"}]}`, CallError
  -> 422 `{"message", "errno"}`, MatchNotFound (GET of a missing id) -> 404 `{"message"}`;
- `schema/dict_schema.py`, `schema/attribute.py`, `schema/enum.py`: "attribute required", "Field was not
  expected" (strict/unknown attribute), "Invalid choice: X";
- `service/crud_service.py`: get_instance of a missing id -> InstanceNotFound (a ValidationError with no
  attribute, errno ENOENT) "<verbose name> <id> does not exist" (422);
- `plugins/snapshot.py` (pool.snapshottask): the `periodic_snapshot_create` schema (dataset, recursive,
  exclude, lifetime_value, lifetime_unit HOUR|DAY|WEEK|MONTH|YEAR, naming_schema, schedule {minute, hour,
  dom, month, dow, begin, end}, allow_empty, enabled), `_validate` ("Dataset not found", exclude rules),
  update refusing to disable a task bound to an enabled replication, delete refusing to remove the last
  task bound to an enabled push replication (CallError); entries add id, vmware_sync, state;
- `plugins/replication.py` (replication): the strict `replication_create` schema, `_validate` (unique name,
  push needs a bound task, SSH needs ssh_credentials, retention policy vs lifetime, "This snapshot task does
  not exist"); entries carry `ssh_credentials` as the whole keychain credential and `periodic_snapshot_tasks`
  as task entries (api/v25_10_0/replication.py ReplicationEntry);
- api.truenas.com v25.04 `pool.snapshottask.create`: naming_schema must contain %Y, %m, %d, %H and %M.

UNCONFIRMED (marked where used): the exact texts of the naming-schema message (zettarepl) and of a missing
task's delete.
"""

from __future__ import annotations

import json
import sys
import threading
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from fakes.elasticsearch import make_tls  # noqa: E402

EINVAL, ENOENT, EFAULT = 22, 2, 14
UNITS = ("HOUR", "DAY", "WEEK", "MONTH", "YEAR")
SCHEDULE = {"minute": "00", "hour": "*", "dom": "*", "month": "*", "dow": "*", "begin": "00:00", "end": "23:59"}

# The request schemas: attribute -> (required, default); what the engine may send.
DOCUMENTED = {
    "periodic_snapshot_create": {
        "dataset": (True, None), "recursive": (True, None), "exclude": (False, []),
        "lifetime_value": (True, None), "lifetime_unit": (True, None), "naming_schema": (True, None),
        "schedule": (True, None), "allow_empty": (False, True), "enabled": (False, True),
    },
    "replication_create": {
        "name": (True, None), "direction": (True, None), "transport": (True, None),
        "ssh_credentials": (False, None), "netcat_active_side": (False, None),
        "netcat_active_side_listen_address": (False, None), "netcat_active_side_port_min": (False, None),
        "netcat_active_side_port_max": (False, None), "netcat_passive_side_connect_address": (False, None),
        "sudo": (False, False), "source_datasets": (False, []), "target_dataset": (True, None),
        "recursive": (True, None), "exclude": (False, []), "properties": (False, True),
        "properties_exclude": (False, []), "properties_override": (False, {}), "replicate": (False, False),
        "encryption": (False, False), "encryption_inherit": (False, None), "encryption_key": (False, None),
        "encryption_key_format": (False, None), "encryption_key_location": (False, None),
        "periodic_snapshot_tasks": (False, []), "naming_schema": (False, []),
        "also_include_naming_schema": (False, []), "name_regex": (False, None), "auto": (True, None),
        "schedule": (False, None), "restrict_schedule": (False, None), "only_matching_schedule": (False, False),
        "allow_from_scratch": (False, False), "readonly": (False, "SET"), "hold_pending_snapshots": (False, False),
        "retention_policy": (True, None), "lifetime_value": (False, None), "lifetime_unit": (False, None),
        "lifetimes": (False, []), "compression": (False, None), "speed_limit": (False, None),
        "large_block": (False, True), "embed": (False, False), "compressed": (False, True), "retries": (False, 5),
        "logging_level": (False, None), "enabled": (False, True),
    },
}
ENUMS = {
    "periodic_snapshot_create": {"lifetime_unit": UNITS},
    "replication_create": {"direction": ("PUSH", "PULL"), "transport": ("SSH", "SSH+NETCAT", "LOCAL"),
                           "readonly": ("SET", "REQUIRE", "IGNORE"), "retention_policy": ("SOURCE", "CUSTOM", "NONE"),
                           "lifetime_unit": (None, *UNITS)},
}


class Verrors(dict):
    def add(self, attr: str, message: str, errno: int = EINVAL) -> None:
        self.setdefault(attr, []).append({"message": message, "errno": errno})


def schema_errors(schema: str, body, update: bool) -> tuple[dict, Verrors]:
    """The middleware's schema cleaning: unknown attributes, required ones, enums, defaults filled in."""
    verrors = Verrors()
    if not isinstance(body, dict):
        verrors.add(schema, "Not a dictionary")
        return {}, verrors
    spec = DOCUMENTED[schema.replace("_update", "_create")]
    for key in body:
        if key not in spec:
            verrors.add(f"{schema}.{key}", "Field was not expected")
    data = dict(body)
    for key, (required, default) in spec.items():
        if key not in data and not update:
            if required:
                verrors.add(f"{schema}.{key}", "attribute required")
            else:
                data[key] = json.loads(json.dumps(default))
    for key, choices in ENUMS[schema.replace("_update", "_create")].items():
        if key in data and data[key] not in choices:
            verrors.add(f"{schema}.{key}", f"Invalid choice: {data[key]}")
    if isinstance(data.get("schedule"), dict):
        data["schedule"] = {**SCHEDULE, **data["schedule"]}
    return data, verrors


@dataclass
class FakeTrueNas:
    api_key: str
    datasets: set = field(default_factory=lambda: {"tank", "tank/k8s", "tank/k8s/iscsi", "tank/k8s/nfs"})
    tasks: dict = field(default_factory=dict)  # id -> stored task
    replications: dict = field(default_factory=dict)  # id -> stored replication (ids, not entries)
    credentials: dict = field(default_factory=dict)  # id -> keychain credential
    requests: list = field(default_factory=list)  # (method, path, query, json body or None)
    version: str = "TrueNAS-SCALE-24.10.2"
    _next: int = 1

    # ---------------------------------------------------------------- serving
    def start(self, directory: Path) -> str:
        import ssl

        self.ca_file, cert, key = make_tls(directory)
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def _serve(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                url = urllib.parse.urlsplit(self.path)
                query = dict(urllib.parse.parse_qsl(url.query))
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:
                    body = raw.decode("utf-8", "replace")
                fake.requests.append((self.command, url.path, query, body))
                status, payload, ctype = fake.handle(self.command, url.path, query, self.headers, body)
                data = payload.encode() if ctype.startswith("text/") else json.dumps(payload, indent=True).encode()
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = _serve

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(str(cert), str(key))
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return f"https://127.0.0.1:{self.server.server_address[1]}/api/v2.0"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    # ---------------------------------------------------------------- state helpers (tests use them too)
    def new_id(self) -> int:
        self._next += 1
        return self._next - 1

    def add_ssh_connection(self, name: str) -> int:
        key_id = self.new_id()
        self.credentials[key_id] = {"id": key_id, "name": f"{name}-key", "type": "SSH_KEY_PAIR", "attributes": {
            "private_key": "-----BEGIN OPENSSH PRIVATE KEY-----\nFAKE-PRIVATE-KEY-DO-NOT-LEAK\n", "public_key": "ssh-ed25519 AAAA"}}
        ident = self.new_id()
        self.credentials[ident] = {"id": ident, "name": name, "type": "SSH_CREDENTIALS", "attributes": {
            "host": "192.0.2.10", "port": 22, "username": "root", "private_key": key_id,
            "remote_host_key": "ssh-ed25519 AAAA", "connect_timeout": 10}}
        return ident

    def task_entry(self, task: dict) -> dict:
        return {**json.loads(json.dumps(task)), "vmware_sync": False, "state": {"state": "PENDING"}}

    def replication_entry(self, rep: dict) -> dict:
        out = json.loads(json.dumps(rep))
        out["ssh_credentials"] = self.credentials.get(rep["ssh_credentials"]) if rep["ssh_credentials"] else None
        out["periodic_snapshot_tasks"] = [{k: v for k, v in self.tasks[i].items()} for i in rep["periodic_snapshot_tasks"]
                                          if i in self.tasks]
        return {**out, "state": {"state": "PENDING"}, "job": None, "has_encrypted_dataset_keys": False}

    # ---------------------------------------------------------------- routing
    def handle(self, method, path, query, headers, body) -> tuple[int, object, str]:
        auth = headers.get("Authorization") or ""
        if not auth:
            return 401, "401: Unauthorized", "text/plain; charset=utf-8"
        if not auth.startswith("Bearer ") or auth[7:] != self.api_key:
            return 401, "Invalid API key", "text/plain; charset=utf-8"
        if not path.startswith("/api/v2.0/"):
            return 404, "404: Not Found", "text/plain; charset=utf-8"
        status, payload = self.route(method, path[len("/api/v2.0"):].rstrip("/"), query, body)
        return status, payload, "application/json"

    def route(self, method, path, query, body) -> tuple[int, object]:
        if (method, path) == ("GET", "/system/version"):
            return 200, self.version
        if (method, path) == ("GET", "/keychaincredential"):
            return 200, [c for c in self.credentials.values() if all(str(c.get(k)) == v for k, v in query.items())]
        for service, store in (("/pool/snapshottask", "tasks"), ("/replication", "replications")):
            if path == service or path.startswith(service + "/id/"):
                ident = path[len(service + "/id/"):] if path != service else None
                return self._crud(store, method, int(ident) if ident and ident.isdigit() else ident, body)
        return 404, {"message": f"{path} not found"}

    def _crud(self, store, method, ident, body) -> tuple[int, object]:
        items = getattr(self, store)
        entry = self.task_entry if store == "tasks" else self.replication_entry
        verbose = "Periodic Snapshot Task" if store == "tasks" else "Replication Task"
        if ident is None and method == "GET":
            return 200, [entry(items[i]) for i in sorted(items)]
        if ident is None and method == "POST":
            return (self._task_write if store == "tasks" else self._replication_write)(None, body)
        if ident is None:
            return 405, {"message": "Method Not Allowed"}
        if ident not in items:
            if method == "GET":
                return 404, {"message": ""}  # MatchNotFound()
            # InstanceNotFound: a ValidationError without attribute (the key serializes as null); UNCONFIRMED
            # for delete, which may instead succeed on a missing id
            return 422, {"null": [{"message": f"{verbose} {ident} does not exist", "errno": ENOENT}]}
        if method == "GET":
            return 200, entry(items[ident])
        if method == "PUT":
            return (self._task_write if store == "tasks" else self._replication_write)(ident, body)
        if method == "DELETE":
            return self._delete(store, ident)
        return 405, {"message": "Method Not Allowed"}

    # ---------------------------------------------------------------- pool.snapshottask
    def _task_write(self, ident, body) -> tuple[int, object]:
        schema = "periodic_snapshot_update" if ident else "periodic_snapshot_create"
        data, verrors = schema_errors(schema, body, update=ident is not None)
        if verrors:
            return 422, verrors
        new = {**self.tasks[ident], **data} if ident else data
        if new["dataset"] not in self.datasets:
            verrors.add(f"{schema}.dataset", "Dataset not found")
        if not new["recursive"] and new.get("exclude"):
            verrors.add(f"{schema}.exclude", "Excluding datasets is not necessary for non-recursive periodic "
                                             "snapshot tasks")
        for i, v in enumerate(new.get("exclude") or []):
            if not v.startswith(new["dataset"] + "/"):
                verrors.add(f"{schema}.exclude.{i}", "Excluded dataset should be a child or other descendant of "
                                                     "the selected dataset")
        if not all(f"%{c}" in new["naming_schema"] for c in "YmdHM"):  # message UNCONFIRMED (zettarepl)
            verrors.add(f"{schema}.naming_schema", "Naming schema must contain %Y, %m, %d, %H and %M")
        if ident and not new["enabled"]:
            for rep in self.replications.values():
                if rep["enabled"] and ident in rep["periodic_snapshot_tasks"]:
                    verrors.add(f"{schema}.enabled", "You can't disable this periodic snapshot task because it is "
                                                     f"bound to enabled replication task {rep['id']!r}")
                    break
        if verrors:
            return 422, verrors
        new["id"] = ident or self.new_id()
        self.tasks[new["id"]] = new
        return 200, self.task_entry(new)

    # ---------------------------------------------------------------- replication
    def _replication_write(self, ident, body) -> tuple[int, object]:
        schema = "replication_update" if ident else "replication_create"
        data, verrors = schema_errors(schema, body, update=ident is not None)
        if verrors:
            return 422, verrors
        new = {**self.replications[ident], **data} if ident else data
        if any(r["name"] == new["name"] and r["id"] != ident for r in self.replications.values()):
            verrors.add(f"{schema}.name", "Object with this name already exists")
        for i, task in enumerate(new["periodic_snapshot_tasks"]):
            if task not in self.tasks:
                verrors.add(f"{schema}.periodic_snapshot_tasks.{i}", "This snapshot task does not exist")
        if new["direction"] == "PUSH":
            if new["naming_schema"]:
                verrors.add(f"{schema}.naming_schema", "This field has no sense for push replication")
            if not new["periodic_snapshot_tasks"] and not new["also_include_naming_schema"] and not new["name_regex"]:
                verrors.add(f"{schema}.periodic_snapshot_tasks", "You must at least either bind a periodic snapshot "
                            "task or provide \"Also Include Naming Schema\" or \"Name Regex\" for push replication task")
        if new["transport"] == "LOCAL" and new["ssh_credentials"] is not None:
            verrors.add(f"{schema}.ssh_credentials", "Remote credentials have no sense for local replication")
        if new["transport"] != "LOCAL":
            cred = self.credentials.get(new["ssh_credentials"])
            if new["ssh_credentials"] is None:
                verrors.add(f"{schema}.ssh_credentials", "SSH Credentials are required for non-local replication")
            elif cred is None or cred["type"] != "SSH_CREDENTIALS":
                verrors.add(f"{schema}.ssh_credentials", "Requested credentials do not exist")  # UNCONFIRMED text
        if new["retention_policy"] == "CUSTOM":
            if new["lifetime_value"] is None or new["lifetime_unit"] is None:
                verrors.add(f"{schema}.lifetime_value", "This field is required for custom retention policy")
        else:
            if new["lifetime_value"] is not None:
                verrors.add(f"{schema}.lifetime_value", "This field has no sense for specified retention policy")
            if new["lifetime_unit"] is not None:
                verrors.add(f"{schema}.lifetime_unit", "This field has no sense for specified retention policy")
        if verrors:
            return 422, verrors
        new["id"] = ident or self.new_id()
        self.replications[new["id"]] = new
        return 200, self.replication_entry(new)

    def _delete(self, store, ident) -> tuple[int, object]:
        if store == "tasks":
            for rep in self.replications.values():
                if rep["direction"] == "PUSH" and rep["enabled"] and not rep["also_include_naming_schema"] \
                        and rep["periodic_snapshot_tasks"] == [ident]:
                    return 422, {"message": "You are deleting the last periodic snapshot task bound to enabled "
                                            f"replication task {rep['name']!r} which will break it. Please, disable "
                                            "that replication task first.", "errno": EFAULT}
        del getattr(self, store)[ident]
        return 200, True
