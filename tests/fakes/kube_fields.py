"""Field sets of server-side apply, as the fake Kubernetes API server keeps them (managedFields, FieldsV1).

Shapes: shared/reference/engine-api-facts.md §1.3/§1.4 (apimachinery managedfields, conflict.go). Lists are
atomic here (the real server merges lists keyed by name etc.) and there are no `"."` set-membership entries.
"""

from __future__ import annotations

import json
import time

from fakes.kube_errors import status_body

# metadata the server sets: never a field a manager owns
SERVER_META = ("name", "namespace", "managedFields", "resourceVersion", "uid", "creationTimestamp", "generation",
               "deletionTimestamp", "deletionGracePeriodSeconds")


def clone(value):
    """A deep copy of JSON data (objects here are JSON only; far faster than copy.deepcopy)."""
    return json.loads(json.dumps(value))


def now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def leaves(obj, prefix=()) -> dict[tuple, object]:
    """Leaf paths of an applied object (maps recurse; lists and scalars and empty maps are leaves)."""
    out: dict[tuple, object] = {}
    if isinstance(obj, dict) and obj:
        for k, v in obj.items():
            out.update(leaves(v, (*prefix, k)))
    else:
        out[prefix] = obj
    return out


def applied_fields(body: dict, status_subresource: bool) -> dict[tuple, object]:
    fields = {}
    for path, value in leaves(body).items():
        if path[:1] in (("apiVersion",), ("kind",)):
            continue
        if path[:1] == ("metadata",) and path[1:2] and path[1] in SERVER_META:
            continue
        if path[:1] == ("status",) and status_subresource:
            continue  # the main resource ignores status when a status subresource exists
        fields[path] = value
    return fields


def get_path(obj, path):
    for k in path:
        if not isinstance(obj, dict) or k not in obj:
            return MISSING
        obj = obj[k]
    return obj


def set_path(obj, path, value):
    for k in path[:-1]:
        nxt = obj.get(k)
        if not isinstance(nxt, dict):
            nxt = obj[k] = {}
        obj = nxt
    obj[path[-1]] = clone(value)


def delete_path(obj, path):
    parents = []
    for k in path[:-1]:
        if not isinstance(obj, dict) or k not in obj:
            return
        parents.append((obj, k))
        obj = obj[k]
    if isinstance(obj, dict):
        obj.pop(path[-1], None)
    for parent, k in reversed(parents):  # drop maps the removal emptied (never metadata itself)
        if parent[k] == {} and k != "metadata":
            del parent[k]
        else:
            break


MISSING = object()


def fields_v1(paths) -> dict:
    tree: dict = {}
    for path in sorted(paths):
        node = tree
        for k in path:
            node = node.setdefault(f"f:{k}", {})
    return tree


def paths_of(fields_v1: dict, prefix=()) -> set[tuple]:
    out: set[tuple] = set()
    for key, sub in fields_v1.items():
        path = (*prefix, key[2:])
        if sub:
            out |= paths_of(sub, path)
        else:
            out.add(path)
    return out


def path_str(path) -> str:
    return "".join(f".{k}" for k in path)


def manager_id(entry: dict) -> str:
    text = json.dumps(entry["manager"])
    if entry.get("subresource"):
        text += f' with subresource {json.dumps(entry["subresource"])}'
    if entry["operation"] == "Update":
        text += f' using {entry["apiVersion"]}'
    return text


def conflict_body(conflicts: list[tuple[dict, tuple]]) -> dict:
    """409 Status exactly as apimachinery's managedfields conflict.go builds it."""
    causes = [{"reason": "FieldManagerConflict", "message": f"conflict with {manager_id(e)}",
               "field": path_str(p)} for e, p in conflicts]
    if len(conflicts) == 1:
        entry, path = conflicts[0]
        message = f"Apply failed with 1 conflict: conflict with {manager_id(entry)}: {path_str(path)}"
    else:
        by_manager: dict[str, list[str]] = {}
        for entry, path in conflicts:
            by_manager.setdefault(manager_id(entry), []).append(path_str(path))
        lines = []
        for manager in sorted(by_manager):
            lines.append(f"conflicts with {manager}:")
            lines.extend(f"- {p}" for p in by_manager[manager])
        message = f"Apply failed with {len(conflicts)} conflicts: " + "\n".join(lines)
    return status_body(409, "Conflict", message, {"causes": causes})


def merge_patch(target, patch):
    if not isinstance(patch, dict):
        return clone(patch)
    out = clone(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = merge_patch(out.get(k), v)
    return out
