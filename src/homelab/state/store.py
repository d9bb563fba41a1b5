"""Local state: `.homelab/state.db`, SQLite in WAL mode.

What it holds, per applied resource: its address, layer, engine, the non-secret desired attributes
as applied, the engine's non-secret outputs, its dependencies (so deletes can run in reverse order),
the lab digest and the serial of the write. A single `serial` increases by one with every write; a
saved plan records it, and apply refuses the plan when it has moved. Every write is one transaction
(`BEGIN IMMEDIATE` … `COMMIT`), so a process killed at any moment leaves the last committed state.
`history` keeps one row per write.

The apply lock is one row in the `lock` table (pid, host, process start time, time, command), taken in
a transaction, so two applies never run at once. A lock whose process is gone (same host, pid not
running or a different process under that pid) is *stale*: it is reported, and broken only on request
(`homelab state unlock --force`, `homelab apply --break-lock`).

No secret value is ever stored: attributes are non-secret by construction (plan/desired.py), and
`record` refuses any `Secret` object and any string the redactor knows as a secret value.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from homelab.errors import StateError
from homelab.processes import pid_alive, proc_start
from homelab.secrets import REDACTOR, Secret

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS resources (
    address TEXT PRIMARY KEY,
    layer TEXT NOT NULL,
    engine TEXT NOT NULL,
    attrs TEXT NOT NULL,
    outputs TEXT NOT NULL DEFAULT '{}',
    depends_on TEXT NOT NULL DEFAULT '[]',
    lab_digest TEXT NOT NULL,
    serial INTEGER NOT NULL,
    applied_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS history (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    serial INTEGER NOT NULL,
    address TEXT NOT NULL,
    action TEXT NOT NULL,
    attrs TEXT,
    lab_digest TEXT NOT NULL,
    at REAL NOT NULL,
    pid INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS lock (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    pid INTEGER NOT NULL,
    host TEXT NOT NULL,
    proc_start TEXT,
    started_at REAL NOT NULL,
    command TEXT NOT NULL
);
"""


@dataclass(frozen=True)
class StoredResource:
    address: str
    layer: str
    engine: str
    attrs: dict
    outputs: dict
    depends_on: tuple[str, ...]
    lab_digest: str
    serial: int
    applied_at: float


@dataclass(frozen=True)
class LockInfo:
    pid: int
    host: str
    proc_start: str | None
    started_at: float
    command: str

    @property
    def stale(self) -> bool:
        """True when we can tell the holder is gone (only on this host)."""
        if self.host != socket.gethostname():
            return False
        if not pid_alive(self.pid):
            return True
        current = proc_start(self.pid)
        return bool(self.proc_start and current and current != self.proc_start)

    def describe(self) -> str:
        when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(self.started_at))
        return f"pid {self.pid} on {self.host} since {when} ({self.command})"


def assert_no_secret(value, path: str = "attrs") -> None:
    """Raise StateError if a Secret (or a value the redactor knows as secret) is anywhere in value."""
    if isinstance(value, Secret):
        raise StateError(f"refusing to store a secret value in state ({path})",
                         "this is a bug in the engine or planner that produced these attributes")
    if isinstance(value, dict):
        for k, v in value.items():
            assert_no_secret(v, f"{path}.{k}")
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            assert_no_secret(v, f"{path}[{i}]")
    elif isinstance(value, str) and REDACTOR(value) != value:
        raise StateError(f"refusing to store a secret value in state ({path})",
                         "this is a bug in the engine or planner that produced these attributes")


def _dumps(value) -> str:
    assert_no_secret(value)
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


class StateStore:
    """The state database of one lab. Thread-safe: writes are serialised by a lock."""

    def __init__(self, state_dir: str | os.PathLike):
        self.dir = Path(state_dir)
        self.path = self.dir / "state.db"
        self._mutex = threading.RLock()
        self._lock_held = False
        try:
            self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            new = not self.path.exists()
            self._db = sqlite3.connect(str(self.path), timeout=30, isolation_level=None,
                                       check_same_thread=False)
            if new:
                os.chmod(self.path, 0o600)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute("PRAGMA busy_timeout=30000")
            for stmt in _SCHEMA.split(";"):
                if stmt.strip():
                    self._db.execute(stmt)
            with self._tx() as db:
                db.execute("INSERT OR IGNORE INTO meta(key, value) VALUES ('serial', '0')")
                db.execute("INSERT OR IGNORE INTO meta(key, value) VALUES ('schema_version', ?)",
                           (str(SCHEMA_VERSION),))
                row = db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
            if int(row[0]) > SCHEMA_VERSION:
                raise StateError(f"{self.path} was written by a newer homelab (schema {row[0]})",
                                 "upgrade homelab")
        except sqlite3.DatabaseError as exc:
            raise StateError(f"cannot open the state database {self.path}: {exc}",
                             "is it a homelab state file? restore it from a backup or move it away") from None
        except OSError as exc:  # the state directory is a file, below a file, or not writable
            from homelab.errors import UsageError

            why = "it is not a directory" if self.dir.exists() and not self.dir.is_dir() else exc.strerror or exc
            raise UsageError(f"cannot use {self.dir} as the state directory: {why}",
                             "pass --state-dir (or set HOMELAB_STATE_DIR) to a writable directory") from None

    def close(self) -> None:
        with self._mutex:
            self._db.close()

    @contextmanager
    def _tx(self):
        with self._mutex:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            else:
                self._db.execute("COMMIT")

    # --- reads ------------------------------------------------------------------------------------
    def serial(self) -> int:
        with self._mutex:
            return int(self._db.execute("SELECT value FROM meta WHERE key='serial'").fetchone()[0])

    def resources(self) -> dict[str, StoredResource]:
        with self._mutex:
            rows = self._db.execute(
                "SELECT address, layer, engine, attrs, outputs, depends_on, lab_digest, serial, applied_at "
                "FROM resources ORDER BY address").fetchall()
        return {r[0]: StoredResource(r[0], r[1], r[2], json.loads(r[3]), json.loads(r[4]),
                                     tuple(json.loads(r[5])), r[6], r[7], r[8]) for r in rows}

    def get(self, address: str) -> StoredResource | None:
        return self.resources().get(address)

    def history(self, limit: int = 50) -> list[dict]:
        with self._mutex:
            rows = self._db.execute(
                "SELECT serial, address, action, attrs, lab_digest, at, pid FROM history "
                "ORDER BY id DESC LIMIT ?", (limit,)).fetchall()
        return [{"serial": r[0], "address": r[1], "action": r[2], "attrs": json.loads(r[3]) if r[3] else None,
                 "lab_digest": r[4], "at": r[5], "pid": r[6]} for r in rows]

    # --- writes (each one transaction, each bumps the serial) --------------------------------------
    def _bump(self, db) -> int:
        serial = int(db.execute("SELECT value FROM meta WHERE key='serial'").fetchone()[0]) + 1
        db.execute("UPDATE meta SET value=? WHERE key='serial'", (str(serial),))
        return serial

    def record(self, address: str, *, layer: str, engine: str, attrs: dict, lab_digest: str,
               action: str = "apply", outputs: dict | None = None, depends_on=()) -> int:
        """Record a resource as applied. Returns the new serial."""
        attrs_json = _dumps(attrs or {})
        outputs_json = _dumps(outputs or {})
        deps_json = _dumps(sorted(depends_on))
        with self._tx() as db:
            serial = self._bump(db)
            now = time.time()
            db.execute(
                "INSERT INTO resources(address, layer, engine, attrs, outputs, depends_on, lab_digest, serial, "
                "applied_at) VALUES (?,?,?,?,?,?,?,?,?) ON CONFLICT(address) DO UPDATE SET layer=excluded.layer, "
                "engine=excluded.engine, attrs=excluded.attrs, outputs=excluded.outputs, "
                "depends_on=excluded.depends_on, lab_digest=excluded.lab_digest, serial=excluded.serial, "
                "applied_at=excluded.applied_at",
                (address, layer, engine, attrs_json, outputs_json, deps_json, lab_digest, serial, now))
            db.execute("INSERT INTO history(serial, address, action, attrs, lab_digest, at, pid) "
                       "VALUES (?,?,?,?,?,?,?)", (serial, address, action, attrs_json, lab_digest, now, os.getpid()))
        return serial

    def remove(self, address: str, *, lab_digest: str) -> int:
        """Forget a deleted resource. Returns the new serial."""
        with self._tx() as db:
            serial = self._bump(db)
            db.execute("DELETE FROM resources WHERE address=?", (address,))
            db.execute("INSERT INTO history(serial, address, action, attrs, lab_digest, at, pid) "
                       "VALUES (?,?,?,?,?,?,?)", (serial, address, "delete", None, lab_digest, time.time(),
                                                   os.getpid()))
        return serial

    # --- the apply lock -----------------------------------------------------------------------------
    def lock_info(self) -> LockInfo | None:
        with self._mutex:
            row = self._db.execute("SELECT pid, host, proc_start, started_at, command FROM lock").fetchone()
        return LockInfo(*row) if row else None

    def acquire(self, command: str = "homelab apply", *, break_lock: bool = False) -> None:
        with self._tx() as db:
            row = db.execute("SELECT pid, host, proc_start, started_at, command FROM lock").fetchone()
            if row:
                held = LockInfo(*row)
                if held.pid == os.getpid() and held.host == socket.gethostname():
                    raise StateError("the state is already locked by this process")
                if not break_lock:
                    if held.stale:
                        raise StateError(
                            f"the state lock is stale: held by {held.describe()}, and that process is gone",
                            "if no apply is running, break it: `homelab state unlock --force` "
                            "or `homelab apply --break-lock`")
                    raise StateError(f"the state is locked: another apply is running ({held.describe()})",
                                     "wait for it to finish; if it is not running any more, break the lock with "
                                     "`homelab state unlock --force`")
                db.execute("DELETE FROM lock")
            db.execute("INSERT INTO lock(id, pid, host, proc_start, started_at, command) VALUES (1,?,?,?,?,?)",
                       (os.getpid(), socket.gethostname(), proc_start(os.getpid()), time.time(), command))
        self._lock_held = True

    def release(self) -> None:
        if not self._lock_held:
            return
        with self._tx() as db:
            db.execute("DELETE FROM lock WHERE pid=? AND host=?", (os.getpid(), socket.gethostname()))
        self._lock_held = False

    def break_lock(self) -> LockInfo | None:
        """Remove any lock (explicit `--force`). Returns what was removed."""
        with self._tx() as db:
            row = db.execute("SELECT pid, host, proc_start, started_at, command FROM lock").fetchone()
            db.execute("DELETE FROM lock")
        return LockInfo(*row) if row else None

    @contextmanager
    def locked(self, command: str = "homelab apply", *, break_lock: bool = False):
        self.acquire(command, break_lock=break_lock)
        try:
            yield self
        finally:
            self.release()
