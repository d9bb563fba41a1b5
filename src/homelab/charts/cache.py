"""The chart cache: packaged charts as `<name>-<version>.tgz` in one directory (by default
`<state dir>/charts`, i.e. `.homelab/charts/`), and `charts.lock.json` beside them recording where each
came from and its digest (written by `homelab charts pull`).

A cached archive whose lock entry names another digest is refused (tampered or replaced); an archive
without a lock entry (a directory of charts you packaged yourself, e.g. a mirror) is used as it is.
Digests are sha256 over the archive bytes, as a Helm repository index carries them — computed here with
hashlib (no Helm engine needed to look a chart up).
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from homelab.errors import HomelabError

LOCK = "charts.lock.json"
ENV_STATE = "HOMELAB_STATE_DIR"


class CacheError(HomelabError):
    """A cached chart does not match the digest it was pulled with."""


def default_dir(state_dir: str | os.PathLike | None = None) -> Path:
    """`--state-dir`, else $HOMELAB_STATE_DIR, else ./.homelab — then `charts/` in it."""
    base = state_dir or os.environ.get(ENV_STATE) or ".homelab"
    return Path(base) / "charts"


def archive_name(name: str, version: str) -> str:
    return f"{name}-{version}.tgz"


@functools.lru_cache(maxsize=256)
def _sha256(path: str, size: int, mtime_ns: int) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return "sha256:" + h.hexdigest()


def file_digest(path: str | os.PathLike) -> str:
    st = os.stat(path)
    return _sha256(os.fspath(path), st.st_size, st.st_mtime_ns)


@dataclass(frozen=True)
class CachedChart:
    name: str
    version: str
    path: Path
    digest: str


def lock_key(repo: str, name: str, version: str) -> str:
    return f"{repo.rstrip('/')}|{name}|{version}"


class ChartCache:
    def __init__(self, directory: str | os.PathLike):
        self.dir = Path(directory)
        self._lock: dict | None = None

    @property
    def lock(self) -> dict:
        if self._lock is None:
            try:
                self._lock = json.loads((self.dir / LOCK).read_text(encoding="utf-8")).get("charts", {})
            except (OSError, ValueError):
                self._lock = {}
        return self._lock

    def find(self, repo: str, name: str, version: str) -> CachedChart | None:
        """The cached archive of a chart version, verified against its lock entry; None when absent."""
        path = self.dir / archive_name(name, version)
        if not path.is_file():
            return None
        digest = file_digest(path)
        entry = self.lock.get(lock_key(repo, name, version))
        if entry and entry.get("digest") != digest:
            raise CacheError(f"{path} has digest {digest}, but it was pulled from {repo} as {entry.get('digest')}",
                             "delete it and run `homelab charts pull` again")
        return CachedChart(name, version, path, digest)

    def record(self, repo: str, name: str, version: str, digest: str) -> None:
        """Add a lock entry and write the lock atomically (sorted: deterministic bytes)."""
        from homelab.lab.edit import write_atomic

        lock = dict(self.lock)
        lock[lock_key(repo, name, version)] = {"file": archive_name(name, version), "digest": digest}
        self._lock = lock
        self.dir.mkdir(parents=True, exist_ok=True)
        write_atomic(self.dir / LOCK, json.dumps({"charts": lock}, indent=2, sort_keys=True) + "\n")
