"""A small client of the TrueNAS REST API v2.0 (the middleware's methods over HTTP).

Sources (TrueNAS 24.10 middleware, `src/middlewared/middlewared/restful.py`, tag TS-24.10.2):
- authentication: `Authorization: Bearer <API key>`; a bad key is `401` with the text `Invalid API key`;
- a CRUD service `X.Y` is `GET /api/v2.0/X/Y` (query; `?field=value` filters), `POST /api/v2.0/X/Y` (create,
  the JSON body is the object), `PUT /api/v2.0/X/Y/id/{id}` (update), `DELETE /api/v2.0/X/Y/id/{id}`;
- errors: a validation error is `422` with `{"<schema>.<attribute>": [{"message": ..., "errno": ...}]}`,
  a CallError `422` with `{"message": ..., "errno": ...}`, a missing match `404` with `{"message": ...}`.

The API key is a `Secret`: it is sent, never logged, and the redactor masks it in any message.
"""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass

from homelab.errors import EngineError
from homelab.secrets import Secret


class TrueNasApiError(EngineError):
    def __init__(self, status: int, message: str, hint: str | None = None, errnos: tuple = ()):
        super().__init__(message, hint)
        self.status = status
        self.errnos = errnos  # e.g. (2,): ENOENT, InstanceNotFound ("X 7 does not exist")


def _errnos(body) -> tuple:
    if isinstance(body, dict) and "errno" in body:
        return (body["errno"],)
    if isinstance(body, dict):
        return tuple(e.get("errno") for errs in body.values() if isinstance(errs, list)
                     for e in errs if isinstance(e, dict))
    return ()


def error_text(body) -> str:
    """The documented 422 shapes as one line: 'attr: message; attr: message' or the CallError message."""
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        return body["message"]
    if isinstance(body, dict):
        parts = []
        for attr, errors in sorted(body.items(), key=lambda kv: str(kv[0])):
            for e in errors if isinstance(errors, list) else [errors]:
                msg = e.get("message") if isinstance(e, dict) else str(e)
                parts.append(f"{attr}: {msg}" if attr not in (None, "null", "") else str(msg))
        return "; ".join(parts)
    return str(body)


@dataclass
class TrueNasClient:
    url: str  # .../api/v2.0
    api_key: Secret
    context: ssl.SSLContext | None = None
    timeout: float = 30.0

    def request(self, method: str, path: str, body=None, query: dict | None = None):
        target = self.url.rstrip("/") + path + (("?" + urllib.parse.urlencode(query)) if query else "")
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(target, data=data, method=method, headers={
            "Authorization": f"Bearer {self.api_key.reveal()}", "Content-Type": "application/json",
            "Accept": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=self.timeout, context=self.context) as resp:
                raw = resp.read()
        except urllib.error.HTTPError as exc:
            raw = exc.read()
            try:
                parsed = json.loads(raw) if raw else None
            except ValueError:
                parsed = raw.decode("utf-8", "replace").strip()
            raise self._error(exc.code, method, path, parsed) from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise EngineError(f"cannot reach the TrueNAS API at {self.url}: {reason}",
                              "check storage.truenas.api_url and that the NAS is up") from None
        return json.loads(raw) if raw else None

    def _error(self, status: int, method: str, path: str, body) -> TrueNasApiError:
        if status == 401:
            return TrueNasApiError(401, f"TrueNAS refused the API key (401 {error_text(body) or 'Unauthorized'})",
                                   "put a valid key in Vault at storage.truenas.api_key (TrueNAS: "
                                   "Credentials > API Keys)")
        if status == 403:
            return TrueNasApiError(403, f"{method} {path}: the API key may not do this (403)",
                                   "use a key of a user with the REPLICATION_TASK_WRITE and SNAPSHOT_TASK_WRITE roles")
        return TrueNasApiError(status, f"{method} {path} failed ({status}): {error_text(body)}",
                               errnos=_errnos(body))

    # ------------------------------------------------------------------ the calls the engine makes
    def version(self) -> str:
        return str(self.request("GET", "/system/version"))

    def snapshot_tasks(self) -> list[dict]:
        return self.request("GET", "/pool/snapshottask") or []

    def replications(self) -> list[dict]:
        return self.request("GET", "/replication") or []

    def ssh_connections(self) -> list[dict]:
        """{id, name} of the SSH connections (keychain credentials of type SSH_CREDENTIALS); never their
        attributes."""
        found = self.request("GET", "/keychaincredential", query={"type": "SSH_CREDENTIALS"}) or []
        return [{"id": c["id"], "name": c["name"]} for c in found if c.get("type") == "SSH_CREDENTIALS"]

    def create(self, service: str, body: dict) -> dict:
        return self.request("POST", f"/{service}", body)

    def update(self, service: str, ident: int, body: dict) -> dict:
        return self.request("PUT", f"/{service}/id/{ident}", body)

    def delete(self, service: str, ident: int) -> bool:
        try:
            self.request("DELETE", f"/{service}/id/{ident}")
        except TrueNasApiError as exc:
            if exc.status == 404 or (exc.status == 422 and 2 in exc.errnos):  # gone already
                return False
            raise
        return True
