"""The Elasticsearch REST calls a rolling upgrade's gates read (elasticsearch-specification schemas
`cluster/health`, `cluster/get_settings` with `flat_settings=true`, `cat/nodes` with `format=json`), over
HTTPS with the lab's CA and the `elastic` user's password (a Secret, never in a message). Thin: it reads,
the workflow decides (ops/upgrade_es.py)."""

from __future__ import annotations

import base64
import http.client
import json
import ssl
from urllib.parse import urlsplit

from homelab.errors import EngineError


class EsApi:
    def __init__(self, url: str, password, *, ca_file: str | None = None, user: str = "elastic",
                 timeout: float = 15.0):
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise EngineError(f"Elasticsearch URL {url!r} is not an http(s) URL")
        self.url, self._parts, self.timeout = url.rstrip("/"), parts, timeout
        secret = password.reveal() if hasattr(password, "reveal") else str(password)
        self._auth = "Basic " + base64.b64encode(f"{user}:{secret}".encode()).decode()
        self._ssl = ssl.create_default_context(cafile=ca_file) if parts.scheme == "https" else None

    def _get(self, path: str):
        p = self._parts
        conn = (http.client.HTTPSConnection(p.hostname, p.port or 443, timeout=self.timeout, context=self._ssl)
                if self._ssl else http.client.HTTPConnection(p.hostname, p.port or 80, timeout=self.timeout))
        try:
            conn.request("GET", path, headers={"Authorization": self._auth, "Accept": "application/json"})
            resp = conn.getresponse()
            raw = resp.read()
        except (OSError, http.client.HTTPException) as exc:
            raise EngineError(f"cannot reach Elasticsearch at {self.url}: {type(exc).__name__}") from None
        finally:
            conn.close()
        try:
            data = json.loads(raw or b"null")
        except ValueError:
            data = None
        if resp.status >= 400:
            reason = ((data or {}).get("error") or {}).get("reason") if isinstance(data, dict) else None
            raise EngineError(f"Elasticsearch GET {path}: {resp.status}: {reason or 'error'}")
        return data

    def health(self) -> dict:
        return self._get("/_cluster/health")

    def allocation(self) -> str | None:
        """`cluster.routing.allocation.enable` as set (transient over persistent), or None (= all)."""
        data = self._get("/_cluster/settings?flat_settings=true") or {}
        key = "cluster.routing.allocation.enable"
        return (data.get("transient") or {}).get(key) or (data.get("persistent") or {}).get(key)

    def node_versions(self) -> dict[str, str]:
        rows = self._get("/_cat/nodes?format=json&h=name,version,node.role") or []
        return {str(r.get("name")): str(r.get("version")) for r in rows if isinstance(r, dict)}
