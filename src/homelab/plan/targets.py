"""`--target`: a plan limited to some resources, as Terraform's `-target`, but exact.

A pattern is an address (`k3s_agent.kube07`) or a shell-style glob over addresses (`vault_*`,
`k3s_server.*`, `argocd_app.media/*`). The plan keeps the changes whose address matches a pattern —
and nothing else: dependencies are NOT pulled in. A targeted change whose dependency is itself still
to be created (or replaced) is kept, and the plan carries a note saying so, because applying it first
would likely fail ("k3s_agent.kube07 depends on host.kube07, which is not applied yet").

This is what the day-2 commands are made of: `cluster bootstrap` = the `k3s_server.*` and
`k3s_agent.*` changes, `node join NAME` = the one node, `vault configure` = `vault_*`.
"""

from __future__ import annotations

import fnmatch
import re

from homelab.errors import UsageError
from homelab.plan.address import TYPE_LAYER

_PATTERN = re.compile(r"^[a-z*?\[\]_0-9]+(\.[A-Za-z0-9_.\-/*?\[\]]+)?$")


def check_patterns(patterns) -> list[str]:
    """The patterns, validated: TYPE.NAME where TYPE is a known resource type (or a glob over them)."""
    out = []
    for raw in patterns or ():
        p = str(raw).strip()
        kind = p.partition(".")[0]
        if not _PATTERN.match(p):
            raise UsageError(f"--target {raw!r} is not an address or a glob of addresses",
                             "write TYPE.NAME, e.g. --target k3s_agent.kube07 or --target 'vault_*'")
        if not any(fnmatch.fnmatchcase(t, kind) for t in TYPE_LAYER):
            raise UsageError(f"--target {raw!r}: no resource type matches {kind!r}",
                             "known types: " + ", ".join(sorted(TYPE_LAYER)))
        out.append(p)
    return out


def matches(address: str, patterns: list[str]) -> bool:
    return any(fnmatch.fnmatchcase(address, p) for p in patterns)


def select(patterns: list[str], known: set[str]) -> set[str]:
    """The known addresses the patterns select; a pattern selecting nothing is an error."""
    selected: set[str] = set()
    for p in patterns:
        hit = {a for a in known if fnmatch.fnmatchcase(a, p)}
        if not hit:
            raise UsageError(f"--target {p} matches no resource of the lab or the state",
                             "`homelab plan --verbose` lists every address")
        selected |= hit
    return selected


def pending_notes(kept, full) -> list[str]:
    """For each kept (targeted, actionable) change: its dependencies outside the target that the full
    plan would still create or replace (one note per change, the first few named)."""
    kept_addresses = {k.address for k in kept}
    notes = []
    for c in sorted(kept, key=lambda c: c.address):
        if c.action in ("no-op", "delete"):
            continue
        pending = sorted(d for d in c.depends_on if d not in kept_addresses and d in full
                         and full[d].action in ("create", "replace"))
        if pending:
            shown = ", ".join(pending[:4]) + (f" and {len(pending) - 4} more" if len(pending) > 4 else "")
            notes.append(f"{c.address} depends on {len(pending)} resource(s) not applied yet and outside "
                         f"--target: {shown}")
    return notes
