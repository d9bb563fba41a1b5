"""clusters.k3s.version more than one minor ahead of (or behind) the K3s the lab runs.

What runs is recorded in the lab's lock file (`k3s_version:` in homelab.lock, written from state by
`homelab plan` and by `homelab upgrade k3s` when it finishes). The K3s docs (docs/upgrades/manual.md):
"Ensure that your plan does not skip intermediate minor versions when upgrading"; a plain apply of a
bumped version reinstalls every node at once, which `homelab upgrade k3s` does not.
"""

from __future__ import annotations

from homelab.checks.base import Finding, rule
from homelab.diagnostics import Severity


@rule("k3s-version-skip", "error", "clusters.k3s.version skips a minor version of K3s, goes back, or is bumped "
      "by hand (warning)")
def check(doc):
    from homelab.lab.k3s_versions import minors_between, parse
    from homelab.lab.lock import read_k3s_version

    k3s = doc.lab.clusters.k3s
    if not k3s or doc.lock_file is None:
        return
    running = read_k3s_version(doc.lock_file)
    have, want = parse(running or ""), parse(k3s.version)
    if have is None or want is None:
        return
    lock = doc.lock_file.name
    steps = minors_between(have, want)
    if steps > 1:
        yield Finding(("clusters", "k3s", "version"),
                      f"{k3s.version} is {steps} minor versions ahead of the K3s the lab runs ({running}, {lock}): "
                      "K3s upgrades one minor at a time",
                      f"keep {running} here and run `homelab upgrade k3s --to {k3s.version}`: it installs every "
                      "minor in between, node by node, and edits this line when it is done")
    elif want > have:
        yield Finding(("clusters", "k3s", "version"),
                      f"{k3s.version} differs from the K3s the lab runs ({running}, {lock}): `homelab apply` would "
                      "reinstall the nodes without draining them or checking the cluster between them",
                      f"keep {running} here and run `homelab upgrade k3s --to {k3s.version}` (node by node, drained, "
                      "gated; it edits this line when done)", severity=Severity.WARNING)
    elif want < have:
        yield Finding(("clusters", "k3s", "version"),
                      f"{k3s.version} is older than the K3s the lab runs ({running}, {lock}): K3s has no downgrade",
                      f"set it back to {running}; going back means restoring an etcd snapshot from before the upgrade")
