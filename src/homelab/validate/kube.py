"""Kubernetes knowledge for validate: which kinds are cluster-scoped, the strict JSON schemas of the
built-in kinds for a Kubernetes version (the bundle of pip `kubernetes-validate`, compiled once per
process: its own `validate()` re-reads the 2 MB definitions file on every call), and the schemas of
custom resources from the CRDs the charts ship (made strict: unknown fields are errors, as
`kubectl apply --validate=strict` reports them).
"""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path

# Cluster-scoped built-in kinds (kubectl api-resources --namespaced=false, Kubernetes 1.33).
CLUSTER_KINDS = frozenset({
    "APIService", "CertificateSigningRequest", "ClusterRole", "ClusterRoleBinding", "ClusterTrustBundle",
    "ComponentStatus", "CSIDriver", "CSINode", "CustomResourceDefinition", "DeviceClass", "FlowSchema",
    "IngressClass", "IPAddress", "MutatingAdmissionPolicy", "MutatingAdmissionPolicyBinding",
    "MutatingWebhookConfiguration", "Namespace", "Node", "PersistentVolume", "PriorityClass",
    "PriorityLevelConfiguration", "ResourceSlice", "RuntimeClass", "SelfSubjectAccessReview",
    "SelfSubjectReview", "SelfSubjectRulesReview", "ServiceCIDR", "StorageClass", "StorageVersion",
    "StorageVersionMigration", "SubjectAccessReview", "TokenReview", "ValidatingAdmissionPolicy",
    "ValidatingAdmissionPolicyBinding", "ValidatingWebhookConfiguration", "VolumeAttachment",
    "VolumeAttributesClass",
})


def group_of(api_version: str) -> str:
    return api_version.rpartition("/")[0] if "/" in api_version else ""


def _bundle() -> Path:
    """The schema bundle of pip `kubernetes-validate`, found without importing it (its import costs ~60 ms)."""
    import importlib.util

    spec = importlib.util.find_spec("kubernetes_validate")
    if spec is None or not spec.origin:
        from homelab.errors import HomelabError

        raise HomelabError("kubernetes-validate is not installed", "pip install kubernetes-validate")
    return Path(spec.origin).parent / "kubernetes-json-schema"


@functools.cache
def schema_dir(version: str) -> Path | None:
    """The strict schema directory of the newest bundled version not newer than `version` (v1.33.4+k3s1)."""
    m = re.match(r"v?(\d+)\.(\d+)", version)
    if not m:
        return None
    want = (int(m.group(1)), int(m.group(2)))
    best = None
    for d in _bundle().iterdir():
        vm = re.fullmatch(r"v(\d+)\.(\d+)\.(\d+)-local-strict", d.name)
        if vm and (int(vm.group(1)), int(vm.group(2))) <= want:
            key = (int(vm.group(1)), int(vm.group(2)), int(vm.group(3)))
            if best is None or key > best[0]:
                best = (key, d)
    return best[1] if best else None


@functools.cache
def _registry(directory: Path):
    from referencing import Registry, Resource

    defs = json.loads((directory / "_definitions.json").read_text(encoding="utf-8"))
    return Resource.from_contents(defs) @ Registry()


@functools.cache
def builtin_validator(directory: Path, api_version: str, kind: str):
    """A compiled validator of a built-in kind; None when the bundle has no schema for it."""
    import jsonschema

    api = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    path = directory / f"{kind.lower()}-{api}.json"
    if not path.is_file():
        return None
    schema = json.loads(path.read_text(encoding="utf-8"))
    from referencing import Resource

    registry = Resource.from_contents(schema) @ _registry(directory)
    return jsonschema.Draft202012Validator(schema, registry=registry)


def strict_openapi(schema: dict) -> dict:
    """A CRD's openAPIV3Schema as JSON Schema that refuses unknown fields (structural pruning would drop
    them silently) and knows `nullable` and int-or-string."""
    if not isinstance(schema, dict):
        return schema
    out = {k: v for k, v in schema.items() if not k.startswith("x-kubernetes-") and k != "nullable"}
    if schema.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if schema.get("nullable") and "type" in out:
        out["type"] = [out["type"], "null"] if isinstance(out["type"], str) else [*out["type"], "null"]
    for key in ("properties", "patternProperties"):
        if isinstance(out.get(key), dict):
            out[key] = {k: strict_openapi(v) for k, v in out[key].items()}
    for key in ("items", "additionalProperties", "not"):
        if isinstance(out.get(key), dict):
            out[key] = strict_openapi(out[key])
    for key in ("allOf", "anyOf", "oneOf"):
        if isinstance(out.get(key), list):
            out[key] = [strict_openapi(s) for s in out[key]]
    if ("properties" in out and "additionalProperties" not in out
            and not schema.get("x-kubernetes-preserve-unknown-fields")):
        out["additionalProperties"] = False
    if isinstance(out.get("properties"), dict) and "metadata" in out["properties"]:
        out["properties"]["metadata"] = {"type": "object"}
    return out


def crd_validators(crd: dict) -> dict[tuple[str, str], object]:
    """{(apiVersion, kind): validator} for the served versions of a CRD object."""
    import jsonschema

    spec = crd.get("spec") or {}
    group, kind = spec.get("group"), (spec.get("names") or {}).get("kind")
    out = {}
    for v in spec.get("versions") or []:
        schema = ((v.get("schema") or {}).get("openAPIV3Schema")) if isinstance(v, dict) else None
        if not (group and kind and v.get("served", True)):
            continue
        strict = strict_openapi(schema) if schema else {"type": "object"}
        if isinstance(strict.get("properties"), dict):
            strict["properties"].setdefault("apiVersion", {"type": "string"})
            strict["properties"].setdefault("kind", {"type": "string"})
            strict["properties"]["metadata"] = {"type": "object"}
        out[(f"{group}/{v.get('name')}", kind)] = jsonschema.Draft7Validator(strict)
    return out


def error_text(error) -> str:
    where = ".".join(str(p) for p in error.absolute_path)
    message = error.message if len(error.message) < 200 else error.message[:197] + "..."
    return f"{where}: {message}" if where else message


def first_errors(validator, obj: dict, limit: int = 3) -> list[str]:
    errors = sorted(validator.iter_errors(obj), key=lambda e: [str(p) for p in e.absolute_path])
    return [error_text(e) for e in errors[:limit]]


def builtin_group(group: str) -> bool:
    """API groups of Kubernetes itself: core, dotless (apps, batch, policy, autoscaling) and *.k8s.io."""
    return group == "" or "." not in group or group.endswith(".k8s.io")
