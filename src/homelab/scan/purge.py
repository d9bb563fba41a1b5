"""Purge secrets from a repository's history with git-filter-repo (pip `git-filter-repo`).

1. back up every branch and tag as `refs/homelab-backup/<UTC time>/<ref>` (git-filter-repo is told to rewrite
   only the original refs, so the backup keeps the old history until you delete it);
2. `git filter-repo --replace-text` over those refs: each secret becomes `***REMOVED***` in every blob of every
   commit (and in the working tree after the rewrite's checkout);
3. scan again, so the caller can prove nothing is left.
What leaked stays leaked for whoever cloned before: the caller tells the user to rotate it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from homelab.errors import HomelabError
from homelab.scan.scanner import BACKUP_REFS, SecretFinding, is_git, scan

REPLACEMENT = "***REMOVED***"


class PurgeError(HomelabError):
    exit_code = 3


@dataclass
class PurgeResult:
    backup: str
    refs: list[str]
    removed: int
    remaining: list[SecretFinding]


def _git(root: Path, *args: str) -> str:
    proc = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True)
    if proc.returncode != 0:
        raise PurgeError(f"git {' '.join(args[:2])} failed: {proc.stderr.strip()[:300]}")
    return proc.stdout


def _filter_repo() -> list[str]:
    exe = Path(sys.executable).parent / "git-filter-repo"
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "git_filter_repo"]


def purge(root: str | Path, secrets: list[str], now: float | None = None) -> PurgeResult:
    root = Path(root)
    if not is_git(root):
        raise PurgeError(f"{root} is not a git repository (its top directory)")
    if not secrets:
        raise PurgeError("nothing to purge")
    if _git(root, "status", "--porcelain", "--untracked-files=no").strip():
        raise PurgeError("the working tree has uncommitted changes", "commit or stash them first: the rewrite "
                         "checks out the rewritten HEAD")
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now))
    refs = [r for r in _git(root, "for-each-ref", "--format=%(refname)", "refs/heads", "refs/tags").split() if r]
    backup = f"{BACKUP_REFS}{stamp}"
    for ref in refs:
        _git(root, "update-ref", f"{backup}/{ref.removeprefix('refs/')}", ref)
    fd, rules = tempfile.mkstemp(prefix="homelab-purge-", suffix=".txt")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:  # 0600 (mkstemp): it holds the secrets
            for s in sorted(set(secrets), key=len, reverse=True):
                fh.write(f"{s}==>{REPLACEMENT}\n")
        proc = subprocess.run([*_filter_repo(), "--force", "--replace-text", rules, "--refs", *refs],
                              cwd=root, capture_output=True, text=True)
    finally:
        os.unlink(rules)
    if proc.returncode != 0:
        raise PurgeError(f"git-filter-repo failed: {(proc.stderr or proc.stdout).strip()[-400:]}",
                         f"nothing is lost: the old refs are under {backup}/")
    wanted = set(secrets)
    remaining = [f for f in scan(root) if f._secret in wanted]
    return PurgeResult(backup, refs, len(wanted), remaining)
