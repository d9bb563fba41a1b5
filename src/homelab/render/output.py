"""The one writer of rendered files: atomic, only what changed, removes stale files it generated.

`write_tree(files, out_dir, check=False) -> WriteReport`

- Every file is written to a temporary file in its target directory, flushed, fsync'ed, given its mode and
  renamed over the target (``os.replace``, atomic on POSIX); the directory is fsync'ed after. A write killed
  at any point leaves the old file or the new one, never a partial one. Leftover temporaries of a killed
  run (``.<name>.<random>.homelab-tmp``) are swept on the next run.
- A file whose bytes and mode already match is not touched (its mtime stays).
- The files written are listed in a manifest, ``.homelab-rendered.json`` in ``out_dir`` (sorted, stable).
  A file listed there that the current rendering no longer produces is stale and removed (and its
  directories, when they become empty). Files homelab did not generate are never deleted.
  Before new files are created the manifest is widened to include them, so a crash can never leave a
  generated file that no manifest knows about.
- ``check=True`` writes nothing and reports what would change.
- Nothing is ever written outside ``out_dir``: paths are relative, without ``..``, and may not traverse a
  symlink that leads out of it.
"""

from __future__ import annotations

import json
import os
import stat
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from homelab.errors import HomelabError

MANIFEST = ".homelab-rendered.json"
TMP_SUFFIX = ".homelab-tmp"


@dataclass
class WriteReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)

    @property
    def changed(self) -> list[str]:
        return sorted(self.created + self.updated + self.removed)

    @property
    def up_to_date(self) -> bool:
        return not (self.created or self.updated or self.removed)

    def to_json(self) -> dict:
        return {
            "created": sorted(self.created), "updated": sorted(self.updated),
            "removed": sorted(self.removed), "unchanged": len(self.unchanged),
        }


class OutputError(HomelabError):
    """The output directory cannot be written as asked."""


def _safe_relpath(path: str) -> PurePosixPath:
    parts = path.split("/") if isinstance(path, str) else []
    if (not parts or path.startswith("/") or "\\" in path or "\x00" in path
            or any(part in ("", ".", "..") for part in parts)):
        raise OutputError(f"refusing to write {path!r}: rendered paths are relative and stay inside the output")
    return PurePosixPath(path)


def _inside(root: Path, target: Path) -> bool:
    try:
        target.resolve(strict=False).relative_to(root)
        return True
    except ValueError:
        return False


def _read_manifest(root: Path) -> set[str]:
    path = root / MANIFEST
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return set()
    except (OSError, ValueError) as exc:
        raise OutputError(f"{path} is not a readable homelab manifest ({exc.__class__.__name__})",
                          f"delete {MANIFEST} if you are sure {root} holds no stale homelab files") from None
    files = data.get("files") if isinstance(data, dict) else None
    if not isinstance(files, list) or not all(isinstance(f, str) for f in files):
        raise OutputError(f"{path} is not a homelab manifest", f"delete {MANIFEST} and render again")
    own = set()
    for f in files:
        try:
            own.add(str(_safe_relpath(f)))
        except OutputError:
            continue  # a tampered entry is ignored, never followed
    return own


def _manifest_bytes(paths: Iterable[str]) -> bytes:
    data = {"generator": "homelab", "format_version": 1, "files": sorted(set(paths))}
    return (json.dumps(data, indent=2, sort_keys=True) + "\n").encode("utf-8")


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write(target: Path, data: bytes, mode: int = 0o644, sync_dir: bool = True) -> None:
    """Write ``data`` to ``target`` atomically (temp file + fsync + rename + directory fsync).

    With ``sync_dir=False`` the caller fsyncs the directory itself (once for many files)."""
    directory = target.parent
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=TMP_SUFFIX, dir=directory)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fchmod(fh.fileno(), mode)
            os.fsync(fh.fileno())
        _replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    if sync_dir:
        _fsync_dir(directory)


def _replace(src: str, dst: Path) -> None:
    """The commit point of a write (a seam the crash tests replace)."""
    os.replace(src, dst)


def _current(target: Path) -> tuple[bytes, int] | None:
    try:
        st = target.lstat()
    except (FileNotFoundError, NotADirectoryError):
        return None
    if stat.S_ISDIR(st.st_mode):
        raise OutputError(f"{target} is a directory, but homelab renders a file there",
                          "move the directory away and render again")
    if stat.S_ISLNK(st.st_mode):
        return (b"", -1)  # a symlink is never "up to date": it is replaced by a regular file
    return target.read_bytes(), stat.S_IMODE(st.st_mode)


def _sweep_temporaries(directories: Iterable[Path]) -> None:
    for directory in sorted(set(directories)):
        try:
            entries = list(directory.iterdir())
        except OSError:
            continue
        for entry in entries:
            if entry.name.startswith(".") and entry.name.endswith(TMP_SUFFIX) and entry.is_file():
                try:
                    entry.unlink()
                except OSError:
                    pass


def _prune_empty_dirs(root: Path, start: Path) -> None:
    directory = start
    while directory != root and _inside(root, directory):
        try:
            directory.rmdir()
        except OSError:
            return
        directory = directory.parent


def write_tree(files, out_dir, check: bool = False) -> WriteReport:
    """Write the rendered files under ``out_dir``. See the module docstring."""
    try:
        return _write_tree(files, out_dir, check)
    except OutputError:
        raise
    except OSError as exc:
        where = exc.filename or str(out_dir)
        raise OutputError(f"cannot write {where}: {exc.strerror or exc}",
                          "check the output directory's permissions and free space") from None


def _write_tree(files, out_dir, check: bool) -> WriteReport:
    root_in = Path(out_dir)
    if root_in.exists() and not root_in.is_dir():
        raise OutputError(f"{out_dir} exists and is not a directory", "pass a directory with --out")
    root = root_in.resolve(strict=False)
    wanted: dict[str, tuple[bytes, int]] = {}
    for f in files:
        rel = str(_safe_relpath(f.path))
        if rel == MANIFEST:
            raise OutputError(f"{MANIFEST} is reserved for the writer's manifest")
        if rel in wanted:
            raise OutputError(f"{rel} was rendered twice")
        wanted[rel] = (f.content.encode("utf-8"), f.mode)
        if not _inside(root, root / rel):
            raise OutputError(f"refusing to write {rel}: it leads outside {root} (through a symlink)")

    report = WriteReport()
    owned = _read_manifest(root) if root.is_dir() else set()
    plan: list[tuple[str, bytes, int]] = []
    for rel in sorted(wanted):
        data, mode = wanted[rel]
        current = _current(root / rel)
        if current is None:
            report.created.append(rel)
            plan.append((rel, data, mode))
        elif current != (data, mode):
            report.updated.append(rel)
            plan.append((rel, data, mode))
        else:
            report.unchanged.append(rel)
    for rel in sorted(owned - set(wanted)):
        target = root / rel
        if not _inside(root, target):
            continue
        try:
            st = target.lstat()
        except (FileNotFoundError, NotADirectoryError):
            continue
        if stat.S_ISREG(st.st_mode):
            report.removed.append(rel)

    manifest_now = _manifest_bytes(wanted)
    manifest_path = root / MANIFEST
    if check:
        return report

    root.mkdir(parents=True, exist_ok=True)
    if set(wanted) - owned:
        # Widen first: a crash from here on leaves every file we may create known to the manifest.
        atomic_write(manifest_path, _manifest_bytes(owned | set(wanted)))
    directories = {(root / rel).parent for rel in set(wanted) | owned}
    _sweep_temporaries(d for d in directories if d.is_dir() and _inside(root, d))
    touched: set[Path] = set()
    for rel, data, mode in plan:
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if not _inside(root, target):
            raise OutputError(f"refusing to write {rel}: it leads outside {root} (through a symlink)")
        if target.is_symlink():
            target.unlink()
        atomic_write(target, data, mode, sync_dir=False)
        touched.add(target.parent)
    for rel in report.removed:
        (root / rel).unlink()
        touched.add((root / rel).parent)
    for rel in sorted(owned - set(wanted)):
        _prune_empty_dirs(root, (root / rel).parent)
    for directory in sorted(touched):
        if directory.is_dir():
            _fsync_dir(directory)
    if not (manifest_path.is_file() and manifest_path.read_bytes() == manifest_now):
        atomic_write(manifest_path, manifest_now)
    return report
