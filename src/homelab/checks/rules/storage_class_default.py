"""Exactly one storage class is the default (volumes without `class:` use it)."""

from __future__ import annotations

from homelab.checks.base import Finding, rule


@rule("storage-class-default", "error", "not exactly one default storage class")
def check(doc):
    lab = doc.lab
    classes = lab.storage.classes
    defaults = [k for k, c in enumerate(classes) if c.default]
    if classes and not defaults:
        yield Finding(("storage", "classes"), "no storage class is marked `default: true`",
                      "mark exactly one class as the default (the seed: freenas-iscsi-csi)")
    for k in defaults[1:]:
        yield Finding(("storage", "classes", k, "default"),
                      f"storage class {classes[k].name} is a second default (after {classes[defaults[0]].name})",
                      "only one storage class may be the default")
    if not classes:
        for i, app in enumerate(lab.apps):
            for j, vol in enumerate(app.storage):
                if vol.class_ is None:
                    yield Finding(("apps", i, "storage", j),
                                  f"app {app.name}: volume {vol.name} needs a default storage class, "
                                  "but storage.classes is empty",
                                  "declare storage.classes with one `default: true`")
