"""A thin Elasticsearch REST client for backups and the rolling upgrade's gates: JSON over `http.client`, HTTP basic auth (the `elastic` user,
its password read from Vault by the caller), TLS verified against a CA file when one is given.

Calls (Elasticsearch 8 reference / elasticsearch-specification): create snapshot `PUT
/_snapshot/{repo}/{snapshot}?wait_for_completion=true`, get snapshots `GET /_snapshot/{repo}/_all`, restore
`POST /_snapshot/{repo}/{snapshot}/_restore?wait_for_completion=true` (indices, rename_pattern,
rename_replacement, include_global_state false), SLM policies `GET /_slm/policy`, `GET /{index}/_count`,
`DELETE /{index}`; for the upgrade gates (ops/upgrade_es.py decides) `GET /_cluster/health`, `GET
/_cluster/settings?flat_settings=true`, `GET /_cat/nodes?format=json`. An error answer ({"error": {"type", "reason"}, "status"}) becomes an EngineError quoting
type and reason; the password never appears in a message.
"""

from __future__ import annotations

import base64
import http.client
import json
import ssl
from urllib.parse import quote, urlencode, urlsplit

from homelab.errors import EngineError


class EsError(EngineError):
    def __init__(self, status: int, kind: str, message: str, hint: str | None = None):
        super().__init__(message, hint)
        self.status, self.kind = status, kind


class EsApi:
    def __init__(self, url: str, password=None, *, user: str = "elastic", ca_file: str | None = None,
                 timeout: float = 120.0):
        password = password.reveal() if hasattr(password, "reveal") else password  # a Secret or a str
        parts = urlsplit(url if "://" in url else f"https://{url}")
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise EngineError(f"{url!r} is not an Elasticsearch URL", "e.g. https://127.0.0.1:9200")
        self.url, self.scheme = f"{parts.scheme}://{parts.netloc}", parts.scheme
        self.host, self.port = parts.hostname, parts.port or 9200
        self.timeout = timeout
        self._auth = ("Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()) if password else None
        self._ssl = ssl.create_default_context(cafile=ca_file) if parts.scheme == "https" else None

    def request(self, method: str, path: str, body: dict | None = None, query: dict | None = None):
        target = path + (("?" + urlencode(query)) if query else "")
        headers = {"Accept": "application/json"}
        if self._auth:
            headers["Authorization"] = self._auth
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        try:
            conn = (http.client.HTTPSConnection(self.host, self.port, timeout=self.timeout, context=self._ssl)
                    if self.scheme == "https" else http.client.HTTPConnection(self.host, self.port, timeout=self.timeout))
            conn.request(method, target, body=data, headers=headers)
            resp = conn.getresponse()
            raw, status = resp.read(), resp.status
            conn.close()
        except ssl.SSLError as exc:
            raise EngineError(f"Elasticsearch at {self.url}: TLS verification failed ({exc.reason})",
                              "pass the cluster's CA file with --es-ca") from None
        except OSError as exc:
            raise EngineError(f"Elasticsearch at {self.url} is not reachable: {exc.strerror or exc}",
                              "check --es-url") from None
        try:
            payload = json.loads(raw) if raw else {}
        except ValueError:
            payload = {}
        if status >= 400:
            err = payload.get("error") if isinstance(payload, dict) and isinstance(payload.get("error"), dict) else {}
            kind, reason = err.get("type") or str(status), err.get("reason") or f"HTTP {status}"
            hint = {401: "the elastic password from Vault (elastic/cluster) was refused"}.get(status)
            raise EsError(status, kind, f"Elasticsearch {method} {path}: {kind}: {reason}", hint)
        return payload

    # ------------------------------------------------------------------ calls
    def create_snapshot(self, repo: str, name: str, *, metadata: dict | None = None) -> dict:
        body = {"include_global_state": True, **({"metadata": metadata} if metadata else {})}
        return self.request("PUT", f"/_snapshot/{quote(repo)}/{quote(name)}", body,
                            {"wait_for_completion": "true"})["snapshot"]

    def snapshots(self, repo: str) -> list[dict]:
        return list(self.request("GET", f"/_snapshot/{quote(repo)}/_all").get("snapshots") or [])

    def restore(self, repo: str, snapshot: str, *, indices: str | None, rename_pattern: str | None,
                rename_replacement: str | None) -> dict:
        body: dict = {"include_global_state": False, "include_aliases": False}
        if indices:
            body["indices"] = indices
        if rename_pattern is not None:
            body["rename_pattern"], body["rename_replacement"] = rename_pattern, rename_replacement
        return self.request("POST", f"/_snapshot/{quote(repo)}/{quote(snapshot)}/_restore", body,
                            {"wait_for_completion": "true"}).get("snapshot") or {}

    def count(self, index: str) -> int:
        return int(self.request("GET", f"/{quote(index)}/_count").get("count") or 0)

    def delete_index(self, index: str) -> None:
        self.request("DELETE", f"/{quote(index)}")

    def slm_policies(self) -> dict:
        return self.request("GET", "/_slm/policy")

    # ------------------------------------------------------------------ upgrade gates
    def health(self) -> dict:
        return self.request("GET", "/_cluster/health")

    def allocation(self) -> str | None:
        """`cluster.routing.allocation.enable` as set (transient over persistent), or None (= all)."""
        data = self.request("GET", "/_cluster/settings", query={"flat_settings": "true"}) or {}
        key = "cluster.routing.allocation.enable"
        return (data.get("transient") or {}).get(key) or (data.get("persistent") or {}).get(key)

    def node_versions(self) -> dict[str, str]:
        rows = self.request("GET", "/_cat/nodes", query={"format": "json", "h": "name,version,node.role"}) or []
        return {str(r.get("name")): str(r.get("version")) for r in rows if isinstance(r, dict)}
