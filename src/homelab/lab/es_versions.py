"""Elasticsearch upgrade paths (Elastic's "Upgrade paths" / "Prepare to upgrade" pages):

- within a major, any later version (minors may be skipped);
- 7 → 8 only from 7.17 (the last 7 minor);
- 8 → 9.0.x only from 8.18 or later; 8 → 9.1 and later only from 8.19 (the last 8 minor);
- never two majors at once, never down (a node once upgraded cannot go back: restore a snapshot).
"""

from __future__ import annotations

import re

_VERSION = re.compile(r"^(\d+)\.(\d+)\.(\d+)$")


def parse(text: str) -> tuple[int, int, int] | None:
    m = _VERSION.match(str(text).strip())
    return tuple(int(g) for g in m.groups()) if m else None  # type: ignore[return-value]


def path_problem(current: str, target: str) -> str | None:
    """Why Elasticsearch cannot go from `current` straight to `target` (None: it can)."""
    cur, tgt = parse(current), parse(target)
    if cur is None or tgt is None:
        return f"{current if cur is None else target} is not an Elasticsearch version (MAJOR.MINOR.PATCH)"
    if tgt < cur:
        return f"{target} is older than {current}: Elasticsearch nodes cannot be downgraded (restore a snapshot)"
    if tgt[0] - cur[0] > 1:
        return f"{current} → {target} crosses two majors: upgrade to the last {cur[0] + 1}.x minor first"
    if tgt[0] == cur[0] + 1:
        need = {8: (7, 17), 9: (8, 18) if tgt[1] == 0 else (8, 19)}.get(tgt[0])
        if need and cur[:2] < need:
            return (f"{current} → {target}: Elastic supports upgrading to {tgt[0]}.{tgt[1]} only from "
                    f"{need[0]}.{need[1]} or later; upgrade to the latest {need[0]}.{need[1]} patch first")
    return None
