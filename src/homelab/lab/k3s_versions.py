"""K3s versions: parsing, ordering and the one-minor-at-a-time walk of an upgrade.

The K3s docs (k3s-io/docs `docs/upgrades/manual.md`): "the Kubernetes version skew policy applies.
Ensure that your plan does not skip intermediate minor versions when upgrading" -- and "upgrade server
nodes first one at a time, then any agent nodes". An upgrade from v1.33 to v1.35 therefore goes through
a v1.34 release. Which v1.34 release: the one given (`--via`), else the one this table knows to exist
(each minor's release channel, https://update.k3s.io/v1-release/channels/v1.NN, names its newest).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from homelab.errors import UsageError

_VERSION = re.compile(r"^v(\d+)\.(\d+)\.(\d+)\+k3s(\d+)$")

# Releases known to exist (GitHub releases of k3s-io/k3s), one per minor: the default stop of a walk
# through that minor when `--via` names none.
KNOWN_RELEASES = {
    (1, 32): "v1.32.8+k3s1",
    (1, 33): "v1.33.4+k3s1",
    (1, 34): "v1.34.1+k3s1",
}


@dataclass(frozen=True, order=True)
class K3sVersion:
    major: int
    minor: int
    patch: int
    build: int

    @property
    def minor_key(self) -> tuple[int, int]:
        return (self.major, self.minor)

    def __str__(self) -> str:
        return f"v{self.major}.{self.minor}.{self.patch}+k3s{self.build}"

    @property
    def short(self) -> str:
        return f"v{self.major}.{self.minor}"


def parse(text: str) -> K3sVersion | None:
    m = _VERSION.match(str(text).strip())
    return K3sVersion(*(int(g) for g in m.groups())) if m else None


def require(text: str, what: str = "version") -> K3sVersion:
    v = parse(text)
    if v is None:
        raise UsageError(f"{what} {text!r} is not a K3s version", "write it as a K3s release, e.g. v1.34.1+k3s1")
    return v


def minors_between(current: K3sVersion, target: K3sVersion) -> int:
    """How many minor versions the target is ahead (negative: behind). Different majors count as far apart."""
    if current.major != target.major:
        return 99 if target.major > current.major else -99
    return target.minor - current.minor


def walk(current: str, target: str, via: list[str] | tuple[str, ...] = (),
         known: dict | None = None) -> list[K3sVersion]:
    """The versions an upgrade from `current` to `target` installs, one minor at a time (the target last).
    A patch upgrade is one step; a downgrade, a major jump, or a minor with no known release is refused."""
    cur, tgt = require(current, "the current version"), require(target, "--to")
    if tgt < cur:
        raise UsageError(f"{target} is older than the running {current}: K3s does not support downgrades",
                         "restore an etcd snapshot taken before the upgrade instead")
    if tgt == cur:
        return []
    if cur.major != tgt.major:
        raise UsageError(f"{current} → {target} changes the major version, which K3s has no upgrade path for")
    stops = {v.minor_key: v for v in (require(x, "--via") for x in via)}
    for key, v in stops.items():
        if not (cur.minor < key[1] < tgt.minor) or key[0] != cur.major:
            raise UsageError(f"--via {v} is not a minor version between {current} and {target}",
                             "--via names the release to stop at in each intermediate minor")
    table = KNOWN_RELEASES if known is None else known
    hops = []
    for minor in range(cur.minor + 1, tgt.minor):
        stop = stops.get((cur.major, minor)) or parse(table.get((cur.major, minor), ""))
        if stop is None:
            raise UsageError(
                f"{current} → {target} skips v{cur.major}.{minor}, and homelab knows no v{cur.major}.{minor} release",
                f"K3s upgrades one minor at a time: add --via v{cur.major}.{minor}.<patch>+k3s<n> (the newest is "
                f"named by https://update.k3s.io/v1-release/channels/v{cur.major}.{minor})")
        hops.append(stop)
    return [*hops, tgt]
