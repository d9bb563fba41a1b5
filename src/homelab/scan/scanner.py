"""Scan a repository's working tree and its whole git history for secrets.

- Working tree: the files git knows or would add (`git ls-files --cached --others --exclude-standard`),
  or every file when the directory is not a git repository; binary files (a NUL byte) and files over
  5 MB are skipped.
- History: every line added by every commit reachable from any ref except homelab's own backup refs
  (`git log -p --all --exclude=refs/homelab-backup/*`), so a secret committed and deleted later is found at
  the commit that added it.
"""

from __future__ import annotations

import hashlib
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from homelab.scan.detectors import find, mask

MAX_BYTES = 5 * 1024 * 1024
BACKUP_REFS = "refs/homelab-backup/"


@dataclass(frozen=True)
class SecretFinding:
    rule: str
    file: str
    line: int
    preview: str  # masked: never the secret
    fingerprint: str  # sha256 prefix of the secret: names it without showing it
    commit: str | None = None  # None = the working tree
    _secret: str = field(default="", repr=False, compare=False)

    @property
    def id(self) -> str:
        return self.fingerprint[:12]

    def where(self) -> str:
        return f"{self.file}:{self.line}" + (f" (commit {self.commit[:12]})" if self.commit else "")

    def to_json(self) -> dict:
        return {"id": self.id, "rule": self.rule, "file": self.file, "line": self.line, "commit": self.commit,
                "preview": self.preview}


def fingerprint(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _git(root: Path, *args: str, check: bool = True) -> str:
    proc = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, errors="replace")
    if check and proc.returncode != 0:
        raise RuntimeError(proc.stderr.strip())
    return proc.stdout


def is_git(root: Path) -> bool:
    return subprocess.run(["git", "-C", str(root), "rev-parse", "--git-dir"], capture_output=True).returncode == 0 \
        and (root / ".git").exists()


def _lines(text: str, file: str, commit: str | None = None, numbers=None):
    out = []
    for i, line in enumerate(text.splitlines()):
        n = numbers[i] if numbers else i + 1
        for d, secret, _ in find(line):
            out.append(SecretFinding(d.id, file, n, mask(secret), fingerprint(secret), commit, secret))
    return out


def scan_tree(root: Path) -> list[SecretFinding]:
    if is_git(root):
        names = [n for n in _git(root, "ls-files", "-z", "--cached", "--others", "--exclude-standard").split("\0") if n]
    else:
        names = [p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file() and ".git" not in p.parts]
    out = []
    for name in sorted(set(names)):
        path = root / name
        try:
            if not path.is_file() or path.stat().st_size > MAX_BYTES:
                continue
            data = path.read_bytes()
        except OSError:
            continue
        if b"\0" in data[:8192]:
            continue
        out += _lines(data.decode("utf-8", errors="replace"), name)
    return out


def scan_history(root: Path) -> list[SecretFinding]:
    """Every secret on a line some commit added (first commit that added it per file and line)."""
    if not is_git(root):
        return []
    log = _git(root, "log", "-p", f"--exclude={BACKUP_REFS}*", "--all", "--no-color", "--no-ext-diff",
               "--unified=0", "--format=commit %H", "--no-renames", check=False)
    out = []
    commit = file = None
    line_no = 0
    added: list[tuple[int, str]] = []

    def flush():
        if commit and file and added:
            out.extend(_lines("\n".join(t for _, t in added), file, commit, [n for n, _ in added]))
        added.clear()

    for raw in log.splitlines():
        if raw.startswith("commit ") and len(raw) == 47:
            flush()
            commit, file = raw[7:], None
        elif raw.startswith("+++ "):
            flush()
            file = raw[6:] if raw.startswith("+++ b/") else None
        elif raw.startswith("@@"):
            try:
                line_no = int(raw.split("+", 1)[1].split(" ", 1)[0].split(",")[0])
            except (IndexError, ValueError):
                line_no = 0
        elif raw.startswith("+") and file:
            added.append((line_no, raw[1:]))
            line_no += 1
    flush()
    return out


def scan(root: str | Path, history: bool = True) -> list[SecretFinding]:
    root = Path(root)
    found = scan_tree(root) + (scan_history(root) if history else [])
    return sorted(set(found), key=lambda f: (f.commit or "", f.file, f.line, f.rule))
