"""An app's volumes have unique names and mount paths (each name is a key of the chart's values)."""

from __future__ import annotations

from homelab.checks.base import Finding, rule


@rule("app-storage-duplicate", "error", "two volumes of one app share a name or a mount path")
def check(doc):
    for a, app in enumerate(doc.lab.apps):
        names: dict[str, int] = {}
        mounts: dict[str, int] = {}
        for v, vol in enumerate(app.storage):
            if vol.name in names:
                yield Finding(("apps", a, "storage", v, "name"),
                              f"app {app.name}: volume name {vol.name} is used twice (also storage[{names[vol.name]}])",
                              "give each volume its own name; the second would replace the first")
            else:
                names[vol.name] = v
            mount = vol.mount.rstrip("/") or "/"
            if mount in mounts:
                yield Finding(("apps", a, "storage", v, "mount"),
                              f"app {app.name}: {vol.mount} is mounted twice (also storage[{mounts[mount]}])",
                              "mount each volume at its own path")
            else:
                mounts[mount] = v
