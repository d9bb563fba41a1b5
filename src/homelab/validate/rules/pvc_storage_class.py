"""Every PersistentVolumeClaim names a StorageClass that exists (or relies on a default one that does):
the StorageClasses of the platform plus K3s' bundled `local-path` (unless `disable: [local-storage]`).
A claim whose class does not exist stays Pending ("storageclass.storage.k8s.io not found")."""

from homelab.validate.base import rule
from homelab.validate.rules._common import finding

DEFAULT_ANN = "storageclass.kubernetes.io/is-default-class"


def _claims(o):
    if o.kind == "PersistentVolumeClaim":
        yield o.obj.get("spec") or {}
    elif o.kind == "StatefulSet":
        for t in (o.obj.get("spec") or {}).get("volumeClaimTemplates") or []:
            yield (t or {}).get("spec") or {}


def _classes(ctx) -> tuple[set[str], bool]:
    names, default = set(), False
    for sc in ctx.platform.of_kind("StorageClass"):
        names.add(sc.name)
        default = default or str(((sc.obj.get("metadata") or {}).get("annotations") or {}).get(DEFAULT_ANN)) == "true"
    if ctx.facts.local_path:
        names.add("local-path")
        default = True
    return names, default


@rule("pvc-storage-class", "error", "a PersistentVolumeClaim names a StorageClass that does not exist")
def check(ctx):
    names, default = None, False
    for o in ctx.platform.objects:
        for spec in _claims(o):
            if names is None:
                names, default = _classes(ctx)
            cls = spec.get("storageClassName")
            if cls is None and not default:
                yield finding(ctx, o, f"{o.where} names no storageClassName and the cluster has no default "
                              "StorageClass: it stays Pending", "mark one StorageClass as the default")
            elif cls and cls not in names:
                yield finding(ctx, o, f"{o.where} asks for StorageClass {cls}, which nothing in the platform "
                              f"creates (known: {', '.join(sorted(names)) or 'none'}): it stays Pending",
                              "use one of the lab's storage.classes")
