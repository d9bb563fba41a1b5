"""Every app image is pinned: a tag that names a release, not one that moves (latest, a variant name)."""

from __future__ import annotations

import re

from homelab.checks.base import Finding, rule

MOVING = re.compile(r"(^|[-_.])(latest|stable|main|master|edge|nightly|dev|develop|rolling)$", re.IGNORECASE)


def floating(tag: str) -> bool:
    """A tag without any digit (`latest`, `default-nvidia`) or ending in a moving name (`default-nightly`)."""
    return not re.search(r"\d", tag) or bool(MOVING.search(tag))


@rule("image-tag-floating", "error", "an app image has a floating tag (latest, a variant name, nightly)")
def check(doc):
    for i, app in enumerate(doc.lab.apps):
        if app.image and floating(app.image.tag) and "@sha256:" not in app.image.repository:
            yield Finding(("apps", i, "image", "tag"),
                          f"app {app.name}: image tag {app.image.tag!r} moves: every sync may run another release",
                          "pin a release tag (e.g. default-nvidia-v3.16, 5.1.2) or a digest")
