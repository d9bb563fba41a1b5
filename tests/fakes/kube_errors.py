"""Status bodies of the fake Kubernetes API server, and which request options it serves.

Shapes: shared/reference/engine-api-facts.md §1.4 (apimachinery `pkg/apis/meta/v1/types.go`,
`pkg/api/errors/errors.go`, `pkg/util/validation/field/errors.go`). Every error is a `kind: Status` body
sent with exactly `Content-Type: application/json`.

Request options (query parameters): the fake serves the ones the engine uses and the API documents for
them — PATCH `fieldManager`, `force`, `dryRun=All`, `fieldValidation`; DELETE `dryRun=All`,
`propagationPolicy=Background` (the default). Anything else the real server would act on (`watch`,
`limit`/`continue`, selectors, `resourceVersion`, `gracePeriodSeconds`, ...) is refused with a 400
BadRequest Status that says the fake does not reproduce it, so no test can pass on a silently ignored
option. Invalid values of served options get the real 422 `<Options>.meta.k8s.io "" is invalid` body.
"""

from __future__ import annotations

import json


def status_body(code: int, reason: str, message: str, details: dict | None = None, status: str = "Failure") -> dict:
    body = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": status, "message": message,
            "reason": reason}
    if details is not None:
        body["details"] = details
    body["code"] = code
    if status == "Success":  # a delete's Status carries only status and details
        for key in ("message", "reason", "code"):
            body.pop(key)
    if not reason:  # an error that is not a Status in the server (StatusReasonUnknown is "", omitempty)
        body.pop("reason", None)
    return body


class ApiError(Exception):
    def __init__(self, body: dict):
        super().__init__(body.get("message"))
        self.body = body
        self.code = body["code"]


def not_found_generic() -> ApiError:
    return ApiError(status_body(404, "NotFound", "the server could not find the requested resource", {}))


def bad_request(message: str) -> ApiError:
    return ApiError(status_body(400, "BadRequest", message))


def invalid(kind: str, group: str, name: str, causes: list[tuple[str, str, str]]) -> ApiError:
    """422 Invalid (errors.NewInvalid): causes are (reason, field, message without the field)."""
    qualified = f"{kind}.{group}" if group else kind
    messages = [f"{f}: {m}" for _, f, m in causes]
    text = messages[0] if len(messages) == 1 else "[" + ", ".join(messages) + "]"
    details = {"name": name, "kind": kind, "causes": [{"reason": r, "message": m, "field": f} for r, f, m in causes]}
    if group:
        details = {"name": name, "group": group, "kind": kind, "causes": details["causes"]}
    return ApiError(status_body(422, "Invalid", f'{qualified} "{name}" is invalid: {text}', details))


def _options_invalid(options: str, field: str, value: str, supported: list[str]) -> ApiError:
    shown = ", ".join(json.dumps(s) for s in supported)
    detail = f"Unsupported value: {value}: supported values: {shown}"
    return ApiError(status_body(
        422, "Invalid", f'{options}.meta.k8s.io "" is invalid: {field}: {detail}',
        {"group": "meta.k8s.io", "kind": options,
         "causes": [{"reason": "FieldValueNotSupported", "message": detail, "field": field}]}))


SERVED = {
    "GET": set(),
    "LIST": set(),
    "PATCH": {"fieldManager", "force", "dryRun", "fieldValidation"},
    "DELETE": {"dryRun", "propagationPolicy"},
}


def check_options(verb: str, query: dict[str, list[str]]) -> bool:
    """Refuse what the fake does not reproduce; returns whether the request is a dry run."""
    for name in sorted(query):
        if name not in SERVED[verb]:
            shown = f"{name}={query[name][-1]}" if query[name][-1] else name
            raise bad_request(f"the fake Kubernetes API server (tests/fakes) does not reproduce {shown} on {verb}: "
                              "a test must not pass on an option the fake silently ignores")
    options = "PatchOptions" if verb == "PATCH" else "DeleteOptions"
    dry_run = query.get("dryRun", [])
    if any(v != "All" for v in dry_run):  # apimachinery ValidateDryRun: field.NotSupported
        raise _options_invalid(options, "dryRun", "[]string{" + ", ".join(json.dumps(v) for v in dry_run) + "}",
                               ["All"])
    directive = (query.get("fieldValidation") or [""])[-1]
    if directive not in ("", "Ignore", "Warn", "Strict"):
        raise _options_invalid(options, "fieldValidation", json.dumps(directive), ["", "Ignore", "Strict", "Warn"])
    policy = (query.get("propagationPolicy") or ["Background"])[-1]
    if policy != "Background":
        raise bad_request(f"the fake Kubernetes API server (tests/fakes) does not reproduce propagationPolicy={policy}")
    return bool(dry_run)
