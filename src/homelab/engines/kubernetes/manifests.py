"""Rendered manifests: reading them from files, and the order they are applied in.

`load_manifests` reads every YAML document of the given files (directories: every `*.yaml`/`*.yml` below
them, sorted); a `kind: List` is expanded into its items; a document that is not a Kubernetes object (no
apiVersion, kind or metadata.name — e.g. a Helm values file beside the bootstrap manifests) is skipped.

`apply_order`: Namespaces, then CustomResourceDefinitions, then what other objects refer to (service
accounts, roles, storage/priority classes, then bindings, secrets, config maps), then everything else,
AppProjects, and Applications last; the file order is kept within a rank. Deletion runs it backwards.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from homelab.errors import EngineError

_KIND_RANK = {"Namespace": 0, "CustomResourceDefinition": 1, "ServiceAccount": 2, "ClusterRole": 2, "Role": 2,
              "StorageClass": 2, "PriorityClass": 2, "ClusterRoleBinding": 3, "RoleBinding": 3, "Secret": 3,
              "ConfigMap": 3, "AppProject": 6, "Application": 7, "ApplicationSet": 7}
_OTHER_RANK = 5


def load_manifests(paths: Iterable[Path]) -> list[dict]:
    """Kubernetes objects from YAML files (multi-document; `kind: List` expanded); others skipped."""
    from ruamel.yaml import YAML

    yaml = YAML(typ="safe", pure=True)
    objects: list[dict] = []
    for path in paths:
        files = sorted(p for p in path.rglob("*") if p.suffix in (".yaml", ".yml")) if path.is_dir() else [path]
        for f in files:
            try:
                docs = list(yaml.load_all(f.read_text(encoding="utf-8")))
            except Exception as exc:  # noqa: BLE001
                raise EngineError(f"{f}: not valid YAML ({type(exc).__name__})") from None
            for doc in docs:
                for obj in (doc.get("items") or []) if isinstance(doc, dict) and doc.get("kind") == "List" else [doc]:
                    if isinstance(obj, dict) and obj.get("apiVersion") and obj.get("kind") and \
                            (obj.get("metadata") or {}).get("name"):
                        objects.append(obj)
    return objects


def kind_rank(obj: dict) -> int:
    return _KIND_RANK.get(obj["kind"], _OTHER_RANK)


def apply_order(objects: list[dict]) -> list[dict]:
    return [o for _, _, o in sorted(((kind_rank(o), i, o) for i, o in enumerate(objects)), key=lambda t: (t[0], t[1]))]


def ident(obj: dict) -> str:
    """`Kind/namespace/name` (`Kind/name` for a cluster-scoped object), as results and messages name it."""
    meta = obj.get("metadata") or {}
    ns = f"{meta['namespace']}/" if meta.get("namespace") else ""
    return f"{obj['kind']}/{ns}{meta.get('name')}"
