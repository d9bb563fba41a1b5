"""An app volume's storage class must be one of storage.classes."""

from __future__ import annotations

from homelab.checks.base import Finding, rule
from homelab.checks.rules._common import did_you_mean, known_list


@rule("storage-class-unknown", "error", "an app volume uses a storage class not in storage.classes")
def check(doc):
    classes = [c.name for c in doc.lab.storage.classes]
    for i, app in enumerate(doc.lab.apps):
        for j, vol in enumerate(app.storage):
            if vol.class_ is not None and vol.class_ not in classes:
                yield Finding(("apps", i, "storage", j, "class"),
                              f"app {app.name}: volume {vol.name} uses unknown storage class {vol.class_!r}",
                              did_you_mean(vol.class_, classes, f"storage classes: {known_list(classes)}"))
