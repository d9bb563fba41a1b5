"""A contract fake of the Elasticsearch 8 REST calls the Ansible roles make (no Elasticsearch server can run
here). HTTPS on 127.0.0.1 with a throw-away CA, HTTP basic auth for `elastic` and bearer service tokens,
the documented request paths, response bodies and error envelopes. It records every request (method,
path, JSON body) so tests can check what the roles asked for.

Written from primary sources, not from the roles:
- elastic/elasticsearch-specification (schema): `security/authenticate`, `security/change_password`,
  `security/create_service_token` (PUT|POST /_security/service/{namespace}/{service}/credential/token/{name}
  -> {"created": true, "token": {"name", "value"}}), `security/delete_service_token` (-> {"found": bool}),
  `snapshot/create_repository`, `snapshot/get_repository`, `slm/put_lifecycle` (policy_id; body schedule,
  name, repository, config, retention {expire_after, min_count, max_count}), `slm/get_lifecycle`
  ({id: {version, modified_date_millis, policy}}), `cluster/health`, `_types/Errors.ts` (the error envelope
  {"error": {"root_cause", "type", "reason"}, "status"});
- elastic/elasticsearch ReservedRealm.java: the `elastic` user's password is the keystore's
  `bootstrap.password` until a password is stored (`bootstrap_password` / `stored_password` here);
- Elasticsearch reference, "Cron expressions": Quartz syntax, `<seconds> <minutes> <hours> <day_of_month>
  <month> <day_of_week> [year]`, one of the two day fields must be `?` (SLM rejects anything else);
- engine-api-facts.md §4.1: every response carries `X-Elastic-Product: Elasticsearch`;
- snapshots (elasticsearch-specification `snapshot/create`, `snapshot/get`, `snapshot/restore`, `slm/execute_lifecycle`,
  `slm/get_lifecycle`; Elasticsearch reference "Create snapshot API", "Get snapshot API", "Restore snapshot API"):
  PUT|POST /_snapshot/{repo}/{snapshot} (body indices, ignore_unavailable, include_global_state, metadata,
  partial; `?wait_for_completion=true` -> {"snapshot": SnapshotInfo}, else {"accepted": true}); GET
  /_snapshot/{repo}/_all|{snapshot} -> {"snapshots": [SnapshotInfo], "total", "remaining"}; POST
  /_snapshot/{repo}/{snapshot}/_restore (body indices, rename_pattern, rename_replacement,
  include_global_state, include_aliases, ignore_unavailable, partial, index_settings, ignore_index_settings,
  feature_states; `?wait_for_completion=true` -> {"snapshot": {"snapshot", "indices", "shards"}}), refused
  with snapshot_restore_exception (500) when an open index of the same name exists; rename_pattern is a Java
  regex whose groups rename_replacement refers to as $1 (Python's re with `$n` -> `\\n` here); POST
  /_slm/policy/{id}/_execute -> {"snapshot_name"}; GET /_slm/policy -> every policy; indices as
  GET /{index}/_count -> {"count", "_shards"} and DELETE /{index} -> {"acknowledged": true}. Snapshot and index
  names must be lowercase (invalid_snapshot_name_exception, 400). Time stamps are real UTC milliseconds.

UNCONFIRMED (marked where used): the exact `reason` texts of some errors.
"""

from __future__ import annotations

import base64
import datetime
import ipaddress
import json
import re
import secrets
import ssl
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

SERVICE_ACCOUNTS = {"elastic/fleet-server", "elastic/fleet-server-remote", "elastic/kibana",
                    "elastic/enterprise-search-server", "elastic/auto-ops"}
_TOKEN_PATH = re.compile(r"^/_security/service/([^/]+)/([^/]+)/credential/token/([^/]+)$")
_CRON_FIELD = re.compile(r"^[0-9A-Za-z*?/,\-#LW]+$")


def _nested(flat: dict) -> dict:
    out: dict = {}
    for key, value in flat.items():
        node = out
        *parents, last = key.split(".")
        for p in parents:
            node = node.setdefault(p, {})
        node[last] = value
    return out


def make_tls(directory: Path) -> tuple[Path, Path, Path]:
    """A CA and a server certificate for 127.0.0.1 / localhost: (ca.crt, server.crt, server.key)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fake-es test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
          .not_valid_after(now + datetime.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                        x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))
    directory.mkdir(parents=True, exist_ok=True)
    paths = directory / "ca.crt", directory / "server.crt", directory / "server.key"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return paths


def error(status: int, kind: str, reason: str) -> tuple[int, dict]:
    cause = {"type": kind, "reason": reason}
    return status, {"error": {"root_cause": [cause], **cause}, "status": status}


def valid_es_cron(expr: str) -> str | None:
    """None when Elasticsearch would take the cron expression, else why not (the documented rules)."""
    fields = expr.split()
    if len(fields) not in (6, 7):
        return f"invalid cron expression [{expr}]: expected 6 or 7 fields"
    if not all(_CRON_FIELD.match(f) for f in fields):
        return f"invalid cron expression [{expr}]"
    dom, dow = fields[3], fields[5]
    if (dom == "?") == (dow == "?"):
        return (f"invalid cron expression [{expr}]: support for specifying both a day-of-week AND a "
                "day-of-month parameter is not implemented")  # Quartz's message; UNCONFIRMED for ES
    if not re.fullmatch(r"[0-9*/,\-]+", fields[0]):
        return f"invalid cron expression [{expr}]: seconds"
    if re.search(r"(^|[^0-9])[0]([^0-9]|$)", dow) or "8" in dow:
        return f"invalid cron expression [{expr}]: day-of-week values must be between 1 and 7"
    return None


@dataclass
class FakeElasticsearch:
    bootstrap_password: str
    stored_password: str | None = None
    tokens: dict = field(default_factory=dict)  # (namespace, service, name) -> value
    repositories: dict = field(default_factory=dict)
    slm: dict = field(default_factory=dict)
    requests: list = field(default_factory=list)  # (method, path, json body or None)
    # the cluster as a rolling upgrade sees it (cluster/health, cluster/put_settings, cat/nodes schemas):
    health: dict = field(default_factory=lambda: {"status": "green", "relocating_shards": 0,
                                                  "initializing_shards": 0, "unassigned_shards": 0})
    settings: dict = field(default_factory=lambda: {"persistent": {}, "transient": {}})  # flat keys
    nodes: dict = field(default_factory=dict)  # name -> {"version": "8.18.0", "node.role": "dm"}
    _query = ""  # the query string of the request being routed (not a field)
    queries: list = field(default_factory=list)  # (method, path, query string) of every request
    indices: dict = field(default_factory=dict)  # index name -> {"docs": int, "open": bool}
    snapshots: dict = field(default_factory=dict)  # repository -> {snapshot name -> SnapshotInfo}

    # ---------------------------------------------------------------- serving
    def start(self, directory: Path) -> str:
        self.ca_file, cert, key = make_tls(directory)
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def _serve(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:
                    body = "<not json>"
                status, payload, extra = fake.handle(self.command, self.path, self.headers, body)
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("X-Elastic-Product", "Elasticsearch")
                for k, v in extra.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_PUT = do_POST = do_DELETE = _serve

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return f"https://127.0.0.1:{self.server.server_address[1]}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    # ---------------------------------------------------------------- logic
    def elastic_password(self) -> str:
        return self.stored_password if self.stored_password is not None else self.bootstrap_password

    def _who(self, headers) -> dict | None:
        auth = headers.get("Authorization") or ""
        if auth.startswith("Basic "):
            try:
                user, _, password = base64.b64decode(auth[6:]).decode().partition(":")
            except ValueError:
                return None
            if user == "elastic" and password == self.elastic_password():
                return {"username": "elastic", "roles": ["superuser"], "enabled": True,
                        "authentication_realm": {"name": "reserved", "type": "reserved"},
                        "lookup_realm": {"name": "reserved", "type": "reserved"}, "authentication_type": "realm"}
            return None
        if auth.startswith("Bearer "):
            for (ns, svc, name), value in self.tokens.items():
                if secrets.compare_digest(value, auth[7:]):
                    return {"username": f"{ns}/{svc}", "roles": [], "enabled": True,
                            "authentication_realm": {"name": "_service_account", "type": "_service_account"},
                            "authentication_type": "token",
                            "token": {"name": name, "type": "_service_account_index"}}
        return None

    def handle(self, method: str, path: str, headers, body) -> tuple[int, dict, dict]:
        self.requests.append((method, path.split("?")[0], body))
        self.queries.append((method, path.split("?")[0], path.partition("?")[2]))
        who = self._who(headers)
        if who is None:
            status, payload = error(401, "security_exception",
                                    f"unable to authenticate user for REST request [{path}]")
            return status, payload, {"WWW-Authenticate": 'Basic realm="security", charset="UTF-8"'}
        self._query = path.partition("?")[2]
        query = dict(p.partition("=")[::2] for p in path.partition("?")[2].split("&") if p)
        status, payload = self.route(method, path.split("?")[0], body, who, query)
        return status, payload, {}

    def route(self, method, path, body, who, query=None) -> tuple[int, dict]:
        query = query or {}
        answer = snapshot_route(self, method, path, body, query)
        if answer is not None:
            return answer
        if path == "/_security/_authenticate" and method == "GET":
            return 200, who
        if path == "/_cluster/health" and method == "GET":
            return 200, {"cluster_name": "homelab-logs", "timed_out": False,
                         "number_of_nodes": len(self.nodes) or 9, "number_of_data_nodes": 6, **self.health}
        if path == "/_cluster/settings":
            return self._settings(method, body)
        if path == "/_cat/nodes" and method == "GET":
            if "format=json" not in self._query:
                return error(400, "illegal_argument_exception", "this fake serves _cat/nodes with format=json only")
            return 200, [{"name": n, "version": v.get("version"), "node.role": v.get("node.role", "dm")}
                         for n, v in sorted(self.nodes.items())]
        m = re.fullmatch(r"/_security/user/([^/]+)/_password", path)
        if m and method in ("PUT", "POST"):
            if not isinstance(body, dict) or not body.get("password"):
                return error(400, "action_request_validation_exception", "Validation Failed: 1: password must be specified;")
            if len(body["password"]) < 6:
                return error(400, "action_request_validation_exception",
                             "Validation Failed: 1: passwords must be at least [6] characters long;")
            if m.group(1) == "elastic":
                self.stored_password = body["password"]
            return 200, {}
        m = _TOKEN_PATH.fullmatch(path)
        if m:
            return self._token(method, m.groups(), who)
        m = re.fullmatch(r"/_snapshot/([^/]+)", path)
        if m:
            return self._repository(method, m.group(1), body)
        m = re.fullmatch(r"/_slm/policy/([^/]+)", path)
        if m:
            return self._slm(method, m.group(1), body)
        if path == "/_slm/policy" and method == "GET":
            return 200, dict(self.slm)
        return error(400, "illegal_argument_exception", f"no handler found for uri [{path}] and method [{method}]")

    def _settings(self, method, body):
        """cluster/get_settings (flat_settings=true: dotted keys, else nested) and cluster/put_settings (a null
        value removes the setting; the answer echoes what was set, with acknowledged)."""
        if method == "GET":
            if "flat_settings=true" in self._query:
                return 200, {k: dict(v) for k, v in self.settings.items()}
            return 200, {k: _nested(v) for k, v in self.settings.items()}
        if method != "PUT" or not isinstance(body, dict):
            return error(400, "illegal_argument_exception", "no handler found for uri [/_cluster/settings]")
        echoed = {}
        for scope in ("persistent", "transient"):
            for key, value in (body.get(scope) or {}).items():
                if value is None:
                    self.settings[scope].pop(key, None)
                else:
                    self.settings[scope][key] = str(value)
            echoed[scope] = _nested({k: v for k, v in (body.get(scope) or {}).items() if v is not None})
        return 200, {"acknowledged": True, **echoed}

    def _token(self, method, key, who):
        ns, svc, name = key
        if f"{ns}/{svc}" not in SERVICE_ACCOUNTS:
            return error(400, "illegal_argument_exception", f"service account [{ns}/{svc}] does not exist")
        if who["username"] != "elastic":
            return error(403, "security_exception", f"action is unauthorized for user [{who['username']}]")
        if method == "DELETE":
            found = self.tokens.pop(key, None) is not None
            return (200 if found else 404), {"found": found}
        if method in ("PUT", "POST"):
            if key in self.tokens:
                return error(409, "version_conflict_engine_exception",  # reason text UNCONFIRMED
                             f"[service_account_token-{ns}/{svc}/{name}]: version conflict, document already exists")
            raw = f"{ns}/{svc}/{name}:{secrets.token_urlsafe(16)}".encode()
            value = "AAEAA" + base64.urlsafe_b64encode(raw).decode().rstrip("=")
            self.tokens[key] = value
            return 200, {"created": True, "token": {"name": name, "value": value}}
        return error(405, "illegal_argument_exception", f"method [{method}] not allowed")

    def _repository(self, method, name, body):
        if method == "GET":
            if name not in self.repositories:
                return error(404, "repository_missing_exception", f"[{name}] missing")
            return 200, {name: self.repositories[name]}
        if method in ("PUT", "POST"):
            if not isinstance(body, dict) or body.get("type") not in ("s3", "fs"):
                return error(400, "repository_exception", f"[{name}] repository type [{(body or {}).get('type')}] "
                                                          "does not exist")
            settings = {k: (json.dumps(v) if isinstance(v, bool) else str(v))
                        for k, v in (body.get("settings") or {}).items()}  # the cluster keeps strings
            if body["type"] == "s3" and not settings.get("bucket"):
                return error(500, "repository_exception", f"[{name}] No bucket defined for s3 repository")  # UNCONFIRMED
            self.repositories[name] = {"type": body["type"], "settings": settings}
            return 200, {"acknowledged": True}
        return error(405, "illegal_argument_exception", f"method [{method}] not allowed")

    def _slm(self, method, policy_id, body):
        if method == "GET":
            if policy_id not in self.slm:
                return error(404, "resource_not_found_exception",
                             f"snapshot lifecycle policy or policies [{policy_id}] not found")
            return 200, {policy_id: self.slm[policy_id]}
        if method == "PUT":
            if not isinstance(body, dict):
                return error(400, "parse_exception", "request body is required")
            problem = valid_es_cron(str(body.get("schedule", "")))
            if problem:
                return error(400, "illegal_argument_exception", problem)
            if body.get("repository") not in self.repositories:
                return error(400, "illegal_argument_exception", f"no such repository [{body.get('repository')}]")
            expire = (body.get("retention") or {}).get("expire_after")
            if expire is not None and not re.fullmatch(r"\d+(d|h|m|s|ms|micros|nanos)", str(expire)):
                return error(400, "illegal_argument_exception", f"failed to parse setting [expire_after] with value [{expire}]")
            version = self.slm.get(policy_id, {}).get("version", 0) + 1
            self.slm[policy_id] = {"version": version, "modified_date_millis": 1_700_000_000_000 + version,
                                   "policy": {"name": body.get("name"), "schedule": body["schedule"],
                                              "repository": body["repository"],
                                              **({"config": body["config"]} if "config" in body else {}),
                                              **({"retention": body["retention"]} if "retention" in body else {})}}
            return 200, {"acknowledged": True}
        return error(405, "illegal_argument_exception", f"method [{method}] not allowed")


# -------------------------------------------------------------------------------------------- snapshots
_SNAPSHOT_BODY = {"indices", "ignore_unavailable", "include_global_state", "metadata", "partial", "feature_states",
                  "expand_wildcards"}
_RESTORE_BODY = {"indices", "rename_pattern", "rename_replacement", "include_global_state", "include_aliases",
                 "ignore_unavailable", "partial", "index_settings", "ignore_index_settings", "feature_states",
                 "rename_alias_pattern", "rename_alias_replacement"}


def _millis() -> int:
    return int(datetime.datetime.now(datetime.UTC).timestamp() * 1000)


def _iso(ms: int) -> str:
    return datetime.datetime.fromtimestamp(ms / 1000, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _names(value, pool) -> list[str]:
    """indices as a comma-separated string or a list, with * wildcards, against the names in pool."""
    import fnmatch

    wanted = value.split(",") if isinstance(value, str) else list(value or ["*"])
    return sorted({n for n in pool for w in wanted if fnmatch.fnmatchcase(n, w.strip())})


def _unknown(body, allowed, what) -> tuple[int, dict] | None:
    extra = sorted(set(body or {}) - allowed)
    if extra:  # reason text UNCONFIRMED; the type and status are the parser's
        return error(400, "x_content_parse_exception", f"[1:2] [{what}] unknown field [{extra[0]}]")
    return None


def snapshot_route(fake, method, path, body, query):
    m = re.fullmatch(r"/_snapshot/([^/]+)/([^/]+)(/_restore)?", path)
    if m:
        repo, snap, restore = m.groups()
        if repo not in fake.repositories:
            return error(404, "repository_missing_exception", f"[{repo}] missing")
        if restore:
            return _restore(fake, repo, snap, body, query) if method == "POST" else error(
                405, "illegal_argument_exception", f"method [{method}] not allowed")
        if method == "GET":
            return _get_snapshots(fake, repo, snap)
        if method in ("PUT", "POST"):
            return _create_snapshot(fake, repo, snap, body, query)
        return None
    m = re.fullmatch(r"/_slm/policy/([^/]+)/_execute", path)
    if m and method in ("PUT", "POST"):
        if m.group(1) not in fake.slm:
            return error(404, "resource_not_found_exception",
                         f"snapshot lifecycle policy or policies [{m.group(1)}] not found")
        policy = fake.slm[m.group(1)]["policy"]
        name = policy["name"].strip("<>").replace("{now/d}", datetime.date.today().strftime("%Y.%m.%d"))
        name = f"{name}-{secrets.token_hex(4)}"
        _create_snapshot(fake, policy["repository"], name, policy.get("config") or {}, {},
                         {"policy": m.group(1)})
        return 200, {"snapshot_name": name}
    m = re.fullmatch(r"/([a-z0-9][^/_]*[^/]*)/_count", path)
    if m and method in ("GET", "POST"):
        if m.group(1) not in fake.indices:
            return error(404, "index_not_found_exception", f"no such index [{m.group(1)}]")
        return 200, {"count": fake.indices[m.group(1)]["docs"],
                     "_shards": {"total": 1, "successful": 1, "skipped": 0, "failed": 0}}
    m = re.fullmatch(r"/([a-z0-9][^/_]*[^/]*)", path)
    if m and method == "DELETE":
        if m.group(1) not in fake.indices:
            return error(404, "index_not_found_exception", f"no such index [{m.group(1)}]")
        del fake.indices[m.group(1)]
        return 200, {"acknowledged": True}
    return None


def _create_snapshot(fake, repo, snap, body, query, metadata=None):
    bad = _unknown(body, _SNAPSHOT_BODY, "create_snapshot")
    if bad:
        return bad
    if snap != snap.lower() or snap.startswith(("_", "-")):
        return error(400, "invalid_snapshot_name_exception",
                     f"[{repo}:{snap}] Invalid snapshot name [{snap}], must be lowercase")
    taken = fake.snapshots.setdefault(repo, {})
    if snap in taken:
        return error(400, "invalid_snapshot_name_exception",
                     f"[{repo}:{snap}] Invalid snapshot name [{snap}], snapshot with the same name already exists")
    indices = _names((body or {}).get("indices"), fake.indices)
    start = _millis()
    info = {"snapshot": snap, "uuid": secrets.token_urlsafe(16), "repository": repo, "version_id": 8180099,
            "version": "8.18.0", "indices": indices, "data_streams": [], "include_global_state":
            (body or {}).get("include_global_state", True), "state": "SUCCESS", "start_time": _iso(start),
            "start_time_in_millis": start, "end_time": _iso(start + 1), "end_time_in_millis": start + 1,
            "duration_in_millis": 1, "failures": [], "shards": {"total": len(indices), "failed": 0,
                                                                "successful": len(indices)},
            "feature_states": []}
    meta = {**((body or {}).get("metadata") or {}), **(metadata or {})}
    if meta:
        info["metadata"] = meta
    info["_docs"] = {i: fake.indices[i]["docs"] for i in indices}  # what a restore brings back (not served)
    taken[snap] = info
    if query.get("wait_for_completion") == "true":
        return 200, {"snapshot": _public(info)}
    return 200, {"accepted": True}


def _public(info: dict) -> dict:
    return {k: v for k, v in info.items() if not k.startswith("_")}


def _get_snapshots(fake, repo, snap):
    taken = fake.snapshots.get(repo, {})
    if snap in ("_all", "*"):
        found = sorted(taken.values(), key=lambda i: i["start_time_in_millis"])
    elif snap in taken:
        found = [taken[snap]]
    else:
        return error(404, "snapshot_missing_exception", f"[{repo}:{snap}] is missing")
    return 200, {"snapshots": [_public(i) for i in found], "total": len(found), "remaining": 0}


def _restore(fake, repo, snap, body, query):
    bad = _unknown(body, _RESTORE_BODY, "restore_snapshot")
    if bad:
        return bad
    info = fake.snapshots.get(repo, {}).get(snap)
    if info is None:
        return error(404, "snapshot_missing_exception", f"[{repo}:{snap}] is missing")
    body = body or {}
    chosen = _names(body.get("indices"), info["_docs"])
    pattern, replacement = body.get("rename_pattern"), body.get("rename_replacement")
    targets = {}
    for index in chosen:
        new = index
        if pattern is not None and replacement is not None:
            new = re.sub(pattern, re.sub(r"\$(\d+)", r"\\\1", replacement), index)
        if new in fake.indices and fake.indices[new].get("open", True):
            return error(500, "snapshot_restore_exception",
                         f"[{repo}:{snap}/{info['uuid']}] cannot restore index [{new}] because an open index with same "
                         "name already exists in the cluster. Either close or delete the existing index or restore "
                         "the index under a different name by providing a rename pattern and replacement name")
        targets[index] = new
    for index, new in targets.items():
        fake.indices[new] = {"docs": info["_docs"][index], "open": True}
    if query.get("wait_for_completion") == "true":
        return 200, {"snapshot": {"snapshot": snap, "indices": sorted(targets.values()),
                                  "shards": {"total": len(targets), "failed": 0, "successful": len(targets)}}}
    return 200, {"accepted": True}
