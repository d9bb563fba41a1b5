"""What the fake Kubernetes API server checks in an applied object, and the errors it answers, as the real one.

Schemas
- Built-in kinds: the OpenAPI schema of Kubernetes 1.31 as kubernetes-validate ships it (the `-strict`
  variant: every object declares its fields), `$ref`s into its `_definitions.json`.
- Custom resources: the `openAPIV3Schema` of the kind's CustomResourceDefinition (for Argo CD, the
  chart's real CRDs, tests/fakes/argocd_crds.py); `metadata` is typed as ObjectMeta, as the server does.

The two failures a server-side apply meets, in the order the real server finds them (apiserver
`endpoints/handlers/patch.go` → apimachinery `util/managedfields/internal/structuredmerge.go` → the
registry's validation):

1. The applied object cannot be typed — a field the schema does not declare, a value of the wrong type
   (an integer in `ConfigMap.data`). structured-merge-diff's `ObjectToTyped` fails and the manager returns
   `fmt.Errorf("failed to create typed patch object (%v): %v", objectGVKNN(patchObj), err)`: not a
   Status error, so `ErrorToAPIStatus` answers **500** with no reason, whatever `fieldValidation` says
   (kubernetes/kubernetes#122480 shows such a body; #139253, open, asks for a 400):
   `failed to create typed patch object (ns/name; /v1, Kind=ConfigMap): .data.a: expected string, got
   &value.valueUnstructured{Value:1}`. Messages follow structured-merge-diff `typed/validate.go`: one
   error bare, several as "errors:\\n  e1\\n  e2"; the first unknown field of a map ends that map's walk.
2. The object is invalid — a required field is missing: **422 Invalid**, `errors.NewInvalid`:
   `<Kind>[.<group>] "<name>" is invalid: spec.selector: Required value` (several: `[e1, e2]`), details
   {name, group (not for core), kind, causes[{reason: FieldValueRequired, message, field}]}.

Not reproduced: enums, formats, patterns, CEL rules, defaulting, and the registries' own validation
beyond required fields (a key pattern in ConfigMap.data, label syntax, ...).
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

KUBE_SCHEMA_VERSION = "1.31"
_OBJECT_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"


@functools.lru_cache(maxsize=1)
def _schema_dir() -> Path:
    import importlib.util

    spec = importlib.util.find_spec("kubernetes_validate")  # its data only: importing it costs half a second
    assert spec is not None and spec.origin, "kubernetes-validate is not installed (pip install '.[test]')"
    path = Path(spec.origin).parent / "kubernetes-json-schema" / f"v{KUBE_SCHEMA_VERSION}.0-local-strict"
    assert path.is_dir(), f"kubernetes-validate has no schemas for Kubernetes {KUBE_SCHEMA_VERSION} at {path}"
    return path


@functools.lru_cache(maxsize=1)
def _definitions() -> dict:
    return json.loads((_schema_dir() / "_definitions.json").read_text())["$defs"]


@functools.cache
def builtin_schema(group: str, version: str, kind: str) -> dict | None:
    """The schema of a built-in kind (kubernetes-validate's file naming: `<kind>-<group prefix>-<version>.json`)."""
    prefix = group.split(".")[0] if group else ""
    name = f"{kind.lower()}-{prefix}-{version}.json" if prefix else f"{kind.lower()}-{version}.json"
    path = _schema_dir() / name
    return json.loads(path.read_text()) if path.is_file() else None


def crd_object_schema(crd_version: dict) -> dict:
    """A CRD version's openAPIV3Schema, with metadata typed as ObjectMeta (as the server's type converter does)."""
    schema = dict((crd_version.get("schema") or {}).get("openAPIV3Schema") or {"type": "object",
                                                                              "x-kubernetes-preserve-unknown-fields": True})
    props = dict(schema.get("properties") or {})
    props["metadata"] = {"$ref": f"#/$defs/{_OBJECT_META}"}
    props.setdefault("apiVersion", {"type": "string"})
    props.setdefault("kind", {"type": "string"})
    schema["properties"] = props
    return schema


def _resolve(schema: dict) -> dict:
    seen = 0
    while isinstance(schema, dict) and "$ref" in schema and seen < 50:
        schema = _definitions()[schema["$ref"].rsplit("/", 1)[-1]]
        seen += 1
    return schema


def _types(schema: dict) -> set[str]:
    t = schema.get("type")
    types = set(t) if isinstance(t, list) else ({t} if t else set())
    return types - {"null"}


def go_repr(value) -> str:
    """Go's %#v of a decoded JSON value (int64/float64/bool/string/map/slice), as SMD prints it."""
    if value is None:
        return "interface {}(nil)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value) if value != int(value) else str(int(value))
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, dict):
        inner = ", ".join(f"{json.dumps(str(k))}:{go_repr(v)}" for k, v in sorted(value.items()))
        return f"map[string]interface {{}}{{{inner}}}"
    return f"[]interface {{}}{{{', '.join(go_repr(v) for v in value)}}}"


def _scalar_error(value, types: set[str]) -> str | None:
    wrapped = f"&value.valueUnstructured{{Value:{go_repr(value)}}}"
    if types == {"string"} and not isinstance(value, str):
        return f"expected string, got {wrapped}"
    if types & {"integer", "number"} and not types - {"integer", "number"} and (
            isinstance(value, bool) or not isinstance(value, (int, float))):
        return f"expected numeric (int or float), got {type(value).__name__ if not isinstance(value, str) else 'string'}"
    if types == {"boolean"} and not isinstance(value, bool):
        return f"expected boolean, got {wrapped}"
    return None


def _path_element(index: int, item, schema: dict) -> str:
    keys = schema.get("x-kubernetes-list-map-keys")
    if keys and isinstance(item, dict) and all(k in item for k in keys):
        return "[" + ",".join(f"{k}={json.dumps(item[k])}" for k in keys) + "]"
    return f"[{index}]"


def typing_errors(value, schema: dict, path: str = "") -> list[str]:
    """structured-merge-diff's typing errors of `value` against `schema` (see the module docstring)."""
    schema = _resolve(schema)
    if value is None or not schema:
        return []
    alternatives = schema.get("oneOf") or schema.get("anyOf")
    if alternatives:  # int-or-string, Quantity: any scalar
        if isinstance(value, (dict, list)):
            return [f"{path}: expected any scalar, got {go_repr(value)}"]
        return []
    types = _types(schema)
    if "object" in types or "properties" in schema:
        if not isinstance(value, dict):
            return [f"{path}: expected map, got {go_repr(value)}"]
        return _map_errors(value, schema, path)
    if "array" in types:
        if not isinstance(value, list):
            return [f"{path}: expected list, got {go_repr(value)}"]
        item_schema = schema.get("items") or {}
        out = []
        for i, item in enumerate(value):
            out += typing_errors(item, item_schema, path + _path_element(i, item, schema))
        return out
    problem = _scalar_error(value, types) if types else None
    return [f"{path}: {problem}"] if problem else []


def _map_errors(value: dict, schema: dict, path: str) -> list[str]:
    props = schema.get("properties") or {}
    extra = schema.get("additionalProperties")
    preserve = schema.get("x-kubernetes-preserve-unknown-fields") is True
    out: list[str] = []
    for key in sorted(value):
        sub = f"{path}.{key}"
        if key in props:
            out += typing_errors(value[key], props[key], sub)
        elif isinstance(extra, dict):
            out += typing_errors(value[key], extra, sub)
        elif extra is True or preserve or (extra is None and not props and "type" in schema
                                           and not schema.get("x-kubernetes-group-version-kind")):
            continue  # a free-form map (`type: object` without properties) or preserved unknown fields
        else:
            out.append(f"{sub}: field not declared in schema")
            break  # SMD stops walking this map at its first unknown field
    return out


def required_errors(value, schema: dict, path: str = "") -> list[str]:
    """Field paths (`spec.selector`) of required fields that are missing in `value`."""
    schema = _resolve(schema)
    out: list[str] = []
    if isinstance(value, dict) and schema:
        props = schema.get("properties") or {}
        for name in schema.get("required") or []:
            if value.get(name) is None:
                out.append(f"{path}.{name}".lstrip("."))
        for key, sub in value.items():
            if key in props:
                out += required_errors(sub, props[key], f"{path}.{key}")
            elif isinstance(schema.get("additionalProperties"), dict):
                out += required_errors(sub, schema["additionalProperties"], f"{path}[{key}]")
    elif isinstance(value, list) and schema:
        for i, item in enumerate(value):
            out += required_errors(item, schema.get("items") or {}, f"{path}[{i}]")
    return out


def smd_message(errors: list[str]) -> str:
    return errors[0] if len(errors) == 1 else "\n".join(["errors:", *(f"  {e}" for e in errors)])


def aggregate(messages: list[str]) -> str:
    """apimachinery's ErrorList.ToAggregate().Error(): one bare, several as [e1, e2]."""
    return messages[0] if len(messages) == 1 else "[" + ", ".join(messages) + "]"
