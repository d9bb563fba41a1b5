"""`homelab backup [vault|elasticsearch|apps|all]`: what a run will do (the preview), then each kind in
turn, then one run manifest (JSON: what, when, where, sizes, checksums) in <state dir>/backups/runs/.

A kind the run has no way to reach is not run and says why: Elasticsearch needs an explicit endpoint
(--es-url), apps a Kubernetes connection (--kubeconfig). The workflows of each kind live in
ops/backup_vault.py, ops/backup_elastic.py and ops/backup_apps.py.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from homelab.errors import UsageError

KINDS = ("vault", "elasticsearch", "apps")


def kinds_of(kind: str) -> list[str]:
    if kind == "all":
        return list(KINDS)
    if kind not in KINDS:
        raise UsageError(f"unknown backup kind {kind!r}", "one of: vault, elasticsearch, apps, all")
    return [kind]


@dataclass
class Prepared:
    """One kind, ready to run: the preview lines and the action (run(progress) -> manifest entry), or why it
    is not run."""

    lines: list[str] = field(default_factory=list)
    run: Callable | None = None
    skip: str | None = None


@dataclass
class RunPlan:
    """The preview: per kind the lines saying what will be done and where, or why it is not run."""

    lines: dict[str, list[str]] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict:
        return {"will_run": self.lines, "not_run": self.skipped}


@dataclass
class RunRecord:
    started: str
    entries: list[dict] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    manifest: Path | None = None

    def to_json(self) -> dict:
        return {"format": 1, "started": self.started, "finished": _now(), "backups": self.entries,
                "not_run": self.skipped}


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def start() -> RunRecord:
    return RunRecord(_now())


def write_run_manifest(state_dir: Path, record: RunRecord, what: str = "backup") -> Path:
    """<state dir>/backups/runs/<what>-<UTC time>.json, 0600, written atomically."""
    out = Path(state_dir) / "backups" / "runs"
    out.mkdir(parents=True, exist_ok=True, mode=0o700)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    path = out / f"{what}-{stamp}.json"
    tmp = out / f".{path.name}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(json.dumps(record.to_json(), indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)
    record.manifest = path
    return path
